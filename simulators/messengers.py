"""A local stand-in for three messenger providers (Telegram, WhatsApp, VK), plain stdlib.

Provider side (what the CRM calls when it answers a client):

- Telegram Bot API ``POST /bot<token>/sendMessage`` (JSON or form) →
  ``{"ok": true, "result": {"message_id": ...}}``.
- WhatsApp Cloud API ``POST /[v21.0/]<phone_number_id>/messages`` with
  ``Authorization: Bearer <access token>`` → ``{"messages": [{"id": "wamid..."}]}``.
- VK ``POST /[method/]messages.send`` (form: ``peer_id``, ``message``, ``random_id``,
  ``access_token``, ``v``) → ``{"response": <id>}``; a repeated ``random_id`` for the same
  peer is not delivered again (as VK does), the first id is returned.

Each answer is recorded in ``handle.sent`` (``kind``, ``to``, ``text``, ``id`` ...). Tokens
are checked when the channel is configured with them (``start(channels=...)`` or
``handle.configure``). ``handle.fail_next(kind, status, body)`` makes the next call of that
provider fail the way the real one does.

Media a client sent (``handle.add_media(kind, file_id, content, mime_type)``) is served as
the providers do: Telegram ``GET /bot<token>/getFile?file_id=`` → ``result.file_path``, then
``GET /file/bot<token>/<file_path>``; WhatsApp ``GET /[v21.0/]<media_id>`` (Bearer) →
``{"url", "mime_type", "file_size" ...}``, then ``GET <url>`` with the same Bearer token.
``telegram_send_media`` and ``whatsapp_send_media`` post a client's photo or document.

Client side (a person writing to the business): ``handle.telegram_send``,
``telegram_share_contact``, ``whatsapp_send``, ``whatsapp_status``, ``whatsapp_verify``,
``vk_send``, ``vk_confirm`` post the provider's own payload to the CRM's webhook with the
right secret header, signature or ``secret`` field, and return the HTTP status (the body is
in ``handle.last_reply``).

``GET /`` is a small page (no scripts, no external resources) with a "write as a client"
form per configured channel and, in a self-refreshing frame, what the business sent back.

Standalone, for ``make run``::

    python -m simulators.messengers --port 8081 --crm http://127.0.0.1:8000 \\
        --telegram-webhook /hooks/telegram/<key>/ --telegram-secret <secret_token> \\
        --whatsapp-webhook /hooks/whatsapp/<key>/ --whatsapp-app-secret <app_secret> \\
        --vk-webhook /hooks/vk/<key>/ --vk-secret <secret>
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

KINDS = ("telegram", "whatsapp", "vk")
TITLES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "vk": "VK"}
# Settings a channel of each kind may be configured with here.
CHANNEL_KEYS = {
    "telegram": ("webhook", "secret", "bot_token"),
    "whatsapp": ("webhook", "app_secret", "verify_token", "access_token", "phone_number_id"),
    "vk": ("webhook", "secret", "access_token", "group_id"),
}
MAX_BODY = 1_000_000
CLIENT_TIMEOUT = 10.0
DEFAULT_VK_GROUP_ID = 229001
DEFAULT_WHATSAPP_PHONE_NUMBER_ID = "1065550001"

_TELEGRAM_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_WHATSAPP_PATH = re.compile(r"^(?:/v\d+(?:\.\d+)?)?/(?P<phone_number_id>\d+)/messages$")
_VK_PATH = re.compile(r"^(?:/method)?/messages\.send$")
_TELEGRAM_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<file_path>.+)$")
_WHATSAPP_MEDIA_PATH = re.compile(r"^(?:/v\d+(?:\.\d+)?)?/(?P<media_id>\d+)$")
_WHATSAPP_MEDIA_URL = "/whatsapp_business/attachments/"


def whatsapp_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _now_iso() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- provider payloads, also usable by tests to build batches -------------------------------


def whatsapp_message(
    wa_id: str, text: str, *, message_id: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": message_id or f"wamid.SIMIN{secrets.token_hex(12)}",
        "timestamp": str(timestamp or int(time.time())),
        "type": "text",
        "text": {"body": text},
    }


def whatsapp_status_item(
    message_id: str,
    status: str,
    *,
    recipient_id: str = "",
    timestamp: int | None = None,
    error_title: str = "",
    error_code: int = 131026,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(timestamp or int(time.time())),
        "recipient_id": recipient_id,
    }
    if status == "failed":
        item["errors"] = [{"code": error_code, "title": error_title or "Message undeliverable"}]
    return item


def whatsapp_notification(
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    names: dict[str, str] | None = None,
    phone_number_id: str = DEFAULT_WHATSAPP_PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """A webhook notification as Meta posts it; ``names`` maps wa_id → profile name."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001000", "phone_number_id": phone_number_id},
    }
    if messages:
        senders = dict.fromkeys(m["from"] for m in messages if m.get("from"))
        value["contacts"] = [
            {"profile": {"name": (names or {}).get(wa_id, "")}, "wa_id": wa_id} for wa_id in senders
        ]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }


