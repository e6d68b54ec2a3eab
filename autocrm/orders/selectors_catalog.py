"""Reads of the catalog an order picks from: promotions (Акции) and additional equipment
packages (ДО), and what of them an order already has.

Which promotions and packages fit an order is decided here, once, for the API, the order
card and the services that apply them (which re-check under the order's lock).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from autocrm.accounts.models import Brand, City, DealerCenter, Site
from autocrm.accounts.scoping import scope_queryset
from autocrm.core.errors import ValidationFailed
from autocrm.core.money import round_money
from autocrm.core.timezones import local_today, zone_named
from autocrm.inventory.models import CarModel, Trim
from autocrm.orders.models import (
    EquipmentPackage,
    ImporterOrder,
    Order,
    OrderEquipment,
    OrderPromotion,
    Promotion,
)

# --- the car an order is about ------------------------------------------------------------


@dataclass(frozen=True)
class OrderCar:
    """What promotions and packages are matched against: the stock car, or for an order
    from the importer whose car has not arrived, the ordered make/model/trim (no site yet)
    in the dealer center's city."""

    make: Brand | None
    car_model: CarModel | None
    trim: Trim | None
    site: Site | None
    city: City | None

    @property
    def make_id(self) -> int | None:
        return self.make.pk if self.make is not None else None

    @property
    def car_model_id(self) -> int | None:
        return self.car_model.pk if self.car_model is not None else None

    @property
    def trim_id(self) -> int | None:
        return self.trim.pk if self.trim is not None else None

    @property
    def site_id(self) -> int | None:
        return self.site.pk if self.site is not None else None

    @property
    def city_id(self) -> int | None:
        return self.city.pk if self.city is not None else None


def order_car(order: Order) -> OrderCar:
    if order.vehicle_id is not None:
        vehicle = order.vehicle
        assert vehicle is not None
        return OrderCar(vehicle.make, vehicle.car_model, vehicle.trim, vehicle.site, vehicle.city)
    importer_order = (
        ImporterOrder.objects.select_related("make", "car_model", "trim")
        .filter(order_id=order.pk)
        .first()
    )
    city = order.dealer_center.city
    if importer_order is None:  # not possible by the model's constraint; nothing matches
        return OrderCar(None, None, None, None, city)
    return OrderCar(importer_order.make, importer_order.car_model, importer_order.trim, None, city)


def dealer_center_zone(dealer_center: DealerCenter) -> zoneinfo.ZoneInfo:
    return zone_named(dealer_center.time_zone)


def dealer_center_today(dealer_center: DealerCenter, now: datetime | None = None) -> date:
    """Today's date where the dealer center is: a promotion that ends "today" in Moscow is
    over in Vladivostok once midnight has passed there."""
    return local_today(dealer_center.time_zone, now)


# --- promotions ---------------------------------------------------------------------------


def promotion_discount(promotion: Promotion, vehicle_price: Decimal) -> Decimal:
    if promotion.discount_amount is not None:
        return round_money(promotion.discount_amount)
    assert promotion.discount_percent is not None
    return round_money(vehicle_price * promotion.discount_percent / 100)


def _any_or(field: str, value_id: int | None) -> Q:
    """``field`` empty (any) or equal to the car's; a car without it matches only "any"."""
    if value_id is None:
        return Q(**{f"{field}__isnull": True})
    return Q(**{f"{field}__isnull": True}) | Q(**{field: value_id})


def _city_condition(city_id: int | None) -> Q:
    through = Promotion.cities.through.objects
    any_city = ~Exists(through.filter(promotion_id=OuterRef("pk")))
    if city_id is None:
        return Q(any_city)
    return Q(any_city) | Q(Exists(through.filter(promotion_id=OuterRef("pk"), city_id=city_id)))


def promotions_matching(car: OrderCar, today: date) -> QuerySet[Promotion]:
    """Active promotions valid on ``today`` for the car's make, model, trim and city."""
    return (
        Promotion.objects.filter(
            _any_or("make_id", car.make_id),
            _any_or("car_model_id", car.car_model_id),
            _any_or("trim_id", car.trim_id),
            _city_condition(car.city_id),
            is_active=True,
            valid_from__lte=today,
            valid_to__gte=today,
        )
        .select_related("make", "car_model__make", "trim")
        .prefetch_related("cities")
        .order_by("valid_to", "name", "pk")
    )


