"""HTTP API of sales orders (docs/api.md, "Sales orders"): creating an order from a stock
car or from the importer, the order with its totals, edits, the status workflow, the
importer order's workflow and the order's history.

Every endpoint calls one selector or service. The lookups here turn the ids and names of
the body into objects the caller may see, so that bad input is refused (4xx naming the
field) before anything is written. Money goes out as decimal strings ("1829900.00").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from autocrm.accounts.models import Brand, DealerCenter
from autocrm.accounts.scoping import can_see_dealer_center, scope_queryset
from autocrm.accounts.selectors import site_list
from autocrm.clients.models import Client
from autocrm.clients.selectors import client_list
from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    Amount,
    ErrorOut,
    Id,
    IdOrName,
    ListParams,
    Page,
    Text,
    body_schema,
    json_body,
    money,
    object_id,
    paginate,
    require_perm,
)
from autocrm.core.errors import DomainError, NotFound, ValidationFailed
from autocrm.inventory.models import CarModel, Color, Trim, Vehicle
from autocrm.orders import selectors
from autocrm.orders.models import (
    ImporterOrder,
    ImporterOrderStatus,
    Order,
    OrderEvent,
)
from autocrm.orders.services.orders import (
    importer_order_transition,
    order_create_from_vehicle,
    order_create_importer,
    order_transition,
    order_update,
)
from autocrm.sales.models import Deal
from autocrm.sales.selectors import deal_list

router = Router(tags=["orders"])

VIEW_PERMISSION = "orders.view_orders"
SELL_PERMISSION = "orders.sell"

# The largest amount a MoneyField holds (14 digits, 2 of them kopecks).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9000, 12, 31)
NAME_LENGTH = 100  # make, model and trim names (inventory's catalog)

OrderStatusName = Literal["draft", "confirmed", "paid", "ready", "delivered", "cancelled"]
ImporterStatusName = Literal[
    "requested", "confirmed", "in_production", "shipped", "arrived", "cancelled"
]
OrderKindName = Literal["stock", "importer"]


# --- output ------------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class VehicleRef(Schema):
    id: int
    vin: str
    stock_code: str
    make: str
    model: str
    trim: str | None
    price: str = Field(description='A decimal string, e.g. "1829900.00".')


class ImporterOrderOut(Schema):
    status: str = Field(description="requested, confirmed, in_production, shipped, arrived.")
    status_name: str
    make: Ref
    model: Ref
    trim: Ref | None
    color: str
    options: str
    wished_date: date | None
    expected_price: str | None
    importer_reference: str


class OrderTotalsOut(Schema):
    """The order's money, always current (decimal strings)."""

    vehicle_price: str
    equipment_total: str
    discount_total: str
    products_total: str
    trade_in_credit: str
    total: str = Field(description="Vehicle + equipment + products − discounts.")
    invoiced_total: str
    paid_total: str = Field(description="Payments less refunds.")
    balance_due: str = Field(description="Total − trade-in credit − paid.")
    payment_status: str = Field(description="unpaid, partly_paid, paid or overpaid.")


class OrderOut(OrderTotalsOut):
    id: int
    number: str
    kind: str = Field(description="stock or importer.")
    status: str = Field(description="draft, confirmed, paid, ready, delivered, cancelled.")
    status_name: str
    client: Ref
    deal_id: int | None
    dealer_center: Ref
    manager: Ref
    vehicle: VehicleRef | None
    importer_order: ImporterOrderOut | None
    issuer: Ref | None
    comment: str
    cancel_reason: str
    version: int
    created_at: datetime
    confirmed_at: datetime | None
    delivered_at: datetime | None
    closed_at: datetime | None


class OrderEventOut(Schema):
    id: int
    kind: str = Field(
        description="status, importer, change, equipment, promotion, product, invoice, "
        "payment, refund, trade_in, document, credit."
    )
    kind_name: str
    subject_id: int | None = Field(description="The invoice, product, … the row is about.")
    from_value: str
    to_value: str
    text: str
    amount: str | None
    changed_by: Ref | None
    at: datetime


