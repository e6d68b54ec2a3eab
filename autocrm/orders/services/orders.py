"""Sales orders: creation from a stock car or as an importer order, edits, the status
workflow, the importer order's workflow, and the totals that are always current."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.models import DealerCenter
from autocrm.accounts.roles import SUPERVISING_ROLES
from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.clients.models import Client
from autocrm.core.audit import user_or_none
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.core.money import round_money
from autocrm.inventory.models import CarModel, Reservation, ReservationStatus, Trim, Vehicle
from autocrm.inventory.services import (
    ReleaseReason,
    record_stock_change,
    reservation_release,
    vehicle_create,
)
from autocrm.orders.extensions import EXTERNAL_AMOUNT_FIELDS, external_amount, order_cancelled
from autocrm.orders.models import (
    IMPORTER_ORDER_TRANSITIONS,
    ORDER_TRANSITIONS,
    ImporterOrder,
    ImporterOrderStatus,
    Invoice,
    InvoiceStatus,
    Issuer,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderKind,
    OrderStatus,
    PaymentStatus,
)
from autocrm.sales.models import Deal

ZERO = Decimal("0")


def order_log(
    order: Order,
    kind: str,
    actor: Any,
    *,
    subject_id: int | None = None,
    from_value: str = "",
    to_value: str = "",
    text: str = "",
    amount: Decimal | None = None,
) -> OrderEvent:
    """Write one row of the order's history (every service that changes an order does)."""
    return OrderEvent.objects.create(
        order=order,
        kind=kind,
        subject_id=subject_id,
        from_value=str(from_value),
        to_value=str(to_value),
        text=str(text)[:500],
        amount=amount,
        changed_by=user_or_none(actor),
    )


def order_lock(order: Order | int) -> Order:
    """The order, locked for the rest of the transaction (no joins: see the deals' lock)."""
    pk = order if isinstance(order, int) else order.pk
    return Order.objects.select_for_update(of=("self",)).get(pk=pk)


def require_order_access(actor: Any, order: Order) -> None:
    if not can_see_dealer_center(actor, order.dealer_center_id):
        raise NotAllowed(_("This order belongs to another dealer center."))


def require_editable(order: Order) -> None:
    if not order.is_editable:
        raise Conflict(
            _("The order is %(status)s and can no longer be changed.")
            % {"status": order.get_status_display().lower()},
            code="order_closed",
        )


def issuer_for(*, dealer_center: DealerCenter, vehicle: Vehicle | None) -> Issuer | None:
    """Who invoices this sale: the consignor's legal entity for a stock car, otherwise
    (or when the consignor has none) the dealer center's default issuer."""
    if vehicle is not None and vehicle.consignor_id is not None:
        issuer = Issuer.objects.filter(consignor_id=vehicle.consignor_id, is_active=True).first()
        if issuer is not None:
            return issuer
    return (
        Issuer.objects.filter(dealer_centers=dealer_center, is_active=True).order_by("pk").first()
    )


def _check_client(actor: Any, client: Client) -> None:
    if client.merged_into_id is not None:
        raise ValidationFailed(_("This client was merged into another one."), field="client_id")
    if client.dealer_center_id is not None and not can_see_dealer_center(
        actor, client.dealer_center_id
    ):
        raise NotAllowed(_("This client belongs to another dealer center."), field="client_id")


def _check_deal(deal: Deal | None, client: Client) -> None:
    if deal is not None and deal.client_id != client.pk:
        raise ValidationFailed(_("The deal belongs to another client."), field="deal_id")


