"""A local stand-in for the E-Credit broker (docs/ecredit.md), plain stdlib.

The broker takes a credit application, forwards it to several banks and reports each
bank's decision later by a signed callback. This simulator does the same without any
bank: it answers the three API endpoints exactly as the protocol says and, a little
after accepting an application, "decides" for each configured bank deterministically
from the application data, so tests can assert exact amounts, rates and payments.

What it does:

- ``POST /api/v1/applications``: Bearer key (and ``X-Dealer-Login`` when a login is
  configured) → ``401``; required fields → ``422 {"error": "invalid", "field": ...}``;
  ``Idempotency-Key`` repeat (or the same ``external_id`` + ``version`` again) → ``200``
  with the first id and nothing new is sent to the banks; otherwise ``201``.
- ``POST /api/v1/applications/{id}/documents``: ``multipart/form-data`` with ``kind`` and
  ``file``; idempotent by ``Idempotency-Key`` as well.
- ``GET /api/v1/applications/{id}/decisions``: the decisions made so far (whether or not
  their callbacks got through: that is what polling is for).
- Callbacks: ``decision_delay`` seconds after an application is accepted, one signed POST
  per bank to its ``callback_url`` (``X-ECredit-Timestamp``, ``X-ECredit-Signature`` =
  ``sha256=HMAC(secret, "<ts>." + body)``), retried up to ``callback_attempts`` times on a
  non-2xx answer or a connection error.
- ``handle.send_callback(...)`` / ``handle.resend_last(...)``: one more, a tampered or a
  byte-for-byte repeated callback, synchronously (for the CRM's webhook tests).
- ``handle.fail_next(status, times)`` and ``handle.response_delay``: make the API answer
  an error or slowly, to test the client's retryable/non-retryable errors.
- ``GET /``: a page listing the applications, their documents and decisions.

Default banks (decisions derived from the application):

- ``sovcombank`` Совкомбанк: approved as asked, requires ``life_insurance``;
- ``alfabank`` Альфа-Банк: counter offer, 90 % of the amount (whole roubles, down), rate
  + 2.0, same term;
- ``tbank`` Т-Банк: declined when ``monthly_income`` < 100 000, else approved at rate
  + 1.0 with ``gap_insurance``.

Used in-process by the tests (``start(port=0, ...)``) and standalone by ``make run``::

    python -m simulators.ecredit --port 8083 --api-key KEY --callback-secret SECRET

It deliberately does not import ``autocrm``: the signing function is duplicated here so
the simulator checks the CRM's implementation instead of sharing its bugs.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import hashlib
import hmac
import html
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

API_PREFIX = "/api/v1"
DOCUMENT_KINDS = frozenset(
    {"passport", "signed_questionnaire", "income_statement", "driving_licence", "other"}
)
DECISION_STATUSES = frozenset({"approved", "declined", "counter_offer"})
# The rate a bank starts from when the application does not name one.
DEFAULT_RATE = Decimal("18.00")
OFFER_VALID_DAYS = 14
KOPECK = Decimal("0.01")
ROUBLE = Decimal("1")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``, as the protocol defines it."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def annuity_payment(amount: Decimal, rate: Decimal, term_months: int) -> Decimal:
    """The monthly annuity payment rounded half-up to kopecks once, at the end.

    Computed at 50 significant digits so the result matches the CRM's calculator to the
    kopeck (1 550 000 at 14.3 % for 36 months → 53 201.45).
    """
    with localcontext() as context:
        context.prec = 50
        if rate == 0:
            payment = amount / term_months
        else:
            monthly = rate / 1200
            factor = (1 + monthly) ** term_months
            payment = amount * monthly * factor / (factor - 1)
        return payment.quantize(KOPECK, rounding=ROUND_HALF_UP)


def _money(value: Decimal) -> str:
    return str(value.quantize(KOPECK, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Bank:
    """One bank's behaviour: how it answers every application.

    ``status`` is what it answers; ``declined_below_income`` turns an approval or a
    counter offer into a refusal for applicants earning less a month. The offered amount
    is the requested one times ``amount_factor`` (rounded down to whole roubles when the
    factor is not 1), the rate the requested one plus ``rate_delta``.
    """

    code: str
    name: str
    status: str = "approved"
    rate_delta: Decimal = Decimal("0")
    amount_factor: Decimal = Decimal("1")
    required_products: tuple[str, ...] = ()
    declined_below_income: Decimal | None = None
    comment: str = ""

    @classmethod
    def from_spec(cls, spec: Bank | Mapping[str, Any]) -> Bank:
        if isinstance(spec, Bank):
            return spec
        status = str(spec.get("status", "approved"))
        if status not in DECISION_STATUSES:
            raise ValueError(f"bank status must be one of {sorted(DECISION_STATUSES)}")
        income = spec.get("declined_below_income")
        return cls(
            code=str(spec["code"]),
            name=str(spec.get("name") or spec["code"]),
            status=status,
            rate_delta=Decimal(str(spec.get("rate_delta", "0"))),
            amount_factor=Decimal(str(spec.get("amount_factor", "1"))),
            required_products=tuple(spec.get("required_products") or ()),
            declined_below_income=None if income is None else Decimal(str(income)),
            comment=str(spec.get("comment") or ""),
        )

    def decide(self, application: dict[str, Any], today: datetime) -> dict[str, Any]:
        """The decision for ``application`` (without its id), deterministic."""
        credit = application.get("credit") or {}
        applicant = application.get("applicant") or {}
        requested = Decimal(str(credit["credit_amount"]))
        term = int(credit["term_months"])
        given_rate = credit.get("rate")
        rate = DEFAULT_RATE if given_rate in (None, "") else Decimal(str(given_rate))
        status = self.status
        comment = self.comment
        if status != "declined" and self.declined_below_income is not None:
            try:
                income = Decimal(str(applicant.get("monthly_income") or "0"))
            except InvalidOperation:
                income = Decimal("0")
            if income < self.declined_below_income:
                status = "declined"
                comment = "Отказ: недостаточный подтверждённый доход"
        decision: dict[str, Any] = {
            "bank": {"code": self.code, "name": self.name},
            "status": status,
        }
        if status == "declined":
            # No offer, so no amount, rate or payment; the term stays for reference.
            decision.update(
                {
                    "term_months": term,
                    "required_products": [],
                    "valid_until": _valid_until(today),
                    "comment": comment or "Отказ банка",
                }
            )
            return decision
        if self.amount_factor == 1:
            amount = requested.quantize(KOPECK, rounding=ROUND_HALF_UP)
        else:
            amount = (requested * self.amount_factor).quantize(ROUBLE, rounding=ROUND_DOWN)
        offered_rate = rate + self.rate_delta
        decision.update(
            {
                "amount": _money(amount),
                "rate": _money(offered_rate),
                "term_months": term,
                "monthly_payment": _money(annuity_payment(amount, offered_rate, term)),
                "required_products": list(self.required_products),
                "valid_until": _valid_until(today),
                "comment": comment
                or (
                    "Одобрено на запрошенных условиях"
                    if status == "approved"
                    else "Встречное предложение банка"
                ),
            }
        )
        return decision


def _valid_until(today: datetime) -> str:
    return (today.astimezone(UTC).date() + timedelta(days=OFFER_VALID_DAYS)).isoformat()


DEFAULT_BANKS: tuple[Bank, ...] = (
    Bank(
        code="sovcombank",
        name="Совкомбанк",
        status="approved",
        required_products=("life_insurance",),
    ),
    Bank(
        code="alfabank",
        name="Альфа-Банк",
        status="counter_offer",
        rate_delta=Decimal("2.0"),
        amount_factor=Decimal("0.9"),
        comment="Встречное предложение: 90 % суммы, ставка +2 п.п.",
    ),
    Bank(
        code="tbank",
        name="Т-Банк",
        status="approved",
        rate_delta=Decimal("1.0"),
        required_products=("gap_insurance",),
        declined_below_income=Decimal("100000"),
    ),
)


@dataclass
class Application:
    """An application as the broker received it (one per accepted version)."""

    id: str
    idempotency_key: str
    login: str
    external_id: str
    version: int | None
    callback_url: str | None
    payload: dict[str, Any]
    received_at: datetime
    # Answers to the same Idempotency-Key (or external_id + version) after the first.
    repeats: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Document:
    id: str
    application_id: str
    idempotency_key: str
    kind: str
    filename: str
    content_type: str
    content: bytes


@dataclass
class SentCallback:
    """One callback (one event) and every attempt to deliver it.

    ``status`` is the last attempt's HTTP status (0: no connection); ``body`` the exact
    bytes posted, the same on every attempt; ``timestamp``/``signature`` the last
    attempt's headers.
    """

    application_id: str
    payload: dict[str, Any]
    body: bytes
    url: str
    status: int
    answer: str
    attempts: list[int]
    timestamp: str
    signature: str

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


class _ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


@dataclass
class EcreditHandle:
    server: ThreadingHTTPServer
    thread: threading.Thread
    api_key: str
    callback_secret: str
    login: str | None = None
    banks: tuple[Bank, ...] = DEFAULT_BANKS
    decision_delay: float = 1.0
    callback_attempts: int = 3
    retry_delay: float = 0.2
    bank_interval: float = 0.0
    # Seconds each API answer waits (to make the client time out).
    response_delay: float = 0.0
    applications: list[Application] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    callbacks_sent: list[SentCallback] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _changed: threading.Condition = field(init=False)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)
    _by_key: dict[tuple[str, str], str] = field(default_factory=dict)
    _documents_by_key: dict[tuple[str, str], str] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self.lock)

    # --- addresses and lifecycle -------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def root_url(self) -> str:
        host = self.server.server_address[0]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API base URL a ``BrokerConnection.base_url`` points at."""
        return self.root_url + API_PREFIX

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; pending decisions and retries are abandoned, not waited out."""
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=timeout)
        deadline = time.monotonic() + timeout
        for worker in list(self._workers):
            worker.join(timeout=max(deadline - time.monotonic(), 0))

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every scheduled decision has been sent (or given up)."""
        deadline = time.monotonic() + timeout
        for worker in list(self._workers):
            worker.join(timeout=max(deadline - time.monotonic(), 0))

    def wait_for_callbacks(self, n: int, timeout: float = 10.0) -> list[SentCallback]:
        """Wait until ``n`` callbacks are finished (delivered or out of attempts)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.callbacks_sent) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(self.callbacks_sent)} of {n} callbacks after {timeout} s"
                    )
                self._changed.wait(remaining)
            return list(self.callbacks_sent)

    # --- test knobs ----------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` API requests with ``status`` (e.g. 503, 429)."""
        with self.lock:
            self._failures.extend([status] * times)

    def application(self, application_id: str) -> Application:
        with self.lock:
            for application in self.applications:
                if application.id == application_id:
                    return application
        raise KeyError(application_id)

    # --- callbacks -----------------------------------------------------------------------

    def send_callback(
        self,
        application_id: str,
        decision_overrides: Mapping[str, Any] | None = None,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        version: int | None = None,
        event_id: str | None = None,
        attempts: int = 1,
    ) -> int:
        """Make one more decision for ``application_id`` and post it now; the HTTP status.

        The decision is the one the bank named by ``decision_overrides["bank"]["code"]``
        (else the first bank) would make, with a new ``DEC-`` id unless the overrides
        give one, then ``decision_overrides`` on top. It is recorded (``GET decisions``
        shows it) even when ``secret`` signs it wrongly, because the broker did decide:
        only the delivery is broken. ``timestamp``/``version``/``event_id`` override the
        envelope (stale signatures, old versions, duplicate events).
        """
        application = self.application(application_id)
        overrides = dict(decision_overrides or {})
        bank = self._bank_for(overrides.get("bank"))
        decision = bank.decide(application.payload, datetime.now(tz=UTC))
        decision["id"] = self._next_id("DEC")
        decision.update(overrides)
        with self.lock:
            application.decisions = [d for d in application.decisions if d["id"] != decision["id"]]
            application.decisions.append(decision)
        sent = self._deliver(
            application,
            decision,
            secret=secret,
            timestamp=timestamp,
            version=version,
            event_id=event_id,
            attempts=attempts,
        )
        return sent.status

    def resend_last(self, application_id: str) -> int:
        """Post the last callback sent for ``application_id`` again, byte for byte.

        Same body, timestamp and signature: a replay, as when the broker did not see the
        CRM's first answer. Returns the HTTP status (0: no connection).
        """
        with self.lock:
            previous = [c for c in self.callbacks_sent if c.application_id == application_id]
        if not previous:
            raise KeyError(f"no callback sent for {application_id}")
        last = previous[-1]
        status, answer = _post(last.url, last.body, last.timestamp, last.signature)
        with self._changed:
            self.callbacks_sent.append(
                SentCallback(
                    application_id=application_id,
                    payload=last.payload,
                    body=last.body,
                    url=last.url,
                    status=status,
                    answer=answer,
                    attempts=[status],
                    timestamp=last.timestamp,
                    signature=last.signature,
                )
            )
            self._changed.notify_all()
        return status

    def _bank_for(self, spec: Any) -> Bank:
        code = spec.get("code") if isinstance(spec, Mapping) else None
        for bank in self.banks:
            if bank.code == code:
                return bank
        return self.banks[0] if self.banks else DEFAULT_BANKS[0]

    def _deliver(
        self,
        application: Application,
        decision: dict[str, Any],
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        version: int | None = None,
        event_id: str | None = None,
        attempts: int | None = None,
    ) -> SentCallback:
        payload = {
            "event_id": event_id or f"evt-{uuid.uuid4().hex}",
            "application_id": application.id,
            "external_id": application.external_id,
            "version": application.version if version is None else version,
            "decision": decision,
        }
        body = json.dumps(payload, ensure_ascii=False).encode()
        url = application.callback_url or ""
        statuses: list[int] = []
        status, answer, stamp, signature = 0, "no callback_url", "", ""
        total = self.callback_attempts if attempts is None else attempts
        for attempt in range(max(total, 1)):
            if attempt and self._stopping.wait(self.retry_delay):
                break
            if not url:
                break
            # Each attempt is signed afresh, so a retry after minutes is not "stale".
            stamp = str(int(time.time()) if timestamp is None else timestamp)
            signature = sign(self.callback_secret if secret is None else secret, stamp, body)
            status, answer = _post(url, body, stamp, signature)
            statuses.append(status)
            if 200 <= status < 300:
                break
        sent = SentCallback(
            application_id=application.id,
            payload=payload,
            body=body,
            url=url,
            status=status,
            answer=answer,
            attempts=statuses,
            timestamp=stamp,
            signature=signature,
        )
        with self._changed:
            self.callbacks_sent.append(sent)
            self._changed.notify_all()
        return sent

    def _decide_all(self, application: Application) -> None:
        # Like the real broker: the answer to the POST comes first, the banks later.
        if self._stopping.wait(self.decision_delay):
            return
        for index, bank in enumerate(self.banks):
            if index and self.bank_interval and self._stopping.wait(self.bank_interval):
                return
            decision = bank.decide(application.payload, datetime.now(tz=UTC))
            decision = {"id": self._next_id("DEC"), **decision}
            with self.lock:
                application.decisions.append(decision)
            if self._stopping.is_set():
                return
            self._deliver(application, decision)

    # --- API operations (called by the handler) --------------------------------------------

    def _next_id(self, prefix: str) -> str:
        with self.lock:
            number = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = number
        return f"{prefix}-{number:06d}"

    def _check_auth(self, authorization: str | None, login: str | None) -> None:
        expected = f"Bearer {self.api_key}".encode()
        given = (authorization or "").strip().encode("utf-8", "replace")
        ok = hmac.compare_digest(expected, given)
        if self.login is not None:
            given_login = (login or "").strip().encode("utf-8", "replace")
            ok = hmac.compare_digest(self.login.encode(), given_login) and ok
        if not ok:
            raise _ApiError(401, {"error": "unauthorized"})

    def _take_failure(self) -> int | None:
        with self.lock:
            return self._failures.pop(0) if self._failures else None

    def create_application(
        self, payload: Any, idempotency_key: str, login: str
    ) -> tuple[int, dict[str, Any]]:
        if not idempotency_key:
            raise _ApiError(400, {"error": "invalid", "field": "Idempotency-Key"})
        with self.lock:
            known = self._by_key.get((login, idempotency_key))
            if known is not None:
                application = self.application(known)
                application.repeats += 1
                return 200, {"id": application.id, "status": "accepted"}
        _validate_application(payload)
        external_id = str(payload.get("external_id") or "")
        version = payload.get("version")
        version = version if isinstance(version, int) and not isinstance(version, bool) else None
        with self.lock:
            # The same version under another key is still the same version: the broker
            # never sends one application version to the banks twice.
            for application in self.applications:
                if (
                    external_id
                    and version is not None
                    and application.login == login
                    and application.external_id == external_id
                    and application.version == version
                ):
                    application.repeats += 1
                    self._by_key[(login, idempotency_key)] = application.id
                    return 200, {"id": application.id, "status": "accepted"}
            application = Application(
                id=self._next_id("EC"),
                idempotency_key=idempotency_key,
                login=login,
                external_id=external_id,
                version=version,
                callback_url=str(payload.get("callback_url") or "") or None,
                payload=payload,
                received_at=datetime.now(tz=UTC),
            )
            self.applications.append(application)
            self._by_key[(login, idempotency_key)] = application.id
            worker = threading.Thread(target=self._decide_all, args=(application,), daemon=True)
            self._workers.append(worker)
        worker.start()
        return 201, {"id": application.id, "status": "accepted"}

    def add_document(
        self,
        application_id: str,
        content_type: str,
        body: bytes,
        idempotency_key: str,
        login: str,
    ) -> tuple[int, dict[str, Any]]:
        try:
            application = self.application(application_id)
        except KeyError:
            raise _ApiError(404, {"error": "not_found"}) from None
        if not idempotency_key:
            raise _ApiError(400, {"error": "invalid", "field": "Idempotency-Key"})
        with self.lock:
            known = self._documents_by_key.get((login, idempotency_key))
            if known is not None:
                return 200, {"id": known}
        fields, files = _parse_multipart(content_type, body)
        kind = fields.get("kind", "")
        if kind not in DOCUMENT_KINDS:
            raise _ApiError(422, {"error": "invalid", "field": "kind"})
        if "file" not in files:
            raise _ApiError(422, {"error": "invalid", "field": "file"})
        filename, file_type, content = files["file"]
        with self.lock:
            known = self._documents_by_key.get((login, idempotency_key))
            if known is not None:
                return 200, {"id": known}
            document = Document(
                id=self._next_id("ED"),
                application_id=application.id,
                idempotency_key=idempotency_key,
                kind=kind,
                filename=filename,
                content_type=file_type,
                content=content,
            )
            self.documents.append(document)
            self._documents_by_key[(login, idempotency_key)] = document.id
        return 201, {"id": document.id}

    def decisions_of(self, application_id: str) -> dict[str, Any]:
        try:
            application = self.application(application_id)
        except KeyError:
            raise _ApiError(404, {"error": "not_found"}) from None
        with self.lock:
            decisions = [json.loads(json.dumps(d)) for d in application.decisions]
        return {"id": application.id, "version": application.version, "decisions": decisions}


