"""WhatsApp Business Cloud API: webhook notifications in, ``/{phone_number_id}/messages`` out.

https://developers.facebook.com/docs/graph-api/webhooks/getting-started: Meta proves the
URL with a GET handshake (``hub.mode``, ``hub.verify_token``, ``hub.challenge``) and signs
every POST with ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body, app secret>``.

One notification may carry several messages and delivery statuses. Each is stored as its
own inbox event (a one-item copy of the provider's payload), keyed by the message id or by
``status:<id>:<status>``, so Meta's redelivery of a whole batch stores nothing twice and
one broken item does not hold up the others.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from django.http import HttpRequest
from django.utils.translation import gettext as _

from autocrm.clients.models import IdentityKind
from autocrm.clients.services import ContactInfo, IdentityRef
from autocrm.communications.channels.base import (
    AttachmentRef,
    InboundItem,
    InboundMessage,
    RawEvent,
    SendError,
    SendResult,
    StatusUpdate,
    WebhookReply,
)
from autocrm.communications.channels.common import (
    HTTP_TIMEOUT,
    MAX_ATTACHMENT_BYTES,
    clean_url,
    fetch_bytes,
    json_error,
    require_text,
    send_json,
)

DEFAULT_API_BASE_URL = "https://graph.facebook.com/v21.0"

# Delivery statuses we follow; others ("deleted", "warning") are ignored.
STATUSES = ("sent", "delivered", "read", "failed")

# Graph error codes that mean "not now" rather than "never": throttling, temporary
# trouble at Meta. https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
RETRYABLE_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056})

MEDIA_TYPES = {
    "image": "image.jpg",
    "video": "video.mp4",
    "audio": "audio.ogg",
    "voice": "voice.ogg",
    "document": "document",
    "sticker": "sticker.webp",
}


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(tz=UTC)


def _values(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``entry[].changes[].value`` objects of a notification."""
    values = []
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        for change in entry.get("changes") or []:
            if isinstance(change, dict) and isinstance(change.get("value"), dict):
                values.append(change["value"])
    return values


def _one_item_payload(
    payload: dict[str, Any], value: dict[str, Any], key: str, item: dict[str, Any]
) -> str:
    sliced: dict[str, Any] = {
        "messaging_product": value.get("messaging_product", "whatsapp"),
        "metadata": value.get("metadata") or {},
        key: [item],
    }
    if key == "messages":
        sliced["contacts"] = [
            contact
            for contact in value.get("contacts") or []
            if isinstance(contact, dict) and contact.get("wa_id") == item.get("from")
        ]
    return json.dumps(
        {
            "object": payload.get("object"),
            "entry": [{"changes": [{"field": "messages", "value": sliced}]}],
        },
        ensure_ascii=False,
    )


def _message_text(message: dict[str, Any]) -> str:
    kind = message.get("type")
    body = message.get(kind) if isinstance(kind, str) else None
    body = body if isinstance(body, dict) else {}
    if kind == "text":
        return str(body.get("body") or "")
    if kind in MEDIA_TYPES:
        return str(body.get("caption") or "")
    if kind == "location":
        place = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        coordinates = f"{body.get('latitude')}, {body.get('longitude')}"
        return _("Location: %(place)s") % {
            "place": f"{place} ({coordinates})" if place else coordinates
        }
    if kind == "contacts":
        contacts = message.get("contacts") or []
        shared = []
        for contact in contacts if isinstance(contacts, list) else []:
            name = (contact.get("name") or {}).get("formatted_name", "")
            phones = ", ".join(p.get("phone", "") for p in contact.get("phones") or [])
            shared.append(f"{name} {phones}".strip())
        return _("Shared contacts: %(contacts)s") % {"contacts": "; ".join(shared)}
    if kind == "button":
        return str(body.get("text") or "")
    if kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        return str(reply.get("title") or "")
    return _("(a kind of message WhatsApp does not pass on: %(kind)s)") % {"kind": kind}


def _attachments(message: dict[str, Any]) -> list[AttachmentRef]:
    kind = message.get("type")
    if kind not in MEDIA_TYPES:
        return []
    media = message.get(kind)
    if not isinstance(media, dict):
        return []
    return [
        AttachmentRef(
            name=str(media.get("filename") or MEDIA_TYPES[str(kind)]),
            content_type=str(media.get("mime_type") or ""),
            external_ref=str(media.get("id") or ""),
        )
    ]


