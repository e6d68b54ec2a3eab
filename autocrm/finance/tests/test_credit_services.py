"""Credit applications through the services: every stage move and every refusal with
exact values, and on each refusal nothing changed (stage, version, events, submissions,
offers, invoices); the broker outbox against a closed port and against the simulator."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest
from django.utils import timezone
from django.utils.translation import gettext

from autocrm.accounts.tests.factories import UserFactory
from autocrm.core.errors import (
    Conflict,
    DomainError,
    NotAllowed,
    NotFound,
    TransitionNotAllowed,
    ValidationFailed,
)
from autocrm.finance.credit_services import (
    SUBMISSION_MAX_ATTEMPTS,
    broker_submission_send,
    credit_application_cancel,
    credit_application_create,
    credit_application_recalculate,
    credit_application_resend,
    credit_application_submit,
    credit_document_upload,
    credit_offer_confirm,
    credit_questionnaire_save,
    submissions_due,
)
from autocrm.finance.models import (
    Bank,
    BrokerSubmission,
    CreditApplicant,
    CreditApplication,
    CreditApplicationEvent,
    CreditDocument,
    CreditOffer,
    OrderProduct,
)
from autocrm.finance.services import product_add
from autocrm.finance.tests.credit_factories import (
    API_KEY,
    CALLBACK_SECRET,
    LOGIN,
    QUESTIONNAIRE,
    CreditWorld,
    credit_world,
)
from autocrm.finance.tests.factories import make_product
from autocrm.inventory.models import Vehicle
from autocrm.orders.models import Invoice, OrderEvent
from autocrm.orders.services.invoices import invoice_issue
from autocrm.orders.tests.factories import order_world
from simulators import ecredit

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CLOSED_PORT_URL = "http://127.0.0.1:9/api/v1"
KOPECK = Decimal("0.01")


def annuity(amount: Decimal, rate: Decimal, term: int) -> Decimal:
    """The monthly annuity payment, computed here independently of the calculator."""
    with localcontext() as context:
        context.prec = 60
        monthly = rate / Decimal(1200)
        factor = (1 + monthly) ** term
        return (amount * monthly * factor / (factor - 1)).quantize(KOPECK, ROUND_HALF_UP)


def test_the_independent_annuity_matches_the_documented_example() -> None:
    # docs/ecredit.md and the calculator's docstring: 1 550 000 at 14.3 % for 36 months.
    assert annuity(Decimal("1550000"), Decimal("14.3"), 36) == Decimal("53201.45")
    assert annuity(Decimal("1829900"), Decimal("14.3"), 36) == Decimal("62808.61")


# --- helpers ------------------------------------------------------------------------------


def snapshot(application: CreditApplication) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    fresh = CreditApplication.objects.get(pk=application.pk)
    return {
        "stage": fresh.stage,
        "status": fresh.status,
        "version": fresh.version,
        "broker_state": fresh.broker_state,
        "credit_amount": fresh.credit_amount,
        "rate": fresh.rate,
        "term_months": fresh.term_months,
        "monthly_payment": fresh.monthly_payment,
        "chosen_offer": fresh.chosen_offer_id,
        "events": CreditApplicationEvent.objects.filter(application=application).count(),
        "submissions": BrokerSubmission.objects.filter(application=application).count(),
        "offers": CreditOffer.objects.filter(application=application).count(),
        "documents": CreditDocument.objects.filter(application=application).count(),
        "applicants": CreditApplicant.objects.filter(application=application).count(),
        "invoices": Invoice.objects.filter(order_id=fresh.order_id).count(),
        "order_events": OrderEvent.objects.filter(order_id=fresh.order_id).count(),
        "order_products": OrderProduct.objects.filter(order_id=fresh.order_id).count(),
        "all_applications": sorted(
            CreditApplication.objects.filter(order_id=fresh.order_id).values_list("pk", "status")
        ),
    }


def refused(
    application: CreditApplication, error: type[DomainError], call: Any, **expected: Any
) -> DomainError:
    """``call()`` raises ``error`` with the ``expected`` attributes, changing nothing."""
    before = snapshot(application)
    with pytest.raises(error) as caught:
        call()
    for name, value in expected.items():
        assert getattr(caught.value, name) == value, (name, caught.value)
    assert snapshot(application) == before
    return caught.value


def fresh_order(cw: CreditWorld) -> Any:
    """A new draft order: of the world's car while it is free, else of another car."""
    from autocrm.orders.models import Order

    if Order.objects.filter(vehicle=cw.world.vehicle).exists():
        return cw.world.order(vehicle=cw.world.another_car())
    return cw.world.order()


def new_application(cw: CreditWorld, **fields: Any) -> CreditApplication:
    fields.setdefault("actor", cw.world.manager)
    if "order" not in fields:
        fields["order"] = fresh_order(cw)
    fields.setdefault("program", cw.standard)
    fields.setdefault("down_payment", Decimal("279900.00"))
    fields.setdefault("term_months", 36)
    return credit_application_create(**fields)


def with_questionnaire(
    cw: CreditWorld, application: CreditApplication | None = None, **overrides: Any
) -> CreditApplication:
    application = application or new_application(cw)
    data = {**QUESTIONNAIRE, **overrides}
    return credit_questionnaire_save(actor=cw.world.manager, application=application, data=data)


def submitted(cw: CreditWorld, application: CreditApplication | None = None) -> CreditApplication:
    application = with_questionnaire(cw, application)
    return credit_application_submit(actor=cw.world.manager, application=application)


