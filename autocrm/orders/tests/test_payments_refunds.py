"""Payments into invoices (idempotent, never above the invoice) and the refund procedure
(request with reason → head's approval → refunded, never more than was paid), with the
order's totals after each step."""

from __future__ import annotations

import threading
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from autocrm.accounts.tests.factories import UserFactory
from autocrm.communications.models import Notification, NotificationKind
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.orders.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from autocrm.orders.selectors_invoices import invoiceable_amount, refundable_amount
from autocrm.orders.services.invoices import (
    invoice_cancel,
    payment_record,
    payment_register,
    refund_approve,
    refund_complete,
    refund_reject,
    refund_request,
)
from autocrm.orders.services.orders import order_transition
from autocrm.orders.tests.factories import SEED_PRICE, order_world
from autocrm.orders.tests.invoice_support import issue, pay, refund_fully, totals

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def _refund_request(
    world: Any, invoice: Invoice, amount: str, reason: str = "Changed mind"
) -> Refund:
    return refund_request(
        actor=world.manager, invoice=invoice, amount=Decimal(amount), reason=reason
    )


# --------------------------------------------------------------------------- payments


def test_partial_payments_then_paid_with_the_order_totals_after_each() -> None:
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "10000.00")

    pay(world, invoice, "4000.00")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, invoice.paid_on) == (
        InvoiceStatus.PARTLY_PAID,
        Decimal("4000.00"),
        None,
    )
    assert invoice.outstanding == Decimal("6000.00")
    assert totals(order) == (
        SEED_PRICE,
        Decimal("10000.00"),
        Decimal("4000.00"),
        Decimal("1825900.00"),
        PaymentStatus.PARTLY_PAID,
    )

    pay(world, invoice, "6000.00")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount) == (InvoiceStatus.PAID, Decimal("10000.00"))
    assert invoice.paid_on == timezone.localtime(timezone.now(), MOSCOW).date()
    assert invoice.outstanding == ZERO
    assert totals(order) == (
        SEED_PRICE,
        Decimal("10000.00"),
        Decimal("10000.00"),
        Decimal("1819900.00"),
        PaymentStatus.PARTLY_PAID,
    )
    events = OrderEvent.objects.filter(order=order, kind=OrderEventKind.PAYMENT).order_by("pk")
    assert [(e.from_value, e.to_value, e.amount) for e in events] == [
        (InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID, Decimal("4000.00")),
        (InvoiceStatus.PARTLY_PAID, InvoiceStatus.PAID, Decimal("6000.00")),
    ]


def test_the_payment_date_is_the_day_of_the_payment_in_the_dealer_center() -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    # 23:30 Moscow time on 1 March is 20:30 UTC: the payment date is the 1st.
    paid_at = datetime(2024, 3, 1, 23, 30, tzinfo=MOSCOW)
    payment = payment_register(
        actor=world.manager,
        invoice=invoice,
        amount=Decimal("10000.00"),
        paid_at=paid_at,
        idempotency_key="bank-1",
    )
    invoice.refresh_from_db()
    assert invoice.paid_on == datetime(2024, 3, 1).date()
    assert payment.paid_at == paid_at


def test_a_time_without_offset_is_the_dealer_centers_local_time() -> None:
    world = order_world()
    world.dealer_center.time_zone = "Asia/Vladivostok"
    world.dealer_center.save()
    invoice = issue(world, world.order(), "10000.00")
    payment = payment_register(
        actor=world.manager,
        invoice=invoice,
        amount=Decimal("100.00"),
        paid_at=datetime(2024, 3, 1, 9, 0),
        idempotency_key="naive",
    )
    payment.refresh_from_db()
    assert payment.paid_at == datetime(
        2024, 3, 1, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Vladivostok")
    )


def test_the_same_idempotency_key_twice_records_one_payment() -> None:
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "10000.00")
    first = payment_record(
        actor=world.manager,
        invoice=invoice,
        amount=Decimal("10000.00"),
        paid_at=timezone.now(),
        idempotency_key="click-1",
    )
    before = totals(order)
    again = payment_record(
        actor=world.manager,
        invoice=invoice,
        amount=Decimal("10000.00"),
        paid_at=timezone.now(),
        idempotency_key="click-1",
    )
    assert (first.created, again.created) == (True, False)
    assert again.payment.pk == first.payment.pk
    assert Payment.objects.count() == 1
    assert (
        totals(order)
        == before
        == (
            SEED_PRICE,
            Decimal("10000.00"),
            Decimal("10000.00"),
            Decimal("1819900.00"),
            PaymentStatus.PARTLY_PAID,
        )
    )
    invoice.refresh_from_db()
    # The repeat came after the invoice was paid in full: it is not an overpayment.
    assert (invoice.paid_amount, invoice.status) == (Decimal("10000.00"), InvoiceStatus.PAID)
    assert OrderEvent.objects.filter(order=order, kind=OrderEventKind.PAYMENT).count() == 1


