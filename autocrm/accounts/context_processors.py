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
    switchable = list(dealer_center_list(user=user).only("id", "name", "city__name"))
    active = next((dc for dc in switchable if dc.pk == active_id), None)
    return {
        "nav_items": navigation_for(request),
        "user_roles": sorted(user.roles.all(), key=lambda role: role.name),
        "switchable_dealer_centers": switchable,
        "active_dealer_center": active,
    }