def upload(cw: CreditWorld, application: CreditApplication, kind: str) -> CreditDocument:
    return credit_document_upload(
        actor=cw.world.manager,
        application=application,
        kind=kind,
        upload=io.BytesIO(PDF),
        filename=f"{kind}.pdf",
    )


def in_confirmation(cw: CreditWorld, **fields: Any) -> CreditApplication:
    application = submitted(cw, new_application(cw, **fields) if fields else None)
    upload(cw, application, "passport")
    upload(cw, application, "signed_questionnaire")
    application.refresh_from_db()
    assert application.stage == "confirmation"
    return application


def make_offer(application: CreditApplication, bank: Bank, **fields: Any) -> CreditOffer:
    """A bank's decision as the broker's callback would store it."""
    codes = fields.pop("codes", [])
    fields.setdefault("decision_id", f"DEC-{CreditOffer.objects.count() + 1:06d}")
    fields.setdefault("version", application.version)
    fields.setdefault("status", "approved")
    fields.setdefault("amount", Decimal("1585000.00"))
    fields.setdefault("rate", Decimal("14.30"))
    fields.setdefault("term_months", 36)
    fields.setdefault("monthly_payment", Decimal("54402.78"))
    fields.setdefault("valid_until", date(2099, 12, 31))
    offer = CreditOffer.objects.create(
        application=application, bank=bank, required_product_codes=codes, **fields
    )
    if codes:
        from autocrm.finance.models import FinancialProduct

        offer.required_products.set(FinancialProduct.objects.filter(broker_code__in=codes))
    return offer


@pytest.fixture
def cw() -> CreditWorld:
    world = credit_world()
    world.connection()
    return world


# --- stage 1: calculation -----------------------------------------------------------------


def test_create_from_a_program_takes_its_rate_and_finances_its_products(cw: CreditWorld) -> None:
    order = cw.world.order()
    application = credit_application_create(
        actor=cw.world.manager,
        order=order,
        program=cw.standard,
        down_payment=Decimal("279900.00"),
        term_months=36,
    )

    application.refresh_from_db()
    assert application.stage == "calculation"
    assert application.status == "open"
    assert application.version == 1
    assert application.broker_state == "not_sent"
    assert application.program == cw.standard
    assert application.order_amount == Decimal("1829900.00")
    assert application.down_payment == Decimal("279900.00")
    # 279 900 / 1 829 900 = 15.2959... %
    assert application.down_payment_percent == Decimal("15.30")
    assert application.financed_products == Decimal("35000.00")
    # 1 829 900 − 279 900 + 35 000 of life insurance.
    assert application.credit_amount == Decimal("1585000.00")
    assert application.rate == Decimal("14.30")
    monthly = annuity(Decimal("1585000"), Decimal("14.3"), 36)
    assert application.monthly_payment == monthly == Decimal("54402.78")
    assert application.total_paid == monthly * 36
    assert application.overpayment == monthly * 36 - Decimal("1585000.00")
    assert application.created_by == cw.world.manager
    assert application.casco is False

    events = list(CreditApplicationEvent.objects.filter(application=application))
    assert [(e.kind, e.from_value, e.to_value) for e in events] == [("stage", "", "calculation")]
    assert events[0].changed_by == cw.world.manager
    history = OrderEvent.objects.filter(order=order, kind="credit").get()
    assert (history.subject_id, history.to_value, history.amount) == (
        application.pk,
        "calculation",
        Decimal("1585000.00"),
    )
    # The life insurance goes on the order only when an offer is confirmed.
    assert not OrderProduct.objects.filter(order=order).exists()


def test_create_by_hand_with_a_rate_in_percent_and_in_roubles(cw: CreditWorld) -> None:
    order = cw.world.order()
    in_percent = credit_application_create(
        actor=cw.world.manager,
        order=order,
        rate=Decimal("12.50"),
        down_payment_percent=Decimal("20"),
        term_months=48,
    )
    in_roubles = credit_application_create(
        actor=cw.world.manager,
        order=order,
        rate=Decimal("12.50"),
        down_payment=Decimal("365980.00"),
        term_months=48,
    )

    monthly = annuity(Decimal("1463920.00"), Decimal("12.5"), 48)
    for application in (in_percent, in_roubles):
        application.refresh_from_db()
        assert application.program is None
        assert application.rate == Decimal("12.50")
        assert application.down_payment == Decimal("365980.00")  # 20 % of 1 829 900
        assert application.down_payment_percent == Decimal("20.00")
        assert application.financed_products == Decimal("0.00")
        assert application.credit_amount == Decimal("1463920.00")
        assert application.term_months == 48
        assert application.monthly_payment == monthly
        assert application.total_paid == monthly * 48
    assert CreditApplication.objects.filter(order=order).count() == 2


