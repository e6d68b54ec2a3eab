"""Credit applications of sales orders: every write.

An application moves through four stages (``STAGE_TRANSITIONS``):

1. calculation   — amounts, term and rate, from a credit program or by hand;
2. questionnaire — the applicant's анкета; submitting it queues it for the E-Credit broker;
3. documents     — scans (passport, signed questionnaire ...) forwarded to the broker;
4. confirmation  — the banks' offers (they arrive by callback at any time after the
                   submission); the manager confirms one, which updates the order.

Changing the questionnaire after submission takes the application back to stage 2 with a
new version: each version goes to the broker once (``BrokerSubmission`` is unique per
version and the broker deduplicates by the idempotency key), and only offers for the
current version can be confirmed. Every change writes a ``CreditApplicationEvent``; the
order's own history gets a line for creation, submission, confirmation and cancellation.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.core.audit import user_or_none
from autocrm.core.errors import (
    Conflict,
    NotFound,
    TransitionNotAllowed,
    ValidationFailed,
)
from autocrm.core.money import MAX_AMOUNT, round_money
from autocrm.core.storage import check_upload
from autocrm.finance.calculator import loan_terms, loan_terms_for_order
from autocrm.finance.credit_selectors import connection_for, program_fits, programs_for_order
from autocrm.finance.models import (
    Bank,
    BrokerCallback,
    BrokerConnection,
    BrokerSubmission,
    CreditApplicant,
    CreditApplication,
    CreditApplicationEvent,
    CreditDocument,
    CreditOffer,
    CreditProgram,
    FinancialProduct,
    OrderProduct,
)
from autocrm.finance.models.credit import (
    BrokerState,
    CreditEventKind,
    CreditStage,
    CreditStatus,
    DocumentKind,
    MaritalStatus,
    OfferStatus,
    SubmissionKind,
    SubmissionStatus,
)
from autocrm.finance.pii import QUESTIONNAIRE_FIELDS
from autocrm.finance.services import product_add, require_perm
from autocrm.inventory.services import vehicle_update
from autocrm.orders.models import InvoiceKind, Order, OrderEventKind
from autocrm.orders.selectors_catalog import dealer_center_today, order_car
from autocrm.orders.selectors_invoices import invoiceable_amount
from autocrm.orders.services.invoices import invoice_issue
from autocrm.orders.services.orders import (
    order_lock,
    order_log,
    require_editable,
    require_order_access,
)

logger = logging.getLogger(__name__)

SELL_PERMISSION = "orders.sell"
SUBMISSION_MAX_ATTEMPTS = 8
CALLBACK_MAX_ATTEMPTS = 5

STAGE_TRANSITIONS: dict[str, frozenset[str]] = {
    CreditStage.CALCULATION: frozenset({CreditStage.QUESTIONNAIRE}),
    CreditStage.QUESTIONNAIRE: frozenset({CreditStage.DOCUMENTS}),
    # Documents complete; or the questionnaire changed after submission (a new version).
    CreditStage.DOCUMENTS: frozenset({CreditStage.CONFIRMATION, CreditStage.QUESTIONNAIRE}),
    CreditStage.CONFIRMATION: frozenset({CreditStage.QUESTIONNAIRE}),
}
# Without these the broker's banks do not issue a final decision.
REQUIRED_DOCUMENTS: frozenset[str] = frozenset(
    {DocumentKind.PASSPORT, DocumentKind.SIGNED_QUESTIONNAIRE}
)
# A questionnaire lacking one of these is not submitted (field names of CreditApplicant).
REQUIRED_FOR_SUBMISSION: tuple[str, ...] = (
    "last_name",
    "first_name",
    "birth_date",
    "passport_number",
    "passport_issued_by",
    "passport_issued_on",
    "passport_division_code",
    "registration_address",
    "phone",
    "employer",
    "monthly_income",
)
PASSPORT_NUMBER = re.compile(r"^\d{4} ?\d{6}$")
DIVISION_CODE = re.compile(r"^\d{3}-?\d{3}$")
PHONE = re.compile(r"^\+?\d{10,15}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- helpers ------------------------------------------------------------------------------


def _require_seller(actor: Any) -> None:
    require_perm(actor, SELL_PERMISSION)


def _label(name: str) -> str:
    return str(getattr(CreditApplicant._meta.get_field(name), "verbose_name", name))


def _log(
    application: CreditApplication,
    kind: str,
    actor: Any,
    *,
    from_value: str = "",
    to_value: str = "",
    text: str = "",
) -> CreditApplicationEvent:
    return CreditApplicationEvent.objects.create(
        application=application,
        kind=kind,
        from_value=str(from_value)[:40],
        to_value=str(to_value)[:40],
        text=str(text)[:500],
        changed_by=user_or_none(actor),
    )


def _lock(application: CreditApplication | int) -> CreditApplication:
    pk = application if isinstance(application, int) else application.pk
    return CreditApplication.objects.select_for_update().get(pk=pk)


def _lock_for_change(actor: Any, application: CreditApplication) -> tuple[Order, CreditApplication]:
    """The order, then the application, locked in that order (as every credit write does,
    so two writers never deadlock); refused unless the actor sells and sees the order."""
    _require_seller(actor)
    order = order_lock(application.order_id)
    require_order_access(actor, order)
    locked = _lock(application)
    locked.order = order
    return order, locked


def _require_open(application: CreditApplication) -> None:
    if application.status != CreditStatus.OPEN:
        raise Conflict(
            _("The application is %(status)s and can no longer be changed.")
            % {"status": application.get_status_display().lower()},
            code="application_closed",
        )


def _move(application: CreditApplication, to_stage: str, actor: Any, *, text: str = "") -> None:
    if to_stage not in STAGE_TRANSITIONS.get(application.stage, frozenset()):
        raise TransitionNotAllowed(
            _("An application cannot go from “%(from)s” to “%(to)s”.")
            % {
                "from": CreditStage(application.stage).label,
                "to": CreditStage(to_stage).label,
            },
            field="stage",
            code="transition_not_allowed",
        )
    from_stage = application.stage
    application.stage = to_stage
    application.save(update_fields=["stage", "updated_at"])
    _log(
        application,
        CreditEventKind.STAGE,
        actor,
        from_value=from_stage,
        to_value=to_stage,
        text=text,
    )


def _decimal(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(_("Enter a number."), field=field) from None
    if not result.is_finite():
        raise ValidationFailed(_("Enter a number."), field=field)
    return result


# --- stage 1: calculation -----------------------------------------------------------------


def _terms(
    *,
    order: Order,
    program: CreditProgram | None,
    order_amount: Decimal | None,
    down_payment: Decimal | None,
    down_payment_percent: Decimal | None,
    term_months: int,
    rate: Decimal | None,
    casco: bool,
) -> dict[str, Any]:
    """The application's money fields, from a program (rate, financed products) or from a
    rate given by hand."""
    amount = order_amount if order_amount is not None else order.total
    if amount > MAX_AMOUNT:
        raise ValidationFailed(_("The amount is too large."), field="order_amount")
    financed = Decimal("0")
    if program is not None:
        quotes = [
            quote
            for quote in programs_for_order(
                order,
                term_months=term_months,
                down_payment=down_payment,
                down_payment_percent=down_payment_percent,
                casco=casco,
                order_amount=amount,
            )
            if quote.program.pk == program.pk
        ]
        if not quotes:
            car = order_car(order)
            reason = program_fits(
                program,
                make_id=car.make_id,
                car_model_id=car.car_model_id,
                term_months=term_months,
                down_payment_percent=down_payment_percent
                if down_payment_percent is not None
                else (down_payment or Decimal("0")) * 100 / amount,
                casco=casco,
            )
            raise Conflict(
                _("The credit program “%(name)s” does not fit this order and these terms.")
                % {"name": program.name},
                field="program_id",
                code=reason or "program_not_valid",
            )
        rate = quotes[0].rate
        financed = quotes[0].financed_products
    if rate is None:
        raise ValidationFailed(_("Give the rate or choose a credit program."), field="rate")
    terms = loan_terms_for_order(
        order_amount=amount,
        rate=rate,
        term_months=term_months,
        down_payment=down_payment,
        down_payment_percent=down_payment_percent,
        financed_products=financed,
    )
    if terms.total_paid > MAX_AMOUNT:
        raise ValidationFailed(_("The amount is too large."), field="order_amount")
    assert terms.down_payment is not None
    assert terms.down_payment_percent is not None
    return {
        "program": program,
        "order_amount": round_money(amount),
        "down_payment": terms.down_payment,
        "down_payment_percent": terms.down_payment_percent,
        "financed_products": financed,
        "credit_amount": terms.credit_amount,
        "term_months": term_months,
        "rate": rate,
        "casco": casco,
        "monthly_payment": terms.monthly_payment,
        "total_paid": terms.total_paid,
        "overpayment": terms.overpayment,
    }


@transaction.atomic
def credit_application_create(
    *,
    actor: Any,
    order: Order,
    term_months: int,
    down_payment: Decimal | None = None,
    down_payment_percent: Decimal | None = None,
    rate: Decimal | None = None,
    program: CreditProgram | None = None,
    casco: bool = False,
    order_amount: Decimal | None = None,
) -> CreditApplication:
    """A new application of the order in stage 1 with its calculated terms."""
    _require_seller(actor)
    order = order_lock(order)
    require_order_access(actor, order)
    require_editable(order)
    if CreditApplication.objects.filter(order=order, status=CreditStatus.CONFIRMED).exists():
        raise Conflict(
            _("Another credit application of this order is already confirmed."),
            code="credit_already_confirmed",
        )
    fields = _terms(
        order=order,
        program=program,
        order_amount=order_amount,
        down_payment=down_payment,
        down_payment_percent=down_payment_percent,
        term_months=term_months,
        rate=rate,
        casco=casco,
    )
    application = CreditApplication.objects.create(
        order=order, created_by=user_or_none(actor), **fields
    )
    _log(application, CreditEventKind.STAGE, actor, to_value=CreditStage.CALCULATION)
    order_log(
        order,
        OrderEventKind.CREDIT,
        actor,
        subject_id=application.pk,
        to_value=CreditStage.CALCULATION,
        text=_("Credit application %(id)s") % {"id": application.pk},
        amount=application.credit_amount,
    )
    return application


@transaction.atomic
def credit_application_recalculate(
    *,
    actor: Any,
    application: CreditApplication,
    term_months: int,
    down_payment: Decimal | None = None,
    down_payment_percent: Decimal | None = None,
    rate: Decimal | None = None,
    program: CreditProgram | None = None,
    casco: bool = False,
    order_amount: Decimal | None = None,
) -> CreditApplication:
    """New terms for an application not yet sent to the broker."""
    order, application = _lock_for_change(actor, application)
    _require_open(application)
    require_editable(order)
    if application.stage not in {CreditStage.CALCULATION, CreditStage.QUESTIONNAIRE}:
        raise Conflict(
            _("The application is with the banks: change the questionnaire to send new terms."),
            code="already_submitted",
        )
    fields = _terms(
        order=order,
        program=program,
        order_amount=order_amount,
        down_payment=down_payment,
        down_payment_percent=down_payment_percent,
        term_months=term_months,
        rate=rate,
        casco=casco,
    )
    for name, value in fields.items():
        setattr(application, name, value)
    application.save()
    _log(
        application,
        CreditEventKind.CHANGE,
        actor,
        text=_("Terms: %(amount)s for %(term)s months at %(rate)s %%")
        % {"amount": application.credit_amount, "term": term_months, "rate": application.rate},
    )
    return application


# --- stage 2: questionnaire ---------------------------------------------------------------


def _clean_questionnaire(data: dict[str, Any], *, today: date) -> dict[str, Any]:
    """The questionnaire's fields checked for form (completeness is checked on submit)."""
    unknown = set(data) - set(QUESTIONNAIRE_FIELDS) - {"consented_at"}
    if unknown:
        raise ValidationFailed(_("Unknown field."), field=sorted(unknown)[0])
    cleaned: dict[str, Any] = {}
    for name in QUESTIONNAIRE_FIELDS:
        if name == "consented_at":
            continue
        value = data.get(name)
        if isinstance(value, str):
            value = value.strip()
            if "\x00" in value:
                raise ValidationFailed(_("The text contains a NUL character."), field=name)
        cleaned[name] = value
    for name in ("last_name", "first_name", "patronymic", "employer", "position"):
        cleaned[name] = (cleaned[name] or "")[: 100 if name != "employer" else 200]
    for name in (
        "birth_place",
        "passport_issued_by",
        "registration_address",
        "residence_address",
    ):
        value = cleaned[name] or ""
        if len(value) > 500:
            raise ValidationFailed(_("At most 500 characters."), field=name)
        cleaned[name] = value
    for name in ("birth_date", "passport_issued_on"):
        value = cleaned[name]
        if value in (None, ""):
            cleaned[name] = None
            continue
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise ValidationFailed(_("Enter a date as YYYY-MM-DD."), field=name) from None
        if value > today:
            raise ValidationFailed(_("The date cannot be in the future."), field=name)
        cleaned[name] = value
    birth = cleaned["birth_date"]
    if birth is not None and not (
        date(today.year - 100, today.month, 1) <= birth <= today - timedelta(days=18 * 365 + 4)
    ):
        raise ValidationFailed(
            _("The applicant must be from 18 to 100 years old."), field="birth_date"
        )
    issued = cleaned["passport_issued_on"]
    if issued is not None and birth is not None and issued <= birth:
        raise ValidationFailed(
            _("The passport cannot be issued before the birth date."), field="passport_issued_on"
        )
    number = (cleaned["passport_number"] or "").replace("-", " ")
    if number and not PASSPORT_NUMBER.match(number):
        raise ValidationFailed(
            _("Enter the series and number as 10 digits, e.g. 4510 123456."),
            field="passport_number",
        )
    digits = number.replace(" ", "")
    cleaned["passport_number"] = f"{digits[:4]} {digits[4:]}" if digits else ""
    code = cleaned["passport_division_code"] or ""
    if code and not DIVISION_CODE.match(code):
        raise ValidationFailed(_("Enter the code as 123-456."), field="passport_division_code")
    cleaned["passport_division_code"] = f"{code[:3]}-{code[-3:]}" if code else ""
    phone = re.sub(r"[\s()-]", "", cleaned["phone"] or "")
    if phone and not PHONE.match(phone):
        raise ValidationFailed(_("Enter a phone number, e.g. +79001234567."), field="phone")
    cleaned["phone"] = phone
    email = cleaned["email"] or ""
    if email and (len(email) > 254 or not EMAIL.match(email)):
        raise ValidationFailed(_("Enter a valid e-mail address."), field="email")
    cleaned["email"] = email
    income = _decimal(cleaned["monthly_income"], "monthly_income")
    if income is not None and not 0 <= income <= MAX_AMOUNT:
        raise ValidationFailed(_("The income cannot be negative."), field="monthly_income")
    cleaned["monthly_income"] = round_money(income) if income is not None else None
    for name, top in (("employment_months", 1200), ("dependants", 20)):
        value = cleaned[name]
        if value in (None, ""):
            cleaned[name] = None if name == "employment_months" else 0
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ValidationFailed(
                _("Enter a whole number from 0 to %(top)s.") % {"top": top}, field=name
            )
    status = cleaned["marital_status"] or ""
    if status and status not in MaritalStatus.values:
        raise ValidationFailed(_("Choose one of the listed values."), field="marital_status")
    cleaned["marital_status"] = status
    for name in ("consent_personal_data", "consent_credit_history"):
        cleaned[name] = bool(cleaned[name])
    return cleaned


