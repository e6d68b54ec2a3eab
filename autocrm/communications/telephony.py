"""Click-to-call: ask the PBX to ring the employee's phone and then dial the client.

The PBX is told ``{"extension", "number", "request_id"}`` at ``<api_base_url>/originate``,
signed like its webhooks (``X-Signature: sha256=<hex HMAC-SHA256(signing_secret, body)>``
plus the body's ``timestamp``, see ``channels/telephony``). Nothing is written here: the
call shows up through the PBX's own events (ringing, answered, finished, recording with
``direction: "out"``), which the webhook stores and the inbox worker turns into a Call
exactly like an incoming one.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from django.utils.translation import gettext as _

from autocrm.clients.selectors import client_list
from autocrm.clients.services import client_survivor, normalize_phone
from autocrm.communications.channels.common import HTTP_TIMEOUT
from autocrm.communications.channels.telephony import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from autocrm.communications.models import Channel, ChannelKind
from autocrm.core.errors import DomainError, NotFound, ValidationFailed


class PbxUnavailable(DomainError):
    """The PBX did not take the originate request (unreachable, refused, broken answer)."""

    status_code = 502
    code = "pbx_unavailable"


def _client_number(actor: Any, client_id: int) -> str:
    client = client_list(user=actor).filter(pk=client_id).first()
    if client is None:
        raise NotFound(_("No such client."), field="client_id")
    client = client_survivor(client)
    phone = client.phones.order_by("-is_primary", "pk").values_list("number", flat=True).first()
    if not phone:
        raise ValidationFailed(_("The client has no phone number."), field="number")
    return phone


def call_originate(
    *,
    actor: Any,
    channel: Channel,
    client_id: int | None = None,
    number: str | None = None,
    line: str = "",
) -> dict[str, Any]:
    """Send a click-to-call request for the employee to the channel's PBX.

    Dials ``number`` if given, else the primary phone of the client. Returns what was
    asked (``request_id``, ``extension``, ``number``, ``line``) and what the PBX answered
    (``pbx``). Refusals name the field: ``channel`` (not telephony, click-to-call off),
    ``phone_extension`` (the employee has none), ``number``, ``client_id``.
    """
    if channel.kind != ChannelKind.TELEPHONY or not channel.is_active:
        raise ValidationFailed(_("Choose an active telephony channel."), field="channel")
    base_url = str(channel.settings.get("api_base_url") or "").rstrip("/")
    if not base_url:
        raise ValidationFailed(
            _("Click-to-call is not set up for this channel: it has no PBX API address."),
            field="channel",
        )
    extension = str(getattr(actor, "phone_extension", "") or "").strip()
    if not extension:
        raise ValidationFailed(
            _("Your user has no phone extension; ask an administrator to set one."),
            field="phone_extension",
        )
    if number is not None and str(number).strip():
        e164 = normalize_phone(str(number), field_name="number")
    elif client_id is not None:
        e164 = _client_number(actor, client_id)
    else:
        raise ValidationFailed(_("Enter the number to call."), field="number")
    request_id = uuid.uuid4().hex
    payload: dict[str, Any] = {
        "extension": extension,
        "number": e164,
        "request_id": request_id,
        "timestamp": int(time.time()),
    }
    if line:
        payload["line"] = line
    body = json.dumps(payload).encode()
    try:
        response = httpx.post(
            f"{base_url}/originate",
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(str(channel.settings["signing_secret"]), body),
                TIMESTAMP_HEADER: str(payload["timestamp"]),
            },
            timeout=HTTP_TIMEOUT,
        )
    except httpx.HTTPError as error:
        raise PbxUnavailable(
            _("The PBX cannot be reached: %(error)s") % {"error": type(error).__name__},
            field="channel",
        ) from error
    try:
        answer = response.json()
    except ValueError:
        answer = {"text": response.text[:500]}
    if response.status_code >= 400:
        raise PbxUnavailable(
            _("The PBX refused the call (HTTP %(status)d).") % {"status": response.status_code},
            field="channel",
        )
    return {
        "request_id": request_id,
        "extension": extension,
        "number": e164,
        "line": line,
        "pbx": answer if isinstance(answer, dict) else {"answer": answer},
    }
