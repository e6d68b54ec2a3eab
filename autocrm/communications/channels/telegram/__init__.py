"""Telegram Bot API: webhook ``Update`` objects in, ``sendMessage`` out.

https://core.telegram.org/bots/api#setwebhook: Telegram sends the ``secret_token`` given
at setWebhook in the ``X-Telegram-Bot-Api-Secret-Token`` header of every update.
"""

from __future__ import annotations

import hmac
import json
import re
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
    MAX_ATTACHMENT_BYTES,
    clean_url,
    fetch_bytes,
    json_error,
    require_text,
    send_json,
)

DEFAULT_API_BASE_URL = "https://api.telegram.org"


class TelegramAdapter:
    kind = "telegram"

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {
            "bot_token": require_text(settings, "bot_token"),
            "secret_token": require_text(settings, "secret_token", pattern=r"[A-Za-z0-9_-]{1,256}"),
            "api_base_url": clean_url(settings, "api_base_url", DEFAULT_API_BASE_URL),
        }

    def handle_webhook(self, channel: Any, request: HttpRequest) -> WebhookReply:
        if request.method != "POST":
            return json_error(405, _("Only POST is accepted."))
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        expected = channel.settings.get("secret_token", "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return json_error(401, _("Wrong secret token."))
        try:
            update = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return json_error(400, _("The body is not JSON."), field="body")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return json_error(400, _("An Update needs an integer update_id."), field="update_id")
        return WebhookReply(
            status=200,
            body="{}",
            content_type="application/json",
            events=[RawEvent(external_id=str(update["update_id"]), body=request.body.decode())],
        )

    def parse(self, channel: Any, body: str, headers: dict[str, str]) -> list[InboundItem]:
        update = json.loads(body)
        message = update.get("message") or update.get("edited_message")
        if not isinstance(message, dict) or "chat" not in message:
            return []  # updates we do not act on (callback queries, member changes ...)
        sender = message.get("from") or {}
        chat = message["chat"]
        contact = message.get("contact") or {}
        text = message.get("text") or message.get("caption") or ""
        attachments = []
        if message.get("photo"):
            biggest = message["photo"][-1]
            attachments.append(
                AttachmentRef(
                    name="photo.jpg",
                    content_type="image/jpeg",
                    size=int(biggest.get("file_size") or 0),
                    external_ref=str(biggest.get("file_id", "")),
                )
            )
        if message.get("document"):
            document = message["document"]
            attachments.append(
                AttachmentRef(
                    name=str(document.get("file_name") or "document"),
                    content_type=str(document.get("mime_type") or ""),
                    size=int(document.get("file_size") or 0),
                    external_ref=str(document.get("file_id", "")),
                )
            )
        if contact and not text:
            text = _("Shared a phone number: %(phone)s") % {"phone": contact.get("phone_number")}
        user_id = str(sender.get("id") or chat["id"])
        name = " ".join(p for p in (sender.get("first_name", ""), sender.get("last_name", "")) if p)
        return [
            InboundMessage(
                # Edits repeat message_id; update_id tells them apart.
                external_id=f"{chat['id']}:{message.get('message_id')}"
                + (":edit" + str(update["update_id"]) if "edited_message" in update else ""),
                thread=str(chat["id"]),
                sender=ContactInfo(
                    first_name=str(sender.get("first_name", ""))[:150],
                    last_name=str(sender.get("last_name", ""))[:150],
                    name=name,
                    # A shared contact of the sender himself carries his phone.
                    phone=contact.get("phone_number")
                    if str(contact.get("user_id", "")) == user_id
                    else None,
                    identity=IdentityRef(
                        kind=IdentityKind.TELEGRAM,
                        external_id=user_id,
                        username=str(sender.get("username", "")),
                        display_name=name,
                    ),
                ),
                text=text,
                at=datetime.fromtimestamp(int(message.get("date") or 0), tz=UTC)
                if message.get("date")
                else datetime.now(tz=UTC),
                attachments=attachments,
            )
        ]

    def send(self, channel: Any, message: Any) -> SendResult:
        settings = channel.settings
        url = f"{settings['api_base_url'].rstrip('/')}/bot{settings['bot_token']}/sendMessage"
        payload = {"chat_id": message.conversation.external_thread, "text": message.text}
        try:
            data = send_json("POST", url, payload)
        except SendError as error:
            raise SendError(_readable(error.reason), retryable=error.retryable) from error
        if not data.get("ok"):
            raise SendError(str(data.get("description") or "Telegram refused"), retryable=False)
        try:
            # Telegram numbers messages per chat: two chats' answers may share a number,
            # and our outbound ids are unique per channel.
            chat_id = message.conversation.external_thread
            return SendResult(external_id=f"{chat_id}:{data['result']['message_id']}")
        except (KeyError, TypeError):
            raise SendError(
                f"unexpected answer: {json.dumps(data)[:500]}", retryable=False
            ) from None

    def fetch_attachment(self, channel: Any, attachment: Any) -> tuple[bytes, str]:
        """A client's photo or document: ``getFile`` gives its path on the file server.
        https://core.telegram.org/bots/api#getfile"""
        settings = channel.settings
        base = settings["api_base_url"].rstrip("/")
        token = settings["bot_token"]
        try:
            data = send_json(
                "GET", f"{base}/bot{token}/getFile", params={"file_id": attachment.external_ref}
            )
        except SendError as error:
            raise SendError(_readable(error.reason), retryable=error.retryable) from error
        result = data.get("result")
        if not data.get("ok") or not isinstance(result, dict) or not result.get("file_path"):
            raise SendError(
                str(data.get("description") or "Telegram gave no file"), retryable=False
            )
        if int(result.get("file_size") or 0) > MAX_ATTACHMENT_BYTES:
            raise SendError(
                f"the file is larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB",
                retryable=False,
            )
        content, served_type = fetch_bytes(f"{base}/file/bot{token}/{result['file_path']}")
        # Telegram's file server says application/octet-stream; the update knew better.
        return content, attachment.content_type or served_type


def _readable(reason: str) -> str:
    """``Telegram error 403: Forbidden: bot was blocked by the user`` instead of the raw
    ``HTTP 403: {"ok":false,...}`` that the operator would otherwise see."""
    match = re.fullmatch(r"HTTP (\d+): (.*)", reason, flags=re.DOTALL)
    if match is None:
        return reason
    try:
        answer = json.loads(match.group(2))
    except ValueError:
        return reason
    if not isinstance(answer, dict) or not answer.get("description"):
        return reason
    return f"Telegram error {answer.get('error_code') or match.group(1)}: {answer['description']}"


adapter = TelegramAdapter()
