"""HTML of financial products: the two tabs of the order card (mandatory for the credit,
voluntary) with their pickers, and the catalog page.

Reads go through ``orders.selectors.order_get`` (scoped to the user's dealer centers) and
``finance.selectors``; writes through ``finance.services``. htmx: a change answers with
the refreshed tab and ``HX-Trigger: orderChanged`` so that the order card's totals
reload; a refused change answers with its 4xx status and the reason as plain text.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from rules.contrib.views import permission_required

from autocrm.core.errors import DomainError, NotFound, ValidationFailed
from autocrm.finance import selectors, services
from autocrm.finance.models import FinancialProduct, ProductKind
from autocrm.orders.models import Order
from autocrm.orders.selectors import order_get

ORDER_CHANGED = "orderChanged"
VIEW_PERMISSION = "orders.view_orders"
SELL_PERMISSION = "orders.sell"
MANAGE_PERMISSION = "finance.manage_products"
MAX_ID = 2**63 - 1

view_permission = permission_required(VIEW_PERMISSION, raise_exception=True)
sell_permission = permission_required(SELL_PERMISSION, raise_exception=True)
manage_permission = permission_required(MANAGE_PERMISSION, raise_exception=True)


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _id(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text.isdigit() or not text.isascii() or len(text) > 19:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    if not 1 <= order_id <= MAX_ID:
        raise Http404
    try:
        return order_get(request.user, order_id)
    except NotFound:
        raise Http404 from None


def _group(request: HttpRequest) -> bool:
    """Which tab: ``mandatory=1`` (products the bank requires) or ``mandatory=0``."""
    raw = request.POST.get("mandatory") if request.method == "POST" else None
    raw = raw if raw is not None else request.GET.get("mandatory", "1")
    if raw not in ("0", "1"):
        raise BadRequest("mandatory must be 0 or 1")
    return raw == "1"


def _tab_url(order: Order, mandatory: bool) -> str:
    base = reverse("finance:order_products_tab", args=[order.pk])
    return f"{base}?mandatory={int(mandatory)}"


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _tab(request: HttpRequest, order: Order, mandatory: bool, status: int = 200) -> HttpResponse:
    products = selectors.order_products(order)
    lines = products.mandatory if mandatory else products.voluntary
    can_change = bool(request.user.has_perm(SELL_PERMISSION)) and order.is_editable
    available = list(selectors.products_available(order, mandatory=mandatory)) if can_change else []
    group = "mandatory" if mandatory else "voluntary"
    context: dict[str, Any] = {
        "order": order,
        "mandatory": mandatory,
        "group": group,
        "panel_id": f"order-{order.pk}-products-{group}",
        "tab_url": _tab_url(order, mandatory),
        "lines": lines,
        "price_total": sum((line.price for line in lines), Decimal("0.00")),
        "commission_total": sum((line.commission for line in lines), Decimal("0.00")),
        "can_change": can_change,
        "available": available,
        "next": request.headers.get("HX-Current-URL", "") if _htmx(request) else "",
    }
    return render(request, "finance/_order_products_tab.html", context, status=status)


def _changed(response: HttpResponse) -> HttpResponse:
    response["HX-Trigger"] = ORDER_CHANGED
    return response


def _refused(request: HttpRequest, error: DomainError, back: str) -> HttpResponse:
    if _htmx(request):
        return HttpResponse(
            str(error.message), status=error.status_code, content_type="text/plain; charset=utf-8"
        )
    messages.error(request, str(error.message))
    return HttpResponseRedirect(back)


def _after_change(request: HttpRequest, order: Order, mandatory: bool) -> HttpResponse:
    if _htmx(request):
        return _changed(_tab(request, order, mandatory))
    return HttpResponseRedirect(_next_url(request, _tab_url(order, mandatory)))


# --------------------------------------------------------------------------- order tabs


@require_GET
@login_required
@view_permission
def order_products_tab(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order card's tab of mandatory (``?mandatory=1``) or voluntary products."""
    order = _order_or_404(request, order_id)
    return _tab(request, order, _group(request))


