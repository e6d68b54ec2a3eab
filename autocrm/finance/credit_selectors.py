"""Reads of the credit module: which credit programs fit an order (stage 1, "предварительный
расчёт"), with their rate and monthly payment; the applications a user may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from autocrm.finance.calculator import HUNDRED, LoanTerms, loan_terms_for_order
from autocrm.finance.models import (
    BrokerConnection,
    CreditApplication,
    CreditOffer,
    CreditProgram,
    CreditProgramRate,
    FinancialProduct,
    OrderProduct,
)
from autocrm.finance.models.credit import OfferStatus
from autocrm.orders.models import Order
from autocrm.orders.selectors import orders_visible
from autocrm.orders.selectors_catalog import dealer_center_today, order_car

DEFAULT_TERM_MONTHS = 36
DEFAULT_DOWN_PAYMENT_PERCENT = Decimal("20")


@dataclass(frozen=True)
class ProgramQuote:
    """A program that fits the order, with what the client would pay under it."""

    program: CreditProgram
    rate: Decimal
    term_months: int
    terms: LoanTerms
    financed_products: Decimal
    mandatory_products: list[FinancialProduct] = field(default_factory=list)


def program_rate(
    program: CreditProgram, term_months: int, down_payment_percent: Decimal
) -> Decimal:
    """The band for this term with the highest down-payment threshold the client reaches;
    the program's own rate when no band fits."""
    best: CreditProgramRate | None = None
    for band in program.rates.all():
        if not band.min_term_months <= term_months <= band.max_term_months:
            continue
        if band.min_down_payment_percent > down_payment_percent:
            continue
        if best is None or band.min_down_payment_percent > best.min_down_payment_percent:
            best = band
    return best.rate if best is not None else program.rate


def programs_valid_on(today: date) -> QuerySet[CreditProgram]:
    return (
        CreditProgram.objects.filter(is_active=True, bank__is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .select_related("bank")
    )


def _any_or(relation: Any, column: str, value: int | None) -> Q:
    """The program names no such restriction, or names ``value`` among them."""
    through = relation.objects.filter(creditprogram_id=OuterRef("pk"))
    return ~Exists(through) | Exists(through.filter(**{column: value}))


def _programs_fitting(
    today: date,
    *,
    make_id: int | None,
    car_model_id: int | None,
    term_months: int,
    down_payment_percent: Decimal,
    casco: bool | None,
) -> QuerySet[CreditProgram]:
    """``program_fits`` in SQL, so that only fitting programs load their bands and lists."""
    queryset = programs_valid_on(today).filter(
        _any_or(CreditProgram.brands.through, "brand_id", make_id),
        _any_or(CreditProgram.car_models.through, "carmodel_id", car_model_id),
        min_term_months__lte=term_months,
        max_term_months__gte=term_months,
        min_down_payment_percent__lte=down_payment_percent,
    )
    if casco is False:
        queryset = queryset.filter(casco_required=False)
    return queryset.prefetch_related(
        "rates",
        Prefetch(
            "mandatory_products",
            queryset=FinancialProduct.objects.filter(is_active=True).order_by("name"),
        ),
    )


def program_fits(
    program: CreditProgram,
    *,
    make_id: int | None,
    car_model_id: int | None,
    term_months: int,
    down_payment_percent: Decimal,
    casco: bool | None,
) -> str:
    """Why the program does not fit ("" when it does): an error code, for the message
    that refuses an application on that program."""
    brand_ids = {brand.pk for brand in program.brands.all()}
    if brand_ids and make_id not in brand_ids:
        return "program_other_make"
    model_ids = {model.pk for model in program.car_models.all()}
    if model_ids and car_model_id not in model_ids:
        return "program_other_model"
    if not program.min_term_months <= term_months <= program.max_term_months:
        return "program_term"
    if down_payment_percent < program.min_down_payment_percent:
        return "program_down_payment"
    if casco is False and program.casco_required:
        return "program_casco"
    return ""


def programs_for_order(
    order: Order,
    *,
    term_months: int | None = None,
    down_payment: Decimal | None = None,
    down_payment_percent: Decimal | None = None,
    casco: bool | None = None,
    order_amount: Decimal | None = None,
    today: date | None = None,
) -> list[ProgramQuote]:
    """The programs that fit the order's car, term, down payment and CASCO choice, each
    with its rate and annuity payment, best (lowest monthly payment) first.

    Without a term, 36 months; without a down payment, 20 % of the order amount. The
    program's mandatory products not yet on the order are financed in the credit (and
    confirming the offer puts them on the order)."""
    today = today or dealer_center_today(order.dealer_center)
    amount = order_amount if order_amount is not None else order.total
    term = term_months or DEFAULT_TERM_MONTHS
    if down_payment is None and down_payment_percent is None:
        down_payment_percent = DEFAULT_DOWN_PAYMENT_PERCENT
    if down_payment_percent is not None:
        percent = down_payment_percent
    elif amount > 0:
        percent = (down_payment or Decimal("0")) * HUNDRED / amount
    else:
        percent = Decimal("0")
    car = order_car(order)
    on_order = set(OrderProduct.objects.filter(order=order).values_list("product_id", flat=True))
    quotes: list[ProgramQuote] = []
    for program in _programs_fitting(
        today,
        make_id=car.make_id,
        car_model_id=car.car_model_id,
        term_months=term,
        down_payment_percent=percent,
        casco=casco,
    ):
        products = list(program.mandatory_products.all())
        financed = sum((p.price for p in products if p.pk not in on_order), Decimal("0"))
        rate = program_rate(program, term, percent)
        terms = loan_terms_for_order(
            order_amount=amount,
            rate=rate,
            term_months=term,
            down_payment=down_payment if down_payment_percent is None else None,
            down_payment_percent=down_payment_percent,
            financed_products=financed,
        )
        quotes.append(ProgramQuote(program, rate, term, terms, financed, products))
    quotes.sort(key=lambda quote: (quote.terms.monthly_payment, quote.rate, quote.program.pk))
    return quotes


def offer_is_live(offer: CreditOffer, application: CreditApplication, today: date) -> bool:
    """An offer the manager may still take: it answers the current version of the
    questionnaire, the bank did not decline, and it has not expired (the service's
    refusals, as a yes/no for the screens)."""
    return (
        offer.version == application.version
        and offer.status != OfferStatus.DECLINED
        and (offer.valid_until is None or offer.valid_until >= today)
    )


def applications_visible_to(user: Any) -> QuerySet[CreditApplication]:
    return CreditApplication.objects.filter(order__in=orders_visible(user)).select_related(
        "order", "program__bank", "chosen_offer__bank"
    )


def applications_of_order(order: Order) -> QuerySet[CreditApplication]:
    return (
        CreditApplication.objects.filter(order=order)
        .select_related("program__bank", "chosen_offer__bank")
        .prefetch_related("offers__bank")
        .order_by("created_at", "pk")
    )


def connection_for(order: Order) -> BrokerConnection | None:
    """The dealer center's own broker connection, else the group's default."""
    return (
        BrokerConnection.objects.filter(is_active=True)
        .filter(Q(dealer_center_id=order.dealer_center_id) | Q(dealer_center__isnull=True))
        .order_by(F("dealer_center_id").asc(nulls_last=True))  # its own first
        .first()
    )