def test_create_refusals_change_nothing(cw: CreditWorld) -> None:
    order = cw.world.order()
    cases: list[tuple[dict[str, Any], type[DomainError], str, str]] = [
        ({"down_payment_percent": Decimal("20")}, ValidationFailed, "rate", "validation_error"),
        (
            {"rate": Decimal("10"), "down_payment": Decimal("1"), "down_payment_percent": 1},
            ValidationFailed,
            "down_payment",
            "validation_error",
        ),
        (
            {"rate": Decimal("10"), "down_payment": Decimal("1829900")},
            ValidationFailed,
            "down_payment",
            "validation_error",
        ),
        (
            {"rate": Decimal("101"), "down_payment": Decimal("0")},
            ValidationFailed,
            "rate",
            "validation_error",
        ),
        (
            {"rate": Decimal("10"), "down_payment": Decimal("0"), "order_amount": Decimal("1e12")},
            ValidationFailed,
            "order_amount",
            "validation_error",
        ),
        # What the client would pay in all must fit the money columns too.
        (
            {
                "rate": Decimal("99"),
                "down_payment": Decimal("0"),
                "order_amount": Decimal("999999999999.00"),
            },
            ValidationFailed,
            "order_amount",
            "validation_error",
        ),
        # The Альфа-Банк program wants CASCO and 30 % down.
        (
            {"program": cw.casco_program, "down_payment_percent": Decimal("40")},
            Conflict,
            "program_id",
            "program_casco",
        ),
        (
            {"program": cw.casco_program, "down_payment_percent": Decimal("20"), "casco": True},
            Conflict,
            "program_id",
            "program_down_payment",
        ),
    ]
    for fields, error, field, code in cases:
        with pytest.raises(error) as caught:
            credit_application_create(actor=cw.world.manager, order=order, term_months=36, **fields)
        assert (caught.value.field, caught.value.code) == (field, code), fields
    assert not CreditApplication.objects.exists()
    assert not OrderEvent.objects.filter(order=order, kind="credit").exists()


def test_recalculate_in_calculation_and_questionnaire_not_after_submission(
    cw: CreditWorld,
) -> None:
    application = new_application(cw)
    credit_application_recalculate(
        actor=cw.world.manager,
        application=application,
        program=cw.standard,
        down_payment_percent=Decimal("20"),
        term_months=60,
    )
    application.refresh_from_db()
    # 1 829 900 − 365 980 + 35 000.
    assert application.credit_amount == Decimal("1498920.00")
    assert application.term_months == 60
    assert application.monthly_payment == annuity(Decimal("1498920"), Decimal("14.3"), 60)
    assert application.stage == "calculation"
    assert (
        CreditApplicationEvent.objects.filter(application=application, kind="change").count() == 1
    )

    with_questionnaire(cw, application)
    credit_application_recalculate(
        actor=cw.world.manager,
        application=application,
        rate=Decimal("11.00"),
        down_payment=Decimal("500000"),
        term_months=24,
    )
    application.refresh_from_db()
    assert application.stage == "questionnaire"
    assert application.program is None
    assert application.credit_amount == Decimal("1329900.00")
    assert application.financed_products == Decimal("0.00")
    assert application.monthly_payment == annuity(Decimal("1329900"), Decimal("11"), 24)

    credit_application_submit(actor=cw.world.manager, application=application)
    refused(
        application,
        Conflict,
        lambda: credit_application_recalculate(
            actor=cw.world.manager,
            application=application,
            rate=Decimal("9"),
            down_payment=Decimal("0"),
            term_months=12,
        ),
        code="already_submitted",
    )


# --- stage 2: questionnaire ---------------------------------------------------------------


def test_saving_the_questionnaire_moves_calculation_to_questionnaire(cw: CreditWorld) -> None:
    application = new_application(cw)
    with_questionnaire(cw, application, passport_number="4510-123456", phone="+7 (900) 123-45-67")

    application.refresh_from_db()
    assert application.stage == "questionnaire"
    assert application.version == 1
    applicant = CreditApplicant.objects.get(application=application)
    assert applicant.passport_number == "4510 123456"
    assert applicant.passport_last_digits == "3456"
    assert applicant.phone == "+79001234567"
    assert applicant.birth_date == date(1985, 4, 12)
    assert applicant.monthly_income == Decimal("150000.00")
    assert applicant.consented_at is not None
    stages = CreditApplicationEvent.objects.filter(application=application, kind="stage")
    assert [(e.from_value, e.to_value) for e in stages] == [
        ("", "calculation"),
        ("calculation", "questionnaire"),
    ]

    # Saving again in stage 2 is a change, not a move.
    with_questionnaire(cw, application, employer="ООО «Южный порт»")
    application.refresh_from_db()
    assert application.stage == "questionnaire"
    assert application.version == 1
    assert CreditApplicant.objects.get(application=application).employer == "ООО «Южный порт»"
    assert CreditApplicationEvent.objects.filter(application=application, kind="stage").count() == 2


def _years_ago(years: int, days: int = 0) -> str:
    today = timezone.now().date()
    return (today.replace(year=today.year - years) + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"passport_number": "4510 12345"}, "passport_number"),
        ({"passport_number": "45AB 123456"}, "passport_number"),
        ({"passport_division_code": "51-0001"}, "passport_division_code"),
        ({"passport_division_code": "510 0011"}, "passport_division_code"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"birth_date": "12.04.1985"}, "birth_date"),
        ({"birth_date": _years_ago(17)}, "birth_date"),
        ({"birth_date": _years_ago(120)}, "birth_date"),
        ({"passport_issued_on": "1980-01-01"}, "passport_issued_on"),
        ({"passport_issued_on": "2999-01-01"}, "passport_issued_on"),
        ({"email": "ivanov.example.com"}, "email"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "+7 900 abc 45 67"}, "phone"),
        ({"monthly_income": "-1"}, "monthly_income"),
        ({"monthly_income": "много"}, "monthly_income"),
        ({"employment_months": -1}, "employment_months"),
        ({"dependants": 21}, "dependants"),
        ({"marital_status": "complicated"}, "marital_status"),
        ({"last_name": "Ива\x00нов"}, "last_name"),
        ({"registration_address": "д" * 501}, "registration_address"),
        ({"favourite_colour": "red"}, "favourite_colour"),
    ],
)
def test_a_questionnaire_field_error_names_the_field_and_changes_nothing(
    cw: CreditWorld, overrides: dict[str, Any], field: str
) -> None:
    application = new_application(cw)
    refused(
        application,
        ValidationFailed,
        lambda: with_questionnaire(cw, application, **overrides),
        field=field,
    )
    assert application.stage == "calculation"


