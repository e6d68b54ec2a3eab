"""Reads of the sales app, always scoped to the dealer centers the user sees.

Requests of channels tied to no dealer center (the group's central bot or phone line)
have no dealer center until routed; like such conversations they are visible to the
group-level roles only (``communications.selectors``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.scoping import scope_queryset
from autocrm.sales.models import Request


def _start_of(day: date) -> datetime:
    # Kept a day inside the calendar: shifting its first or last day to UTC overflows.
    day = min(max(day, date.min + timedelta(days=1)), date.max - timedelta(days=1))
    return timezone.make_aware(datetime.combine(day, time.min))


def request_list(
    *,
    user: Any,
    status: str | None = None,
    source: str | None = None,
    dealer_center_id: int | None = None,
    client_id: int | None = None,
    opened_from: date | None = None,
    opened_to: date | None = None,
    active_dealer_center_id: int | None = None,
) -> QuerySet[Request]:
    """Requests the user sees, latest activity first. Dates are whole days (inclusive) in
    the current time zone."""
    queryset = scope_queryset(
        Request.objects.select_related("client", "channel", "dealer_center", "responsible"),
        user,
        active_dealer_center_id=active_dealer_center_id,
    )
    if status:
        queryset = queryset.filter(status=status)
    if source:
        queryset = queryset.filter(source=source)
    if dealer_center_id is not None:
        queryset = queryset.filter(dealer_center_id=dealer_center_id)
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    if opened_from is not None:
        queryset = queryset.filter(opened_at__gte=_start_of(opened_from))
    if opened_to is not None and opened_to < date.max:
        queryset = queryset.filter(opened_at__lt=_start_of(opened_to + timedelta(days=1)))
    return queryset.order_by("-last_activity_at", "-pk")


def sales_managers(*, dealer_center_id: int | None) -> QuerySet[Any]:
    """Active sales managers of a dealer center: who a visitor may be handed over to."""
    users = get_user_model().objects.filter(is_active=True, roles__code=RoleCode.SALES_MANAGER)
    if dealer_center_id is None:
        return users.none()
    users = users.filter(dealer_centers=dealer_center_id)
    return (
        get_user_model()
        .objects.filter(pk__in=users.values("pk"))
        .order_by("last_name", "first_name", "username")
    )