@transaction.atomic
def credit_questionnaire_save(
    *, actor: Any, application: CreditApplication, data: dict[str, Any]
) -> CreditApplication:
    """Write the questionnaire (the whole of it: absent fields become empty). From stage
    1 this is stage 2; after submission it is a new version, back in stage 2."""
    order, application = _lock_for_change(actor, application)
    _require_open(application)
    require_editable(order)
    cleaned = _clean_questionnaire(data, today=dealer_center_today(order.dealer_center))
    applicant = CreditApplicant.objects.filter(application=application).first()
    had_consents = bool(
        applicant and applicant.consent_personal_data and applicant.consent_credit_history
    )
    if applicant is None:
        applicant = CreditApplicant(application=application)
    for name, value in cleaned.items():
        setattr(applicant, name, value)
    digits = cleaned["passport_number"].replace(" ", "")
    applicant.passport_last_digits = digits[-4:]
    if cleaned["consent_personal_data"] and cleaned["consent_credit_history"]:
        if not had_consents or applicant.consented_at is None:
            applicant.consented_at = timezone.now()
    else:
        applicant.consented_at = None
    applicant.save()
    if application.stage == CreditStage.CALCULATION:
        _move(application, CreditStage.QUESTIONNAIRE, actor)
    elif application.stage in {CreditStage.DOCUMENTS, CreditStage.CONFIRMATION}:
        # What of the old version has not gone out yet never will: the banks get the new one.
        BrokerSubmission.objects.filter(
            application=application, status=SubmissionStatus.QUEUED
        ).update(
            status=SubmissionStatus.FAILED,
            next_attempt_at=None,
            last_error="superseded by a new version of the questionnaire",
            updated_at=timezone.now(),
        )
        application.version += 1
        application.broker_state = BrokerState.NOT_SENT
        application.save(update_fields=["version", "broker_state", "updated_at"])
        _move(
            application,
            CreditStage.QUESTIONNAIRE,
            actor,
            text=_("Questionnaire changed: version %(version)s") % {"version": application.version},
        )
    else:
        _log(application, CreditEventKind.CHANGE, actor, text=_("Questionnaire saved"))
    return application


