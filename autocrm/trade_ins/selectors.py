"""Reads of trade-ins, appraisers' calendars and free inspection slots, scoped to the
dealer centers the user sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.models import DealerCenter, User
from autocrm.accounts.roles import SUPERVISING_ROLES, RoleCode
from autocrm.accounts.scoping import ALL, scope_queryset, visible_dealer_center_ids
from autocrm.accounts.working_time import schedule_for
from autocrm.core.errors import NotFound
from autocrm.orders.models import Order
from autocrm.trade_ins.models import (
    CREDITED_STATUSES,
    AppointmentStatus,
    AppraisalAppointment,
    AppraisalPlace,
    TradeIn,
)
from autocrm.trade_ins.scheduling import (
    BookingRules,
    appraisers_of,
    booking_rules,
    day_slots,
    opening,
    workload,
)


def order_trade_in_credit(order: Order) -> Decimal:
    """What the order's accepted trade-ins are credited with (``orders.extensions``)."""
    if order.pk is None:
        return Decimal("0")
    total = TradeIn.objects.filter(order=order, status__in=CREDITED_STATUSES).aggregate(
        s=Sum("accepted_amount")
    )["s"]
    return total or Decimal("0")


def trade_ins_visible(user: Any) -> QuerySet[TradeIn]:
    return scope_queryset(TradeIn.objects.all(), user)


def _current_appointments() -> Prefetch:
    # The inspection that counts: the booked one, else the last that took place.
    return Prefetch(
        "appointments",
        queryset=AppraisalAppointment.objects.exclude(status=AppointmentStatus.CANCELLED)
        .select_related("appraiser")
        .order_by("-starts_at", "-pk"),
        to_attr="live_appointments",
    )


def with_details(queryset: QuerySet[TradeIn]) -> QuerySet[TradeIn]:
    return queryset.select_related(
        "client", "dealer_center", "appraisal__appraiser", "vehicle", "order"
    ).prefetch_related(_current_appointments())


def current_appointment(trade_in: TradeIn) -> AppraisalAppointment | None:
    live = getattr(trade_in, "live_appointments", None)
    if live is None:
        live = list(
            trade_in.appointments.exclude(status=AppointmentStatus.CANCELLED)
            .select_related("appraiser")
            .order_by("-starts_at", "-pk")
        )
    booked = [row for row in live if row.status == AppointmentStatus.BOOKED]
    return (booked or live or [None])[0]


def trade_ins_for_order(user: Any, order: Order) -> QuerySet[TradeIn]:
    return with_details(trade_ins_visible(user).filter(order=order)).order_by("created_at", "pk")


def trade_in_get(user: Any, trade_in_id: int) -> TradeIn:
    """The trade-in if the user may see it; NotFound otherwise (its existence is not told)."""
    found = with_details(trade_ins_visible(user)).filter(pk=trade_in_id).first()
    if found is None:
        raise NotFound(_("Trade-in not found."))
    return found


# --- appraisers and their calendars -----------------------------------------------------


def sees_every_calendar(user: Any) -> bool:
    """Heads and the sales floor see every appraiser's calendar of their dealer centers
    (to pick a time); an appraiser sees his own."""
    return bool(user.is_superuser or user.has_role(RoleCode.SALES_MANAGER, *SUPERVISING_ROLES))


def appraisers_visible(user: Any, *, dealer_center_id: int | None = None) -> QuerySet[User]:
    visible = visible_dealer_center_ids(user)
    queryset = User.objects.filter(is_active=True, roles__code=RoleCode.APPRAISER)
    if visible is not ALL:
        queryset = queryset.filter(dealer_centers__in=visible)
    if dealer_center_id is not None:
        queryset = queryset.filter(dealer_centers__id=dealer_center_id)
    ids = queryset.values_list("pk", flat=True)
    # Without duplicates from the joins, in name order.
    return User.objects.filter(pk__in=ids).order_by("last_name", "first_name", "pk")


def appraiser_get(user: Any, appraiser_id: int) -> User:
    """An appraiser whose calendar the user may open; NotFound when out of scope."""
    own = appraiser_id == user.pk and user.has_role(RoleCode.APPRAISER)
    if not own and not sees_every_calendar(user):
        raise NotFound(_("Appraiser not found."))
    found = appraisers_visible(user).filter(pk=appraiser_id).first()
    if found is None:
        raise NotFound(_("Appraiser not found."))
    return found


def appointments_between(
    user: Any,
    *,
    start: datetime,
    end: datetime,
    appraiser_ids: list[int] | None = None,
    include_cancelled: bool = False,
) -> QuerySet[AppraisalAppointment]:
    """Appointments starting in ``[start, end)`` of trade-ins the user sees."""
    queryset = scope_queryset(
        AppraisalAppointment.objects.all(), user, field="trade_in__dealer_center"
    ).filter(starts_at__gte=start, starts_at__lt=end)
    if appraiser_ids is not None:
        queryset = queryset.filter(appraiser_id__in=appraiser_ids)
    if not include_cancelled:
        queryset = queryset.exclude(status=AppointmentStatus.CANCELLED)
    return queryset.select_related(
        "appraiser", "trade_in__client", "trade_in__dealer_center", "trade_in__order"
    ).order_by("starts_at", "pk")


# --- free slots ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FreeSlot:
    starts_at: datetime
    ends_at: datetime
    appraisers: list[User]


@dataclass(frozen=True)
class DayPlan:
    dealer_center: DealerCenter
    day: date
    place: str
    rules: BookingRules
    opens_at: datetime | None
    closes_at: datetime | None
    appraisers: list[User]
    slots: list[FreeSlot]
    beyond_horizon: bool = False

    @property
    def free_slots(self) -> list[FreeSlot]:
        return [slot for slot in self.slots if slot.appraisers]

    def slots_of(self, appraiser: User) -> list[FreeSlot]:
        return [slot for slot in self.slots if appraiser in slot.appraisers]


def free_slots(
    *, dealer_center: DealerCenter, day: date, place: str = AppraisalPlace.DEALER_CENTER
) -> DayPlan:
    """The day's inspection slots in the future and who is free for each. A slot for the
    client's address also needs the travel buffer after it free."""
    rules = booking_rules(dealer_center.pk)
    schedule = schedule_for(dealer_center.pk)
    zone = schedule.time_zone
    appraisers = list(appraisers_of(dealer_center.pk))
    by_id = {appraiser.pk: appraiser for appraiser in appraisers}
    hours = opening(schedule, day)
    now = timezone.now()
    horizon = timezone.localdate(now, zone) + timedelta(days=rules.max_days_ahead)
    if hours is None or day > horizon:
        return DayPlan(
            dealer_center,
            day,
            place,
            rules,
            None,
            None,
            appraisers,
            [],
            beyond_horizon=day > horizon,
        )
    day_start = datetime.combine(day, time.min, tzinfo=zone)
    load = workload(
        by_id,
        start=day_start - rules.buffer,
        end=day_start + timedelta(days=1) + rules.buffer,
        zone=zone,
    )
    slots = [
        FreeSlot(slot.starts_at, slot.ends_at, [by_id[pk] for pk in slot.appraiser_ids])
        for slot in day_slots(
            schedule=schedule,
            rules=rules,
            day=day,
            place=place,
            candidates=list(by_id),
            load=load,
            not_before=now,
        )
    ]
    return DayPlan(dealer_center, day, place, rules, hours[0], hours[1], appraisers, slots)
