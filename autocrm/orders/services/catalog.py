"""Promotions (Акции) and additional equipment (ДО): the catalog kept by logisticians and
service staff, and what a sales order takes from it.

Every change to an order locks it, checks the actor sees it and that it may still change,
writes a history row and brings the order's totals up to date, in one transaction. Whether
a promotion or a package fits is decided by ``orders.selectors_catalog`` and checked again
here under the order's lock, so that two managers clicking at once cannot stack promotions
that do not combine.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.models import Brand, City
from autocrm.core.audit import user_or_none
from autocrm.core.errors import (
    Conflict,
    NotAllowed,
    NotFound,
    TransitionNotAllowed,
    ValidationFailed,
)
from autocrm.core.money import round_money
from autocrm.inventory.models import CarModel, Trim
from autocrm.orders.models import (
    INSTALLATION_TRANSITIONS,
    EquipmentPackage,
    InstallationStatus,
    Order,
    OrderEquipment,
    OrderEventKind,
    OrderPromotion,
    Promotion,
)
from autocrm.orders.selectors_catalog import (
    cities_named,
    dealer_center_today,
    dealer_center_zone,
    order_car,
    package_mismatch,
    promotion_discount,
    promotion_mismatch,
)
from autocrm.orders.services.orders import (
    order_lock,
    order_log,
    order_recalculate,
    require_editable,
    require_order_access,
)

ZERO = Decimal("0")
MAX_MONEY = Decimal("999999999999.99")
HUNDRED = Decimal("100")

# History rows of promotions and equipment: what happened to the line.
APPLIED = "applied"
REMOVED = "removed"
ADDED = "added"


def _require_perm(actor: Any, *permissions: str) -> None:
    """Refuse a user holding none of ``permissions``; ``actor=None`` is the system (demo
    data, management commands), which the callers vouch for."""
    if actor is None:
        return
    if not any(actor.has_perm(permission) for permission in permissions):
        raise NotAllowed(_("You do not have permission to perform this action."))


def _bump(order: Order) -> None:
    order.version += 1
    order.save(update_fields=["version", "updated_at"])


# --- promotions: the catalog --------------------------------------------------------------


PROMOTION_FIELDS = frozenset(
    {
        "name",
        "bulletin",
        "importer",
        "make",
        "car_model",
        "trim",
        "cities",
        "valid_from",
        "valid_to",
        "discount_amount",
        "discount_percent",
        "importer_bonus",
        "combinable",
        "is_active",
    }
)
# Applied promotions keep their discount: an order's percent discount follows the car's
# price through the promotion, so the discount itself may not change once applied.
DISCOUNT_FIELDS = frozenset({"discount_amount", "discount_percent"})


def promotion_clean(values: dict[str, Any]) -> dict[str, Any]:
    """Check a promotion's fields as a whole and normalise them; raises ValidationFailed
    naming the field (the API's names: ``model`` for the car model). Used by the services
    and by the admin's form."""
    cleaned = dict(values)
    name = str(cleaned.get("name") or "").strip()
    if not name:
        raise ValidationFailed(_("Enter the name of the promotion."), field="name")
    cleaned["name"] = name[:200]
    for text_field, length in (("bulletin", 200), ("importer", 200)):
        cleaned[text_field] = str(cleaned.get(text_field) or "").strip()[:length]
    make: Brand | None = cleaned.get("make")
    car_model: CarModel | None = cleaned.get("car_model")
    trim: Trim | None = cleaned.get("trim")
    # A trim names its model and a model its make: "any make" with a model set would be a
    # contradiction, so the broader ones follow the narrower.
    if trim is not None:
        if car_model is not None and trim.car_model_id != car_model.pk:
            raise ValidationFailed(_("The trim belongs to another model."), field="trim")
        car_model = trim.car_model
    if car_model is not None:
        if make is not None and car_model.make_id != make.pk:
            raise ValidationFailed(_("The model belongs to another make."), field="model")
        make = car_model.make
    cleaned.update(make=make, car_model=car_model, trim=trim)
    valid_from: date | None = cleaned.get("valid_from")
    valid_to: date | None = cleaned.get("valid_to")
    if valid_from is None:
        raise ValidationFailed(_("Enter the first day of the promotion."), field="valid_from")
    if valid_to is None:
        raise ValidationFailed(_("Enter the last day of the promotion."), field="valid_to")
    if valid_to < valid_from:
        raise ValidationFailed(_("The promotion cannot end before it starts."), field="valid_to")
    amount: Decimal | None = cleaned.get("discount_amount")
    percent: Decimal | None = cleaned.get("discount_percent")
    if amount is None and percent is None:
        raise ValidationFailed(
            _("Enter the discount as an amount or as a percent."), field="discount_amount"
        )
    if amount is not None and percent is not None:
        raise ValidationFailed(
            _("Enter the discount either as an amount or as a percent, not both."),
            field="discount_percent",
        )
    if amount is not None:
        if not amount.is_finite() or amount <= 0 or amount > MAX_MONEY:
            raise ValidationFailed(
                _("The discount must be more than zero."), field="discount_amount"
            )
        cleaned["discount_amount"] = round_money(amount)
    if percent is not None:
        if not percent.is_finite() or percent <= 0 or percent > HUNDRED:
            raise ValidationFailed(
                _("The percent must be more than 0 and at most 100."), field="discount_percent"
            )
        if percent != percent.quantize(Decimal("0.01")):
            raise ValidationFailed(
                _("The percent may have at most two decimal places."), field="discount_percent"
            )
    bonus = cleaned.get("importer_bonus")
    bonus = ZERO if bonus is None else bonus
    if not bonus.is_finite() or bonus < 0 or bonus > MAX_MONEY:
        raise ValidationFailed(_("The importer bonus cannot be negative."), field="importer_bonus")
    cleaned["importer_bonus"] = round_money(bonus)
    return cleaned


def _cities(values: Iterable[City | str]) -> list[City]:
    values = list(values)
    names = [value for value in values if isinstance(value, str)]
    cities = [value for value in values if isinstance(value, City)]
    if len(names) + len(cities) != len(values):
        raise ValidationFailed(_("Give the cities by name."), field="cities")
    found = {city.pk: city for city in [*cities, *cities_named(names)]}
    return list(found.values())


@transaction.atomic
def promotion_create(
    *,
    actor: Any,
    name: str,
    valid_from: date,
    valid_to: date,
    discount_amount: Decimal | None = None,
    discount_percent: Decimal | None = None,
    make: Brand | None = None,
    car_model: CarModel | None = None,
    trim: Trim | None = None,
    cities: Iterable[City | str] = (),
    importer_bonus: Decimal = ZERO,
    combinable: bool = True,
    is_active: bool = True,
    bulletin: str = "",
    importer: str = "",
) -> Promotion:
    """A promotion from an importer's bulletin. Empty make/model/trim/cities mean "any";
    ``cities`` are City rows or names (an unknown name is refused naming ``cities``)."""
    _require_perm(actor, "orders.manage_promotions")
    cleaned = promotion_clean(
        {
            "name": name,
            "bulletin": bulletin,
            "importer": importer,
            "make": make,
            "car_model": car_model,
            "trim": trim,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "discount_amount": discount_amount,
            "discount_percent": discount_percent,
            "importer_bonus": importer_bonus,
        }
    )
    city_rows = _cities(cities)
    promotion = Promotion.objects.create(
        **cleaned,
        combinable=bool(combinable),
        is_active=bool(is_active),
        created_by=user_or_none(actor),
    )
    promotion.cities.set(city_rows)
    return promotion


@transaction.atomic
def promotion_update(*, actor: Any, promotion: Promotion, **changes: Any) -> Promotion:
    """Change a promotion; fields left out stay. The discount of a promotion that orders
    already have cannot change (409): end it and start a new one."""
    _require_perm(actor, "orders.manage_promotions")
    unknown = sorted(set(changes) - PROMOTION_FIELDS)
    if unknown:
        raise ValidationFailed(_("This field cannot be changed here."), field=unknown[0])
    locked = (
        Promotion.objects.select_for_update(of=("self",))
        .select_related("make", "car_model", "trim")
        .get(pk=promotion.pk)
    )
    current = {
        field: getattr(locked, field) for field in PROMOTION_FIELDS - {"cities", "combinable"}
    }
    new_cities = _cities(changes.pop("cities")) if "cities" in changes else None
    # A change of the discount's kind names the other one as None: either may be sent alone.
    if changes.get("discount_amount") is not None and "discount_percent" not in changes:
        changes["discount_percent"] = None
    if changes.get("discount_percent") is not None and "discount_amount" not in changes:
        changes["discount_amount"] = None
    cleaned = promotion_clean(current | {k: v for k, v in changes.items() if k != "combinable"})
    discount_changed = any(cleaned[field] != current[field] for field in DISCOUNT_FIELDS)
    if discount_changed and OrderPromotion.objects.filter(promotion_id=locked.pk).exists():
        raise Conflict(
            _(
                "Orders already have this promotion, so its discount cannot change. "
                "End it and create a new one."
            ),
            field="discount_amount"
            if cleaned["discount_amount"] is not None
            else "discount_percent",
            code="promotion_in_use",
        )
    for field, value in cleaned.items():
        setattr(locked, field, value)
    if "combinable" in changes:
        locked.combinable = bool(changes["combinable"])
    locked.save()
    if new_cities is not None:
        locked.cities.set(new_cities)
    return locked


# --- promotions on an order ---------------------------------------------------------------


@transaction.atomic
def promotion_apply(*, actor: Any, order: Order, promotion: Promotion) -> OrderPromotion:
    """Apply a promotion to the order, or refuse (409) saying why: it does not fit the car
    (make, model, trim, city), is not valid today in the dealer center's time zone, is
    applied already, does not combine, or the discounts would exceed the car's price."""
    order = order_lock(order)
    require_order_access(actor, order)
    require_editable(order)
    order = Order.objects.select_related(
        "dealer_center__city",
        "vehicle__make",
        "vehicle__car_model",
        "vehicle__trim",
        "vehicle__city",
        "vehicle__site",
    ).get(pk=order.pk)
    promotion = (
        Promotion.objects.select_related("make", "car_model__make", "trim")
        .prefetch_related("cities")
        .get(pk=promotion.pk)
    )
    today = dealer_center_today(order.dealer_center)
    mismatch = promotion_mismatch(promotion, order_car(order), today)
    if mismatch is not None:
        code, message = mismatch
        raise Conflict(message, field="promotion_id", code=code)
    applied = list(
        OrderPromotion.objects.filter(order=order).select_related("promotion").order_by("pk")
    )
    if any(line.promotion_id == promotion.pk for line in applied):
        raise Conflict(
            _("The promotion “%(name)s” is applied to this order already.")
            % {"name": promotion.name},
            field="promotion_id",
            code="already_applied",
        )
    exclusive = next((line for line in applied if not line.promotion.combinable), None)
    if exclusive is not None:
        raise Conflict(
            _("The promotion “%(other)s” applied to this order does not combine with others.")
            % {"other": exclusive.promotion.name},
            field="promotion_id",
            code="not_combinable",
        )
    if not promotion.combinable and applied:
        raise Conflict(
            _(
                "The promotion “%(name)s” does not combine with other promotions, and "
                "“%(other)s” is applied to this order."
            )
            % {"name": promotion.name, "other": applied[0].promotion.name},
            field="promotion_id",
            code="not_combinable",
        )
    discount = promotion_discount(promotion, order.vehicle_price)
    already = sum((line.discount for line in applied), ZERO)
    if already + discount > order.vehicle_price:
        raise Conflict(
            _(
                "With the promotion “%(name)s” the discounts (%(total)s ₽) would exceed the "
                "price of the car (%(price)s ₽)."
            )
            % {"name": promotion.name, "total": already + discount, "price": order.vehicle_price},
            field="promotion_id",
            code="discount_exceeds_price",
        )
    try:
        with transaction.atomic():
            line = OrderPromotion.objects.create(
                order=order,
                promotion=promotion,
                discount=discount,
                importer_bonus=promotion.importer_bonus,
                applied_by=user_or_none(actor),
            )
    except IntegrityError:  # unreachable under the order's lock; kept as the last word
        raise Conflict(
            _("The promotion “%(name)s” is applied to this order already.")
            % {"name": promotion.name},
            field="promotion_id",
            code="already_applied",
        ) from None
    order_log(
        order,
        OrderEventKind.PROMOTION,
        actor,
        subject_id=promotion.pk,
        to_value=APPLIED,
        text=promotion.name,
        amount=discount,
    )
    _bump(order)
    line.order = order_recalculate(order, actor=actor)
    line.refresh_from_db(fields=["discount"])
    return line


@transaction.atomic
def promotion_remove(*, actor: Any, order: Order, promotion: Promotion) -> Order:
    order = order_lock(order)
    require_order_access(actor, order)
    require_editable(order)
    line = (
        OrderPromotion.objects.select_for_update()
        .select_related("promotion")
        .filter(order=order, promotion_id=promotion.pk)
        .first()
    )
    if line is None:
        raise NotFound(_("This promotion is not applied to the order."))
    order_log(
        order,
        OrderEventKind.PROMOTION,
        actor,
        subject_id=line.promotion_id,
        from_value=APPLIED,
        to_value=REMOVED,
        text=line.promotion.name,
        amount=line.discount,
    )
    line.delete()
    _bump(order)
    return order_recalculate(order, actor=actor)


# --- additional equipment on an order -----------------------------------------------------


@transaction.atomic
def equipment_add(*, actor: Any, order: Order, package: EquipmentPackage) -> OrderEquipment:
    """Put a package on the order at today's price and cost; a package that cannot be
    installed on this car (or is on the order already) is refused with 409 and why."""
    order = order_lock(order)
    require_order_access(actor, order)
    require_editable(order)
    order = Order.objects.select_related(
        "dealer_center__city",
        "vehicle__make",
        "vehicle__car_model",
        "vehicle__trim",
        "vehicle__city",
        "vehicle__site",
    ).get(pk=order.pk)
    package = EquipmentPackage.objects.select_related("site").get(pk=package.pk)
    if OrderEquipment.objects.filter(order=order, package=package).exists():
        raise Conflict(
            _("The package “%(name)s” is on this order already.") % {"name": package.name},
            field="package_id",
            code="already_added",
        )
    mismatch = package_mismatch(package, order, order_car(order))
    if mismatch is not None:
        code, message = mismatch
        raise Conflict(message, field="package_id", code=code)
    item = OrderEquipment.objects.create(
        order=order,
        package=package,
        price=round_money(package.price),
        cost=round_money(package.cost),
        added_by=user_or_none(actor),
    )
    order_log(
        order,
        OrderEventKind.EQUIPMENT,
        actor,
        subject_id=item.pk,
        to_value=ADDED,
        text=package.name,
        amount=item.price,
    )
    _bump(order)
    item.order = order_recalculate(order, actor=actor)
    return item


@transaction.atomic
def equipment_remove(*, actor: Any, order: Order, item: OrderEquipment) -> Order:
    """Take a package off the order; one already installed stays (409)."""
    order = order_lock(order)
    require_order_access(actor, order)
    require_editable(order)
    locked = (
        OrderEquipment.objects.select_for_update()
        .select_related("package")
        .filter(pk=item.pk, order=order)
        .first()
    )
    if locked is None:
        raise NotFound(_("This package is not on the order."))
    if locked.installation_status == InstallationStatus.INSTALLED:
        raise Conflict(
            _("The package “%(name)s” is installed on the car already and cannot be removed.")
            % {"name": locked.package.name},
            field="item_id",
            code="installed",
        )
    order_log(
        order,
        OrderEventKind.EQUIPMENT,
        actor,
        subject_id=locked.pk,
        from_value=locked.installation_status,
        to_value=REMOVED,
        text=locked.package.name,
        amount=locked.price,
    )
    locked.delete()
    _bump(order)
    return order_recalculate(order, actor=actor)


def _aware(moment: datetime, zone: zoneinfo.ZoneInfo | Any) -> datetime:
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, zone)


