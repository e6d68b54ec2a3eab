"""What finance adds to a sales order: the financial products' total, and their
commissions as income in the car's deal passport (see ``orders.extensions``)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Sum
from django.utils.translation import gettext as _

from autocrm.orders.extensions import PassportLine, register_amount, register_passport_lines

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


def register() -> None:
    register_amount("products_total", products_total)
    register_passport_lines(passport_lines)