def _ref(obj: Any, name: str | None = None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {"id": obj.pk, "name": name if name is not None else str(obj)}


def _user_ref(user: Any) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "name": user.display_name}


def order_totals(order: Order) -> dict[str, Any]:
    """The order's totals as the API shows them (also used by the apps above orders)."""
    return {
        "vehicle_price": money(order.vehicle_price),
        "equipment_total": money(order.equipment_total),
        "discount_total": money(order.discount_total),
        "products_total": money(order.products_total),
        "trade_in_credit": money(order.trade_in_credit),
        "total": money(order.total),
        "invoiced_total": money(order.invoiced_total),
        "paid_total": money(order.paid_total),
        "balance_due": money(order.balance_due),
        "payment_status": order.payment_status,
    }


def _vehicle(vehicle: Vehicle | None) -> dict[str, Any] | None:
    if vehicle is None:
        return None
    return {
        "id": vehicle.pk,
        "vin": vehicle.vin,
        "stock_code": vehicle.stock_code,
        "make": vehicle.make.name,
        "model": vehicle.car_model.name,
        "trim": vehicle.trim.name if vehicle.trim is not None else None,
        "price": money(vehicle.price),
    }


def _importer_order(importer_order: ImporterOrder | None) -> dict[str, Any] | None:
    if importer_order is None:
        return None
    trim = importer_order.trim
    return {
        "status": importer_order.status,
        "status_name": str(importer_order.get_status_display()),
        "make": _ref(importer_order.make, importer_order.make.name),
        "model": _ref(importer_order.car_model, importer_order.car_model.name),
        "trim": _ref(trim, trim.name) if trim is not None else None,
        "color": importer_order.color,
        "options": importer_order.options,
        "wished_date": importer_order.wished_date,
        "expected_price": money(importer_order.expected_price),
        "importer_reference": importer_order.importer_reference,
    }


def order_out(order: Order) -> dict[str, Any]:
    return order_totals(order) | {
        "id": order.pk,
        "number": order.number,
        "kind": order.kind,
        "status": order.status,
        "status_name": str(order.get_status_display()),
        "client": _ref(order.client, order.client.display_name),
        "deal_id": order.deal_id,
        "dealer_center": _ref(order.dealer_center, order.dealer_center.name),
        "manager": _user_ref(order.manager),
        "vehicle": _vehicle(order.vehicle),
        "importer_order": _importer_order(getattr(order, "importer_order", None)),
        "issuer": _ref(order.issuer, order.issuer.name) if order.issuer is not None else None,
        "comment": order.comment,
        "cancel_reason": order.cancel_reason,
        "version": order.version,
        "created_at": order.created_at,
        "confirmed_at": order.confirmed_at,
        "delivered_at": order.delivered_at,
        "closed_at": order.closed_at,
    }


# What the answer shows besides what the list selector joins already.
ORDER_RELATED = (
    "vehicle__trim",
    "issuer",
    "importer_order__make",
    "importer_order__car_model",
    "importer_order__trim",
)


def _fresh_order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    return order_out(selectors.order_get(request.user, order_id))


def visible_order(request: HttpRequest, order_id: int) -> Order:
    """The order to act on, or 404 (an order of another dealer center answers alike)."""
    order = selectors.orders_visible(request.user).filter(pk=order_id).first()
    if order is None:
        raise NotFound("Not found.")
    return order


# --- lookups of the caller's objects ------------------------------------------------------


def _client(request: HttpRequest, client_id: int) -> Client:
    # A client of another dealer center answers like a missing one.
    client = client_list(user=request.user).filter(pk=client_id).first()
    if client is None:
        raise NotFound(_("No such client."), field="client_id")
    return client