# --- submission to the broker -------------------------------------------------------------


@transaction.atomic
def credit_application_submit(*, actor: Any, application: CreditApplication) -> CreditApplication:
    """Queue the questionnaire's current version for the broker (sent after commit)."""
    order, application = _lock_for_change(actor, application)
    _require_open(application)
    require_editable(order)
    if application.stage != CreditStage.QUESTIONNAIRE:
        if application.stage == CreditStage.CALCULATION:
            raise Conflict(
                _("Fill in the questionnaire first."),
                field="questionnaire",
                code="questionnaire_missing",
            )
        raise Conflict(
            _("This version of the application is already with the banks."),
            code="already_submitted",
        )
    applicant = CreditApplicant.objects.filter(application=application).first()
    if applicant is None:
        raise Conflict(
            _("Fill in the questionnaire first."),
            field="questionnaire",
            code="questionnaire_missing",
        )
    for name in REQUIRED_FOR_SUBMISSION:
        if getattr(applicant, name) in (None, ""):
            raise ValidationFailed(
                _("Fill in “%(field)s” before sending.") % {"field": _label(name)},
                field=name,
            )
    for name in ("consent_personal_data", "consent_credit_history"):
        if not getattr(applicant, name):
            raise ValidationFailed(
                _("The applicant's consent is required: %(field)s.") % {"field": _label(name)},
                field=name,
            )
    connection = connection_for(order)
    if connection is None:
        raise Conflict(
            _("No credit broker connection is set up for this dealer center."),
            code="broker_not_configured",
        )
    try:
        with transaction.atomic():
            submission = BrokerSubmission.objects.create(
                application=application,
                connection=connection,
                kind=SubmissionKind.APPLICATION,
                version=application.version,
            )
    except IntegrityError:
        raise Conflict(
            _("This version of the application is already with the banks."),
            code="already_submitted",
        ) from None
    application.broker_state = BrokerState.QUEUED
    application.submitted_at = timezone.now()
    application.save(update_fields=["broker_state", "submitted_at", "updated_at"])
    _move(application, CreditStage.DOCUMENTS, actor, text=_("Sent to the credit broker"))
    order_log(
        order,
        OrderEventKind.CREDIT,
        actor,
        subject_id=application.pk,
        from_value=CreditStage.QUESTIONNAIRE,
        to_value=CreditStage.DOCUMENTS,
        text=_("Credit application %(id)s sent to the banks") % {"id": application.pk},
        amount=application.credit_amount,
    )
    _enqueue_submission(submission.pk)
    return application


