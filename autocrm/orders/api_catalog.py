"""HTTP API of promotions (Акции) and additional equipment (ДО) (docs/api.md, "Sales
orders"): the catalogs, what an order may take from them, and taking it.

Every endpoint calls one selector or service. Orders are looked up with the scoped
``order_get`` (404 outside the caller's dealer centers); names in bodies and filters are
turned into rows here, so that bad input is a 400 naming the field before anything is
written. A promotion or package that does not fit the order is a 409 whose message says
why and whose ``errors[0].code`` names the rule. Money goes out as decimal strings.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, field_validator

from autocrm.accounts.models import Brand, City
from autocrm.accounts.scoping import scope_queryset
from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    MAX_ID,
    Amount,
    ErrorOut,
    Id,
    IdOrName,
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
from autocrm.core.errors import NotAllowed, ValidationFailed
from autocrm.inventory.models import CarModel, Trim
from autocrm.orders import selectors_catalog as catalog
from autocrm.orders.models import (
    INSTALLATION_TRANSITIONS,
    EquipmentPackage,
    InstallationStatus,
    Order,
    OrderEquipment,
    OrderPromotion,
    Promotion,
)
from autocrm.orders.selectors import order_get
from autocrm.orders.services import catalog as services

router = Router(tags=["promotions and equipment"])

VIEW_PERMISSION = "orders.view_orders"
SELL_PERMISSION = "orders.sell"
PROMOTIONS_PERMISSION = "orders.manage_promotions"
EQUIPMENT_PERMISSION = "orders.manage_equipment"
# Who sees what a package costs the dealer (the margin): service staff who configure
# packages, and those who see the deal passport.
COST_PERMISSIONS = (EQUIPMENT_PERMISSION, "orders.view_deal_passport")

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9000, 12, 31)
NAME_LENGTH = 100  # make, model, trim and city names
MAX_CITIES = 500

M = TypeVar("M", bound=Model)


Percent = Annotated[Decimal, Field(max_digits=5, decimal_places=2)]
Day = Annotated[date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]


def _percent(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.quantize(Decimal('0.01')):f}"


# --- output ------------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class OrderTotalsOut(Schema):
    """The order after the change: its money, always current (decimal strings)."""

    id: int
    status: str
    version: int
    vehicle_price: str
    equipment_total: str
    discount_total: str
    products_total: str
    trade_in_credit: str
    total: str = Field(description="Vehicle + equipment + products − discounts.")
    paid_total: str = Field(description="Payments less refunds.")
    balance_due: str = Field(description="Total − trade-in credit − paid.")
    payment_status: str


class PromotionOut(Schema):
    id: int
    name: str
    bulletin: str
    importer: str
    make: Ref | None = Field(description="null: any make.")
    model: Ref | None = Field(description="null: any model.")
    trim: Ref | None = Field(description="null: any trim.")
    cities: list[str] = Field(description="Names; empty: every city.")
    valid_from: date
    valid_to: date = Field(description="Inclusive, in the dealer center's time zone.")
    discount_amount: str | None = Field(description='Roubles, e.g. "50000.00"; or null.')
    discount_percent: str | None = Field(description='E.g. "5.00"; or null.')
    importer_bonus: str = Field(description="Reimbursed by the importer per car.")
    combinable: bool
    is_active: bool
    created_at: datetime


class AvailablePromotionOut(PromotionOut):
    discount: str = Field(description="What the promotion takes off this order's price.")


class AppliedPromotionOut(Schema):
    id: int = Field(description="The line of the order.")
    promotion_id: int
    name: str
    discount: str
    discount_percent: str | None
    importer_bonus: str
    combinable: bool
    applied_by: Ref | None
    applied_at: datetime


class AppliedPromotionResultOut(AppliedPromotionOut):
    order: OrderTotalsOut


class PackageItemOut(Schema):
    name: str
    part_number: str
    quantity: int


class PackageOut(Schema):
    id: int
    code: str
    name: str
    description: str
    dealer_center: Ref | None = Field(description="null: every dealer center.")
    site: Ref | None = Field(description="null: any site.")
    make: Ref | None
    model: Ref | None
    trim: Ref | None
    price: str
    cost: str | None = Field(
        description="Shown to service staff and those who see the deal passport; else null."
    )
    installation_minutes: int
    is_active: bool
    items: list[PackageItemOut]


class OrderEquipmentOut(Schema):
    id: int = Field(description="The line of the order (item_id).")
    order_id: int
    package_id: int
    code: str
    name: str
    price: str = Field(description="As it was when the package was added.")
    installation_minutes: int
    installation_status: str = Field(description="pending, scheduled or installed.")
    installation_status_name: str
    allowed_statuses: list[str] = Field(description="Where the installation may go next.")
    scheduled_for: datetime | None
    installed_at: datetime | None
    added_by: Ref | None
    added_at: datetime
    items: list[PackageItemOut]


class OrderEquipmentResultOut(OrderEquipmentOut):
    order: OrderTotalsOut


def _ref(obj: Any, name: str | None = None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {"id": obj.pk, "name": name if name is not None else str(obj)}


def _user_ref(user: Any) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "name": user.display_name}


def _totals(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "status": order.status,
        "version": order.version,
        "vehicle_price": money(order.vehicle_price),
        "equipment_total": money(order.equipment_total),
        "discount_total": money(order.discount_total),
        "products_total": money(order.products_total),
        "trade_in_credit": money(order.trade_in_credit),
        "total": money(order.total),
        "paid_total": money(order.paid_total),
        "balance_due": money(order.balance_due),
        "payment_status": order.payment_status,
    }


def _promotion(promotion: Promotion) -> dict[str, Any]:
    return {
        "id": promotion.pk,
        "name": promotion.name,
        "bulletin": promotion.bulletin,
        "importer": promotion.importer,
        "make": _ref(promotion.make, promotion.make.name if promotion.make else None),
        "model": _ref(
            promotion.car_model, promotion.car_model.name if promotion.car_model else None
        ),
        "trim": _ref(promotion.trim, promotion.trim.name if promotion.trim else None),
        "cities": sorted(city.name for city in promotion.cities.all()),
        "valid_from": promotion.valid_from,
        "valid_to": promotion.valid_to,
        "discount_amount": money(promotion.discount_amount),
        "discount_percent": _percent(promotion.discount_percent),
        "importer_bonus": money(promotion.importer_bonus),
        "combinable": promotion.combinable,
        "is_active": promotion.is_active,
        "created_at": promotion.created_at,
    }


def _applied(line: OrderPromotion) -> dict[str, Any]:
    return {
        "id": line.pk,
        "promotion_id": line.promotion_id,
        "name": line.promotion.name,
        "discount": money(line.discount),
        "discount_percent": _percent(line.promotion.discount_percent),
        "importer_bonus": money(line.importer_bonus),
        "combinable": line.promotion.combinable,
        "applied_by": _user_ref(line.applied_by),
        "applied_at": line.created_at,
    }


def _items(package: EquipmentPackage) -> list[dict[str, Any]]:
    return [
        {"name": item.name, "part_number": item.part_number, "quantity": item.quantity}
        for item in package.items.all()
    ]


def _package(package: EquipmentPackage, *, with_cost: bool) -> dict[str, Any]:
    return {
        "id": package.pk,
        "code": package.code,
        "name": package.name,
        "description": package.description,
        "dealer_center": _ref(
            package.dealer_center, package.dealer_center.name if package.dealer_center else None
        ),
        "site": _ref(package.site, package.site.name if package.site else None),
        "make": _ref(package.make, package.make.name if package.make else None),
        "model": _ref(package.car_model, package.car_model.name if package.car_model else None),
        "trim": _ref(package.trim, package.trim.name if package.trim else None),
        "price": money(package.price),
        "cost": money(package.cost) if with_cost else None,
        "installation_minutes": package.installation_minutes,
        "is_active": package.is_active,
        "items": _items(package),
    }


def _equipment(line: OrderEquipment) -> dict[str, Any]:
    return {
        "id": line.pk,
        "order_id": line.order_id,
        "package_id": line.package_id,
        "code": line.package.code,
        "name": line.package.name,
        "price": money(line.price),
        "installation_minutes": line.package.installation_minutes,
        "installation_status": line.installation_status,
        "installation_status_name": str(InstallationStatus(line.installation_status).label),
        "allowed_statuses": sorted(INSTALLATION_TRANSITIONS[line.installation_status]),
        "scheduled_for": line.scheduled_for,
        "installed_at": line.installed_at,
        "added_by": _user_ref(line.added_by),
        "added_at": line.created_at,
        "items": _items(line.package),
    }


def _sees_cost(request: HttpRequest) -> bool:
    return any(request.user.has_perm(permission) for permission in COST_PERMISSIONS)


# --- lookups of names and ids ---------------------------------------------------------------


def _one(queryset: QuerySet[M], value: int | str, field: str, label: str) -> M:
    """The row ``value`` names: an id, or a name (or code) compared case-insensitively. A
    string of digits that names nothing is taken as an id (query parameters are text)."""
    if isinstance(value, int):
        row = queryset.filter(pk=value).first()
        if row is None:
            raise ValidationFailed(_("No such %(what)s.") % {"what": label}, field=field)
        return row
    rows = _named(queryset, value)
    if not rows and value.isascii() and value.isdigit() and int(value) <= MAX_ID:
        rows = list(queryset.filter(pk=int(value))[:1])
    if not rows:
        raise ValidationFailed(
            _("Unknown %(what)s: %(name)s.") % {"what": label, "name": value[:NAME_LENGTH]},
            field=field,
        )
    if len(rows) > 1:
        raise ValidationFailed(
            _("Several rows are named %(name)s; name the make or model too, or give the id.")
            % {"name": value[:NAME_LENGTH]},
            field=field,
        )
    return rows[0]


def _named(queryset: QuerySet[M], value: str) -> list[M]:
    wanted = value.strip().casefold()
    rows = list(queryset.filter(name__iexact=value.strip())[:10])
    if not rows and not value.isascii():
        # SQLite folds the case of ASCII letters only; the catalogs are small enough to
        # compare Cyrillic names in Python.
        rows = [row for row in queryset if str(getattr(row, "name", "")).casefold() == wanted]
    if not rows and any(field.name == "code" for field in queryset.model._meta.fields):
        rows = list(queryset.filter(code__iexact=value.strip())[:10])
    return rows


def _make(value: int | str | None, field: str = "make") -> Brand | None:
    if value is None:
        return None
    return _one(Brand.objects.order_by("pk"), value, field, _("make"))


def _car_model(
    value: int | str | None, make: Brand | None, field: str = "model"
) -> CarModel | None:
    if value is None:
        return None
    queryset = CarModel.objects.select_related("make").order_by("pk")
    if isinstance(value, str):
        queryset = queryset.filter(make=make) if make is not None else queryset
    return _one(queryset, value, field, _("model"))


def _trim(value: int | str | None, make: Brand | None, car_model: CarModel | None) -> Trim | None:
    if value is None:
        return None
    queryset = Trim.objects.select_related("car_model__make").order_by("pk")
    if isinstance(value, str):
        if car_model is not None:
            queryset = queryset.filter(car_model=car_model)
        elif make is not None:
            queryset = queryset.filter(car_model__make=make)
    return _one(queryset, value, "trim", _("trim"))


def _city(value: int | str | None) -> City | None:
    if value is None:
        return None
    if isinstance(value, int):
        return _one(City.objects.order_by("pk"), value, "city", _("city"))
    cities = catalog.cities_named([value], field="city")
    if len(cities) > 1:
        raise ValidationFailed(
            _("Several cities are named %(name)s; give the id.") % {"name": value},
            field="city",
        )
    return cities[0]


def _cities(values: list[int | str]) -> list[City]:
    names = [value for value in values if isinstance(value, str)]
    ids = {value for value in values if isinstance(value, int)}
    found = list(City.objects.filter(pk__in=ids))
    if len(found) != len(ids):
        raise ValidationFailed(_("No such city."), field="cities")
    return found + catalog.cities_named(names)


def _order(request: HttpRequest, order_id: int) -> Order:
    return order_get(request.user, order_id)


def _fresh_totals(request: HttpRequest, order_id: int) -> dict[str, Any]:
    return _totals(order_get(request.user, order_id))


# --- promotions: the catalog --------------------------------------------------------------


class PromotionFilters(ListParams):
    make: IdOrName | None = Field(None, description="Promotions for this make (or any make).")
    model: IdOrName | None = Field(None, description="For this model (or any model).")
    city: IdOrName | None = Field(None, description="Valid in this city (or in every city).")
    active_on: Day | None = Field(None, description="Active and valid on this date.")
    is_active: bool | None = None
    q: Text = Field("", max_length=200, description="Text in the name, bulletin or importer.")


class PromotionIn(Schema):
    name: Text = Field(..., min_length=1, max_length=200)
    bulletin: Text = Field("", max_length=200, description="The importer's bulletin.")
    importer: Text = Field("", max_length=200)
    make: IdOrName | None = Field(None, description="A name or id; null: any make.")
    model: IdOrName | None = Field(None, description="A name or id; null: any model.")
    trim: IdOrName | None = Field(None, description="A name or id; null: any trim.")
    cities: list[IdOrName] = Field(
        default_factory=list, max_length=MAX_CITIES, description="City names; empty: every city."
    )
    valid_from: Day
    valid_to: Day = Field(description="Inclusive.")
    discount_amount: Amount | None = Field(None, description="Roubles; or discount_percent.")
    discount_percent: Percent | None = Field(None, description="0 < p ≤ 100.")
    importer_bonus: Amount = Field(Decimal("0"), description="Reimbursed per car.")
    combinable: bool = Field(True, description="Combines with other promotions.")
    is_active: bool = True


class PromotionPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(None, min_length=1, max_length=200)
    bulletin: Text | None = Field(None, max_length=200)
    importer: Text | None = Field(None, max_length=200)
    make: IdOrName | None = None
    model: IdOrName | None = None
    trim: IdOrName | None = None
    cities: list[IdOrName] | None = Field(None, max_length=MAX_CITIES)
    valid_from: Day | None = None
    valid_to: Day | None = None
    discount_amount: Amount | None = None
    discount_percent: Percent | None = None
    importer_bonus: Amount | None = None
    combinable: bool | None = None
    is_active: bool | None = None


def _fresh_promotion(promotion_id: int) -> dict[str, Any]:
    promotion = get_or_404(
        Promotion.objects.select_related("make", "car_model", "trim").prefetch_related("cities"),
        pk=promotion_id,
    )
    return _promotion(promotion)


@router.get(
    "/promotions",
    response={200: Page[PromotionOut], **ERROR_RESPONSES},
    summary="List promotions",
)
def promotion_list(request: HttpRequest, filters: Query[PromotionFilters]) -> dict[str, Any]:
    """Promotions of the whole group, latest ending first. ``make``, ``model`` and
    ``city`` keep the promotions that apply there, those for "any" included."""
    require_perm(request, VIEW_PERMISSION)
    make = _make(filters.make)
    queryset = catalog.promotion_list(
        make=make,
        car_model=_car_model(filters.model, make),
        city=_city(filters.city),
        active_on=filters.active_on,
        is_active=filters.is_active,
        search=filters.q,
    )
    page = paginate(queryset, filters)
    return {"count": page["count"], "items": [_promotion(row) for row in page["items"]]}


@router.post(
    "/promotions",
    response={201: PromotionOut, **ERROR_RESPONSES},
    summary="Create a promotion (logisticians)",
    openapi_extra=body_schema(PromotionIn),
)
def promotion_create(request: HttpRequest) -> Status[dict[str, Any]]:
    """A promotion from an importer's bulletin. ``make``, ``model``, ``trim`` are names or
    ids (null: any); ``cities`` names (empty: every city; an unknown one is a 400 naming
    ``cities``); exactly one of ``discount_amount`` and ``discount_percent``."""
    require_perm(request, PROMOTIONS_PERMISSION)
    payload: PromotionIn = json_body(request, PromotionIn)
    make = _make(payload.make)
    car_model = _car_model(payload.model, make)
    trim = _trim(payload.trim, make, car_model)
    promotion = services.promotion_create(
        actor=request.user,
        name=payload.name,
        bulletin=payload.bulletin,
        importer=payload.importer,
        make=make,
        car_model=car_model,
        trim=trim,
        cities=_cities(payload.cities),
        valid_from=payload.valid_from,
        valid_to=payload.valid_to,
        discount_amount=payload.discount_amount,
        discount_percent=payload.discount_percent,
        importer_bonus=payload.importer_bonus,
        combinable=payload.combinable,
        is_active=payload.is_active,
    )
    return Status(201, _fresh_promotion(promotion.pk))


@router.get(
    "/promotions/{promotion_id}",
    response={200: PromotionOut, **DETAIL_ERROR_RESPONSES},
    summary="A promotion",
)
def promotion_detail(request: HttpRequest, promotion_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, VIEW_PERMISSION)
    return _fresh_promotion(promotion_id)


@router.patch(
    "/promotions/{promotion_id}",
    response={200: PromotionOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Change a promotion (logisticians)",
    openapi_extra=body_schema(PromotionPatch),
)
def promotion_update(request: HttpRequest, promotion_id: int = object_id()) -> dict[str, Any]:
    """Fields left out stay as they are; null clears make, model, trim (any). The discount
    of a promotion that orders have already cannot change (409)."""
    require_perm(request, PROMOTIONS_PERMISSION)
    promotion = get_or_404(Promotion.objects.select_related("make", "car_model"), pk=promotion_id)
    payload: PromotionPatch = json_body(request, PromotionPatch)
    changes = payload.model_dump(exclude_unset=True)
    for field in ("name", "valid_from", "valid_to", "combinable", "is_active", "importer_bonus"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(_("This field cannot be empty."), field=field)
    for field in ("bulletin", "importer"):
        if field in changes and changes[field] is None:
            changes[field] = ""
    make = promotion.make
    if "make" in changes:
        make = _make(changes["make"])
        changes["make"] = make
    if "model" in changes:
        changes["car_model"] = _car_model(changes.pop("model"), make)
    if "trim" in changes:
        model = changes.get("car_model", promotion.car_model)
        changes["trim"] = _trim(changes["trim"], make, model)
    if "cities" in changes:
        changes["cities"] = _cities(changes["cities"] or [])
    if changes:
        services.promotion_update(actor=request.user, promotion=promotion, **changes)
    return _fresh_promotion(promotion_id)


# --- promotions on an order ---------------------------------------------------------------


class PromotionApplyIn(Schema):
    promotion_id: Id


@router.get(
    "/orders/{order_id}/available-promotions",
    response={200: Page[AvailablePromotionOut], **DETAIL_ERROR_RESPONSES},
    summary="Promotions the order may take",
)
def order_available_promotions(request: HttpRequest, order_id: int = object_id()) -> dict[str, Any]:
    """Exactly the active promotions valid for the order's make, model, trim and city,
    today in its dealer center's time zone, not applied yet; each with the discount it
    would give this order."""
    require_perm(request, VIEW_PERMISSION)
    order = _order(request, order_id)
    items = [
        _promotion(promotion)
        | {"discount": money(catalog.promotion_discount(promotion, order.vehicle_price))}
        for promotion in catalog.promotions_available(order)
    ]
    return {"count": len(items), "items": items}


@router.get(
    "/orders/{order_id}/promotions",
    response={200: Page[AppliedPromotionOut], **DETAIL_ERROR_RESPONSES},
    summary="Promotions applied to the order",
)
def order_promotions(request: HttpRequest, order_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, VIEW_PERMISSION)
    order = _order(request, order_id)
    items = [_applied(line) for line in catalog.order_promotions(order)]
    return {"count": len(items), "items": items}


@router.post(
    "/orders/{order_id}/promotions",
    response={201: AppliedPromotionResultOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Apply a promotion to the order",
    openapi_extra=body_schema(PromotionApplyIn),
)
def order_promotion_apply(
    request: HttpRequest, order_id: int = object_id()
) -> Status[dict[str, Any]]:
    """201 with the applied promotion and the order's new totals; 409 with the reason when
    it does not apply (``errors[0].code``: promotion_other_make, promotion_other_model,
    promotion_other_trim, promotion_other_city, promotion_not_yet_valid,
    promotion_expired, promotion_inactive, already_applied, not_combinable,
    discount_exceeds_price, order_closed)."""
    require_perm(request, VIEW_PERMISSION)
    require_perm(request, SELL_PERMISSION)
    order = _order(request, order_id)
    payload: PromotionApplyIn = json_body(request, PromotionApplyIn)
    promotion = Promotion.objects.filter(pk=payload.promotion_id).first()
    if promotion is None:
        raise ValidationFailed(_("No such promotion."), field="promotion_id")
    line = services.promotion_apply(actor=request.user, order=order, promotion=promotion)
    line = catalog.order_promotions(order).get(pk=line.pk)
    return Status(201, _applied(line) | {"order": _fresh_totals(request, order_id)})


@router.delete(
    "/orders/{order_id}/promotions/{promotion_id}",
    response={200: OrderTotalsOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Remove a promotion from the order",
)
def order_promotion_remove(
    request: HttpRequest,
    order_id: int = object_id(),
    promotion_id: int = object_id("The promotion's id."),
) -> dict[str, Any]:
    """The order's new totals; 404 when the promotion is not applied to it."""
    require_perm(request, VIEW_PERMISSION)
    require_perm(request, SELL_PERMISSION)
    order = _order(request, order_id)
    promotion = get_or_404(Promotion.objects.all(), pk=promotion_id)
    services.promotion_remove(actor=request.user, order=order, promotion=promotion)
    return _fresh_totals(request, order_id)