def promotions_available(order: Order, today: date | None = None) -> QuerySet[Promotion]:
    """What the order offers: the promotions valid for its car, in its city, today in its
    dealer center's time zone, that it does not have yet."""
    today = today or dealer_center_today(order.dealer_center)
    applied = OrderPromotion.objects.filter(order_id=order.pk, promotion_id=OuterRef("pk"))
    return promotions_matching(order_car(order), today).filter(~Exists(applied))


def promotion_mismatch(promotion: Promotion, car: OrderCar, today: date) -> tuple[str, str] | None:
    """Why the promotion does not apply to the car today, as (code, message); None: it does."""
    if not promotion.is_active:
        return "promotion_inactive", _("The promotion “%(name)s” is not active.") % {
            "name": promotion.name
        }
    for field, wanted, have, code in (
        ("make", promotion.make, car.make, "promotion_other_make"),
        ("model", promotion.car_model, car.car_model, "promotion_other_model"),
        ("trim", promotion.trim, car.trim, "promotion_other_trim"),
    ):
        if wanted is not None and (have is None or wanted.pk != have.pk):
            messages = {
                "make": _(
                    "The promotion “%(name)s” is for the make %(wanted)s, the car is %(have)s."
                ),
                "model": _(
                    "The promotion “%(name)s” is for the model %(wanted)s, the car is %(have)s."
                ),
                "trim": _(
                    "The promotion “%(name)s” is for the trim %(wanted)s, the car is %(have)s."
                ),
            }
            return code, messages[field] % {
                "name": promotion.name,
                "wanted": _label(field, wanted),
                "have": _label(field, have) if have is not None else _("without a trim"),
            }
    cities = list(promotion.cities.all())
    if cities and (car.city is None or car.city.pk not in {city.pk for city in cities}):
        return "promotion_other_city", _(
            "The promotion “%(name)s” is valid only in %(cities)s, not in %(city)s."
        ) % {
            "name": promotion.name,
            "cities": ", ".join(sorted(city.name for city in cities)),
            "city": car.city.name if car.city is not None else "—",
        }
    if today < promotion.valid_from:
        return "promotion_not_yet_valid", _(
            "The promotion “%(name)s” is valid only from %(date)s."
        ) % {"name": promotion.name, "date": date_format(promotion.valid_from, "d.m.Y")}
    if today > promotion.valid_to:
        return "promotion_expired", _("The promotion “%(name)s” ended on %(date)s.") % {
            "name": promotion.name,
            "date": date_format(promotion.valid_to, "d.m.Y"),
        }
    return None


def _label(field: str, value: Any) -> str:
    # A model's __str__ carries its make ("Chery Tiggo 7 Pro Max"); a trim's its model.
    if field == "trim":
        return str(value.name)
    return str(value)


def order_promotions(order: Order) -> QuerySet[OrderPromotion]:
    return (
        OrderPromotion.objects.filter(order_id=order.pk)
        .select_related("promotion", "applied_by")
        .order_by("created_at", "pk")
    )


def promotion_list(
    *,
    make: Brand | None = None,
    car_model: CarModel | None = None,
    city: City | None = None,
    active_on: date | None = None,
    is_active: bool | None = None,
    search: str = "",
) -> QuerySet[Promotion]:
    """Promotions of the whole group (they are the importers', not a dealer center's).
    ``make``, ``car_model`` and ``city`` keep the promotions that apply there, those for
    "any" included; ``active_on`` keeps the active ones valid on that date."""
    queryset = Promotion.objects.select_related(
        "make", "car_model__make", "trim", "created_by"
    ).prefetch_related("cities")
    if make is not None:
        queryset = queryset.filter(_any_or("make_id", make.pk))
    if car_model is not None:
        queryset = queryset.filter(_any_or("car_model_id", car_model.pk))
    if city is not None:
        queryset = queryset.filter(_city_condition(city.pk))
    if active_on is not None:
        queryset = queryset.filter(
            is_active=True, valid_from__lte=active_on, valid_to__gte=active_on
        )
    if is_active is not None:
        queryset = queryset.filter(is_active=is_active)
    if search.strip():
        text = search.strip()
        queryset = queryset.filter(
            Q(name__icontains=text) | Q(bulletin__icontains=text) | Q(importer__icontains=text)
        )
    return queryset.order_by("-valid_to", "name", "pk")