def test_an_idempotency_key_of_another_payment_is_refused() -> None:
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "10000.00")
    other = issue(world, order, "10000.00")
    pay(world, invoice, "1000.00", key="k-1")
    for target, amount in ((invoice, "1000.01"), (other, "1000.00")):
        with pytest.raises(Conflict) as refused:
            pay(world, target, amount, key="k-1")
        assert (refused.value.code, refused.value.field) == (
            "idempotency_key_reused",
            "idempotency_key",
        )
    assert Payment.objects.count() == 1
    assert totals(order)[2] == Decimal("1000.00")


def test_overpayment_is_refused_and_changes_nothing() -> None:
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "10000.00")
    with pytest.raises(Conflict) as refused:
        pay(world, invoice, "10000.01")
    assert (refused.value.code, refused.value.field) == ("overpayment", "amount")
    pay(world, invoice, "4000.00")
    with pytest.raises(Conflict) as again:
        pay(world, invoice, "6000.01")
    assert again.value.code == "overpayment"
    invoice.refresh_from_db()
    assert (invoice.paid_amount, invoice.status) == (Decimal("4000.00"), InvoiceStatus.PARTLY_PAID)
    assert Payment.objects.count() == 1
    assert totals(order)[2] == Decimal("4000.00")


def test_cancelled_and_refunded_invoices_take_no_payments() -> None:
    world = order_world()
    order = world.order()
    cancelled = issue(world, order, "1000.00")
    invoice_cancel(actor=world.manager, invoice=cancelled, reason="Wrong")
    with pytest.raises(Conflict) as refused:
        pay(world, cancelled, "1000.00")
    assert refused.value.code == "invoice_closed"

    partly = issue(world, order, "1000.00")
    pay(world, partly, "400.00")
    refund_fully(world, partly, "400.00")
    partly.refresh_from_db()
    assert partly.status == InvoiceStatus.REFUNDED
    with pytest.raises(Conflict) as closed:
        pay(world, partly, "600.00")
    assert closed.value.code == "invoice_closed"
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"paid_at": "future"}, "paid_at"),
        ({"paid_at": datetime(1999, 12, 31, tzinfo=MOSCOW)}, "paid_at"),
        ({"idempotency_key": "   "}, "idempotency_key"),
        ({"idempotency_key": "x" * 101}, "idempotency_key"),
        ({"method": "barter"}, "method"),
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("10.001")}, "amount"),
        ({"reference": "r" * 101}, "reference"),
    ],
)
def test_bad_payment_input_names_the_field(changes: dict[str, Any], field: str) -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    arguments: dict[str, Any] = {
        "actor": world.manager,
        "invoice": invoice,
        "amount": Decimal("100.00"),
        "paid_at": timezone.now(),
        "idempotency_key": "key",
    }
    arguments.update(changes)
    if arguments["paid_at"] == "future":
        arguments["paid_at"] = timezone.now() + timedelta(minutes=5)
    with pytest.raises(ValidationFailed) as refused:
        payment_register(**arguments)
    assert refused.value.field == field
    assert Payment.objects.count() == 0


def test_only_sellers_of_the_dealer_center_register_payments() -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    lawyer = UserFactory.create(roles=["lawyer"], dealer_centers=[world.dealer_center])
    stranger = order_world(city_name="Тверь").manager
    for actor in (lawyer, stranger):
        with pytest.raises(NotAllowed):
            payment_register(
                actor=actor,
                invoice=invoice,
                amount=Decimal("1.00"),
                paid_at=timezone.now(),
                idempotency_key=f"by-{actor.pk}",
            )
    assert Payment.objects.count() == 0


# --------------------------------------------------------------------------- refunds


