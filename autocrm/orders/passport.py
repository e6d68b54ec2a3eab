"""The deal passport (паспорт сделки) of a car: what the dealer earns and spends on it.

Income: the sale price (the order's vehicle price, or the car's price while nobody has
ordered it), the additional equipment sold, the importer's bonuses to be reimbursed for
promotions, and what apps above ``orders`` add (``finance``: commissions on financial
products; see ``orders.extensions``). Expense: the cost price, transport, consignment
costs (each only when known), the equipment's cost and the promotion discounts. The
recommended retail price is shown for reference and not counted. margin = income − expense.

The order a passport follows is the car's latest order that was not cancelled: the active
one, or the one that delivered the car.

For reports: ``passport_margins(vehicle_ids)`` gives the margin of many cars at once with a
bounded number of queries (see its docstring for what upper apps must register for that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _

from autocrm.accounts.scoping import scope_queryset
from autocrm.core.errors import NotFound
from autocrm.inventory.models import Vehicle
from autocrm.orders import extensions
from autocrm.orders.extensions import PassportLine, PassportSource, external_passport_lines
from autocrm.orders.models import Order, OrderEquipment, OrderPromotion, OrderStatus

ZERO = Decimal("0.00")

INCOME = "income"
EXPENSE = "expense"
INFO = "info"


@dataclass(frozen=True)
class Passport:
    vehicle: Vehicle
    order: Order | None
    lines: list[PassportLine] = field(default_factory=list)
    income_total: Decimal = ZERO
    expense_total: Decimal = ZERO
    margin: Decimal = ZERO

    @property
    def income_lines(self) -> list[PassportLine]:
        return [line for line in self.lines if line.kind == INCOME]

    @property
    def expense_lines(self) -> list[PassportLine]:
        return [line for line in self.lines if line.kind == EXPENSE]

    @property
    def info_lines(self) -> list[PassportLine]:
        return [line for line in self.lines if line.kind == INFO]


def passport_order(vehicle: Vehicle | int) -> Order | None:
    """The order the passport follows: the car's latest order that was not cancelled."""
    vehicle_id = vehicle if isinstance(vehicle, int) else vehicle.pk
    return (
        Order.objects.filter(vehicle_id=vehicle_id)
        .exclude(status=OrderStatus.CANCELLED)
        .order_by("-created_at", "-pk")
        .first()
    )


def _money(value: Decimal | None) -> Decimal:
    return (value or ZERO).quantize(ZERO)


def deal_passport(vehicle: Vehicle) -> Passport:
    """The car's passport: its lines and the exact totals (Decimal, kopecks)."""
    order = passport_order(vehicle)
    lines: list[PassportLine] = [
        PassportLine(
            INFO, "recommended_price", _("Recommended retail price"), _money(vehicle.price)
        )
    ]
    sale_price = order.vehicle_price if order is not None else vehicle.price
    lines.append(PassportLine(INCOME, "sale_price", _("Vehicle sale price"), _money(sale_price)))
    equipment: dict[str, Any] = {"price": None, "cost": None}
    promotions: dict[str, Any] = {"discount": None, "bonus": None}
    if order is not None:
        equipment = OrderEquipment.objects.filter(order=order).aggregate(
            price=Sum("price"), cost=Sum("cost")
        )
        promotions = OrderPromotion.objects.filter(order=order).aggregate(
            discount=Sum("discount"), bonus=Sum("importer_bonus")
        )
        lines.append(
            PassportLine(
                INCOME,
                "equipment_sale",
                _("Additional equipment: sale"),
                _money(equipment["price"]),
            )
        )
        lines.append(
            PassportLine(
                INCOME,
                "importer_bonuses",
                _("Importer bonuses to be reimbursed"),
                _money(promotions["bonus"]),
            )
        )
    for line in external_passport_lines(vehicle, order):
        lines.append(
            PassportLine(line.kind, line.code, str(line.label), _money(Decimal(line.amount)))
        )
    costs = (
        ("cost_price", _("Cost price"), vehicle.cost_price),
        ("transport_cost", _("Transport costs"), vehicle.transport_cost),
        ("consignment_cost", _("Consignment costs"), vehicle.consignment_cost),
    )
    for code, label, amount in costs:
        if amount is not None:
            lines.append(PassportLine(EXPENSE, code, label, _money(amount)))
    if order is not None:
        lines.append(
            PassportLine(
                EXPENSE,
                "equipment_cost",
                _("Additional equipment: cost"),
                _money(equipment["cost"]),
            )
        )
        lines.append(
            PassportLine(
                EXPENSE,
                "promotion_discounts",
                _("Promotion discounts"),
                _money(promotions["discount"]),
            )
        )
    # Income lines first, then expenses, the reference price on top: the table's order.
    rank = {INFO: 0, INCOME: 1, EXPENSE: 2}
    lines.sort(key=lambda line: rank.get(line.kind, 3))
    income_total = sum((line.amount for line in lines if line.kind == INCOME), ZERO)
    expense_total = sum((line.amount for line in lines if line.kind == EXPENSE), ZERO)
    return Passport(
        vehicle=vehicle,
        order=order,
        lines=lines,
        income_total=income_total,
        expense_total=expense_total,
        margin=income_total - expense_total,
    )


# --- who may see a passport ---------------------------------------------------------------


def passport_vehicles(user: Any) -> QuerySet[Vehicle]:
    """Cars whose passport the user may open: those of his dealer centers and group stock,
    sold ones included (the passport of a delivered car is what reports look at). Whether
    the user may see passports at all is the permission ``orders.view_deal_passport``."""
    return scope_queryset(Vehicle.objects.all(), user, include_unassigned=True)


