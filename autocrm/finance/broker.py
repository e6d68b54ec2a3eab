"""The E-Credit broker client (docs/ecredit.md): what AutoCRM sends, and callback checks.

No Django and no database here on purpose: the services decide *when* to talk to the
broker (in a task, with retries), this module only knows *how*. Every failure becomes a
``BrokerError`` whose ``retryable`` flag tells the task whether trying again later can
help (the broker was down, slow or overloaded) or cannot (the request itself is wrong:
bad credentials, a missing field), so the caller never has to interpret HTTP itself.

Requests are idempotent by ``Idempotency-Key``, so retrying a request whose answer was
lost is safe: the broker answers the first answer again and sends nothing twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx

# Statuses that say "not now" rather than "never": try again later.
_RETRYABLE_STATUSES = frozenset({408, 425, 429})


class BrokerError(Exception):
    """A broker request that did not succeed.

    ``reason`` is a readable one-line account for the submission's log and
    ``last_error`` ("the broker refused the field applicant.birth_date (HTTP 422)");
    ``code`` a short stable code for choosing behaviour or a message (``unauthorized``,
    ``invalid``, ``not_found``, ``rate_limited``, ``server_error``, ``timeout``,
    ``connection_error``, ``bad_response``, ``rejected``, ``settings``; ``error`` when
    unspecified);
    ``status`` the HTTP status when there was an answer; ``field`` the field the broker
    named in a ``422``.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        code: str = "error",
        status: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.code = code
        self.status = status
        self.field = field


