"""Pieces every trade-in service shares: the row lock, the scope check, the one way a
status changes (transition map + history rows in the trade-in and in its order)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.core.audit import user_or_none
from autocrm.core.errors import NotAllowed, TransitionNotAllowed
from autocrm.orders.models import OrderEventKind
from autocrm.orders.services.orders import order_log
from autocrm.trade_ins.models import (
    TRADE_IN_TRANSITIONS,
    AppointmentStatus,
    AppraisalAppointment,
    TradeIn,
    TradeInStatus,
    TradeInStatusChange,
)
from autocrm.trade_ins.scheduling import zone_of


def trade_in_lock(trade_in: TradeIn | int) -> TradeIn:
    """The trade-in, locked for the rest of the transaction. Services that also change
    the order lock the order first (``order_lock``), always in that order."""
    pk = trade_in if isinstance(trade_in, int) else trade_in.pk
    return (
        TradeIn.objects.select_for_update(of=("self",))
        .select_related("dealer_center", "order", "client")
        .get(pk=pk)
    )


def require_trade_in_access(actor: Any, trade_in: TradeIn) -> None:
    if not can_see_dealer_center(actor, trade_in.dealer_center_id):
        raise NotAllowed(_("This trade-in belongs to another dealer center."))


def local_today(trade_in: TradeIn) -> date:
    return timezone.localdate(timezone.now(), zone_of(trade_in.dealer_center))


def local_text(moment: datetime, trade_in: TradeIn) -> str:
    return timezone.localtime(moment, zone_of(trade_in.dealer_center)).strftime("%d.%m.%Y %H:%M")


def require_transition(trade_in: TradeIn, to: str) -> None:
    if to not in TRADE_IN_TRANSITIONS[trade_in.status]:
        raise TransitionNotAllowed(
            _("A trade-in cannot go from “%(from)s” to “%(to)s”.")
            % {"from": trade_in.get_status_display(), "to": TradeInStatus(to).label},
            field="status",
        )


def log_to_order(
    trade_in: TradeIn,
    actor: Any,
    *,
    text: str,
    from_value: str = "",
    to_value: str = "",
    amount: Decimal | None = None,
) -> None:
    if trade_in.order_id is None:
        return
    assert trade_in.order is not None
    order_log(
        trade_in.order,
        OrderEventKind.TRADE_IN,
        actor,
        subject_id=trade_in.pk,
        from_value=from_value,
        to_value=to_value,
        text=text,
        amount=amount,
    )


def set_status(
    trade_in: TradeIn,
    to: str,
    actor: Any,
    *,
    note: str = "",
    amount: Decimal | None = None,
    extra_fields: tuple[str, ...] = (),
) -> None:
    """Move along the transition map, saving ``extra_fields`` too, and write the history
    rows (the trade-in's own and the order's)."""
    require_transition(trade_in, to)
    from_status = trade_in.status
    trade_in.status = to
    trade_in.save(update_fields=["status", "updated_at", *extra_fields])
    TradeInStatusChange.objects.create(
        trade_in=trade_in,
        from_status=from_status,
        to_status=to,
        changed_by=user_or_none(actor),
        note=note[:500],
    )
    log_to_order(
        trade_in,
        actor,
        from_value=from_status,
        to_value=to,
        text=f"{trade_in}: {note}" if note else str(trade_in),
        amount=amount,
    )


def cancel_booked_appointments(trade_in: TradeIn) -> list[AppraisalAppointment]:
    booked = list(
        AppraisalAppointment.objects.select_for_update().filter(
            trade_in=trade_in, status=AppointmentStatus.BOOKED
        )
    )
    for appointment in booked:
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancelled_at = timezone.now()
        appointment.save(update_fields=["status", "cancelled_at", "updated_at"])
    return booked
