"""Financial products: the catalog, and adding them to (or removing them from) a sales
order. Every change of an order's products writes a history row and brings the order's
totals up to date in the same transaction (``products_total`` comes from
``finance.contributions``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from autocrm.core.audit import user_or_none
from autocrm.core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from autocrm.core.money import MAX_AMOUNT, round_money
from autocrm.finance.models import FinancialProduct, OrderProduct, ProductKind
from autocrm.orders.models import Order, OrderEventKind
from autocrm.orders.services.orders import (
    order_lock,
    order_log,
    order_recalculate,
    require_editable,
    require_order_access,
)

SELL_PERMISSION = "orders.sell"
MANAGE_PERMISSION = "finance.manage_products"
MAX_TERM_MONTHS = 600

# History rows of products: what happened to the product named in ``text``.
ADDED = "added"
REMOVED = "removed"


def require_perm(actor: Any, permission: str) -> None:
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(permission):
        raise NotAllowed(_("You do not have permission to perform this action."))


def _bump(order: Order) -> None:
    """The order's content changed: a client holding an older version is stale."""
    order.version += 1
    order.save(update_fields=["version", "updated_at"])


@transaction.atomic
def product_add(*, actor: Any, order: Order, product: FinancialProduct) -> OrderProduct:
    """Put a financial product on the order at its current price and commission (kept on
    the line: a later change of the catalog does not change sold products)."""
    require_perm(actor, SELL_PERMISSION)
    order = order_lock(order)
    require_order_access(actor, order)
    require_editable(order)
    product = FinancialProduct.objects.get(pk=product.pk)
    if not product.is_active:
        raise Conflict(
            _("The product “%(name)s” is no longer sold.") % {"name": product.name},
            field="product_id",
            code="product_inactive",
        )
    if OrderProduct.objects.filter(order=order, product=product).exists():
        raise Conflict(
            _("The product “%(name)s” is already in the order.") % {"name": product.name},
            field="product_id",
            code="product_already_added",
        )
    try:
        with transaction.atomic():
            line = OrderProduct.objects.create(
                order=order,
                product=product,
                price=product.price,
                commission=product.commission,
                mandatory=product.mandatory_for_credit,
                added_by=user_or_none(actor),
            )
    except IntegrityError:  # the unique constraint: added by someone else meanwhile
        raise Conflict(
            _("The product “%(name)s” is already in the order.") % {"name": product.name},
            field="product_id",
            code="product_already_added",
        ) from None
    _bump(order)
    order_log(
        order,
        OrderEventKind.PRODUCT,
        actor,
        subject_id=product.pk,
        to_value=ADDED,
        text=product.name,
        amount=line.price,
    )
    order_recalculate(order, actor=actor)
    line.order = order
    return line


@transaction.atomic
def product_remove(*, actor: Any, order: Order, product: FinancialProduct) -> Order:
    """Take a financial product off the order; the order's totals follow."""
    require_perm(actor, SELL_PERMISSION)
    order = order_lock(order)
    require_order_access(actor, order)
    require_editable(order)
    line = (
        OrderProduct.objects.select_related("product")
        .filter(order=order, product_id=product.pk)
        .first()
    )
    if line is None:
        raise NotFound(_("The order has no such product."), field="product_id")
    line.delete()
    _bump(order)
    order_log(
        order,
        OrderEventKind.PRODUCT,
        actor,
        subject_id=line.product_id,
        from_value=ADDED,
        to_value=REMOVED,
        text=line.product.name,
        amount=line.price,
    )
    return order_recalculate(order, actor=actor)


# --- the catalog --------------------------------------------------------------------------

_PRODUCT_FIELDS = frozenset(
    {
        "name",
        "kind",
        "counterparty",
        "term_months",
        "price",
        "commission",
        "mandatory_for_credit",
        "description",
        "is_active",
    }
)


_TEXT_LIMITS = {"name": 200, "counterparty": 200, "description": 5000}


def _clean(
    fields: dict[str, Any], *, active: bool, exclude_pk: int | None = None
) -> dict[str, Any]:
    unknown = sorted(set(fields) - _PRODUCT_FIELDS)
    if unknown:
        raise ValidationFailed(_("Unknown field."), field=unknown[0])
    cleaned = dict(fields)
    for name, limit in _TEXT_LIMITS.items():
        if name in cleaned:
            text = (cleaned[name] or "").strip()
            if "\x00" in text:
                raise ValidationFailed(_("NUL characters are not allowed."), field=name)
            if len(text) > limit:
                raise ValidationFailed(
                    _("At most %(limit)s characters.") % {"limit": limit}, field=name
                )
            cleaned[name] = text
    if "name" in cleaned:
        if not cleaned["name"]:
            raise ValidationFailed(_("Enter the product's name."), field="name")
        # Compared in Python: the catalog is small and SQLite folds only ASCII case.
        wanted = cleaned["name"].casefold()
        others = FinancialProduct.objects.filter(is_active=True)
        if exclude_pk is not None:
            others = others.exclude(pk=exclude_pk)
        names = others.values_list("name", flat=True)
        if active and any(other.strip().casefold() == wanted for other in names):
            raise Conflict(
                _("An active product with this name exists already."),
                field="name",
                code="duplicate_name",
            )
    if "kind" in cleaned and cleaned["kind"] not in ProductKind.values:
        raise ValidationFailed(_("Unknown kind of product."), field="kind")
    if "term_months" in cleaned:
        term = cleaned["term_months"]
        if term is None or not 0 <= term <= MAX_TERM_MONTHS:
            raise ValidationFailed(
                _("The term is 0 to %(max)s months.") % {"max": MAX_TERM_MONTHS},
                field="term_months",
            )
    for name in ("price", "commission"):
        if name in cleaned:
            amount = cleaned[name]
            if amount is None or not 0 <= amount <= MAX_AMOUNT:
                raise ValidationFailed(_("Enter an amount of 0 or more."), field=name)
            cleaned[name] = round_money(amount)
    return cleaned


@transaction.atomic
def product_create(
    *,
    actor: Any,
    name: str,
    kind: str,
    price: Decimal,
    commission: Decimal = Decimal("0"),
    counterparty: str = "",
    term_months: int = 0,
    mandatory_for_credit: bool = False,
    description: str = "",
    is_active: bool = True,
) -> FinancialProduct:
    require_perm(actor, MANAGE_PERMISSION)
    fields = _clean(
        {
            "name": name,
            "kind": kind,
            "price": price,
            "commission": commission,
            "counterparty": counterparty,
            "term_months": term_months,
            "mandatory_for_credit": mandatory_for_credit,
            "description": description,
            "is_active": is_active,
        },
        active=is_active,
    )
    return FinancialProduct.objects.create(**fields)


@transaction.atomic
def product_update(*, actor: Any, product: FinancialProduct, **changes: Any) -> FinancialProduct:
    """Change the catalog entry; products already on orders keep their price."""
    require_perm(actor, MANAGE_PERMISSION)
    product = FinancialProduct.objects.select_for_update().get(pk=product.pk)
    if changes.get("is_active") and "name" not in changes:
        changes["name"] = product.name  # reactivating must not duplicate an active name
    active = bool(changes.get("is_active", product.is_active))
    fields = _clean(changes, active=active, exclude_pk=product.pk)
    for name, value in fields.items():
        setattr(product, name, value)
    product.save()
    return product
