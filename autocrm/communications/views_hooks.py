"""Public webhook endpoint of every channel: check, store raw, answer; process later."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from autocrm.communications.channels import get_adapter
from autocrm.communications.models import ChannelKind
from autocrm.communications.selectors import channel_for_webhook
from autocrm.communications.services import inbox_store


@csrf_exempt
def webhook(request: HttpRequest, kind: str, key: str) -> HttpResponse:
    """Served without middleware in production (``config.wsgi``): keep it self-contained."""
    request.get_host()  # ALLOWED_HOSTS: DisallowedHost is answered with 400
    if kind not in ChannelKind.values:
        return JsonResponse({"detail": "Unknown channel."}, status=404)
    channel = channel_for_webhook(kind=kind, key=key)
    if channel is None:
        return JsonResponse({"detail": "Unknown channel."}, status=404)
    reply = get_adapter(kind).handle_webhook(channel, request)
    if reply.events:
        # Stored (one atomic statement) before we answer: once the provider hears 2xx,
        # the event is ours to keep.
        inbox_store(channel=channel, events=reply.events)
    response = HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
    for name, value in reply.headers.items():
        response[name] = value
    # What SecurityMiddleware would add that matters for a JSON answer.
    response.setdefault("X-Content-Type-Options", "nosniff")
    response.setdefault("Referrer-Policy", "same-origin")
    return response