def _vehicle_of(request: HttpRequest, vehicle_id: int) -> Vehicle:
    # Cars out of stock are found too, so that a sold car is a 409 rather than a 404.
    visible = scope_queryset(Vehicle.objects.all(), request.user, include_unassigned=True)
    vehicle = visible.filter(pk=vehicle_id).first()
    if vehicle is None:
        raise NotFound(_("No such vehicle."), field="vehicle_id")
    return vehicle


def _deal(request: HttpRequest, deal_id: int | None) -> Deal | None:
    if deal_id is None:
        return None
    deal = deal_list(user=request.user).select_related(None).filter(pk=deal_id).first()
    if deal is None:
        raise NotFound(_("No such deal."), field="deal_id")
    return deal


def _dealer_center(dealer_center_id: int | None) -> DealerCenter:
    if dealer_center_id is None:
        raise ValidationFailed(
            _("Choose the dealer center that orders the car."), field="dealer_center_id"
        )
    dealer_center = DealerCenter.objects.filter(pk=dealer_center_id).first()
    if dealer_center is None:
        raise NotFound(_("No such dealer center."), field="dealer_center_id")
    return dealer_center  # whether the caller works there is the service's check


M = TypeVar("M", bound=Model)


def _byid_or_name(queryset: QuerySet[M], value: int | str, *names: Callable[[M], str]) -> M | None:
    """One catalog row by id, or by name compared without case (in Python: the candidate
    rows are few, and SQLite folds only ASCII case, not Cyrillic)."""
    if isinstance(value, int):
        return queryset.filter(pk=value).first()
    wanted = value.casefold()
    rows: Iterable[M] = queryset
    return next(
        (row for row in rows if any(name(row).strip().casefold() == wanted for name in names)),
        None,
    )


def _importer_car(
    payload: ImporterOrderIn,
) -> tuple[CarModel, Trim | None]:
    make = None
    if payload.make is not None:
        make = _byid_or_name(Brand.objects.all(), payload.make, lambda b: b.name, lambda b: b.code)
        if make is None:
            raise ValidationFailed(_("Unknown make."), field="importer_order.make")
    if isinstance(payload.model, str):
        if make is None:
            raise ValidationFailed(
                _("Name the make of the model, or send the model's id."),
                field="importer_order.make",
            )
        car_model = _byid_or_name(
            CarModel.objects.filter(make=make), payload.model, lambda m: m.name
        )
    else:
        car_model = CarModel.objects.filter(pk=payload.model).first()
    if car_model is None:
        raise ValidationFailed(_("Unknown model."), field="importer_order.model")
    if make is not None and car_model.make_id != make.pk:
        raise ValidationFailed(
            _("The model belongs to another make."), field="importer_order.model"
        )
    trim = None
    if payload.trim is not None:
        trim = _byid_or_name(
            Trim.objects.filter(car_model=car_model), payload.trim, lambda t: t.name
        )
        if trim is None:
            raise ValidationFailed(_("The model has no such trim."), field="importer_order.trim")
    return car_model, trim


def _employee(user_id: int, order: Order) -> Any:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ValidationFailed(_("No such employee."), field="manager_id")
    if not can_see_dealer_center(user, order.dealer_center_id) or not user.has_perm(
        SELL_PERMISSION
    ):
        raise ValidationFailed(
            _("This employee does not sell cars at the order's dealer center."),
            field="manager_id",
        )
    return user


# --- input -------------------------------------------------------------------------------


class ImporterOrderIn(Schema):
    model_config = ConfigDict(extra="forbid")

    make: IdOrName | None = Field(
        None, description="The make's name (or code) or id; needed when the model is a name."
    )
    model: IdOrName = Field(..., description="The model's name (within the make) or id.")
    trim: IdOrName | None = Field(None, description="The trim's name (within the model) or id.")
    color: Text = Field("", max_length=100)
    options: Text = Field("", max_length=5000)
    wished_date: date | None = Field(
        None, ge=EARLIEST_DATE, le=LATEST_DATE, description="Not in the past."
    )
    expected_price: Amount | None = Field(
        None, description="A decimal string or a number; the order's price until arrival."
    )


