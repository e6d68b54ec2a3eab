"""HTML of credit applications: the order card's «Кредитные заявки» tab and the wizard of
one application — 1 calculation, 2 questionnaire, 3 documents, 4 the banks' offers —
with its history.

The tab is an htmx partial (the order card loads it lazily); the wizard is a full page
(``/finance/credit/<id>/?step=N``) whose forms post normally and redirect, so it works
without JavaScript and at tablet width. Two parts refresh by themselves: the calculation's
summary and fitting programs (``credit_quote``, while the form is typed in) and the offers
(``credit_offers``, polled while the application is at the banks).

Reads are scoped (an order or application outside the user's dealer centers is a 404);
writes go through ``finance.credit_services``; a refused write shows the service's
message next to the field it names, or above the form, with its 4xx status. The
questionnaire is read through ``finance.pii``: in full (and logged) for users allowed to
read personal data, masked for the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rules.contrib.views import permission_required

from autocrm.core.errors import DomainError, NotFound, ValidationFailed
from autocrm.core.timezones import zone_named
from autocrm.finance import credit_services
from autocrm.finance.calculator import HUNDRED, loan_terms_for_order
from autocrm.finance.credit_selectors import (
    DEFAULT_DOWN_PAYMENT_PERCENT,
    DEFAULT_TERM_MONTHS,
    ProgramQuote,
    applications_of_order,
    applications_visible_to,
    offer_is_live,
    programs_for_order,
)
from autocrm.finance.forms_credit import (
    DOWN_PAYMENT_PERCENT,
    DOWN_PAYMENT_RUB,
    MAX_ID,
    NO_PROGRAM,
    QUESTIONNAIRE_GROUPS,
    WIDE_FIELDS,
    CalculationForm,
    DocumentForm,
    QuestionnaireForm,
    ReasonForm,
    put_error,
)
from autocrm.finance.models import (
    CreditApplicant,
    CreditApplication,
    CreditDocument,
    CreditOffer,
    CreditProgram,
)
from autocrm.finance.models.credit import (
    BrokerState,
    CreditEventKind,
    CreditStage,
    CreditStatus,
    DocumentKind,
    MaritalStatus,
    OfferStatus,
    SubmissionStatus,
)
from autocrm.finance.pii import may_read_pii, pii_access_log, questionnaire_view
from autocrm.orders.models import Order
from autocrm.orders.selectors import order_get
from autocrm.orders.selectors_catalog import dealer_center_today

VIEW = "orders.view_orders"
SELL = "orders.sell"
HISTORY_LIMIT = 200
# While no bank has answered the current version the offers are asked for often; once
# some have, less often (more banks may still answer).
POLL_WAITING = "3s"
POLL_ANSWERED = "10s"

view_permission = permission_required(VIEW, raise_exception=True)
sell_permission = permission_required(SELL, raise_exception=True)

STEPS: tuple[tuple[int, str, Any], ...] = (
    (1, CreditStage.CALCULATION, pgettext_lazy("credit step", "Calculation")),
    (2, CreditStage.QUESTIONNAIRE, pgettext_lazy("credit step", "Questionnaire")),
    (3, CreditStage.DOCUMENTS, pgettext_lazy("credit step", "Documents")),
    (4, CreditStage.CONFIRMATION, pgettext_lazy("credit step", "Bank offers")),
)
STAGE_STEP = {stage: number for number, stage, _label in STEPS}
# The service's names of the calculation's inputs → the form's.
CALCULATION_ALIASES = {"program_id": "program", "credit_amount": "", "financed_products": ""}
OFFER_ORDER: dict[str, int] = {
    OfferStatus.APPROVED: 0,
    OfferStatus.COUNTER_OFFER: 1,
    OfferStatus.DECLINED: 2,
}


# --------------------------------------------------------------------------- helpers


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    if not 1 <= order_id <= MAX_ID:
        raise Http404
    try:
        return order_get(request.user, order_id)
    except NotFound:
        raise Http404 from None


def _application_or_404(request: HttpRequest, application_id: int) -> CreditApplication:
    if not 1 <= application_id <= MAX_ID:
        raise Http404
    application = applications_visible_to(request.user).filter(pk=application_id).first()
    if application is None:
        raise Http404
    return application


def _detail_url(application: CreditApplication, step: int | None = None) -> str:
    url = reverse("finance:credit_detail", args=[application.pk])
    return f"{url}?step={step}" if step else url


def _order_url(order: Order | int) -> str:
    """The order card, opened at its credit applications tab."""
    pk = order if isinstance(order, int) else order.pk
    return reverse("orders:order_detail", args=[pk]) + "#credit"


def _can_sell(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(SELL))


def _can_change(request: HttpRequest, order: Order, application: CreditApplication | None) -> bool:
    return (
        _can_sell(request)
        and order.is_editable
        and (application is None or application.status == CreditStatus.OPEN)
    )


def _stage_step(application: CreditApplication | None) -> int:
    return STAGE_STEP.get(application.stage, 1) if application is not None else 1


def _reachable(application: CreditApplication | None) -> int:
    """The last step that may be opened: the questionnaire once the application exists;
    the offers from the moment the questionnaire went to the banks (they may answer
    before the documents are in)."""
    if application is None:
        return 1
    reached = _stage_step(application)
    return 4 if reached >= 3 else 2


def _step(request: HttpRequest, application: CreditApplication | None) -> int:
    raw = request.GET.get("step", "")
    default = _stage_step(application)
    if application is not None and application.status == CreditStatus.CONFIRMED:
        default = 4
    if raw.isascii() and raw.isdigit() and len(raw) == 1 and 1 <= int(raw) <= 4:
        number = int(raw)
        return number if number <= _reachable(application) else default
    return default


def _steps(application: CreditApplication | None, current: int) -> list[dict[str, Any]]:
    reached = _stage_step(application)
    reachable = _reachable(application)
    done_all = application is not None and application.status == CreditStatus.CONFIRMED
    return [
        {
            "number": number,
            "label": label,
            "current": number == current,
            "done": done_all or number < reached,
            "url": _detail_url(application, number)
            if application is not None and number <= reachable
            else "",
        }
        for number, _stage, label in STEPS
    ]


def _percent(amount: Decimal, part: Decimal) -> Decimal:
    return (part * HUNDRED / amount).quantize(Decimal("0.01")) if amount > 0 else Decimal("0")


# --------------------------------------------------------------------------- the tab


@dataclass(frozen=True)
class Row:
    application: CreditApplication
    offer_count: int


@require_GET
@login_required
@view_permission
def credit_tab(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order's credit applications (the seed's columns, with stage and status) and,
    for sellers while the order can change, the «Новая заявка» button."""
    order = _order_or_404(request, order_id)
    applications = list(applications_of_order(order))
    rows = [
        Row(
            application,
            sum(1 for offer in application.offers.all() if offer.version == application.version),
        )
        for application in applications
    ]
    context = {
        "order": order,
        "rows": rows,
        "can_create": _can_sell(request) and order.is_editable,
    }
    return render(request, "finance/credit/_tab.html", context)