def _enqueue_submission(submission_id: int) -> None:
    def enqueue() -> None:
        from autocrm.finance.tasks import send_broker_submission

        try:
            send_broker_submission.enqueue(submission_id)
        except Exception:  # the sweep (retry_broker_submissions) sends it later
            logger.exception("could not enqueue broker submission %s", submission_id)

    transaction.on_commit(enqueue)


def submission_payload(
    application: CreditApplication, connection: BrokerConnection
) -> dict[str, Any]:
    """What the broker receives (docs/ecredit.md), the questionnaire decrypted."""
    from autocrm.finance.hooks import callback_url

    applicant = application.applicant
    vehicle = application.order.vehicle
    car = order_car(application.order)
    return {
        "external_id": f"autocrm-{application.pk}",
        "version": application.version,
        "callback_url": callback_url(connection),
        "credit": {
            "order_amount": f"{application.order_amount:.2f}",
            "down_payment": f"{application.down_payment:.2f}",
            "credit_amount": f"{application.credit_amount:.2f}",
            "term_months": application.term_months,
            "rate": f"{application.rate:.2f}",
            "casco": application.casco,
        },
        "vehicle": {
            "make": car.make.name if car.make else "",
            "model": car.car_model.name if car.car_model else "",
            "year": vehicle.model_year if vehicle is not None else None,
            "vin": vehicle.vin if vehicle is not None else "",
            "price": f"{application.order.vehicle_price:.2f}",
        },
        "applicant": {
            name: (
                f"{value:.2f}"
                if isinstance(value, Decimal)
                else value.isoformat()
                if isinstance(value, date)
                else value
            )
            for name in QUESTIONNAIRE_FIELDS
            if name != "consented_at"
            for value in [getattr(applicant, name)]
        },
    }