def passport_vehicle_get(user: Any, vehicle_id: int) -> Vehicle:
    vehicle = passport_vehicles(user).filter(pk=vehicle_id).first()
    if vehicle is None:
        raise NotFound(_("Vehicle not found."))
    return vehicle


# --- many cars at once (reports) --------------------------------------------------------------

# ``fn(pairs)`` with ``pairs`` a list of (vehicle_id, order_id or None), one per car: for
# each car, the net amount (income − expense) of the lines its PassportSource would give.
MarginSource = Callable[[Sequence[tuple[int, int | None]]], dict[int, Decimal]]

_margin_sources: dict[PassportSource, MarginSource] = {}


def register_passport_margin_source(lines: PassportSource, margins: MarginSource) -> None:
    """Let ``passport_margins`` compute the lines of ``lines`` (a source registered with
    ``extensions.register_passport_lines``) for many cars in one query. A source without one
    is still counted, car by car (correct, but one call per car)."""
    _margin_sources[lines] = margins


def unregister_passport_margin_source(lines: PassportSource) -> None:
    _margin_sources.pop(lines, None)


def _net(lines: Iterable[PassportLine]) -> Decimal:
    total = ZERO
    for line in lines:
        if line.kind == INCOME:
            total += _money(Decimal(line.amount))
        elif line.kind == EXPENSE:
            total -= _money(Decimal(line.amount))
    return total


def passport_margins(vehicle_ids: Iterable[int]) -> dict[int, Decimal]:
    """Gross margin per car, exactly ``deal_passport(car).margin``, for many cars.

    For reports (margin per car, per model, per manager…): four queries whatever the
    number of cars, plus one per upper-app passport source that registered a bulk
    counterpart with ``register_passport_margin_source`` (finance's product commissions
    should); a source that did not is asked car by car. Unknown ids are left out; no
    scoping here: pass ids the caller may see (``passport_vehicles(user)``)."""
    ids = sorted({int(pk) for pk in vehicle_ids})
    if not ids:
        return {}
    # vehicle id -> (price, known costs)
    vehicles: dict[int, tuple[Decimal, list[Decimal | None]]] = {
        pk: (price, [cost, transport, consignment])
        for pk, price, cost, transport, consignment in Vehicle.objects.filter(
            pk__in=ids
        ).values_list("pk", "price", "cost_price", "transport_cost", "consignment_cost")
    }
    # The latest non-cancelled order of each car (a car has at most one active order; the
    # others were delivered before the car came back, e.g. as a trade-in):
    # vehicle id -> (order id, vehicle price).
    order_of: dict[int, tuple[int, Decimal]] = {}
    orders = (
        Order.objects.filter(vehicle_id__in=vehicles)
        .exclude(status=OrderStatus.CANCELLED)
        .order_by("vehicle_id", "-created_at", "-pk")
        .values_list("vehicle_id", "pk", "vehicle_price")
    )
    for vehicle_id, order_id, vehicle_price in orders:
        if vehicle_id is not None:
            order_of.setdefault(vehicle_id, (order_id, vehicle_price))
    order_ids = [order_id for order_id, _price in order_of.values()]
    equipment: dict[int, tuple[Decimal | None, Decimal | None]] = {
        order_id: (price, cost)
        for order_id, price, cost in OrderEquipment.objects.filter(order_id__in=order_ids)
        .values("order_id")
        .annotate(price=Sum("price"), cost=Sum("cost"))
        .order_by()
        .values_list("order_id", "price", "cost")
    }
    promotions: dict[int, tuple[Decimal | None, Decimal | None]] = {
        order_id: (bonus, discount)
        for order_id, bonus, discount in OrderPromotion.objects.filter(order_id__in=order_ids)
        .values("order_id")
        .annotate(bonus=Sum("importer_bonus"), discount=Sum("discount"))
        .order_by()
        .values_list("order_id", "bonus", "discount")
    }
    margins: dict[int, Decimal] = {}
    for pk, (price, costs) in vehicles.items():
        order = order_of.get(pk)
        income = _money(order[1] if order is not None else price)
        expense = sum((_money(cost) for cost in costs if cost is not None), ZERO)
        if order is not None:
            sold_price, sold_cost = equipment.get(order[0], (None, None))
            bonus, discount = promotions.get(order[0], (None, None))
            income += _money(sold_price) + _money(bonus)
            expense += _money(sold_cost) + _money(discount)
        margins[pk] = income - expense
    pairs = [(pk, order_of[pk][0] if pk in order_of else None) for pk in vehicles]
    _add_external(margins, pairs)
    return margins


def _add_external(margins: dict[int, Decimal], pairs: list[tuple[int, int | None]]) -> None:
    sources = list(extensions.passport_sources())  # the registry of orders.extensions
    slow = [source for source in sources if source not in _margin_sources]
    for source in sources:
        bulk = _margin_sources.get(source)
        if bulk is None:
            continue
        for vehicle_id, amount in bulk(pairs).items():
            if vehicle_id in margins:
                margins[vehicle_id] += _money(Decimal(amount))
    if not slow:
        return
    vehicles = Vehicle.objects.in_bulk([pk for pk, _order in pairs])
    orders = Order.objects.in_bulk([order for _pk, order in pairs if order is not None])
    for vehicle_id, order_id in pairs:
        order = orders.get(order_id) if order_id is not None else None
        for source in slow:
            margins[vehicle_id] += _net(source(vehicles[vehicle_id], order))