def cities_named(names: list[str], *, field: str = "cities") -> list[City]:
    """The cities with these names (every city of a name that two regions share); an
    unknown name is refused naming ``field``. Compared case-insensitively in Python:
    SQLite folds the case of ASCII letters only, and city names are Cyrillic."""
    stripped = [name.strip() for name in names]
    if any(not name for name in stripped):
        raise ValidationFailed(_("A city name cannot be empty."), field=field)
    wanted = {name.casefold(): name for name in stripped}
    if not wanted:
        return []
    found: dict[str, list[City]] = {}
    for city in City.objects.only("id", "name").order_by("name", "pk"):
        key = city.name.strip().casefold()
        if key in wanted:
            found.setdefault(key, []).append(city)
    unknown = [name for key, name in wanted.items() if key not in found]
    if unknown:
        raise ValidationFailed(
            _("Unknown city: %(names)s.") % {"names": ", ".join(unknown)}, field=field
        )
    return [city for cities in found.values() for city in cities]


# --- additional equipment -----------------------------------------------------------------


def _package_condition(order: Order, car: OrderCar) -> Q:
    condition = (
        Q(is_active=True)
        & (Q(dealer_center__isnull=True) | Q(dealer_center_id=order.dealer_center_id))
        & _any_or("make_id", car.make_id)
        & _any_or("car_model_id", car.car_model_id)
        & _any_or("trim_id", car.trim_id)
    )
    if car.site_id is not None:  # a car not yet arrived has no site: any site will do
        condition &= _any_or("site_id", car.site_id)
    return condition


def packages_installable(order: Order) -> QuerySet[EquipmentPackage]:
    """Active packages that fit the order's car and dealer center, on the order or not."""
    return (
        EquipmentPackage.objects.filter(_package_condition(order, order_car(order)))
        .select_related("make", "car_model__make", "trim", "site", "dealer_center")
        .prefetch_related("items")
        .order_by("name", "pk")
    )


def packages_available(order: Order) -> QuerySet[EquipmentPackage]:
    """What the manager may add: installable packages not on the order yet."""
    on_order = OrderEquipment.objects.filter(order_id=order.pk, package_id=OuterRef("pk"))
    return packages_installable(order).filter(~Exists(on_order))


def package_mismatch(
    package: EquipmentPackage, order: Order, car: OrderCar
) -> tuple[str, str] | None:
    """Why the package cannot be installed on the order's car, as (code, message)."""
    name = package.name
    if not package.is_active:
        return "package_inactive", _("The package “%(name)s” is not offered any more.") % {
            "name": name
        }
    if package.dealer_center_id is not None and package.dealer_center_id != order.dealer_center_id:
        return "package_other_dealer_center", _(
            "The package “%(name)s” is installed by another dealer center."
        ) % {"name": name}
    if car.site_id is not None and package.site_id is not None and package.site_id != car.site_id:
        return "package_other_site", _(
            "The package “%(name)s” is installed at %(site)s only; the car is at %(car_site)s."
        ) % {"name": name, "site": package.site, "car_site": car.site}
    for field, wanted_id, have_id, message in (
        (
            "make",
            package.make_id,
            car.make_id,
            _("The package “%(name)s” does not fit the make of the car."),
        ),
        (
            "model",
            package.car_model_id,
            car.car_model_id,
            _("The package “%(name)s” does not fit the model of the car."),
        ),
        (
            "trim",
            package.trim_id,
            car.trim_id,
            _("The package “%(name)s” does not fit the trim of the car."),
        ),
    ):
        if wanted_id is not None and wanted_id != have_id:
            return f"package_other_{field}", message % {"name": name}
    return None


def order_equipment(order: Order) -> QuerySet[OrderEquipment]:
    return (
        OrderEquipment.objects.filter(order_id=order.pk)
        .select_related("package", "added_by")
        .prefetch_related("package__items")
        .order_by("created_at", "pk")
    )


def package_list(
    user: Any,
    *,
    make: Brand | None = None,
    car_model: CarModel | None = None,
    dealer_center_id: int | None = None,
    is_active: bool | None = None,
) -> QuerySet[EquipmentPackage]:
    """Packages of the dealer centers the user sees and the group-wide ones. ``make`` and
    ``car_model`` keep the packages that fit them, those for "any" included."""
    queryset = scope_queryset(EquipmentPackage.objects.all(), user, include_unassigned=True)
    if make is not None:
        queryset = queryset.filter(_any_or("make_id", make.pk))
    if car_model is not None:
        queryset = queryset.filter(_any_or("car_model_id", car_model.pk))
    if dealer_center_id is not None:
        queryset = queryset.filter(
            Q(dealer_center__isnull=True) | Q(dealer_center_id=dealer_center_id)
        )
    if is_active is not None:
        queryset = queryset.filter(is_active=is_active)
    return (
        queryset.select_related("make", "car_model__make", "trim", "site", "dealer_center")
        .prefetch_related("items")
        .order_by("name", "pk")
    )
