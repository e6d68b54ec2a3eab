"""The loan calculator: annuity payments in exact decimal arithmetic.

Rounded to kopecks half-up at the end only: the monthly payment is computed at full
precision and rounded once; the total paid is the rounded payment times the term (what
the client pays), the overpayment the total less the credit.

Worked examples from the seed: 1 829 900 ₽ at 14.3 % for 36 months → 62 808.61 ₽ a
month; 1 550 000 ₽ on the same terms → 53 201.45 ₽.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from django.utils.translation import gettext as _

from autocrm.core.errors import ValidationFailed
from autocrm.core.money import round_money

MIN_TERM_MONTHS = 1
MAX_TERM_MONTHS = 120
MAX_RATE = Decimal("100")
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class LoanTerms:
    credit_amount: Decimal
    monthly_payment: Decimal
    total_paid: Decimal
    overpayment: Decimal
    down_payment: Decimal | None = None
    down_payment_percent: Decimal | None = None
    order_amount: Decimal | None = None


def annuity_payment(credit_amount: Decimal, rate: Decimal, term_months: int) -> Decimal:
    """The monthly annuity payment, unrounded (50 significant digits)."""
    with localcontext() as context:
        context.prec = 50
        if rate == 0:
            return credit_amount / term_months
        monthly = rate / (12 * HUNDRED)
        factor = (1 + monthly) ** term_months
        return credit_amount * monthly * factor / (factor - 1)


def _check_common(rate: Decimal, term_months: int) -> None:
    if not MIN_TERM_MONTHS <= term_months <= MAX_TERM_MONTHS:
        raise ValidationFailed(
            _("The term is from %(min)s to %(max)s months.")
            % {"min": MIN_TERM_MONTHS, "max": MAX_TERM_MONTHS},
            field="term_months",
        )
    if not 0 <= rate <= MAX_RATE:
        raise ValidationFailed(_("The rate is from 0 to 100 % a year."), field="rate")


def loan_terms(credit_amount: Decimal, rate: Decimal, term_months: int) -> LoanTerms:
    if credit_amount <= 0:
        raise ValidationFailed(_("The credit amount must be above zero."), field="credit_amount")
    _check_common(rate, term_months)
    credit_amount = round_money(credit_amount)
    monthly = round_money(annuity_payment(credit_amount, rate, term_months))
    total = monthly * term_months
    return LoanTerms(credit_amount, monthly, total, total - credit_amount)


def loan_terms_for_order(
    *,
    order_amount: Decimal,
    rate: Decimal,
    term_months: int,
    down_payment: Decimal | None = None,
    down_payment_percent: Decimal | None = None,
    financed_products: Decimal = Decimal("0"),
) -> LoanTerms:
    """Credit = order amount − down payment + financed products. The down payment is
    given in roubles or in percent of the order amount; each derives the other."""
    if order_amount <= 0:
        raise ValidationFailed(_("The order amount must be above zero."), field="order_amount")
    if (down_payment is None) == (down_payment_percent is None):
        raise ValidationFailed(
            _("Give the down payment in roubles or in percent, one of them."),
            field="down_payment",
        )
    if down_payment_percent is not None:
        if not 0 <= down_payment_percent < HUNDRED:
            raise ValidationFailed(
                _("The down payment is from 0 to 100 percent of the order."),
                field="down_payment_percent",
            )
        down_payment = round_money(order_amount * down_payment_percent / HUNDRED)
    assert down_payment is not None
    if down_payment < 0:
        raise ValidationFailed(_("The down payment cannot be negative."), field="down_payment")
    if down_payment >= order_amount:
        raise ValidationFailed(
            _("The down payment must be below the order amount."), field="down_payment"
        )
    if financed_products < 0:
        raise ValidationFailed(
            _("The financed products cannot be negative."), field="financed_products"
        )
    percent = down_payment_percent
    if percent is None:
        percent = round_money(down_payment * HUNDRED / order_amount)
    credit = order_amount - down_payment + financed_products
    terms = loan_terms(credit, rate, term_months)
    return LoanTerms(
        terms.credit_amount,
        terms.monthly_payment,
        terms.total_paid,
        terms.overpayment,
        down_payment=round_money(down_payment),
        down_payment_percent=percent,
        order_amount=round_money(order_amount),
    )