def _post(url: str, body: bytes, timestamp: str, signature: str) -> tuple[int, str]:
    """POST a callback; (status, answer text), status 0 when nothing answered."""
    if urlsplit(url).scheme not in ("http", "https"):
        return 0, f"not an http(s) URL: {url}"
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-ECredit-Timestamp": timestamp,
            "X-ECredit-Signature": signature,
            "User-Agent": "ECreditSimulator/1.0",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError as error:
        return 0, f"{type(error).__name__}: {error}"


def _field(payload: Mapping[str, Any], path: str) -> Any:
    section, _, name = path.partition(".")
    part = payload.get(section)
    return part.get(name) if isinstance(part, Mapping) else None


def _validate_application(payload: Any) -> None:
    """``422`` naming the first required field that is missing or unusable."""
    if not isinstance(payload, dict):
        raise _ApiError(422, {"error": "invalid", "field": "body"})

    def invalid(name: str) -> _ApiError:
        return _ApiError(422, {"error": "invalid", "field": name})

    amount = _field(payload, "credit.credit_amount")
    try:
        if isinstance(amount, bool) or amount is None or Decimal(str(amount)) <= 0:
            raise invalid("credit.credit_amount")
    except InvalidOperation:
        raise invalid("credit.credit_amount") from None
    term = _field(payload, "credit.term_months")
    if not isinstance(term, int) or isinstance(term, bool) or term <= 0:
        raise invalid("credit.term_months")
    rate = _field(payload, "credit.rate")
    if rate is not None:
        try:
            if isinstance(rate, bool) or not 0 <= Decimal(str(rate)) <= 100:
                raise invalid("credit.rate")
        except InvalidOperation:
            raise invalid("credit.rate") from None
    for name in ("applicant.last_name", "applicant.passport_number", "applicant.birth_date"):
        value = _field(payload, name)
        if not isinstance(value, str) or not value.strip():
            raise invalid(name)
    if _field(payload, "applicant.consent_personal_data") is not True:
        raise invalid("applicant.consent_personal_data")


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """Form fields and files of a ``multipart/form-data`` body (stdlib ``email``)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise _ApiError(415, {"error": "unsupported_media_type"})
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise _ApiError(400, {"error": "invalid", "field": "body"})
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        raw = part.get_payload(decode=True)
        content = raw if isinstance(raw, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = content.decode("utf-8", "replace")
        else:
            files[name] = (filename, part.get_content_type(), content)
    return fields, files


_APPLICATION_PATH = re.compile(rf"^{API_PREFIX}/applications/(?P<id>[^/]+)/(?P<what>\w+)/?$")


class _Handler(BaseHTTPRequestHandler):
    server_version = "ECreditSimulator/1.0"
    ecredit: EcreditHandle

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _api(self, method: str) -> None:
        handle = self.ecredit
        path = urlsplit(self.path).path
        body = self._body() if method == "POST" else b""
        if handle.response_delay:
            time.sleep(handle.response_delay)
        try:
            failure = handle._take_failure()
            if failure is not None:
                raise _ApiError(failure, {"error": "simulated failure"})
            handle._check_auth(
                self.headers.get("Authorization"), self.headers.get("X-Dealer-Login")
            )
            login = (self.headers.get("X-Dealer-Login") or "").strip()
            key = (self.headers.get("Idempotency-Key") or "").strip()
            match = _APPLICATION_PATH.match(path)
            if method == "POST" and path.rstrip("/") == f"{API_PREFIX}/applications":
                try:
                    payload = json.loads(body)
                except ValueError:
                    raise _ApiError(400, {"error": "invalid", "field": "body"}) from None
                status, answer = handle.create_application(payload, key, login)
            elif method == "POST" and match and match["what"] == "documents":
                status, answer = handle.add_document(
                    match["id"], self.headers.get("Content-Type") or "", body, key, login
                )
            elif method == "GET" and match and match["what"] == "decisions":
                status, answer = 200, handle.decisions_of(match["id"])
            else:
                raise _ApiError(404, {"error": "not_found"})
        except _ApiError as error:
            status, answer = error.status, error.body
        self._send(status, answer)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith(API_PREFIX + "/"):
            self._api("GET")
        elif path == "/":
            self._send(200, _page(self.ecredit).encode(), "text/html; charset=utf-8")
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        if urlsplit(self.path).path.startswith(API_PREFIX + "/"):
            self._api("POST")
        else:
            self._body()
            self._send(404, {"error": "not_found"})


def _page(handle: EcreditHandle) -> str:
    with handle.lock:
        applications = list(handle.applications)[::-1]
        documents = list(handle.documents)
        callbacks = list(handle.callbacks_sent)
    esc = html.escape
    sections = []
    for application in applications:
        payload = application.payload
        credit = payload.get("credit") or {}
        applicant = payload.get("applicant") or {}
        vehicle = payload.get("vehicle") or {}
        delivered = {
            c.payload["decision"].get("id"): c.status
            for c in callbacks
            if c.application_id == application.id
        }
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>".format(
                *(
                    esc(str(x))
                    for x in (
                        d.get("id"),
                        (d.get("bank") or {}).get("name"),
                        d.get("status"),
                        d.get("amount", "—"),
                        d.get("rate", "—"),
                        d.get("monthly_payment", "—"),
                        ", ".join(d.get("required_products") or []) or "—",
                        delivered.get(d.get("id"), "…"),
                    )
                )
            )
            for d in application.decisions
        )
        docs = "".join(
            f"<li>{esc(d.id)}: {esc(d.kind)} — {esc(d.filename)} ({len(d.content)} bytes)</li>"
            for d in documents
            if d.application_id == application.id
        )
        sections.append(
            f"""<section><h2>{esc(application.id)} · {esc(application.external_id)}
