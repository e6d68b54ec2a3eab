"""Reads of the accounts app, always scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from autocrm.accounts.models import City, DealerCenter, Role, Site, User
from autocrm.accounts.scoping import ALL, scope_queryset, visible_dealer_center_ids


def dealer_center_list(
    *, user: Any, active_dealer_center_id: int | None = None
) -> QuerySet[DealerCenter]:
    return scope_queryset(
        DealerCenter.objects.select_related("city", "city__region").prefetch_related("brands"),
        user,
        field="pk",
        active_dealer_center_id=active_dealer_center_id,
    )


def site_list(*, user: Any, active_dealer_center_id: int | None = None) -> QuerySet[Site]:
    """Sites of the user's dealer centers plus group-wide sites (tied to no dealer center)."""
    return scope_queryset(
        Site.objects.select_related("city", "dealer_center"),
        user,
        include_unassigned=True,
        active_dealer_center_id=active_dealer_center_id,
    )


def city_list(*, user: Any) -> QuerySet[City]:
    """Cities where the user sees a dealer center or a site."""
    cities = City.objects.select_related("region")
    visible = visible_dealer_center_ids(user)
    if visible is ALL:
        return cities
    return cities.filter(
        Q(dealer_centers__in=visible) | Q(sites__dealer_center__in=visible)
    ).distinct()


def user_list(*, user: Any, active_dealer_center_id: int | None = None) -> QuerySet[User]:
    """Employees attached to the dealer centers the user sees (everybody for group roles)."""
    users = User.objects.filter(is_active=True).prefetch_related(
        Prefetch("roles", queryset=Role.objects.order_by("code")),
        Prefetch("dealer_centers", queryset=DealerCenter.objects.order_by("name")),
    )
    visible = visible_dealer_center_ids(user)
    if visible is not ALL:
        users = users.filter(dealer_centers__in=visible)
    if active_dealer_center_id is not None:
        users = users.filter(dealer_centers=active_dealer_center_id)
    return users.distinct()
