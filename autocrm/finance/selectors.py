"""Reads of financial products: the catalog, and the products of an order split as the
order card shows them (mandatory for the credit, voluntary)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from autocrm.finance.models import FinancialProduct, OrderProduct
from autocrm.orders.models import Order


def product_list(
    *, kind: str | None = None, mandatory: bool | None = None, active: bool | None = None
) -> QuerySet[FinancialProduct]:
    """The catalog (group-wide: products are not tied to a dealer center)."""
    queryset = FinancialProduct.objects.all()
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    if mandatory is not None:
        queryset = queryset.filter(mandatory_for_credit=mandatory)
    if active is not None:
        queryset = queryset.filter(is_active=active)
    return queryset.order_by("name", "pk")


def order_product_lines(order: Order | int) -> QuerySet[OrderProduct]:
    order_id = order if isinstance(order, int) else order.pk
    return (
        OrderProduct.objects.filter(order_id=order_id)
        .select_related("product", "added_by")
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class OrderProducts:
    mandatory: list[OrderProduct]
    voluntary: list[OrderProduct]

    @property
    def lines(self) -> list[OrderProduct]:
        return [*self.mandatory, *self.voluntary]

    @property
    def price_total(self) -> Decimal:
        return sum((line.price for line in self.lines), Decimal("0.00"))

    @property
    def commission_total(self) -> Decimal:
        return sum((line.commission for line in self.lines), Decimal("0.00"))


def order_products(order: Order | int) -> OrderProducts:
    """The order's products: those the bank requires for the credit, and the others."""
    lines = list(order_product_lines(order))
    return OrderProducts(
        mandatory=[line for line in lines if line.mandatory],
        voluntary=[line for line in lines if not line.mandatory],
    )


def products_available(order: Order, *, mandatory: bool) -> QuerySet[FinancialProduct]:
    """Active products of one group that are not on the order yet (the tab's picker)."""
    taken = OrderProduct.objects.filter(order=order).values("product_id")
    return product_list(mandatory=mandatory, active=True).exclude(pk__in=taken)