def test_the_refund_procedure_with_the_order_totals_after_each_step() -> None:
    world = order_world()
    order = world.order()
    reservation = issue(world, order, "10000.00")
    pay(world, reservation, "10000.00")

    refund = _refund_request(world, reservation, "10000.00", "The client bought another car")
    assert (refund.status, refund.requested_by) == (RefundStatus.REQUESTED, world.manager)
    # Requested is not refunded: the money is still the client's payment.
    assert totals(order)[2:] == (
        Decimal("10000.00"),
        Decimal("1819900.00"),
        PaymentStatus.PARTLY_PAID,
    )
    reservation.refresh_from_db()
    assert (reservation.paid_amount, refundable_amount(reservation)) == (Decimal("10000.00"), ZERO)

    refund_approve(actor=world.head, refund=refund)
    refund.refresh_from_db()
    assert (refund.status, refund.decided_by) == (RefundStatus.APPROVED, world.head)
    assert refund.decided_at is not None
    assert totals(order)[2] == Decimal("10000.00")

    refund_complete(actor=world.head, refund=refund)
    refund.refresh_from_db()
    reservation.refresh_from_db()
    assert refund.status == RefundStatus.REFUNDED
    assert refund.refunded_at is not None
    assert (reservation.status, reservation.paid_amount, reservation.refunded_amount) == (
        InvoiceStatus.REFUNDED,
        Decimal("10000.00"),
        Decimal("10000.00"),
    )
    assert totals(order) == (SEED_PRICE, ZERO, ZERO, SEED_PRICE, PaymentStatus.UNPAID)
    # The refunded invoice asks for nothing any more: the whole car may be invoiced again.
    assert invoiceable_amount(order) == SEED_PRICE
    steps = OrderEvent.objects.filter(order=order, kind=OrderEventKind.REFUND).order_by("pk")
    assert [(e.from_value, e.to_value, e.amount) for e in steps] == [
        ("", RefundStatus.REQUESTED, Decimal("10000.00")),
        (RefundStatus.REQUESTED, RefundStatus.APPROVED, Decimal("10000.00")),
        (RefundStatus.APPROVED, RefundStatus.REFUNDED, Decimal("10000.00")),
    ]
    # Nothing paid any more: the order may now be cancelled.
    order_transition(actor=world.manager, order=order, to=OrderStatus.CANCELLED, reason="Lost")


def test_a_partial_refund_keeps_the_invoice_paid_and_lowers_what_was_paid() -> None:
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "10000.00")
    pay(world, invoice, "10000.00")
    refund_fully(world, invoice, "2500.50")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.refunded_amount, invoice.net_paid) == (
        InvoiceStatus.PAID,
        Decimal("2500.50"),
        Decimal("7499.50"),
    )
    assert totals(order) == (
        SEED_PRICE,
        Decimal("10000.00"),
        Decimal("7499.50"),
        Decimal("1822400.50"),
        PaymentStatus.PARTLY_PAID,
    )
    # What was refunded may be invoiced again.
    assert invoiceable_amount(order) == Decimal("1822400.50")
    assert refundable_amount(invoice) == Decimal("7499.50")


def test_the_whole_order_paid_then_a_refund_takes_it_back_from_paid() -> None:
    world = order_world()
    order = world.order()
    order_transition(actor=world.manager, order=order, to=OrderStatus.CONFIRMED)
    reservation = issue(world, order, "10000.00")
    pay(world, reservation, "10000.00")
    final = issue(world, order, "1819900.00", kind=InvoiceKind.FINAL)
    pay(world, final, "1819900.00")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert totals(order) == (SEED_PRICE, SEED_PRICE, SEED_PRICE, ZERO, PaymentStatus.PAID)

    refund_fully(world, final, "100000.00")
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED  # a balance is due again
    assert totals(order) == (
        SEED_PRICE,
        SEED_PRICE,
        Decimal("1729900.00"),
        Decimal("100000.00"),
        PaymentStatus.PARTLY_PAID,
    )


def test_refunds_never_exceed_what_was_paid_counting_pending_requests() -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    pay(world, invoice, "10000.00")
    first = _refund_request(world, invoice, "6000.00")
    with pytest.raises(Conflict) as refused:
        _refund_request(world, invoice, "5000.00")
    assert (refused.value.code, refused.value.field) == ("above_paid", "amount")
    second = _refund_request(world, invoice, "4000.00")
    with pytest.raises(Conflict):
        _refund_request(world, invoice, "0.01")
    assert Refund.objects.count() == 2
    invoice.refresh_from_db()
    assert (invoice.paid_amount, refundable_amount(invoice)) == (Decimal("10000.00"), ZERO)

    # A rejected request frees its amount, an approved one does not.
    refund_reject(actor=world.head, refund=second, comment="Not agreed with the client")
    refund_approve(actor=world.head, refund=first)
    assert refundable_amount(invoice) == Decimal("4000.00")
    with pytest.raises(Conflict):
        _refund_request(world, invoice, "4000.01")
    _refund_request(world, invoice, "4000.00")
    assert refundable_amount(invoice) == ZERO