def test_an_applicant_of_exactly_eighteen_and_a_bit_passes(cw: CreditWorld) -> None:
    # 18 × 365 + 4 days is the service's limit (18 years with leap days, at most).
    application = new_application(cw)
    with_questionnaire(cw, application, birth_date=_years_ago(18, days=-5))
    assert CreditApplicant.objects.get(application=application).birth_date is not None


# --- submission ---------------------------------------------------------------------------


def test_submit_refused_without_questionnaire(cw: CreditWorld) -> None:
    application = new_application(cw)
    refused(
        application,
        Conflict,
        lambda: credit_application_submit(actor=cw.world.manager, application=application),
        code="questionnaire_missing",
        field="questionnaire",
    )


@pytest.mark.parametrize(
    "missing",
    [
        "last_name",
        "birth_date",
        "passport_number",
        "passport_issued_by",
        "passport_division_code",
        "registration_address",
        "phone",
        "employer",
        "monthly_income",
    ],
)
def test_submit_refused_when_a_required_field_is_missing(cw: CreditWorld, missing: str) -> None:
    data = {name: value for name, value in QUESTIONNAIRE.items() if name != missing}
    application = new_application(cw)
    credit_questionnaire_save(actor=cw.world.manager, application=application, data=data)
    refused(
        application,
        ValidationFailed,
        lambda: credit_application_submit(actor=cw.world.manager, application=application),
        field=missing,
    )


@pytest.mark.parametrize("consent", ["consent_personal_data", "consent_credit_history"])
def test_submit_refused_without_a_consent(cw: CreditWorld, consent: str) -> None:
    application = new_application(cw)
    credit_questionnaire_save(
        actor=cw.world.manager, application=application, data={**QUESTIONNAIRE, consent: False}
    )
    assert CreditApplicant.objects.get(application=application).consented_at is None
    refused(
        application,
        ValidationFailed,
        lambda: credit_application_submit(actor=cw.world.manager, application=application),
        field=consent,
    )


def test_submit_refused_without_a_broker_connection() -> None:
    cw = credit_world()  # no connection
    application = with_questionnaire(cw)
    refused(
        application,
        Conflict,
        lambda: credit_application_submit(actor=cw.world.manager, application=application),
        code="broker_not_configured",
    )


def test_submit_writes_one_submission_and_moves_to_documents(cw: CreditWorld) -> None:
    application = with_questionnaire(cw)
    credit_application_submit(actor=cw.world.manager, application=application)

    application.refresh_from_db()
    assert application.stage == "documents"
    assert application.broker_state == "queued"
    assert application.submitted_at is not None
    submission = BrokerSubmission.objects.get(application=application)
    assert (submission.kind, submission.version, submission.status, submission.attempts) == (
        "application",
        1,
        "queued",
        0,
    )
    assert submission.idempotency_key == f"autocrm-{application.pk}-v1"
    assert submission.next_attempt_at is None
    assert submission.broker_reference == ""
    stage = (
        CreditApplicationEvent.objects.filter(application=application, kind="stage")
        .order_by("pk")
        .last()
    )
    assert stage is not None
    assert (stage.from_value, stage.to_value) == ("questionnaire", "documents")
    history = (
        OrderEvent.objects.filter(order=application.order, kind="credit").order_by("pk").last()
    )
    assert history is not None
    assert (history.from_value, history.to_value, history.amount) == (
        "questionnaire",
        "documents",
        Decimal("1585000.00"),
    )

    refused(
        application,
        Conflict,
        lambda: credit_application_submit(actor=cw.world.manager, application=application),
        code="already_submitted",
    )


def test_a_questionnaire_changed_after_submission_is_a_new_version(cw: CreditWorld) -> None:
    application = submitted(cw)
    first = BrokerSubmission.objects.get(application=application)

    with_questionnaire(cw, application, monthly_income="180000.00")
    application.refresh_from_db()
    assert (application.stage, application.version, application.broker_state) == (
        "questionnaire",
        2,
        "not_sent",
    )
    stage = (
        CreditApplicationEvent.objects.filter(application=application, kind="stage")
        .order_by("pk")
        .last()
    )
    assert stage is not None
    assert (stage.from_value, stage.to_value) == ("documents", "questionnaire")

    # Version 1 had not gone out yet: it never will, the banks get version 2.
    first_again = BrokerSubmission.objects.get(pk=first.pk)
    assert (first_again.version, first_again.status, first_again.next_attempt_at) == (
        1,
        "failed",
        None,
    )
    assert "superseded" in first_again.last_error

    credit_application_submit(actor=cw.world.manager, application=application)
    application.refresh_from_db()
    assert (application.stage, application.broker_state) == ("documents", "queued")
    submissions = list(BrokerSubmission.objects.filter(application=application).order_by("pk"))
    assert [(s.version, s.status, s.kind) for s in submissions] == [
        (1, "failed", "application"),
        (2, "queued", "application"),
    ]
    assert submissions[1].idempotency_key == f"autocrm-{application.pk}-v2"
    # "Send again" concerns the current version only: nothing of it failed.
    with pytest.raises(Conflict) as caught:
        credit_application_resend(actor=cw.world.manager, application=application)
    assert caught.value.code == "nothing_to_resend"


# --- stage 3: documents -------------------------------------------------------------------


