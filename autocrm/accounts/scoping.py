"""The one place that decides which dealer centers' rows a user may see.

Every selector in every app restricts its queryset with ``scope_queryset``. Group-level
roles (see ``roles.GROUP_LEVEL_ROLES``) and superusers see everything; everybody else sees
the dealer centers they are attached to. ``active_dealer_center_id`` narrows the result to
the dealer center chosen in the UI switcher, never widens it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from autocrm.accounts.models import DealerCenter

M = TypeVar("M", bound=Model)

ALL = None  # sentinel: no restriction


def visible_dealer_center_ids(user: Any) -> frozenset[int] | None:
    """IDs of dealer centers the user may see, or ``None`` meaning all of them."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if user.is_group_level:
        return ALL
    cached: frozenset[int] | None = getattr(user, "_visible_dealer_center_ids", None)
    if cached is None:
        cached = frozenset(user.dealer_centers.values_list("id", flat=True))
        user._visible_dealer_center_ids = cached
    return cached


def can_see_dealer_center(user: Any, dealer_center_id: int | None) -> bool:
    visible = visible_dealer_center_ids(user)
    return visible is ALL or (dealer_center_id is not None and dealer_center_id in visible)


def scope_queryset(
    queryset: QuerySet[M],
    user: Any,
    *,
    field: str = "dealer_center",
    include_unassigned: bool = False,
    active_dealer_center_id: int | None = None,
) -> QuerySet[M]:
    """Restrict ``queryset`` to rows whose ``field`` (a path to a DealerCenter) the user sees.

    ``field`` may cross relations (``"order__dealer_center"``) and may be ``"pk"`` when the
    queryset is of dealer centers themselves. ``include_unassigned`` also keeps rows with
    no dealer center (group-wide records such as a central storage site).
    """
    visible = visible_dealer_center_ids(user)
    lookup = f"{field}__in" if field != "pk" else "pk__in"
    condition: Q | None = None
    if visible is not ALL:
        condition = Q(**{lookup: visible})
    if active_dealer_center_id is not None and can_see_dealer_center(user, active_dealer_center_id):
        active = Q(**{field if field != "pk" else "pk": active_dealer_center_id})
        condition = active if condition is None else condition & active
    if condition is None:
        return queryset
    if include_unassigned and field != "pk":
        condition |= Q(**{f"{field}__isnull": True})
    return queryset.filter(condition)


def visible_dealer_centers(user: Any) -> QuerySet[DealerCenter]:
    return scope_queryset(DealerCenter.objects.all(), user, field="pk")
