"""What happens to the offer: the client accepts it (the amount is credited to his order),
declines it, and an accepted car is taken into stock as a used vehicle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from autocrm.accounts.models import Brand, Site
from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.core.errors import Conflict, NotAllowed, ValidationFailed
from autocrm.inventory.models import CarModel, Condition, Vehicle
from autocrm.inventory.services import catalog_model_get_or_create, vehicle_create
from autocrm.orders.services.orders import order_lock, order_recalculate, require_editable
from autocrm.trade_ins.models import Appraisal, TradeIn, TradeInStatus
from autocrm.trade_ins.services.appraisal import money
from autocrm.trade_ins.services.common import (
    cancel_booked_appointments,
    local_today,
    require_trade_in_access,
    require_transition,
    set_status,
    trade_in_lock,
)
from autocrm.trade_ins.validation import clean_mileage

STOCK_CODE_MAX_LENGTH = 40


@transaction.atomic
def trade_in_accept(*, actor: Any, trade_in: TradeIn, amount: Decimal | int | str) -> TradeIn:
    """The client takes the offer: ``amount`` (at most the offered price, while the offer
    is valid) is credited to the order, whose totals change in the same transaction."""
    order = order_lock(trade_in.order_id) if trade_in.order_id is not None else None
    trade_in = trade_in_lock(trade_in)
    require_trade_in_access(actor, trade_in)
    if order is not None:
        require_editable(order)
    require_transition(trade_in, TradeInStatus.ACCEPTED)
    appraisal = Appraisal.objects.get(trade_in=trade_in)
    accepted = money(amount, field="amount")
    if accepted > appraisal.offered_price:
        raise ValidationFailed(
            _("At most the offered price: %(price)s ₽.") % {"price": appraisal.offered_price},
            field="amount",
        )
    if local_today(trade_in) > appraisal.valid_until:
        raise Conflict(
            _("The offer expired on %(date)s: have the car appraised again.")
            % {"date": appraisal.valid_until.strftime("%d.%m.%Y")},
            field="amount",
            code="offer_expired",
        )
    trade_in.accepted_amount = accepted
    trade_in.accepted_at = timezone.now()
    set_status(
        trade_in,
        TradeInStatus.ACCEPTED,
        actor,
        note=_("credited %(amount)s ₽") % {"amount": accepted},
        amount=accepted,
        extra_fields=("accepted_amount", "accepted_at"),
    )
    if order is not None:
        order_recalculate(order, actor=actor)
    return trade_in


@transaction.atomic
def trade_in_decline(*, actor: Any, trade_in: TradeIn, reason: str = "") -> TradeIn:
    """The client refuses the offer (or, before handing the car over, changes his mind:
    the credit leaves the order)."""
    order = order_lock(trade_in.order_id) if trade_in.order_id is not None else None
    trade_in = trade_in_lock(trade_in)
    require_trade_in_access(actor, trade_in)
    reason = " ".join((reason or "").split())
    if len(reason) > 500:
        raise ValidationFailed(_("At most %(limit)s characters.") % {"limit": 500}, field="reason")
    was_credited = trade_in.status == TradeInStatus.ACCEPTED
    if was_credited and order is not None:
        require_editable(order)
    set_status(trade_in, TradeInStatus.DECLINED, actor, note=reason)
    cancel_booked_appointments(trade_in)
    if was_credited and order is not None:
        order_recalculate(order, actor=actor)
    return trade_in


def _brand_for(trade_in: TradeIn) -> Brand:
    """The catalog make of the car; a make the group has never had is added (a used car
    of any make may come in)."""
    if trade_in.make is not None:
        return trade_in.make
    wanted = trade_in.make_name.casefold()
    for brand in Brand.objects.order_by("pk"):
        if wanted in (brand.name.casefold(), brand.code.casefold()):
            return brand
    base = slugify(trade_in.make_name)[:40] or "make"
    code, number = base, 1
    while Brand.objects.filter(code=code).exists():
        number += 1
        code = f"{base}-{number}"
    return Brand.objects.create(name=trade_in.make_name, code=code)


def _car_model_for(trade_in: TradeIn, brand: Brand) -> CarModel:
    if trade_in.car_model is not None and trade_in.car_model.make_id == brand.pk:
        return trade_in.car_model
    wanted = trade_in.model_name.casefold()
    for car_model in CarModel.objects.filter(make=brand).order_by("pk"):
        if car_model.name.casefold() == wanted:
            return car_model
    return catalog_model_get_or_create(make=brand, name=trade_in.model_name)


def _stock_code(trade_in: TradeIn, wanted: str) -> str:
    code = (wanted or "").strip()
    if len(code) > STOCK_CODE_MAX_LENGTH:
        raise ValidationFailed(
            _("At most %(limit)s characters.") % {"limit": STOCK_CODE_MAX_LENGTH},
            field="stock_code",
        )
    if code:
        return code  # a code in use is refused by vehicle_create (409 naming stock_code)
    # By default the VIN, as for new cars; a car we once sold still holds it, so then the
    # trade-in's number is added.
    if Vehicle.objects.filter(stock_code=trade_in.vin).exists():
        return f"{trade_in.vin}-TI{trade_in.pk}"
    return trade_in.vin


@transaction.atomic
def trade_in_take_into_stock(
    *,
    actor: Any,
    trade_in: TradeIn,
    site: Site,
    price: Decimal | int | str,
    stock_code: str = "",
    mileage: int | None = None,
) -> TradeIn:
    """The accepted car arrives: it becomes a used vehicle in stock at ``site`` for sale at
    ``price``, its cost being the accepted amount (the deal passport counts it)."""
    trade_in = trade_in_lock(trade_in)
    require_trade_in_access(actor, trade_in)
    require_transition(trade_in, TradeInStatus.TAKEN_INTO_STOCK)
    if site.dealer_center_id is not None and not can_see_dealer_center(
        actor, site.dealer_center_id
    ):
        raise NotAllowed(_("This site belongs to another dealer center."), field="site_id")
    if not site.is_active:
        raise ValidationFailed(_("This site is closed."), field="site_id")
    sale_price = money(price, field="price", allow_zero=True)
    mileage = clean_mileage(mileage)
    if mileage is None:
        mileage = trade_in.mileage or 0
    brand = _brand_for(trade_in)
    car_model = _car_model_for(trade_in, brand)
    vehicle = vehicle_create(
        actor=actor,
        vin=trade_in.vin,
        stock_code=_stock_code(trade_in, stock_code),
        make=brand,
        car_model=car_model,
        condition=Condition.USED,
        price=sale_price,
        cost_price=trade_in.accepted_amount,
        mileage=mileage,
        model_year=trade_in.year,
        site=site,
        city_id=site.city_id,
        dealer_center=trade_in.dealer_center,
        description=_("Trade-in No. %(number)s, plate %(plate)s.")
        % {"number": trade_in.pk, "plate": trade_in.plate_number},
    ).vehicle
    trade_in.vehicle = vehicle
    trade_in.mileage = mileage
    trade_in.make = brand
    trade_in.car_model = car_model
    set_status(
        trade_in,
        TradeInStatus.TAKEN_INTO_STOCK,
        actor,
        note=_("stock code %(code)s") % {"code": vehicle.stock_code},
        extra_fields=("vehicle", "mileage", "make", "car_model"),
    )
    return trade_in
