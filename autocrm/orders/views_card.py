"""HTML pages of sales orders: the list, a new order from a stock car or from the importer,
the order card with its header, totals and tabs, and the orders panel of the client card.

Views parse input, call one selector or service and render. Every read is scoped by the
selectors: an order outside the user's dealer centers is a 404, never a 403 that would
confirm it exists.

htmx: a change answers with ``HX-Trigger: orderChanged``; the card's header and totals
listen for it on the body and reload themselves, so every change shows without a page
reload. A refused change answers with its 4xx status and the header showing the reason
(forms marked ``data-swap-errors`` swap it in, see ``static/js/orders.js``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rules.contrib.views import permission_required

from autocrm.accounts.roles import SUPERVISING_ROLES
from autocrm.accounts.scoping import visible_dealer_centers
from autocrm.core.errors import DomainError, NotFound, ValidationFailed
from autocrm.orders import selectors, selectors_card
from autocrm.orders.forms_card import (
    MAX_ID,
    ImporterOrderForm,
    ImporterTransitionForm,
    OrderCreateForm,
    OrderFilterForm,
    PriceForm,
    TransitionForm,
)
from autocrm.orders.models import (
    IMPORTER_ORDER_TRANSITIONS,
    ORDER_TRANSITIONS,
    ImporterOrderStatus,
    InstallationStatus,
    InvoiceStatus,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    RefundStatus,
)
from autocrm.orders.services.orders import (
    importer_order_transition,
    order_create_from_vehicle,
    order_create_importer,
    order_transition,
    order_update,
)

VIEW = "orders.view_orders"
SELL = "orders.sell"
PASSPORT = "orders.view_deal_passport"
ORDER_CHANGED = "orderChanged"
PAGE_SIZE = 50
HISTORY_LIMIT = 200
CLIENT_PANEL_LIMIT = 20
LIST_FILTERS = (
    "q",
    "status",
    "payment_status",
    "manager",
    "dealer_center",
    "created_from",
    "created_to",
)

view_permission = permission_required(VIEW, raise_exception=True)
sell_permission = permission_required(SELL, raise_exception=True)


# --------------------------------------------------------------------------- helpers


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _active(request: HttpRequest) -> int | None:
    return getattr(request, "active_dealer_center_id", None)


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 11 and int(text) <= MAX_ID else None


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    try:
        return selectors.order_get(request.user, order_id)
    except NotFound:
        raise Http404 from None


def _changed(response: HttpResponse) -> HttpResponse:
    response["HX-Trigger"] = ORDER_CHANGED
    return response


def _url_or_none(name: str, args: list[Any], query: str = "") -> str | None:
    """The URL of a tab another part of the project serves, or None while it does not
    exist (the tab then says so instead of failing the whole card)."""
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return None
    return f"{url}?{query}" if query else url


def _is_supervisor(user: Any) -> bool:
    return bool(user.is_superuser or user.has_role(*SUPERVISING_ROLES))


def _query(request: HttpRequest, keys: tuple[str, ...]) -> str:
    query = QueryDict(mutable=True)
    for key in keys:
        value = request.GET.get(key, "")
        if value:
            query[key] = value
    return query.urlencode()


# --------------------------------------------------------------------------- the list


@require_GET
@login_required
@view_permission
def order_list(request: HttpRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET or None, user=request.user)
    queryset = selectors_card.order_search(
        request.user, form.filters(), active_dealer_center_id=_active(request)
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "orders": page.object_list,
        "query": _query(request, LIST_FILTERS),
        "can_sell": request.user.has_perm(SELL),
    }
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "orders/order_list.html", context, status=status)


# --------------------------------------------------------------------------- new orders


def _client_context(
    request: HttpRequest, client_id: int | None, deal_id: int | None
) -> dict[str, Any]:
    client = selectors_card.client_for_order(request.user, client_id)
    deals = list(selectors_card.client_deals(request.user, client.pk if client else None)[:50])
    return {
        "client": client,
        "client_choices": [client] if client else [],
        "deals": deals,
        "deal_id": deal_id if any(deal.pk == deal_id for deal in deals) else None,
    }


def _picked(request: HttpRequest, form: Any) -> tuple[int | None, int | None]:
    """The client and the deal chosen so far: the posted ones, else the URL's prefill."""
    source = request.POST if form.is_bound else request.GET
    return _int(source.get("client")), _int(source.get("deal"))


def _add_error(form: Any, error: DomainError) -> None:
    field = (error.field or "").removeprefix("importer_order.").removesuffix("_id")
    form.add_error(field if field in form.fields else None, str(error.message))