# --------------------------------------------------------------------------- step 1


def _calculation_initial(order: Order, application: CreditApplication | None) -> dict[str, Any]:
    if application is None:
        return {
            "down_payment_mode": DOWN_PAYMENT_PERCENT,
            "down_payment_percent": DEFAULT_DOWN_PAYMENT_PERCENT,
            "down_payment": (order.total * DEFAULT_DOWN_PAYMENT_PERCENT / HUNDRED).quantize(
                Decimal("0.01")
            ),
            "order_amount": order.total,
            "term_months": DEFAULT_TERM_MONTHS,
            "casco": False,
            "program": "",
            "rate": None,
        }
    return {
        "down_payment_mode": DOWN_PAYMENT_RUB,
        "down_payment": application.down_payment,
        "down_payment_percent": application.down_payment_percent,
        "order_amount": application.order_amount,
        "term_months": application.term_months,
        "casco": application.casco,
        "program": str(application.program_id) if application.program_id else NO_PROGRAM,
        "rate": None if application.program_id else application.rate,
    }


def _values(form: CalculationForm) -> dict[str, Any]:
    """What the form holds now: its cleaned values when bound (the fields that parsed),
    its initial values otherwise."""
    if form.is_bound:
        form.is_valid()
        values = dict(getattr(form, "cleaned_data", {}))
        raw_program = str(form.data.get("program") or "").strip()
        values["program_raw"] = raw_program
        return values
    values = dict(form.initial)
    values["program_raw"] = str(values.get("program") or "")
    return values


