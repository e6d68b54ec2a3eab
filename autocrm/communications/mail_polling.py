"""Polling the e-mail channels' IMAP mailboxes into the inbox.

Each unseen message is stored raw (``inbox_store``, its Message-ID as the external id) and
only then flagged ``\\Seen``: a crash between the two fetches it again next time, and the
inbox's unique (channel, external_id) makes the repeat harmless. Nothing is deleted from
the mailbox, so people can still read it with a mail program.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from autocrm.communications.channels.base import RawEvent
from autocrm.communications.channels.email import MAIL_TIMEOUT_SECONDS
from autocrm.communications.channels.email.rfc822 import (
    TRUNCATED_HEADER,
    external_id_for,
    raw_to_stored,
)
from autocrm.communications.models import Channel, ChannelKind
from autocrm.communications.services import inbox_store
from autocrm.core.errors import DomainError, ValidationFailed

logger = logging.getLogger(__name__)

# Messages per poll: a mailbox with a backlog is worked off over several runs.
POLL_BATCH = 200
# Larger messages are stored by their headers only (the inbox is a database table).
MAX_MESSAGE_BYTES = 40 * 1024 * 1024


class MailboxUnavailable(DomainError):
    """The channel's mailbox could not be read: unreachable, login refused, server error."""

    status_code = 502
    code = "mailbox_unavailable"


def _reason(error: BaseException) -> str:
    detail = error.args[0] if error.args else error
    if isinstance(detail, bytes):
        detail = detail.decode(errors="replace")
    return f"{detail}" or type(error).__name__


def _connect(settings: dict[str, Any]) -> imaplib.IMAP4:
    host, port = settings["imap_host"], int(settings["imap_port"])
    try:
        if settings.get("imap_ssl", True):
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=ssl.create_default_context(), timeout=MAIL_TIMEOUT_SECONDS
            )
        else:
            imap = imaplib.IMAP4(host, port, timeout=MAIL_TIMEOUT_SECONDS)
    except (OSError, imaplib.IMAP4.error) as error:
        raise MailboxUnavailable(
            _("Cannot connect to the IMAP server %(server)s: %(error)s")
            % {"server": f"{host}:{port}", "error": _reason(error)},
            field="settings.imap_host",
        ) from error
    try:
        imap.login(settings["imap_username"], settings["imap_password"])
    except (OSError, imaplib.IMAP4.error) as error:
        _logout(imap)
        raise MailboxUnavailable(
            _("The IMAP server %(server)s refused the login of %(user)s: %(error)s")
            % {
                "server": f"{host}:{port}",
                "user": settings["imap_username"],
                "error": _reason(error),
            },
            field="settings.imap_password",
        ) from error
    return imap


def _logout(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):  # it is going away anyway
        imap.logout()


def _sizes(imap: imaplib.IMAP4, uids: list[bytes]) -> dict[bytes, int]:
    typ, data = imap.uid("FETCH", b",".join(uids).decode(), "(RFC822.SIZE)")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH sizes: {typ} {data!r}")
    sizes: dict[bytes, int] = {}
    for line in data:
        text = line[0] if isinstance(line, tuple) else line
        if not isinstance(text, bytes):
            continue
        uid = re.search(rb"UID (\d+)", text)
        size = re.search(rb"RFC822\.SIZE (\d+)", text)
        if uid and size:
            sizes[uid.group(1)] = int(size.group(1))
    return sizes


def _fetch(imap: imaplib.IMAP4, uid: bytes, section: str) -> bytes | None:
    typ, data = imap.uid("FETCH", uid.decode(), f"(BODY.PEEK[{section}])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH {uid!r}: {typ} {data!r}")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and b"BODY[" in item[0]:
            return item[1]
    return None  # deleted by someone else meanwhile


def email_channel_poll(*, channel: Channel, limit: int = POLL_BATCH) -> int:
    """Store the channel's unseen messages in the inbox; returns how many were new.

    Raises ``MailboxUnavailable`` (naming the setting to look at) when the server cannot
    be reached or refuses the login; messages stored before a failure stay stored.
    """
    if channel.kind != ChannelKind.EMAIL:
        raise ValidationFailed(_("This is not an e-mail channel."), field="channel")
    settings = channel.settings
    imap = _connect(settings)
    stored = 0
    try:
        typ, data = imap.select("INBOX")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SELECT INBOX: {typ} {data!r}")
        typ, data = imap.uid("SEARCH", "UNSEEN")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SEARCH UNSEEN: {typ} {data!r}")
        uids = (data[0] or b"").split()[:limit] if data and isinstance(data[0], bytes) else []
        sizes = _sizes(imap, uids) if uids else {}
        for uid in uids:
            size = sizes.get(uid, 0)
            too_large = size > MAX_MESSAGE_BYTES
            raw = _fetch(imap, uid, "HEADER" if too_large else "")
            if raw is None:
                continue
            body, headers = raw_to_stored(raw)
            if too_large:
                headers[TRUNCATED_HEADER] = str(size)
            event = RawEvent(external_id=external_id_for(raw), body=body, headers=headers)
            with transaction.atomic():
                stored += inbox_store(channel=channel, events=[event])
            # Only now: a crash before this line fetches the message again, harmlessly.
            imap.uid("STORE", uid.decode(), "+FLAGS", "(\\Seen)")
    except (OSError, imaplib.IMAP4.error) as error:
        raise MailboxUnavailable(
            _("The IMAP server %(server)s failed while reading the mailbox: %(error)s")
            % {
                "server": f"{settings['imap_host']}:{settings['imap_port']}",
                "error": _reason(error),
            },
            field="settings.imap_host",
        ) from error
    finally:
        _logout(imap)
    if stored:
        logger.info("e-mail channel %s: %s new message(s)", channel.pk, stored)
    return stored


def email_channels_poll_all() -> dict[str, Any]:
    """Poll every active e-mail channel; one failing mailbox does not stop the others.

    Returns ``{"channels": n, "stored": n, "errors": {channel id: reason}}`` (kept as the
    periodic task's result) and logs each failure.
    """
    result: dict[str, Any] = {"channels": 0, "stored": 0, "errors": {}}
    channels = Channel.objects.filter(kind=ChannelKind.EMAIL, is_active=True).order_by("pk")
    for channel in channels:
        result["channels"] += 1
        try:
            result["stored"] += email_channel_poll(channel=channel)
        except DomainError as error:
            logger.warning("e-mail channel %s not polled: %s", channel.pk, error.message)
            result["errors"][str(channel.pk)] = str(error.message)
        except Exception as error:  # a bug with one mailbox must not stop the others
            logger.exception("e-mail channel %s not polled", channel.pk)
            result["errors"][str(channel.pk)] = f"{type(error).__name__}: {error}"
    return result
