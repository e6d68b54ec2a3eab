"""Sales orders: creation from a stock car, the car's hold, totals and the workflow."""

from __future__ import annotations

from decimal import Decimal

import pytest

from autocrm.clients.tests.factories import ClientFactory
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.inventory.models import Reservation, ReservationStatus
from autocrm.inventory.services import reservation_create
from autocrm.inventory.tests.factories import CarModelFactory
from autocrm.orders.models import (
    ImporterOrderStatus,
    OrderEvent,
    OrderKind,
    OrderStatus,
    PaymentStatus,
)
from autocrm.orders.services.orders import (
    importer_order_transition,
    order_create_importer,
    order_transition,
    order_update,
)
from autocrm.orders.tests.factories import SEED_PRICE, order_world

pytestmark = pytest.mark.django_db


def test_order_from_stock_reserves_the_car_and_starts_with_its_price() -> None:
    world = order_world()
    order = world.order()
    world.vehicle.refresh_from_db()
    assert order.kind == OrderKind.STOCK
    assert order.status == OrderStatus.DRAFT
    assert order.issuer == world.issuer
    assert order.dealer_center == world.dealer_center
    assert world.vehicle.reservation_status == ReservationStatus.RESERVED
    assert (order.vehicle_price, order.total, order.balance_due) == (SEED_PRICE,) * 3
    assert order.paid_total == Decimal("0.00")
    assert order.payment_status == PaymentStatus.UNPAID
    assert OrderEvent.objects.filter(order=order, to_value="draft").count() == 1


def test_a_car_held_by_another_order_cannot_be_ordered() -> None:
    world = order_world()
    world.order()
    other_client = ClientFactory.create(dealer_center=world.dealer_center)
    with pytest.raises(Conflict) as refused:
        world.order(client=other_client)
    assert refused.value.code == "vehicle_reserved"
    # Nor reserved in the stock module.
    with pytest.raises(Conflict):
        reservation_create(actor=world.manager, vehicle=world.vehicle, client=other_client)


def test_another_clients_reservation_blocks_and_the_clients_own_becomes_the_orders() -> None:
    world = order_world()
    other_client = ClientFactory.create(dealer_center=world.dealer_center)
    reservation_create(actor=world.manager, vehicle=world.vehicle, client=other_client)
    with pytest.raises(Conflict):
        world.order()
    car = world.another_car()
    reservation_create(actor=world.manager, vehicle=car, client=world.client)
    order = world.order(vehicle=car)
    assert not Reservation.objects.filter(vehicle=car, is_active=True).exists()
    car.refresh_from_db()
    assert car.reservation_status == ReservationStatus.RESERVED
    assert order.vehicle == car


def test_a_manager_of_another_dealer_center_cannot_order_the_car() -> None:
    world = order_world()
    stranger = order_world().manager
    with pytest.raises(NotAllowed):
        world.order(actor=stranger)


def test_cancel_needs_a_reason_and_frees_the_car() -> None:
    world = order_world()
    order = world.order()
    with pytest.raises(ValidationFailed) as refused:
        order_transition(actor=world.manager, order=order, to=OrderStatus.CANCELLED)
    assert refused.value.field == "reason"
    order = order_transition(
        actor=world.manager, order=order, to=OrderStatus.CANCELLED, reason="Client changed mind"
    )
    world.vehicle.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert world.vehicle.reservation_status == ReservationStatus.FREE
    # The car may be ordered again.
    assert world.order().status == OrderStatus.DRAFT


def test_transition_map_is_enforced_and_paid_needs_the_balance_settled() -> None:
    world = order_world()
    order = world.order()
    with pytest.raises(TransitionNotAllowed):
        order_transition(actor=world.manager, order=order, to=OrderStatus.DELIVERED)
    order = order_transition(actor=world.manager, order=order, to=OrderStatus.CONFIRMED)
    assert order.confirmed_at is not None
    with pytest.raises(Conflict) as refused:
        order_transition(actor=world.manager, order=order, to=OrderStatus.PAID)
    assert refused.value.code == "balance_due"


def test_price_edit_recalculates_and_closed_orders_are_frozen() -> None:
    world = order_world()
    order = world.order()
    order = order_update(actor=world.manager, order=order, vehicle_price=Decimal("1799900"))
    assert order.total == Decimal("1799900.00")
    assert order.balance_due == Decimal("1799900.00")
    with pytest.raises(ValidationFailed) as refused:
        order_update(actor=world.manager, order=order, vehicle_price=Decimal("-1"))
    assert refused.value.field == "vehicle_price"
    order_transition(actor=world.manager, order=order, to=OrderStatus.CANCELLED, reason="x")
    with pytest.raises(Conflict):
        order_update(actor=world.manager, order=order, comment="late")


def test_importer_order_goes_through_its_statuses_and_creates_the_car_on_arrival() -> None:
    world = order_world()
    model = CarModelFactory.create(make=world.make, name="Tiggo 8 Pro")
    order = order_create_importer(
        actor=world.manager,
        client=world.client,
        dealer_center=world.dealer_center,
        car_model=model,
        color="Серый",
        expected_price=Decimal("3100000"),
    )
    assert order.kind == OrderKind.IMPORTER
    assert order.vehicle is None
    assert order.total == Decimal("3100000.00")
    with pytest.raises(TransitionNotAllowed):
        importer_order_transition(actor=world.manager, order=order, to=ImporterOrderStatus.ARRIVED)
    for status in ("confirmed", "in_production", "shipped"):
        order = importer_order_transition(actor=world.manager, order=order, to=status)
    with pytest.raises(ValidationFailed) as refused:
        importer_order_transition(actor=world.manager, order=order, to="arrived")
    assert refused.value.field == "vin"
    order = importer_order_transition(
        actor=world.manager,
        order=order,
        to="arrived",
        arrival={"vin": "LVVDB21B1PD799999", "site": world.site, "city": world.city},
    )
    assert order.vehicle is not None
    assert order.vehicle.car_model == model
    assert order.vehicle.price == Decimal("3100000.00")
    assert order.vehicle.reservation_status == ReservationStatus.RESERVED
    assert order.importer_order.status == ImporterOrderStatus.ARRIVED


def test_only_a_head_takes_an_order_back_from_delivery() -> None:
    from django.utils import timezone

    from autocrm.orders.services.invoices import invoice_issue, payment_register

    world = order_world()
    order = order_transition(actor=world.manager, order=world.order(), to=OrderStatus.CONFIRMED)
    invoice = invoice_issue(actor=world.manager, order=order, kind="final", amount=SEED_PRICE)
    payment_register(
        actor=world.manager,
        invoice=invoice,
        amount=SEED_PRICE,
        paid_at=timezone.now(),
        idempotency_key="back-from-delivery",
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID  # by the payment
    order = order_transition(actor=world.manager, order=order, to=OrderStatus.READY)
    with pytest.raises(NotAllowed):
        order_transition(actor=world.manager, order=order, to=OrderStatus.PAID)
    order = order_transition(actor=world.head, order=order, to=OrderStatus.PAID)
    assert order.status == OrderStatus.PAID
