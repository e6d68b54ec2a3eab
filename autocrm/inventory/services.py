"""Writes of the stock: vehicles, logistics moves, restrictions, inspections, reservations.

Every service appends the touched vehicle ids to ``StockChange`` in its own transaction,
which is how in-memory search indexes in every process learn about the write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.clients.models import Client
from autocrm.core.audit import acting_user, user_or_none
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.core.money import round_money
from autocrm.inventory.models import (
    CarModel,
    Condition,
    Defect,
    Inspection,
    InspectionPhoto,
    LogisticsStatus,
    LogisticsStatusChange,
    Reservation,
    ReservationStatus,
    Restriction,
    StockChange,
    Trim,
    Vehicle,
    power_hp_from_kw,
    power_kw_from_hp,
)
from autocrm.inventory.vin import check_digit_matches, is_valid_vin, normalize_vin

DEFAULT_RESERVATION_HOURS = 72
MAX_RESERVATION_HOURS = 24 * 30


def record_stock_change(vehicle_ids: Iterable[int]) -> None:
    StockChange.objects.bulk_create([StockChange(vehicle_id=pk) for pk in vehicle_ids])


STOCK_CHANGE_RETENTION = timedelta(days=7)


def stock_changes_prune(now: datetime | None = None) -> int:
    """Drop change-log rows older than a week, keeping the newest row.

    Running indexes caught up long ago; one that has slept longer finds the row it saw
    gone and rebuilds, so pruning never makes an index miss a write. The newest row stays
    so that the log's position survives a quiet week.
    """
    cutoff = (now or timezone.now()) - STOCK_CHANGE_RETENTION
    newest = StockChange.objects.order_by("-id").values_list("id", flat=True).first()
    if newest is None:
        return 0
    deleted, _ = StockChange.objects.filter(changed_at__lt=cutoff, id__lt=newest).delete()
    return deleted


@dataclass
class VehicleWrite:
    vehicle: Vehicle
    warnings: list[dict[str, str]] = field(default_factory=list)


def vehicle_validate(vehicle: Vehicle) -> list[dict[str, str]]:
    """Normalise and check an unsaved vehicle's fields; raise on errors, return warnings.

    Also used by forms to show errors before calling vehicle_create / vehicle_update.
    """
    warnings: list[dict[str, str]] = []
    vehicle.vin = normalize_vin(vehicle.vin)
    if not is_valid_vin(vehicle.vin):
        raise ValidationFailed(
            _("VIN must be 17 characters: Latin letters except I, O, Q and digits."), field="vin"
        )
    if not check_digit_matches(vehicle.vin):
        warnings.append(
            {
                "field": "vin",
                "message": _(
                    "The VIN check digit does not match (normal for most non-North-American cars)."
                ),
            }
        )
    vehicle.stock_code = (vehicle.stock_code or vehicle.vin).strip()
    if vehicle.car_model.make_id != vehicle.make_id:
        raise ValidationFailed(_("The model belongs to another make."), field="model")
    if vehicle.trim is not None and vehicle.trim.car_model_id != vehicle.car_model_id:
        raise ValidationFailed(_("The trim belongs to another model."), field="trim")
    if vehicle.site.city_id != vehicle.city_id:
        raise ValidationFailed(_("The site is in another city."), field="site")
    if vehicle.condition not in Condition.values:
        raise ValidationFailed(_("Condition must be new or used."), field="condition")
    try:
        vehicle.price = round_money(vehicle.price)
    except (InvalidOperation, TypeError):
        raise ValidationFailed(_("Price must be a number."), field="price") from None
    if vehicle.price < 0:
        raise ValidationFailed(_("Price cannot be negative."), field="price")
    if vehicle.mileage is None or vehicle.mileage < 0:
        raise ValidationFailed(_("Mileage cannot be negative."), field="mileage")
    for name in ("model_year", "pts_year"):
        year = getattr(vehicle, name)
        if year is not None and not 1950 <= year <= timezone.now().year + 2:
            raise ValidationFailed(_("Year is out of range."), field=name)
    if (
        vehicle.warranty_start
        and vehicle.warranty_end
        and vehicle.warranty_end < vehicle.warranty_start
    ):
        raise ValidationFailed(_("Warranty ends before it starts."), field="warranty_end")
    # Power: either figure derives the other when only one is known.
    if vehicle.power_hp is not None and vehicle.power_kw is None:
        vehicle.power_kw = power_kw_from_hp(Decimal(vehicle.power_hp))
    elif vehicle.power_kw is not None and vehicle.power_hp is None:
        vehicle.power_hp = power_hp_from_kw(Decimal(vehicle.power_kw))
    if vehicle.dealer_center_id is None and vehicle.site.dealer_center_id is not None:
        vehicle.dealer_center_id = vehicle.site.dealer_center_id
    return warnings


def vehicle_ensure_unique(vehicle: Vehicle) -> None:
    duplicate = Vehicle.objects.filter(vin=vehicle.vin, in_stock=True).exclude(pk=vehicle.pk)
    if vehicle.in_stock and duplicate.exists():
        raise Conflict(_("A vehicle with this VIN is already in stock."), field="vin")
    if Vehicle.objects.filter(stock_code=vehicle.stock_code).exclude(pk=vehicle.pk).exists():
        raise Conflict(_("This stock code is already used."), field="stock_code")


@transaction.atomic
def vehicle_create(*, actor: Any, **fields: Any) -> VehicleWrite:
    """Create a car in stock. ``fields`` are Vehicle model fields (objects for relations)."""
    fields.setdefault("stock_in_date", timezone.localdate())
    fields.setdefault("reservation_status", ReservationStatus.FREE)
    if "logistics_status" not in fields:
        fields["logistics_status"] = LogisticsStatus.objects.get(code="at_warehouse")
    try:
        vehicle = Vehicle(**fields)
    except TypeError as error:
        raise ValidationFailed(str(error)) from None
    warnings = vehicle_validate(vehicle)
    vehicle_ensure_unique(vehicle)
    try:
        with transaction.atomic(), acting_user(actor):
            vehicle.save()
    except IntegrityError:
        raise Conflict(
            _("A vehicle with this VIN or stock code already exists."), field="vin"
        ) from None
    LogisticsStatusChange.objects.create(
        vehicle=vehicle,
        from_status=None,
        to_status=vehicle.logistics_status,
        changed_by=user_or_none(actor),
    )
    record_stock_change([vehicle.pk])
    return VehicleWrite(vehicle, warnings)


# Fields that have their own workflow and may not be set through a plain update.
_WORKFLOW_FIELDS = frozenset({"logistics_status", "reservation_status", "in_stock", "id", "pk"})


@transaction.atomic
def vehicle_update(*, actor: Any, vehicle: Vehicle, **changes: Any) -> VehicleWrite:
    blocked = sorted(set(changes) & _WORKFLOW_FIELDS)
    if blocked:
        raise ValidationFailed(_("This field changes through its own action."), field=blocked[0])
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    for name, value in changes.items():
        if not hasattr(vehicle, name):
            raise ValidationFailed(_("Unknown field."), field=name)
        setattr(vehicle, name, value)
    if "power_hp" in changes and "power_kw" not in changes:
        vehicle.power_kw = None
    if "power_kw" in changes and "power_hp" not in changes:
        vehicle.power_hp = None
    warnings = vehicle_validate(vehicle)
    vehicle_ensure_unique(vehicle)
    with acting_user(actor):
        vehicle.save()
    record_stock_change([vehicle.pk])
    return VehicleWrite(vehicle, warnings)


@transaction.atomic
def logistics_status_change(
    *, actor: Any, vehicle: Vehicle, to_status: LogisticsStatus, comment: str = ""
) -> LogisticsStatusChange:
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    if not to_status.is_active:
        raise TransitionNotAllowed(
            _("This logistics status is no longer used."), field="logistics_status"
        )
    if vehicle.logistics_status_id == to_status.pk:
        raise TransitionNotAllowed(
            _("The vehicle already has this logistics status."), field="logistics_status"
        )
    change = LogisticsStatusChange.objects.create(
        vehicle=vehicle,
        from_status_id=vehicle.logistics_status_id,
        to_status=to_status,
        changed_by=user_or_none(actor),
        comment=comment,
    )
    vehicle.logistics_status = to_status
    if to_status.code == "delivered":
        vehicle.actual_delivery_date = vehicle.actual_delivery_date or timezone.localdate()
    with acting_user(actor):
        vehicle.save(update_fields=["logistics_status", "actual_delivery_date", "updated_at"])
    record_stock_change([vehicle.pk])
    return change


@transaction.atomic
def restriction_add(
    *,
    actor: Any,
    vehicle: Vehicle,
    kind: str,
    source: str,
    starts_on: date | None = None,
    ends_on: date | None = None,
    note: str = "",
) -> Restriction:
    if starts_on and ends_on and ends_on < starts_on:
        raise ValidationFailed(_("The restriction ends before it starts."), field="ends_on")
    with acting_user(actor):
        restriction = Restriction(
            vehicle=vehicle,
            kind=kind,
            source=source,
            starts_on=starts_on,
            ends_on=ends_on,
            note=note,
            created_by=user_or_none(actor),
        )
        try:
            restriction.full_clean(exclude=["vehicle", "created_by"])
        except Exception as error:  # django ValidationError → our error naming the field
            field_name = next(iter(getattr(error, "error_dict", {"kind": None})))
            raise ValidationFailed(_("Invalid restriction."), field=field_name) from None
        restriction.save()
        if kind == "pledge" and not vehicle.pledged:
            vehicle.pledged = True
            vehicle.save(update_fields=["pledged", "updated_at"])
        if kind == "ord" and not vehicle.ord_present:
            vehicle.ord_present = True
            vehicle.save(update_fields=["ord_present", "updated_at"])
    record_stock_change([vehicle.pk])
    return restriction


@dataclass
class DefectInput:
    body_zone: str
    kind: str
    severity: str
    repair_estimate: Decimal = Decimal("0")
    note: str = ""


@transaction.atomic
def inspection_record(
    *,
    actor: Any,
    vehicle: Vehicle,
    inspector: Any,
    inspected_at: datetime,
    mileage: int,
    result: str,
    notes: str = "",
    defects: Iterable[DefectInput] = (),
    photos: Iterable[Any] = (),
) -> Inspection:
    if mileage < 0:
        raise ValidationFailed(_("Mileage cannot be negative."), field="mileage")
    inspection = Inspection(
        vehicle=vehicle,
        inspector=inspector,
        inspected_at=inspected_at,
        mileage=mileage,
        result=result,
        notes=notes,
    )
    _full_clean(inspection, exclude=["vehicle", "inspector"])
    inspection.save()
    for index, item in enumerate(defects):
        defect = Defect(
            inspection=inspection,
            body_zone=item.body_zone,
            kind=item.kind,
            severity=item.severity,
            repair_estimate=round_money(item.repair_estimate),
            note=item.note,
        )
        if defect.repair_estimate < 0:
            raise ValidationFailed(
                _("A repair estimate cannot be negative."), field=f"defects.{index}.repair_estimate"
            )
        _full_clean(defect, exclude=["inspection"], prefix=f"defects.{index}.")
        defect.save()
    for photo in photos:
        InspectionPhoto.objects.create(inspection=inspection, image=photo)
    if mileage > vehicle.mileage:
        with acting_user(actor):
            vehicle.mileage = mileage
            vehicle.save(update_fields=["mileage", "updated_at"])
    record_stock_change([vehicle.pk])
    return inspection


def _full_clean(instance: Any, *, exclude: list[str], prefix: str = "") -> None:
    from django.core.exceptions import ValidationError

    try:
        instance.full_clean(exclude=exclude, validate_constraints=False)
    except ValidationError as error:
        name, messages = next(iter(error.message_dict.items()))
        raise ValidationFailed(" ".join(messages), field=prefix + name) from None


@transaction.atomic
def reservation_create(
    *,
    actor: Any,
    vehicle: Vehicle,
    client: Client | None = None,
    hours: int = DEFAULT_RESERVATION_HOURS,
    comment: str = "",
) -> Reservation:
    """Reserve a free car. Two concurrent calls: the partial unique index lets one win."""
    if not 1 <= hours <= MAX_RESERVATION_HOURS:
        raise ValidationFailed(_("A reservation lasts from 1 hour to 30 days."), field="hours")
    if (
        client is not None
        and client.dealer_center_id is not None
        and not can_see_dealer_center(actor, client.dealer_center_id)
    ):
        raise NotAllowed(_("This client belongs to another dealer center."), field="client_id")
    locked = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    if not locked.in_stock or locked.reservation_status == ReservationStatus.SOLD:
        raise Conflict(
            _("The vehicle is sold or no longer in stock."), field="vehicle", code="not_available"
        )
    if (
        locked.reservation_status == ReservationStatus.RESERVED
        and not Reservation.objects.filter(vehicle=locked, is_active=True).exists()
    ):
        # Held by a sales order (orders keep their own hold on the car).
        raise Conflict(
            _("The vehicle is reserved by a sales order."),
            field="vehicle",
            code="already_reserved",
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            reservation = Reservation.objects.create(
                vehicle=locked,
                client=client,
                manager=actor,
                expires_at=now + timedelta(hours=hours),
                comment=comment,
            )
    except IntegrityError:
        raise Conflict(
            _("The vehicle is already reserved."), field="vehicle", code="already_reserved"
        ) from None
    locked.reservation_status = ReservationStatus.RESERVED
    with acting_user(actor):
        locked.save(update_fields=["reservation_status", "updated_at"])
    record_stock_change([locked.pk])
    vehicle.reservation_status = locked.reservation_status
    return reservation


class ReleaseReason:
    MANUAL = "manual"
    EXPIRED = "expired"
    SOLD = "sold"
    ORDERED = "ordered"  # the client's hold became a sales order's


@transaction.atomic
def reservation_release(
    *, actor: Any, vehicle: Vehicle, reason: str = ReleaseReason.MANUAL
) -> Reservation:
    locked = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    reservation = (
        Reservation.objects.select_for_update().filter(vehicle=locked, is_active=True).first()
    )
    if reservation is None:
        raise Conflict(_("The vehicle is not reserved."), field="vehicle", code="not_reserved")
    reservation.is_active = False
    reservation.released_at = timezone.now()
    reservation.released_by = user_or_none(actor)
    reservation.release_reason = reason
    reservation.save(
        update_fields=["is_active", "released_at", "released_by", "release_reason", "updated_at"]
    )
    if locked.reservation_status == ReservationStatus.RESERVED:
        locked.reservation_status = ReservationStatus.FREE
        with acting_user(actor):
            locked.save(update_fields=["reservation_status", "updated_at"])
    record_stock_change([locked.pk])
    vehicle.reservation_status = locked.reservation_status
    return reservation


def reservations_release_expired(now: datetime | None = None) -> int:
    """Release every active reservation past its expiry; each in its own transaction."""
    now = now or timezone.now()
    expired = list(
        Reservation.objects.filter(is_active=True, expires_at__lte=now).values_list(
            "vehicle_id", flat=True
        )
    )
    released = 0
    for vehicle_id in expired:
        vehicle = Vehicle(pk=vehicle_id)
        try:
            with transaction.atomic():
                # Re-check under the lock: the manager may have extended or released it meanwhile.
                if (
                    not Reservation.objects.select_for_update()
                    .filter(vehicle_id=vehicle_id, is_active=True, expires_at__lte=now)
                    .exists()
                ):
                    continue
                reservation_release(actor=None, vehicle=vehicle, reason=ReleaseReason.EXPIRED)
                released += 1
        except Conflict:
            continue
    return released


def catalog_model_get_or_create(*, make: Any, name: str) -> CarModel:
    car_model, _created = CarModel.objects.get_or_create(make=make, name=name.strip())
    return car_model


def catalog_trim_get_or_create(*, car_model: CarModel, name: str) -> Trim:
    trim, _created = Trim.objects.get_or_create(car_model=car_model, name=name.strip())
    return trim