@transaction.atomic
def order_create_from_vehicle(
    *,
    actor: Any,
    client: Client,
    vehicle: Vehicle,
    deal: Deal | None = None,
    comment: str = "",
) -> Order:
    """Order a car in stock. The car becomes reserved for this order; a car held by another
    order (or by another client's reservation) is refused with 409."""
    _check_client(actor, client)
    _check_deal(deal, client)
    locked = Vehicle.objects.select_for_update(of=("self",)).get(pk=vehicle.pk)
    if locked.dealer_center_id is not None and not can_see_dealer_center(
        actor, locked.dealer_center_id
    ):
        raise NotAllowed(_("This car belongs to another dealer center."), field="vehicle_id")
    if not locked.in_stock or locked.reservation_status == ReservationStatus.SOLD:
        raise Conflict(
            _("The vehicle is sold or no longer in stock."),
            field="vehicle_id",
            code="not_available",
        )
    holder = Order.objects.filter(vehicle=locked, status__in=_active()).first()
    if holder is not None:
        raise Conflict(
            _("The vehicle is reserved by order No. %(number)s.") % {"number": holder.number},
            field="vehicle_id",
            code="vehicle_reserved",
        )
    reservation = Reservation.objects.filter(vehicle=locked, is_active=True).first()
    if reservation is not None:
        if reservation.client_id not in (None, client.pk):
            raise Conflict(
                _("The vehicle is reserved for another client until %(until)s.")
                % {"until": timezone.localtime(reservation.expires_at).strftime("%d.%m.%Y %H:%M")},
                field="vehicle_id",
                code="vehicle_reserved",
            )
        # The client's own hold becomes the order's.
        reservation_release(actor=actor, vehicle=locked, reason=ReleaseReason.ORDERED)
    dealer_center = locked.dealer_center or (deal.dealer_center if deal else None)
    if dealer_center is None:
        raise ValidationFailed(_("The car has no dealer center to sell it."), field="vehicle_id")
    try:
        with transaction.atomic():
            order = Order.objects.create(
                kind=OrderKind.STOCK,
                client=client,
                deal=deal,
                dealer_center=dealer_center,
                manager=actor,
                vehicle=locked,
                issuer=issuer_for(dealer_center=dealer_center, vehicle=locked),
                vehicle_price=locked.price,
                comment=comment,
            )
    except IntegrityError:
        raise Conflict(
            _("The vehicle is reserved by another order."),
            field="vehicle_id",
            code="vehicle_reserved",
        ) from None
    Vehicle.objects.filter(pk=locked.pk).update(
        reservation_status=ReservationStatus.RESERVED, updated_at=timezone.now()
    )
    record_stock_change([locked.pk])
    order_log(order, OrderEventKind.STATUS, actor, to_value=OrderStatus.DRAFT)
    return order_recalculate(order)


@transaction.atomic
def order_create_importer(
    *,
    actor: Any,
    client: Client,
    dealer_center: DealerCenter,
    car_model: CarModel,
    trim: Trim | None = None,
    color: str = "",
    options: str = "",
    wished_date: date | None = None,
    expected_price: Decimal | None = None,
    deal: Deal | None = None,
    comment: str = "",
) -> Order:
    """Order a car from the importer for a client; the stock car appears on arrival."""
    _check_client(actor, client)
    _check_deal(deal, client)
    if not can_see_dealer_center(actor, dealer_center.pk):
        raise NotAllowed(_("You do not work at this dealer center."), field="dealer_center_id")
    if trim is not None and trim.car_model_id != car_model.pk:
        raise ValidationFailed(_("The trim belongs to another model."), field="importer_order.trim")
    if expected_price is not None and expected_price < 0:
        raise ValidationFailed(
            _("The price cannot be negative."), field="importer_order.expected_price"
        )
    if wished_date is not None and wished_date < timezone.localdate():
        raise ValidationFailed(
            _("The wished date is in the past."), field="importer_order.wished_date"
        )
    order = Order.objects.create(
        kind=OrderKind.IMPORTER,
        client=client,
        deal=deal,
        dealer_center=dealer_center,
        manager=actor,
        issuer=issuer_for(dealer_center=dealer_center, vehicle=None),
        vehicle_price=expected_price or ZERO,
        comment=comment,
    )
    ImporterOrder.objects.create(
        order=order,
        make=car_model.make,
        car_model=car_model,
        trim=trim,
        color=color,
        options=options,
        wished_date=wished_date,
        expected_price=expected_price,
    )
    order_log(order, OrderEventKind.STATUS, actor, to_value=OrderStatus.DRAFT)
    order_log(order, OrderEventKind.IMPORTER, actor, to_value=ImporterOrderStatus.REQUESTED)
    return order_recalculate(order)