def broker_submission_send(*, submission_id: int) -> BrokerSubmission:
    """One attempt to deliver a queued submission (the task and the sweep call this).

    The row stays locked during the HTTP call, so two workers never send it at once; a
    crash after the broker accepted but before the commit is covered by the idempotency
    key (the broker answers the first answer again)."""
    from autocrm.finance.broker import BrokerClient, BrokerError

    with transaction.atomic():
        submission = (
            BrokerSubmission.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("connection", "document")
            .filter(pk=submission_id, status=SubmissionStatus.QUEUED)
            .first()
        )
        if submission is None:
            return BrokerSubmission.objects.get(pk=submission_id)
        application = CreditApplication.objects.select_related(
            "order__vehicle", "order__dealer_center"
        ).get(pk=submission.application_id)
        connection = submission.connection
        client = BrokerClient(
            base_url=connection.base_url, login=connection.login, api_key=connection.api_key
        )
        submission.attempts += 1
        try:
            if submission.kind == SubmissionKind.APPLICATION:
                reference = client.submit_application(
                    submission_payload(application, connection),
                    idempotency_key=submission.idempotency_key,
                )
            else:
                reference = _send_document(client, application, submission)
        except BrokerError as error:
            _submission_failed(submission, application, error.reason, retryable=error.retryable)
        except Exception as error:  # an adapter bug must not lose the submission
            logger.exception("broker submission %s failed", submission_id)
            _submission_failed(submission, application, str(error), retryable=True)
        else:
            submission.status = SubmissionStatus.SENT
            submission.broker_reference = reference
            submission.sent_at = timezone.now()
            submission.next_attempt_at = None
            submission.last_error = ""
            if submission.kind == SubmissionKind.APPLICATION:
                CreditApplication.objects.filter(pk=application.pk).update(
                    broker_reference=reference, updated_at=timezone.now()
                )
                CreditApplication.objects.filter(
                    pk=application.pk, version=submission.version
                ).update(broker_state=BrokerState.SENT)
                _log(
                    application,
                    CreditEventKind.BROKER,
                    None,
                    from_value=BrokerState.QUEUED,
                    to_value=BrokerState.SENT,
                    text=_("Version %(version)s accepted by the broker as %(reference)s")
                    % {"version": submission.version, "reference": reference},
                )
        submission.save()
        return submission


def _send_document(
    client: Any, application: CreditApplication, submission: BrokerSubmission
) -> str:
    from autocrm.finance.broker import BrokerError

    # The document belongs with the broker's application of its own questionnaire version.
    reference = (
        BrokerSubmission.objects.filter(
            application_id=application.pk,
            kind=SubmissionKind.APPLICATION,
            version=submission.version,
            status=SubmissionStatus.SENT,
        )
        .values_list("broker_reference", flat=True)
        .first()
    )
    if not reference:
        raise BrokerError("the application is not at the broker yet", retryable=True)
    document = submission.document
    assert document is not None
    with document.file.open("rb") as handle:
        content = handle.read()
    return str(
        client.attach_document(
            reference,
            kind=document.kind,
            filename=document.filename,
            content=content,
            content_type=document.content_type,
            idempotency_key=submission.idempotency_key,
        )
    )


def _submission_failed(
    submission: BrokerSubmission, application: CreditApplication, reason: str, *, retryable: bool
) -> None:
    from autocrm.communications.services import retry_delay

    submission.last_error = reason[:2000]
    if retryable and submission.attempts < SUBMISSION_MAX_ATTEMPTS:
        submission.next_attempt_at = timezone.now() + retry_delay(submission.attempts)
        return
    submission.status = SubmissionStatus.FAILED
    submission.next_attempt_at = None
    if submission.kind == SubmissionKind.APPLICATION:
        CreditApplication.objects.filter(pk=application.pk, version=submission.version).update(
            broker_state=BrokerState.FAILED
        )
    _log(
        application,
        CreditEventKind.BROKER,
        None,
        to_value=SubmissionStatus.FAILED,
        text=_("The broker refused: %(reason)s") % {"reason": reason},
    )