def test_only_what_was_paid_of_a_partly_paid_invoice_may_be_refunded() -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    with pytest.raises(Conflict) as unpaid:
        _refund_request(world, invoice, "1.00")
    assert unpaid.value.code == "not_paid"
    pay(world, invoice, "3000.00")
    with pytest.raises(Conflict) as above:
        _refund_request(world, invoice, "3000.01")
    assert above.value.code == "above_paid"
    refund_fully(world, invoice, "3000.00")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, invoice.refunded_amount) == (
        InvoiceStatus.REFUNDED,
        Decimal("3000.00"),
        Decimal("3000.00"),
    )


def test_approval_rechecks_the_limit_against_approved_refunds() -> None:
    # Two requests that together exceed the payment cannot come from refund_request;
    # written directly they stand for a race the approval must still catch.
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    pay(world, invoice, "10000.00")
    one = Refund.objects.create(invoice=invoice, amount=Decimal("7000.00"), reason="a")
    two = Refund.objects.create(invoice=invoice, amount=Decimal("7000.00"), reason="b")
    refund_approve(actor=world.head, refund=one)
    with pytest.raises(Conflict) as refused:
        refund_approve(actor=world.head, refund=two)
    assert refused.value.code == "above_paid"
    two.refresh_from_db()
    assert two.status == RefundStatus.REQUESTED


def test_a_reason_is_required_to_request_and_a_comment_to_reject() -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    pay(world, invoice, "10000.00")
    with pytest.raises(ValidationFailed) as no_reason:
        _refund_request(world, invoice, "100.00", reason="   ")
    assert no_reason.value.field == "reason"
    refund = _refund_request(world, invoice, "100.00")
    with pytest.raises(ValidationFailed) as no_comment:
        refund_reject(actor=world.head, refund=refund, comment="")
    assert no_comment.value.field == "comment"
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REQUESTED


def test_only_a_head_of_the_dealer_center_approves_rejects_and_completes() -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    pay(world, invoice, "10000.00")
    refund = _refund_request(world, invoice, "1000.00")
    other_head = order_world(city_name="Тверь").head
    for actor in (world.manager, other_head):
        with pytest.raises(NotAllowed):
            refund_approve(actor=actor, refund=refund)
        with pytest.raises(NotAllowed):
            refund_reject(actor=actor, refund=refund, comment="No")
        with pytest.raises(NotAllowed):
            refund_complete(actor=actor, refund=refund)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REQUESTED
    management = UserFactory.create(roles=["management"])
    refund_approve(actor=management, refund=refund)
    refund.refresh_from_db()
    assert (refund.status, refund.decided_by) == (RefundStatus.APPROVED, management)


def test_the_refund_workflow_refuses_moves_out_of_order() -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    pay(world, invoice, "10000.00")
    refund = _refund_request(world, invoice, "1000.00")
    with pytest.raises(TransitionNotAllowed):
        refund_complete(actor=world.head, refund=refund)
    refund_approve(actor=world.head, refund=refund)
    with pytest.raises(TransitionNotAllowed):
        refund_approve(actor=world.head, refund=refund)
    with pytest.raises(TransitionNotAllowed):
        refund_reject(actor=world.head, refund=refund, comment="Too late")
    refund_complete(actor=world.head, refund=refund)
    with pytest.raises(TransitionNotAllowed):
        refund_complete(actor=world.head, refund=refund)
    invoice.refresh_from_db()
    assert invoice.refunded_amount == Decimal("1000.00")


def test_heads_are_told_of_a_request_and_the_requester_of_the_decision() -> None:
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    pay(world, invoice, "10000.00")
    refund = _refund_request(world, invoice, "1500.00", reason="Defect found")
    to_head = Notification.objects.get(user=world.head)
    assert to_head.kind == NotificationKind.ESCALATION
    assert "1\u00a0500,00" in to_head.text
    assert invoice.number in to_head.text
    assert "Defect found" in to_head.text
    assert to_head.url == "/orders/refunds/"
    assert not Notification.objects.filter(user=world.manager).exists()

    refund_approve(actor=world.head, refund=refund)
    approved = Notification.objects.get(user=world.manager)
    assert invoice.number in approved.text
    assert approved.url.endswith(f"/orders/{invoice.order_id}/#invoices")

    second = _refund_request(world, invoice, "100.00")
    refund_reject(actor=world.head, refund=second, comment="Only by bank transfer")
    rejected = Notification.objects.filter(user=world.manager).order_by("-pk").first()
    assert rejected is not None
    assert "Only by bank transfer" in rejected.text


