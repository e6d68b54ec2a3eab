"""Helpers the channel adapters share: settings checks, error replies, outbound HTTP."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.utils.translation import gettext as _

from autocrm.communications.channels.base import SendError, WebhookReply
from autocrm.core.errors import ValidationFailed

# Outbound calls to providers: short, so a hung provider does not hold a worker.
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def require_text(
    settings: dict[str, Any], key: str, *, pattern: str | None = None, default: str | None = None
) -> str:
    value = settings.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(_("This setting is required."), field=f"settings.{key}")
    value = value.strip()
    if pattern and not re.fullmatch(pattern, value):
        raise ValidationFailed(_("This value has a wrong format."), field=f"settings.{key}")
    return value


def clean_url(settings: dict[str, Any], key: str, default: str) -> str:
    value = settings.get(key) or default
    if not isinstance(value, str):
        raise ValidationFailed(_("Enter a URL."), field=f"settings.{key}")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed(_("Enter an http(s) URL."), field=f"settings.{key}")
    return value.strip().rstrip("/")


def json_error(status: int, message: str, *, field: str | None = None) -> WebhookReply:
    error: dict[str, Any] = {"code": "invalid", "message": str(message)}
    if field:
        error["field"] = field
    return WebhookReply(
        status=status,
        body=json.dumps({"detail": str(message), "errors": [error]}, ensure_ascii=False),
        content_type="application/json",
    )


def send_json(
    method: str,
    url: str,
    payload: Any = None,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Call a provider's JSON API; network trouble, 429 and 5xx are retryable SendErrors."""
    try:
        response = httpx.request(
            method,
            url,
            json=payload if form is None else None,
            data=form,
            params=params,
            headers=headers,
            timeout=HTTP_TIMEOUT,
        )
    except httpx.HTTPError as error:
        raise SendError(f"{type(error).__name__}: {error}", retryable=True) from error
    if response.status_code == 429 or response.status_code >= 500:
        raise SendError(f"HTTP {response.status_code}: {response.text[:500]}", retryable=True)
    try:
        data = response.json()
    except ValueError:
        raise SendError(
            f"HTTP {response.status_code}: not JSON: {response.text[:200]}", retryable=False
        ) from None
    if response.status_code >= 400:
        raise SendError(f"HTTP {response.status_code}: {response.text[:500]}", retryable=False)
    if not isinstance(data, dict):
        raise SendError("unexpected answer", retryable=False)
    return data


# Media we download from a provider (a client's photo or document): bigger ones are refused.
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def fetch_bytes(
    url: str, *, headers: dict[str, str] | None = None, limit: int = MAX_ATTACHMENT_BYTES
) -> tuple[bytes, str]:
    """Download a provider's file: (content, content type). Network trouble, 429 and 5xx
    are retryable SendErrors; a file over ``limit`` bytes is refused for good."""
    too_big = SendError(f"the file is larger than {limit // (1024 * 1024)} MB", retryable=False)
    try:
        with httpx.stream("GET", url, headers=headers, timeout=HTTP_TIMEOUT) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise SendError(f"HTTP {response.status_code}", retryable=True)
            if response.status_code >= 400:
                raise SendError(
                    f"HTTP {response.status_code}: {response.read()[:500].decode(errors='replace')}",
                    retryable=False,
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_big
            chunks: list[bytes] = []
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > limit:
                    raise too_big
                chunks.append(chunk)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    except httpx.HTTPError as error:
        raise SendError(f"{type(error).__name__}: {error}", retryable=True) from error
    return b"".join(chunks), content_type