def test_document_upload_before_submission_is_refused(cw: CreditWorld) -> None:
    application = with_questionnaire(cw)
    refused(
        application,
        Conflict,
        lambda: upload(cw, application, "passport"),
        code="not_submitted",
    )


@pytest.mark.parametrize(
    ("kind", "content", "field"),
    [
        ("passport", b"just some text", "file"),
        ("passport", b"", "file"),
        ("selfie", PDF, "kind"),
    ],
)
def test_a_bad_document_is_refused_naming_the_field(
    cw: CreditWorld, kind: str, content: bytes, field: str
) -> None:
    application = submitted(cw)
    refused(
        application,
        ValidationFailed,
        lambda: credit_document_upload(
            actor=cw.world.manager,
            application=application,
            kind=kind,
            upload=io.BytesIO(content),
            filename="scan.pdf",
        ),
        field=field,
    )


def test_passport_and_signed_questionnaire_of_the_current_version_complete_the_documents(
    cw: CreditWorld,
) -> None:
    application = submitted(cw)
    passport = upload(cw, application, "passport")
    application.refresh_from_db()
    assert application.stage == "documents"  # only the passport
    assert (passport.version, passport.kind, passport.content_type, passport.size) == (
        1,
        "passport",
        "application/pdf",
        len(PDF),
    )
    assert passport.filename == "passport.pdf"
    with passport.file.open("rb") as handle:
        assert handle.read() == PDF
    document_submission = BrokerSubmission.objects.get(document=passport)
    assert (document_submission.kind, document_submission.version) == ("document", 1)
    assert document_submission.idempotency_key == f"autocrm-doc-{passport.pk}"

    upload(cw, application, "signed_questionnaire")
    application.refresh_from_db()
    assert application.stage == "confirmation"
    stage = (
        CreditApplicationEvent.objects.filter(application=application, kind="stage")
        .order_by("pk")
        .last()
    )
    assert stage is not None
    assert (stage.from_value, stage.to_value) == ("documents", "confirmation")
    assert BrokerSubmission.objects.filter(application=application, kind="document").count() == 2

    # A new version needs its own signed questionnaire and passport.
    with_questionnaire(cw, application, employer="ООО «Новый работодатель»")
    credit_application_submit(actor=cw.world.manager, application=application)
    upload(cw, application, "passport")
    application.refresh_from_db()
    assert (application.stage, application.version) == ("documents", 2)
    upload(cw, application, "signed_questionnaire")
    application.refresh_from_db()
    assert application.stage == "confirmation"
    assert sorted(
        CreditDocument.objects.filter(application=application).values_list("version", "kind")
    ) == [
        (1, "passport"),
        (1, "signed_questionnaire"),
        (2, "passport"),
        (2, "signed_questionnaire"),
    ]


# --- stage 4: confirmation ----------------------------------------------------------------


def test_confirm_refused_before_the_documents_are_complete(cw: CreditWorld) -> None:
    application = submitted(cw)
    offer = make_offer(application, cw.sovcombank)
    refused(
        application,
        TransitionNotAllowed,
        lambda: credit_offer_confirm(
            actor=cw.world.manager, application=application, offer_id=offer.pk
        ),
        code="documents_missing",
    )


def test_confirm_refused_for_a_declined_superseded_expired_or_unknown_offer(
    cw: CreditWorld,
) -> None:
    application = in_confirmation(cw)
    declined = make_offer(
        application,
        cw.alfabank,
        status="declined",
        amount=None,
        rate=None,
        monthly_payment=None,
    )
    expiring = make_offer(application, cw.sovcombank, valid_until=date(2026, 12, 1))
    other = in_confirmation(cw)
    of_another_application = make_offer(other, cw.sovcombank)

    def confirm(offer_id: int, **kwargs: Any) -> Any:
        return lambda: credit_offer_confirm(
            actor=cw.world.manager, application=application, offer_id=offer_id, **kwargs
        )

    refused(application, Conflict, confirm(declined.pk), code="offer_declined", field="offer_id")
    refused(
        application,
        Conflict,
        confirm(expiring.pk, today=date(2026, 12, 2)),
        code="offer_expired",
        field="offer_id",
    )
    refused(application, NotFound, confirm(999_999), field="offer_id")
    refused(application, NotFound, confirm(of_another_application.pk), field="offer_id")

    # On its last valid day it can be taken; but first a new version supersedes it.
    with_questionnaire(cw, application, employer="ООО «Новый работодатель»")
    credit_application_submit(actor=cw.world.manager, application=application)
    upload(cw, application, "passport")
    upload(cw, application, "signed_questionnaire")
    application.refresh_from_db()
    assert (application.stage, application.version) == ("confirmation", 2)
    refused(
        application,
        Conflict,
        confirm(expiring.pk, today=date(2026, 12, 1)),
        code="offer_superseded",
        field="offer_id",
    )
    current = make_offer(application, cw.sovcombank, valid_until=date(2026, 12, 1))
    credit_offer_confirm(
        actor=cw.world.manager,
        application=application,
        offer_id=current.pk,
        today=date(2026, 12, 1),
    )
    assert CreditApplication.objects.get(pk=application.pk).status == "confirmed"