@transaction.atomic
def installation_set_status(
    *,
    actor: Any,
    item: OrderEquipment,
    status: str,
    scheduled_for: datetime | None = None,
) -> OrderEquipment:
    """Move an installation along its map (to be installed → scheduled → installed).
    "Scheduled" needs the date and time (a time without an offset is the dealer center's);
    scheduling again moves the date. Installed is final and stamps ``installed_at``.
    Service staff and the sellers of the order may do it while the order is open."""
    _require_perm(actor, "orders.manage_equipment", "orders.sell")
    order = order_lock(item.order_id)
    require_order_access(actor, order)
    if not order.is_active:
        raise Conflict(
            _("The order is %(status)s and can no longer be changed.")
            % {"status": order.get_status_display().lower()},
            code="order_closed",
        )
    if status not in InstallationStatus.values:
        raise ValidationFailed(_("Unknown installation status."), field="status")
    locked = (
        OrderEquipment.objects.select_for_update()
        .select_related("package")
        .filter(pk=item.pk, order=order)
        .first()
    )
    if locked is None:
        raise NotFound(_("This package is not on the order."))
    from_status = locked.installation_status
    if status == InstallationStatus.SCHEDULED:
        if scheduled_for is None:
            raise ValidationFailed(
                _("Enter the date and time of the installation."), field="scheduled_for"
            )
        scheduled_for = _aware(scheduled_for, dealer_center_zone(order.dealer_center))
    rescheduling = status == from_status == InstallationStatus.SCHEDULED
    if status == from_status and not rescheduling:
        return locked
    if not rescheduling and status not in INSTALLATION_TRANSITIONS[from_status]:
        raise TransitionNotAllowed(
            _("An installation cannot go from “%(from)s” to “%(to)s”.")
            % {
                "from": InstallationStatus(from_status).label,
                "to": InstallationStatus(status).label,
            },
            field="status",
        )
    if rescheduling and scheduled_for == locked.scheduled_for:
        return locked
    locked.installation_status = status
    if status == InstallationStatus.SCHEDULED:
        locked.scheduled_for = scheduled_for
    elif status == InstallationStatus.PENDING:
        locked.scheduled_for = None
    if status == InstallationStatus.INSTALLED:
        locked.installed_at = timezone.now()
    locked.save(
        update_fields=["installation_status", "scheduled_for", "installed_at", "updated_at"]
    )
    text = locked.package.name
    if status == InstallationStatus.SCHEDULED and scheduled_for is not None:
        when = timezone.localtime(scheduled_for, dealer_center_zone(order.dealer_center))
        text = f"{text}: {when:%d.%m.%Y %H:%M}"
    order_log(
        order,
        OrderEventKind.EQUIPMENT,
        actor,
        subject_id=locked.pk,
        from_value=from_status,
        to_value=status,
        text=text,
    )
    return locked
