"""What finance adds to a sales order: the financial products' total, their commissions
as income in the car's deal passport, and the closing of credit applications when the
order is cancelled (see ``orders.extensions``)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Sum
from django.utils.translation import gettext as _

from autocrm.orders.extensions import (
    PassportLine,
    register_amount,
    register_on_cancel,
    register_passport_lines,
)

if TYPE_CHECKING:
    from autocrm.inventory.models import Vehicle
    from autocrm.orders.models import Order


def products_total(order: Order) -> Decimal:
    from autocrm.finance.models import OrderProduct

    total = OrderProduct.objects.filter(order=order).aggregate(s=Sum("price"))["s"]
    return total or Decimal("0")


def passport_lines(vehicle: Vehicle, order: Order | None) -> list[PassportLine]:
    from autocrm.finance.models import OrderProduct

    if order is None:
        return []
    commission = OrderProduct.objects.filter(order=order).aggregate(s=Sum("commission"))["s"]
    if not commission:
        return []
    return [
        PassportLine(
            "income", "product_commissions", _("Financial products: commissions"), commission
        )
    ]


def passport_margins(pairs: Sequence[tuple[int, int | None]]) -> dict[int, Decimal]:
    """The commissions of many cars' orders at once: ``(vehicle id, order id)`` pairs in,
    ``{vehicle id: commission}`` out (``orders.passport.passport_margins``)."""
    from autocrm.finance.models import OrderProduct

    vehicle_of = {order_id: vehicle_id for vehicle_id, order_id in pairs if order_id is not None}
    rows = (
        OrderProduct.objects.filter(order_id__in=vehicle_of)
        .values("order_id")
        .annotate(total=Sum("commission"))
        .order_by()
        .values_list("order_id", "total")
    )
    return {vehicle_of[order_id]: total for order_id, total in rows}


def register() -> None:
    from autocrm.finance.credit_services import credit_applications_close_for_order
    from autocrm.orders.passport import register_passport_margin_source

    register_amount("products_total", products_total)
    register_passport_lines(passport_lines)
    register_passport_margin_source(passport_lines, passport_margins)
    register_on_cancel(credit_applications_close_for_order)
