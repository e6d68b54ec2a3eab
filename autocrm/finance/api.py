"""HTTP API of financial products (docs/api.md, "Financial products"): the catalog, and
the products of a sales order (mandatory for the credit and voluntary).

Money goes out as decimal strings; adding or removing a product answers with the order's
new totals, so that a client needs no second call.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    MAX_ID,
    Amount,
    ErrorOut,
    ListParams,
    Page,
    Text,
    body_schema,
    get_or_404,
    json_body,
    money,
    object_id,
    paginate,
    require_perm,
)
from autocrm.core.errors import ValidationFailed
from autocrm.finance import selectors, services
from autocrm.finance.models import FinancialProduct, OrderProduct
from autocrm.orders.api import OrderTotalsOut, order_totals, visible_order

router = Router(tags=["financial products"])

VIEW_PERMISSION = "orders.view_orders"
SELL_PERMISSION = "orders.sell"
MANAGE_PERMISSION = "finance.manage_products"

ProductKindName = Literal[
    "insurance", "assistance", "legal", "bank", "warranty", "service", "other"
]


Term = Annotated[int, Field(ge=0, le=services.MAX_TERM_MONTHS)]


# --- output ------------------------------------------------------------------------------


class ProductOut(Schema):
    id: int
    name: str
    kind: str
    kind_name: str
    counterparty: str
    term_months: int
    price: str = Field(description='A decimal string, e.g. "49900.00".')
    commission: str = Field(description="The dealer's commission incl. VAT.")
    mandatory_for_credit: bool = Field(description="Without it the bank refuses the credit.")
    description: str
    is_active: bool


class UserRef(Schema):
    id: int
    name: str


class OrderProductOut(Schema):
    id: int
    product_id: int
    name: str
    kind: str
    counterparty: str
    term_months: int
    price: str = Field(description="As when added to the order.")
    commission: str = Field(description="As when added to the order.")
    mandatory: bool
    added_by: UserRef | None
    added_at: datetime


class OrderRef(OrderTotalsOut):
    id: int
    version: int


class OrderProductsOut(Schema):
    mandatory: list[OrderProductOut] = Field(description="Required by the bank for credit.")
    voluntary: list[OrderProductOut]
    price_total: str
    commission_total: str
    order: OrderRef


class OrderProductAddedOut(OrderProductOut):
    order: OrderRef


class OrderProductRemovedOut(Schema):
    order: OrderRef


def _product(product: FinancialProduct) -> dict[str, Any]:
    return {
        "id": product.pk,
        "name": product.name,
        "kind": product.kind,
        "kind_name": str(product.get_kind_display()),
        "counterparty": product.counterparty,
        "term_months": product.term_months,
        "price": money(product.price),
        "commission": money(product.commission),
        "mandatory_for_credit": product.mandatory_for_credit,
        "description": product.description,
        "is_active": product.is_active,
    }


def _line(line: OrderProduct) -> dict[str, Any]:
    added_by = line.added_by
    return {
        "id": line.pk,
        "product_id": line.product_id,
        "name": line.product.name,
        "kind": line.product.kind,
        "counterparty": line.product.counterparty,
        "term_months": line.product.term_months,
        "price": money(line.price),
        "commission": money(line.commission),
        "mandatory": line.mandatory,
        "added_by": None
        if added_by is None
        else {"id": added_by.pk, "name": added_by.display_name},
        "added_at": line.created_at,
    }


def _order(order: Any) -> dict[str, Any]:
    return order_totals(order) | {"id": order.pk, "version": order.version}


# --- input -------------------------------------------------------------------------------


class ProductFilters(ListParams):
    kind: ProductKindName | None = None
    mandatory: bool | None = Field(None, description="true: mandatory for credit; false: not.")
    active: bool | None = Field(None, description="true: only products on sale.")


class ProductIn(Schema):
    name: Text = Field("", max_length=200, description="Required.")
    kind: ProductKindName
    counterparty: Text = Field("", max_length=200, description="Insurer, bank, partner.")
    term_months: Term = 0
    price: Amount = Field(..., description="A decimal string or a number.")
    commission: Amount = Field(Decimal("0"), description="The dealer's commission incl. VAT.")
    mandatory_for_credit: bool = False
    description: Text = Field("", max_length=5000)
    is_active: bool = True


class ProductPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(None, max_length=200)
    kind: ProductKindName | None = None
    counterparty: Text | None = Field(None, max_length=200)
    term_months: Term | None = None
    price: Amount | None = None
    commission: Amount | None = None
    mandatory_for_credit: bool | None = None
    description: Text | None = Field(None, max_length=5000)
    is_active: bool | None = None


class OrderProductIn(Schema):
    product_id: int = Field(..., ge=1, le=MAX_ID)


# --- the catalog ---------------------------------------------------------------------------


@router.get(
    "/financial-products",
    response={200: Page[ProductOut], **ERROR_RESPONSES},
    summary="List financial products",
)
def product_list(request: HttpRequest, filters: Query[ProductFilters]) -> dict[str, Any]:
    """The catalog, by name; ``mandatory`` and ``kind`` narrow it, ``active=true`` leaves
    out products no longer sold."""
    require_perm(request, VIEW_PERMISSION)
    queryset = selectors.product_list(
        kind=filters.kind, mandatory=filters.mandatory, active=filters.active
    )
    page = paginate(queryset, filters)
    return {"count": page["count"], "items": [_product(product) for product in page["items"]]}


@router.post(
    "/financial-products",
    response={201: ProductOut, 409: ErrorOut, **ERROR_RESPONSES},
    summary="Add a financial product to the catalog",
    openapi_extra=body_schema(ProductIn),
)
def product_create(request: HttpRequest) -> Status[dict[str, Any]]:
    """Heads, management and administrators keep the catalog; 409 ``duplicate_name`` when
    an active product has the name already."""
    require_perm(request, MANAGE_PERMISSION)
    payload: ProductIn = json_body(request, ProductIn)
    product = services.product_create(actor=request.user, **payload.model_dump())
    return Status(201, _product(product))


@router.get(
    "/financial-products/{product_id}",
    response={200: ProductOut, **DETAIL_ERROR_RESPONSES},
    summary="A financial product",
)
def product_detail(request: HttpRequest, product_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, VIEW_PERMISSION)
    return _product(get_or_404(FinancialProduct.objects.all(), pk=product_id))


@router.patch(
    "/financial-products/{product_id}",
    response={200: ProductOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Change a financial product",
    openapi_extra=body_schema(ProductPatch),
)
def product_change(request: HttpRequest, product_id: int = object_id()) -> dict[str, Any]:
    """Fields left out stay as they are; ``is_active: false`` takes the product off sale.
    Products already on orders keep their price and commission."""
    require_perm(request, MANAGE_PERMISSION)
    product = get_or_404(FinancialProduct.objects.all(), pk=product_id)
    payload: ProductPatch = json_body(request, ProductPatch)
    changes = payload.model_dump(exclude_unset=True)
    for name in ("counterparty", "description"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    for name, value in changes.items():
        if value is None:
            raise ValidationFailed(_("This field cannot be empty."), field=name)
    if changes:
        product = services.product_update(actor=request.user, product=product, **changes)
    return _product(product)


# --- products of an order ------------------------------------------------------------------


@router.get(
    "/orders/{order_id}/products",
    response={200: OrderProductsOut, **DETAIL_ERROR_RESPONSES},
    summary="Financial products of a sales order",
)
def order_product_list(request: HttpRequest, order_id: int = object_id()) -> dict[str, Any]:
    """Split as the order card shows them: mandatory for the credit, and voluntary."""
    require_perm(request, VIEW_PERMISSION)
    order = visible_order(request, order_id)
    products = selectors.order_products(order)
    return {
        "mandatory": [_line(line) for line in products.mandatory],
        "voluntary": [_line(line) for line in products.voluntary],
        "price_total": money(products.price_total),
        "commission_total": money(products.commission_total),
        "order": _order(order),
    }


@router.post(
    "/orders/{order_id}/products",
    response={201: OrderProductAddedOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Add a financial product to a sales order",
    openapi_extra=body_schema(OrderProductIn),
)
def order_product_add(request: HttpRequest, order_id: int = object_id()) -> Status[dict[str, Any]]:
    """201 with the line and the order's new totals. 400 naming ``product_id`` for an
    unknown product; 409 ``product_inactive``, ``product_already_added`` or
    ``order_closed``."""
    require_perm(request, SELL_PERMISSION)
    order = visible_order(request, order_id)
    payload: OrderProductIn = json_body(request, OrderProductIn)
    product = FinancialProduct.objects.filter(pk=payload.product_id).first()
    if product is None:
        raise ValidationFailed(_("No such financial product."), field="product_id")
    line = services.product_add(actor=request.user, order=order, product=product)
    return Status(201, _line(line) | {"order": _order(line.order)})


@router.delete(
    "/orders/{order_id}/products/{product_id}",
    response={200: OrderProductRemovedOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Remove a financial product from a sales order",
)
def order_product_remove(
    request: HttpRequest,
    order_id: int = object_id(),
    product_id: int = object_id("The financial product's id."),
) -> dict[str, Any]:
    """200 with the order's new totals; 404 when the product is not on the order."""
    require_perm(request, SELL_PERMISSION)
    order = visible_order(request, order_id)
    product = get_or_404(FinancialProduct.objects.all(), pk=product_id)
    order = services.product_remove(actor=request.user, order=order, product=product)
    return {"order": _order(order)}
