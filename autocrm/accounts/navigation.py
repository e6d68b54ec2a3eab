"""Navigation by module. Each module that exists adds its entry here; a user sees the
entries whose permission he holds. Later apps extend ``MODULES``."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Module:
    key: str
    label: str | Promise
    url_name: str
    permission: str | None = None


MODULES: list[Module] = [
    Module("home", _("Home"), "core:home"),
    Module("structure", _("Dealer centers"), "accounts:dealer_center_list", "accounts.view_structure"),
    Module("staff", _("Staff"), "accounts:user_list", "accounts.view_staff"),
    Module("admin", _("Administration"), "admin:index", "accounts.use_admin"),
]


def navigation_for(request: HttpRequest) -> list[dict[str, object]]:
    items = []
    current = request.path
    for module in MODULES:
        if module.permission and not request.user.has_perm(module.permission):
            continue
        url = reverse(module.url_name)
        active = current == url if module.key == "home" else current.startswith(url)
        items.append({"key": module.key, "label": module.label, "url": url, "active": active})
    return items