def _quote(order: Order, form: CalculationForm) -> dict[str, Any]:
    """The fitting programs with their payments (best first) and the summary «Условия
    кредита» for the chosen program, or for the rate typed in without a program."""
    values = _values(form)
    amount = values.get("order_amount") or order.total
    term = values.get("term_months") or DEFAULT_TERM_MONTHS
    casco = bool(values.get("casco"))
    by_rub = values.get("down_payment_mode") == DOWN_PAYMENT_RUB
    down_payment = values.get("down_payment") if by_rub else None
    percent = None if by_rub else values.get("down_payment_percent")
    if by_rub and down_payment is None:
        down_payment = Decimal("0")
    if not by_rub and percent is None:
        percent = DEFAULT_DOWN_PAYMENT_PERCENT
    context: dict[str, Any] = {
        "quotes": [],
        "summary": None,
        "quote_error": "",
        "selected": values["program_raw"],
        "casco": casco,
    }
    try:
        quotes: list[ProgramQuote] = programs_for_order(
            order,
            term_months=term,
            down_payment=down_payment,
            down_payment_percent=percent,
            casco=casco,
            order_amount=amount,
        )
    except DomainError as error:
        context["quote_error"] = str(error.message)
        return context
    context["quotes"] = quotes
    selected = values["program_raw"]
    if selected == "" and not form.is_bound and quotes:
        selected = str(quotes[0].program.pk)
    if selected == "":
        selected = NO_PROGRAM
    context["selected"] = selected
    chosen = next((q for q in quotes if str(q.program.pk) == selected), None)
    try:
        if chosen is not None:
            terms, rate = chosen.terms, chosen.rate
            context["summary_program"] = chosen.program
            context["summary_financed"] = chosen.financed_products
        elif selected == NO_PROGRAM and values.get("rate") is not None:
            rate = values["rate"]
            terms = loan_terms_for_order(
                order_amount=amount,
                rate=rate,
                term_months=term,
                down_payment=down_payment if by_rub else None,
                down_payment_percent=percent,
            )
        else:
            if selected != NO_PROGRAM:
                context["quote_error"] = _("The chosen program does not fit these terms.")
            return context
    except DomainError as error:
        context["quote_error"] = str(error.message)
        return context
    context["summary"] = {
        "credit_amount": terms.credit_amount,
        "monthly_payment": terms.monthly_payment,
        "down_payment": terms.down_payment,
        "down_payment_percent": terms.down_payment_percent,
        "term_months": term,
        "rate": rate,
        "casco": casco,
        "total_paid": terms.total_paid,
        "overpayment": terms.overpayment,
    }
    return context


def _calculation_form(
    order: Order, application: CreditApplication | None, form: CalculationForm | None
) -> CalculationForm:
    if form is not None:
        return form
    return CalculationForm(initial=_calculation_initial(order, application))


@require_GET
@login_required
@view_permission
def credit_quote(request: HttpRequest, order_id: int) -> HttpResponse:
    """The summary and the fitting programs for what the step-1 form holds now."""
    order = _order_or_404(request, order_id)
    form = CalculationForm(request.GET)
    return render(
        request,
        "finance/credit/_quote.html",
        {"order": order, "form": form, "editable": True, **_quote(order, form)},
    )


def _program(form: CalculationForm) -> CreditProgram | None:
    program_id = form.cleaned_data.get("program")
    if program_id is None:
        return None
    program = CreditProgram.objects.select_related("bank").filter(pk=program_id).first()
    if program is None:
        raise ValidationFailed(_("Choose one of the listed programs."), field="program")
    return program