_EDITABLE_FIELDS = frozenset({"vehicle_price", "comment", "deal", "manager"})


@transaction.atomic
def order_update(*, actor: Any, order: Order, **changes: Any) -> Order:
    unknown = sorted(set(changes) - _EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(_("This field cannot be changed here."), field=unknown[0])
    order = order_lock(order)
    require_order_access(actor, order)
    require_editable(order)
    if "vehicle_price" in changes:
        price = changes["vehicle_price"]
        if price is None or price < 0:
            raise ValidationFailed(_("The price cannot be negative."), field="vehicle_price")
        changes["vehicle_price"] = round_money(price)
    if "deal" in changes:
        _check_deal(changes["deal"], order.client)
    if "manager" in changes and not changes["manager"].is_active:
        raise ValidationFailed(_("This employee is not active."), field="manager_id")
    described = []
    for name, value in changes.items():
        if getattr(order, name) != value:
            label = getattr(Order._meta.get_field(name), "verbose_name", name)
            described.append(f"{label}: {value}")
            setattr(order, name, value)
    if not described:
        return order
    order.version += 1
    order.save()
    order_log(order, OrderEventKind.CHANGE, actor, text="; ".join(described))
    return order_recalculate(order)


def _active() -> list[str]:
    return [OrderStatus.DRAFT, OrderStatus.CONFIRMED, OrderStatus.PAID, OrderStatus.READY]


@transaction.atomic
def order_transition(*, actor: Any, order: Order, to: str, reason: str = "") -> Order:
    """Move an order along its transition map; every move writes a history row."""
    order = order_lock(order)
    require_order_access(actor, order)
    if to not in OrderStatus.values:
        raise ValidationFailed(_("Unknown status."), field="status")
    if to not in ORDER_TRANSITIONS[order.status]:
        raise TransitionNotAllowed(
            _("An order cannot go from “%(from)s” to “%(to)s”.")
            % {"from": order.get_status_display(), "to": OrderStatus(to).label},
            field="status",
        )
    order = order_recalculate(order)
    if to == OrderStatus.PAID and order.balance_due > 0:
        raise Conflict(
            _("The order is not paid in full: %(due)s ₽ is due.") % {"due": order.balance_due},
            field="status",
            code="balance_due",
        )
    if to == OrderStatus.READY and order.kind == OrderKind.IMPORTER and order.vehicle_id is None:
        raise Conflict(_("The car has not arrived yet."), field="status", code="not_arrived")
    if to == OrderStatus.CANCELLED:
        if not reason.strip():
            raise ValidationFailed(_("Say why the order is cancelled."), field="reason")
        if order.paid_total > 0:
            raise Conflict(
                _("Refund the payments (%(paid)s ₽) before cancelling the order.")
                % {"paid": order.paid_total},
                field="status",
                code="refund_first",
            )
    if order.status == OrderStatus.READY and to == OrderStatus.PAID and not _is_supervisor(actor):
        raise NotAllowed(_("Only a head may take an order back from delivery."))
    from_status = order.status
    order.status = to
    order.version += 1
    now = timezone.now()
    if to == OrderStatus.CONFIRMED and order.confirmed_at is None:
        order.confirmed_at = now
    if to == OrderStatus.CANCELLED:
        order.cancel_reason = reason.strip()[:300]
        order.closed_at = now
        _cancel_open_invoices(order, actor)
        order_cancelled(order, actor, order.cancel_reason)
        if hasattr(order, "importer_order") and order.importer_order.status not in (
            ImporterOrderStatus.ARRIVED,
            ImporterOrderStatus.CANCELLED,
        ):
            _importer_set_status(order, order.importer_order, ImporterOrderStatus.CANCELLED, actor)
    if to == OrderStatus.DELIVERED:
        order.delivered_at = now
        order.closed_at = now
    order.save()
    if order.vehicle_id is not None and to in (OrderStatus.CANCELLED, OrderStatus.DELIVERED):
        _vehicle_after_close(order, to)
    order_log(order, OrderEventKind.STATUS, actor, from_value=from_status, to_value=to, text=reason)
    return order


def _is_supervisor(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False)) and actor.has_role(*SUPERVISING_ROLES)


