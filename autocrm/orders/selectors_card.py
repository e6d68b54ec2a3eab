"""Reads behind the order screens: the filtered list of orders, the options of the
new-order form and an order's history. All of them start from the scoped selectors of
``orders.selectors``, ``clients.selectors`` and ``sales.selectors``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Case, Q, QuerySet, Value, When
from django.utils import timezone

from autocrm.clients.models import Client
from autocrm.clients.selectors import client_list, client_search
from autocrm.clients.services import search_text
from autocrm.inventory.models import Vehicle
from autocrm.inventory.selectors import vehicle_queryset
from autocrm.orders.models import Order, OrderEvent
from autocrm.orders.selectors import order_list
from autocrm.sales.models import Deal, DealState
from autocrm.sales.selectors import deal_list

# Longer queries are not a name or a VIN anybody types.
MAX_QUERY_LENGTH = 100
CLIENT_OPTIONS_LIMIT = 20
# Fewer characters of a VIN match half the stock.
MIN_VIN_PART = 4


@dataclass(frozen=True)
class OrderFilters:
    status: str | None = None
    payment_status: str | None = None
    manager_id: int | None = None
    dealer_center_id: int | None = None
    created_from: date | None = None
    created_to: date | None = None
    query: str = ""


def _start_of(day: date) -> datetime:
    # Kept a day inside the calendar: shifting its first or last day to UTC overflows.
    day = min(max(day, date.min + timedelta(days=1)), date.max - timedelta(days=1))
    return timezone.make_aware(datetime.combine(day, time.min))


def order_search(
    user: Any, filters: OrderFilters, *, active_dealer_center_id: int | None = None
) -> QuerySet[Order]:
    """Orders the user sees matching the list's filters, newest first. Dates are whole
    days (inclusive) in the current time zone; ``query`` is words of the client's name, a
    part of the car's VIN or the order's number."""
    queryset = order_list(
        user,
        status=filters.status or None,
        manager_id=filters.manager_id,
        dealer_center_id=filters.dealer_center_id,
    ).select_related("importer_order__car_model", "importer_order__make")
    if active_dealer_center_id is not None:  # the switcher narrows, never widens
        queryset = queryset.filter(dealer_center_id=active_dealer_center_id)
    if filters.payment_status:
        queryset = queryset.filter(payment_status=filters.payment_status)
    if filters.created_from is not None:
        queryset = queryset.filter(created_at__gte=_start_of(filters.created_from))
    if filters.created_to is not None and filters.created_to < date.max - timedelta(days=1):
        queryset = queryset.filter(created_at__lt=_start_of(filters.created_to + timedelta(days=1)))
    text = filters.query.strip()[:MAX_QUERY_LENGTH]
    if text:
        condition = Q()
        if not text.isdigit():  # digits are an order's number or a piece of a VIN
            for word in search_text(text).split():
                condition &= Q(client__search_name__contains=word)
        compact = text.replace(" ", "").upper()
        if compact.isalnum() and len(compact) >= MIN_VIN_PART:
            condition |= Q(vehicle__vin__contains=compact)
        if text.isdigit() and len(text) < 19:
            condition |= Q(pk=int(text))  # the order's number
        queryset = queryset.filter(condition)
    return queryset.order_by("-created_at", "-pk")


def orderable_vehicle(user: Any, vehicle_id: int) -> Vehicle | None:
    """A car in stock the user sees, with what the new-order page shows of it."""
    return (
        vehicle_queryset(user=user)
        .select_related("make", "car_model", "trim", "city", "site", "dealer_center")
        .filter(pk=vehicle_id)
        .first()
    )


def client_options(user: Any, query: str) -> list[Client]:
    """Clients to pick for a new order: a phone, an e-mail or words of the name."""
    if not query.strip():
        return []
    return list(
        client_search(user=user, q=query)
        .select_related("dealer_center")
        .order_by("-pk")[:CLIENT_OPTIONS_LIMIT]
    )


def client_for_order(user: Any, client_id: int | None) -> Client | None:
    if client_id is None:
        return None
    return (
        client_list(user=user, include_merged=False)
        .select_related("dealer_center")
        .prefetch_related("phones")
        .filter(pk=client_id)
        .first()
    )


def client_deals(user: Any, client_id: int | None) -> QuerySet[Deal]:
    """The client's deals an order may belong to (open ones first)."""
    if client_id is None:
        return Deal.objects.none()
    open_first = Case(When(state=DealState.OPEN, then=Value(0)), default=Value(1))
    return deal_list(user=user, client_id=client_id).order_by(open_first, "-created_at", "-pk")


def order_history(order: Order) -> QuerySet[OrderEvent]:
    return order.events.select_related("changed_by").order_by("-created_at", "-pk")
