"""What the base layout needs on every page: navigation, roles, the dealer-center switcher."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from autocrm.accounts.navigation import navigation_for
from autocrm.accounts.selectors import dealer_center_list


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    active_id = getattr(request, "active_dealer_center_id", None)
    # Runs on every page: one light query (no brands, no region), scoped like every list.
    switchable = list(
        dealer_center_list(user=user)
        .select_related(None)
        .prefetch_related(None)
        .select_related("city")
        .only("id", "name", "city__name")
    )
    active = next((dc for dc in switchable if dc.pk == active_id), None)
    return {
        # What the user works with right now: the switcher's choice, else all he may see.
        # The home dashboard lists these (core cannot import accounts' selectors).
        "current_dealer_centers": [active] if active else switchable,
        "nav_items": navigation_for(request),
        "user_roles": sorted(user.roles.all(), key=lambda role: str(role.name)),
        "switchable_dealer_centers": switchable,
        "active_dealer_center": active,
    }