Transport = Callable[[str, str, bytes | None, dict[str, str]], tuple[int, str]]


def _http(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - the CRM's own URL
    try:
        with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as response:  # noqa: S310
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


# --- the handle ---------------------------------------------------------------------------


@dataclass
class InboundPost:
    """One request this simulator made to the CRM, as a client's provider would."""

    kind: str
    url: str
    status: int
    reply: str
    text: str = ""
    at: str = field(default_factory=_now_iso)


class MessengerSimulator:
    def __init__(
        self,
        server: ThreadingHTTPServer,
        crm_url: str | None,
        channels: dict[str, dict[str, Any]] | None,
    ) -> None:
        self.server = server
        self.crm_url = crm_url.rstrip("/") if crm_url else None
        self.channels: dict[str, dict[str, Any]] = {}
        for kind, settings in (channels or {}).items():
            self.configure(kind, **settings)
        self.sent: list[dict[str, Any]] = []
        # Every provider call, failed ones included: (kind, HTTP status).
        self.calls: list[tuple[str, int]] = []
        self.inbound: list[InboundPost] = []
        self.last_reply: tuple[int, str] = (0, "")
        self.lock = threading.Lock()
        self._failures: dict[str, deque[tuple[int, Any]]] = {kind: deque() for kind in KINDS}
        self._vk_random_ids: dict[tuple[str, str], str] = {}
        # (kind, file id) → (content, mime type): what clients "uploaded".
        self.media: dict[tuple[str, str], tuple[bytes, str]] = {}
        # Ids that stay unique when the simulator restarts against the same CRM database.
        self._ids: Iterator[int] = itertools.count(int(time.time() * 1000))
        self._thread: threading.Thread | None = None
        # How client-side posts reach the CRM: real HTTP unless a test plugs in its own
        # (e.g. Django's test client, to keep a test inside its rolled-back transaction).
        self.transport: Transport | None = None

    # lifecycle

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = self.server.server_address[0]
        return f"http://{host if isinstance(host, str) else host.decode()}:{self.port}"

    def serve_in_background(self) -> None:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="messenger-simulator", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def configure(self, kind: str, **settings: Any) -> None:
        """Set a channel's webhook and credentials (merged with what is there)."""
        if kind not in KINDS:
            raise ValueError(f"unknown messenger {kind!r}")
        unknown = set(settings) - set(CHANNEL_KEYS[kind])
        if unknown:
            raise ValueError(f"unknown {kind} settings: {sorted(unknown)}")
        self.channels.setdefault(kind, {}).update(
            {key: value for key, value in settings.items() if value is not None}
        )

    def fail_next(self, kind: str, status: int = 500, body: Any = None, times: int = 1) -> None:
        """The next ``times`` calls of this provider's API answer ``status`` with ``body``
        (a dict is sent as JSON); without a body, the provider's usual error shape."""
        if kind not in KINDS:
            raise ValueError(f"unknown messenger {kind!r}")
        with self.lock:
            for _ in range(times):
                self._failures[kind].append((status, body))

    def add_media(self, kind: str, file_id: str, content: bytes, mime_type: str = "") -> None:
        """A file a client sent, for the CRM to download by its provider id."""
        if kind not in ("telegram", "whatsapp"):
            raise ValueError(f"no media downloads for {kind!r}")
        with self.lock:
            self.media[(kind, str(file_id))] = (content, mime_type)

    def get_media(self, kind: str, file_id: str) -> tuple[bytes, str] | None:
        with self.lock:
            return self.media.get((kind, file_id))

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()
            self.calls.clear()
            self.inbound.clear()
            self._vk_random_ids.clear()
            for queue in self._failures.values():
                queue.clear()

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    # provider side (called by the request handler)

    def take_failure(self, kind: str) -> tuple[int, Any] | None:
        with self.lock:
            queue = self._failures[kind]
            return queue.popleft() if queue else None

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.sent.append({**entry, "at": _now_iso()})

    def record_call(self, kind: str, status: int) -> None:
        with self.lock:
            self.calls.append((kind, status))

    def vk_dedup(self, peer_id: str, random_id: str, new_id: str) -> tuple[str, bool]:
        """The message id for this (peer, random_id) and whether it is new."""
        with self.lock:
            known = self._vk_random_ids.get((peer_id, random_id))
            if known is not None and random_id != "0":
                return known, False
            self._vk_random_ids[(peer_id, random_id)] = new_id
            return new_id, True

    # client side: posting to the CRM

    def webhook_url(self, kind: str, webhook: str | None = None) -> str:
        target = webhook or self.channels.get(kind, {}).get("webhook")
        if not target:
            raise ValueError(f"no {kind} webhook configured")
        if target.startswith(("http://", "https://")):
            return str(target)
        if self.transport is not None and not self.crm_url:
            return str(target)
        if not self.crm_url:
            raise ValueError("a webhook path needs crm_url")
        return self.crm_url + "/" + str(target).lstrip("/")

    def _setting(self, kind: str, key: str, given: Any) -> Any:
        if given is not None:
            return given
        value = self.channels.get(kind, {}).get(key)
        if value is None:
            raise ValueError(f"no {kind} {key} given or configured")
        return value

    def post_raw(
        self,
        url: str,
        body: bytes | None,
        headers: dict[str, str] | None = None,
        *,
        method: str = "POST",
        kind: str = "",
        text: str = "",
    ) -> int:
        """One request to the CRM; returns the HTTP status (the body is in last_reply)."""
        if self.transport is not None:
            status, reply = self.transport(method, url, body, headers or {})
        else:
            status, reply = _http(method, url, body, headers or {})
        self.last_reply = (status, reply)
        with self.lock:
            self.inbound.append(
                InboundPost(kind=kind, url=url, status=status, reply=reply, text=text)
            )
        return status

    def telegram_post(
        self, webhook_url: str | None, secret: str | None, update: dict[str, Any]
    ) -> int:
        headers = {"Content-Type": "application/json"}
        secret = self._setting("telegram", "secret", secret)
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        message = update.get("message") or {}
        return self.post_raw(
            self.webhook_url("telegram", webhook_url),
            json.dumps(update, ensure_ascii=False).encode(),
            headers,
            kind="telegram",
            text=str(message.get("text") or message.get("contact", {}).get("phone_number", "")),
        )

    def _telegram_update(
        self,
        user_id: int,
        first_name: str,
        last_name: str,
        username: str,
        update_id: int | None,
        message_id: int | None,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        sender: dict[str, Any] = {"id": int(user_id), "is_bot": False, "first_name": first_name}
        if last_name:
            sender["last_name"] = last_name
        if username:
            sender["username"] = username
        sender["language_code"] = "ru"
        chat = {
            k: v for k, v in sender.items() if k in ("id", "first_name", "last_name", "username")
        }
        return {
            "update_id": update_id if update_id is not None else self.next_id(),
            "message": {
                "message_id": message_id if message_id is not None else self.next_id(),
                "from": sender,
                "chat": {**chat, "type": "private"},
                "date": int(time.time()),
                **content,
            },
        }

    def telegram_send(
        self,
        webhook_url: str | None,
        secret: str | None,
        user_id: int,
        text: str,
        first_name: str = "Client",
        username: str = "",
        *,
        last_name: str = "",
        update_id: int | None = None,
        message_id: int | None = None,
    ) -> int:
        update = self._telegram_update(
            user_id, first_name, last_name, username, update_id, message_id, {"text": text}
        )
        return self.telegram_post(webhook_url, secret, update)

    def telegram_share_contact(
        self,
        webhook_url: str | None,
        secret: str | None,
        user_id: int,
        phone: str,
        first_name: str = "Client",
        *,
        last_name: str = "",
        username: str = "",
        update_id: int | None = None,
        message_id: int | None = None,
    ) -> int:
        """The client presses "share my phone number": a contact of himself."""
        contact: dict[str, Any] = {
            "phone_number": phone,
            "first_name": first_name,
            "user_id": int(user_id),
        }
        if last_name:
            contact["last_name"] = last_name
        update = self._telegram_update(
            user_id, first_name, last_name, username, update_id, message_id, {"contact": contact}
        )
        return self.telegram_post(webhook_url, secret, update)

    def telegram_send_media(
        self,
        webhook_url: str | None,
        secret: str | None,
        user_id: int,
        file_id: str,
        content: bytes,
        *,
        kind: str = "photo",
        mime_type: str = "",
        file_name: str = "",
        caption: str = "",
        first_name: str = "Client",
        update_id: int | None = None,
        message_id: int | None = None,
    ) -> int:
        """A client's photo or document; the file is kept here for ``getFile``."""
        self.add_media("telegram", file_id, content, mime_type)
        media: dict[str, Any]
        if kind == "photo":
            media = {
                "photo": [
                    {"file_id": f"{file_id}-thumb", "width": 90, "height": 90, "file_size": 1},
                    {"file_id": file_id, "width": 800, "height": 600, "file_size": len(content)},
                ]
            }
        else:
            media = {
                "document": {
                    "file_id": file_id,
                    "file_name": file_name or "document",
                    "mime_type": mime_type,
                    "file_size": len(content),
                }
            }
        if caption:
            media["caption"] = caption
        update = self._telegram_update(user_id, first_name, "", "", update_id, message_id, media)
        return self.telegram_post(webhook_url, secret, update)

    def whatsapp_post(
        self,
        webhook_url: str | None,
        app_secret: str | None,
        payload: dict[str, Any] | bytes,
        *,
        text: str = "",
    ) -> int:
        body = (
            payload
            if isinstance(payload, bytes)
            else json.dumps(payload, ensure_ascii=False).encode()
        )
        headers = {"Content-Type": "application/json"}
        app_secret = self._setting("whatsapp", "app_secret", app_secret)
        if app_secret:
            headers["X-Hub-Signature-256"] = whatsapp_signature(app_secret, body)
        return self.post_raw(
            self.webhook_url("whatsapp", webhook_url), body, headers, kind="whatsapp", text=text
        )

    def whatsapp_send(
        self,
        webhook_url: str | None,
        app_secret: str | None,
        wa_id: str,
        text: str,
        name: str = "",
        *,
        message_id: str | None = None,
    ) -> int:
        phone_number_id = str(
            self.channels.get("whatsapp", {}).get("phone_number_id")
            or DEFAULT_WHATSAPP_PHONE_NUMBER_ID
        )
        payload = whatsapp_notification(
            messages=[whatsapp_message(str(wa_id), text, message_id=message_id)],
            names={str(wa_id): name},
            phone_number_id=phone_number_id,
        )
        return self.whatsapp_post(webhook_url, app_secret, payload, text=text)

    def whatsapp_send_media(
        self,
        webhook_url: str | None,
        app_secret: str | None,
        wa_id: str,
        media_id: str,
        content: bytes,
        *,
        kind: str = "image",
        mime_type: str = "",
        filename: str = "",
        caption: str = "",
        name: str = "",
    ) -> int:
        """A client's image, document, audio ...; the file is kept here for the media API."""
        self.add_media("whatsapp", media_id, content, mime_type)
        message = whatsapp_message(str(wa_id), "")
        del message["text"]
        media: dict[str, Any] = {
            "id": media_id,
            "mime_type": mime_type,
            "sha256": base64.b64encode(hashlib.sha256(content).digest()).decode(),
        }
        if filename:
            media["filename"] = filename
        if caption:
            media["caption"] = caption
        message.update({"type": kind, kind: media})
        payload = whatsapp_notification(
            messages=[message],
            names={str(wa_id): name},
            phone_number_id=str(
                self.channels.get("whatsapp", {}).get("phone_number_id")
                or DEFAULT_WHATSAPP_PHONE_NUMBER_ID
            ),
        )
        return self.whatsapp_post(webhook_url, app_secret, payload, text=caption or kind)

    def whatsapp_status(
        self,
        webhook_url: str | None,
        app_secret: str | None,
        message_id: str,
        status: str,
        recipient_id: str = "",
        *,
        error_title: str = "",
        error_code: int = 131026,
    ) -> int:
        """A delivery report (sent, delivered, read, failed) of a message the business sent."""
        payload = whatsapp_notification(
            statuses=[
                whatsapp_status_item(
                    message_id,
                    status,
                    recipient_id=recipient_id,
                    error_title=error_title,
                    error_code=error_code,
                )
            ]
        )
        return self.whatsapp_post(webhook_url, app_secret, payload, text=f"{status}: {message_id}")

    def whatsapp_verify(
        self,
        webhook_url: str | None,
        verify_token: str | None,
        challenge: str = "1158201444",
        mode: str = "subscribe",
    ) -> int:
        """Meta's subscription handshake (GET); the echoed challenge is in last_reply."""
        query = urlencode(
            {
                "hub.mode": mode,
                "hub.verify_token": self._setting("whatsapp", "verify_token", verify_token),
                "hub.challenge": challenge,
            }
        )
        url = self.webhook_url("whatsapp", webhook_url)
        return self.post_raw(f"{url}?{query}", None, method="GET", kind="whatsapp", text="verify")

    def vk_post(
        self, webhook_url: str | None, payload: dict[str, Any] | bytes, *, text: str = ""
    ) -> int:
        body = (
            payload
            if isinstance(payload, bytes)
            else json.dumps(payload, ensure_ascii=False).encode()
        )
        return self.post_raw(
            self.webhook_url("vk", webhook_url),
            body,
            {"Content-Type": "application/json"},
            kind="vk",
            text=text,
        )

    def vk_send(
        self,
        webhook_url: str | None,
        secret: str | None,
        user_id: int,
        text: str,
        *,
        event_id: str | None = None,
        conversation_message_id: int | None = None,
        group_id: int | None = None,
    ) -> int:
        """A ``message_new`` event; ``secret=""`` leaves the field out."""
        number = conversation_message_id if conversation_message_id is not None else self.next_id()
        payload: dict[str, Any] = {
            "group_id": group_id
            or int(self.channels.get("vk", {}).get("group_id") or DEFAULT_VK_GROUP_ID),
            "type": "message_new",
            "event_id": event_id or secrets.token_hex(20),
            "v": "5.199",
            "object": {
                "message": {
                    "date": int(time.time()),
                    "from_id": int(user_id),
                    "id": number,
                    "out": 0,
                    "version": number,
                    "attachments": [],
                    "conversation_message_id": number,
                    "fwd_messages": [],
                    "important": False,
                    "is_hidden": False,
                    "peer_id": int(user_id),
                    "random_id": 0,
                    "text": text,
                },
                "client_info": {
                    "button_actions": ["text", "vkpay", "open_app", "location", "open_link"],
                    "keyboard": True,
                    "inline_keyboard": True,
                    "carousel": True,
                    "lang_id": 0,
                },
            },
        }
        secret = self._setting("vk", "secret", secret)
        if secret:
            payload["secret"] = secret
        return self.vk_post(webhook_url, payload, text=text)

    def vk_confirm(
        self, webhook_url: str | None, group_id: int | None = None, secret: str | None = None
    ) -> int:
        """VK's "confirm the server address" request; the answer is in last_reply."""
        payload: dict[str, Any] = {
            "type": "confirmation",
            "group_id": group_id
            or int(self.channels.get("vk", {}).get("group_id") or DEFAULT_VK_GROUP_ID),
        }
        if secret:
            payload["secret"] = secret
        return self.vk_post(webhook_url, payload, text="confirmation")


# --- HTTP ---------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem;color:#222}"
    "section{border:1px solid #ccc;border-radius:6px;padding:.8rem 1rem;margin:.8rem 0}"
    "label{display:inline-block;margin:.2rem .8rem .2rem 0}"
    "input[type=text]{padding:.2rem .4rem}"
    "textarea{width:100%;min-height:3rem}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}"
    "iframe{width:100%;height:28rem;border:1px solid #ccc;border-radius:6px}"
    ".muted{color:#666;font-size:.9em}"
    "form.inline{display:inline}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{_STYLE_HASH}'; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str, *, refresh: int | None = None) -> bytes:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"{meta}<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    server_version = "MessengerSimulator/1"
    sim: MessengerSimulator  # set on the subclass made by start()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # plumbing

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_BODY)) if length > 0 else b""

    def _params(self, body: bytes) -> dict[str, Any]:
        """Query string, then a form or JSON body, as the providers accept either."""
        params: dict[str, Any] = {
            k: v[-1] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()
        }
        content_type = self.headers.get("Content-Type", "")
        if "json" in content_type:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("not an object")
            params.update(data)
        elif body:
            params.update(
                {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            )
        return params

    def _send(
        self,
        status: int,
        body: bytes | str,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False), "application/json")

    def _html(self, data: bytes) -> None:
        self._send(
            200,
            data,
            "text/html; charset=utf-8",
            {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff"},
        )

    def _redirect(self, location: str) -> None:
        self._send(303, b"", headers={"Location": location})

    def _failure(self, kind: str) -> bool:
        failure = self.sim.take_failure(kind)
        if failure is None:
            return False
        status, body = failure
        if body is None:
            body = _default_error(kind, status)
        self.sim.record_call(kind, status)
        if isinstance(body, dict | list):
            self._json(status, body)
        else:
            self._send(status, str(body))
        return True

    # routes

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            self._html(_index_page(self.sim))
        elif path == "/outbox":
            self._html(_outbox_page(self.sim))
        elif path == "/api/sent":
            with self.sim.lock:
                self._json(200, list(self.sim.sent))
        elif match := _TELEGRAM_PATH.match(path):
            self._telegram(match["token"], match["method"], b"")
        elif match := _TELEGRAM_FILE_PATH.match(path):
            self._telegram_file(match["token"], match["file_path"])
        elif match := _WHATSAPP_MEDIA_PATH.match(path):
            self._whatsapp_media_info(match["media_id"])
        elif path == _WHATSAPP_MEDIA_URL:
            self._whatsapp_media_download()
        else:
            self._send(404, "not found")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        if match := _TELEGRAM_PATH.match(path):
            self._telegram(match["token"], match["method"], body)
        elif match := _WHATSAPP_PATH.match(path):
            self._whatsapp(match["phone_number_id"], body)
        elif _VK_PATH.match(path):
            self._vk(body)
        elif path.startswith("/client/"):
            self._client_form(path.removeprefix("/client/"), body)
        else:
            self._send(404, "not found")

    # providers

    def _telegram(self, token: str, method: str, body: bytes) -> None:
        if self._failure("telegram"):
            return
        expected = self.sim.channels.get("telegram", {}).get("bot_token")
        if expected and not hmac.compare_digest(token.encode(), str(expected).encode()):
            self.sim.record_call("telegram", 401)
            self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        if method == "getFile":
            self._telegram_get_file(body)
            return
        if method != "sendMessage":
            self.sim.record_call("telegram", 200)
            self._json(200, {"ok": True, "result": True})
            return
        try:
            params = self._params(body)
        except ValueError:
            self._json(400, _telegram_error(400, "Bad Request: can't parse JSON"))
            return
        chat_id, text = str(params.get("chat_id") or ""), str(params.get("text") or "")
        if not chat_id:
            self._json(400, _telegram_error(400, "Bad Request: chat_id is empty"))
            return
        if not text.strip():
            self._json(400, _telegram_error(400, "Bad Request: message text is empty"))
            return
        message_id = self.sim.next_id()
        self.sim.record(
            {"kind": "telegram", "to": chat_id, "text": text, "id": str(message_id), "token": token}
        )
        self.sim.record_call("telegram", 200)
        chat: dict[str, Any] = {
            "id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
            "type": "private",
        }
        self._json(
            200,
            {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "from": {"id": 1, "is_bot": True, "first_name": "Simulated bot"},
                    "chat": chat,
                    "date": int(time.time()),
                    "text": text,
                },
            },
        )

    # media downloads

    def _telegram_get_file(self, body: bytes) -> None:
        try:
            file_id = str(self._params(body).get("file_id") or "")
        except ValueError:
            file_id = ""
        known = self.sim.get_media("telegram", file_id)
        if known is None:
            self.sim.record_call("telegram", 400)
            self._json(400, _telegram_error(400, "Bad Request: invalid file_id"))
            return
        self.sim.record_call("telegram", 200)
        path = f"documents/{hashlib.sha256(file_id.encode()).hexdigest()[:16]}"
        self._json(
            200,
            {
                "ok": True,
                "result": {
                    "file_id": file_id,
                    "file_unique_id": path[-16:],
                    "file_size": len(known[0]),
                    "file_path": path,
                },
            },
        )

    def _telegram_file(self, token: str, file_path: str) -> None:
        expected = self.sim.channels.get("telegram", {}).get("bot_token")
        if expected and not hmac.compare_digest(token.encode(), str(expected).encode()):
            self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        with self.sim.lock:
            found = next(
                (
                    content
                    for (kind, file_id), (content, _) in self.sim.media.items()
                    if kind == "telegram"
                    and hashlib.sha256(file_id.encode()).hexdigest()[:16] == file_path[-16:]
                ),
                None,
            )
        if found is None:
            self._json(404, _telegram_error(404, "Not Found"))
            return
        self._send(200, found, "application/octet-stream")

    def _whatsapp_media_info(self, media_id: str) -> None:
        if self._failure("whatsapp") or not self._whatsapp_authorized():
            return
        known = self.sim.get_media("whatsapp", media_id)
        if known is None:
            self.sim.record_call("whatsapp", 400)
            self._json(
                400,
                _graph_error(
                    100,
                    f"Unsupported get request. Object with ID '{media_id}' does not exist",
                    "GraphMethodException",
                ),
            )
            return
        content, mime_type = known
        self.sim.record_call("whatsapp", 200)
        self._json(
            200,
            {
                "messaging_product": "whatsapp",
                "url": f"{self.sim.url}{_WHATSAPP_MEDIA_URL}?{urlencode({'mid': media_id})}",
                "mime_type": mime_type,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": media_id,
            },
        )

    def _whatsapp_media_download(self) -> None:
        if not self._whatsapp_authorized():
            return
        query = parse_qs(urlsplit(self.path).query)
        known = self.sim.get_media("whatsapp", (query.get("mid") or [""])[-1])
        if known is None:
            self._send(404, "not found")
            return
        self._send(200, known[0], known[1] or "application/octet-stream")

    def _whatsapp_authorized(self) -> bool:
        expected = self.sim.channels.get("whatsapp", {}).get("access_token")
        given = self.headers.get("Authorization", "")
        if given.startswith("Bearer ") and (
            not expected
            or hmac.compare_digest(given.removeprefix("Bearer ").encode(), str(expected).encode())
        ):
            return True
        self.sim.record_call("whatsapp", 401)
        self._json(
            401,
            _graph_error(
                190, "Invalid OAuth access token - Cannot parse access token", "OAuthException"
            ),
        )
        return False

    def _whatsapp(self, phone_number_id: str, body: bytes) -> None:
        if self._failure("whatsapp"):
            return
        settings = self.sim.channels.get("whatsapp", {})
        if not self._whatsapp_authorized():
            return
        if settings.get("phone_number_id") and str(settings["phone_number_id"]) != phone_number_id:
            self.sim.record_call("whatsapp", 400)
            self._json(
                400,
                _graph_error(
                    100,
                    f"Unsupported post request. Object with ID '{phone_number_id}' does not exist",
                    "GraphMethodException",
                ),
            )
            return
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        text = data.get("text") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or data.get("messaging_product") != "whatsapp"
            or not str(data.get("to") or "").isdigit()
            or data.get("type", "text") != "text"
            or not isinstance(text, dict)
            or not str(text.get("body") or "").strip()
        ):
            self.sim.record_call("whatsapp", 400)
            self._json(400, _graph_error(100, "(#100) Invalid parameter", "OAuthException"))
            return
        wamid = f"wamid.SIM{self.sim.next_id()}"
        self.sim.record(
            {
                "kind": "whatsapp",
                "to": str(data["to"]),
                "text": str(text["body"]),
                "id": wamid,
                "phone_number_id": phone_number_id,
            }
        )
        self.sim.record_call("whatsapp", 200)
        self._json(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": str(data["to"]), "wa_id": str(data["to"])}],
                "messages": [{"id": wamid}],
            },
        )

    def _vk(self, body: bytes) -> None:
        if self._failure("vk"):
            return
        try:
            params = self._params(body)
        except ValueError:
            params = {}
        expected = self.sim.channels.get("vk", {}).get("access_token")
        given = str(params.get("access_token") or "")
        if not given or (
            expected and not hmac.compare_digest(given.encode(), str(expected).encode())
        ):
            self.sim.record_call("vk", 200)
            self._json(200, _vk_error(5, "User authorization failed: invalid access_token (4)."))
            return
        if not params.get("v"):
            self.sim.record_call("vk", 200)
            self._json(200, _vk_error(8, "Invalid request: v (version) is required"))
            return
        peer_id, text = str(params.get("peer_id") or ""), str(params.get("message") or "")
        random_id = str(params.get("random_id") or "")
        if (
            not peer_id.lstrip("-").isdigit()
            or not text.strip()
            or not random_id.lstrip("-").isdigit()
        ):
            self.sim.record_call("vk", 200)
            self._json(
                200, _vk_error(100, "One of the parameters specified was missing or invalid")
            )
            return
        message_id, new = self.sim.vk_dedup(peer_id, random_id, str(self.sim.next_id()))
        if new:
            self.sim.record(
                {
                    "kind": "vk",
                    "to": peer_id,
                    "text": text,
                    "id": message_id,
                    "random_id": int(random_id),
                }
            )
        self.sim.record_call("vk", 200)
        self._json(200, {"response": int(message_id)})

    # the page's forms: write as a client

    def _client_form(self, action: str, body: bytes) -> None:
        form = {k: v[-1].strip() for k, v in parse_qs(body.decode(errors="replace")).items()}
        sim = self.sim
        back = "/outbox" if action == "whatsapp-status" else "/"
        try:
            if action == "telegram":
                user_id = _digits(form.get("user_id", ""), "user id")
                first, _, last = form.get("name", "").partition(" ")
                if form.get("phone"):
                    sim.telegram_share_contact(
                        None, None, user_id, form["phone"], first or "Client", last_name=last
                    )
                if form.get("text"):
                    sim.telegram_send(
                        None, None, user_id, form["text"], first or "Client", last_name=last
                    )
            elif action == "whatsapp":
                wa_id = str(_digits(form.get("user_id", ""), "WhatsApp id (phone digits)"))
                if form.get("text"):
                    sim.whatsapp_send(None, None, wa_id, form["text"], form.get("name", ""))
            elif action == "vk":
                user_id = _digits(form.get("user_id", ""), "user id")
                if form.get("text"):
                    sim.vk_send(None, None, user_id, form["text"])
            elif action == "whatsapp-status":
                sim.whatsapp_status(
                    None, None, form.get("id", ""), form.get("status", ""), form.get("to", "")
                )
            else:
                self._send(404, "not found")
                return
        except (ValueError, OSError) as error:
            with sim.lock:
                sim.inbound.append(
                    InboundPost(
                        kind=action, url="", status=0, reply=str(error), text=form.get("text", "")
                    )
                )
        self._redirect(back)