class OrderIn(Schema):
    client_id: Id
    vehicle_id: Id | None = Field(None, description="A car in stock; or send importer_order.")
    dealer_center_id: Id | None = Field(None, description="Required with importer_order.")
    importer_order: ImporterOrderIn | None = Field(
        None, description="The car to order from the importer, instead of vehicle_id."
    )
    deal_id: Id | None = Field(None, description="The client's deal this order closes.")
    comment: Text = Field("", max_length=5000)


class OrderFilters(ListParams):
    status: OrderStatusName | None = None
    kind: OrderKindName | None = None
    client: Id | None = Field(None, description="Client id.")
    vehicle: Id | None = Field(None, description="Vehicle id.")
    deal: Id | None = Field(None, description="Deal id.")
    manager: Id | None = Field(None, description="User id of the manager.")
    dealer_center: Id | None = Field(None, description="Dealer center id.")


class OrderPatch(Schema):
    # Status, client and car change only through their own endpoints: a field this one
    # does not know is refused rather than silently ignored.
    model_config = ConfigDict(extra="forbid")

    vehicle_price: Amount | None = Field(None, description="A decimal string or a number.")
    comment: Text | None = Field(None, max_length=5000, description="null clears it.")
    deal_id: Id | None = Field(None, description="null: no deal.")
    manager_id: Id | None = None


class StatusIn(Schema):
    status: OrderStatusName
    reason: Text = Field("", max_length=300, description="Required to cancel.")


class ArrivalIn(Schema):
    model_config = ConfigDict(extra="forbid")

    vin: Text = Field("", max_length=40, description="Required.")
    site_id: Id | None = Field(
        None, description="Where the car stands; default: the dealer center's first site."
    )
    price: Amount | None = Field(None, description="Default: the expected price.")
    stock_code: Text | None = Field(None, max_length=40, description="Default: the VIN.")
    color: IdOrName | None = Field(
        None, description="A colour of the catalog (name or id); default: the ordered one."
    )


class ImporterStatusIn(Schema):
    status: ImporterStatusName
    importer_reference: Text = Field("", max_length=60, description="The importer's number.")
    arrival: ArrivalIn | None = Field(None, description="Required for arrived.")


# --- orders ------------------------------------------------------------------------------


@router.get(
    "/orders",
    response={200: Page[OrderOut], **ERROR_RESPONSES},
    summary="List sales orders",
)
def order_list(request: HttpRequest, filters: Query[OrderFilters]) -> dict[str, Any]:
    """Orders of the caller's dealer centers, newest first."""
    require_perm(request, VIEW_PERMISSION)
    queryset = selectors.order_list(
        request.user,
        status=filters.status,
        client_id=filters.client,
        vehicle_id=filters.vehicle,
        deal_id=filters.deal,
        manager_id=filters.manager,
        dealer_center_id=filters.dealer_center,
    ).select_related(*ORDER_RELATED)
    if filters.kind is not None:
        queryset = queryset.filter(kind=filters.kind)
    page = paginate(queryset, filters)
    return {"count": page["count"], "items": [order_out(order) for order in page["items"]]}