@require_http_methods(["GET", "POST"])
@login_required
@sell_permission
def credit_new(request: HttpRequest, order_id: int) -> HttpResponse:
    """Step 1 of a new application: its calculation creates it."""
    order = _order_or_404(request, order_id)
    if request.method == "GET":
        return _page(request, order, None, 1)
    form = CalculationForm(request.POST)
    if form.is_valid():
        try:
            application = credit_services.credit_application_create(
                actor=request.user, order=order, program=_program(form), **form.terms()
            )
        except DomainError as error:
            shown = put_error(form, error, CALCULATION_ALIASES)
            return _page(
                request, order, None, 1, calculation=form, error=shown, status=error.status_code
            )
        messages.success(
            request,
            _("Credit application %(id)s is created: now the questionnaire.")
            % {"id": application.pk},
        )
        return HttpResponseRedirect(_detail_url(application, 2))
    return _page(request, order, None, 1, calculation=form, status=400)


@require_POST
@login_required
@sell_permission
def credit_calculation(request: HttpRequest, application_id: int) -> HttpResponse:
    """Step 1 of an application not yet at the banks: new terms."""
    application = _application_or_404(request, application_id)
    order = _order_or_404(request, application.order_id)
    form = CalculationForm(request.POST)
    if form.is_valid():
        try:
            application = credit_services.credit_application_recalculate(
                actor=request.user, application=application, program=_program(form), **form.terms()
            )
        except DomainError as error:
            shown = put_error(form, error, CALCULATION_ALIASES)
            return _page(
                request,
                order,
                application,
                1,
                calculation=form,
                error=shown,
                status=error.status_code,
            )
        messages.success(request, _("The credit terms are recalculated."))
        return HttpResponseRedirect(_detail_url(application, 2))
    return _page(request, order, application, 1, calculation=form, status=400)


# --------------------------------------------------------------------------- step 2


def _display(name: str, value: Any) -> Any:
    """A questionnaire value as the read-only view shows it."""
    if value in (None, ""):
        return "—"
    if name == "marital_status" and value in MaritalStatus.values:
        return MaritalStatus(value).label
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return value


def _questionnaire_groups(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "key": key,
            "title": title,
            "items": [
                {
                    "name": name,
                    "label": getattr(CreditApplicant._meta.get_field(name), "verbose_name", name),
                    "value": _display(name, data.get(name)),
                }
                for name in names
            ],
        }
        for key, title, names in QUESTIONNAIRE_GROUPS
    ]


def _questionnaire_context(
    request: HttpRequest,
    application: CreditApplication,
    can_change: bool,
    form: QuestionnaireForm | None,
) -> dict[str, Any]:
    readable = may_read_pii(request.user)
    exists = CreditApplicant.objects.filter(application=application).exists()
    editable = can_change and (readable or not exists)
    context: dict[str, Any] = {
        "questionnaire_editable": editable,
        "questionnaire_exists": exists,
        "can_submit": can_change and application.stage == CreditStage.QUESTIONNAIRE,
        "new_version_warning": application.stage
        in {CreditStage.DOCUMENTS, CreditStage.CONFIRMATION},
        "wide_fields": WIDE_FIELDS,
    }
    if form is not None:  # a posted form comes back with its errors: nothing to read
        context["questionnaire_form"] = form
        return context
    data, masked = questionnaire_view(request.user, application, channel="web")
    context["masked"] = masked
    context["consented_at"] = None
    if data is not None:
        consented = data.get("consented_at")
        context["consented_at"] = datetime.fromisoformat(consented) if consented else None
        context["questionnaire_groups"] = _questionnaire_groups(data)
    if editable:
        initial = {key: value for key, value in (data or {}).items() if key != "consented_at"}
        context["questionnaire_form"] = QuestionnaireForm(initial=initial)
    return context


def _questionnaire_refused(
    request: HttpRequest,
    application: CreditApplication,
    form: QuestionnaireForm,
    error: DomainError,
) -> HttpResponse:
    order = _order_or_404(request, application.order_id)
    shown = put_error(form, error, {})
    fresh = CreditApplication.objects.get(pk=application.pk)
    return _page(
        request, order, fresh, 2, questionnaire=form, error=shown, status=error.status_code
    )


