"""HTTP API of credit (docs/api.md, "Credit"): the loan calculator, the credit programs
that fit an order, and credit applications through their four stages — calculation,
questionnaire, documents, the banks' offers — with the E-Credit broker in between
(docs/ecredit.md).

Reading needs ``orders.view_orders`` and an order the caller sees (another dealer
center's application answers 404, like a missing one); every write needs ``orders.sell``,
checked before the body is read, and goes through one service of
``finance.credit_services``, whose refusals become 400/403/404/409 with a field and a
code. The applicant's questionnaire never appears in the application: it has its own
endpoint, masked for callers without ``finance.view_credit_pii`` and logged otherwise.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    Amount,
    ErrorOut,
    Id,
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
from autocrm.core.errors import ValidationFailed
from autocrm.core.money import MAX_AMOUNT
from autocrm.finance import credit_selectors as selectors
from autocrm.finance import credit_services as services
from autocrm.finance.api import OrderRef
from autocrm.finance.calculator import (
    MAX_TERM_MONTHS,
    MIN_TERM_MONTHS,
    LoanTerms,
    loan_terms_for_order,
)
from autocrm.finance.calculator import loan_terms as calculate_loan
from autocrm.finance.models import (
    CreditApplicant,
    CreditApplication,
    CreditApplicationEvent,
    CreditDocument,
    CreditOffer,
    CreditProgram,
    FinancialProduct,
)
from autocrm.finance.models.credit import CreditStage, CreditStatus
from autocrm.finance.pii import questionnaire_view
from autocrm.orders.api import order_totals, visible_order
from autocrm.orders.models import Order
from autocrm.orders.selectors_catalog import dealer_center_today

router = Router(tags=["credit"])

VIEW_PERMISSION = "orders.view_orders"
SELL_PERMISSION = "orders.sell"

# Amounts a loan is computed from: above zero, within a money column's range.
PositiveAmount = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT, max_digits=14, decimal_places=2)]
# Rates and down-payment shares, percent with two decimals (the columns' precision).
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
TermMonths = Annotated[int, Field(ge=MIN_TERM_MONTHS, le=MAX_TERM_MONTHS)]
MaritalStatusName = Literal["single", "married", "divorced", "widowed", ""]


# --- output ------------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class BankOut(Schema):
    id: int
    code: str = Field(description="How the broker names the bank, e.g. sovcombank.")
    name: str


class ProductRef(Schema):
    id: int
    name: str
    price: str


class CalculationOut(Schema):
    credit_amount: str = Field(description="Order amount − down payment + financed products.")
    monthly_payment: str = Field(description="The annuity payment, rounded half-up to kopecks.")
    total_paid: str = Field(description="monthly_payment × term_months.")
    overpayment: str = Field(description="total_paid − credit_amount.")
    rate: str
    term_months: int
    casco: bool
    order_amount: str | None = Field(description="Given the order form only (else null).")
    down_payment: str | None
    down_payment_percent: str | None
    financed_products: str | None


class ProgramOut(Schema):
    id: int
    bank: BankOut
    name: str
    rate: str = Field(description="For this term and down payment (the program's rate band).")
    term_months: int
    min_term_months: int
    max_term_months: int
    min_down_payment_percent: str
    casco_required: bool
    credit_amount: str
    down_payment: str
    down_payment_percent: str
    financed_products: str = Field(
        description="The program's mandatory products not yet on the order: the bank finances them."
    )
    monthly_payment: str
    total_paid: str
    overpayment: str
    mandatory_products: list[ProductRef]
    valid_until: date | None


class ProgramRef(Schema):
    id: int
    name: str
    bank: BankOut


class UserRef(Schema):
    id: int
    name: str


class OfferOut(Schema):
    id: int
    bank: BankOut
    status: str = Field(description="approved, counter_offer or declined.")
    status_name: str
    amount: str | None = Field(description="null when declined.")
    rate: str | None
    term_months: int | None
    monthly_payment: str | None
    required_products: list[ProductRef] = Field(
        description="Products of the catalog the bank requires (put on the order when the "
        "offer is confirmed)."
    )
    required_product_codes: list[str] = Field(description="As the broker named them.")
    valid_until: date | None
    comment: str
    version: int = Field(description="The questionnaire version the bank answered.")
    is_current: bool = Field(description="version == the application's version.")
    can_confirm: bool = Field(description="The caller may confirm this offer now.")
    created_at: datetime


class DocumentOut(Schema):
    id: int
    kind: str
    kind_name: str
    filename: str
    size: int = Field(description="Bytes.")
    content_type: str = Field(description="Told from the content: PDF, JPEG or PNG.")
    version: int = Field(description="The questionnaire version it belongs to.")
    broker_state: str | None = Field(
        description="queued, sent or failed: forwarding to the broker; null without one."
    )
    uploaded_by: UserRef | None
    created_at: datetime


class EventOut(Schema):
    kind: str = Field(description="stage, status, broker, offer, document or change.")
    kind_name: str
    from_value: str
    to_value: str
    text: str
    changed_by: UserRef | None
    changed_at: datetime


class ApplicationOut(Schema):
    id: int
    order_id: int
    stage: str = Field(description="calculation, questionnaire, documents or confirmation.")
    stage_name: str
    status: str = Field(description="open, confirmed or cancelled.")
    status_name: str
    version: int = Field(
        description="The questionnaire's version; grows on a change after submission."
    )
    order_amount: str
    down_payment: str
    down_payment_percent: str
    financed_products: str
    credit_amount: str
    term_months: int
    rate: str
    casco: bool
    monthly_payment: str
    total_paid: str
    overpayment: str
    program: ProgramRef | None
    broker_state: str = Field(description="not_sent, queued, sent or failed.")
    broker_state_name: str
    broker_reference: str = Field(description="The broker's number, once it accepted.")
    submitted_at: datetime | None
    chosen_offer_id: int | None
    confirmed_at: datetime | None
    cancel_reason: str
    has_questionnaire: bool
    created_by: UserRef | None
    created_at: datetime
    updated_at: datetime
    offers: list[OfferOut]
    documents: list[DocumentOut]
    history: list[EventOut]


class ConfirmedOut(ApplicationOut):
    order: OrderRef = Field(description="The order's money after the confirmation.")


class QuestionnaireOut(Schema):
    last_name: str
    first_name: str
    patronymic: str
    birth_date: str | None
    birth_place: str
    passport_number: str
    passport_issued_by: str
    passport_issued_on: str | None
    passport_division_code: str
    registration_address: str
    residence_address: str
    phone: str
    email: str
    employer: str
    position: str
    employment_months: int | None
    monthly_income: str | None
    marital_status: str
    dependants: int
    consent_personal_data: bool
    consent_credit_history: bool
    consented_at: str | None


class QuestionnaireViewOut(Schema):
    masked: bool = Field(
        description="true: identity documents and addresses are hidden (the caller lacks "
        "finance.view_credit_pii)."
    )
    questionnaire: QuestionnaireOut | None = Field(description="null until it is filled in.")


def _user(user: Any) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "name": user.display_name}


def _bank(bank: Any) -> dict[str, Any]:
    return {"id": bank.pk, "code": bank.code, "name": bank.name}


def _product(product: FinancialProduct) -> dict[str, Any]:
    return {"id": product.pk, "name": product.name, "price": money(product.price)}


def _percent(value: Decimal | None) -> str | None:
    return money(value) if value is not None else None


def _calculation(
    terms: LoanTerms, *, rate: Decimal, term_months: int, casco: bool, financed: Decimal | None
) -> dict[str, Any]:
    return {
        "credit_amount": money(terms.credit_amount),
        "monthly_payment": money(terms.monthly_payment),
        "total_paid": money(terms.total_paid),
        "overpayment": money(terms.overpayment),
        "rate": money(rate),
        "term_months": term_months,
        "casco": casco,
        "order_amount": money(terms.order_amount),
        "down_payment": money(terms.down_payment),
        "down_payment_percent": _percent(terms.down_payment_percent),
        "financed_products": money(financed),
    }


def _quote(quote: selectors.ProgramQuote) -> dict[str, Any]:
    program, terms = quote.program, quote.terms
    return {
        "id": program.pk,
        "bank": _bank(program.bank),
        "name": program.name,
        "rate": money(quote.rate),
        "term_months": quote.term_months,
        "min_term_months": program.min_term_months,
        "max_term_months": program.max_term_months,
        "min_down_payment_percent": money(program.min_down_payment_percent),
        "casco_required": program.casco_required,
        "credit_amount": money(terms.credit_amount),
        "down_payment": money(terms.down_payment or Decimal("0")),
        "down_payment_percent": money(terms.down_payment_percent or Decimal("0")),
        "financed_products": money(quote.financed_products),
        "monthly_payment": money(terms.monthly_payment),
        "total_paid": money(terms.total_paid),
        "overpayment": money(terms.overpayment),
        "mandatory_products": [_product(product) for product in quote.mandatory_products],
        "valid_until": program.valid_until,
    }


def _offer(
    offer: CreditOffer, application: CreditApplication, *, confirmable: bool, today: date
) -> dict[str, Any]:
    can_confirm = confirmable and selectors.offer_is_live(offer, application, today)
    return {
        "id": offer.pk,
        "bank": _bank(offer.bank),
        "status": offer.status,
        "status_name": str(offer.get_status_display()),
        "amount": money(offer.amount),
        "rate": _percent(offer.rate),
        "term_months": offer.term_months,
        "monthly_payment": money(offer.monthly_payment),
        "required_products": [_product(product) for product in offer.required_products.all()],
        "required_product_codes": [str(code) for code in offer.required_product_codes or []],
        "valid_until": offer.valid_until,
        "comment": offer.comment,
        "version": offer.version,
        "is_current": offer.version == application.version,
        "can_confirm": can_confirm,
        "created_at": offer.created_at,
    }


def _document(document: CreditDocument) -> dict[str, Any]:
    submission = getattr(document, "submission", None)
    return {
        "id": document.pk,
        "kind": document.kind,
        "kind_name": str(document.get_kind_display()),
        "filename": document.filename,
        "size": document.size,
        "content_type": document.content_type,
        "version": document.version,
        "broker_state": submission.status if submission is not None else None,
        "uploaded_by": _user(document.uploaded_by),
        "created_at": document.created_at,
    }


def _event(event: CreditApplicationEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "kind_name": str(event.get_kind_display()),
        "from_value": event.from_value,
        "to_value": event.to_value,
        "text": event.text,
        "changed_by": _user(event.changed_by),
        "changed_at": event.changed_at,
    }


def _application(request: HttpRequest, application_id: int) -> dict[str, Any]:
    """The application as the API shows it, read afresh (after a service changed it)."""
    application = (
        CreditApplication.objects.select_related(
            "order__dealer_center", "program__bank", "created_by"
        )
        .prefetch_related("offers__bank", "offers__required_products")
        .get(pk=application_id)
    )
    program = application.program
    confirmable = (
        application.status == CreditStatus.OPEN
        and application.stage == CreditStage.CONFIRMATION
        and application.order.is_editable
        and request.user.has_perm(SELL_PERMISSION)
    )
    today = dealer_center_today(application.order.dealer_center)
    documents = application.documents.select_related("submission", "uploaded_by").order_by(
        "created_at", "pk"
    )
    events = application.events.select_related("changed_by").order_by("changed_at", "pk")
    return {
        "id": application.pk,
        "order_id": application.order_id,
        "stage": application.stage,
        "stage_name": str(application.get_stage_display()),
        "status": application.status,
        "status_name": str(application.get_status_display()),
        "version": application.version,
        "order_amount": money(application.order_amount),
        "down_payment": money(application.down_payment),
        "down_payment_percent": money(application.down_payment_percent),
        "financed_products": money(application.financed_products),
        "credit_amount": money(application.credit_amount),
        "term_months": application.term_months,
        "rate": money(application.rate),
        "casco": application.casco,
        "monthly_payment": money(application.monthly_payment),
        "total_paid": money(application.total_paid),
        "overpayment": money(application.overpayment),
        "program": None
        if program is None
        else {"id": program.pk, "name": program.name, "bank": _bank(program.bank)},
        "broker_state": application.broker_state,
        "broker_state_name": str(application.get_broker_state_display()),
        "broker_reference": application.broker_reference,
        "submitted_at": application.submitted_at,
        "chosen_offer_id": application.chosen_offer_id,
        "confirmed_at": application.confirmed_at,
        "cancel_reason": application.cancel_reason,
        "has_questionnaire": CreditApplicant.objects.filter(application=application).exists(),
        "created_by": _user(application.created_by),
        "created_at": application.created_at,
        "updated_at": application.updated_at,
        "offers": [
            _offer(offer, application, confirmable=confirmable, today=today)
            for offer in application.offers.all()
        ],
        "documents": [_document(document) for document in documents],
        "history": [_event(event) for event in events],
    }


def _order(order_id: int) -> dict[str, Any]:
    order = Order.objects.get(pk=order_id)
    return order_totals(order) | {"id": order.pk, "version": order.version}


def _visible_application(request: HttpRequest, application_id: int) -> CreditApplication:
    application: CreditApplication = get_or_404(
        selectors.applications_visible_to(request.user), pk=application_id
    )
    return application


# --- input -------------------------------------------------------------------------------


class CalculateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    credit_amount: PositiveAmount | None = Field(
        None, description="The amount to borrow; or give order_amount and a down payment."
    )
    order_amount: PositiveAmount | None = Field(None, description="The price to pay.")
    down_payment: Amount | None = Field(None, description="Roubles; with order_amount.")
    down_payment_percent: Percent | None = Field(
        None, description="Percent of order_amount, 0 to below 100; instead of down_payment."
    )
    financed_products: Amount | None = Field(
        None, description="Products the bank finances on top (with order_amount)."
    )
    term_months: TermMonths
    rate: Percent = Field(..., description="Annual rate, percent, 0–100.")
    casco: bool = False


class ProgramParams(ListParams):
    term_months: TermMonths | None = Field(None, description="Default 36.")
    down_payment: Amount | None = Field(None, description="Roubles.")
    down_payment_percent: Percent | None = Field(
        None, description="Instead of down_payment; without either, 20 %."
    )
    casco: bool | None = Field(
        None, description="false leaves out programs that require CASCO; unset keeps them."
    )
    order_amount: PositiveAmount | None = Field(None, description="Default: the order's total.")


class TermsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    program_id: Id | None = Field(None, description="A credit program; its rate applies.")
    term_months: TermMonths
    down_payment: Amount | None = Field(None, description="Roubles.")
    down_payment_percent: Percent | None = Field(None, description="Instead of down_payment.")
    rate: Percent | None = Field(None, description="Required without program_id.")
    casco: bool = False
    order_amount: PositiveAmount | None = Field(None, description="Default: the order's total.")


class QuestionnaireIn(Schema):
    """The whole questionnaire: fields left out are emptied. Completeness is checked when
    the application is submitted, the form of each field now."""

    model_config = ConfigDict(extra="forbid")

    last_name: Text | None = Field(None, max_length=100)
    first_name: Text | None = Field(None, max_length=100)
    patronymic: Text | None = Field(None, max_length=100)
    birth_date: date | None = Field(None, description="YYYY-MM-DD; 18 to 100 years ago.")
    birth_place: Text | None = Field(None, max_length=500)
    passport_number: Text | None = Field(
        None, max_length=20, description="Series and number, 10 digits: 4510 123456."
    )
    passport_issued_by: Text | None = Field(None, max_length=500)
    passport_issued_on: date | None = None
    passport_division_code: Text | None = Field(None, max_length=10, description="123-456.")
    registration_address: Text | None = Field(None, max_length=500)
    residence_address: Text | None = Field(None, max_length=500)
    phone: Text | None = Field(None, max_length=32, description="+79001234567.")
    email: Text | None = Field(None, max_length=254)
    employer: Text | None = Field(None, max_length=200)
    position: Text | None = Field(None, max_length=100)
    employment_months: int | None = Field(None, ge=0, le=1200)
    monthly_income: Amount | None = None
    marital_status: MaritalStatusName | None = None
    dependants: int | None = Field(None, ge=0, le=20)
    consent_personal_data: bool = False
    consent_credit_history: bool = False


class ConfirmIn(Schema):
    offer_id: Id


class CancelIn(Schema):
    reason: Text = Field("", max_length=300, description="Required.")


def _one_down_payment(down_payment: Decimal | None, percent: Decimal | None) -> None:
    if down_payment is not None and percent is not None:
        raise ValidationFailed(
            _("Give the down payment in roubles or in percent, one of them."),
            field="down_payment",
        )


def _hundredths(value: Decimal | None) -> Decimal | None:
    # "15.5" is stored, shown and logged as 15.50, as rates are everywhere else.
    return None if value is None else value.quantize(Decimal("0.01"))


def _terms_arguments(order: Order, payload: TermsIn) -> dict[str, Any]:
    """The service's arguments, the program looked up; refused before anything is locked
    when the body contradicts itself."""
    _one_down_payment(payload.down_payment, payload.down_payment_percent)
    if payload.down_payment is None and payload.down_payment_percent is None:
        raise ValidationFailed(
            _("Give the down payment in roubles or in percent, one of them."),
            field="down_payment",
        )
    if payload.order_amount is None and order.total <= 0:
        raise ValidationFailed(_("The order amount must be above zero."), field="order_amount")
    program: CreditProgram | None = None
    if payload.program_id is not None:
        if payload.rate is not None:
            raise ValidationFailed(
                _("The credit program sets the rate: give the rate or the program, not both."),
                field="rate",
            )
        program = CreditProgram.objects.select_related("bank").filter(pk=payload.program_id).first()
        if program is None:
            raise ValidationFailed(_("No such credit program."), field="program_id")
    return {
        "program": program,
        "term_months": payload.term_months,
        "down_payment": payload.down_payment,
        "down_payment_percent": _hundredths(payload.down_payment_percent),
        "rate": _hundredths(payload.rate),
        "casco": payload.casco,
        "order_amount": payload.order_amount,
    }


# --- the calculator and the programs --------------------------------------------------------


@router.post(
    "/credit/calculate",
    response={200: CalculationOut, **ERROR_RESPONSES},
    summary="Calculate a loan",
    openapi_extra=body_schema(CalculateIn),
)
def calculate(request: HttpRequest) -> dict[str, Any]:
    """The annuity payment for ``credit_amount``, or for ``order_amount`` less a down
    payment (``down_payment`` in roubles or ``down_payment_percent``, one of them) plus
    ``financed_products``; exact decimal arithmetic, rounded to kopecks once."""
    require_perm(request, VIEW_PERMISSION)
    payload: CalculateIn = json_body(request, CalculateIn)
    if payload.order_amount is None:
        if payload.credit_amount is None:
            raise ValidationFailed(
                _("Give the credit amount, or the order amount and the down payment."),
                field="credit_amount",
            )
        for name in ("down_payment", "down_payment_percent", "financed_products"):
            if getattr(payload, name) is not None:
                raise ValidationFailed(
                    _("This goes with the order amount, not with the credit amount."),
                    field=name,
                )
        terms = calculate_loan(payload.credit_amount, payload.rate, payload.term_months)
        financed = None
    else:
        if payload.credit_amount is not None:
            raise ValidationFailed(
                _("Give the credit amount or the order amount, not both."),
                field="credit_amount",
            )
        financed = payload.financed_products or Decimal("0")
        terms = loan_terms_for_order(
            order_amount=payload.order_amount,
            rate=payload.rate,
            term_months=payload.term_months,
            down_payment=payload.down_payment,
            down_payment_percent=payload.down_payment_percent,
            financed_products=financed,
        )
    return _calculation(
        terms,
        rate=payload.rate,
        term_months=payload.term_months,
        casco=payload.casco,
        financed=financed,
    )


@router.get(
    "/orders/{order_id}/credit-programs",
    response={200: Page[ProgramOut], **DETAIL_ERROR_RESPONSES},
    summary="Credit programs that fit an order",
)
def credit_programs(
    request: HttpRequest, params: Query[ProgramParams], order_id: int = object_id()
) -> dict[str, Any]:
    """Programs valid today for the order's car, term, down payment and CASCO choice, each
    with its rate band and monthly payment, the lowest monthly payment first."""
    require_perm(request, VIEW_PERMISSION)
    order = visible_order(request, order_id)
    _one_down_payment(params.down_payment, params.down_payment_percent)
    amount = params.order_amount if params.order_amount is not None else order.total
    term = params.term_months or selectors.DEFAULT_TERM_MONTHS
    percent = params.down_payment_percent
    if params.down_payment is None and percent is None:
        percent = selectors.DEFAULT_DOWN_PAYMENT_PERCENT
    # The same checks as a calculation (down payment below the amount ...), so that bad
    # input is a 400 even when no program would fit.
    loan_terms_for_order(
        order_amount=amount,
        rate=Decimal("0"),
        term_months=term,
        down_payment=params.down_payment if percent is None else None,
        down_payment_percent=percent,
    )
    quotes = selectors.programs_for_order(
        order,
        term_months=term,
        down_payment=params.down_payment,
        down_payment_percent=params.down_payment_percent,
        casco=params.casco,
        order_amount=params.order_amount,
    )
    page = quotes[params.offset : params.offset + params.limit]
    return {"count": len(quotes), "items": [_quote(quote) for quote in page]}


# --- applications ---------------------------------------------------------------------------


@router.get(
    "/orders/{order_id}/credit-applications",
    response={200: Page[ApplicationOut], **DETAIL_ERROR_RESPONSES},
    summary="Credit applications of an order",
)
def application_list(
    request: HttpRequest, params: Query[ListParams], order_id: int = object_id()
) -> dict[str, Any]:
    """Oldest first, cancelled and confirmed ones included."""
    require_perm(request, VIEW_PERMISSION)
    order = visible_order(request, order_id)
    page = paginate(selectors.applications_of_order(order), params)
    return {
        "count": page["count"],
        "items": [_application(request, application.pk) for application in page["items"]],
    }


@router.post(
    "/orders/{order_id}/credit-applications",
    response={201: ApplicationOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Open a credit application",
    openapi_extra=body_schema(TermsIn),
)
def application_create(request: HttpRequest, order_id: int = object_id()) -> Status[dict[str, Any]]:
    """Stage 1, calculation: the terms from a credit program (its rate band and the
    mandatory products it finances) or from a rate given by hand."""
    require_perm(request, SELL_PERMISSION)
    order = visible_order(request, order_id)
    payload: TermsIn = json_body(request, TermsIn)
    application = services.credit_application_create(
        actor=request.user, order=order, **_terms_arguments(order, payload)
    )
    return Status(201, _application(request, application.pk))


@router.get(
    "/credit-applications/{application_id}",
    response={200: ApplicationOut, **DETAIL_ERROR_RESPONSES},
    summary="A credit application",
)
def application_detail(request: HttpRequest, application_id: int = object_id()) -> dict[str, Any]:
    """With the banks' offers, the documents and the history; the questionnaire has its own
    endpoint (``has_questionnaire`` tells whether there is one)."""
    require_perm(request, VIEW_PERMISSION)
    return _application(request, _visible_application(request, application_id).pk)


@router.put(
    "/credit-applications/{application_id}/terms",
    response={200: ApplicationOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Change the terms of a credit application",
    openapi_extra=body_schema(TermsIn),
)
def application_terms(request: HttpRequest, application_id: int = object_id()) -> dict[str, Any]:
    """Before submission only (409 ``already_submitted`` after): the body as for opening
    the application."""
    require_perm(request, SELL_PERMISSION)
    application = _visible_application(request, application_id)
    payload: TermsIn = json_body(request, TermsIn)
    application = services.credit_application_recalculate(
        actor=request.user,
        application=application,
        **_terms_arguments(application.order, payload),
    )
    return _application(request, application.pk)


@router.get(
    "/credit-applications/{application_id}/questionnaire",
    response={200: QuestionnaireViewOut, **DETAIL_ERROR_RESPONSES},
    summary="The applicant's questionnaire",
)
def questionnaire_get(request: HttpRequest, application_id: int = object_id()) -> dict[str, Any]:
    """In full for sales managers and lawyers (``finance.view_credit_pii``) — each such
    reading is logged —, with identity documents and addresses masked for everybody else."""
    require_perm(request, VIEW_PERMISSION)
    application = _visible_application(request, application_id)
    data, masked = questionnaire_view(request.user, application, channel="api")
    return {"masked": masked, "questionnaire": data}


@router.put(
    "/credit-applications/{application_id}/questionnaire",
    response={200: ApplicationOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Fill in the questionnaire",
    openapi_extra=body_schema(QuestionnaireIn),
)
def questionnaire_put(request: HttpRequest, application_id: int = object_id()) -> dict[str, Any]:
    """The whole questionnaire (stage 2). After submission a change is a new version of
    the application, back in stage 2, to be submitted again."""
    require_perm(request, SELL_PERMISSION)
    application = _visible_application(request, application_id)
    payload: QuestionnaireIn = json_body(request, QuestionnaireIn)
    application = services.credit_questionnaire_save(
        actor=request.user, application=application, data=payload.model_dump()
    )
    return _application(request, application.pk)


@router.post(
    "/credit-applications/{application_id}/submit",
    response={200: ApplicationOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Send the application to the banks",
)
def application_submit(request: HttpRequest, application_id: int = object_id()) -> dict[str, Any]:
    """Queues the questionnaire's current version for the E-Credit broker (stage 3,
    ``broker_state`` queued); the banks' offers arrive later by callback."""
    require_perm(request, SELL_PERMISSION)
    application = _visible_application(request, application_id)
    application = services.credit_application_submit(actor=request.user, application=application)
    return _application(request, application.pk)