def sign_callback(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-ECredit-Signature`` value: ``sha256=`` + hex HMAC of ``"<ts>.<body>"``.

    The timestamp is inside the MAC so a captured callback cannot be replayed later
    with a fresh timestamp.
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_callback(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float | None = None,
    max_age_seconds: int = 300,
) -> bool:
    """Whether a callback is really from the broker, and recent.

    Refuses a missing header, a non-numeric timestamp, one more than ``max_age_seconds``
    in the past (a replay) or in the future (a clock trick that would otherwise extend
    a captured callback's life), and any signature that does not match. The comparison is
    constant-time so the signature cannot be guessed byte by byte from response times.
    """
    if not secret or not timestamp or not signature:
        return False
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > max_age_seconds:
        return False
    expected = sign_callback(secret, timestamp, body).encode()
    given = signature.strip().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


def _json_default(value: Any) -> Any:
    # Money goes as decimal strings and dates as ISO strings, whatever the caller built.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class BrokerClient:
    """One broker connection's API client (``base_url``, ``login``, ``api_key``).

    A new HTTP connection per call: the calls are rare (a few per application) and run
    in background tasks, so nothing is gained by pooling and nothing leaks if the client
    is never closed.
    """

    def __init__(self, base_url: str, login: str, api_key: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.login = login
        self.api_key = api_key
        self.timeout = timeout

    def _headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "X-Dealer-Login": self.login,
            "Accept": "application/json",
            "User-Agent": "AutoCRM",
        }
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self.base_url + path
        for name, value in (("login", self.login), ("API key", self.api_key)):
            # Checked before connecting: a line break would let a value forge headers, and
            # non-ASCII cannot be sent at all; neither gets better on a retry.
            if not all(" " <= char <= "~" for char in value):
                raise BrokerError(
                    f"the broker connection's {name} has characters a header cannot carry",
                    retryable=False,
                    code="settings",
                )
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                response = client.request(method, url, **kwargs)
        except (
            httpx.InvalidURL,
            httpx.UnsupportedProtocol,
            httpx.LocalProtocolError,
            UnicodeEncodeError,
        ) as error:
            # The connection's settings cannot make a request at all (a base URL without
            # http(s), a key with letters a header cannot carry): retrying cannot help.
            raise BrokerError(
                f"the broker connection settings are not usable: {type(error).__name__}: {error}",
                retryable=False,
                code="settings",
            ) from error
        except httpx.TimeoutException as error:
            raise BrokerError(
                f"the broker did not answer within {self.timeout:g} s ({method} {path})",
                retryable=True,
                code="timeout",
            ) from error
        except httpx.HTTPError as error:
            # Connection refused, DNS, TLS, a dropped connection: the broker may be back.
            raise BrokerError(
                f"cannot reach the broker at {self.base_url}: {type(error).__name__}: {error}",
                retryable=True,
                code="connection_error",
            ) from error
        return _answer(response)

    def submit_application(self, payload: dict[str, Any], *, idempotency_key: str) -> str:
        """Send one application version; the broker's application id (``EC-...``).

        ``idempotency_key`` is ``autocrm-<application id>-v<version>``: repeating it after
        a lost answer returns the same id and the banks see the version only once.
        """
        body = json.dumps(payload, default=_json_default, ensure_ascii=False).encode()
        headers = {**self._headers(idempotency_key), "Content-Type": "application/json"}
        answer = self._request("POST", "/applications", content=body, headers=headers)
        return _id_of(answer)

    def attach_document(
        self,
        broker_id: str,
        *,
        kind: str,
        filename: str,
        content: bytes,
        content_type: str,
        idempotency_key: str,
    ) -> str:
        """Upload one document to a submitted application; the broker's document id."""
        answer = self._request(
            "POST",
            f"/applications/{_path_part(broker_id)}/documents",
            data={"kind": kind},
            files={"file": (filename, content, content_type)},
            headers=self._headers(idempotency_key),
        )
        return _id_of(answer)

    def get_decisions(self, broker_id: str) -> list[dict[str, Any]]:
        """The banks' decisions so far, as the callbacks carry them (for polling)."""
        answer = self._request(
            "GET", f"/applications/{_path_part(broker_id)}/decisions", headers=self._headers()
        )
        decisions = answer.get("decisions")
        if not isinstance(decisions, list) or not all(isinstance(d, dict) for d in decisions):
            raise BrokerError(
                "the broker's answer has no decisions list", retryable=True, code="bad_response"
            )
        return decisions


def _path_part(value: str) -> str:
    # Broker ids are ours to echo back; refuse anything that would change the path.
    if not value or "/" in value or value in {".", ".."} or "?" in value or "#" in value:
        raise BrokerError(f"not a broker id: {value!r}", retryable=False, code="invalid")
    return value


def _id_of(answer: dict[str, Any]) -> str:
    value = answer.get("id")
    if not isinstance(value, str) or not value:
        raise BrokerError("the broker's answer has no id", retryable=True, code="bad_response")
    return value


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a 2xx answer, or the ``BrokerError`` the status means."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if 200 <= status < 300:
        if not isinstance(body, dict):
            # Idempotency makes a retry safe, and a garbled answer is the broker's glitch.
            raise BrokerError(
                f"the broker's answer is not a JSON object (HTTP {status})",
                retryable=True,
                code="bad_response",
            )
        return body
    said = ""
    if isinstance(body, dict) and body.get("error"):
        said = f": {str(body['error'])[:200]}"
    raw_field = body.get("field") if isinstance(body, dict) else None
    field = raw_field[:200] if isinstance(raw_field, str) and raw_field else None
    if status >= 500:
        raise BrokerError(
            f"the broker failed (HTTP {status}{said})",
            retryable=True,
            code="server_error",
            status=status,
        )
    if status in _RETRYABLE_STATUSES:
        code = "rate_limited" if status == 429 else "timeout"
        raise BrokerError(
            f"the broker asks to try later (HTTP {status}{said})",
            retryable=True,
            code=code,
            status=status,
        )
    if status in (401, 403):
        raise BrokerError(
            f"the broker refused the login or API key (HTTP {status}{said})",
            retryable=False,
            code="unauthorized",
            status=status,
        )
    if status == 404:
        raise BrokerError(
            f"not found at the broker (HTTP {status}{said})",
            retryable=False,
            code="not_found",
            status=status,
        )
    if status in (400, 422):
        what = f"the field {field}" if field else "the request"
        raise BrokerError(
            f"the broker refused {what} (HTTP {status}{said})",
            retryable=False,
            code="invalid",
            status=status,
            field=field,
        )
    raise BrokerError(
        f"the broker refused the request (HTTP {status}{said})",
        retryable=False,
        code="rejected",
        status=status,
    )