def _digits(value: str, label: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise ValueError(f"the {label} must be digits")
    return int(value)


def _telegram_error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


def _graph_error(code: int, message: str, kind: str) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": kind,
            "code": code,
            "fbtrace_id": "A" + secrets.token_hex(10),
        }
    }


def _vk_error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"error_code": code, "error_msg": message, "request_params": []}}


def _default_error(kind: str, status: int) -> Any:
    if kind == "telegram":
        if status == 429:
            return _telegram_error(status, "Too Many Requests: retry after 5")
        if status >= 500:
            return _telegram_error(status, "Internal Server Error")
        return _telegram_error(status, "Bad Request: chat not found")
    if kind == "whatsapp":
        return _graph_error(131000, "Something went wrong", "OAuthException")
    return _vk_error(10, "Internal server error")


def _index_page(sim: MessengerSimulator) -> bytes:
    parts = [
        "<h1>Messenger simulator</h1>",
        '<p class="muted">Telegram, WhatsApp and VK as the CRM sees them. '
        f"CRM: {_e(sim.crm_url or 'not set')}. Provider API base: {_e(sim.url)}</p>",
    ]
    configured = [kind for kind in KINDS if sim.channels.get(kind, {}).get("webhook")]
    if not configured:
        parts.append(
            "<p>No channel is configured: start with --telegram-webhook, --whatsapp-webhook or "
            "--vk-webhook (and their secrets).</p>"
        )
    for kind in configured:
        try:
            target = sim.webhook_url(kind)
        except ValueError as error:
            target = str(error)
        fields = []
        if kind in ("telegram", "whatsapp"):
            fields.append(
                '<label>Name <input type="text" name="name" value="Анна Смирнова"></label>'
            )
        user_label = "WhatsApp id (phone digits)" if kind == "whatsapp" else "User id"
        default_id = {"telegram": "5001", "whatsapp": "79123456789", "vk": "7001"}[kind]
        fields.append(
            f'<label>{_e(user_label)} <input type="text" name="user_id" '
            f'value="{default_id}" required></label>'
        )
        if kind == "telegram":
            fields.append(
                '<label>Share phone (optional) <input type="text" name="phone" '
                'placeholder="+79123456789"></label>'
            )
        notes = {
            "telegram": "Sharing the phone sends the client's own contact first, as the "
            "Telegram button does; the text may then be empty.",
            "whatsapp": "The WhatsApp id is the client's phone number in digits.",
            "vk": "VK events carry no name, only the user id.",
        }
        # The text may be left out only when Telegram shares a phone.
        required = "" if kind == "telegram" else " required"
        parts.append(
            f"<section><h2>{_e(TITLES[kind])}</h2>"
            f'<p class="muted">Webhook: {_e(target)}. {_e(notes[kind])}</p>'
            f'<form method="post" action="/client/{kind}">'
            f"{''.join(fields)}"
            '<p><textarea name="text" aria-label="Text" placeholder="Message text"'
            f"{required}></textarea></p>"
            '<button type="submit">Send as the client</button></form></section>'
        )
    parts.append(
        "<h2>What the business sent, and what the CRM answered</h2>"
        '<iframe src="/outbox" title="Outbox"></iframe>'
    )
    return _page("Messenger simulator", "".join(parts))