@router.post(
    "/credit-applications/{application_id}/resend",
    response={200: ApplicationOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Send again what the broker refused",
)
def application_resend(request: HttpRequest, application_id: int = object_id()) -> dict[str, Any]:
    """Queues the failed submissions again, once their cause (e.g. credentials) is fixed;
    409 ``nothing_to_resend`` when nothing failed."""
    require_perm(request, SELL_PERMISSION)
    application = _visible_application(request, application_id)
    application = services.credit_application_resend(actor=request.user, application=application)
    return _application(request, application.pk)


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["kind", "file"],
                    "properties": {
                        "kind": {
                            "type": "string",
                            "enum": [
                                "passport",
                                "signed_questionnaire",
                                "income_statement",
                                "driving_licence",
                                "other",
                            ],
                        },
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PDF, JPEG or PNG (told from the content), "
                            "up to settings.DOCUMENT_MAX_BYTES.",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/credit-applications/{application_id}/documents",
    response={201: DocumentOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Upload a document of a credit application",
    openapi_extra=UPLOAD_BODY,
)
def document_upload(
    request: HttpRequest, application_id: int = object_id()
) -> Status[dict[str, Any]]:
    """After submission (409 ``not_submitted`` before); forwarded to the broker. With the
    passport and the signed questionnaire of the current version in, the application is
    in stage 4."""
    require_perm(request, SELL_PERMISSION)
    application = _visible_application(request, application_id)
    kind = request.POST.get("kind", "")
    upload = request.FILES.get("file")
    if not kind:
        raise ValidationFailed(_("Choose the kind of the document."), field="kind")
    if upload is None:
        raise ValidationFailed(_("Choose a file to upload."), field="file")
    document = services.credit_document_upload(
        actor=request.user,
        application=application,
        kind=kind,
        upload=upload,
        filename=upload.name or "",
    )
    document = CreditDocument.objects.select_related("submission", "uploaded_by").get(
        pk=document.pk
    )
    return Status(201, _document(document))


@router.post(
    "/credit-applications/{application_id}/confirm",
    response={200: ConfirmedOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Confirm a bank's offer",
    openapi_extra=body_schema(ConfirmIn),
)
def application_confirm(request: HttpRequest, application_id: int = object_id()) -> dict[str, Any]:
    """The application takes the offer's terms; the order's other open applications are
    cancelled, the products the bank requires go on the order, a credit invoice is
    issued. Answers with the order's new money in ``order``."""
    require_perm(request, SELL_PERMISSION)
    application = _visible_application(request, application_id)
    payload: ConfirmIn = json_body(request, ConfirmIn)
    application = services.credit_offer_confirm(
        actor=request.user, application=application, offer_id=payload.offer_id
    )
    return _application(request, application.pk) | {"order": _order(application.order_id)}


@router.post(
    "/credit-applications/{application_id}/cancel",
    response={200: ApplicationOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Cancel a credit application",
    openapi_extra=body_schema(CancelIn),
)
def application_cancel(request: HttpRequest, application_id: int = object_id()) -> dict[str, Any]:
    """An open application only (409 ``application_closed`` otherwise); ``reason`` is
    required."""
    require_perm(request, SELL_PERMISSION)
    application = _visible_application(request, application_id)
    payload: CancelIn = json_body(request, CancelIn)
    application = services.credit_application_cancel(
        actor=request.user, application=application, reason=payload.reason
    )
    return _application(request, application.pk)