v{esc(str(application.version))}</h2>
<p>{esc(" ".join(str(applicant.get(k) or "") for k in ("last_name", "first_name", "patronymic")))}
· {esc(str(vehicle.get("make") or ""))} {esc(str(vehicle.get("model") or ""))}
· кредит / credit {esc(str(credit.get("credit_amount")))} ₽, {esc(str(credit.get("term_months")))} мес.,
{esc(str(credit.get("rate") or "—"))} % · повторов / repeats: {application.repeats}</p>
<p>Callback: <code>{esc(application.callback_url or "—")}</code></p>
<table><tr><th>decision</th><th>bank</th><th>status</th><th>amount</th><th>rate</th>
<th>payment</th><th>products</th><th>CRM answered</th></tr>{rows}</table>
<ul>{docs or "<li>документов нет / no documents</li>"}</ul></section>"""
        )
    banks = ", ".join(f"{esc(b.name)} ({esc(b.code)}: {esc(b.status)})" for b in handle.banks)
    return f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>E-Credit simulator</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .5rem}}
section{{border-top:1px solid #999;margin-top:1rem}}</style>
</head><body>
<h1>E-Credit — симулятор брокера / broker simulator</h1>
<p>API: <code>{esc(handle.url)}</code> · банки / banks: {banks}</p>
{"".join(sections) or "<p>Заявок пока нет / no applications yet.</p>"}
</body></html>"""


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str,
    login: str | None = None,
    callback_secret: str,
    banks: Iterable[Bank | Mapping[str, Any]] | None = None,
    decision_delay: float = 1.0,
    callback_attempts: int = 3,
    retry_delay: float = 0.2,
    bank_interval: float = 0.0,
) -> EcreditHandle:
    """Serve the broker on ``host:port`` (0: any free port) in a daemon thread.

    ``banks``: ``Bank`` objects or dicts ``{"code", "name", "status", "rate_delta",
    "amount_factor", "required_products", "declined_below_income", "comment"}``;
    the three default banks when ``None``. ``login``: when given, ``X-Dealer-Login`` must
    match as well as the key.
    """
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    handle = EcreditHandle(
        server=server,
        thread=thread,
        api_key=api_key,
        callback_secret=callback_secret,
        login=login,
        banks=DEFAULT_BANKS if banks is None else tuple(Bank.from_spec(b) for b in banks),
        decision_delay=decision_delay,
        callback_attempts=callback_attempts,
        retry_delay=retry_delay,
        bank_interval=bank_interval,
    )
    handler.ecredit = handle  # type: ignore[attr-defined]
    thread.start()
    return handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="E-Credit broker simulator for AutoCRM")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8083)
    parser.add_argument("--api-key", required=True, help="the connection's api_key")
    parser.add_argument("--callback-secret", required=True, help="the connection's secret")
    parser.add_argument("--login", default=None, help="require this X-Dealer-Login")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before decisions")
    parser.add_argument(
        "--bank-interval", type=float, default=0.0, help="seconds between banks' decisions"
    )
    args = parser.parse_args(argv)
    handle = start(
        args.host,
        args.port,
        api_key=args.api_key,
        login=args.login,
        callback_secret=args.callback_secret,
        decision_delay=args.delay,
        bank_interval=args.bank_interval,
    )
    print(f"E-Credit simulator: API {handle.url}  page {handle.root_url}/", flush=True)
    try:
        handle.thread.join()
    except KeyboardInterrupt:
        handle.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