@router.post(
    "/orders",
    response={201: OrderOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Create a sales order",
    openapi_extra=body_schema(OrderIn),
)
def order_create(request: HttpRequest) -> Status[dict[str, Any]]:
    """A car in stock (``vehicle_id``: the car becomes reserved for the order; 409
    ``vehicle_reserved`` when another order or client holds it) or a car ordered from the
    importer (``dealer_center_id`` and ``importer_order``: make, model and trim by name or
    id). A client, car or deal the caller does not see is a 404 naming the field."""
    require_perm(request, SELL_PERMISSION)
    payload: OrderIn = json_body(request, OrderIn)
    if payload.vehicle_id is not None and payload.importer_order is not None:
        raise ValidationFailed(
            _("Send either a car in stock or an order from the importer, not both."),
            field="importer_order",
        )
    if payload.vehicle_id is None and payload.importer_order is None:
        raise ValidationFailed(
            _("Choose a car in stock, or describe the car to order from the importer."),
            field="vehicle_id",
        )
    client = _client(request, payload.client_id)
    deal = _deal(request, payload.deal_id)
    if payload.vehicle_id is not None:
        vehicle = _vehicle_of(request, payload.vehicle_id)
        order = order_create_from_vehicle(
            actor=request.user,
            client=client,
            vehicle=vehicle,
            deal=deal,
            comment=payload.comment,
        )
    else:
        assert payload.importer_order is not None
        dealer_center = _dealer_center(payload.dealer_center_id)
        car_model, trim = _importer_car(payload.importer_order)
        wanted = payload.importer_order
        order = order_create_importer(
            actor=request.user,
            client=client,
            dealer_center=dealer_center,
            car_model=car_model,
            trim=trim,
            color=wanted.color.strip(),
            options=wanted.options.strip(),
            wished_date=wanted.wished_date,
            expected_price=wanted.expected_price,
            deal=deal,
            comment=payload.comment,
        )
    return Status(201, _fresh_order(request, order.pk))


@router.get(
    "/orders/{order_id}",
    response={200: OrderOut, **DETAIL_ERROR_RESPONSES},
    summary="A sales order",
)
def order_detail(request: HttpRequest, order_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, VIEW_PERMISSION)
    return _fresh_order(request, order_id)


@router.patch(
    "/orders/{order_id}",
    response={200: OrderOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Change a sales order",
    openapi_extra=body_schema(OrderPatch),
)
def order_change(request: HttpRequest, order_id: int = object_id()) -> dict[str, Any]:
    """Vehicle price, comment, deal, manager; fields left out stay as they are. 409
    ``order_closed`` for a delivered or cancelled order."""
    require_perm(request, SELL_PERMISSION)
    order = visible_order(request, order_id)
    payload: OrderPatch = json_body(request, OrderPatch)
    given = payload.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    if "vehicle_price" in given:
        changes["vehicle_price"] = given["vehicle_price"]  # null: the service names it
    if "comment" in given:
        changes["comment"] = (given["comment"] or "").strip()
    if "deal_id" in given:
        changes["deal"] = _deal(request, given["deal_id"])
    if "manager_id" in given:
        if given["manager_id"] is None:
            raise ValidationFailed(_("An order always has a manager."), field="manager_id")
        changes["manager"] = _employee(given["manager_id"], order)
    if changes:
        order_update(actor=request.user, order=order, **changes)
    return _fresh_order(request, order_id)


@router.post(
    "/orders/{order_id}/status",
    response={200: OrderOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Move a sales order to another status",
    openapi_extra=body_schema(StatusIn),
)
def order_status(request: HttpRequest, order_id: int = object_id()) -> dict[str, Any]:
    """draft → confirmed → paid → ready → delivered, or cancelled (with a reason). A move
    the transition map or the money refuses is a 409 with the reason: ``errors[0].code``
    is transition_not_allowed, balance_due, not_arrived or refund_first."""
    require_perm(request, SELL_PERMISSION)
    order = visible_order(request, order_id)
    payload: StatusIn = json_body(request, StatusIn)
    order_transition(actor=request.user, order=order, to=payload.status, reason=payload.reason)
    return _fresh_order(request, order_id)


# Fields of the arrival that the inventory service names by the model's field.
_ARRIVAL_FIELDS = {
    "vin": "arrival.vin",
    "stock_code": "arrival.stock_code",
    "price": "arrival.price",
    "site": "arrival.site_id",
    "city": "arrival.site_id",
    "color": "arrival.color",
}


def _arrival(
    request: HttpRequest, order: Order, arrival: ArrivalIn | None
) -> dict[str, Any] | None:
    """The stock car's fields for the service, every reference resolved and checked."""
    if arrival is None:
        return None
    fields: dict[str, Any] = {"vin": arrival.vin.strip()}
    sites = site_list(user=request.user).filter(is_active=True)
    if arrival.site_id is not None:
        site = sites.filter(pk=arrival.site_id).first()
        if site is None:
            raise ValidationFailed(_("No such site."), field="arrival.site_id")
    else:
        site = sites.filter(dealer_center_id=order.dealer_center_id).order_by("pk").first()
        if site is None:
            raise ValidationFailed(
                _("Choose the site where the car stands."), field="arrival.site_id"
            )
    fields.update(site=site, city=site.city)
    if arrival.price is not None:
        fields["price"] = arrival.price
    if arrival.stock_code:
        fields["stock_code"] = arrival.stock_code.strip()
    colors = Color.objects.all()
    if arrival.color is not None:
        color = _byid_or_name(colors, arrival.color, lambda c: c.name)
        if color is None:
            raise ValidationFailed(_("Unknown colour."), field="arrival.color")
        fields["color"] = color
    else:
        ordered = ImporterOrder.objects.filter(order=order).values_list("color", flat=True).first()
        if ordered:
            # The ordered colour when the catalog knows it; otherwise none yet.
            fields["color"] = _byid_or_name(colors, ordered.strip(), lambda c: c.name)
    return fields


@router.post(
    "/orders/{order_id}/importer-status",
    response={200: OrderOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Move an order from the importer on",
    openapi_extra=body_schema(ImporterStatusIn),
)
def order_importer_status(request: HttpRequest, order_id: int = object_id()) -> dict[str, Any]:
    """requested → confirmed → in_production → shipped → arrived (or cancelled). On
    ``arrived`` the stock car is created from ``arrival`` (VIN required), linked to the
    order and reserved for it. 409 for a stock order or a move the map refuses."""
    require_perm(request, SELL_PERMISSION)
    order = visible_order(request, order_id)
    payload: ImporterStatusIn = json_body(request, ImporterStatusIn)
    if payload.status == ImporterOrderStatus.ARRIVED:
        arrival = _arrival(request, order, payload.arrival or ArrivalIn.model_validate({}))
    elif payload.arrival is not None:
        raise ValidationFailed(
            _("The arrival is described only with the status “arrived”."), field="arrival"
        )
    else:
        arrival = None
    try:
        importer_order_transition(
            actor=request.user,
            order=order,
            to=payload.status,
            importer_reference=payload.importer_reference.strip(),
            arrival=arrival,
        )
    except DomainError as error:
        if arrival is not None and error.field in _ARRIVAL_FIELDS:
            error.field = _ARRIVAL_FIELDS[error.field]
        raise
    return _fresh_order(request, order_id)


@router.get(
    "/orders/{order_id}/history",
    response={200: Page[OrderEventOut], **DETAIL_ERROR_RESPONSES},
    summary="History of a sales order",
)
def order_history(
    request: HttpRequest, params: Query[ListParams], order_id: int = object_id()
) -> dict[str, Any]:
    """Every change of the order, oldest first: statuses (of the order and of the
    importer order), edits, equipment, promotions, products, invoices, payments, refunds."""
    require_perm(request, VIEW_PERMISSION)
    order = visible_order(request, order_id)
    events = OrderEvent.objects.filter(order=order).select_related("changed_by")
    page = paginate(events.order_by("created_at", "pk"), params)
    event: OrderEvent
    items = []
    for event in page["items"]:
        items.append(
            {
                "id": event.pk,
                "kind": event.kind,
                "kind_name": str(event.get_kind_display()),
                "subject_id": event.subject_id,
                "from_value": event.from_value,
                "to_value": event.to_value,
                "text": event.text,
                "amount": money(event.amount),
                "changed_by": _user_ref(event.changed_by),
                "at": event.created_at,
            }
        )
    return {"count": page["count"], "items": items}