def _resolve_client_and_deal(request: HttpRequest, data: dict[str, Any]) -> tuple[Any, Any]:
    client = selectors_card.client_for_order(request.user, data["client"])
    if client is None:
        raise ValidationFailed(_("Pick the client among the clients you see."), field="client")
    deal = None
    if data.get("deal"):
        deal = selectors_card.client_deals(request.user, client.pk).filter(pk=data["deal"]).first()
        if deal is None:
            raise ValidationFailed(_("Pick one of the client's deals."), field="deal")
    return client, deal


@require_http_methods(["GET", "POST"])
@login_required
@sell_permission
def order_new(request: HttpRequest) -> HttpResponse:
    """A new order for a car in stock (``?vehicle=``), from the vehicle card."""
    vehicle_id = _int(request.GET.get("vehicle"))
    vehicle = selectors_card.orderable_vehicle(request.user, vehicle_id) if vehicle_id else None
    if vehicle is None:
        raise Http404
    holder = selectors.active_order_for_vehicle(vehicle.pk)
    form = OrderCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            client, deal = _resolve_client_and_deal(request, form.cleaned_data)
            order = order_create_from_vehicle(
                actor=request.user,
                client=client,
                vehicle=vehicle,
                deal=deal,
                comment=form.cleaned_data["comment"],
            )
        except DomainError as error:
            _add_error(form, error)
        else:
            messages.success(
                request, _("Order No. %(number)s is created.") % {"number": order.number}
            )
            return HttpResponseRedirect(reverse("orders:order_detail", args=[order.pk]))
    client_id, deal_id = _picked(request, form)
    context = {
        "form": form,
        "vehicle": vehicle,
        "holder": holder,
        **_client_context(request, client_id, deal_id),
    }
    return render(request, "orders/order_new.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
@sell_permission
def importer_order_new(request: HttpRequest) -> HttpResponse:
    """A new order of a car from the importer for a client."""
    initial: dict[str, Any] = {}
    ids = list(visible_dealer_centers(request.user).values_list("pk", flat=True)[:2])
    initial["dealer_center"] = _active(request) or (ids[0] if len(ids) == 1 else None)
    form = ImporterOrderForm(
        request.POST if request.method == "POST" else None, user=request.user, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            client, deal = _resolve_client_and_deal(request, data)
            order = order_create_importer(
                actor=request.user,
                client=client,
                dealer_center=data["dealer_center"],
                car_model=data["car_model"],
                trim=data["trim"],
                color=data["color"],
                options=data["options"],
                wished_date=data["wished_date"],
                expected_price=data["expected_price"],
                deal=deal,
                comment=data["comment"],
            )
        except DomainError as error:
            _add_error(form, error)
        else:
            messages.success(
                request, _("Order No. %(number)s is created.") % {"number": order.number}
            )
            return HttpResponseRedirect(reverse("orders:order_detail", args=[order.pk]))
    client_id, deal_id = _picked(request, form)
    context = {"form": form, **_client_context(request, client_id, deal_id)}
    return render(
        request, "orders/importer_order_new.html", context, status=400 if form.errors else 200
    )


@require_GET
@login_required
@sell_permission
def client_options(request: HttpRequest) -> HttpResponse:
    """Clients matching the search box of the new-order forms (radio buttons)."""
    query = request.GET.get("q", "")[:100]
    context = {
        "clients": selectors_card.client_options(request.user, query),
        "query": query.strip(),
        "picked": _int(request.GET.get("client")),
    }
    return render(request, "orders/card/_client_options.html", context)


@require_GET
@login_required
@sell_permission
def deal_options(request: HttpRequest) -> HttpResponse:
    """The picked client's deals for the new-order forms."""
    context = _client_context(request, _int(request.GET.get("client")), None)
    return render(request, "orders/card/_deal_options.html", context)


# --------------------------------------------------------------------------- the card


@dataclass(frozen=True)
class Tab:
    key: str
    label: Any
    url: str | None
    placeholder: Any = ""


# (from, to) of the status moves the card offers as buttons, with their labels. "Paid"
# follows the payments by itself; "back from delivery" is a head's correction.
ACTION_LABELS: dict[tuple[str, str], Any] = {
    (OrderStatus.DRAFT, OrderStatus.CONFIRMED): pgettext_lazy("order action", "Confirm"),
    (OrderStatus.CONFIRMED, OrderStatus.DRAFT): pgettext_lazy("order action", "Back to draft"),
    (OrderStatus.PAID, OrderStatus.READY): pgettext_lazy("order action", "Ready for delivery"),
    (OrderStatus.READY, OrderStatus.DELIVERED): pgettext_lazy("order action", "Delivered"),
    (OrderStatus.READY, OrderStatus.PAID): pgettext_lazy("order action", "Back from delivery"),
}


def _actions(request: HttpRequest, order: Order) -> list[dict[str, Any]]:
    if not request.user.has_perm(SELL):
        return []
    actions = []
    for to in ORDER_TRANSITIONS[order.status]:
        label = ACTION_LABELS.get((order.status, to))
        if label is None:
            continue
        if (order.status, to) == (OrderStatus.READY, OrderStatus.PAID) and not _is_supervisor(
            request.user
        ):
            continue
        actions.append({"to": to, "label": label})
    order_of = list(OrderStatus.values)
    return sorted(actions, key=lambda action: order_of.index(action["to"]))


def _header_context(
    request: HttpRequest,
    order: Order,
    *,
    error: DomainError | None = None,
    price_form: PriceForm | None = None,
    importer_form: ImporterTransitionForm | None = None,
    cancel_form: TransitionForm | None = None,
) -> dict[str, Any]:
    can_sell = request.user.has_perm(SELL)
    importer = getattr(order, "importer_order", None) if order.kind == "importer" else None
    importer_next = []
    if importer is not None and order.status != OrderStatus.CANCELLED:
        importer_next = [
            (status, ImporterOrderStatus(status).label)
            for status in ImporterOrderStatus.values
            if status in IMPORTER_ORDER_TRANSITIONS[importer.status]
        ]
    if importer_form is None and importer_next:
        importer_form = ImporterTransitionForm(dealer_center_id=order.dealer_center_id)
    if importer_form is not None:
        importer_form._field("to").choices = importer_next
    return {
        "order": order,
        "importer": importer,
        "actions": _actions(request, order),
        "can_sell": can_sell,
        "can_cancel": can_sell and OrderStatus.CANCELLED in ORDER_TRANSITIONS[order.status],
        "can_edit_price": can_sell and order.is_editable,
        "price_form": price_form or PriceForm(initial={"vehicle_price": order.vehicle_price}),
        "cancel_form": cancel_form or TransitionForm(initial={"to": OrderStatus.CANCELLED}),
        "importer_form": importer_form if can_sell and importer_next else None,
        "importer_can_arrive": any(
            status == ImporterOrderStatus.ARRIVED for status, _label in importer_next
        ),
        "error": error,
    }


def _tabs(request: HttpRequest, order: Order) -> list[Tab]:
    args = [order.pk]
    tabs = [
        Tab(
            "equipment",
            pgettext_lazy("order tab", "Equipment"),
            _url_or_none("orders:equipment_tab", args),
        ),
        Tab(
            "promotions",
            pgettext_lazy("order tab", "Promotions"),
            _url_or_none("orders:promotions_tab", args),
        ),
        Tab(
            "invoices",
            pgettext_lazy("order tab", "Invoices"),
            _url_or_none("orders:invoices_tab", args),
        ),
        Tab(
            "credit",
            pgettext_lazy("order tab", "Credit applications"),
            _url_or_none("finance:credit_tab", args),
        ),
        Tab(
            "products-mandatory",
            pgettext_lazy("order tab", "Mandatory financial products"),
            _url_or_none("finance:order_products_tab", args, "mandatory=1"),
        ),
        Tab(
            "products-voluntary",
            pgettext_lazy("order tab", "Voluntary financial products"),
            _url_or_none("finance:order_products_tab", args, "mandatory=0"),
        ),
        Tab(
            "trade-ins",
            pgettext_lazy("order tab", "Trade-in"),
            _url_or_none("trade_ins:order_tab", args),
        ),
        Tab(
            "documents",
            gettext_lazy("Documents"),
            _url_or_none("orders:documents_tab", args),
        ),
        Tab(
            "history",
            gettext_lazy("History"),
            reverse("orders:order_history", args=args),
        ),
    ]
    if order.vehicle_id is not None and request.user.has_perm(PASSPORT):
        tabs.append(
            Tab(
                "passport",
                gettext_lazy("Deal passport"),
                _url_or_none("orders:vehicle_passport", [order.vehicle_id]),
            )
        )
    return tabs


@require_GET
@login_required
@view_permission
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    context = {
        **_header_context(request, order),
        "tabs": _tabs(request, order),
    }
    return render(request, "orders/card/detail.html", context)


@require_GET
@login_required
@view_permission
def order_header(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    return render(request, "orders/card/_header.html", _header_context(request, order))


@require_GET
@login_required
@view_permission
def order_totals(request: HttpRequest, order_id: int) -> HttpResponse:
    """The totals panel; it reloads itself on ``orderChanged``."""
    order = _order_or_404(request, order_id)
    return render(request, "orders/card/_totals.html", {"order": order})


def _event_value(event: OrderEvent, value: str) -> str:
    """A stored status code of the history as its label."""
    if not value:
        return ""
    kinds: dict[str, Any] = {
        OrderEventKind.STATUS: OrderStatus,
        OrderEventKind.IMPORTER: ImporterOrderStatus,
        OrderEventKind.INVOICE: InvoiceStatus,
        OrderEventKind.REFUND: RefundStatus,
        OrderEventKind.EQUIPMENT: InstallationStatus,
    }
    choices = kinds.get(event.kind)
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    return value


@require_GET
@login_required
@view_permission
def order_history(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    events = list(selectors_card.order_history(order)[: HISTORY_LIMIT + 1])
    rows = [
        {
            "event": event,
            "from": _event_value(event, event.from_value),
            "to": _event_value(event, event.to_value),
        }
        for event in events[:HISTORY_LIMIT]
    ]
    context = {"order": order, "rows": rows, "more": len(events) > HISTORY_LIMIT}
    return render(request, "orders/card/_history.html", context)


# --------------------------------------------------------------------------- card actions


def _after_action(request: HttpRequest, order: Order, message: str) -> HttpResponse:
    if _htmx(request):
        return _changed(HttpResponse(status=204))
    messages.success(request, message)
    return HttpResponseRedirect(reverse("orders:order_detail", args=[order.pk]))


def _refused(request: HttpRequest, order_id: int, error: DomainError, **forms: Any) -> HttpResponse:
    order = _order_or_404(request, order_id)
    if _htmx(request):
        context = _header_context(request, order, error=error, **forms)
        return render(request, "orders/card/_header.html", context, status=error.status_code)
    messages.error(request, str(error.message))
    return HttpResponseRedirect(reverse("orders:order_detail", args=[order.pk]))


def _first_error(form: Any) -> ValidationFailed:
    field, errors = next(iter(form.errors.items()))
    return ValidationFailed(str(errors[0]), field=None if field == "__all__" else field)


@require_POST
@login_required
@sell_permission
def order_transition_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    form = TransitionForm(request.POST)
    try:
        if not form.is_valid():
            raise _first_error(form)
        to = form.cleaned_data["to"]
        order = order_transition(
            actor=request.user, order=order, to=to, reason=form.cleaned_data["reason"]
        )
    except DomainError as error:
        cancel_form = form if request.POST.get("to") == OrderStatus.CANCELLED else None
        return _refused(request, order_id, error, cancel_form=cancel_form)
    return _after_action(
        request,
        order,
        _("The order is now “%(status)s”.") % {"status": order.get_status_display()},
    )


@require_POST
@login_required
@sell_permission
def order_price(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    form = PriceForm(request.POST)
    try:
        if not form.is_valid():
            raise _first_error(form)
        order = order_update(
            actor=request.user, order=order, vehicle_price=form.cleaned_data["vehicle_price"]
        )
    except DomainError as error:
        return _refused(request, order_id, error, price_form=form)
    return _after_action(request, order, _("The price is saved."))


@require_POST
@login_required
@sell_permission
def importer_transition(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    form = ImporterTransitionForm(request.POST, dealer_center_id=order.dealer_center_id)
    try:
        if not form.is_valid():
            raise _first_error(form)
        data = form.cleaned_data
        to = data["to"]
        order = importer_order_transition(
            actor=request.user,
            order=order,
            to=to,
            importer_reference=data["importer_reference"],
            arrival=form.arrival() if to == ImporterOrderStatus.ARRIVED else None,
        )
    except DomainError as error:
        return _refused(request, order_id, error, importer_form=form)
    return _after_action(request, order, _("The importer order is moved on."))


# --------------------------------------------------------------------------- client card


@require_GET
@login_required
def client_orders_panel(request: HttpRequest, client_id: int) -> HttpResponse:
    """The client's orders on his card (loaded with htmx); empty for users without orders."""
    if not request.user.has_perm(VIEW):
        return HttpResponse("")
    if selectors_card.client_for_order(request.user, client_id) is None:
        raise Http404
    orders = list(
        selectors.order_list(request.user, client_id=client_id).select_related(
            "importer_order__car_model__make"
        )[: CLIENT_PANEL_LIMIT + 1]
    )
    context = {
        "client_id": client_id,
        "orders": orders[:CLIENT_PANEL_LIMIT],
        "more": len(orders) > CLIENT_PANEL_LIMIT,
        "can_sell": request.user.has_perm(SELL),
    }
    return render(request, "orders/card/_client_orders.html", context)
