"""Invoices of a sales order: numbering per issuer (also under concurrency), VAT, the date,
what may still be invoiced, cancelling, permissions and the order's totals."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from autocrm.accounts.tests.factories import UserFactory
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.orders.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Issuer,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    PaymentStatus,
)
from autocrm.orders.selectors_invoices import invoiceable_amount
from autocrm.orders.services.invoices import invoice_cancel, invoice_issue
from autocrm.orders.services.orders import order_transition
from autocrm.orders.tests.factories import SEED_PRICE, order_world
from autocrm.orders.tests.invoice_support import issue, pay, totals

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")


def test_numbers_run_per_issuer_in_the_seed_format() -> None:
    world = order_world()
    order = world.order()
    numbers = [issue(world, order, "10000.00").number for _ in range(3)]
    assert numbers == ["POC0000001", "POC0000002", "POC0000003"]
    world.issuer.refresh_from_db()
    assert world.issuer.next_number == 4


def test_two_issuers_have_independent_sequences() -> None:
    first = order_world()
    second = order_world(city_name="Архангельск")
    assert second.issuer.prefix == "P02"
    order_a, order_b = first.order(), second.order()
    a1 = issue(first, order_a, "1000.00").number
    b1 = issue(second, order_b, "1000.00").number
    a2 = issue(first, order_a, "1000.00").number
    assert (a1, b1, a2) == ("POC0000001", "P020000001", "POC0000002")


def test_the_sequence_continues_from_the_issuers_counter() -> None:
    world = order_world()
    Issuer.objects.filter(pk=world.issuer.pk).update(next_number=2235)
    invoice = issue(world, world.order(), "10000.00")
    assert invoice.number == "POC0002235"


def test_a_number_taken_already_is_skipped_not_duplicated() -> None:
    world = order_world()
    order = world.order()
    issue(world, order, "100.00")
    issue(world, order, "100.00")
    # Somebody set the counter back by hand: the next invoice must not reuse a number.
    Issuer.objects.filter(pk=world.issuer.pk).update(next_number=1)
    third = issue(world, order, "100.00")
    assert third.number == "POC0000003"
    world.issuer.refresh_from_db()
    assert world.issuer.next_number == 4


def test_vat_22_percent_is_included_in_the_amount() -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    assert (invoice.amount, invoice.vat_rate, invoice.vat_amount) == (
        Decimal("10000.00"),
        Decimal("22.00"),
        Decimal("1803.28"),
    )
    whole = issue(world, invoice.order, "1819900.00", kind=InvoiceKind.FINAL)
    # 1 819 900 × 22 / 122 = 328 178.6885… → 328 178.69
    assert whole.vat_amount == Decimal("328178.69")


def test_vat_rate_is_the_issuers_and_is_kept_when_the_rate_changes() -> None:
    world = order_world()
    Issuer.objects.filter(pk=world.issuer.pk).update(vat_rate=Decimal("20.00"))
    order = world.order()
    old = issue(world, order, "10000.00")
    assert (old.vat_rate, old.vat_amount) == (Decimal("20.00"), Decimal("1666.67"))
    Issuer.objects.filter(pk=world.issuer.pk).update(vat_rate=Decimal("0.00"))
    new = issue(world, order, "10000.00")
    assert (new.vat_rate, new.vat_amount) == (ZERO, ZERO)
    old.refresh_from_db()
    assert (old.vat_rate, old.vat_amount) == (Decimal("20.00"), Decimal("1666.67"))


def test_the_invoice_date_is_today_in_the_dealer_centers_time_zone(monkeypatch: Any) -> None:
    world = order_world()
    order = world.order()
    # 20:30 UTC on 10 March: still the 10th in Moscow, already the 11th in Vladivostok.
    moment = datetime(2024, 3, 10, 20, 30, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    assert issue(world, order, "100.00").issued_on == date(2024, 3, 10)
    world.dealer_center.time_zone = "Asia/Vladivostok"
    world.dealer_center.save()
    assert issue(world, order, "100.00").issued_on == date(2024, 3, 11)


def test_issuing_keeps_the_order_totals_current_and_writes_history() -> None:
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "10000.00")
    assert invoice.status == InvoiceStatus.ISSUED
    assert invoice.paid_amount == ZERO
    assert invoice.created_by == world.manager
    assert totals(order) == (
        SEED_PRICE,
        Decimal("10000.00"),
        ZERO,
        SEED_PRICE,
        PaymentStatus.UNPAID,
    )
    event = OrderEvent.objects.get(order=order, kind=OrderEventKind.INVOICE)
    assert (event.subject_id, event.to_value, event.amount, event.changed_by) == (
        invoice.pk,
        InvoiceStatus.ISSUED,
        Decimal("10000.00"),
        world.manager,
    )
    assert "POC0000001" in event.text


def test_no_more_than_the_order_is_worth_may_be_invoiced() -> None:
    world = order_world()
    order = world.order()
    with pytest.raises(Conflict) as refused:
        issue(world, order, "1829900.01")
    assert (refused.value.code, refused.value.field) == ("above_balance", "amount")
    assert Invoice.objects.count() == 0
    issue(world, order, "10000.00")
    assert invoiceable_amount(order) == Decimal("1819900.00")
    with pytest.raises(Conflict) as again:
        issue(world, order, "1819900.01", kind=InvoiceKind.FINAL)
    assert again.value.code == "above_balance"
    issue(world, order, "1819900.00", kind=InvoiceKind.FINAL)
    order.refresh_from_db()
    assert invoiceable_amount(order) == ZERO
    assert order.invoiced_total == SEED_PRICE
    assert Invoice.objects.count() == 2


def test_a_cancelled_invoice_frees_its_amount() -> None:
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "1829900.00", kind=InvoiceKind.FINAL)
    invoice_cancel(actor=world.manager, invoice=invoice, reason="Wrong amount")
    order.refresh_from_db()
    assert invoiceable_amount(order) == SEED_PRICE
    assert order.invoiced_total == ZERO
    assert issue(world, order, "1829900.00").number == "POC0000002"


def test_an_order_without_issuer_cannot_invoice() -> None:
    world = order_world()
    order = world.order()
    Order.objects.filter(pk=order.pk).update(issuer=None)
    order.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        issue(world, order, "10000.00")
    assert refused.value.code == "no_issuer"
    assert Invoice.objects.count() == 0


def test_a_closed_order_cannot_invoice() -> None:
    world = order_world()
    order = world.order()
    order_transition(actor=world.manager, order=order, to=OrderStatus.CANCELLED, reason="Gone")
    with pytest.raises(Conflict) as refused:
        issue(world, order, "10000.00")
    assert refused.value.code == "order_closed"
    assert Invoice.objects.count() == 0
    world.issuer.refresh_from_db()
    assert world.issuer.next_number == 1


@pytest.mark.parametrize(
    ("kind", "amount", "due_on", "field"),
    [
        ("reservation", "0", None, "amount"),
        ("reservation", "-5.00", None, "amount"),
        ("reservation", "100.005", None, "amount"),
        ("reservation", "NaN", None, "amount"),
        ("reservation", "abc", None, "amount"),
        ("gift", "100.00", None, "kind"),
        ("reservation", "100.00", date(2000, 1, 1), "due_on"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    kind: str, amount: str, due_on: date | None, field: str
) -> None:
    world = order_world()
    order = world.order()
    with pytest.raises(ValidationFailed) as refused:
        invoice_issue(actor=world.manager, order=order, kind=kind, amount=amount, due_on=due_on)
    assert refused.value.field == field
    assert Invoice.objects.count() == 0
    world.issuer.refresh_from_db()
    assert world.issuer.next_number == 1


def test_only_sellers_of_the_dealer_center_issue_invoices() -> None:
    world = order_world()
    order = world.order()
    service = UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    stranger = order_world(city_name="Тверь").manager
    for actor in (service, stranger, None):
        with pytest.raises(NotAllowed):
            invoice_issue(actor=actor, order=order, kind="reservation", amount=Decimal("100"))
    assert Invoice.objects.count() == 0
    # A head sells too.
    assert (
        invoice_issue(
            actor=world.head, order=order, kind="reservation", amount=Decimal("100")
        ).created_by
        == world.head
    )


def test_cancelling_needs_a_reason_and_an_unpaid_invoice() -> None:
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "10000.00")
    with pytest.raises(ValidationFailed) as no_reason:
        invoice_cancel(actor=world.manager, invoice=invoice, reason="  ")
    assert no_reason.value.field == "reason"
    pay(world, invoice, "1.00")
    with pytest.raises(Conflict) as paid:
        invoice_cancel(actor=world.manager, invoice=invoice, reason="Wrong")
    assert paid.value.code == "invoice_paid"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTLY_PAID

    other = issue(world, order, "500.00")
    cancelled = invoice_cancel(actor=world.manager, invoice=other, reason="Duplicate")
    assert cancelled.status == InvoiceStatus.CANCELLED
    assert cancelled.cancelled_at is not None
    event = OrderEvent.objects.filter(order=order, kind=OrderEventKind.INVOICE).first()
    assert event is not None
    assert (event.from_value, event.to_value) == (InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED)
    assert "Duplicate" in event.text
    with pytest.raises(TransitionNotAllowed):
        invoice_cancel(actor=world.manager, invoice=other, reason="Again")
    assert totals(order)[1] == Decimal("10000.00")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_invoices_get_twenty_distinct_numbers() -> None:
    if connection.vendor == "sqlite":
        pytest.skip(
            "Tried: on the test suite's shared-cache in-memory SQLite, 20 threads writing at "
            "once hang on table locks instead of racing; SQLite also has no row locks "
            "(SELECT FOR UPDATE is a no-op), so the race this test provokes is PostgreSQL's."
        )
    world = order_world()
    # Four orders of the same issuer, five invoices each, all at once: the issuer's row
    # lock must hand out every number once, whichever order asks.
    orders = [world.order()] + [world.order(vehicle=world.another_car()) for _ in range(3)]
    start = threading.Barrier(20)
    numbers: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work(order: Order) -> None:
        try:
            start.wait()
            invoice = invoice_issue(
                actor=world.manager, order=order, kind="reservation", amount=Decimal("10000.00")
            )
            with lock:
                numbers.append(invoice.number)
        except BaseException as error:  # reported below, with the thread's exception
            with lock:
                failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(orders[i % 4],)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sorted(numbers) == [f"POC{n:07d}" for n in range(1, 21)]
    assert Invoice.objects.values("number").distinct().count() == 20
    world.issuer.refresh_from_db()
    assert world.issuer.next_number == 21
    for order in orders:
        order.refresh_from_db()
        assert order.invoiced_total == Decimal("50000.00")
