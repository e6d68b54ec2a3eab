"""Telephony: call events from the PBX in, click-to-call (originate) out.

Settings: ``signing_secret`` (required, shared with the PBX), ``api_base_url`` (the PBX's
HTTP API for click-to-call; empty disables it), ``lines`` (optional mapping of a line,
e.g. the dialled number, to its label), ``replay_window_seconds`` (default 300, 0 = off).

Webhook: ``POST`` JSON, one event per request::

    {"event": "ringing" | "answered" | "finished" | "recording",
     "call_id": "...", "direction": "in" | "out", "client_number": "+79123456789",
     "line": "...", "operator_extension": "101", "started_at": ..., "answered_at": ...,
     "ended_at": ..., "recording_url": "https://...", "timestamp": ...}

Times are ISO 8601 (a time without an offset is UTC) or Unix seconds.

Authenticity: ``X-Signature: sha256=<hex HMAC-SHA256(signing_secret, raw body)>``,
compared in constant time; missing or wrong → 401 and nothing is stored.

Replays: the event's ``timestamp`` sits inside the signed body, so it cannot be changed
without breaking the signature. When it is present and ``replay_window_seconds`` is not 0
it must be within that many seconds of our clock, else 401: a captured request stops being
useful after a few minutes. The PBX therefore signs each delivery attempt afresh with the
current time (a retry after an outage carries a new timestamp; the event is still the same,
see below). The optional ``X-Timestamp`` header, if sent, must equal the body's timestamp:
a header is not covered by the signature and must not be able to contradict it. Inside
the window a replay is harmless anyway: the inbox stores each ``{call_id}:{event}`` once,
so a repeated event is answered 200 and ignored.

Malformed JSON, a missing ``call_id`` or an unknown ``event`` → 400 naming the field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.utils.translation import gettext as _

from autocrm.clients.services import try_normalize_phone
from autocrm.communications.channels.base import (
    CallEvent,
    InboundItem,
    RawEvent,
    SendError,
    SendResult,
    WebhookReply,
)
from autocrm.communications.channels.common import clean_url, json_error, require_text
from autocrm.core.errors import ValidationFailed

EVENTS = ("ringing", "answered", "finished", "recording")
DIRECTIONS = ("in", "out")
DEFAULT_REPLAY_WINDOW_SECONDS = 300
# Anyone who guesses the secret can invent calls; a few characters are guessable.
MIN_SECRET_LENGTH = 8
SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
# When the request reached us: the fallback time of an event that carries none.
RECEIVED_AT_HEADER = "X-Received-At"
_TIME_FIELDS = ("started_at", "answered_at", "ended_at")


def sign(secret: str, body: bytes) -> str:
    """The ``X-Signature`` value of a body: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def parse_time(value: Any, *, field: str) -> datetime | None:
    """An aware UTC datetime from ISO 8601 or Unix seconds; None when not given."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationFailed(_("Send a time."), field=field)
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValidationFailed(_("The time is out of range."), field=field) from None
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.replace(".", "", 1).isdigit():
                return datetime.fromtimestamp(float(text), tz=UTC)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (OverflowError, OSError, ValueError):
            raise ValidationFailed(
                _("Send the time as ISO 8601 or Unix seconds."), field=field
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    raise ValidationFailed(_("Send the time as ISO 8601 or Unix seconds."), field=field)


def _text(payload: dict[str, Any], key: str, limit: int) -> str:
    value = payload.get(key)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationFailed(_("Send this field as text."), field=key)
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed(_("At most %(count)d characters.") % {"count": limit}, field=key)
    return value


def check_event(payload: Any) -> dict[str, Any]:
    """The fields of one call event, checked; ValidationFailed names the first bad one."""
    if not isinstance(payload, dict):
        raise ValidationFailed(_("Send a JSON object."), field="body")
    event = _text(payload, "event", 20)
    if event not in EVENTS:
        raise ValidationFailed(
            _("The event must be one of: %(events)s.") % {"events": ", ".join(EVENTS)},
            field="event",
        )
    call_id = _text(payload, "call_id", 180)
    if not call_id:
        raise ValidationFailed(_("The call id is required."), field="call_id")
    direction = _text(payload, "direction", 3) or "in"
    if direction not in DIRECTIONS:
        raise ValidationFailed(_("The direction must be in or out."), field="direction")
    recording_url = _text(payload, "recording_url", 1000)
    if recording_url and urlsplit(recording_url).scheme.lower() not in ("http", "https"):
        raise ValidationFailed(_("Enter an http(s) URL."), field="recording_url")
    if event == "recording" and not recording_url:
        raise ValidationFailed(_("A recording event needs its URL."), field="recording_url")
    checked: dict[str, Any] = {
        "event": event,
        "call_id": call_id,
        "direction": direction,
        "client_number": _text(payload, "client_number", 40),
        "line": _text(payload, "line", 50),
        "operator_extension": _text(payload, "operator_extension", 20),
        "recording_url": recording_url,
    }
    for key in (*_TIME_FIELDS, "timestamp"):
        checked[key] = parse_time(payload.get(key), field=key)
    return checked


class TelephonyAdapter:
    kind = "telephony"

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        secret = require_text(settings, "signing_secret")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValidationFailed(
                _("Use a secret of at least %(count)d characters.") % {"count": MIN_SECRET_LENGTH},
                field="settings.signing_secret",
            )
        api_base_url = ""
        if settings.get("api_base_url"):
            api_base_url = clean_url(settings, "api_base_url", "")
        lines = settings.get("lines") or {}
        if not isinstance(lines, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in lines.items()
        ):
            raise ValidationFailed(
                _("Give the lines as a mapping of line to label."), field="settings.lines"
            )
        window = settings.get("replay_window_seconds", DEFAULT_REPLAY_WINDOW_SECONDS)
        if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 86_400:
            raise ValidationFailed(
                _("Enter a whole number of seconds from 0 to 86400."),
                field="settings.replay_window_seconds",
            )
        return {
            "signing_secret": secret,
            "api_base_url": api_base_url,
            "lines": {k.strip()[:50]: v.strip()[:200] for k, v in lines.items()},
            "replay_window_seconds": window,
        }

    def handle_webhook(self, channel: Any, request: HttpRequest) -> WebhookReply:
        if request.method != "POST":
            reply = json_error(405, _("Only POST is accepted."))
            reply.headers["Allow"] = "POST"
            return reply
        body = request.body
        secret = str(channel.settings.get("signing_secret") or "")
        if not signature_valid(secret, body, request.headers.get(SIGNATURE_HEADER, "")):
            return json_error(401, _("Wrong or missing signature."), field=SIGNATURE_HEADER)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return json_error(400, _("The body is not JSON."), field="body")
        try:
            checked = check_event(payload)
        except ValidationFailed as error:
            return json_error(400, error.message, field=error.field)
        stamp: datetime | None = checked["timestamp"]
        header_stamp = request.headers.get(TIMESTAMP_HEADER)
        if header_stamp is not None:
            try:
                header_time = parse_time(header_stamp, field=TIMESTAMP_HEADER)
            except ValidationFailed:
                header_time = None
            if stamp is None or header_time != stamp:
                return json_error(
                    401,
                    _("X-Timestamp does not match the signed timestamp."),
                    field=TIMESTAMP_HEADER,
                )
        window = int(channel.settings.get("replay_window_seconds", DEFAULT_REPLAY_WINDOW_SECONDS))
        if stamp is not None and window and abs(time.time() - stamp.timestamp()) > window:
            return json_error(401, _("The event is too old or from the future."), field="timestamp")
        return WebhookReply(
            status=200,
            body=json.dumps({"status": "ok"}),
            content_type="application/json",
            events=[
                RawEvent(
                    external_id=f"{checked['call_id']}:{checked['event']}",
                    body=body.decode(),
                    headers={RECEIVED_AT_HEADER: datetime.now(tz=UTC).isoformat()},
                )
            ],
        )

    def parse(self, channel: Any, body: str, headers: dict[str, str]) -> list[InboundItem]:
        checked = check_event(json.loads(body))
        event = checked["event"]
        received = headers.get(RECEIVED_AT_HEADER)
        own_time = {
            "ringing": checked["started_at"],
            "answered": checked["answered_at"],
            "finished": checked["ended_at"],
        }.get(event)
        at = (
            own_time
            or checked["timestamp"]
            or (parse_time(received, field=RECEIVED_AT_HEADER) if received else None)
            or datetime.now(tz=UTC)
        )
        raw_number = checked["client_number"]
        return [
            CallEvent(
                call_id=checked["call_id"],
                event=event,
                direction=checked["direction"],
                # E.164 when it is a number at all ("anonymous" stays as the PBX said).
                client_number=try_normalize_phone(raw_number) or raw_number,
                at=at,
                line=checked["line"],
                operator_extension=checked["operator_extension"],
                started_at=checked["started_at"],
                answered_at=checked["answered_at"],
                ended_at=checked["ended_at"],
                recording_url=checked["recording_url"],
            )
        ]

    def send(self, channel: Any, message: Any) -> SendResult:
        raise SendError("Telephony carries calls, not messages.", retryable=False)


adapter = TelephonyAdapter()