@transaction.atomic
def credit_application_resend(*, actor: Any, application: CreditApplication) -> CreditApplication:
    """Queue a failed submission again (after its cause, e.g. credentials, is fixed)."""
    _order, application = _lock_for_change(actor, application)
    _require_open(application)
    failed = list(
        BrokerSubmission.objects.select_for_update().filter(
            application=application,
            status=SubmissionStatus.FAILED,
            version=application.version,
        )
    )
    if not failed:
        raise Conflict(_("Nothing failed to send."), code="nothing_to_resend")
    for submission in failed:
        submission.status = SubmissionStatus.QUEUED
        submission.attempts = 0
        submission.next_attempt_at = None
        submission.save()
        _enqueue_submission(submission.pk)
    if application.broker_state == BrokerState.FAILED:
        application.broker_state = BrokerState.QUEUED
        application.save(update_fields=["broker_state", "updated_at"])
    _log(
        application,
        CreditEventKind.BROKER,
        actor,
        to_value=BrokerState.QUEUED,
        text=_("Sent again"),
    )
    return application


def submissions_due(limit: int = 200) -> list[int]:
    """Queued submissions whose pause is over, or whose task was lost (queued a while)."""
    now = timezone.now()
    stale = now - timedelta(minutes=2)
    return list(
        BrokerSubmission.objects.filter(status=SubmissionStatus.QUEUED)
        .filter(
            Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=stale)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- stage 3: documents -------------------------------------------------------------------


@transaction.atomic
def credit_document_upload(
    *, actor: Any, application: CreditApplication, kind: str, upload: IO[bytes], filename: str
) -> CreditDocument:
    """Keep a scan and forward it to the broker; with the passport and the signed
    questionnaire of the current version in, the application is in stage 4."""
    order, application = _lock_for_change(actor, application)
    _require_open(application)
    require_editable(order)
    if kind not in DocumentKind.values:
        raise ValidationFailed(_("Choose one of the listed values."), field="kind")
    if application.stage not in {CreditStage.DOCUMENTS, CreditStage.CONFIRMATION}:
        raise Conflict(
            _("Send the questionnaire to the banks first."),
            field="stage",
            code="not_submitted",
        )
    checked = check_upload(upload, field="file")
    name = (filename or "document").replace("\x00", "")[-200:] or "document"
    document = CreditDocument(
        application=application,
        kind=kind,
        filename=name,
        content_type=checked.content_type,
        size=len(checked.content),
        uploaded_by=user_or_none(actor),
        version=application.version,
    )
    document.file.save(
        f"{application.pk}-{kind}.{checked.extension}", ContentFile(checked.content), save=False
    )
    document.save()
    connection = connection_for(order)
    if connection is not None:
        submission = BrokerSubmission.objects.create(
            application=application,
            connection=connection,
            kind=SubmissionKind.DOCUMENT,
            version=application.version,
            document=document,
        )
        _enqueue_submission(submission.pk)
    _log(application, CreditEventKind.DOCUMENT, actor, to_value=kind, text=name)
    # A new version of the questionnaire needs its own signed scan (and passport copy).
    have = set(
        application.documents.filter(version=application.version).values_list("kind", flat=True)
    )
    if application.stage == CreditStage.DOCUMENTS and have >= REQUIRED_DOCUMENTS:
        _move(application, CreditStage.CONFIRMATION, actor, text=_("Documents complete"))
    return document


# --- callbacks from the broker ------------------------------------------------------------


def broker_callback_receive(
    *, connection: BrokerConnection, event_id: str, payload: dict[str, Any]
) -> tuple[BrokerCallback, bool]:
    """Store a verified callback (``created`` False for an event already stored) and
    apply it after commit."""
    with transaction.atomic():
        existing = BrokerCallback.objects.filter(connection=connection, event_id=event_id).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                callback = BrokerCallback.objects.create(
                    connection=connection, event_id=event_id, payload=payload
                )
        except IntegrityError:  # the same event posted twice at once
            return BrokerCallback.objects.get(connection=connection, event_id=event_id), False

        def enqueue() -> None:
            from autocrm.finance.tasks import process_broker_callback

            try:
                process_broker_callback.enqueue(callback.pk)
            except Exception:  # the sweep applies it later
                logger.exception("could not enqueue broker callback %s", callback.pk)

        transaction.on_commit(enqueue)
        return callback, True


class CallbackRejected(Exception):
    """A callback that can never be applied (unknown application, malformed decision)."""


def broker_callback_process(*, callback_id: int) -> BrokerCallback:
    """Apply one stored callback: the bank's decision becomes an offer (once)."""
    with transaction.atomic():
        callback = (
            BrokerCallback.objects.select_for_update(skip_locked=True)
            .filter(pk=callback_id, processed_at__isnull=True)
            .first()
        )
        if callback is None:
            return BrokerCallback.objects.get(pk=callback_id)
        callback.attempts += 1
        try:
            with transaction.atomic():
                _apply_decision(callback)
        except CallbackRejected as error:
            callback.error = str(error)[:2000]
            callback.processed_at = timezone.now()
        except Exception as error:
            logger.exception("broker callback %s failed", callback_id)
            callback.error = str(error)[:2000]
            if callback.attempts >= CALLBACK_MAX_ATTEMPTS:
                callback.processed_at = timezone.now()
        else:
            callback.error = ""
            callback.processed_at = timezone.now()
        callback.save()
        return callback


def _apply_decision(callback: BrokerCallback) -> CreditOffer | None:
    payload = callback.payload
    external = str(payload.get("external_id") or "")
    match = re.fullmatch(r"autocrm-(\d+)", external)
    if match is None:
        raise CallbackRejected(f"unknown external_id {external!r}")
    application = (
        CreditApplication.objects.select_for_update()
        .filter(
            Exists(
                BrokerSubmission.objects.filter(
                    application=OuterRef("pk"), connection=callback.connection
                )
            ),
            pk=int(match.group(1)),
        )
        .first()
    )
    if application is None:
        raise CallbackRejected(f"no application {external} sent through this connection")
    decision = payload.get("decision")
    if not isinstance(decision, dict):
        raise CallbackRejected("no decision")
    decision_id = str(decision.get("id") or "")[:64]
    if not decision_id:
        raise CallbackRejected("decision without id")
    if CreditOffer.objects.filter(application=application, decision_id=decision_id).exists():
        return None  # a repeated decision: nothing changes
    status = decision.get("status")
    if status not in OfferStatus.values:
        raise CallbackRejected(f"unknown decision status {status!r}")
    bank_data = decision.get("bank") or {}
    code = str(bank_data.get("code") or "")[:50]
    if not code:
        raise CallbackRejected("decision without bank")
    bank, _created = Bank.objects.get_or_create(
        code=code, defaults={"name": str(bank_data.get("name") or code)[:200]}
    )
    try:
        version = int(payload.get("version") or application.version)
        amount = _decimal(decision.get("amount"), "amount")
        rate = _decimal(decision.get("rate"), "rate")
        raw_term = decision.get("term_months")
        term = None if raw_term is None or raw_term == "" else int(raw_term)
        monthly = _decimal(decision.get("monthly_payment"), "monthly_payment")
        valid_until = (
            date.fromisoformat(str(decision["valid_until"]))
            if decision.get("valid_until")
            else None
        )
    except (ValueError, TypeError, ValidationFailed) as error:
        raise CallbackRejected(f"malformed decision: {error}") from None
    if status != OfferStatus.DECLINED:
        if amount is None or amount <= 0 or rate is None or not term:
            raise CallbackRejected("an approval without amount, rate or term")
        if not 0 <= rate <= 100 or not 1 <= term <= 120:
            raise CallbackRejected("a rate or term out of range")
        if monthly is None:
            monthly = loan_terms(amount, rate, term).monthly_payment
        if amount > MAX_AMOUNT or monthly * term > MAX_AMOUNT:
            raise CallbackRejected("an amount too large")
    codes = [str(code)[:50] for code in decision.get("required_products") or [] if code]
    offer = CreditOffer.objects.create(
        application=application,
        decision_id=decision_id,
        version=version,
        bank=bank,
        status=status,
        amount=round_money(amount) if amount is not None else None,
        rate=rate,
        term_months=term,
        monthly_payment=round_money(monthly) if monthly is not None else None,
        required_product_codes=codes,
        valid_until=valid_until,
        comment=str(decision.get("comment") or "")[:2000],
    )
    if codes:
        offer.required_products.set(FinancialProduct.objects.filter(broker_code__in=codes))
    _log(
        application,
        CreditEventKind.OFFER,
        None,
        to_value=status,
        text=bank.name
        if amount is None
        else "{}: {} ₽, {} %, {}".format(bank.name, f"{amount:,.2f}".replace(",", " "), rate, term),
    )
    return offer


def callbacks_due(limit: int = 200) -> list[int]:
    stale = timezone.now() - timedelta(minutes=1)
    return list(
        BrokerCallback.objects.filter(processed_at__isnull=True, received_at__lte=stale)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- stage 4: confirmation ----------------------------------------------------------------


@transaction.atomic
def credit_offer_confirm(
    *, actor: Any, application: CreditApplication, offer_id: int, today: date | None = None
) -> CreditApplication:
    """The manager takes a bank's offer: the application is confirmed with the offer's
    terms, the other open applications of the order are cancelled, the products the bank
    requires go on the order as mandatory, the car is marked as a credit sale, and a credit
    invoice is issued for the credit (up to what may still be invoiced)."""
    order, application = _lock_for_change(actor, application)
    _require_open(application)
    require_editable(order)
    offer = (
        CreditOffer.objects.select_related("bank")
        .filter(pk=offer_id, application=application)
        .first()
    )
    if offer is None:
        raise NotFound(_("The application has no such offer."), field="offer_id")
    if application.stage != CreditStage.CONFIRMATION:
        raise TransitionNotAllowed(
            _("Upload the passport and the signed questionnaire before confirming an offer."),
            field="stage",
            code="documents_missing",
        )
    if offer.version != application.version:
        raise Conflict(
            _("This offer answers an earlier version of the questionnaire."),
            field="offer_id",
            code="offer_superseded",
        )
    if offer.status == OfferStatus.DECLINED:
        raise Conflict(
            _("The bank declined the application."), field="offer_id", code="offer_declined"
        )
    today = today or dealer_center_today(order.dealer_center)
    if offer.valid_until is not None and offer.valid_until < today:
        raise Conflict(_("The offer has expired."), field="offer_id", code="offer_expired")
    assert offer.amount is not None
    assert offer.rate is not None
    assert offer.term_months
    application.status = CreditStatus.CONFIRMED
    application.chosen_offer = offer
    application.confirmed_at = timezone.now()
    application.credit_amount = offer.amount
    application.rate = offer.rate
    application.term_months = offer.term_months
    terms = loan_terms(offer.amount, offer.rate, offer.term_months)
    application.monthly_payment = offer.monthly_payment or terms.monthly_payment
    application.total_paid = application.monthly_payment * offer.term_months
    application.overpayment = application.total_paid - offer.amount
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError:
        raise Conflict(
            _("Another credit application of this order is already confirmed."),
            code="credit_already_confirmed",
        ) from None
    _log(
        application,
        CreditEventKind.STATUS,
        actor,
        from_value=CreditStatus.OPEN,
        to_value=CreditStatus.CONFIRMED,
        text=f"{offer.bank.name}: {offer.amount} / {offer.rate} % / {offer.term_months}",
    )
    for other in CreditApplication.objects.select_for_update().filter(
        order=order, status=CreditStatus.OPEN
    ):
        other.status = CreditStatus.CANCELLED
        other.cancel_reason = _("Another application was confirmed.")
        other.save(update_fields=["status", "cancel_reason", "updated_at"])
        _log(
            other,
            CreditEventKind.STATUS,
            actor,
            from_value=CreditStatus.OPEN,
            to_value=CreditStatus.CANCELLED,
            text=other.cancel_reason,
        )
    for product in offer.required_products.all():
        line = OrderProduct.objects.filter(order=order, product=product).first()
        if line is None:
            line = product_add(actor=actor, order=order, product=product)
        if not line.mandatory:
            OrderProduct.objects.filter(pk=line.pk).update(mandatory=True)
    if order.vehicle is not None:
        # The stock card's "Реализация в кредит" flag follows the confirmed credit.
        vehicle_update(actor=actor, vehicle=order.vehicle, credit_sale=True)
    order.refresh_from_db()
    amount = min(offer.amount, invoiceable_amount(order))
    if amount > 0:
        invoice_issue(
            actor=actor,
            order=order,
            kind=InvoiceKind.CREDIT,
            amount=amount,
            description=_("Credit of %(bank)s, application %(id)s")
            % {"bank": offer.bank.name, "id": application.pk},
        )
    order_log(
        order,
        OrderEventKind.CREDIT,
        actor,
        subject_id=application.pk,
        from_value=CreditStatus.OPEN,
        to_value=CreditStatus.CONFIRMED,
        text=f"{offer.bank.name}: {offer.rate} %, {offer.term_months}",
        amount=offer.amount,
    )
    return application


@transaction.atomic
def credit_application_cancel(
    *, actor: Any, application: CreditApplication, reason: str
) -> CreditApplication:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), field="reason")
    order, application = _lock_for_change(actor, application)
    _require_open(application)
    application.status = CreditStatus.CANCELLED
    application.cancel_reason = reason[:300]
    application.save(update_fields=["status", "cancel_reason", "updated_at"])
    _log(
        application,
        CreditEventKind.STATUS,
        actor,
        from_value=CreditStatus.OPEN,
        to_value=CreditStatus.CANCELLED,
        text=reason,
    )
    order_log(
        order,
        OrderEventKind.CREDIT,
        actor,
        subject_id=application.pk,
        from_value=CreditStatus.OPEN,
        to_value=CreditStatus.CANCELLED,
        text=reason,
    )
    return application


