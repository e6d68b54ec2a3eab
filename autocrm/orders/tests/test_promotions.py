"""Promotions (Акции): matching an order's car by make/model/trim/city/date (today in the
dealer center's time zone), applying and removing them with exact totals, the refusals
with their reasons, and the logisticians' catalog."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from autocrm.accounts.models import Brand
from autocrm.accounts.tests.factories import CityFactory, UserFactory
from autocrm.core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from autocrm.inventory.tests.factories import CarModelFactory, TrimFactory
from autocrm.orders.models import (
    OrderEvent,
    OrderEventKind,
    OrderPromotion,
    OrderStatus,
    Promotion,
)
from autocrm.orders.selectors_catalog import (
    dealer_center_today,
    promotion_list,
    promotions_available,
)
from autocrm.orders.services.catalog import (
    promotion_apply,
    promotion_create,
    promotion_remove,
    promotion_update,
)
from autocrm.orders.services.orders import order_create_importer, order_transition, order_update
from autocrm.orders.tests.factories import SEED_PRICE, OrderWorld, order_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # The reasons are asserted by their English words, whatever Russian they get later.
    with translation.override("en"):
        yield


def make_promotion(world: OrderWorld, name: str, **fields: Any) -> Promotion:
    today = dealer_center_today(world.dealer_center)
    fields.setdefault("valid_from", today - timedelta(days=10))
    fields.setdefault("valid_to", today + timedelta(days=10))
    if "discount_percent" not in fields:
        fields.setdefault("discount_amount", Decimal("50000.00"))
    return promotion_create(actor=None, name=name, **fields)


def names(promotions: Any) -> set[str]:
    return {promotion.name for promotion in promotions}


def totals(order: Any) -> tuple[Decimal, Decimal, Decimal]:
    order.refresh_from_db()
    return order.discount_total, order.total, order.balance_due


def at(moment: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


# --- matching --------------------------------------------------------------------------


def test_an_order_offers_exactly_the_promotions_valid_for_its_car_city_and_date() -> None:
    world = order_world()
    today = dealer_center_today(world.dealer_center)
    haval = Brand.objects.create(name="Haval", code="haval")
    tiggo_4 = CarModelFactory.create(make=world.make, name="Tiggo 4")
    prestige = TrimFactory.create(car_model=world.car_model, name="Prestige")
    moscow = CityFactory.create(name="Москва")
    make_promotion(world, "Every car")
    make_promotion(world, "Chery", make=world.make)
    make_promotion(world, "Tiggo 7 Pro Max", car_model=world.car_model)
    make_promotion(world, "Ultimate", trim=world.trim)
    make_promotion(world, "Murmansk", make=world.make, cities=["Мурманск"])
    make_promotion(world, "Moscow or Murmansk", cities=[moscow, world.city])
    make_promotion(world, "Only today", valid_from=today, valid_to=today)
    make_promotion(world, "Prestige", trim=prestige)
    make_promotion(world, "Haval", make=haval)
    make_promotion(world, "Tiggo 4", car_model=tiggo_4)
    make_promotion(world, "Moscow", make=world.make, cities=["Москва"])
    make_promotion(
        world,
        "Expired",
        make=world.make,
        valid_from=today - timedelta(days=30),
        valid_to=today - timedelta(days=1),
    )
    make_promotion(world, "Next week", valid_from=today + timedelta(days=7))
    make_promotion(world, "Switched off", is_active=False)
    order = world.order()

    offered = promotions_available(order)

    assert names(offered) == {
        "Every car",
        "Chery",
        "Tiggo 7 Pro Max",
        "Ultimate",
        "Murmansk",
        "Moscow or Murmansk",
        "Only today",
    }
    assert offered.count() == 7  # no row twice for a promotion of two cities


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("Prestige", "promotion_other_trim", "trim Prestige"),
        ("Haval", "promotion_other_make", "make Haval"),
        ("Tiggo 4", "promotion_other_model", "model Chery Tiggo 4"),
        ("Moscow", "promotion_other_city", "only in Москва, not in Мурманск"),
        ("Expired", "promotion_expired", "ended on"),
        ("Next week", "promotion_not_yet_valid", "valid only from"),
        ("Switched off", "promotion_inactive", "not active"),
    ],
)
def test_applying_a_promotion_that_does_not_fit_is_refused_saying_why(
    name: str, code: str, words: str
) -> None:
    world = order_world()
    today = dealer_center_today(world.dealer_center)
    haval = Brand.objects.create(name="Haval", code="haval")
    cases = {
        "Prestige": {"trim": TrimFactory.create(car_model=world.car_model, name="Prestige")},
        "Haval": {"make": haval},
        "Tiggo 4": {"car_model": CarModelFactory.create(make=world.make, name="Tiggo 4")},
        "Moscow": {"cities": [CityFactory.create(name="Москва")]},
        "Expired": {
            "valid_from": today - timedelta(days=30),
            "valid_to": today - timedelta(days=1),
        },
        "Next week": {"valid_from": today + timedelta(days=7)},
        "Switched off": {"is_active": False},
    }
    promotion = make_promotion(world, name, **cases[name])
    order = world.order()

    with pytest.raises(Conflict) as refused:
        promotion_apply(actor=world.manager, order=order, promotion=promotion)

    assert refused.value.code == code
    assert refused.value.field == "promotion_id"
    assert words in refused.value.message
    assert name in refused.value.message
    assert totals(order) == (Decimal("0.00"), SEED_PRICE, SEED_PRICE)
    assert not OrderPromotion.objects.exists()
    assert not OrderEvent.objects.filter(kind=OrderEventKind.PROMOTION).exists()


def test_the_last_day_counts_in_the_dealer_centers_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 10 March 2026, 18:30 in Moscow is already 01:30 on 11 March in Vladivostok.
    at(datetime(2026, 3, 10, 15, 30, tzinfo=UTC), monkeypatch)
    murmansk = order_world()
    vladivostok = order_world(city_name="Владивосток")
    vladivostok.dealer_center.time_zone = "Asia/Vladivostok"
    vladivostok.dealer_center.save()
    ending = promotion_create(
        actor=None,
        name="Ends on 10 March",
        make=murmansk.make,
        valid_from=date(2026, 3, 1),
        valid_to=date(2026, 3, 10),
        discount_percent=Decimal("5"),
    )
    starting = promotion_create(
        actor=None,
        name="Starts on 11 March",
        make=murmansk.make,
        valid_from=date(2026, 3, 11),
        valid_to=date(2026, 3, 31),
        discount_amount=Decimal("30000"),
    )
    in_murmansk = murmansk.order()
    in_vladivostok = vladivostok.order()

    assert dealer_center_today(murmansk.dealer_center) == date(2026, 3, 10)
    assert dealer_center_today(vladivostok.dealer_center) == date(2026, 3, 11)
    assert names(promotions_available(in_murmansk)) == {"Ends on 10 March"}
    assert names(promotions_available(in_vladivostok)) == {"Starts on 11 March"}
    with pytest.raises(Conflict) as refused:
        promotion_apply(actor=vladivostok.manager, order=in_vladivostok, promotion=ending)
    assert refused.value.code == "promotion_expired"
    assert "10.03.2026" in refused.value.message
    with pytest.raises(Conflict) as refused:
        promotion_apply(actor=murmansk.manager, order=in_murmansk, promotion=starting)
    assert refused.value.code == "promotion_not_yet_valid"
    assert "11.03.2026" in refused.value.message

    applied = promotion_apply(actor=murmansk.manager, order=in_murmansk, promotion=ending)
    assert applied.discount == Decimal("91495.00")
    applied = promotion_apply(actor=vladivostok.manager, order=in_vladivostok, promotion=starting)
    assert applied.discount == Decimal("30000.00")
    assert totals(in_vladivostok) == (
        Decimal("30000.00"),
        Decimal("1799900.00"),
        Decimal("1799900.00"),
    )


def test_an_importer_order_is_matched_by_the_ordered_car_in_the_dealer_centers_city() -> None:
    world = order_world()
    make_promotion(world, "Tiggo in Murmansk", car_model=world.car_model, cities=["мурманск"])
    make_promotion(world, "Ultimate", trim=world.trim)
    make_promotion(world, "Other trim", trim=TrimFactory.create(car_model=world.car_model))
    make_promotion(world, "Moscow", cities=[CityFactory.create(name="Москва")])
    order = order_create_importer(
        actor=world.manager,
        client=world.client,
        dealer_center=world.dealer_center,
        car_model=world.car_model,
        trim=world.trim,
        expected_price=Decimal("2000000.00"),
    )

    assert names(promotions_available(order)) == {"Tiggo in Murmansk", "Ultimate"}

    without_trim = order_create_importer(
        actor=world.manager,
        client=world.client,
        dealer_center=world.dealer_center,
        car_model=world.car_model,
        expected_price=Decimal("2000000.00"),
    )
    assert names(promotions_available(without_trim)) == {"Tiggo in Murmansk"}


# --- applying and removing ----------------------------------------------------------------


def test_percent_and_amount_discounts_and_the_totals_after_each_change() -> None:
    world = order_world()
    five = make_promotion(
        world,
        "5 %",
        discount_percent=Decimal("5"),
        importer_bonus=Decimal("40000"),
    )
    fifty = make_promotion(world, "50 000", discount_amount=Decimal("50000"))
    order = world.order()
    assert totals(order) == (Decimal("0.00"), SEED_PRICE, SEED_PRICE)

    applied = promotion_apply(actor=world.manager, order=order, promotion=five)
    assert (applied.discount, applied.importer_bonus) == (Decimal("91495.00"), Decimal("40000.00"))
    assert applied.applied_by == world.manager
    assert totals(order) == (Decimal("91495.00"), Decimal("1738405.00"), Decimal("1738405.00"))

    promotion_apply(actor=world.manager, order=order, promotion=fifty)
    assert totals(order) == (Decimal("141495.00"), Decimal("1688405.00"), Decimal("1688405.00"))
    assert names(promotions_available(order)) == set()

    promotion_remove(actor=world.manager, order=order, promotion=five)
    assert totals(order) == (Decimal("50000.00"), Decimal("1779900.00"), Decimal("1779900.00"))
    assert names(promotions_available(order)) == {"5 %"}

    # A percent follows the car's price; the amount stays.
    promotion_apply(actor=world.manager, order=order, promotion=five)
    order_update(actor=world.head, order=order, vehicle_price=Decimal("1799999.99"))
    assert totals(order) == (Decimal("140000.00"), Decimal("1659999.99"), Decimal("1659999.99"))

    promotion_remove(actor=world.manager, order=order, promotion=fifty)
    promotion_remove(actor=world.manager, order=order, promotion=five)
    assert totals(order) == (Decimal("0.00"), Decimal("1799999.99"), Decimal("1799999.99"))

    history = list(
        OrderEvent.objects.filter(order=order, kind=OrderEventKind.PROMOTION)
        .order_by("pk")
        .values_list("from_value", "to_value", "text", "amount")
    )
    assert history == [
        ("", "applied", "5 %", Decimal("91495.00")),
        ("", "applied", "50 000", Decimal("50000.00")),
        ("applied", "removed", "5 %", Decimal("91495.00")),
        ("", "applied", "5 %", Decimal("91495.00")),
        ("applied", "removed", "50 000", Decimal("50000.00")),
        ("applied", "removed", "5 %", Decimal("90000.00")),
    ]


def test_a_percent_discount_is_rounded_to_kopecks_half_up() -> None:
    world = order_world()
    odd = make_promotion(world, "3.33 %", discount_percent=Decimal("3.33"))
    order = world.order()
    # 1 829 900.00 × 3.33 % = 60 935.67
    assert promotion_apply(actor=world.manager, order=order, promotion=odd).discount == Decimal(
        "60935.67"
    )
    assert totals(order) == (Decimal("60935.67"), Decimal("1768964.33"), Decimal("1768964.33"))


def test_a_promotion_that_does_not_combine_is_refused_naming_the_other() -> None:
    world = order_world()
    gift = make_promotion(world, "Winter tyres gift", discount_amount=Decimal("40000"))
    exclusive = make_promotion(
        world, "Trade-in bonus", discount_amount=Decimal("150000"), combinable=False
    )
    loyalty = make_promotion(world, "Loyalty", discount_amount=Decimal("20000"))
    order = world.order()
    promotion_apply(actor=world.manager, order=order, promotion=gift)

    with pytest.raises(Conflict) as refused:
        promotion_apply(actor=world.manager, order=order, promotion=exclusive)
    assert refused.value.code == "not_combinable"
    assert "Trade-in bonus" in refused.value.message
    assert "Winter tyres gift" in refused.value.message
    assert totals(order) == (Decimal("40000.00"), Decimal("1789900.00"), Decimal("1789900.00"))

    promotion_remove(actor=world.manager, order=order, promotion=gift)
    promotion_apply(actor=world.manager, order=order, promotion=exclusive)
    assert totals(order) == (Decimal("150000.00"), Decimal("1679900.00"), Decimal("1679900.00"))

    with pytest.raises(Conflict) as refused:
        promotion_apply(actor=world.manager, order=order, promotion=loyalty)
    assert refused.value.code == "not_combinable"
    assert "Trade-in bonus" in refused.value.message
    assert totals(order) == (Decimal("150000.00"), Decimal("1679900.00"), Decimal("1679900.00"))


def test_a_promotion_applies_once() -> None:
    world = order_world()
    gift = make_promotion(world, "Gift")
    order = world.order()
    promotion_apply(actor=world.manager, order=order, promotion=gift)
    with pytest.raises(Conflict) as refused:
        promotion_apply(actor=world.manager, order=order, promotion=gift)
    assert refused.value.code == "already_applied"
    assert OrderPromotion.objects.filter(order=order).count() == 1
    assert totals(order) == (Decimal("50000.00"), Decimal("1779900.00"), Decimal("1779900.00"))


def test_discounts_may_not_exceed_the_price_of_the_car() -> None:
    world = order_world()
    order = world.order()
    order_update(actor=world.manager, order=order, vehicle_price=Decimal("100000.00"))
    big = make_promotion(world, "Big", discount_amount=Decimal("80000"))
    bigger = make_promotion(world, "Bigger", discount_amount=Decimal("20000.01"))
    exact = make_promotion(world, "Exact", discount_amount=Decimal("20000"))
    promotion_apply(actor=world.manager, order=order, promotion=big)

    with pytest.raises(Conflict) as refused:
        promotion_apply(actor=world.manager, order=order, promotion=bigger)
    assert refused.value.code == "discount_exceeds_price"
    assert "Bigger" in refused.value.message

    promotion_apply(actor=world.manager, order=order, promotion=exact)
    assert totals(order) == (Decimal("100000.00"), Decimal("0.00"), Decimal("0.00"))


def test_a_closed_order_or_a_stranger_changes_nothing() -> None:
    world = order_world()
    gift = make_promotion(world, "Gift")
    order = world.order()
    stranger = order_world().manager
    with pytest.raises(NotAllowed):
        promotion_apply(actor=stranger, order=order, promotion=gift)
    promotion_apply(actor=world.manager, order=order, promotion=gift)
    with pytest.raises(NotAllowed):
        promotion_remove(actor=stranger, order=order, promotion=gift)

    order_transition(actor=world.manager, order=order, to=OrderStatus.CANCELLED, reason="No")
    other = make_promotion(world, "Other")
    with pytest.raises(Conflict) as refused:
        promotion_apply(actor=world.manager, order=order, promotion=other)
    assert refused.value.code == "order_closed"
    with pytest.raises(Conflict):
        promotion_remove(actor=world.manager, order=order, promotion=gift)
    assert OrderPromotion.objects.filter(order=order).count() == 1


def test_removing_a_promotion_the_order_does_not_have_is_not_found() -> None:
    world = order_world()
    order = world.order()
    with pytest.raises(NotFound):
        promotion_remove(actor=world.manager, order=order, promotion=make_promotion(world, "X"))


# --- the catalog --------------------------------------------------------------------------


def test_a_logistician_creates_a_promotion_from_names_of_cities() -> None:
    world = order_world()
    logistician = UserFactory.create(roles=["logistician"])
    moscow = CityFactory.create(name="Москва")

    promotion = promotion_create(
        actor=logistician,
        name="  Весна  ",
        bulletin="Бюллетень 12/2026",
        importer="Chery Automobile Rus",
        trim=world.trim,
        cities=["мурманск", "Москва"],
        valid_from=date(2026, 3, 1),
        valid_to=date(2026, 3, 31),
        discount_percent=Decimal("5.5"),
        importer_bonus=Decimal("25000"),
        combinable=False,
    )

    promotion.refresh_from_db()
    assert promotion.name == "Весна"
    # The trim names its model and make.
    assert (promotion.make, promotion.car_model, promotion.trim) == (
        world.make,
        world.car_model,
        world.trim,
    )
    assert set(promotion.cities.all()) == {world.city, moscow}
    assert promotion.discount_amount is None
    assert promotion.discount_percent == Decimal("5.50")
    assert promotion.importer_bonus == Decimal("25000.00")
    assert promotion.created_by == logistician
    assert not promotion.combinable


def _base(world: OrderWorld) -> dict[str, Any]:
    return {
        "name": "Spring",
        "valid_from": date(2026, 3, 1),
        "valid_to": date(2026, 3, 31),
        "discount_amount": Decimal("10000"),
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"discount_amount": None}, "discount_amount"),
        ({"discount_percent": Decimal("5")}, "discount_percent"),
        ({"discount_amount": None, "discount_percent": Decimal("0")}, "discount_percent"),
        ({"discount_amount": None, "discount_percent": Decimal("100.01")}, "discount_percent"),
        ({"discount_amount": Decimal("0")}, "discount_amount"),
        ({"discount_amount": Decimal("-1")}, "discount_amount"),
        ({"valid_to": date(2026, 2, 28)}, "valid_to"),
        ({"importer_bonus": Decimal("-0.01")}, "importer_bonus"),
        ({"cities": ["Атлантида"]}, "cities"),
        ({"cities": [" "]}, "cities"),
        ("other model", "model"),
        ("other trim", "trim"),
    ],
)
def test_a_bad_promotion_is_refused_naming_the_field(changes: Any, field: str) -> None:
    world = order_world()
    fields = _base(world)
    if changes == "other model":
        fields |= {"make": Brand.objects.create(name="Haval", code="haval")}
        fields |= {"car_model": world.car_model}
    elif changes == "other trim":
        fields |= {"car_model": CarModelFactory.create(make=world.make, name="Tiggo 4")}
        fields |= {"trim": world.trim}
    else:
        fields |= changes
    with pytest.raises(ValidationFailed) as refused:
        promotion_create(actor=None, **fields)
    assert refused.value.field == field
    assert not Promotion.objects.exists()


def test_only_logisticians_management_and_administrators_keep_promotions() -> None:
    world = order_world()
    with pytest.raises(NotAllowed):
        promotion_create(actor=world.manager, **_base(world))
    with pytest.raises(NotAllowed):
        promotion_create(actor=world.head, **_base(world))
    assert not Promotion.objects.exists()
    for role in ("logistician", "management", "administrator"):
        promotion_create(actor=UserFactory.create(roles=[role]), **_base(world))
    assert Promotion.objects.count() == 3


def test_the_discount_of_a_promotion_in_use_cannot_change() -> None:
    world = order_world()
    logistician = UserFactory.create(roles=["logistician"])
    five = make_promotion(world, "5 %", discount_percent=Decimal("5"))
    unused = make_promotion(world, "Unused")
    order = world.order()
    promotion_apply(actor=world.manager, order=order, promotion=five)

    with pytest.raises(Conflict) as refused:
        promotion_update(actor=logistician, promotion=five, discount_percent=Decimal("10"))
    assert refused.value.code == "promotion_in_use"
    with pytest.raises(Conflict):
        promotion_update(actor=logistician, promotion=five, discount_amount=Decimal("1000"))
    five.refresh_from_db()
    assert five.discount_percent == Decimal("5.00")

    changed = promotion_update(
        actor=logistician,
        promotion=five,
        name="5 % (spring)",
        valid_to=date(2030, 1, 1),
        cities=["Мурманск"],
        combinable=False,
    )
    assert (changed.name, changed.valid_to, changed.combinable) == (
        "5 % (spring)",
        date(2030, 1, 1),
        False,
    )
    assert list(changed.cities.all()) == [world.city]
    # An unused promotion may switch from an amount to a percent.
    switched = promotion_update(actor=logistician, promotion=unused, discount_percent=Decimal("7"))
    assert (switched.discount_amount, switched.discount_percent) == (None, Decimal("7"))
    assert totals(order) == (Decimal("91495.00"), Decimal("1738405.00"), Decimal("1738405.00"))
    with pytest.raises(ValidationFailed) as refused:
        promotion_update(actor=logistician, promotion=unused, colour="red")
    assert refused.value.field == "colour"


def test_the_catalog_filters_by_make_city_and_date() -> None:
    world = order_world()
    haval = Brand.objects.create(name="Haval", code="haval")
    moscow = CityFactory.create(name="Москва")
    make_promotion(world, "Every car", valid_from=date(2026, 1, 1), valid_to=date(2026, 1, 31))
    make_promotion(
        world,
        "Chery Murmansk",
        make=world.make,
        cities=[world.city],
        valid_from=date(2026, 2, 1),
        valid_to=date(2026, 2, 28),
    )
    make_promotion(
        world,
        "Haval Moscow",
        make=haval,
        cities=[moscow],
        valid_from=date(2026, 1, 15),
        valid_to=date(2026, 2, 15),
    )
    make_promotion(
        world, "Off", valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31), is_active=False
    )

    assert names(promotion_list(make=world.make)) == {"Every car", "Chery Murmansk", "Off"}
    assert names(promotion_list(city=moscow)) == {"Every car", "Haval Moscow", "Off"}
    assert names(promotion_list(active_on=date(2026, 2, 10))) == {"Chery Murmansk", "Haval Moscow"}
    assert names(promotion_list(active_on=date(2026, 1, 31), make=haval)) == {
        "Every car",
        "Haval Moscow",
    }
    assert names(promotion_list(is_active=False)) == {"Off"}
    assert names(promotion_list(search="murm")) == {"Chery Murmansk"}