def test_confirm_takes_the_offers_terms_cancels_the_others_and_invoices_the_credit(
    cw: CreditWorld,
) -> None:
    gap = make_product(
        name="GAP-страхование",
        price=Decimal("25000.00"),
        commission=Decimal("10000.00"),
        mandatory_for_credit=False,
        broker_code="gap_insurance",
    )
    application = in_confirmation(cw)
    order = application.order
    assert Vehicle.objects.get(pk=cw.world.vehicle.pk).credit_sale is False
    # A voluntary GAP line already on the order; the bank will require it.
    line = product_add(actor=cw.world.manager, order=order, product=gap)
    assert line.mandatory is False
    other = new_application(cw, order=order, rate=Decimal("16"), program=None)
    other_submitted = submitted(cw, new_application(cw, order=order))
    cancelled_before = new_application(cw, order=order)
    credit_application_cancel(
        actor=cw.world.manager, application=cancelled_before, reason="Клиент передумал"
    )
    order_events_before = OrderEvent.objects.filter(order=order).count()

    offer = make_offer(
        application,
        cw.sovcombank,
        amount=Decimal("1550000.00"),
        rate=Decimal("13.90"),
        term_months=48,
        monthly_payment=Decimal("42200.00"),
        codes=["life_insurance", "gap_insurance", "unknown_product"],
    )
    credit_offer_confirm(actor=cw.world.manager, application=application, offer_id=offer.pk)

    application.refresh_from_db()
    assert application.status == "confirmed"
    assert application.stage == "confirmation"
    assert application.chosen_offer == offer
    assert application.confirmed_at is not None
    assert application.credit_amount == Decimal("1550000.00")
    assert application.rate == Decimal("13.90")
    assert application.term_months == 48
    assert application.monthly_payment == Decimal("42200.00")  # the bank's figure
    assert application.total_paid == Decimal("2025600.00")  # 42 200 × 48
    assert application.overpayment == Decimal("475600.00")
    status_event = CreditApplicationEvent.objects.filter(
        application=application, kind="status"
    ).get()
    assert (status_event.from_value, status_event.to_value) == ("open", "confirmed")
    assert status_event.changed_by == cw.world.manager

    reason = gettext("Another application was confirmed.")
    for loser in (other, other_submitted):
        loser.refresh_from_db()
        assert (loser.status, loser.cancel_reason) == ("cancelled", reason)
        event = CreditApplicationEvent.objects.filter(application=loser, kind="status").get()
        assert (event.from_value, event.to_value, event.text) == ("open", "cancelled", reason)
    cancelled_before.refresh_from_db()
    assert cancelled_before.cancel_reason == "Клиент передумал"

    lines = {
        line.product.broker_code: line.mandatory
        for line in OrderProduct.objects.filter(order=order).select_related("product")
    }
    assert lines == {"life_insurance": True, "gap_insurance": True}
    order.refresh_from_db()
    # 1 829 900 + 35 000 life + 25 000 GAP.
    assert order.total == Decimal("1889900.00")
    invoice = Invoice.objects.get(order=order)
    assert (invoice.kind, invoice.amount) == ("credit", Decimal("1550000.00"))
    # The stock card's "Реализация в кредит" follows the confirmed credit.
    assert Vehicle.objects.get(pk=cw.world.vehicle.pk).credit_sale is True
    assert "Совкомбанк" in invoice.description

    credit_rows = OrderEvent.objects.filter(order=order, kind="credit").order_by("pk")
    last = credit_rows.last()
    assert last is not None
    assert (last.subject_id, last.from_value, last.to_value, last.amount) == (
        application.pk,
        "open",
        "confirmed",
        Decimal("1550000.00"),
    )
    # Product added (life), invoice, the credit row, recalculations ... at least 3 more.
    assert OrderEvent.objects.filter(order=order).count() >= order_events_before + 3
    assert OrderEvent.objects.filter(order=order, kind="product", subject_id=cw.life_insurance.pk)


def test_the_credit_invoice_is_capped_at_what_may_still_be_invoiced(cw: CreditWorld) -> None:
    application = in_confirmation(cw)
    order = application.order
    invoice_issue(actor=cw.world.manager, order=order, kind="reservation", amount=Decimal("400000"))
    offer = make_offer(application, cw.sovcombank, amount=Decimal("1585000.00"), codes=[])
    credit_offer_confirm(actor=cw.world.manager, application=application, offer_id=offer.pk)

    credit = Invoice.objects.get(order=order, kind="credit")
    # 1 829 900 − 400 000 already invoiced = 1 429 900 < 1 585 000.
    assert credit.amount == Decimal("1429900.00")
    assert not OrderProduct.objects.filter(order=order).exists()


def test_a_second_confirmation_on_the_same_order_is_refused(cw: CreditWorld) -> None:
    first = in_confirmation(cw)
    order = first.order
    second = in_confirmation(cw, order=order)
    first_offer = make_offer(first, cw.sovcombank)
    second_offer = make_offer(second, cw.alfabank, amount=Decimal("1426500.00"))
    credit_offer_confirm(actor=cw.world.manager, application=first, offer_id=first_offer.pk)

    # The other application was cancelled by the confirmation.
    refused(
        second,
        Conflict,
        lambda: credit_offer_confirm(
            actor=cw.world.manager, application=second, offer_id=second_offer.pk
        ),
        code="application_closed",
    )
    refused(
        first,
        Conflict,
        lambda: credit_offer_confirm(
            actor=cw.world.manager, application=first, offer_id=first_offer.pk
        ),
        code="application_closed",
    )
    assert Invoice.objects.filter(order=order, kind="credit").count() == 1


def test_no_new_application_next_to_a_confirmed_credit(cw: CreditWorld) -> None:
    first = in_confirmation(cw)
    order = first.order
    credit_offer_confirm(
        actor=cw.world.manager, application=first, offer_id=make_offer(first, cw.sovcombank).pk
    )
    count = CreditApplication.objects.count()
    with pytest.raises(Conflict) as caught:
        new_application(cw, order=order)
    assert caught.value.code == "credit_already_confirmed"
    assert CreditApplication.objects.count() == count


