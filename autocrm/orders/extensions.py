"""How apps above ``orders`` add to an order without ``orders`` knowing them.

``finance`` adds the financial products' total and their commissions, ``trade_ins`` the
credit for accepted trade-in cars. Each registers in its ``AppConfig.ready``:

* ``register_amount(field, fn)``: ``fn(order) -> Decimal`` gives the current value of one
  of the order's stored totals that ``orders`` does not own (``products_total``,
  ``trade_in_credit``); ``order_recalculate`` calls it inside its transaction.
* ``register_passport_lines(fn)``: ``fn(vehicle, order | None) -> list[PassportLine]``
  adds lines to a car's deal passport.
* ``register_on_cancel(fn)``: ``fn(order, actor, reason)`` closes what the app keeps for an
  order that is being cancelled (``finance``: its credit applications); it runs inside
  ``order_transition``'s transaction, with the order locked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autocrm.inventory.models import Vehicle
    from autocrm.orders.models import Order

EXTERNAL_AMOUNT_FIELDS = ("products_total", "trade_in_credit")


@dataclass(frozen=True)
class PassportLine:
    kind: str  # "income", "expense" or "info" (shown, not counted)
    code: str
    label: str
    amount: Decimal


AmountSource = Callable[["Order"], Decimal]
CancelHook = Callable[["Order", Any, str], None]
PassportSource = Callable[["Vehicle", "Order | None"], list[PassportLine]]

_amounts: dict[str, list[AmountSource]] = {field: [] for field in EXTERNAL_AMOUNT_FIELDS}
_passport_sources: list[PassportSource] = []
_cancel_hooks: list[CancelHook] = []


def register_amount(field: str, source: AmountSource) -> None:
    if field not in _amounts:
        raise ValueError(f"unknown order amount {field!r}")
    if source not in _amounts[field]:
        _amounts[field].append(source)


def register_passport_lines(source: PassportSource) -> None:
    if source not in _passport_sources:
        _passport_sources.append(source)


def register_on_cancel(hook: CancelHook) -> None:
    if hook not in _cancel_hooks:
        _cancel_hooks.append(hook)


def order_cancelled(order: Order, actor: Any, reason: str) -> None:
    for hook in _cancel_hooks:
        hook(order, actor, reason)


def external_amount(field: str, order: Order) -> Decimal:
    return sum((source(order) for source in _amounts[field]), Decimal("0"))


def external_passport_lines(vehicle: Vehicle, order: Order | None) -> list[PassportLine]:
    return [line for source in _passport_sources for line in source(vehicle, order)]


def passport_sources() -> tuple[PassportSource, ...]:
    return tuple(_passport_sources)