def credit_applications_close_for_order(order: Order, actor: Any, reason: str) -> None:
    """The order is being cancelled (``orders.extensions.register_on_cancel``, inside its
    transaction): its open and confirmed applications are cancelled with the order's
    reason. A confirmed credit goes too: its invoice is cancelled with the order and the
    bank has paid nothing (an order with payments cannot be cancelled)."""
    text = (_("The order was cancelled: %(reason)s") % {"reason": reason})[:300]
    for application in CreditApplication.objects.select_for_update().filter(
        order=order, status__in=[CreditStatus.OPEN, CreditStatus.CONFIRMED]
    ):
        from_status = application.status
        application.status = CreditStatus.CANCELLED
        application.cancel_reason = text
        application.save(update_fields=["status", "cancel_reason", "updated_at"])
        _log(
            application,
            CreditEventKind.STATUS,
            actor,
            from_value=from_status,
            to_value=CreditStatus.CANCELLED,
            text=text,
        )


def decisions_poll(*, application_id: int) -> int:
    """Ask the broker for the decisions of an application whose callbacks may be lost;
    each is stored and applied as if it came by callback. Returns how many were new."""
    from autocrm.finance.broker import BrokerClient

    application = CreditApplication.objects.get(pk=application_id)
    submission = (
        BrokerSubmission.objects.select_related("connection")
        .filter(
            application=application, kind=SubmissionKind.APPLICATION, status=SubmissionStatus.SENT
        )
        .order_by("-version")
        .first()
    )
    if submission is None or not submission.broker_reference:
        return 0
    connection = submission.connection
    client = BrokerClient(
        base_url=connection.base_url, login=connection.login, api_key=connection.api_key
    )
    new = 0
    for decision in client.get_decisions(submission.broker_reference):
        payload = {
            "event_id": f"poll-{decision.get('id')}",
            "application_id": submission.broker_reference,
            "external_id": f"autocrm-{application.pk}",
            "version": decision.get("version", submission.version),
            "decision": decision,
        }
        _callback, created = broker_callback_receive(
            connection=connection, event_id=payload["event_id"], payload=payload
        )
        new += int(created)
    return new
