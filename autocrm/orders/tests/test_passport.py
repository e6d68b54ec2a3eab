"""The deal passport of a car: its lines and exact totals, which order it follows, and
the margins of many cars at once for reports."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from autocrm.finance import contributions
from autocrm.finance.models import OrderProduct
from autocrm.orders.models import OrderStatus
from autocrm.orders.passport import (
    Passport,
    deal_passport,
    passport_margins,
    register_passport_margin_source,
    unregister_passport_margin_source,
)
from autocrm.orders.services.orders import order_transition, order_update
from autocrm.orders.tests.documents_support import add_equipment, add_product, add_promotion
from autocrm.orders.tests.factories import order_world

pytestmark = pytest.mark.django_db


def lines_of(passport: Passport) -> list[tuple[str, str, Decimal]]:
    return [(line.kind, line.code, line.amount) for line in passport.lines]


def test_a_car_without_an_order_earns_its_price() -> None:
    world = order_world()
    passport = deal_passport(world.vehicle)
    assert passport.order is None
    assert lines_of(passport) == [
        ("info", "recommended_price", Decimal("1829900.00")),
        ("income", "sale_price", Decimal("1829900.00")),
        ("expense", "cost_price", Decimal("1500000.00")),
        ("expense", "transport_cost", Decimal("45000.00")),
        ("expense", "consignment_cost", Decimal("12000.00")),
    ]
    assert passport.income_total == Decimal("1829900.00")
    assert passport.expense_total == Decimal("1557000.00")
    assert passport.margin == Decimal("272900.00")


def test_an_order_with_equipment_promotion_and_a_product_changes_every_line() -> None:
    world = order_world()
    order = world.order()
    add_equipment(order, price="60000.00", cost="35000.00")
    add_promotion(order, discount="100000.00", bonus="50000.00")
    add_product(order, price="49900.00", commission="43146.00")
    order.refresh_from_db()
    assert order.total == Decimal("1839800.00")  # 1 829 900 + 60 000 + 49 900 − 100 000

    passport = deal_passport(world.vehicle)

    assert passport.order == order
    assert lines_of(passport) == [
        ("info", "recommended_price", Decimal("1829900.00")),
        ("income", "sale_price", Decimal("1829900.00")),
        ("income", "equipment_sale", Decimal("60000.00")),
        ("income", "importer_bonuses", Decimal("50000.00")),
        ("income", "product_commissions", Decimal("43146.00")),
        ("expense", "cost_price", Decimal("1500000.00")),
        ("expense", "transport_cost", Decimal("45000.00")),
        ("expense", "consignment_cost", Decimal("12000.00")),
        ("expense", "equipment_cost", Decimal("35000.00")),
        ("expense", "promotion_discounts", Decimal("100000.00")),
    ]
    assert passport.income_total == Decimal("1983046.00")
    assert passport.expense_total == Decimal("1692000.00")
    assert passport.margin == Decimal("291046.00")
    assert all(isinstance(line.amount, Decimal) for line in passport.lines)


def test_the_sale_price_follows_the_orders_price_and_kopecks_stay_exact() -> None:
    world = order_world()
    order = world.order()
    order_update(actor=world.manager, order=order, vehicle_price=Decimal("1799999.99"))
    add_equipment(order, price="10000.01", cost="3333.33")
    passport = deal_passport(world.vehicle)
    assert passport.income_total == Decimal("1810000.00")
    assert passport.expense_total == Decimal("1560333.33")
    assert passport.margin == Decimal("249666.67")


def test_a_cancelled_order_does_not_count_and_a_new_one_does() -> None:
    world = order_world()
    order = world.order()
    add_equipment(order)
    add_promotion(order)
    order_transition(actor=world.manager, order=order, to=OrderStatus.CANCELLED, reason="Передумал")

    passport = deal_passport(world.vehicle)
    assert passport.order is None
    assert passport.margin == Decimal("272900.00")

    second = world.order()
    order_update(actor=world.manager, order=second, vehicle_price=Decimal("1800000.00"))
    passport = deal_passport(world.vehicle)
    assert passport.order == second
    assert passport.income_total == Decimal("1800000.00")
    assert passport.margin == Decimal("243000.00")


def test_unknown_costs_are_left_out_and_a_loss_is_negative() -> None:
    world = order_world()
    unknown = world.another_car()
    passport = deal_passport(unknown)
    assert [line.code for line in passport.expense_lines] == []
    assert passport.expense_total == Decimal("0.00")
    assert passport.margin == Decimal("1829900.00")

    losing = world.another_car(cost_price=Decimal("1900000.00"), transport_cost=None)
    passport = deal_passport(losing)
    assert [line.code for line in passport.expense_lines] == ["cost_price"]
    assert passport.margin == Decimal("-70100.00")


def _finance_margins(pairs: Sequence[tuple[int, int | None]]) -> dict[int, Decimal]:
    """What finance should register: its commissions for many orders in one query."""
    vehicle_of = {order_id: vehicle_id for vehicle_id, order_id in pairs if order_id is not None}
    rows = (
        OrderProduct.objects.filter(order_id__in=vehicle_of)
        .values("order_id")
        .annotate(total=Sum("commission"))
        .order_by()
        .values_list("order_id", "total")
    )
    return {vehicle_of[order_id]: total for order_id, total in rows}


@pytest.fixture
def finance_in_bulk() -> Iterator[None]:
    register_passport_margin_source(contributions.passport_lines, _finance_margins)
    yield
    unregister_passport_margin_source(contributions.passport_lines)


def _cars_with_orders(count: int) -> list[int]:
    world = order_world()
    ids = []
    for number in range(count):
        car = (
            world.vehicle
            if number == 0
            else world.another_car(
                cost_price=Decimal("1500000.00"),
                transport_cost=Decimal("45000.00"),
                consignment_cost=Decimal("12000.00"),
            )
        )
        order = world.order(vehicle=car)
        add_equipment(order, name=f"Пакет {number}")
        add_promotion(order)
        add_product(order, name=f"Продукт {number}")
        ids.append(car.pk)
    return ids


def test_margins_of_many_cars_equal_their_passports() -> None:
    world = order_world()
    sold = world.order()
    add_equipment(sold)
    add_promotion(sold)
    add_product(sold)
    free = world.another_car(cost_price=Decimal("1700000.00"))
    cancelled_car = world.another_car(consignment_cost=Decimal("5000.00"))
    cancelled = world.order(vehicle=cancelled_car)
    add_equipment(cancelled, name="Зима")
    order_transition(actor=world.manager, order=cancelled, to=OrderStatus.CANCELLED, reason="—")
    cars = [world.vehicle, free, cancelled_car]

    margins = passport_margins([car.pk for car in cars] + [999_999_999])

    assert margins == {car.pk: deal_passport(car).margin for car in cars}
    assert margins[world.vehicle.pk] == Decimal("291046.00")
    assert margins[free.pk] == Decimal("129900.00")
    assert margins[cancelled_car.pk] == Decimal("1824900.00")
    assert passport_margins([]) == {}


@pytest.mark.usefixtures("finance_in_bulk")
def test_margins_take_the_same_number_of_queries_for_one_car_or_many() -> None:
    few = _cars_with_orders(1)
    many = _cars_with_orders(6)
    with CaptureQueriesContext(connection) as one_car:
        margins_one = passport_margins(few)
    with CaptureQueriesContext(connection) as six_cars:
        margins_six = passport_margins(many)
    assert len(six_cars) == len(one_car) == 5
    assert margins_one == {few[0]: Decimal("291046.00")}
    assert set(margins_six.values()) == {Decimal("291046.00")}
