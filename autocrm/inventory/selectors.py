"""Reads of the stock, scoped by dealer center. The faceted search lives in search.py."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from autocrm.accounts.scoping import scope_queryset
from autocrm.inventory.models import Inspection, Reservation, Vehicle


def vehicle_queryset(*, user: Any, active_dealer_center_id: int | None = None) -> QuerySet[Vehicle]:
    """Cars in stock the user may see: his dealer centers' cars and group stock."""
    return scope_queryset(
        Vehicle.objects.filter(in_stock=True),
        user,
        include_unassigned=True,
        active_dealer_center_id=active_dealer_center_id,
    )


def vehicle_card(*, user: Any, vehicle_id: int) -> Vehicle | None:
    """One car with everything its card shows, or None when missing or out of scope."""
    return (
        vehicle_queryset(user=user)
        .select_related(
            "make",
            "car_model",
            "trim",
            "body",
            "drive",
            "engine",
            "transmission",
            "color",
            "logistics_status",
            "city",
            "site",
            "consignor",
            "dealer_center",
        )
        .prefetch_related(
            "logistics_history__from_status",
            "logistics_history__to_status",
            "logistics_history__changed_by",
            "restrictions",
            Prefetch(
                "inspections",
                queryset=Inspection.objects.select_related("inspector").prefetch_related(
                    "defects", "photos"
                ),
            ),
            Prefetch(
                "reservations",
                queryset=Reservation.objects.select_related("client", "manager").order_by(
                    "-created_at"
                ),
            ),
        )
        .filter(pk=vehicle_id)
        .first()
    )