def test_cancel_needs_a_reason_and_closes_the_application(cw: CreditWorld) -> None:
    application = submitted(cw)
    for reason in ("", "   "):
        refused(
            application,
            ValidationFailed,
            lambda reason=reason: credit_application_cancel(
                actor=cw.world.manager, application=application, reason=reason
            ),
            field="reason",
        )
    credit_application_cancel(
        actor=cw.world.manager, application=application, reason="  Клиент платит сам  "
    )
    application.refresh_from_db()
    assert (application.status, application.cancel_reason) == ("cancelled", "Клиент платит сам")
    event = CreditApplicationEvent.objects.filter(application=application, kind="status").get()
    assert (event.from_value, event.to_value, event.text) == (
        "open",
        "cancelled",
        "Клиент платит сам",
    )
    history = (
        OrderEvent.objects.filter(order=application.order, kind="credit").order_by("pk").last()
    )
    assert history is not None
    assert (history.from_value, history.to_value, history.text) == (
        "open",
        "cancelled",
        "Клиент платит сам",
    )
    refused(
        application,
        Conflict,
        lambda: credit_application_cancel(
            actor=cw.world.manager, application=application, reason="again"
        ),
        code="application_closed",
    )
    refused(
        application,
        Conflict,
        lambda: with_questionnaire(cw, application),
        code="application_closed",
    )
    refused(
        application,
        Conflict,
        lambda: upload(cw, application, "passport"),
        code="application_closed",
    )


# --- permissions --------------------------------------------------------------------------


def test_a_logistician_and_another_dealer_centers_manager_may_not_write(cw: CreditWorld) -> None:
    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[cw.world.dealer_center])
    elsewhere = order_world(city_name="Казань")
    stranger = elsewhere.manager
    application = in_confirmation(cw)
    offer = make_offer(application, cw.sovcombank)
    order = application.order

    for actor in (logistician, stranger):
        writes = [
            lambda actor=actor: credit_application_create(
                actor=actor,
                order=order,
                rate=Decimal("10"),
                down_payment=Decimal("0"),
                term_months=36,
            ),
            lambda actor=actor: credit_application_recalculate(
                actor=actor,
                application=application,
                rate=Decimal("10"),
                down_payment=Decimal("0"),
                term_months=36,
            ),
            lambda actor=actor: credit_questionnaire_save(
                actor=actor, application=application, data=QUESTIONNAIRE
            ),
            lambda actor=actor: credit_application_submit(actor=actor, application=application),
            lambda actor=actor: credit_document_upload(
                actor=actor,
                application=application,
                kind="other",
                upload=io.BytesIO(PDF),
                filename="x.pdf",
            ),
            lambda actor=actor: credit_offer_confirm(
                actor=actor, application=application, offer_id=offer.pk
            ),
            lambda actor=actor: credit_application_cancel(
                actor=actor, application=application, reason="no"
            ),
            lambda actor=actor: credit_application_resend(actor=actor, application=application),
        ]
        for write in writes:
            refused(application, NotAllowed, write)
    assert CreditApplication.objects.count() == 1


# --- the broker outbox --------------------------------------------------------------------


def test_a_submission_to_an_unreachable_broker_stays_queued_then_fails_then_resends(
    cw: CreditWorld,
) -> None:
    application = submitted(cw)
    submission = BrokerSubmission.objects.get(application=application)

    before = timezone.now()
    broker_submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert (submission.status, submission.attempts) == ("queued", 1)
    assert submission.next_attempt_at is not None
    # The first pause is 5 seconds.
    assert before + timedelta(seconds=5) <= submission.next_attempt_at
    assert submission.next_attempt_at <= timezone.now() + timedelta(seconds=5)
    assert submission.last_error.startswith("cannot reach the broker at http://127.0.0.1:9/api/v1")
    assert CreditApplication.objects.get(pk=application.pk).broker_state == "queued"
    assert submissions_due() == []  # its pause is not over

    for attempt in range(2, SUBMISSION_MAX_ATTEMPTS + 1):
        broker_submission_send(submission_id=submission.pk)
        submission.refresh_from_db()
        assert submission.attempts == attempt
    assert submission.status == "failed"
    assert submission.next_attempt_at is None
    application.refresh_from_db()
    assert application.broker_state == "failed"
    failure = CreditApplicationEvent.objects.filter(application=application, kind="broker").get()
    assert failure.to_value == "failed"

    # A failed submission is not tried again by itself.
    broker_submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.attempts == SUBMISSION_MAX_ATTEMPTS

    credit_application_resend(actor=cw.world.manager, application=application)
    submission.refresh_from_db()
    application.refresh_from_db()
    assert (submission.status, submission.attempts, submission.next_attempt_at) == (
        "queued",
        0,
        None,
    )
    assert application.broker_state == "queued"
    refused(
        application,
        Conflict,
        lambda: credit_application_resend(actor=cw.world.manager, application=application),
        code="nothing_to_resend",
    )


@pytest.fixture
def broker(settings: Any) -> Iterator[Any]:
    # The simulator's callbacks must not reach anything: these tests drive the outbox only.
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"
    handle = ecredit.start(
        api_key=API_KEY,
        login=LOGIN,
        callback_secret=CALLBACK_SECRET,
        decision_delay=60,
        callback_attempts=1,
    )
    try:
        yield handle
    finally:
        handle.stop()


