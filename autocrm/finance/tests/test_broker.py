"""The E-Credit client against the real broker simulator over HTTP (docs/ecredit.md).

No database: the client and the simulator are plain HTTP. Callbacks go to a tiny
receiver started here, which records the raw bytes and headers exactly as they arrived.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from autocrm.finance.broker import BrokerClient, BrokerError, sign_callback, verify_callback
from simulators import ecredit

API_KEY = "test-api-key"
LOGIN = "dealer-17"
SECRET = "test-callback-secret"


@dataclass
class Received:
    headers: Message  # case-insensitive, as the CRM's request.headers
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    # Statuses to answer, in order; 200 once they run out.
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ecredit/3/"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.received.append(Received(self.headers, body))
                status = state.statuses.pop(0) if state.statuses else 200
            data = json.dumps({"status": "accepted"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def broker() -> Iterator[ecredit.EcreditHandle]:
    handle = ecredit.start(
        api_key=API_KEY,
        login=LOGIN,
        callback_secret=SECRET,
        decision_delay=0.05,
        retry_delay=0.05,
    )
    yield handle
    handle.stop()


@pytest.fixture
def client(broker: ecredit.EcreditHandle) -> BrokerClient:
    return BrokerClient(broker.url, LOGIN, API_KEY, timeout=5.0)


def application(callback_url: str, **changes: Any) -> dict[str, Any]:
    """The protocol document's example application, with ``changes`` per section."""
    payload: dict[str, Any] = {
        "external_id": "autocrm-17",
        "version": 1,
        "callback_url": callback_url,
        "credit": {
            "order_amount": "1829900.00",
            "down_payment": "279900.00",
            "credit_amount": "1550000.00",
            "term_months": 36,
            "rate": "14.30",
            "casco": True,
        },
        "vehicle": {
            "make": "Chery",
            "model": "Tiggo 7 Pro",
            "year": 2024,
            "vin": "LVVDB21B0RD000001",
            "price": "1829900.00",
        },
        "applicant": {
            "last_name": "Иванов",
            "first_name": "Пётр",
            "patronymic": "Сергеевич",
            "birth_date": "1985-04-12",
            "birth_place": "г. Мурманск",
            "passport_number": "4510 123456",
            "passport_issued_by": "ОВД Ленинского района",
            "passport_issued_on": "2015-05-20",
            "passport_division_code": "770-001",
            "registration_address": "Мурманск, ул. Ленина, 1",
            "residence_address": "Мурманск, ул. Ленина, 1",
            "phone": "+79001234567",
            "email": "a@example.com",
            "employer": "ООО Ромашка",
            "position": "инженер",
            "employment_months": 48,
            "monthly_income": "150000.00",
            "marital_status": "married",
            "dependants": 1,
            "consent_personal_data": True,
            "consent_credit_history": True,
        },
    }
    for key, value in changes.items():
        if isinstance(value, dict):
            payload[key] = {**payload[key], **value}
        else:
            payload[key] = value
    return payload


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def valid_until() -> str:
    return (datetime.now(tz=UTC).date() + timedelta(days=14)).isoformat()


# --- submitting ---------------------------------------------------------------------------