# --------------------------------------------------------------------------- concurrency


def _skip_on_sqlite() -> None:
    if connection.vendor == "sqlite":
        pytest.skip(
            "Tried: on the test suite's shared-cache in-memory SQLite, threads writing at "
            "once hang on table locks instead of racing; SQLite also has no row locks "
            "(SELECT FOR UPDATE is a no-op), so the race this test provokes is PostgreSQL's."
        )


def _race(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at once; their results or errors."""
    start = threading.Barrier(count)
    results: list[Any] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            start.wait()
            result: Any = work(index)
        except Exception as error:
            result = error
        finally:
            connections.close_all()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_with_one_key_record_one_payment() -> None:
    _skip_on_sqlite()
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "10000.00")

    results = _race(
        10,
        lambda i: payment_record(
            actor=world.manager,
            invoice=invoice,
            amount=Decimal("10000.00"),
            paid_at=timezone.now(),
            idempotency_key="double-click",
        ),
    )

    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.created for r in results) == [False] * 9 + [True]
    assert len({r.payment.pk for r in results}) == 1
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert (invoice.paid_amount, invoice.status) == (Decimal("10000.00"), InvoiceStatus.PAID)
    assert totals(order)[2] == Decimal("10000.00")


@pytest.mark.django_db(transaction=True)
def test_concurrent_refund_requests_never_ask_for_more_than_was_paid() -> None:
    _skip_on_sqlite()
    world = order_world()
    invoice = issue(world, world.order(), "10000.00")
    pay(world, invoice, "10000.00")

    results = _race(10, lambda i: _refund_request(world, invoice, "6000.00"))

    assert sum(isinstance(r, Refund) for r in results) == 1
    assert all(
        isinstance(r, Conflict) and r.code == "above_paid"
        for r in results
        if not isinstance(r, Refund)
    )
    assert Refund.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_never_refund_more_than_was_paid() -> None:
    _skip_on_sqlite()
    world = order_world()
    order = world.order()
    invoice = issue(world, order, "10000.00")
    pay(world, invoice, "10000.00")
    heads = [world.head] + [
        UserFactory.create(roles=["head"], dealer_centers=[world.dealer_center]) for _ in range(3)
    ]
    # Requests that together exceed the payment (see the approval recheck test above).
    refunds = [
        Refund.objects.create(invoice=invoice, amount=Decimal("6000.00"), reason=f"r{i}")
        for i in range(4)
    ]

    results = _race(4, lambda i: refund_approve(actor=heads[i], refund=refunds[i]))

    approved = [r for r in results if isinstance(r, Refund)]
    assert len(approved) == 1
    assert all(
        isinstance(r, Conflict) and r.code == "above_paid" for r in results if r not in approved
    )
    assert Refund.objects.filter(status=RefundStatus.APPROVED).count() == 1
    refund_complete(actor=world.head, refund=approved[0])
    invoice.refresh_from_db()
    assert (invoice.paid_amount, invoice.refunded_amount) == (
        Decimal("10000.00"),
        Decimal("6000.00"),
    )
    assert totals(order)[2] == Decimal("4000.00")


@pytest.mark.django_db(transaction=True)
def test_one_key_raced_on_two_orders_records_one_payment() -> None:
    # Two orders do not share a lock: the key's unique index decides, and the losers find
    # the winner's payment (a replay on its invoice, a 409 on the other).
    _skip_on_sqlite()
    world = order_world()
    invoices = [
        issue(world, world.order(), "10000.00"),
        issue(world, world.order(vehicle=world.another_car()), "10000.00"),
    ]

    results = _race(
        10,
        lambda i: payment_record(
            actor=world.manager,
            invoice=invoices[i % 2],
            amount=Decimal("10000.00"),
            paid_at=timezone.now(),
            idempotency_key="shared-key",
        ),
    )

    assert Payment.objects.count() == 1
    payment = Payment.objects.get()
    outcomes = [r for r in results if not isinstance(r, Exception)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert [r.created for r in outcomes].count(True) == 1
    assert {r.payment.pk for r in outcomes} == {payment.pk}
    assert len(outcomes) == 5
    assert len(errors) == 5
    assert all(isinstance(e, Conflict) and e.code == "idempotency_key_reused" for e in errors)
    paid = {invoice.pk: Invoice.objects.get(pk=invoice.pk).paid_amount for invoice in invoices}
    assert sorted(paid.values()) == [ZERO, Decimal("10000.00")]
    assert paid[payment.invoice_id] == Decimal("10000.00")