def _cancel_open_invoices(order: Order, actor: Any) -> None:
    for invoice in order.invoices.select_for_update().filter(
        status=InvoiceStatus.ISSUED, paid_amount=0
    ):
        invoice.status = InvoiceStatus.CANCELLED
        invoice.cancelled_at = timezone.now()
        invoice.save(update_fields=["status", "cancelled_at", "updated_at"])
        order_log(
            order,
            OrderEventKind.INVOICE,
            actor,
            subject_id=invoice.pk,
            from_value=InvoiceStatus.ISSUED,
            to_value=InvoiceStatus.CANCELLED,
            text=invoice.number,
        )


def _vehicle_after_close(order: Order, to: str) -> None:
    assert order.vehicle_id is not None
    fields: dict[str, Any] = {"updated_at": timezone.now()}
    if to == OrderStatus.DELIVERED:
        fields.update(reservation_status=ReservationStatus.SOLD, in_stock=False)
    else:
        fields.update(reservation_status=ReservationStatus.FREE)
    Vehicle.objects.filter(pk=order.vehicle_id).update(**fields)
    record_stock_change([order.vehicle_id])


def _importer_set_status(order: Order, importer_order: ImporterOrder, to: str, actor: Any) -> None:
    from_status = importer_order.status
    importer_order.status = to
    importer_order.save(update_fields=["status", "updated_at"])
    order_log(order, OrderEventKind.IMPORTER, actor, from_value=from_status, to_value=to)


@transaction.atomic
def importer_order_transition(
    *,
    actor: Any,
    order: Order,
    to: str,
    importer_reference: str = "",
    arrival: dict[str, Any] | None = None,
) -> Order:
    """Move the importer order on. ``arrival`` (for "arrived") holds the stock car's fields
    (vin, stock_code, site, city, price, …); the car is created, linked and reserved."""
    order = order_lock(order)
    require_order_access(actor, order)
    importer_order = ImporterOrder.objects.select_for_update().filter(order=order).first()
    if importer_order is None:
        raise Conflict(_("This order is not an order from the importer."), code="not_importer")
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(_("The order is cancelled."), code="order_closed")
    if to not in ImporterOrderStatus.values:
        raise ValidationFailed(_("Unknown status."), field="status")
    if to not in IMPORTER_ORDER_TRANSITIONS[importer_order.status]:
        raise TransitionNotAllowed(
            _("An importer order cannot go from “%(from)s” to “%(to)s”.")
            % {"from": importer_order.get_status_display(), "to": ImporterOrderStatus(to).label},
            field="status",
        )
    if importer_reference:
        importer_order.importer_reference = importer_reference[:60]
        importer_order.save(update_fields=["importer_reference", "updated_at"])
    if to == ImporterOrderStatus.ARRIVED:
        fields = dict(arrival or {})
        if not fields.get("vin"):
            raise ValidationFailed(_("Enter the VIN of the car that arrived."), field="vin")
        fields.setdefault("stock_code", fields["vin"])
        fields.setdefault("make", importer_order.make)
        fields.setdefault("car_model", importer_order.car_model)
        fields.setdefault("trim", importer_order.trim)
        fields.setdefault("condition", "new")
        fields.setdefault("price", importer_order.expected_price or order.vehicle_price)
        fields.setdefault("dealer_center", order.dealer_center)
        fields["reservation_status"] = ReservationStatus.RESERVED
        vehicle = vehicle_create(actor=actor, **fields).vehicle
        order.vehicle = vehicle
        if order.issuer_id is None:
            order.issuer = issuer_for(dealer_center=order.dealer_center, vehicle=vehicle)
        order.version += 1
        order.save(update_fields=["vehicle", "issuer", "version", "updated_at"])
    _importer_set_status(order, importer_order, to, actor)
    return order_recalculate(order)


