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
    # One line for the module's card on the home dashboard.
    description: str | Promise = ""


MODULES: list[Module] = [
    Module("home", _("Home"), "core:home"),
    Module(
        "stock",
        _("Stock"),
        "inventory:search",
        "inventory.search_stock",
        _("Cars of every site, new and used: search, cards, reservations."),
    ),
    Module(
        "clients",
        _("Clients"),
        "clients:list",
        "clients.view_client",
        _("Clients, their contacts and history across channels."),
    ),
    Module(
        "inbox",
        _("Inbox"),
        "contact_center:inbox",
        "contact_center.view_inbox",
        _("Conversations waiting for an answer."),
    ),
    Module(
        "requests",
        _("Requests"),
        "sales:request_list",
        "sales.view_requests",
        _("Every channel and visit in one list."),
    ),
    Module(
        "deals",
        _("Deals"),
        "sales:deal_board",
        "sales.view_deals",
        _("The sales funnel: pipelines, stages, the board of deals."),
    ),
    Module(
        "orders",
        _("Orders"),
        "orders:order_list",
        "orders.view_orders",
        _("Sales orders: equipment, promotions, invoices and payments, trade-ins."),
    ),
    Module(
        "credit",
        _("Credit applications"),
        "finance:credit_list",
        "orders.view_orders",
        _("Credit applications of all orders: stages, banks' offers, confirmed credits."),
    ),
    Module(
        "appraisals",
        _("Appraisals"),
        "trade_ins:calendar",
        "trade_ins.view_calendar",
        _("The buy-out department's inspections: calendar and appraisals."),
    ),
    Module(
        "promotions",
        _("Promotions"),
        "orders:promotion_list",
        "orders.manage_promotions",
        _("Importer promotions from the bulletins, offered in sales orders."),
    ),
    Module(
        "tasks",
        _("My tasks"),
        "sales:my_tasks",
        "sales.view_tasks",
        _("Overdue, today and upcoming tasks; the calendar."),
    ),
    Module(
        "control",
        _("Control"),
        "sales:control",
        "sales.view_control",
        _("Overdue tasks, idle deals and SLAs per manager."),
    ),
    Module(
        "visit",
        _("Showroom visit"),
        "sales:visit_new",
        "sales.register_visit",
        _("Register a walk-in and hand him to a manager."),
    ),
    Module(
        "structure",
        _("Dealer centers"),
        "accounts:dealer_center_list",
        "accounts.view_structure",
        _("Addresses, brands, working hours, sites and departments."),
    ),
    Module(
        "staff",
        _("Staff"),
        "accounts:user_list",
        "accounts.view_staff",
        _("Who works where and in which role."),
    ),
    Module(
        "admin",
        _("Administration"),
        "admin:index",
        "accounts.use_admin",
        _("Users, roles, dealer centers and reference data."),
    ),
]


def navigation_for(request: HttpRequest) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    current = request.path
    for module in MODULES:
        if module.permission and not request.user.has_perm(module.permission):
            continue
        url = reverse(module.url_name)
        active = current == url if module.key == "home" else current.startswith(url)
        items.append(
            {
                "key": module.key,
                "label": module.label,
                "url": url,
                "active": active,
                "description": module.description,
            }
        )
    return items
