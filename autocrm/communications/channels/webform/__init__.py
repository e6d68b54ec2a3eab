"""Website forms: a public endpoint per site that browsers post to, cross-origin.

Settings: ``allowed_origins`` (list of ``scheme://host[:port]``), ``rate_limit_per_minute``
(per client IP and channel, default 10) and ``require_consent`` (refuse a form without
the personal-data consent box ticked, default off: most sites enforce it themselves).

The endpoint (``Channel.webhook_path``) accepts ``application/json``,
``application/x-www-form-urlencoded`` and ``multipart/form-data`` with the fields name,
phone, email, message, topic, vehicle (a VIN or our vehicle id), utm_source ...
utm_content (or a ``utm`` object in JSON), page_url, consent_personal_data,
consent_marketing, idempotency_key (or an ``Idempotency-Key`` header), and the honeypot
``website``.

The order of checks is chosen so a refused post stores nothing and tells a bot nothing:

1. CORS. A browser sends ``Origin`` on a cross-origin POST and on the OPTIONS preflight;
   an origin outside ``allowed_origins`` gets 403. A post without ``Origin`` comes from a
   server (the site's backend relaying the form) and is allowed: CORS protects browsers,
   it is no authentication, and a server can forge any Origin anyway.
2. Rate limit: a fixed one-minute window per (channel, client IP) counted in Django's
   cache. Every POST counts, refused ones too, so a bot cannot probe validation for free.
   The count lives in ``django.core.cache.cache``: with the default per-process
   local-memory cache each worker counts on its own, so production needs a shared cache
   (Redis, Memcached or the database cache) for the limit to mean what it says.
3. Validation: a phone or an e-mail is required; a phone must normalise to E.164, an
   e-mail must be valid, every field is length-bounded. 400 names the field.
4. Honeypot: a hidden ``website`` field that people never see and bots fill in. Such a
   post is answered exactly like an accepted one and stored nowhere.

What is stored is not the raw body (a multipart body may carry files we never keep) but
the checked fields as a JSON document; ``parse`` turns it into one ``FormData``.

The answer to an accepted post is ``201 {"status": "accepted", "id": <token>}``; the token
is random, or derived from the idempotency key, so a repeated post answers the same id
and, thanks to the inbox's ``external_id``, is stored once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

from autocrm.clients.models import ConsentPurpose
from autocrm.clients.services import ContactInfo, normalize_email, normalize_phone
from autocrm.communications.channels.base import (
    FormData,
    InboundItem,
    RawEvent,
    SendError,
    SendResult,
    WebhookReply,
)
from autocrm.communications.channels.common import json_error
from autocrm.core.errors import ValidationFailed

DEFAULT_RATE_LIMIT_PER_MINUTE = 10
RATE_WINDOW_SECONDS = 60
# A form post is a few hundred bytes; anything far bigger is not a form we want.
MAX_BODY_BYTES = 64 * 1024
HONEYPOT_FIELD = "website"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Upper bounds of the fields (characters); longer values are refused, not cut.
FIELD_LIMITS = {
    "name": 300,
    "phone": 40,
    "email": 254,
    "message": 5000,
    "topic": 200,
    "vehicle": 100,
    "page_url": 1000,
    "idempotency_key": 150,
    **dict.fromkeys(UTM_KEYS, 300),
}
_TRUE = {"1", "true", "on", "yes", "y", "да"}
_FALSE = {"", "0", "false", "off", "no", "n", "нет"}

# The rate limiter's clock; tests replace it to stay clear of minute boundaries.
clock: Callable[[], float] = time.time


def clean_origin(value: Any, *, field: str) -> str:
    """``https://Example.ru/`` → ``https://example.ru``; anything but an origin is refused."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(_("Enter an origin like https://example.ru."), field=field)
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        raise ValidationFailed(_("The port is not a number."), field=field) from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValidationFailed(
            _("Enter an origin: scheme://host[:port], without a path."), field=field
        )
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def _origin_allowed(channel: Any, origin: str) -> bool:
    try:
        wanted = clean_origin(origin, field="Origin")
    except ValidationFailed:
        return False  # "null" (sandboxed frames, file://) and garbage
    return wanted in (channel.settings.get("allowed_origins") or [])


def client_ip(request: HttpRequest) -> str:
    """The visitor's address; behind N trusted proxies (``AXES_IPWARE_PROXY_COUNT``, the
    setting the login throttle already uses) the N-th address from the right of
    X-Forwarded-For, since only the proxies we run append to it honestly."""
    proxies = getattr(django_settings, "AXES_IPWARE_PROXY_COUNT", None) or 0
    if proxies:
        chain = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(chain) >= proxies:
            return chain[-proxies][:64]
    return str(request.META.get("REMOTE_ADDR") or "unknown")[:64]