@require_POST
@login_required
@sell_permission
def credit_questionnaire(request: HttpRequest, application_id: int) -> HttpResponse:
    """Save the questionnaire; with ``action=submit`` send it to the banks as well."""
    application = _application_or_404(request, application_id)
    order = _order_or_404(request, application.order_id)
    form = QuestionnaireForm(request.POST)
    if not form.is_valid():
        return _page(request, order, application, 2, questionnaire=form, status=400)
    try:
        application = credit_services.credit_questionnaire_save(
            actor=request.user, application=application, data=form.service_data()
        )
    except DomainError as error:
        return _questionnaire_refused(request, application, form, error)
    if request.POST.get("action") != "submit":
        messages.success(request, _("The questionnaire is saved."))
        return HttpResponseRedirect(_detail_url(application, 2))
    try:
        application = credit_services.credit_application_submit(
            actor=request.user, application=application
        )
    except DomainError as error:
        return _questionnaire_refused(request, application, form, error)
    messages.success(request, _("The application is sent to the banks: now the documents."))
    return HttpResponseRedirect(_detail_url(application, 3))


@require_POST
@login_required
@sell_permission
def credit_submit(request: HttpRequest, application_id: int) -> HttpResponse:
    """Send the saved questionnaire to the banks (for those who see it masked)."""
    application = _application_or_404(request, application_id)
    order = _order_or_404(request, application.order_id)
    try:
        application = credit_services.credit_application_submit(
            actor=request.user, application=application
        )
    except DomainError as error:
        return _page(request, order, application, 2, error=error, status=error.status_code)
    messages.success(request, _("The application is sent to the banks: now the documents."))
    return HttpResponseRedirect(_detail_url(application, 3))


# --------------------------------------------------------------------------- step 3


def _documents_context(
    request: HttpRequest, application: CreditApplication, can_change: bool, form: Any
) -> dict[str, Any]:
    documents = list(application.documents.select_related("uploaded_by"))
    have = {d.kind for d in documents if d.version == application.version}
    missing = [
        DocumentKind(kind).label
        for kind in (DocumentKind.PASSPORT, DocumentKind.SIGNED_QUESTIONNAIRE)
        if kind not in have
    ]
    return {
        "documents": documents,
        "missing_documents": missing,
        "can_upload": can_change
        and application.stage in {CreditStage.DOCUMENTS, CreditStage.CONFIRMATION},
        "can_download": may_read_pii(request.user),
        "document_form": form or DocumentForm(),
    }


@require_POST
@login_required
@sell_permission
def credit_document(request: HttpRequest, application_id: int) -> HttpResponse:
    """Upload a scan (passport, signed questionnaire …)."""
    application = _application_or_404(request, application_id)
    order = _order_or_404(request, application.order_id)
    form = DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, order, application, 3, document=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        document = credit_services.credit_document_upload(
            actor=request.user,
            application=application,
            kind=form.cleaned_data["kind"],
            upload=upload,
            filename=upload.name or "",
        )
    except DomainError as error:
        shown = put_error(form, error, {})
        fresh = CreditApplication.objects.get(pk=application.pk)
        return _page(request, order, fresh, 3, document=form, error=shown, status=error.status_code)
    messages.success(request, _("“%(name)s” is uploaded.") % {"name": document.get_kind_display()})
    application.refresh_from_db()
    step = 4 if application.stage == CreditStage.CONFIRMATION else 3
    return HttpResponseRedirect(_detail_url(application, step))


