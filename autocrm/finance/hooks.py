"""The E-Credit broker's callback endpoint (docs/ecredit.md): check the signature, store the
callback, answer; the decision is applied by a task.

Served under ``/hooks/`` without middleware in production (``config.wsgi``): like the
channels' webhook it is self-contained.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from autocrm.finance.broker import verify_callback
from autocrm.finance.credit_services import broker_callback_receive
from autocrm.finance.models import BrokerConnection

MAX_BODY_BYTES = 256 * 1024


def callback_url(connection: BrokerConnection) -> str:
    path = reverse("ecredit_callback", kwargs={"connection_id": connection.pk})
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _answer(body: dict[str, str], status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@csrf_exempt
def broker_callback(request: HttpRequest, connection_id: int) -> HttpResponse:
    request.get_host()  # ALLOWED_HOSTS: DisallowedHost is answered with 400
    if request.method != "POST":
        return _answer({"error": "method_not_allowed"}, 405)
    connection = BrokerConnection.objects.filter(pk=connection_id, is_active=True).first()
    if connection is None:
        return _answer({"error": "unknown_connection"}, 404)
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return _answer({"error": "too_large"}, 413)
    if not verify_callback(
        connection.callback_secret,
        request.headers.get("X-ECredit-Timestamp"),
        request.headers.get("X-ECredit-Signature"),
        body,
    ):
        return _answer({"error": "bad_signature"}, 403)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return _answer({"error": "invalid_json", "field": "body"}, 400)
    if not isinstance(payload, dict):
        return _answer({"error": "invalid", "field": "body"}, 400)
    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 100:
        return _answer({"error": "invalid", "field": "event_id"}, 400)
    if not isinstance(payload.get("decision"), dict):
        return _answer({"error": "invalid", "field": "decision"}, 400)
    if "\x00" in body.decode("utf-8", "replace") or "\\u0000" in body.decode("utf-8", "replace"):
        return _answer({"error": "invalid", "field": "body"}, 400)
    _callback, created = broker_callback_receive(
        connection=connection, event_id=event_id.strip(), payload=payload
    )
    return _answer({"status": "accepted" if created else "duplicate"}, 200)
