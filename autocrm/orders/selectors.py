"""Reads of sales orders, scoped to the dealer centers the user sees."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from autocrm.accounts.scoping import scope_queryset
from autocrm.core.errors import NotFound
from autocrm.orders.models import Order


def orders_visible(user: Any) -> QuerySet[Order]:
    return scope_queryset(Order.objects.all(), user)


def order_list(
    user: Any,
    *,
    status: str | None = None,
    client_id: int | None = None,
    vehicle_id: int | None = None,
    deal_id: int | None = None,
    manager_id: int | None = None,
    dealer_center_id: int | None = None,
) -> QuerySet[Order]:
    queryset = orders_visible(user).select_related(
        "client", "manager", "dealer_center", "vehicle__make", "vehicle__car_model"
    )
    filters = {
        "status": status,
        "client_id": client_id,
        "vehicle_id": vehicle_id,
        "deal_id": deal_id,
        "manager_id": manager_id,
        "dealer_center_id": dealer_center_id,
    }
    return queryset.filter(**{k: v for k, v in filters.items() if v is not None})


def order_get(user: Any, order_id: int) -> Order:
    """The order if the user may see it; NotFound otherwise (its existence is not told)."""
    order = (
        orders_visible(user)
        .select_related(
            "client",
            "manager",
            "dealer_center__city",
            "issuer",
            "deal",
            "vehicle__make",
            "vehicle__car_model",
            "vehicle__trim",
            "vehicle__city",
            "vehicle__site",
            "importer_order__car_model__make",
            "importer_order__trim",
        )
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound(_("Order not found."))
    return order


def active_order_for_vehicle(vehicle_id: int) -> Order | None:
    from autocrm.orders.models import ACTIVE_ORDER_STATUSES

    return Order.objects.filter(vehicle_id=vehicle_id, status__in=ACTIVE_ORDER_STATUSES).first()