def _outbox_page(sim: MessengerSimulator) -> bytes:
    with sim.lock:
        sent = list(reversed(sim.sent[-100:]))
        inbound = list(reversed(sim.inbound[-30:]))
    rows = []
    for item in sent:
        actions = ""
        if item["kind"] == "whatsapp":
            actions = "".join(
                '<form class="inline" method="post" action="/client/whatsapp-status">'
                f'<input type="hidden" name="id" value="{_e(item["id"])}">'
                f'<input type="hidden" name="to" value="{_e(item["to"])}">'
                f'<input type="hidden" name="status" value="{status}">'
                f'<button type="submit">{status}</button></form> '
                for status in ("delivered", "read", "failed")
            )
        rows.append(
            f"<tr><td>{_e(item['at'])}</td><td>{_e(TITLES[item['kind']])}</td>"
            f"<td>{_e(item['to'])}</td><td>{_e(item['text'])}</td>"
            f"<td>{_e(item['id'])}</td><td>{actions}</td></tr>"
        )
    posts = [
        f"<tr><td>{_e(post.at)}</td><td>{_e(post.kind)}</td><td>{_e(post.text)}</td>"
        f"<td>{_e(post.status or 'error')}</td><td>{_e(post.reply[:200])}</td></tr>"
        for post in inbound
    ]
    body = (
        "<h3>Sent by the business</h3>"
        + (
            "<table><tr><th>At</th><th>Messenger</th><th>To</th><th>Text</th><th>Id</th>"
            "<th>Report</th></tr>" + "".join(rows) + "</table>"
            if rows
            else '<p class="muted">Nothing yet.</p>'
        )
        + "<h3>Posted to the CRM</h3>"
        + (
            "<table><tr><th>At</th><th>Messenger</th><th>Text</th><th>Status</th>"
            "<th>Answer</th></tr>" + "".join(posts) + "</table>"
            if posts
            else '<p class="muted">Nothing yet.</p>'
        )
    )
    return _page("Outbox", body, refresh=3)


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    crm_url: str | None = None,
    channels: dict[str, dict[str, Any]] | None = None,
) -> MessengerSimulator:
    """Serve in a background thread; ``channels`` maps kind → settings (CHANNEL_KEYS)."""
    # A subclass per server, so each simulator's handler knows its own handle.
    handler: type[_Handler] = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    sim = MessengerSimulator(server, crm_url, channels)
    handler.sim = sim
    sim.serve_in_background()
    return sim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--crm", default="http://127.0.0.1:8000", help="the CRM's base URL")
    parser.add_argument("--telegram-webhook")
    parser.add_argument("--telegram-secret")
    parser.add_argument("--telegram-token", help="bot token to require in /bot<token>/")
    parser.add_argument("--whatsapp-webhook")
    parser.add_argument("--whatsapp-app-secret")
    parser.add_argument("--whatsapp-verify-token")
    parser.add_argument("--whatsapp-access-token", help="Bearer token to require")
    parser.add_argument("--whatsapp-phone-number-id")
    parser.add_argument("--vk-webhook")
    parser.add_argument("--vk-secret")
    parser.add_argument("--vk-access-token", help="access_token to require")
    parser.add_argument("--vk-group-id", type=int)
    args = parser.parse_args(argv)
    channels: dict[str, dict[str, Any]] = {}
    if args.telegram_webhook:
        channels["telegram"] = {
            "webhook": args.telegram_webhook,
            "secret": args.telegram_secret or "",
            "bot_token": args.telegram_token,
        }
    if args.whatsapp_webhook:
        channels["whatsapp"] = {
            "webhook": args.whatsapp_webhook,
            "app_secret": args.whatsapp_app_secret or "",
            "verify_token": args.whatsapp_verify_token,
            "access_token": args.whatsapp_access_token,
            "phone_number_id": args.whatsapp_phone_number_id,
        }
    if args.vk_webhook:
        channels["vk"] = {
            "webhook": args.vk_webhook,
            "secret": args.vk_secret or "",
            "access_token": args.vk_access_token,
            "group_id": args.vk_group_id,
        }
    sim = start(args.host, args.port, crm_url=args.crm, channels=channels)
    print(f"Messenger simulator on {sim.url} (CRM {args.crm})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