def _payment_status(total: Decimal, received: Decimal) -> str:
    if received <= 0:
        return PaymentStatus.UNPAID if total > 0 else PaymentStatus.PAID
    if received < total:
        return PaymentStatus.PARTLY_PAID
    return PaymentStatus.PAID if received == total else PaymentStatus.OVERPAID


def order_recalculate(order: Order, *, actor: Any = None) -> Order:
    """Bring the order's stored totals up to date from its parts. Called inside the
    transaction of every service that changes a part; the caller holds the order's lock or
    has just created it.

    total = vehicle price + equipment + financial products − promotion discounts;
    balance due = total − trade-in credit − paid (payments less refunds)."""
    from autocrm.orders.models import OrderEquipment, OrderPromotion

    equipment_total = OrderEquipment.objects.filter(order=order).aggregate(s=Sum("price"))["s"]
    _refresh_percent_discounts(order)
    discount_total = OrderPromotion.objects.filter(order=order).aggregate(s=Sum("discount"))["s"]
    money = Invoice.objects.filter(order=order).exclude(status=InvoiceStatus.CANCELLED)
    sums = money.aggregate(
        paid=Sum("paid_amount"),
        refunded=Sum("refunded_amount"),
        invoiced=Sum("amount", filter=~Q(status=InvoiceStatus.REFUNDED)),
    )
    order.equipment_total = round_money(equipment_total or ZERO)
    order.discount_total = round_money(discount_total or ZERO)
    for field in EXTERNAL_AMOUNT_FIELDS:
        setattr(order, field, round_money(external_amount(field, order)))
    order.total = (
        order.vehicle_price + order.equipment_total + order.products_total - order.discount_total
    )
    order.paid_total = round_money((sums["paid"] or ZERO) - (sums["refunded"] or ZERO))
    order.invoiced_total = round_money(sums["invoiced"] or ZERO)
    order.balance_due = order.total - order.trade_in_credit - order.paid_total
    order.payment_status = _payment_status(order.total - order.trade_in_credit, order.paid_total)
    previous = order.status
    if order.status == OrderStatus.CONFIRMED and order.balance_due <= 0 and order.total > 0:
        order.status = OrderStatus.PAID
    elif order.status == OrderStatus.PAID and order.balance_due > 0:
        order.status = OrderStatus.CONFIRMED
    order.save(
        update_fields=[
            "equipment_total",
            "discount_total",
            *EXTERNAL_AMOUNT_FIELDS,
            "total",
            "paid_total",
            "invoiced_total",
            "balance_due",
            "payment_status",
            "status",
            "updated_at",
        ]
    )
    if order.status != previous:
        order_log(
            order,
            OrderEventKind.STATUS,
            actor,
            from_value=previous,
            to_value=order.status,
            text=_("By the payments received."),
        )
    return order


def _refresh_percent_discounts(order: Order) -> None:
    """A percent promotion follows the vehicle price (it may be edited after applying)."""
    from autocrm.orders.models import OrderPromotion

    for applied in OrderPromotion.objects.filter(
        order=order, promotion__discount_percent__isnull=False
    ).select_related("promotion"):
        percent = applied.promotion.discount_percent
        assert percent is not None
        discount = round_money(order.vehicle_price * percent / 100)
        if applied.discount != discount:
            applied.discount = discount
            applied.save(update_fields=["discount", "updated_at"])