def test_a_submission_to_the_simulator_is_sent_once(broker: Any) -> None:
    cw = credit_world()
    connection = cw.connection(broker.url)
    application = submitted(cw)
    submission = BrokerSubmission.objects.get(application=application)

    broker_submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert (submission.status, submission.attempts, submission.last_error) == ("sent", 1, "")
    assert submission.broker_reference == "EC-000001"
    assert submission.sent_at is not None
    application.refresh_from_db()
    assert (application.broker_state, application.broker_reference) == ("sent", "EC-000001")
    sent = CreditApplicationEvent.objects.filter(application=application, kind="broker").get()
    assert (sent.from_value, sent.to_value) == ("queued", "sent")

    received = broker.applications
    assert len(received) == 1
    payload = received[0].payload
    assert received[0].idempotency_key == f"autocrm-{application.pk}-v1"
    assert payload["external_id"] == f"autocrm-{application.pk}"
    assert payload["version"] == 1
    assert payload["callback_url"] == f"http://127.0.0.1:9/hooks/ecredit/{connection.pk}/"
    assert payload["credit"] == {
        "order_amount": "1829900.00",
        "down_payment": "279900.00",
        "credit_amount": "1585000.00",
        "term_months": 36,
        "rate": "14.30",
        "casco": False,
    }
    assert payload["applicant"]["passport_number"] == "4510 123456"
    assert payload["applicant"]["monthly_income"] == "150000.00"
    assert payload["applicant"]["birth_date"] == "1985-04-12"

    # Sent is sent: a second call (a duplicate task) does not call the broker again.
    broker_submission_send(submission_id=submission.pk)
    assert len(broker.applications) == 1
    assert broker.applications[0].repeats == 0
    submission.refresh_from_db()
    assert submission.attempts == 1


def test_a_document_waits_until_the_application_is_at_the_broker(broker: Any) -> None:
    cw = credit_world()
    cw.connection(broker.url)
    application = submitted(cw)
    document = upload(cw, application, "passport")
    document_submission = BrokerSubmission.objects.get(document=document)

    broker_submission_send(submission_id=document_submission.pk)
    document_submission.refresh_from_db()
    assert (document_submission.status, document_submission.attempts) == ("queued", 1)
    assert document_submission.last_error == "the application is not at the broker yet"
    assert document_submission.next_attempt_at is not None
    assert broker.documents == []

    application_submission = BrokerSubmission.objects.get(
        application=application, kind="application"
    )
    broker_submission_send(submission_id=application_submission.pk)
    broker_submission_send(submission_id=document_submission.pk)
    document_submission.refresh_from_db()
    assert (document_submission.status, document_submission.attempts) == ("sent", 2)
    assert document_submission.broker_reference == "ED-000001"
    assert len(broker.documents) == 1
    stored = broker.documents[0]
    assert (stored.application_id, stored.kind, stored.filename, stored.content) == (
        "EC-000001",
        "passport",
        "passport.pdf",
        PDF,
    )
    assert stored.idempotency_key == f"autocrm-doc-{document.pk}"
    # The document does not change the application's broker state.
    assert CreditApplication.objects.get(pk=application.pk).broker_state == "sent"


def test_a_document_of_a_new_version_waits_for_that_version_at_the_broker(broker: Any) -> None:
    cw = credit_world()
    cw.connection(broker.url)
    application = submitted(cw)
    first = BrokerSubmission.objects.get(application=application, kind="application")
    broker_submission_send(submission_id=first.pk)  # version 1 is EC-000001
    with_questionnaire(cw, application, employer="ООО «Новый работодатель»")
    credit_application_submit(actor=cw.world.manager, application=application)
    # Version 2 is queued, not sent yet; its signed questionnaire is uploaded meanwhile.
    document = upload(cw, application, "signed_questionnaire")
    assert document.version == 2
    document_submission = BrokerSubmission.objects.get(document=document)

    broker_submission_send(submission_id=document_submission.pk)

    # The version-2 scan must not be filed with the version-1 application at the broker.
    assert [d.application_id for d in broker.documents] == []
    document_submission.refresh_from_db()
    assert (document_submission.status, document_submission.attempts) == ("queued", 1)

    second = BrokerSubmission.objects.get(application=application, version=2, kind="application")
    broker_submission_send(submission_id=second.pk)  # version 2 is EC-000002
    broker_submission_send(submission_id=document_submission.pk)
    assert [d.application_id for d in broker.documents] == ["EC-000002"]


def test_cancelling_the_order_cancels_its_open_and_confirmed_applications(
    cw: CreditWorld,
) -> None:
    from autocrm.orders.services.orders import order_transition

    confirmed = in_confirmation(cw)
    order = confirmed.order
    credit_offer_confirm(
        actor=cw.world.manager,
        application=confirmed,
        offer_id=make_offer(confirmed, cw.sovcombank).pk,
    )
    other_order_application = new_application(cw)

    order_transition(actor=cw.world.manager, order=order, to="cancelled", reason="Клиент передумал")

    confirmed.refresh_from_db()
    assert confirmed.status == "cancelled"
    assert confirmed.cancel_reason == gettext("The order was cancelled: %(reason)s") % {
        "reason": "Клиент передумал"
    }
    event = CreditApplicationEvent.objects.filter(application=confirmed).order_by("pk").last()
    assert event is not None
    assert (event.kind, event.from_value, event.to_value, event.changed_by) == (
        "status",
        "confirmed",
        "cancelled",
        cw.world.manager,
    )
    assert Invoice.objects.get(order=order, kind="credit").status == "cancelled"
    # Another order's application is not touched.
    other_order_application.refresh_from_db()
    assert other_order_application.status == "open"
