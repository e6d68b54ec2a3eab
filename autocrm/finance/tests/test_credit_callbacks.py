"""The broker's callbacks through the HTTP endpoint /hooks/ecredit/<connection id>/: the
signature, the answers, storing once, and applying the decision once (docs/ecredit.md);
the sweep for callbacks whose task was lost, and polling when callbacks cannot reach us."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from autocrm.accounts.tests.factories import DealerCenterFactory
from autocrm.finance.broker import sign_callback
from autocrm.finance.credit_services import (
    broker_callback_process,
    broker_submission_send,
    callbacks_due,
    credit_application_create,
    credit_application_submit,
    credit_questionnaire_save,
    decisions_poll,
)
from autocrm.finance.models import (
    Bank,
    BrokerCallback,
    BrokerConnection,
    BrokerSubmission,
    CreditApplication,
    CreditApplicationEvent,
    CreditOffer,
)
from autocrm.finance.tasks import sweep_broker_callbacks
from autocrm.finance.tests.credit_factories import (
    API_KEY,
    CALLBACK_SECRET,
    LOGIN,
    QUESTIONNAIRE,
    CreditWorld,
    credit_world,
)
from simulators import ecredit

pytestmark = pytest.mark.django_db

KOPECK = Decimal("0.01")


def annuity(amount: Decimal, rate: Decimal, term: int) -> Decimal:
    with localcontext() as context:
        context.prec = 60
        monthly = rate / Decimal(1200)
        factor = (1 + monthly) ** term
        return (amount * monthly * factor / (factor - 1)).quantize(KOPECK, ROUND_HALF_UP)


def submitted_application(cw: CreditWorld) -> CreditApplication:
    application = credit_application_create(
        actor=cw.world.manager,
        order=cw.world.order(),
        program=cw.standard,
        down_payment=Decimal("279900.00"),
        term_months=36,
    )
    credit_questionnaire_save(actor=cw.world.manager, application=application, data=QUESTIONNAIRE)
    return credit_application_submit(actor=cw.world.manager, application=application)


class Setup:
    def __init__(self) -> None:
        self.cw = credit_world()
        self.connection = self.cw.connection()
        self.application = submitted_application(self.cw)

    @property
    def path(self) -> str:
        return reverse("ecredit_callback", kwargs={"connection_id": self.connection.pk})


@pytest.fixture
def setup() -> Setup:
    return Setup()


def decision(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": "DEC-000001",
        "bank": {"code": "sovcombank", "name": "Совкомбанк"},
        "status": "approved",
        "amount": "1585000.00",
        "rate": "14.30",
        "term_months": 36,
        "monthly_payment": "54402.78",
        "required_products": ["life_insurance"],
        "valid_until": "2026-12-27",
        "comment": "Одобрено на запрошенных условиях",
    }
    value.update(overrides)
    return value


def envelope(
    application: CreditApplication, event_id: str = "evt-1", **decision_overrides: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "application_id": "EC-000001",
        "external_id": f"autocrm-{application.pk}",
        "version": application.version,
        "decision": decision(**decision_overrides),
    }


def post(
    client: Client,
    path: str,
    body: bytes | dict[str, Any],
    *,
    secret: str = CALLBACK_SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    if headers is None:
        headers = {
            "X-ECredit-Timestamp": stamp,
            "X-ECredit-Signature": sign_callback(secret, stamp, raw),
        }
    return client.post(path, data=raw, content_type="application/json", headers=headers)


def nothing_stored() -> None:
    assert BrokerCallback.objects.count() == 0
    assert CreditOffer.objects.count() == 0


# --- the endpoint -------------------------------------------------------------------------


def test_a_signed_callback_is_stored_and_its_decision_becomes_an_offer(
    client: Client, setup: Setup
) -> None:
    body = envelope(
        setup.application,
        bank={"code": "vtb", "name": "ВТБ"},
        amount="1500000.00",
        rate="13.50",
        term_months=48,
        monthly_payment="40613.03",
    )
    response = post(client, setup.path, body)

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    callback = BrokerCallback.objects.get()
    assert (callback.connection, callback.event_id, callback.payload) == (
        setup.connection,
        "evt-1",
        body,
    )
    assert (callback.processed_at, callback.attempts, callback.error) == (None, 0, "")
    assert not CreditOffer.objects.exists()  # applied by the task, not in the request

    broker_callback_process(callback_id=callback.pk)

    callback.refresh_from_db()
    assert callback.processed_at is not None
    assert (callback.attempts, callback.error) == (1, "")
    offer = CreditOffer.objects.select_related("bank").get()
    assert offer.application == setup.application
    assert (offer.decision_id, offer.version, offer.status) == ("DEC-000001", 1, "approved")
    assert (offer.amount, offer.rate, offer.term_months, offer.monthly_payment) == (
        Decimal("1500000.00"),
        Decimal("13.50"),
        48,
        Decimal("40613.03"),
    )
    assert offer.valid_until == datetime(2026, 12, 27).date()
    assert offer.comment == "Одобрено на запрошенных условиях"
    assert offer.required_product_codes == ["life_insurance"]
    assert list(offer.required_products.all()) == [setup.cw.life_insurance]
    # An unknown bank is created from the decision.
    assert (offer.bank.code, offer.bank.name) == ("vtb", "ВТБ")
    assert Bank.objects.filter(code="vtb").count() == 1
    event = CreditApplicationEvent.objects.filter(application=setup.application, kind="offer").get()
    assert (event.to_value, event.text) == ("approved", "ВТБ: 1 500 000.00 ₽, 13.50 %, 48")
    assert event.changed_by is None


def test_a_counter_offer_without_a_payment_gets_one_computed(client: Client, setup: Setup) -> None:
    body = envelope(
        setup.application,
        bank={"code": "alfabank", "name": "Альфа-Банк"},
        status="counter_offer",
        amount="1426500.00",
        rate="16.30",
        monthly_payment=None,
        required_products=[],
    )
    assert post(client, setup.path, body).status_code == 200
    broker_callback_process(callback_id=BrokerCallback.objects.get().pk)
    offer = CreditOffer.objects.get()
    assert offer.bank == setup.cw.alfabank
    assert offer.status == "counter_offer"
    assert offer.monthly_payment == annuity(Decimal("1426500"), Decimal("16.3"), 36)
    assert list(offer.required_products.all()) == []


def test_a_declined_decision_is_an_offer_without_money(client: Client, setup: Setup) -> None:
    body = envelope(
        setup.application,
        bank={"code": "tbank", "name": "Т-Банк"},
        status="declined",
        amount=None,
        rate=None,
        monthly_payment=None,
        required_products=[],
        comment="Отказ: недостаточный подтверждённый доход",
    )
    post(client, setup.path, body)
    broker_callback_process(callback_id=BrokerCallback.objects.get().pk)
    offer = CreditOffer.objects.select_related("bank").get()
    assert (offer.status, offer.amount, offer.rate, offer.monthly_payment) == (
        "declined",
        None,
        None,
        None,
    )
    assert offer.bank.name == "Т-Банк"


@pytest.mark.parametrize(
    "how",
    ["wrong_secret", "tampered_body", "stale", "future", "no_signature", "no_timestamp", "none"],
)
def test_a_callback_without_a_good_signature_is_refused_and_not_stored(
    client: Client, setup: Setup, how: str
) -> None:
    body = json.dumps(envelope(setup.application)).encode()
    now = int(time.time())
    signature = sign_callback(CALLBACK_SECRET, str(now), body)
    headers = {"X-ECredit-Timestamp": str(now), "X-ECredit-Signature": signature}
    if how == "wrong_secret":
        headers["X-ECredit-Signature"] = sign_callback("not-the-secret", str(now), body)
    elif how == "tampered_body":
        body = body.replace(b"1585000.00", b"9585000.00")
    elif how in ("stale", "future"):
        stamp = str(now - 301 if how == "stale" else now + 301)
        headers = {
            "X-ECredit-Timestamp": stamp,
            "X-ECredit-Signature": sign_callback(CALLBACK_SECRET, stamp, body),
        }
    elif how == "no_signature":
        del headers["X-ECredit-Signature"]
    elif how == "no_timestamp":
        del headers["X-ECredit-Timestamp"]
    else:
        headers = {}

    response = post(client, setup.path, body, headers=headers)

    assert response.status_code == 403
    assert response.json() == {"error": "bad_signature"}
    nothing_stored()


def test_a_timestamp_four_minutes_old_is_still_accepted(client: Client, setup: Setup) -> None:
    response = post(
        client, setup.path, envelope(setup.application), timestamp=int(time.time()) - 240
    )
    assert response.status_code == 200
    assert BrokerCallback.objects.count() == 1


def test_an_unknown_or_inactive_connection_is_404(client: Client, setup: Setup) -> None:
    path = reverse("ecredit_callback", kwargs={"connection_id": setup.connection.pk + 1000})
    response = post(client, path, envelope(setup.application))
    assert response.status_code == 404
    assert response.json() == {"error": "unknown_connection"}

    BrokerConnection.objects.filter(pk=setup.connection.pk).update(is_active=False)
    assert post(client, setup.path, envelope(setup.application)).status_code == 404
    nothing_stored()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json at all", "body"),
        (b"\xff\xfe not utf-8", "body"),
        (b"[1, 2, 3]", "body"),
        (json.dumps({"decision": decision()}).encode(), "event_id"),
        (json.dumps({"event_id": "  ", "decision": decision()}).encode(), "event_id"),
        (json.dumps({"event_id": 17, "decision": decision()}).encode(), "event_id"),
        (json.dumps({"event_id": "e" * 101, "decision": decision()}).encode(), "event_id"),
        (json.dumps({"event_id": "evt-1"}).encode(), "decision"),
        (json.dumps({"event_id": "evt-1", "decision": "approved"}).encode(), "decision"),
        (
            json.dumps({"event_id": "evt-1", "decision": decision(comment="a\x00b")}).encode(),
            "body",
        ),
    ],
)
def test_a_malformed_body_is_400_naming_the_field_and_not_stored(
    client: Client, setup: Setup, body: bytes, field: str
) -> None:
    response = post(client, setup.path, body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    nothing_stored()


def test_a_body_over_256_kib_is_413_and_not_stored(client: Client, setup: Setup) -> None:
    body = envelope(setup.application, comment="x" * (256 * 1024))
    response = post(client, setup.path, body)
    assert response.status_code == 413
    assert response.json() == {"error": "too_large"}
    nothing_stored()


def test_get_is_405(client: Client, setup: Setup) -> None:
    response = client.get(setup.path)
    assert response.status_code == 405
    assert response.json() == {"error": "method_not_allowed"}
    nothing_stored()


def test_the_same_callback_twice_is_stored_and_applied_once(client: Client, setup: Setup) -> None:
    body = json.dumps(envelope(setup.application), ensure_ascii=False).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-ECredit-Timestamp": stamp,
        "X-ECredit-Signature": sign_callback(CALLBACK_SECRET, stamp, body),
    }
    first = post(client, setup.path, body, headers=headers)
    second = post(client, setup.path, body, headers=headers)  # a byte-for-byte replay

    assert (first.status_code, first.json()) == (200, {"status": "accepted"})
    assert (second.status_code, second.json()) == (200, {"status": "duplicate"})
    callback = BrokerCallback.objects.get()
    broker_callback_process(callback_id=callback.pk)
    assert CreditOffer.objects.count() == 1


def test_two_events_with_the_same_decision_make_one_offer(client: Client, setup: Setup) -> None:
    post(client, setup.path, envelope(setup.application, event_id="evt-1"))
    post(client, setup.path, envelope(setup.application, event_id="evt-2", amount="1.00"))
    first, second = BrokerCallback.objects.order_by("pk")

    broker_callback_process(callback_id=first.pk)
    broker_callback_process(callback_id=second.pk)

    offer = CreditOffer.objects.get()
    assert offer.amount == Decimal("1585000.00")  # the first one's
    second.refresh_from_db()
    assert second.processed_at is not None
    assert second.error == ""
    assert CreditApplicationEvent.objects.filter(kind="offer").count() == 1


def test_processing_twice_does_nothing_twice(client: Client, setup: Setup) -> None:
    post(client, setup.path, envelope(setup.application))
    callback = BrokerCallback.objects.get()
    broker_callback_process(callback_id=callback.pk)
    callback.refresh_from_db()
    processed_at = callback.processed_at

    again = broker_callback_process(callback_id=callback.pk)

    assert (again.attempts, again.processed_at) == (1, processed_at)
    assert CreditOffer.objects.count() == 1
    assert CreditApplicationEvent.objects.filter(kind="offer").count() == 1


def test_a_callback_for_an_application_of_another_connection_is_rejected(
    client: Client, setup: Setup
) -> None:
    other = BrokerConnection.objects.create(
        dealer_center=DealerCenterFactory.create(),
        name="E-Credit, other dealer",
        base_url="http://127.0.0.1:9/api/v1",
        login="other-dealer",
        api_key="other-key",
        callback_secret="other-secret",
    )
    path = reverse("ecredit_callback", kwargs={"connection_id": other.pk})
    # Signed with the other connection's secret: the endpoint accepts it ...
    response = post(client, path, envelope(setup.application), secret="other-secret")
    assert response.status_code == 200
    callback = BrokerCallback.objects.get()
    assert callback.connection == other

    broker_callback_process(callback_id=callback.pk)

    # ... but our application was never sent through that connection.
    callback.refresh_from_db()
    assert callback.processed_at is not None
    assert callback.error == (
        f"no application autocrm-{setup.application.pk} sent through this connection"
    )
    assert not CreditOffer.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"status": "maybe"}, "unknown decision status 'maybe'"),
        ({"id": ""}, "decision without id"),
        ({"bank": {}}, "decision without bank"),
        ({"amount": None}, "an approval without amount, rate or term"),
        ({"amount": "-5"}, "an approval without amount, rate or term"),
        ({"term_months": "thirty-six"}, "malformed decision: "),
        ({"valid_until": "27.12.2026"}, "malformed decision: "),
        ({"rate": "NaN"}, "malformed decision: "),
        ({"rate": "150.00"}, "a rate or term out of range"),
        ({"term_months": 500}, "a rate or term out of range"),
        ({"amount": "1000000000000.00"}, "an amount too large"),
    ],
)
def test_a_malformed_decision_is_recorded_as_an_error_without_an_offer(
    client: Client, setup: Setup, overrides: dict[str, Any], error: str
) -> None:
    assert post(client, setup.path, envelope(setup.application, **overrides)).status_code == 200
    callback = BrokerCallback.objects.get()

    broker_callback_process(callback_id=callback.pk)

    callback.refresh_from_db()
    assert callback.processed_at is not None  # never retried: it cannot get better
    assert callback.attempts == 1
    assert callback.error.startswith(error)
    assert not CreditOffer.objects.exists()
    assert not Bank.objects.exclude(code__in=["sovcombank", "alfabank"]).exists()


def test_an_unknown_external_id_is_rejected(client: Client, setup: Setup) -> None:
    body = envelope(setup.application)
    body["external_id"] = "someone-else-17"
    post(client, setup.path, body)
    callback = broker_callback_process(callback_id=BrokerCallback.objects.get().pk)
    assert callback.error == "unknown external_id 'someone-else-17'"
    assert callback.processed_at is not None
    assert not CreditOffer.objects.exists()


def test_the_sweep_applies_a_stored_callback_older_than_a_minute(
    client: Client, setup: Setup
) -> None:
    post(client, setup.path, envelope(setup.application))
    callback = BrokerCallback.objects.get()
    assert callbacks_due() == []  # just received: its task may still run

    BrokerCallback.objects.filter(pk=callback.pk).update(
        received_at=timezone.now() - timedelta(seconds=61)
    )
    assert callbacks_due() == [callback.pk]

    assert sweep_broker_callbacks.call() == 1

    callback.refresh_from_db()
    assert callback.processed_at is not None
    assert CreditOffer.objects.count() == 1
    assert callbacks_due() == []
    assert sweep_broker_callbacks.call() == 0


# --- polling ------------------------------------------------------------------------------


@pytest.fixture
def broker(settings: Any) -> Iterator[Any]:
    # The callbacks cannot reach us: nothing listens on port 9.
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"
    handle = ecredit.start(
        api_key=API_KEY,
        login=LOGIN,
        callback_secret=CALLBACK_SECRET,
        decision_delay=0.05,
        callback_attempts=1,
    )
    try:
        yield handle
    finally:
        handle.stop()


def test_decisions_whose_callbacks_were_lost_are_polled(broker: Any) -> None:
    cw = credit_world()
    cw.connection(broker.url)
    application = submitted_application(cw)
    assert decisions_poll(application_id=application.pk) == 0  # not at the broker yet
    submission = BrokerSubmission.objects.get(application=application)
    broker_submission_send(submission_id=submission.pk)

    sent = broker.wait_for_callbacks(3)
    assert [callback.status for callback in sent] == [0, 0, 0]  # none got through
    assert not BrokerCallback.objects.exists()

    assert decisions_poll(application_id=application.pk) == 3
    assert decisions_poll(application_id=application.pk) == 0  # stored already
    callbacks = list(BrokerCallback.objects.order_by("pk"))
    assert [c.event_id for c in callbacks] == [
        "poll-DEC-000001",
        "poll-DEC-000002",
        "poll-DEC-000003",
    ]
    for callback in callbacks:
        broker_callback_process(callback_id=callback.pk)

    valid_until = (datetime.now(tz=UTC).date() + timedelta(days=14)).isoformat()
    offers = {
        offer.bank.code: (
            offer.status,
            offer.amount,
            offer.rate,
            offer.term_months,
            offer.monthly_payment,
            offer.required_product_codes,
            offer.valid_until.isoformat() if offer.valid_until else None,
            offer.version,
        )
        for offer in CreditOffer.objects.select_related("bank")
    }
    assert offers == {
        "sovcombank": (
            "approved",
            Decimal("1585000.00"),
            Decimal("14.30"),
            36,
            annuity(Decimal("1585000"), Decimal("14.3"), 36),
            ["life_insurance"],
            valid_until,
            1,
        ),
        "alfabank": (
            "counter_offer",
            Decimal("1426500.00"),  # 90 % of 1 585 000
            Decimal("16.30"),
            36,
            annuity(Decimal("1426500"), Decimal("16.3"), 36),
            [],
            valid_until,
            1,
        ),
        "tbank": (
            "approved",  # an income of 150 000 is enough
            Decimal("1585000.00"),
            Decimal("15.30"),
            36,
            annuity(Decimal("1585000"), Decimal("15.3"), 36),
            ["gap_insurance"],
            valid_until,
            1,
        ),
    }
    assert {bank.code: bank.name for bank in Bank.objects.all()} == {
        "sovcombank": "Совкомбанк",
        "alfabank": "Альфа-Банк",
        "tbank": "Т-Банк",
    }