@require_GET
@login_required
@view_permission
def credit_document_file(
    request: HttpRequest, application_id: int, document_id: int
) -> FileResponse:
    """A scan, to the users who may read the applicant's personal data (logged)."""
    application = _application_or_404(request, application_id)
    if not may_read_pii(request.user):
        raise PermissionDenied
    document = CreditDocument.objects.filter(
        application=application, pk=min(document_id, MAX_ID)
    ).first()
    if document is None:
        raise Http404
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    pii_access_log(
        user=request.user,
        application=application,
        channel="web",
        fields=(f"document:{document.kind}",),
    )
    response = FileResponse(handle, content_type=document.content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- step 4


def _offers_context(
    request: HttpRequest, application: CreditApplication, order: Order
) -> dict[str, Any]:
    offers = list(
        CreditOffer.objects.filter(application=application)
        .select_related("bank")
        .prefetch_related("required_products")
    )
    current = [offer for offer in offers if offer.version == application.version]
    current.sort(
        key=lambda o: (OFFER_ORDER.get(o.status, 3), o.monthly_payment or Decimal("0"), o.pk)
    )
    is_open = application.status == CreditStatus.OPEN
    can_confirm = (
        _can_change(request, order, application) and application.stage == CreditStage.CONFIRMATION
    )
    today = dealer_center_today(order.dealer_center)
    cards = []
    for offer in current:
        expired = offer.valid_until is not None and offer.valid_until < today
        live = offer_is_live(offer, application, today)
        products = [product.name for product in offer.required_products.all()]
        named = {product.broker_code for product in offer.required_products.all()}
        products += [code for code in offer.required_product_codes if code not in named]
        cards.append(
            {
                "offer": offer,
                "expired": expired,
                "products": products,
                "chosen": application.chosen_offer_id == offer.pk,
                "confirmable": can_confirm and live,
            }
        )
    submitted = application.stage in {CreditStage.DOCUMENTS, CreditStage.CONFIRMATION}
    at_banks = application.broker_state in {BrokerState.QUEUED, BrokerState.SENT}
    poll = ""
    if is_open and submitted and at_banks:
        poll = POLL_ANSWERED if current else POLL_WAITING
    return {
        "offer_cards": cards,
        "earlier_offers": len(offers) - len(current),
        "waiting": is_open and submitted and at_banks and not current,
        "poll": poll,
        "documents_missing": is_open and application.stage == CreditStage.DOCUMENTS,
        "broker_failed": application.broker_state == BrokerState.FAILED,
        "can_resend": _can_change(request, order, application)
        and application.submissions.filter(status=SubmissionStatus.FAILED).exists(),
        "not_submitted": not submitted,
        "offers_url": reverse("finance:credit_offers", args=[application.pk]),
    }


@require_GET
@login_required
@view_permission
def credit_offers(request: HttpRequest, application_id: int) -> HttpResponse:
    """The banks' offers side by side (polled while the application is at the banks)."""
    application = _application_or_404(request, application_id)
    order = _order_or_404(request, application.order_id)
    context = {
        "application": application,
        "order": order,
        **_offers_context(request, application, order),
    }
    return render(request, "finance/credit/_offers.html", context)


def _offer_id(request: HttpRequest) -> int | None:
    raw = (request.POST.get("offer_id") or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    number = int(raw)
    return number if 1 <= number <= MAX_ID else None


@require_POST
@login_required
@sell_permission
def credit_confirm(request: HttpRequest, application_id: int) -> HttpResponse:
    """Take a bank's offer: the order gets the credit invoice and the bank's products."""
    application = _application_or_404(request, application_id)
    order = _order_or_404(request, application.order_id)
    offer_id = _offer_id(request)
    try:
        if offer_id is None:
            raise ValidationFailed(_("Choose an offer."), field="offer_id")
        application = credit_services.credit_offer_confirm(
            actor=request.user, application=application, offer_id=offer_id
        )
    except DomainError as error:
        fresh = CreditApplication.objects.get(pk=application.pk)
        return _page(request, order, fresh, 4, error=error, status=error.status_code)
    offer = application.chosen_offer
    messages.success(
        request,
        _("The offer of %(bank)s is confirmed: the credit invoice is issued.")
        % {"bank": offer.bank.name if offer is not None else ""},
    )
    return HttpResponseRedirect(_order_url(order))


@require_POST
@login_required
@sell_permission
def credit_cancel(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _application_or_404(request, application_id)
    order = _order_or_404(request, application.order_id)
    form = ReasonForm(request.POST)
    form.is_valid()
    try:
        credit_services.credit_application_cancel(
            actor=request.user,
            application=application,
            reason=form.cleaned_data.get("reason", ""),
        )
    except DomainError as error:
        shown = put_error(form, error, {})
        step = _step(request, application)
        return _page(
            request, order, application, step, cancel=form, error=shown, status=error.status_code
        )
    messages.success(request, _("The credit application is cancelled."))
    return HttpResponseRedirect(_order_url(order))


@require_POST
@login_required
@sell_permission
def credit_resend(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _application_or_404(request, application_id)
    order = _order_or_404(request, application.order_id)
    try:
        credit_services.credit_application_resend(actor=request.user, application=application)
    except DomainError as error:
        return _page(request, order, application, 4, error=error, status=error.status_code)
    messages.success(request, _("The application is queued for the broker again."))
    return HttpResponseRedirect(_detail_url(application, 4))


# --------------------------------------------------------------------------- the page


def _event_value(kind: str, value: str) -> str:
    if not value:
        return ""
    choices: dict[str, Any] = {
        CreditEventKind.STAGE: CreditStage,
        CreditEventKind.STATUS: CreditStatus,
        CreditEventKind.OFFER: OfferStatus,
        CreditEventKind.DOCUMENT: DocumentKind,
    }
    if kind == CreditEventKind.BROKER:
        for states in (BrokerState, SubmissionStatus):
            if value in states.values:
                return str(states(value).label)
        return value
    enum = choices.get(kind)
    if enum is not None and value in enum.values:
        return str(enum(value).label)
    return value


def _history(application: CreditApplication) -> list[dict[str, Any]]:
    events = application.events.select_related("changed_by").order_by("-changed_at", "-pk")
    return [
        {
            "event": event,
            "from": _event_value(event.kind, event.from_value),
            "to": _event_value(event.kind, event.to_value),
        }
        for event in events[:HISTORY_LIMIT]
    ]


@require_GET
@login_required
@view_permission
def credit_detail(request: HttpRequest, application_id: int) -> HttpResponse:
    """The application's wizard at ``?step=N`` (by default the step it is in)."""
    application = _application_or_404(request, application_id)
    order = _order_or_404(request, application.order_id)
    return _page(request, order, application, _step(request, application))


def _page(
    request: HttpRequest,
    order: Order,
    application: CreditApplication | None,
    step: int,
    *,
    calculation: CalculationForm | None = None,
    questionnaire: QuestionnaireForm | None = None,
    document: DocumentForm | None = None,
    cancel: ReasonForm | None = None,
    error: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    can_change = _can_change(request, order, application)
    context: dict[str, Any] = {
        "order": order,
        "application": application,
        "step": step,
        "steps": _steps(application, step),
        "can_change": can_change,
        "error": error,
        "order_url": _order_url(order),
        "cancel_form": cancel or ReasonForm(),
        "can_cancel": application is not None
        and _can_sell(request)
        and application.status == CreditStatus.OPEN,
        "order_closed": _can_sell(request) and not order.is_editable,
    }
    if application is not None and application.chosen_offer_id:
        context["chosen_offer"] = (
            CreditOffer.objects.select_related("bank")
            .filter(pk=application.chosen_offer_id)
            .first()
        )
    if step == 1:
        form = _calculation_form(order, application, calculation)
        editable = can_change and (
            application is None
            or application.stage in {CreditStage.CALCULATION, CreditStage.QUESTIONNAIRE}
        )
        context |= {
            "calculation_form": form,
            "calculation_editable": editable,
            "quote_url": reverse("finance:credit_quote", args=[order.pk]),
            "calculation_url": reverse("finance:credit_calculation", args=[application.pk])
            if application is not None
            else reverse("finance:credit_new", args=[order.pk]),
        }
        if editable:
            context |= _quote(order, form)
    elif application is not None and step == 2:
        context |= _questionnaire_context(request, application, can_change, questionnaire)
    elif application is not None and step == 3:
        context |= _documents_context(request, application, can_change, document)
    elif application is not None and step == 4:
        context |= _offers_context(request, application, order)
    if application is not None:
        context["history"] = _history(application)
    with timezone.override(zone_named(order.dealer_center.time_zone)):
        return render(request, "finance/credit/wizard.html", context, status=status)