class WhatsAppAdapter:
    kind = "whatsapp"

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {
            "app_secret": require_text(settings, "app_secret"),
            "verify_token": require_text(settings, "verify_token"),
            "access_token": require_text(settings, "access_token"),
            "phone_number_id": require_text(settings, "phone_number_id", pattern=r"[0-9]{1,32}"),
            "api_base_url": clean_url(settings, "api_base_url", DEFAULT_API_BASE_URL),
        }

    def handle_webhook(self, channel: Any, request: HttpRequest) -> WebhookReply:
        if request.method == "GET":
            return self._verify(channel, request)
        if request.method != "POST":
            return json_error(405, _("Only GET and POST are accepted."))
        given = request.headers.get("X-Hub-Signature-256", "")
        if not given:
            return json_error(401, _("The X-Hub-Signature-256 header is missing."))
        secret = str(channel.settings.get("app_secret", ""))
        expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not secret or not hmac.compare_digest(given.encode(), expected.encode()):
            return json_error(403, _("Wrong signature."))
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return json_error(400, _("The body is not JSON."), field="body")
        if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
            return json_error(400, _("A notification needs an entry list."), field="entry")
        events: list[RawEvent] = []
        for value in _values(payload):
            for message in value.get("messages") or []:
                if isinstance(message, dict) and message.get("id"):
                    events.append(
                        RawEvent(
                            external_id=str(message["id"])[:200],
                            body=_one_item_payload(payload, value, "messages", message),
                        )
                    )
            for status in value.get("statuses") or []:
                if isinstance(status, dict) and status.get("id") and status.get("status"):
                    events.append(
                        RawEvent(
                            external_id=f"status:{status['id']}:{status['status']}"[:200],
                            body=_one_item_payload(payload, value, "statuses", status),
                        )
                    )
        return WebhookReply(status=200, body="ok", events=events)

    def _verify(self, channel: Any, request: HttpRequest) -> WebhookReply:
        """Meta's subscription handshake: echo the challenge when the token is ours."""
        mode = request.GET.get("hub.mode", "")
        given = request.GET.get("hub.verify_token", "")
        challenge = request.GET.get("hub.challenge", "")
        expected = str(channel.settings.get("verify_token", ""))
        if (
            mode != "subscribe"
            or not expected
            or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            return WebhookReply(status=403, body="forbidden")
        # Meta's challenge is a number; anything else is echoed as plain text only.
        return WebhookReply(status=200, body=challenge[:200], content_type="text/plain")

    def parse(self, channel: Any, body: str, headers: dict[str, str]) -> list[InboundItem]:
        payload = json.loads(body)
        items: list[InboundItem] = []
        for value in _values(payload):
            names = {
                str(contact.get("wa_id")): str((contact.get("profile") or {}).get("name") or "")
                for contact in value.get("contacts") or []
                if isinstance(contact, dict)
            }
            for message in value.get("messages") or []:
                if (
                    not isinstance(message, dict)
                    or not message.get("id")
                    or not message.get("from")
                ):
                    continue
                if message.get("type") in ("reaction", "system", "ephemeral"):
                    continue  # not something the client wrote to us
                wa_id = str(message["from"])
                name = names.get(wa_id, "")
                items.append(
                    InboundMessage(
                        external_id=str(message["id"]),
                        thread=wa_id,
                        sender=ContactInfo(
                            name=name[:300],
                            # A WhatsApp id is the phone number's digits.
                            phone="+" + wa_id if wa_id.isdigit() else None,
                            identity=IdentityRef(
                                kind=IdentityKind.WHATSAPP, external_id=wa_id, display_name=name
                            ),
                        ),
                        text=_message_text(message),
                        at=_timestamp(message.get("timestamp")),
                        attachments=_attachments(message),
                    )
                )
            for status in value.get("statuses") or []:
                if not isinstance(status, dict) or not status.get("id"):
                    continue
                if status.get("status") not in STATUSES:
                    continue
                errors = status.get("errors") or []
                reason = ""
                if status["status"] == "failed" and errors and isinstance(errors[0], dict):
                    reason = str(errors[0].get("title") or errors[0].get("message") or "")
                items.append(
                    StatusUpdate(
                        external_id=str(status["id"]),
                        status=str(status["status"]),
                        at=_timestamp(status.get("timestamp")),
                        reason=reason,
                    )
                )
        return items

    def send(self, channel: Any, message: Any) -> SendResult:
        settings = channel.settings
        url = f"{settings['api_base_url'].rstrip('/')}/{settings['phone_number_id']}/messages"
        payload = {
            "messaging_product": "whatsapp",
            "to": message.conversation.external_thread,
            "type": "text",
            "text": {"body": message.text},
        }
        try:
            response = httpx.post(
                url,
                json=payload,
                headers={"Authorization": f"Bearer {settings['access_token']}"},
                timeout=HTTP_TIMEOUT,
            )
        except httpx.HTTPError as error:
            raise SendError(f"{type(error).__name__}: {error}", retryable=True) from error
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            problem = data["error"]
            code = problem.get("code")
            raise SendError(
                f"WhatsApp error {code}: {problem.get('message') or ''}".strip(),
                retryable=code in RETRYABLE_CODES
                or response.status_code == 429
                or response.status_code >= 500,
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise SendError(f"HTTP {response.status_code}: {response.text[:500]}", retryable=True)
        if response.status_code >= 400 or not isinstance(data, dict):
            raise SendError(f"HTTP {response.status_code}: {response.text[:500]}", retryable=False)
        try:
            return SendResult(external_id=str(data["messages"][0]["id"]))
        except (KeyError, IndexError, TypeError):
            raise SendError(f"unexpected answer: {response.text[:500]}", retryable=False) from None

    def fetch_attachment(self, channel: Any, attachment: Any) -> tuple[bytes, str]:
        """A client's media: ``GET /{media-id}`` gives a short-lived URL, fetched with the
        same token. https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media"""
        settings = channel.settings
        auth = {"Authorization": f"Bearer {settings['access_token']}"}
        data = send_json(
            "GET",
            f"{settings['api_base_url'].rstrip('/')}/{quote(attachment.external_ref, safe='')}",
            headers=auth,
        )
        if not isinstance(data.get("url"), str) or not data["url"]:
            raise SendError("WhatsApp gave no media URL", retryable=False)
        if int(data.get("file_size") or 0) > MAX_ATTACHMENT_BYTES:
            raise SendError(
                f"the file is larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB",
                retryable=False,
            )
        content, served_type = fetch_bytes(data["url"], headers=auth)
        return content, str(data.get("mime_type") or "") or served_type or attachment.content_type


adapter = WhatsAppAdapter()
