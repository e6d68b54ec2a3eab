"""Financial products on a sales order: the seed's three products move the order's totals
exactly, the price and commission are kept as when added, duplicates and products no
longer sold are refused, removal, history, access, and the catalog's own rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from autocrm.accounts.tests.factories import UserFactory
from autocrm.core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from autocrm.finance import selectors, services
from autocrm.finance.models import FinancialProduct, OrderProduct, ProductKind
from autocrm.finance.tests.factories import seed_products
from autocrm.orders.extensions import external_passport_lines
from autocrm.orders.models import Order, OrderEvent, OrderEventKind, OrderStatus
from autocrm.orders.services.orders import order_transition, order_update
from autocrm.orders.tests.factories import order_world

pytestmark = pytest.mark.django_db


def test_the_seeds_three_products_move_the_orders_totals() -> None:
    world = order_world()
    products = seed_products()
    order = world.order()

    services.product_add(actor=world.manager, order=order, product=products.assistance)
    order.refresh_from_db()
    assert (order.products_total, order.total) == (Decimal("49900.00"), Decimal("1879800.00"))

    services.product_add(actor=world.manager, order=order, product=products.bank)
    line = services.product_add(actor=world.manager, order=order, product=products.legal)

    # 49 900 + 19 900 + 180 000 = 249 800; 1 829 900 + 249 800 = 2 079 700.
    order.refresh_from_db()
    assert order.products_total == Decimal("249800.00")
    assert order.total == Decimal("2079700.00")
    assert order.balance_due == Decimal("2079700.00")
    assert order.vehicle_price == Decimal("1829900.00")
    assert (line.order.total, line.order.products_total) == (order.total, order.products_total)
    assert order.version == 4  # created, then three changes


def test_mandatory_and_voluntary_products_are_kept_apart_with_their_snapshots() -> None:
    world = order_world()
    products = seed_products()
    order = world.order()
    for product in (products.legal, products.bank, products.assistance):
        services.product_add(actor=world.manager, order=order, product=product)

    split = selectors.order_products(order)

    assert [line.product.name for line in split.mandatory] == ["Продукты банка", "САР"]
    assert [line.product.name for line in split.voluntary] == ["Юр. помощь"]
    assert [(line.price, line.commission) for line in split.mandatory] == [
        (Decimal("19900.00"), Decimal("0.00")),
        (Decimal("49900.00"), Decimal("43146.00")),
    ]
    assert (split.voluntary[0].price, split.voluntary[0].commission) == (
        Decimal("180000.00"),
        Decimal("152000.00"),
    )
    assert split.price_total == Decimal("249800.00")
    assert split.commission_total == Decimal("195146.00")
    assert {line.added_by for line in split.lines} == {world.manager}


def test_a_later_catalog_price_does_not_change_a_sold_product() -> None:
    world = order_world()
    products = seed_products()
    order = world.order()
    services.product_add(actor=world.manager, order=order, product=products.assistance)

    services.product_update(
        actor=world.head, product=products.assistance, price=Decimal("59900"), commission=Decimal(0)
    )
    order = order_update(actor=world.manager, order=order, vehicle_price=Decimal("1800000"))

    assert order.products_total == Decimal("49900.00")
    assert order.total == Decimal("1849900.00")
    line = OrderProduct.objects.get(order=order)
    assert (line.price, line.commission) == (Decimal("49900.00"), Decimal("43146.00"))


def test_the_commissions_are_income_in_the_deal_passport() -> None:
    world = order_world()
    products = seed_products()
    order = world.order()
    assert external_passport_lines(world.vehicle, order) == []
    services.product_add(actor=world.manager, order=order, product=products.assistance)
    services.product_add(actor=world.manager, order=order, product=products.legal)

    [line] = external_passport_lines(world.vehicle, order)

    assert (line.kind, line.code, line.amount) == (
        "income",
        "product_commissions",
        Decimal("195146.00"),
    )


def test_a_product_is_added_once_and_only_while_it_is_sold() -> None:
    world = order_world()
    products = seed_products()
    order = world.order()
    services.product_add(actor=world.manager, order=order, product=products.bank)

    with pytest.raises(Conflict) as twice:
        services.product_add(actor=world.manager, order=order, product=products.bank)
    assert (twice.value.code, twice.value.field) == ("product_already_added", "product_id")

    FinancialProduct.objects.filter(pk=products.legal.pk).update(is_active=False)
    with pytest.raises(Conflict) as retired:
        services.product_add(actor=world.manager, order=order, product=products.legal)
    assert retired.value.code == "product_inactive"

    order.refresh_from_db()
    assert order.products_total == Decimal("19900.00")
    assert OrderProduct.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, kind=OrderEventKind.PRODUCT).count() == 1


def test_removal_brings_the_totals_back_and_is_recorded() -> None:
    world = order_world()
    products = seed_products()
    order = world.order()
    services.product_add(actor=world.manager, order=order, product=products.assistance)
    services.product_add(actor=world.manager, order=order, product=products.legal)

    order = services.product_remove(actor=world.manager, order=order, product=products.legal)

    assert (order.products_total, order.total) == (Decimal("49900.00"), Decimal("1879800.00"))
    events = OrderEvent.objects.filter(order=order, kind=OrderEventKind.PRODUCT).order_by("pk")
    assert [(e.to_value, e.text, e.amount, e.subject_id) for e in events] == [
        ("added", "САР", Decimal("49900.00"), products.assistance.pk),
        ("added", "Юр. помощь", Decimal("180000.00"), products.legal.pk),
        ("removed", "Юр. помощь", Decimal("180000.00"), products.legal.pk),
    ]
    assert {event.changed_by for event in events} == {world.manager}
    with pytest.raises(NotFound):
        services.product_remove(actor=world.manager, order=order, product=products.legal)


def test_closed_orders_and_other_people_cannot_change_products() -> None:
    world = order_world()
    products = seed_products()
    order = world.order()
    stranger = order_world().manager
    service = UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])

    with pytest.raises(NotAllowed):
        services.product_add(actor=stranger, order=order, product=products.bank)
    with pytest.raises(NotAllowed):
        services.product_add(actor=service, order=order, product=products.bank)
    order_transition(actor=world.manager, order=order, to=OrderStatus.CANCELLED, reason="x")
    with pytest.raises(Conflict) as closed:
        services.product_add(actor=world.manager, order=order, product=products.bank)
    assert closed.value.code == "order_closed"
    assert not OrderProduct.objects.exists()
    assert Order.objects.get(pk=order.pk).products_total == Decimal("0.00")


def test_a_products_price_is_due_even_when_the_car_costs_nothing() -> None:
    world = order_world()
    products = seed_products()
    order = world.order(vehicle=world.another_car(price=Decimal("0")))
    order = order_transition(actor=world.manager, order=order, to=OrderStatus.CONFIRMED)
    assert order.status == OrderStatus.CONFIRMED

    services.product_add(actor=world.manager, order=order, product=products.bank)

    order.refresh_from_db()
    assert (order.total, order.balance_due) == (Decimal("19900.00"), Decimal("19900.00"))
    assert order.payment_status == "unpaid"


# --- the catalog ------------------------------------------------------------------------------


def test_the_catalog_is_kept_by_heads_with_checked_fields() -> None:
    world = order_world()

    product = services.product_create(
        actor=world.head,
        name="  КАСКО  ",
        kind=ProductKind.INSURANCE,
        price=Decimal("85000.005"),
        commission=Decimal("17000"),
        term_months=12,
        counterparty="СК «Пример»",
    )

    assert (product.name, product.price, product.commission) == (
        "КАСКО",
        Decimal("85000.01"),
        Decimal("17000.00"),
    )
    with pytest.raises(NotAllowed):
        services.product_create(actor=world.manager, name="GAP", kind="insurance", price=1)
    with pytest.raises(Conflict) as duplicate:
        services.product_create(actor=world.head, name="каско", kind="insurance", price=1)
    assert (duplicate.value.code, duplicate.value.field) == ("duplicate_name", "name")
    for fields, field in (
        ({"name": "", "kind": "insurance", "price": 1}, "name"),
        ({"name": "X", "kind": "lottery", "price": 1}, "kind"),
        ({"name": "X", "kind": "other", "price": Decimal(-1)}, "price"),
        ({"name": "X", "kind": "other", "price": 1, "commission": Decimal(-1)}, "commission"),
        ({"name": "X", "kind": "other", "price": 1, "term_months": 601}, "term_months"),
        ({"name": "X" * 201, "kind": "other", "price": 1}, "name"),
        ({"name": "X\x00", "kind": "other", "price": 1}, "name"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            services.product_create(actor=world.head, **fields)
        assert refused.value.field == field
    assert FinancialProduct.objects.count() == 1

    retired = services.product_update(actor=world.head, product=product, is_active=False)
    assert not retired.is_active
    services.product_create(actor=world.head, name="КАСКО", kind="insurance", price=1)
    with pytest.raises(Conflict):
        services.product_update(actor=world.head, product=product, is_active=True)