def test_submit_returns_the_broker_id_and_a_repeat_creates_nothing(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    payload = application(receiver.url)
    assert client.submit_application(payload, idempotency_key="autocrm-17-v1") == "EC-000001"
    assert client.submit_application(payload, idempotency_key="autocrm-17-v1") == "EC-000001"
    # The same version under another key is still not sent to the banks again.
    assert client.submit_application(payload, idempotency_key="autocrm-17-v1-b") == "EC-000001"

    broker.wait_for_callbacks(3)
    time.sleep(0.3)  # a second round of callbacks would have started by now
    assert len(broker.applications) == 1
    stored = broker.applications[0]
    assert (stored.idempotency_key, stored.version, stored.external_id) == (
        "autocrm-17-v1",
        1,
        "autocrm-17",
    )
    assert stored.repeats == 2
    assert stored.login == LOGIN
    assert stored.payload == payload
    assert len(broker.callbacks_sent) == 3
    assert len(receiver.received) == 3


def test_a_new_version_is_a_new_broker_application(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    assert client.submit_application(application(receiver.url), idempotency_key="k-v1") == (
        "EC-000001"
    )
    second = application(receiver.url, version=2, credit={"credit_amount": "1000000.00"})
    assert client.submit_application(second, idempotency_key="k-v2") == "EC-000002"
    sent = broker.wait_for_callbacks(6)
    versions = sorted((c.payload["application_id"], c.payload["version"]) for c in sent)
    assert versions == [("EC-000001", 1)] * 3 + [("EC-000002", 2)] * 3


def test_the_exact_request_the_broker_receives(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    from decimal import Decimal

    payload = application(receiver.url)
    payload["credit"]["credit_amount"] = Decimal("1550000.00")  # serialised as a string
    client.submit_application(payload, idempotency_key="autocrm-17-v1")
    assert broker.applications[0].payload["credit"]["credit_amount"] == "1550000.00"


def test_wrong_api_key_or_login_is_not_retryable(
    broker: ecredit.EcreditHandle, receiver: Receiver
) -> None:
    for wrong in (
        BrokerClient(broker.url, LOGIN, "wrong-key"),
        BrokerClient(broker.url, "someone-else", API_KEY),
    ):
        with pytest.raises(BrokerError) as caught:
            wrong.submit_application(application(receiver.url), idempotency_key="k")
        assert caught.value.retryable is False
        assert caught.value.code == "unauthorized"
        assert caught.value.status == 401
        assert caught.value.reason == (
            "the broker refused the login or API key (HTTP 401: unauthorized)"
        )
    assert broker.applications == []


def test_connection_refused_is_retryable() -> None:
    client = BrokerClient(f"http://127.0.0.1:{closed_port()}/api/v1", LOGIN, API_KEY)
    with pytest.raises(BrokerError) as caught:
        client.submit_application(application("http://127.0.0.1:1/"), idempotency_key="k")
    assert caught.value.retryable is True
    assert caught.value.code == "connection_error"
    assert caught.value.status is None
    assert caught.value.reason.startswith("cannot reach the broker at http://127.0.0.1:")


@pytest.mark.parametrize(
    ("base_url", "api_key"),
    [
        ("ftp://127.0.0.1/api/v1", API_KEY),
        ("not a url", API_KEY),
        ("http://127.0.0.1:1/api/v1", "ключ"),
        ("http://127.0.0.1:1/api/v1", "key\r\nX-Injected: 1"),
    ],
)
def test_unusable_connection_settings_are_not_retryable(base_url: str, api_key: str) -> None:
    with pytest.raises(BrokerError) as caught:
        BrokerClient(base_url, LOGIN, api_key).get_decisions("EC-000001")
    assert (caught.value.code, caught.value.retryable) == ("settings", False)


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (500, "server_error", True),
        (503, "server_error", True),
        (429, "rate_limited", True),
        (400, "invalid", False),
        (409, "rejected", False),
    ],
)
def test_http_errors_are_classified(
    broker: ecredit.EcreditHandle,
    client: BrokerClient,
    receiver: Receiver,
    status: int,
    code: str,
    retryable: bool,
) -> None:
    broker.fail_next(status)
    with pytest.raises(BrokerError) as caught:
        client.submit_application(application(receiver.url), idempotency_key="k")
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (
        status,
        code,
        retryable,
    )
    # The retry (after the failure) goes through and is the one and only application.
    assert client.submit_application(application(receiver.url), idempotency_key="k") == (
        "EC-000001"
    )


def test_a_slow_broker_is_a_retryable_timeout(
    broker: ecredit.EcreditHandle, receiver: Receiver
) -> None:
    broker.response_delay = 0.5
    client = BrokerClient(broker.url, LOGIN, API_KEY, timeout=0.1)
    with pytest.raises(BrokerError) as caught:
        client.get_decisions("EC-000001")
    assert (caught.value.code, caught.value.retryable) == ("timeout", True)


@pytest.mark.parametrize(
    ("section", "name", "value"),
    [
        ("credit", "credit_amount", None),
        ("credit", "term_months", None),
        ("applicant", "last_name", ""),
        ("applicant", "passport_number", None),
        ("applicant", "birth_date", None),
        ("applicant", "consent_personal_data", False),
    ],
)
def test_a_missing_required_field_is_named_and_not_retryable(
    broker: ecredit.EcreditHandle,
    client: BrokerClient,
    receiver: Receiver,
    section: str,
    name: str,
    value: Any,
) -> None:
    payload = application(receiver.url)
    if value is None:
        del payload[section][name]
    else:
        payload[section][name] = value
    with pytest.raises(BrokerError) as caught:
        client.submit_application(payload, idempotency_key="k")
    assert caught.value.status == 422
    assert caught.value.code == "invalid"
    assert caught.value.field == f"{section}.{name}"
    assert caught.value.retryable is False
    assert str(caught.value) == f"the broker refused the field {section}.{name} (HTTP 422: invalid)"
    assert broker.applications == []


def test_a_request_without_idempotency_key_is_refused(broker: ecredit.EcreditHandle) -> None:
    response = httpx.post(
        broker.url + "/applications",
        json=application("http://127.0.0.1:1/"),
        headers={"Authorization": f"Bearer {API_KEY}", "X-Dealer-Login": LOGIN},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "field": "Idempotency-Key"}


# --- documents ----------------------------------------------------------------------------


def test_attach_document_arrives_intact_and_once(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    broker_id = client.submit_application(application(receiver.url), idempotency_key="k")
    content = b"%PDF-1.7\r\n" + bytes(range(256)) + b"\r\n--not-a-boundary\r\n\n\r"
    kwargs: dict[str, Any] = {
        "kind": "passport",
        "filename": "паспорт скан.pdf",
        "content": content,
        "content_type": "application/pdf",
        "idempotency_key": "autocrm-doc-5",
    }
    assert client.attach_document(broker_id, **kwargs) == "ED-000001"
    assert client.attach_document(broker_id, **kwargs) == "ED-000001"
    other = {**kwargs, "kind": "income_statement", "idempotency_key": "autocrm-doc-6"}
    assert client.attach_document(broker_id, **other) == "ED-000002"

    first = broker.documents[0]
    assert len(broker.documents) == 2
    assert (first.application_id, first.kind, first.filename, first.content_type) == (
        "EC-000001",
        "passport",
        "паспорт скан.pdf",
        "application/pdf",
    )
    assert first.content == content
    assert first.idempotency_key == "autocrm-doc-5"


def test_attach_document_refusals(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    document: dict[str, Any] = {
        "filename": "a.pdf",
        "content": b"x",
        "content_type": "application/pdf",
        "idempotency_key": "d",
    }
    with pytest.raises(BrokerError) as caught:
        client.attach_document("EC-999999", kind="passport", **document)
    assert (caught.value.code, caught.value.status, caught.value.retryable) == (
        "not_found",
        404,
        False,
    )
    broker_id = client.submit_application(application(receiver.url), idempotency_key="k")
    with pytest.raises(BrokerError) as caught:
        client.attach_document(broker_id, kind="selfie", **document)
    assert (caught.value.field, caught.value.retryable) == ("kind", False)
    with pytest.raises(BrokerError) as caught:
        client.attach_document("../applications", kind="passport", **document)
    assert (caught.value.code, caught.value.retryable) == ("invalid", False)
    assert broker.documents == []


# --- decisions and callbacks --------------------------------------------------------------


def test_callbacks_carry_signed_exact_decisions(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    broker_id = client.submit_application(
        application(receiver.url), idempotency_key="autocrm-17-v1"
    )
    sent = broker.wait_for_callbacks(3)
    assert [c.attempts for c in sent] == [[200], [200], [200]]
    assert len(receiver.received) == 3

    payloads = []
    for item in receiver.received:
        timestamp = item.headers["X-ECredit-Timestamp"]
        signature = item.headers["X-ECredit-Signature"]
        assert abs(int(timestamp) - time.time()) < 30
        assert verify_callback(SECRET, timestamp, signature, item.body) is True
        assert signature == sign_callback(SECRET, timestamp, item.body)
        payloads.append(json.loads(item.body))

    assert len({p["event_id"] for p in payloads}) == 3
    assert {(p["application_id"], p["external_id"], p["version"]) for p in payloads} == {
        (broker_id, "autocrm-17", 1)
    }
    decisions = [p["decision"] for p in payloads]
    until = valid_until()
    assert decisions == [
        {
            "id": "DEC-000001",
            "bank": {"code": "sovcombank", "name": "Совкомбанк"},
            "status": "approved",
            "amount": "1550000.00",
            "rate": "14.30",
            "term_months": 36,
            "monthly_payment": "53201.45",
            "required_products": ["life_insurance"],
            "valid_until": until,
            "comment": "Одобрено на запрошенных условиях",
        },
        {
            "id": "DEC-000002",
            "bank": {"code": "alfabank", "name": "Альфа-Банк"},
            "status": "counter_offer",
            "amount": "1395000.00",
            "rate": "16.30",
            "term_months": 36,
            "monthly_payment": "49250.93",
            "required_products": [],
            "valid_until": until,
            "comment": "Встречное предложение: 90 % суммы, ставка +2 п.п.",
        },
        {
            "id": "DEC-000003",
            "bank": {"code": "tbank", "name": "Т-Банк"},
            "status": "approved",
            "amount": "1550000.00",
            "rate": "15.30",
            "term_months": 36,
            "monthly_payment": "53959.25",
            "required_products": ["gap_insurance"],
            "valid_until": until,
            "comment": "Одобрено на запрошенных условиях",
        },
    ]
    # Polling answers the same decision objects.
    assert client.get_decisions(broker_id) == decisions


def test_low_income_is_declined_by_tbank_without_an_offer(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    payload = application(receiver.url, applicant={"monthly_income": "99999.99"})
    broker_id = client.submit_application(payload, idempotency_key="k")
    broker.wait_for_callbacks(3)
    tbank = client.get_decisions(broker_id)[2]
    assert tbank == {
        "id": "DEC-000003",
        "bank": {"code": "tbank", "name": "Т-Банк"},
        "status": "declined",
        "term_months": 36,
        "required_products": [],
        "valid_until": valid_until(),
        "comment": "Отказ: недостаточный подтверждённый доход",
    }


def test_get_decisions_before_the_banks_answer_and_for_unknown_ids(
    receiver: Receiver,
) -> None:
    slow = ecredit.start(api_key=API_KEY, callback_secret=SECRET, decision_delay=30)
    try:
        client = BrokerClient(slow.url, "any-login", API_KEY)
        broker_id = client.submit_application(application(receiver.url), idempotency_key="k")
        assert client.get_decisions(broker_id) == []
        with pytest.raises(BrokerError) as caught:
            client.get_decisions("EC-000404")
        assert (caught.value.code, caught.value.retryable) == ("not_found", False)
    finally:
        slow.stop(timeout=1)


def test_custom_banks_and_a_zero_rate(receiver: Receiver) -> None:
    handle = ecredit.start(
        api_key=API_KEY,
        callback_secret=SECRET,
        decision_delay=0,
        banks=[
            {"code": "zero", "name": "Ноль", "status": "approved"},
            {
                "code": "half",
                "name": "Половина",
                "status": "counter_offer",
                "amount_factor": "0.5",
                "rate_delta": "3.5",
                "required_products": ["casco"],
            },
            {"code": "no", "name": "Нет", "status": "declined"},
        ],
    )
    try:
        client = BrokerClient(handle.url, LOGIN, API_KEY)
        payload = application(receiver.url, credit={"credit_amount": "1000000.55", "rate": "0.00"})
        broker_id = client.submit_application(payload, idempotency_key="k")
        handle.wait_for_callbacks(3)
        zero, half, declined = client.get_decisions(broker_id)
        assert (zero["amount"], zero["rate"], zero["monthly_payment"]) == (
            "1000000.55",
            "0.00",
            "27777.79",
        )
        assert (half["amount"], half["rate"], half["required_products"]) == (
            "500000.00",
            "3.50",
            ["casco"],
        )
        assert half["monthly_payment"] == "14651.04"
        assert declined["status"] == "declined"
        assert "amount" not in declined
    finally:
        handle.stop()


def test_callbacks_are_retried_until_accepted(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]  # the first callback fails twice, then gets through
    client.submit_application(application(receiver.url), idempotency_key="k")
    sent = broker.wait_for_callbacks(3)
    assert [c.attempts for c in sent] == [[500, 503, 200], [200], [200]]
    assert len(receiver.received) == 5
    # Every attempt of one event is the same body, freshly signed.
    first_three = receiver.received[:3]
    assert len({r.body for r in first_three}) == 1
    for item in first_three:
        assert verify_callback(
            SECRET,
            item.headers["X-ECredit-Timestamp"],
            item.headers["X-ECredit-Signature"],
            item.body,
        )


def test_an_unreachable_crm_gets_three_attempts_and_polling_still_works(
    broker: ecredit.EcreditHandle, client: BrokerClient
) -> None:
    broker_id = client.submit_application(
        application(f"http://127.0.0.1:{closed_port()}/hooks/ecredit/3/"),
        idempotency_key="k",
    )
    sent = broker.wait_for_callbacks(3)
    assert [c.attempts for c in sent] == [[0, 0, 0]] * 3
    assert not any(c.delivered for c in sent)
    assert [d["id"] for d in client.get_decisions(broker_id)] == [
        "DEC-000001",
        "DEC-000002",
        "DEC-000003",
    ]


def test_send_callback_and_resend_last(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    broker_id = client.submit_application(application(receiver.url), idempotency_key="k")
    broker.wait_for_callbacks(3)

    status = broker.send_callback(
        broker_id, {"bank": {"code": "tbank", "name": "Т-Банк"}, "status": "declined"}
    )
    assert status == 200
    extra = json.loads(receiver.received[-1].body)
    assert extra["decision"]["id"] == "DEC-000004"
    assert extra["decision"]["status"] == "declined"
    assert extra["decision"]["bank"]["code"] == "tbank"
    assert client.get_decisions(broker_id)[-1] == extra["decision"]

    assert broker.resend_last(broker_id) == 200
    original, replay = receiver.received[-2], receiver.received[-1]
    assert replay.body == original.body
    assert replay.headers["X-ECredit-Signature"] == original.headers["X-ECredit-Signature"]
    assert replay.headers["X-ECredit-Timestamp"] == original.headers["X-ECredit-Timestamp"]

    assert broker.send_callback(broker_id, secret="not-the-secret") == 200  # receiver is lax
    forged = receiver.received[-1]
    args = (forged.headers["X-ECredit-Timestamp"], forged.headers["X-ECredit-Signature"])
    assert verify_callback(SECRET, *args, forged.body) is False
    assert verify_callback("not-the-secret", *args, forged.body) is True

    stale_at = int(time.time()) - 301
    broker.send_callback(broker_id, timestamp=stale_at, version=7, event_id="evt-fixed")
    stale = receiver.received[-1]
    assert stale.headers["X-ECredit-Timestamp"] == str(stale_at)
    assert json.loads(stale.body)["version"] == 7
    assert json.loads(stale.body)["event_id"] == "evt-fixed"
    assert (
        verify_callback(
            SECRET,
            stale.headers["X-ECredit-Timestamp"],
            stale.headers["X-ECredit-Signature"],
            stale.body,
        )
        is False
    )


def test_the_page_lists_applications_and_decisions(
    broker: ecredit.EcreditHandle, client: BrokerClient, receiver: Receiver
) -> None:
    client.submit_application(application(receiver.url), idempotency_key="k")
    broker.wait_for_callbacks(3)
    page = httpx.get(broker.root_url + "/")
    assert page.status_code == 200
    for text in ("EC-000001", "autocrm-17", "Иванов", "Совкомбанк", "Альфа-Банк", "1395000.00"):
        assert text in page.text


# --- signatures ---------------------------------------------------------------------------


def test_sign_callback_known_value() -> None:
    assert sign_callback("demo-secret", "1700000000", b'{"a":1}') == (
        "sha256=2a542428182237bed2081dc2d1eabcbd3e780f8750a0be7281a9f494d66be808"
    )
    # The simulator signs independently, the same way.
    assert ecredit.sign("demo-secret", "1700000000", b'{"a":1}') == sign_callback(
        "demo-secret", "1700000000", b'{"a":1}'
    )


def test_verify_callback_refusals() -> None:
    body = b'{"event_id": "evt-1"}'
    ts = "1700000000"
    good = sign_callback(SECRET, ts, body)
    now = 1700000000.0
    assert verify_callback(SECRET, ts, good, body, now=now) is True
    assert verify_callback(SECRET, ts, good, body, now=now + 300) is True
    assert verify_callback(SECRET, ts, good, body, now=now - 300) is True
    assert verify_callback("other-secret", ts, good, body, now=now) is False
    assert verify_callback(SECRET, ts, good, body + b" ", now=now) is False
    assert verify_callback(SECRET, ts, good, body, now=now + 301) is False  # stale
    assert verify_callback(SECRET, ts, good, body, now=now - 301) is False  # future
    assert verify_callback(SECRET, None, good, body, now=now) is False
    assert verify_callback(SECRET, ts, None, body, now=now) is False
    assert verify_callback(SECRET, "", good, body, now=now) is False
    assert verify_callback(SECRET, ts, "", body, now=now) is False
    assert verify_callback(SECRET, "17e8", good, body, now=now) is False
    assert verify_callback(SECRET, ts, good.removeprefix("sha256="), body, now=now) is False
    assert verify_callback(SECRET, ts, good + "ф", body, now=now) is False
    # A signature made for another timestamp does not move to this one.
    assert verify_callback(SECRET, "1700000001", good, body, now=now) is False
    assert verify_callback("", ts, sign_callback("", ts, body), body, now=now) is False
