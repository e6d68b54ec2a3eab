"""E-mail: an IMAP mailbox polled for clients' letters, answers sent over SMTP.

There is no webhook: ``communications.mail_polling`` fetches unseen messages and stores
each raw RFC 822 message in the inbox (Message-ID as its external id), then ``parse``
reads one. Threading follows RFC 5322 §3.6.4: each answer we send carries a Message-ID
we make, ``In-Reply-To`` the client's last message and ``References`` its chain, so the
client's mail program keeps the thread and its answer finds our conversation again.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from django.utils.translation import gettext as _

from autocrm.clients.services import ContactInfo
from autocrm.communications.channels.base import (
    AttachmentRef,
    InboundItem,
    InboundMessage,
    SendError,
    SendResult,
    WebhookReply,
)
from autocrm.communications.channels.common import json_error, require_text
from autocrm.communications.channels.email.rfc822 import (
    TRUNCATED_HEADER,
    external_id_for,
    message_ids,
    parse_mail,
    stored_to_raw,
)
from autocrm.communications.models import Direction
from autocrm.core.errors import ValidationFailed

# Network calls to mail servers: short, so a hung server does not hold a worker.
MAIL_TIMEOUT_SECONDS = 30.0


def clean_bool(settings: dict[str, Any], key: str, default: bool) -> bool:
    value = settings.get(key, default)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise ValidationFailed(_("Enter true or false."), field=f"settings.{key}")


def clean_port(settings: dict[str, Any], key: str, default: int) -> int:
    value = settings.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValidationFailed(_("Enter a port number."), field=f"settings.{key}")
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(_("Enter a port number."), field=f"settings.{key}") from None
    if not 1 <= port <= 65535:
        raise ValidationFailed(_("A port is between 1 and 65535."), field=f"settings.{key}")
    return port


def clean_address(settings: dict[str, Any], key: str) -> str:
    value = require_text(settings, key).lower()
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationFailed(_("Enter an e-mail address."), field=f"settings.{key}") from None
    return value


def optional_text(settings: dict[str, Any], key: str, default: str = "") -> str:
    value = settings.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValidationFailed(_("Enter text."), field=f"settings.{key}")
    return value.strip()


def _host(settings: dict[str, Any], key: str) -> str:
    return require_text(settings, key, pattern=r"[A-Za-z0-9.\-:\[\]]{1,253}")


def _smtp_error(code: int, text: bytes | str, what: str) -> SendError:
    """4xx is "try later" (greylisting, a full mailbox); 5xx is final."""
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return SendError(f"SMTP {code} ({what}): {detail}"[:2000], retryable=400 <= code < 500)


class EmailAdapter:
    kind = "email"

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        address = clean_address(settings, "address")
        imap_ssl = clean_bool(settings, "imap_ssl", True)
        smtp_ssl = clean_bool(settings, "smtp_ssl", False)
        smtp_starttls = clean_bool(settings, "smtp_starttls", not smtp_ssl)
        if smtp_ssl and smtp_starttls:
            raise ValidationFailed(
                _("Choose either SSL or STARTTLS for SMTP, not both."),
                field="settings.smtp_starttls",
            )
        imap_username = optional_text(settings, "imap_username") or address
        imap_password = require_text(settings, "imap_password")
        # The same account usually sends and receives; an empty SMTP login means no AUTH.
        smtp_username = optional_text(settings, "smtp_username", imap_username)
        smtp_password = optional_text(settings, "smtp_password", imap_password)
        if smtp_username and not smtp_password:
            raise ValidationFailed(_("This setting is required."), field="settings.smtp_password")
        from_name = optional_text(settings, "from_name")
        if len(from_name) > 200 or any(c in from_name for c in "\r\n"):
            raise ValidationFailed(_("Enter one short line."), field="settings.from_name")
        return {
            "address": address,
            "from_name": from_name,
            "imap_host": _host(settings, "imap_host"),
            "imap_port": clean_port(settings, "imap_port", 993 if imap_ssl else 143),
            "imap_ssl": imap_ssl,
            "imap_username": imap_username,
            "imap_password": imap_password,
            "smtp_host": _host(settings, "smtp_host"),
            "smtp_port": clean_port(
                settings, "smtp_port", 465 if smtp_ssl else 587 if smtp_starttls else 25
            ),
            "smtp_ssl": smtp_ssl,
            "smtp_starttls": smtp_starttls,
            "smtp_username": smtp_username,
            "smtp_password": smtp_password,
        }

    def handle_webhook(self, channel: Any, request: HttpRequest) -> WebhookReply:
        # Mail arrives by polling the mailbox (communications.mail_polling), not by webhook.
        return json_error(404, _("This channel has no webhook."))

    def parse(self, channel: Any, body: str, headers: dict[str, str]) -> list[InboundItem]:
        raw = stored_to_raw(body, headers)
        mail = parse_mail(raw)
        own = str(channel.settings.get("address", "")).lower()
        if not mail.sender_address or mail.sender_address == own:
            return []  # our own letters (a copy to ourselves) are not a client's
        if mail.is_report or mail.sender_address.split("@")[0] in ("mailer-daemon", "postmaster"):
            return []  # bounces and delivery reports
        text = mail.text
        if headers.get(TRUNCATED_HEADER):
            note = _(
                "The message is too large (%(size)s bytes) and was not downloaded; "
                "read it in the mailbox."
            ) % {"size": headers[TRUNCATED_HEADER]}
            text = f"{text}\n\n{note}".strip()
        now = datetime.now(tz=UTC)
        at = mail.at if mail.at is not None and mail.at <= now + timedelta(hours=1) else now
        return [
            InboundMessage(
                external_id=external_id_for(raw),
                thread=mail.sender_address,
                sender=ContactInfo(name=mail.sender_name[:300], email=mail.sender_address),
                text=text,
                at=at,
                attachments=[
                    AttachmentRef(
                        name=a.name,
                        content_type=a.content_type,
                        size=a.size,
                        content=a.content,
                    )
                    for a in mail.attachments
                ],
                subject=mail.subject[:500],
                message_id_header=mail.message_id,
                in_reply_to=mail.in_reply_to,
                references=mail.references,
            )
        ]

    def build(self, channel: Any, message: Any) -> EmailMessage:
        """The letter for an outbound message; sets its threading ids on ``message``
        (saved with the delivery attempt, so a retry reuses the same Message-ID)."""
        settings = channel.settings
        address: str = settings["address"]
        domain = address.rpartition("@")[2]
        conversation = message.conversation
        if not message.message_id_header:
            message.message_id_header = make_msgid(idstring=f"crm{message.pk}", domain=domain)
        if not message.in_reply_to:
            last_in = (
                conversation.messages.filter(direction=Direction.INBOUND)
                .exclude(message_id_header="")
                .order_by("-at", "-pk")
                .first()
            )
            if last_in is not None:
                message.in_reply_to = last_in.message_id_header
                chain = message_ids(last_in.references)
                if last_in.message_id_header not in chain:
                    chain.append(last_in.message_id_header)
                message.references = " ".join(chain)
        letter = EmailMessage()
        username, _at, letter_domain = address.partition("@")
        letter["From"] = Address(settings.get("from_name") or "", username, letter_domain)
        letter["To"] = conversation.external_thread
        # Header values are one line: a pasted subject must not add headers of its own.
        letter["Subject"] = " ".join((message.subject or conversation.subject or "").split())
        letter["Date"] = format_datetime(message.at.astimezone(UTC))
        letter["Message-ID"] = message.message_id_header
        if message.in_reply_to:
            letter["In-Reply-To"] = message.in_reply_to
            letter["References"] = message.references or message.in_reply_to
        letter.set_content(message.text)
        for attachment in message.attachments.all():
            if not attachment.file:
                continue
            with attachment.file.open("rb") as handle:
                data = handle.read()
            maintype, _slash, subtype = (
                attachment.content_type or "application/octet-stream"
            ).partition("/")
            letter.add_attachment(
                data,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.name,
            )
        return letter

    def send(self, channel: Any, message: Any) -> SendResult:
        settings = channel.settings
        letter = self.build(channel, message)
        recipient = message.conversation.external_thread
        host, port = settings["smtp_host"], int(settings["smtp_port"])
        try:
            smtp: smtplib.SMTP
            if settings.get("smtp_ssl"):
                smtp = smtplib.SMTP_SSL(
                    host, port, timeout=MAIL_TIMEOUT_SECONDS, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(host, port, timeout=MAIL_TIMEOUT_SECONDS)
            with smtp:
                if settings.get("smtp_starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                if settings.get("smtp_username"):
                    smtp.login(settings["smtp_username"], settings.get("smtp_password", ""))
                smtp.send_message(letter, from_addr=settings["address"], to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()), (550, b"refused"))
            raise _smtp_error(code, text, _("recipient refused")) from error
        except smtplib.SMTPAuthenticationError as error:
            raise SendError(
                f"SMTP {error.smtp_code} ({_('login refused')}): {error.smtp_error!r}",
                retryable=False,
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            raise SendError(f"SMTP: {error}", retryable=False) from error
        except smtplib.SMTPResponseException as error:
            raise _smtp_error(error.smtp_code, error.smtp_error, _("refused")) from error
        except (smtplib.SMTPException, OSError) as error:
            # Connection refused or lost, timeouts, TLS trouble: the server may be back later.
            raise SendError(
                f"{_('SMTP server unreachable')} {host}:{port}: {type(error).__name__}: {error}",
                retryable=True,
            ) from error
        return SendResult(
            external_id=message.message_id_header, message_id_header=message.message_id_header
        )


adapter = EmailAdapter()
