"""VK Callback API: community events in, ``messages.send`` out.

https://dev.vk.com/en/api/callback/getting-started: VK posts ``{type, object, group_id,
event_id, secret}``; the server proves the URL by answering ``confirmation`` with the
community's confirmation string and answers every other event with ``ok`` (anything else
makes VK repeat the event and, after several errors, stop sending).

We store ``message_new`` only; other event types (typing, edits, joins ...) are answered
``ok`` and dropped, since nothing in the CRM acts on them yet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

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
    WebhookReply,
)
from autocrm.communications.channels.common import (
    clean_url,
    json_error,
    require_text,
    send_json,
)
from autocrm.core.errors import ValidationFailed

DEFAULT_API_BASE_URL = "https://api.vk.com/method"
API_VERSION = "5.199"
# "Too many requests per second" and "internal server error": worth another try later.
RETRYABLE_CODES = frozenset({6, 10})


def _attachment(item: dict[str, Any]) -> AttachmentRef | None:
    kind = str(item.get("type") or "")
    body = item.get(kind)
    if not isinstance(body, dict):
        return None
    ref = f"{kind}{body.get('owner_id', '')}_{body.get('id', '')}"
    if kind == "photo":
        sizes = [s for s in body.get("sizes") or [] if isinstance(s, dict) and s.get("url")]
        biggest = max(
            sizes, key=lambda s: int(s.get("width") or 0) * int(s.get("height") or 0), default=None
        )
        return AttachmentRef(
            name="photo.jpg",
            content_type="image/jpeg",
            external_ref=str(biggest["url"]) if biggest else ref,
        )
    if kind == "doc":
        title = str(body.get("title") or "document")
        return AttachmentRef(
            name=title,
            size=int(body.get("size") or 0),
            external_ref=str(body.get("url") or ref),
        )
    if kind == "audio_message":
        return AttachmentRef(
            name="voice.ogg",
            content_type="audio/ogg",
            external_ref=str(body.get("link_ogg") or body.get("link_mp3") or ref),
        )
    if kind in ("video", "audio", "sticker", "wall", "link", "market"):
        return AttachmentRef(name=kind, external_ref=str(body.get("url") or ref))
    return None


def _message_of(payload: dict[str, Any]) -> dict[str, Any] | None:
    body = payload.get("object")
    if not isinstance(body, dict):
        return None
    # API 5.103+ wraps the message with client_info; older versions send it bare.
    wrapped = body.get("message")
    message: dict[str, Any] = wrapped if isinstance(wrapped, dict) else body
    if not isinstance(message.get("peer_id"), int) or not isinstance(message.get("from_id"), int):
        return None
    return message


class VkAdapter:
    kind = "vk"

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        group_id = settings.get("group_id")
        if group_id in (None, ""):
            group_id = None
        elif isinstance(group_id, bool) or not str(group_id).strip().isdigit():
            raise ValidationFailed(_("Enter the community's number."), field="settings.group_id")
        else:
            group_id = int(str(group_id).strip())
        return {
            "confirmation_code": require_text(settings, "confirmation_code"),
            "secret": require_text(settings, "secret"),
            "access_token": require_text(settings, "access_token"),
            "api_base_url": clean_url(settings, "api_base_url", DEFAULT_API_BASE_URL),
            "group_id": group_id,
        }

    def handle_webhook(self, channel: Any, request: HttpRequest) -> WebhookReply:
        if request.method != "POST":
            return json_error(405, _("Only POST is accepted."))
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return json_error(400, _("The body is not JSON."), field="body")
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return json_error(400, _("An event needs a type."), field="type")
        settings = channel.settings
        if settings.get("group_id") and payload.get("group_id") != settings["group_id"]:
            return json_error(403, _("The event is for another community."), field="group_id")
        expected = str(settings.get("secret") or "")
        given = payload.get("secret")
        secret_ok = (
            isinstance(given, str)
            and bool(expected)
            and hmac.compare_digest(given.encode(), expected.encode())
        )
        if payload["type"] == "confirmation":
            # VK may ask before a secret is configured on its side; a wrong one is refused.
            if given is not None and not secret_ok:
                return json_error(403, _("Wrong secret."), field="secret")
            return WebhookReply(
                status=200,
                body=str(settings.get("confirmation_code", "")),
                content_type="text/plain",
            )
        if not secret_ok:
            return json_error(403, _("Wrong secret."), field="secret")
        if payload["type"] != "message_new":
            return WebhookReply(status=200, body="ok")
        message = _message_of(payload)
        if message is None:
            return json_error(400, _("A new message needs object.message."), field="object")
        event_id = payload.get("event_id")
        external_id = (
            str(event_id)
            if isinstance(event_id, str) and event_id
            else f"msg:{message['peer_id']}:{message.get('conversation_message_id')}"
        )
        return WebhookReply(
            status=200,
            body="ok",
            events=[RawEvent(external_id=external_id[:200], body=request.body.decode())],
        )

    def parse(self, channel: Any, body: str, headers: dict[str, str]) -> list[InboundItem]:
        payload = json.loads(body)
        message = _message_of(payload) if payload.get("type") == "message_new" else None
        if message is None or message["from_id"] <= 0:
            return []  # a community's own messages are not a client writing
        peer_id = message["peer_id"]
        conversation_message_id = message.get("conversation_message_id")
        attachments = [
            ref
            for item in message.get("attachments") or []
            if isinstance(item, dict) and (ref := _attachment(item)) is not None
        ]
        return [
            InboundMessage(
                # The conversation's own numbering is stable in chats too, where id is 0.
                external_id=f"{peer_id}:{conversation_message_id}"
                if conversation_message_id
                else str(message.get("id")),
                thread=str(peer_id),
                sender=ContactInfo(
                    identity=IdentityRef(kind=IdentityKind.VK, external_id=str(message["from_id"]))
                ),
                text=str(message.get("text") or ""),
                at=datetime.fromtimestamp(int(message["date"]), tz=UTC)
                if isinstance(message.get("date"), int)
                else datetime.now(tz=UTC),
                attachments=attachments,
            )
        ]

    def send(self, channel: Any, message: Any) -> SendResult:
        settings = channel.settings
        data = send_json(
            "POST",
            f"{settings['api_base_url'].rstrip('/')}/messages.send",
            form={
                "peer_id": message.conversation.external_thread,
                "message": message.text,
                "random_id": random_id(channel, message),
                "access_token": settings["access_token"],
                "v": API_VERSION,
            },
        )
        error = data.get("error")
        if isinstance(error, dict):
            code = error.get("error_code")
            raise SendError(
                f"VK error {code}: {error.get('error_msg') or ''}".strip(),
                retryable=code in RETRYABLE_CODES,
            )
        result = data.get("response")
        if isinstance(result, list) and result and isinstance(result[0], dict):
            result = result[0].get("message_id") or result[0].get("conversation_message_id")
        if isinstance(result, bool) or not isinstance(result, int):
            raise SendError(f"unexpected answer: {json.dumps(data)[:500]}", retryable=False)
        return SendResult(external_id=str(result))


def random_id(channel: Any, message: Any) -> int:
    """VK drops a second message with the same ``random_id``, so a retry after a lost
    answer is not delivered twice. Derived from the channel's secret key as well, so a
    fresh database's message 1 is not taken for an old one."""
    digest = hashlib.sha256(f"{channel.webhook_key}:{message.pk}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


adapter = VkAdapter()