# --- additional equipment -----------------------------------------------------------------


class PackageFilters(ListParams):
    make: IdOrName | None = Field(None, description="Packages that fit this make (or any).")
    model: IdOrName | None = Field(None, description="Packages that fit this model (or any).")
    dealer_center_id: Id | None = Field(
        None, description="Packages of this dealer center and the group-wide ones."
    )
    is_active: bool | None = None


class EquipmentAddIn(Schema):
    package_id: Id


def _moment(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # Checked before any shift between time zones, which would overflow at the ends.
    if not (EARLIEST_DATE.year <= value.year <= LATEST_DATE.year):
        raise ValueError("The year must be between 1900 and 9000.")
    return value


class InstallationStatusIn(Schema):
    status: Literal["pending", "scheduled", "installed"]
    scheduled_for: datetime | None = Field(
        None,
        description="For scheduled: ISO 8601; without an offset, the dealer center's time.",
    )

    @field_validator("scheduled_for")
    @classmethod
    def _scheduled_for(cls, value: datetime | None) -> datetime | None:
        return _moment(value)


@router.get(
    "/equipment-packages",
    response={200: Page[PackageOut], **ERROR_RESPONSES},
    summary="List equipment packages",
)
def package_list(request: HttpRequest, filters: Query[PackageFilters]) -> dict[str, Any]:
    """Packages of the caller's dealer centers and the group-wide ones, by name."""
    require_perm(request, VIEW_PERMISSION)
    make = _make(filters.make)
    queryset = catalog.package_list(
        request.user,
        make=make,
        car_model=_car_model(filters.model, make),
        dealer_center_id=filters.dealer_center_id,
        is_active=filters.is_active,
    )
    page = paginate(queryset, filters)
    with_cost = _sees_cost(request)
    return {
        "count": page["count"],
        "items": [_package(row, with_cost=with_cost) for row in page["items"]],
    }


@router.get(
    "/orders/{order_id}/available-equipment",
    response={200: Page[PackageOut], **DETAIL_ERROR_RESPONSES},
    summary="Equipment packages installable on the order's car",
)
def order_available_equipment(request: HttpRequest, order_id: int = object_id()) -> dict[str, Any]:
    """Active packages whose site, make, model and trim (each empty = any) fit the
    order's car, of its dealer center or group-wide, not on the order yet. For an order
    from the importer whose car has not arrived the site is not known and not checked."""
    require_perm(request, VIEW_PERMISSION)
    order = _order(request, order_id)
    with_cost = _sees_cost(request)
    items = [
        _package(package, with_cost=with_cost) for package in catalog.packages_available(order)
    ]
    return {"count": len(items), "items": items}


@router.get(
    "/orders/{order_id}/equipment",
    response={200: Page[OrderEquipmentOut], **DETAIL_ERROR_RESPONSES},
    summary="Equipment packages on the order",
)
def order_equipment(request: HttpRequest, order_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, VIEW_PERMISSION)
    order = _order(request, order_id)
    items = [_equipment(line) for line in catalog.order_equipment(order)]
    return {"count": len(items), "items": items}


@router.post(
    "/orders/{order_id}/equipment",
    response={201: OrderEquipmentResultOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Add an equipment package to the order",
    openapi_extra=body_schema(EquipmentAddIn),
)
def order_equipment_add(
    request: HttpRequest, order_id: int = object_id()
) -> Status[dict[str, Any]]:
    """201 with the line (price as of now) and the order's new totals; 409 with the reason
    when the package cannot be installed on this car or is on the order already."""
    require_perm(request, VIEW_PERMISSION)
    require_perm(request, SELL_PERMISSION)
    order = _order(request, order_id)
    payload: EquipmentAddIn = json_body(request, EquipmentAddIn)
    package = (
        scope_queryset(EquipmentPackage.objects.all(), request.user, include_unassigned=True)
        .filter(pk=payload.package_id)
        .first()
    )
    if package is None:
        raise ValidationFailed(_("No such equipment package."), field="package_id")
    line = services.equipment_add(actor=request.user, order=order, package=package)
    line = catalog.order_equipment(order).get(pk=line.pk)
    return Status(201, _equipment(line) | {"order": _fresh_totals(request, order_id)})


@router.delete(
    "/orders/{order_id}/equipment/{item_id}",
    response={200: OrderTotalsOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Remove an equipment package from the order",
)
def order_equipment_remove(
    request: HttpRequest,
    order_id: int = object_id(),
    item_id: int = object_id("The line of the order."),
) -> dict[str, Any]:
    """The order's new totals; 409 when the package is installed already."""
    require_perm(request, VIEW_PERMISSION)
    require_perm(request, SELL_PERMISSION)
    order = _order(request, order_id)
    line = get_or_404(OrderEquipment.objects.filter(order=order), pk=item_id)
    services.equipment_remove(actor=request.user, order=order, item=line)
    return _fresh_totals(request, order_id)


@router.post(
    "/order-equipment/{item_id}/status",
    response={200: OrderEquipmentOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Set the installation status of an order's package",
    openapi_extra=body_schema(InstallationStatusIn),
)
def order_equipment_status(request: HttpRequest, item_id: int = object_id()) -> dict[str, Any]:
    """pending → scheduled (needs ``scheduled_for``) → installed (final), or back from
    scheduled to pending; scheduling again moves the date. Service staff and sellers."""
    require_perm(request, VIEW_PERMISSION)
    if not (request.user.has_perm(EQUIPMENT_PERMISSION) or request.user.has_perm(SELL_PERMISSION)):
        raise NotAllowed(_("You do not have permission to perform this action."))
    visible = scope_queryset(
        OrderEquipment.objects.all(), request.user, field="order__dealer_center"
    )
    line = get_or_404(visible, pk=item_id)
    payload: InstallationStatusIn = json_body(request, InstallationStatusIn)
    services.installation_set_status(
        actor=request.user,
        item=line,
        status=payload.status,
        scheduled_for=payload.scheduled_for,
    )
    fresh = (
        OrderEquipment.objects.select_related("package", "added_by")
        .prefetch_related("package__items")
        .get(pk=line.pk)
    )
    return _equipment(fresh)