@require_POST
@login_required
@sell_permission
def order_product_add(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    mandatory = _group(request)
    back = _next_url(request, _tab_url(order, mandatory))
    product_id = _id(request.POST.get("product_id"))
    product = (
        FinancialProduct.objects.filter(pk=product_id).first() if product_id is not None else None
    )
    try:
        if product is None:
            raise ValidationFailed(_("Choose a financial product."), field="product_id")
        services.product_add(actor=request.user, order=order, product=product)
    except DomainError as error:
        return _refused(request, error, back)
    return _after_change(request, _order_or_404(request, order_id), mandatory)


@require_POST
@login_required
@sell_permission
def order_product_remove(request: HttpRequest, order_id: int, product_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    mandatory = _group(request)
    back = _next_url(request, _tab_url(order, mandatory))
    product = FinancialProduct.objects.filter(pk=min(product_id, MAX_ID)).first()
    if product is None:
        raise Http404
    try:
        services.product_remove(actor=request.user, order=order, product=product)
    except DomainError as error:
        return _refused(request, error, back)
    return _after_change(request, _order_or_404(request, order_id), mandatory)


# --------------------------------------------------------------------------- catalog


def _amount(raw: str | None) -> Decimal | None:
    text = (raw or "").strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not text:
        return Decimal("0")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _whole(raw: str | None) -> int | None:
    text = (raw or "").strip() or "0"
    return int(text) if text.isdigit() and text.isascii() and len(text) <= 4 else None


@require_GET
@login_required
@view_permission
def product_catalog(request: HttpRequest) -> HttpResponse:
    """Every product of the catalog; those who keep it add products and take them off
    sale here (the admin offers the full form)."""
    kind = request.GET.get("kind") or None
    if kind is not None and kind not in ProductKind.values:
        kind = None
    products = selectors.product_list(kind=kind)
    return render(
        request,
        "finance/catalog.html",
        {
            "products": products,
            "kinds": ProductKind.choices,
            "kind": kind or "",
            "can_manage": request.user.has_perm(MANAGE_PERMISSION),
            "form": {},
            "errors": {},
        },
    )


@require_POST
@login_required
@manage_permission
def product_new(request: HttpRequest) -> HttpResponse:
    data = request.POST
    errors: dict[str, str] = {}
    price = _amount(data.get("price"))
    commission = _amount(data.get("commission"))
    term = _whole(data.get("term_months"))
    if price is None:
        errors["price"] = _("Enter an amount of 0 or more.")
    if commission is None:
        errors["commission"] = _("Enter an amount of 0 or more.")
    if term is None:
        errors["term_months"] = _("Enter a whole number of months.")
    if price is not None and commission is not None and term is not None:
        try:
            product = services.product_create(
                actor=request.user,
                name=data.get("name", ""),
                kind=data.get("kind", ""),
                counterparty=data.get("counterparty", ""),
                term_months=term,
                price=price,
                commission=commission,
                mandatory_for_credit=data.get("mandatory_for_credit") == "1",
                description=data.get("description", ""),
            )
        except DomainError as error:
            errors[error.field or "name"] = str(error.message)
        else:
            messages.success(
                request, _("The product “%(name)s” was added.") % {"name": product.name}
            )
            return HttpResponseRedirect(reverse("finance:product_catalog"))
    return render(
        request,
        "finance/catalog.html",
        {
            "products": selectors.product_list(),
            "kinds": ProductKind.choices,
            "kind": "",
            "can_manage": True,
            "form": data,
            "errors": errors,
        },
        status=400,
    )


@require_POST
@login_required
@manage_permission
def product_toggle(request: HttpRequest, product_id: int) -> HttpResponse:
    """Take a product off sale, or back on sale."""
    product = FinancialProduct.objects.filter(pk=min(product_id, MAX_ID)).first()
    if product is None:
        raise Http404
    try:
        services.product_update(
            actor=request.user, product=product, is_active=not product.is_active
        )
    except DomainError as error:
        messages.error(request, str(error.message))
    return HttpResponseRedirect(reverse("finance:product_catalog"))