def _rate_limited(channel: Any, ip: str) -> int:
    """Count this post; seconds until the window ends if it is over the limit, else 0."""
    limit = int(channel.settings.get("rate_limit_per_minute") or DEFAULT_RATE_LIMIT_PER_MINUTE)
    now = clock()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"webform-rate:{channel.pk}:{ip}:{window}"
    # add() then incr() is atomic on every cache backend that supports incr (local
    # memory, Redis, Memcached, database); get-then-set would let a burst slip through.
    cache.add(key, 0, timeout=RATE_WINDOW_SECONDS + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=RATE_WINDOW_SECONDS + 5)
        count = 1
    if count <= limit:
        return 0
    return max(math.ceil((window + 1) * RATE_WINDOW_SECONDS - now), 1)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise ValidationFailed(_("Send this field as text."), field="?")


def _flag(value: Any, field: str) -> bool | None:
    """A checkbox: None when not sent, else whether it is ticked."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationFailed(_("Send true or false."), field=field)


class _Refused(Exception):
    def __init__(self, reply: WebhookReply) -> None:
        self.reply = reply


def _read_fields(request: HttpRequest) -> dict[str, Any]:
    content_type = (request.content_type or "").lower()
    if content_type == "application/json":
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise _Refused(json_error(400, _("The body is not JSON."), field="body")) from None
        if not isinstance(data, dict):
            raise _Refused(json_error(400, _("Send a JSON object."), field="body"))
        return data
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # Files of a multipart post are ignored: a form sends text.
        try:
            return {key: request.POST.get(key) for key in request.POST}
        except (MultiPartParserError, SuspiciousOperation):
            raise _Refused(
                json_error(400, _("The form body is malformed."), field="body")
            ) from None
    raise _Refused(
        json_error(
            415,
            _("Send application/json, application/x-www-form-urlencoded or multipart/form-data."),
            field="Content-Type",
        )
    )


def _bounded(data: Mapping[str, Any], key: str) -> str:
    try:
        value = _as_text(data.get(key))
    except ValidationFailed:
        raise ValidationFailed(_("Send this field as text."), field=key) from None
    if len(value) > FIELD_LIMITS[key]:
        raise ValidationFailed(
            _("At most %(count)d characters.") % {"count": FIELD_LIMITS[key]}, field=key
        )
    return value


def _utm(data: Mapping[str, Any], page_url: str) -> dict[str, str]:
    nested = data.get("utm")
    if nested is not None and not isinstance(nested, dict):
        raise ValidationFailed(_("Send UTM tags as an object."), field="utm")
    utm: dict[str, str] = {}
    for key in UTM_KEYS:
        short = key.removeprefix("utm_")
        raw = data.get(key)
        if raw in (None, "") and nested:
            raw = nested.get(key, nested.get(short))
        field = key if data.get(key) not in (None, "") else f"utm.{short}"
        try:
            value = _as_text(raw)
        except ValidationFailed:
            raise ValidationFailed(_("Send this field as text."), field=field) from None
        if len(value) > FIELD_LIMITS[key]:
            raise ValidationFailed(
                _("At most %(count)d characters.") % {"count": FIELD_LIMITS[key]}, field=field
            )
        if value:
            utm[key] = value
    if not utm and page_url:
        # Sites that do not pass the tags on still post the landing page's address.
        for key, value in parse_qsl(urlsplit(page_url).query):
            if key in UTM_KEYS and value and key not in utm:
                utm[key] = value[: FIELD_LIMITS[key]]
    return utm


def clean_submission(data: Mapping[str, Any], *, require_consent: bool = False) -> dict[str, Any]:
    """The stored document of one form post; ValidationFailed names the first bad field."""
    name = _bounded(data, "name")
    phone_raw = _bounded(data, "phone")
    email_raw = _bounded(data, "email")
    if not phone_raw and not email_raw:
        raise ValidationFailed(_("Enter a phone number or an e-mail address."), field="phone")
    phone = normalize_phone(phone_raw, field_name="phone") if phone_raw else ""
    email = normalize_email(email_raw, field_name="email") if email_raw else ""
    page_url = _bounded(data, "page_url")
    if page_url and urlsplit(page_url).scheme.lower() not in ("http", "https"):
        raise ValidationFailed(_("Enter an http(s) URL."), field="page_url")
    consents: dict[str, bool] = {}
    # Only a ticked box is a statement of consent (152-FZ); an unticked one withdraws
    # nothing the client agreed to elsewhere.
    if _flag(data.get("consent_personal_data"), "consent_personal_data"):
        consents[ConsentPurpose.PERSONAL_DATA.value] = True
    if _flag(data.get("consent_marketing"), "consent_marketing"):
        consents[ConsentPurpose.MARKETING.value] = True
    if require_consent and ConsentPurpose.PERSONAL_DATA.value not in consents:
        raise ValidationFailed(
            _("Consent to personal data processing is required."), field="consent_personal_data"
        )
    return {
        "name": name,
        "phone": phone,
        "email": email,
        "message": _bounded(data, "message"),
        "topic": _bounded(data, "topic"),
        "vehicle": _bounded(data, "vehicle"),
        "utm": _utm(data, page_url),
        "page_url": page_url,
        "consents": consents,
    }


class WebformAdapter:
    kind = "webform"

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        origins = settings.get("allowed_origins", [])
        if isinstance(origins, str):
            origins = [o for o in origins.replace(",", " ").split() if o]
        if not isinstance(origins, list):
            raise ValidationFailed(_("Give a list of origins."), field="settings.allowed_origins")
        cleaned_origins = [
            clean_origin(origin, field=f"settings.allowed_origins[{index}]")
            for index, origin in enumerate(origins)
        ]
        limit = settings.get("rate_limit_per_minute", DEFAULT_RATE_LIMIT_PER_MINUTE)
        if isinstance(limit, str) and limit.strip().isdigit():
            limit = int(limit.strip())
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise ValidationFailed(
                _("Enter a whole number from 1 to 10000."),
                field="settings.rate_limit_per_minute",
            )
        require_consent = _flag(settings.get("require_consent"), "settings.require_consent")
        return {
            "allowed_origins": list(dict.fromkeys(cleaned_origins)),
            "rate_limit_per_minute": limit,
            "require_consent": bool(require_consent),
        }

    def handle_webhook(self, channel: Any, request: HttpRequest) -> WebhookReply:
        origin = request.headers.get("Origin")
        cors: dict[str, str] = {}
        if origin is not None:
            if not _origin_allowed(channel, origin):
                return json_error(403, _("This site may not post to this form."), field="Origin")
            cors = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Expose-Headers": "Retry-After",
                "Vary": "Origin",
            }
        if request.method == "OPTIONS":
            if origin is None:
                return json_error(400, _("A preflight request needs an Origin."), field="Origin")
            return WebhookReply(
                status=204,
                body="",
                headers={
                    **cors,
                    "Access-Control-Allow-Methods": "POST",
                    "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key",
                    "Access-Control-Max-Age": "600",
                },
            )
        reply = self._handle_post(channel, request)
        reply.headers = {**cors, **reply.headers}
        return reply

    def _handle_post(self, channel: Any, request: HttpRequest) -> WebhookReply:
        if request.method != "POST":
            reply = json_error(405, _("Only POST is accepted."))
            reply.headers["Allow"] = "POST, OPTIONS"
            return reply
        retry_after = _rate_limited(channel, client_ip(request))
        if retry_after:
            reply = json_error(429, _("Too many submissions; try again in a minute."))
            reply.headers["Retry-After"] = str(retry_after)
            return reply
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return json_error(413, _("The form is too large."), field="body")
        try:
            data = _read_fields(request)
            key = (
                _bounded(data, "idempotency_key")
                or request.headers.get("Idempotency-Key", "").strip()
            )
            if len(key) > FIELD_LIMITS["idempotency_key"]:
                raise ValidationFailed(_("At most 150 characters."), field="idempotency_key")
            document = clean_submission(
                data, require_consent=bool(channel.settings.get("require_consent"))
            )
        except _Refused as refused:
            return refused.reply
        except ValidationFailed as error:
            return json_error(400, error.message, field=error.field)
        if key:
            # Stable for the key, so a retried post hears the same id; unguessable, so
            # the id says nothing about other submissions.
            token = hmac.new(
                channel.webhook_key.encode(), key.encode(), hashlib.sha256
            ).hexdigest()[:24]
        else:
            token = secrets.token_hex(12)
        accepted = WebhookReply(
            status=201,
            body=json.dumps({"status": "accepted", "id": token}),
            content_type="application/json",
        )
        try:
            honeypot = _as_text(data.get(HONEYPOT_FIELD))
        except ValidationFailed:
            honeypot = "filled"
        if honeypot:
            return accepted  # a bot: same answer, nothing kept
        document["token"] = token
        document["submitted_at"] = datetime.now(tz=UTC).isoformat()
        headers = {
            name: str(request.headers[name])[:500]
            for name in ("Origin", "Referer", "User-Agent")
            if request.headers.get(name)
        }
        headers["X-Client-IP"] = client_ip(request)
        accepted.events = [
            RawEvent(
                external_id=f"key:{key}" if key else None,
                body=json.dumps(document, ensure_ascii=False),
                headers=headers,
            )
        ]
        return accepted

    def parse(self, channel: Any, body: str, headers: dict[str, str]) -> list[InboundItem]:
        document = json.loads(body)
        submitted = document.get("submitted_at")
        return [
            FormData(
                sender=ContactInfo(
                    name=document.get("name", ""),
                    phone=document.get("phone") or None,
                    email=document.get("email") or None,
                    consents={k: bool(v) for k, v in (document.get("consents") or {}).items()},
                ),
                message=document.get("message", ""),
                topic=document.get("topic", ""),
                vehicle=document.get("vehicle", ""),
                utm={str(k): str(v) for k, v in (document.get("utm") or {}).items()},
                page_url=document.get("page_url", ""),
                at=datetime.fromisoformat(submitted) if submitted else None,
            )
        ]

    def send(self, channel: Any, message: Any) -> SendResult:
        raise SendError("A website form cannot carry an answer.", retryable=False)


adapter = WebformAdapter()
