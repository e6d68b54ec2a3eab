"""Orders on pages of lower apps and status colours of the order screens.

The vehicle card belongs to ``inventory``, which may not import ``orders`` (layer rule);
its template loads this library instead, and the tags below add the car's orders, the
"create order" button and the deal passport block.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from autocrm.inventory.models import ReservationStatus
from autocrm.orders.models import OrderStatus, PaymentStatus
from autocrm.orders.selectors import active_order_for_vehicle, order_list

register = template.Library()

VEHICLE_ORDERS_LIMIT = 10
STATUS_COLORS: dict[str, str] = {
    OrderStatus.DRAFT: "secondary",
    OrderStatus.CONFIRMED: "primary",
    OrderStatus.PAID: "success",
    OrderStatus.READY: "info",
    OrderStatus.DELIVERED: "dark",
    OrderStatus.CANCELLED: "danger",
}
PAYMENT_COLORS: dict[str, str] = {
    PaymentStatus.UNPAID: "secondary",
    PaymentStatus.PARTLY_PAID: "warning",
    PaymentStatus.PAID: "success",
    PaymentStatus.OVERPAID: "danger",
}


@register.filter
def order_status_color(status: str) -> str:
    return STATUS_COLORS.get(status, "secondary")


@register.filter
def payment_status_color(status: str) -> str:
    return PAYMENT_COLORS.get(status, "secondary")


def passport_url(vehicle_id: int) -> str | None:
    """The deal passport partial, or None while it is not served."""
    try:
        return reverse("orders:vehicle_passport", args=[vehicle_id])
    except NoReverseMatch:
        return None


def _user(context: template.Context) -> Any:
    request = context.get("request")
    return getattr(request, "user", None)


def _vehicle_orders_context(context: template.Context, vehicle: Any) -> dict[str, Any]:
    # The card shows the button and the block: read once per request.
    request = context.get("request")
    cache: dict[int, dict[str, Any]] = getattr(request, "_orders_vehicle_blocks", {})
    if vehicle.pk not in cache:
        cache[vehicle.pk] = _read_vehicle_orders(_user(context), vehicle)
        if request is not None:
            request._orders_vehicle_blocks = cache
    return cache[vehicle.pk]


def _read_vehicle_orders(user: Any, vehicle: Any) -> dict[str, Any]:
    can_view = bool(user is not None and user.has_perm("orders.view_orders"))
    can_sell = bool(user is not None and user.has_perm("orders.sell"))
    holder = active_order_for_vehicle(vehicle.pk) if can_view or can_sell else None
    orders: list[Any] = []
    if can_view:
        orders = list(
            order_list(user, vehicle_id=vehicle.pk)
            .select_related(None)
            .select_related("client")[:VEHICLE_ORDERS_LIMIT]
        )
    # The holder's number and link only for those who see it (another dealer center's
    # order is only said to exist).
    visible_holder = None
    if holder is not None and can_view:
        visible_holder = order_list(user, vehicle_id=vehicle.pk).filter(pk=holder.pk).first()
    orderable = (
        vehicle.in_stock and vehicle.reservation_status != ReservationStatus.SOLD and holder is None
    )
    return {
        "vehicle": vehicle,
        "can_view": can_view,
        "holder": holder,
        "visible_holder": visible_holder,
        "orders": orders,
        "can_create": can_sell and orderable,
    }


@register.inclusion_tag("orders/card/_vehicle_order_action.html", takes_context=True)
def vehicle_order_action(context: template.Context, vehicle: Any) -> dict[str, Any]:
    """The vehicle card's "Create order" button, or the link to the order holding the car."""
    return _vehicle_orders_context(context, vehicle)


@register.inclusion_tag("orders/card/_vehicle_orders.html", takes_context=True)
def vehicle_orders(context: template.Context, vehicle: Any) -> dict[str, Any]:
    """The "Orders" block of the vehicle card: the car's orders the user sees."""
    return _vehicle_orders_context(context, vehicle)


@register.inclusion_tag("orders/card/_vehicle_passport.html", takes_context=True)
def vehicle_passport(context: template.Context, vehicle: Any) -> dict[str, Any]:
    """The "Deal passport" block of the vehicle card, collapsed; its table loads when the
    block is opened."""
    user = _user(context)
    allowed = bool(user is not None and user.has_perm("orders.view_deal_passport"))
    return {
        "vehicle": vehicle,
        "allowed": allowed,
        "url": passport_url(vehicle.pk) if allowed else None,
    }


@register.inclusion_tag("orders/card/_vehicle_passport_toggle.html", takes_context=True)
def vehicle_passport_toggle(context: template.Context, vehicle: Any) -> dict[str, Any]:
    """The "Open" button of the car's "Deal passport" field."""
    user = _user(context)
    allowed = bool(user is not None and user.has_perm("orders.view_deal_passport"))
    return {"vehicle": vehicle, "url": passport_url(vehicle.pk) if allowed else None}
