"""The credit applications' screens: the order card's tab, the wizard's four steps
(calculation, questionnaire, documents, the banks' offers), the live quote and the
offers' polling; personal data shown in full (and logged) or masked."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from autocrm.finance.credit_services import (
    credit_application_create,
    credit_application_submit,
    credit_document_upload,
    credit_questionnaire_save,
)
from autocrm.finance.models import (
    BrokerSubmission,
    CreditApplicant,
    CreditApplication,
    CreditOffer,
    OrderProduct,
    PiiAccess,
)
from autocrm.finance.tests.credit_factories import QUESTIONNAIRE, CreditWorld, credit_world
from autocrm.orders.models import Invoice, Order
from autocrm.orders.tests.factories import order_world

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _english(client: Any, settings: Any) -> None:
    # Texts are asserted in English, whatever Russian the translators add.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def cw() -> CreditWorld:
    return credit_world()


@pytest.fixture
def order(cw: CreditWorld) -> Order:
    return cw.world.order()


def text(html: str) -> str:
    """The page's text: tags dropped, spaces (and no-break spaces) collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&nbsp;", " ").split())


def error_for(html: str, field: str) -> str:
    match = re.search(rf'data-error-for="{field}">([^<]*)<', html)
    assert match, f"no error shown for {field}"
    return match.group(1)


def new_application(cw: CreditWorld, order: Order, **terms: Any) -> CreditApplication:
    terms.setdefault("program", cw.standard)
    terms.setdefault("down_payment", Decimal("279900.00"))
    terms.setdefault("term_months", 36)
    terms.setdefault("casco", True)
    return credit_application_create(actor=cw.world.manager, order=order, **terms)


def submitted(cw: CreditWorld, order: Order) -> CreditApplication:
    cw.connection()
    application = new_application(cw, order)
    credit_questionnaire_save(actor=cw.world.manager, application=application, data=QUESTIONNAIRE)
    return credit_application_submit(actor=cw.world.manager, application=application)


def with_documents(cw: CreditWorld, application: CreditApplication) -> CreditApplication:
    for kind in ("passport", "signed_questionnaire"):
        credit_document_upload(
            actor=cw.world.manager,
            application=application,
            kind=kind,
            upload=io.BytesIO(PDF),
            filename=f"{kind}.pdf",
        )
    application.refresh_from_db()
    return application


def offer(cw: CreditWorld, application: CreditApplication, bank: Any, **fields: Any) -> CreditOffer:
    fields.setdefault("status", "approved")
    fields.setdefault("amount", Decimal("1585000.00"))
    fields.setdefault("rate", Decimal("14.30"))
    fields.setdefault("term_months", 36)
    fields.setdefault("monthly_payment", Decimal("54402.78"))
    made = CreditOffer.objects.create(
        application=application,
        decision_id=f"decision-{bank.code}-{CreditOffer.objects.count() + 1}",
        version=application.version,
        bank=bank,
        **fields,
    )
    return made


# --------------------------------------------------------------------------- the tab


def test_the_tab_lists_the_applications_with_the_seed_columns(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = new_application(cw, order)
    client.force_login(cw.world.manager)

    response = client.get(reverse("finance:credit_tab", args=[order.pk]), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    for heading in (
        "Credit amount, RUB",
        "Down payment, RUB",
        "Credit offer",
        "Credit rate",
        "Credit term, months",
        "Monthly payment, RUB",
        "Stage",
    ):
        assert f">{heading}</th>" in html
    row = text(html.split(f'data-application="{application.pk}"')[1].split("</tr>")[0])
    # 1 829 900 − 279 900 + 35 000 of life insurance the bank finances, 14.3 %, 36 months.
    assert row == (
        f'data-stage="calculation" data-status="open"> {application.pk} 1 585 000 ₽ 279 900 ₽ '
        "No offer chosen 14.30 % 36 54 402,78 ₽ 1. Calculation In progress"
    )
    assert f'href="/finance/credit/{application.pk}/"' in html
    assert f'href="/finance/orders/{order.pk}/credit/new/" id="credit-new"' in html


def test_the_tab_names_the_chosen_offer_and_offers_no_new_application_to_a_lawyer(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    from autocrm.accounts.tests.factories import UserFactory

    application = new_application(cw, order)
    chosen = offer(cw, application, cw.sovcombank)
    CreditApplication.objects.filter(pk=application.pk).update(
        chosen_offer=chosen, status="confirmed"
    )
    lawyer = UserFactory.create(roles=["lawyer"], dealer_centers=[cw.world.dealer_center])
    client.force_login(lawyer)

    html = client.get(reverse("finance:credit_tab", args=[order.pk]), **HTMX).content.decode()

    assert "Bank Совкомбанк, credit amount: 1 585 000 ₽" in text(html)
    assert "Offer confirmed" in html
    assert 'id="credit-new"' not in html


def test_the_tab_of_an_order_in_another_dealer_center_is_a_404(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    other = order_world(city_name="Архангельск")
    client.force_login(other.manager)

    assert client.get(reverse("finance:credit_tab", args=[order.pk]), **HTMX).status_code == 404
    application = new_application(cw, order)
    assert client.get(reverse("finance:credit_detail", args=[application.pk])).status_code == 404


# --------------------------------------------------------------------------- step 1


def test_the_new_application_page_lists_the_fitting_programs_with_their_payments(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    client.force_login(cw.world.manager)

    response = client.get(reverse("finance:credit_new", args=[order.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="credit-steps"' in html
    assert "js/credit.js" in html
    # 20 % down by default: 1 829 900 − 365 980 + 35 000 = 1 498 920 at 14.3 %.
    assert f'data-program="{cw.standard.pk}"' in html
    assert f'data-program="{cw.casco_program.pk}"' not in html  # needs CASCO and 30 %
    assert 'data-monthly-payment="51448.21"' in html
    assert f'value="{cw.standard.pk}" id="credit-program-{cw.standard.pk}" checked' in html
    assert text_of_id(html, "credit-summary-amount") == "1 498 920 ₽"
    assert text_of_id(html, "credit-summary-monthly") == "51 448,21 ₽"


def text_of_id(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(dd|span|div|p)>', html, re.S)
    assert match, f"#{element_id} not found"
    return text(match.group(1))


def test_the_quote_follows_the_form_best_program_first(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    client.force_login(cw.world.manager)

    response = client.get(
        reverse("finance:credit_quote", args=[order.pk]),
        {
            "down_payment_mode": "percent",
            "down_payment_percent": "50",
            "term_months": "36",
            "casco": "on",
            "program": str(cw.casco_program.pk),
        },
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    # The CASCO program's band for 50 % and 12–36 months: 9.9 % on 914 950 → first.
    assert html.index(f'data-program="{cw.casco_program.pk}"') < html.index(
        f'data-program="{cw.standard.pk}"'
    )
    assert text_of_id(html, "credit-summary-amount") == "914 950 ₽"
    assert text_of_id(html, "credit-summary-rate") == "9.90 %"
    assert text_of_id(html, "credit-summary-casco") == "yes"


def test_step_1_in_roubles_creates_the_application(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    client.force_login(cw.world.manager)

    response = client.post(
        reverse("finance:credit_new", args=[order.pk]),
        {
            "down_payment_mode": "rub",
            "down_payment": "279 900",
            "down_payment_percent": "15,3",
            "order_amount": "1829900",
            "term_months": "36",
            "casco": "on",
            "program": str(cw.standard.pk),
        },
    )

    application = CreditApplication.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == f"/finance/credit/{application.pk}/?step=2"
    assert application.down_payment == Decimal("279900.00")
    assert application.down_payment_percent == Decimal("15.30")
    assert application.credit_amount == Decimal("1585000.00")
    assert application.monthly_payment == Decimal("54402.78")
    assert application.rate == Decimal("14.30")
    assert application.program == cw.standard
    assert application.casco is True
    assert application.stage == "calculation"


def test_step_1_in_percent_creates_the_application(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    client.force_login(cw.world.manager)

    response = client.post(
        reverse("finance:credit_new", args=[order.pk]),
        {
            "down_payment_mode": "percent",
            "down_payment": "1",  # ignored: the percent counts
            "down_payment_percent": "20",
            "order_amount": "1 829 900,00",
            "term_months": "36",
            "program": str(cw.standard.pk),
        },
    )

    assert response.status_code == 302
    application = CreditApplication.objects.get(order=order)
    assert application.down_payment == Decimal("365980.00")
    assert application.down_payment_percent == Decimal("20.00")
    assert application.credit_amount == Decimal("1498920.00")
    assert application.monthly_payment == Decimal("51448.21")
    assert application.casco is False


def test_step_1_without_a_program_needs_a_rate(client: Any, cw: CreditWorld, order: Order) -> None:
    client.force_login(cw.world.manager)
    url = reverse("finance:credit_new", args=[order.pk])
    data = {
        "down_payment_mode": "percent",
        "down_payment_percent": "20",
        "term_months": "36",
        "program": "none",
    }

    response = client.post(url, data)

    assert response.status_code == 400
    assert (
        error_for(response.content.decode(), "rate") == "Give the rate or choose a credit program."
    )
    assert CreditApplication.objects.count() == 0

    response = client.post(url, {**data, "rate": "15"})

    assert response.status_code == 302
    application = CreditApplication.objects.get()
    # Without a program nothing is financed: 1 829 900 − 365 980.
    assert application.credit_amount == Decimal("1463920.00")
    assert application.monthly_payment == Decimal("50747.27")
    assert application.program is None


def test_step_1_refuses_a_program_that_does_not_fit(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    client.force_login(cw.world.manager)

    response = client.post(
        reverse("finance:credit_new", args=[order.pk]),
        {
            "down_payment_mode": "percent",
            "down_payment_percent": "20",
            "term_months": "36",
            "program": str(cw.casco_program.pk),
        },
    )

    assert response.status_code == 409
    assert error_for(response.content.decode(), "program") == (
        "The credit program “Автокредит КАСКО” does not fit this order and these terms."
    )
    assert CreditApplication.objects.count() == 0


def test_step_1_recalculates_an_application_not_yet_sent(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = new_application(cw, order)
    client.force_login(cw.world.manager)

    response = client.post(
        reverse("finance:credit_calculation", args=[application.pk]),
        {
            "down_payment_mode": "percent",
            "down_payment_percent": "20",
            "term_months": "36",
            "program": str(cw.standard.pk),
        },
    )

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.credit_amount == Decimal("1498920.00")
    assert application.casco is False


# --------------------------------------------------------------------------- step 2


def test_the_manager_saves_the_questionnaire_and_reads_it_back_in_full(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = new_application(cw, order)
    client.force_login(cw.world.manager)
    url = reverse("finance:credit_questionnaire", args=[application.pk])
    empty = client.get(
        reverse("finance:credit_detail", args=[application.pk]) + "?step=2"
    ).content.decode()
    assert 'data-step="2"' in empty
    assert 'id="credit-questionnaire-form"' in empty
    assert 'id="id_passport_number"' in empty
    assert PiiAccess.objects.count() == 0  # nothing to read yet

    response = client.post(url, {**QUESTIONNAIRE, "birth_date": "12.04.1985", "action": "save"})

    assert response.status_code == 302
    assert response["Location"] == f"/finance/credit/{application.pk}/?step=2"
    applicant = CreditApplicant.objects.get(application=application)
    assert applicant.passport_number == "4510 123456"
    assert applicant.passport_last_digits == "3456"
    assert str(applicant.birth_date) == "1985-04-12"
    assert applicant.monthly_income == Decimal("150000.00")
    assert applicant.employment_months == 48
    assert applicant.consented_at is not None
    application.refresh_from_db()
    assert application.stage == "questionnaire"
    assert PiiAccess.objects.count() == 0

    html = client.get(
        reverse("finance:credit_detail", args=[application.pk]) + "?step=2"
    ).content.decode()

    assert 'value="4510 123456"' in html
    assert "г. Мурманск, ул. Ленина, д. 1, кв. 2</textarea>" in html
    assert "•••" not in html
    access = PiiAccess.objects.get()
    assert (access.user, access.application, access.channel) == (
        cw.world.manager,
        application,
        "web",
    )


def test_a_head_sees_the_questionnaire_masked_and_nothing_is_logged(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = new_application(cw, order)
    credit_questionnaire_save(actor=cw.world.manager, application=application, data=QUESTIONNAIRE)
    client.force_login(cw.world.head)

    html = client.get(
        reverse("finance:credit_detail", args=[application.pk]) + "?step=2"
    ).content.decode()

    assert 'id="credit-questionnaire-view" data-masked' in html
    assert '<dd class="col-6 mb-1" data-field="passport_number">•••• ••3456</dd>' in html
    assert '<dd class="col-6 mb-1" data-field="registration_address">•••</dd>' in html
    assert '<dd class="col-6 mb-1" data-field="last_name">Иванов</dd>' in html
    assert "4510" not in html
    assert "510-001" not in html
    assert "Ленина" not in html
    assert 'id="credit-questionnaire-form"' not in html
    # The head may send it all the same.
    assert 'id="credit-submit-form"' in html
    assert PiiAccess.objects.count() == 0


def test_sending_an_incomplete_questionnaire_shows_the_field_and_sends_nothing(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    cw.connection()
    application = new_application(cw, order)
    client.force_login(cw.world.manager)
    data = {**QUESTIONNAIRE, "passport_number": "", "action": "submit"}

    response = client.post(reverse("finance:credit_questionnaire", args=[application.pk]), data)

    assert response.status_code == 400
    html = response.content.decode()
    assert error_for(html, "passport_number") == (
        "Fill in “passport series and number” before sending."
    )
    assert 'id="credit-questionnaire-form"' in html
    application.refresh_from_db()
    assert application.stage == "questionnaire"  # saved, not sent
    assert application.broker_state == "not_sent"
    assert BrokerSubmission.objects.count() == 0


def test_a_questionnaire_in_a_wrong_format_is_refused_at_its_field(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = new_application(cw, order)
    client.force_login(cw.world.manager)
    data = {**QUESTIONNAIRE, "passport_division_code": "51-0001", "action": "save"}

    response = client.post(reverse("finance:credit_questionnaire", args=[application.pk]), data)

    assert response.status_code == 400
    assert error_for(response.content.decode(), "passport_division_code") == (
        "Enter the code as 123-456."
    )
    assert not CreditApplicant.objects.filter(application=application).exists()


def test_sending_the_questionnaire_queues_it_for_the_broker(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    cw.connection()
    application = new_application(cw, order)
    client.force_login(cw.world.manager)

    response = client.post(
        reverse("finance:credit_questionnaire", args=[application.pk]),
        {**QUESTIONNAIRE, "action": "submit"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/finance/credit/{application.pk}/?step=3"
    application.refresh_from_db()
    assert (application.stage, application.broker_state) == ("documents", "queued")
    assert BrokerSubmission.objects.get().version == 1


# --------------------------------------------------------------------------- step 3


def test_documents_are_uploaded_until_the_required_ones_are_in(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = submitted(cw, order)
    client.force_login(cw.world.manager)
    url = reverse("finance:credit_document", args=[application.pk])

    html = client.get(
        reverse("finance:credit_detail", args=[application.pk]) + "?step=3"
    ).content.decode()
    assert re.findall(r"<span [^>]*data-missing>([^<]*)</span>", html) == [
        "Passport scan",
        "Signed questionnaire",
    ]

    response = client.post(
        url, {"kind": "passport", "file": SimpleUploadedFile("passport.pdf", PDF)}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/finance/credit/{application.pk}/?step=3"

    refused = client.post(
        url, {"kind": "signed_questionnaire", "file": SimpleUploadedFile("scan.txt", b"hello")}
    )
    assert refused.status_code == 400
    assert error_for(refused.content.decode(), "file") == (
        "Only PDF, JPEG and PNG files are accepted."
    )

    response = client.post(
        url, {"kind": "signed_questionnaire", "file": SimpleUploadedFile("anketa.pdf", PDF)}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/finance/credit/{application.pk}/?step=4"
    application.refresh_from_db()
    assert application.stage == "confirmation"
    assert list(application.documents.values_list("kind", "filename", "size")) == [
        ("passport", "passport.pdf", len(PDF)),
        ("signed_questionnaire", "anketa.pdf", len(PDF)),
    ]
    html = client.get(
        reverse("finance:credit_detail", args=[application.pk]) + "?step=3"
    ).content.decode()
    assert 'id="credit-documents-complete"' in html
    assert html.count("data-document=") == 2


def test_a_scan_is_served_to_the_manager_only_and_the_reading_is_logged(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = with_documents(cw, submitted(cw, order))
    document = application.documents.get(kind="passport")
    url = reverse("finance:credit_document_file", args=[application.pk, document.pk])

    client.force_login(cw.world.head)
    assert client.get(url).status_code == 403
    client.force_login(cw.world.manager)
    response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert PiiAccess.objects.get().fields == ["document:passport"]


# --------------------------------------------------------------------------- step 4


def test_while_the_banks_decide_the_offers_are_polled(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = submitted(cw, order)
    client.force_login(cw.world.manager)
    url = reverse("finance:credit_offers", args=[application.pk])

    html = client.get(url, **HTMX).content.decode()

    assert 'id="credit-offers-waiting"' in html
    assert f'hx-get="{url}" hx-trigger="every 3s"' in html
    assert 'id="credit-offers-documents-missing"' in html

    offer(cw, application, cw.sovcombank)
    html = client.get(url, **HTMX).content.decode()

    assert 'id="credit-offers-waiting"' not in html
    assert 'hx-trigger="every 10s"' in html
    assert 'data-bank="sovcombank" data-decision="approved"' in html
    assert "data-confirm-offer" not in html  # the documents are not in yet


def test_the_offers_stand_side_by_side_and_one_is_confirmed(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = with_documents(cw, submitted(cw, order))
    chosen = offer(cw, application, cw.sovcombank, required_product_codes=["life_insurance"])
    chosen.required_products.set([cw.life_insurance])
    counter = offer(
        cw,
        application,
        cw.alfabank,
        status="counter_offer",
        amount=Decimal("1426500.00"),
        rate=Decimal("16.30"),
        monthly_payment=Decimal("50360.48"),
    )
    client.force_login(cw.world.manager)

    html = client.get(
        reverse("finance:credit_detail", args=[application.pk]) + "?step=4"
    ).content.decode()

    assert 'class="row row-cols-1 row-cols-md-3 g-2" id="credit-offer-cards"' in html
    cards = text(html.split('id="credit-offer-cards"')[1].split('id="credit-cancel"')[0])
    assert "Совкомбанк Approved Credit amount 1 585 000 ₽ Credit rate 14.30 %" in cards
    assert "Monthly payment 54 402,78 ₽ Required products Страхование жизни" in cards
    assert "Альфа-Банк Counter-offer Credit amount 1 426 500 ₽ Credit rate 16.30 %" in cards
    assert f'data-confirm-offer="{chosen.pk}"' in html
    assert f'data-confirm-offer="{counter.pk}"' in html

    response = client.post(
        reverse("finance:credit_confirm", args=[application.pk]), {"offer_id": str(chosen.pk)}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/#credit"
    application.refresh_from_db()
    assert (application.status, application.chosen_offer_id) == ("confirmed", chosen.pk)
    invoice = Invoice.objects.get(order=order, kind="credit")
    assert invoice.amount == Decimal("1585000.00")
    assert OrderProduct.objects.get(order=order, product=cw.life_insurance).mandatory is True
    tab = client.get(reverse("finance:credit_tab", args=[order.pk]), **HTMX).content.decode()
    assert "Bank Совкомбанк, credit amount: 1 585 000 ₽" in text(tab)


def test_confirming_before_the_documents_are_in_is_refused_on_the_page(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = submitted(cw, order)
    made = offer(cw, application, cw.sovcombank)
    client.force_login(cw.world.manager)

    response = client.post(
        reverse("finance:credit_confirm", args=[application.pk]), {"offer_id": str(made.pk)}
    )

    assert response.status_code == 409
    assert text_of_id(response.content.decode(), "credit-error") == (
        "Upload the passport and the signed questionnaire before confirming an offer."
    )
    application.refresh_from_db()
    assert application.status == "open"
    assert not Invoice.objects.filter(order=order, kind="credit").exists()


def test_a_missing_offer_id_is_refused_without_a_500(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    application = with_documents(cw, submitted(cw, order))
    client.force_login(cw.world.manager)

    response = client.post(
        reverse("finance:credit_confirm", args=[application.pk]), {"offer_id": "abc"}
    )

    assert response.status_code == 400
    assert text_of_id(response.content.decode(), "credit-error") == "Choose an offer."


def test_the_history_and_the_cancellation(client: Any, cw: CreditWorld, order: Order) -> None:
    application = submitted(cw, order)
    client.force_login(cw.world.manager)

    html = client.get(reverse("finance:credit_detail", args=[application.pk])).content.decode()

    assert 'data-step="3"' in html  # the step it is in
    history = text(html.split('id="credit-history"')[1])
    assert "Stage 2. Questionnaire → 3. Documents · Sent to the credit broker" in history
    assert "Stage 1. Calculation → 2. Questionnaire" in history

    refused = client.post(reverse("finance:credit_cancel", args=[application.pk]), {"reason": ""})
    assert refused.status_code == 400
    assert error_for(refused.content.decode(), "reason") == "Give a reason."

    response = client.post(
        reverse("finance:credit_cancel", args=[application.pk]), {"reason": "Клиент передумал"}
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.cancel_reason) == ("cancelled", "Клиент передумал")


def test_refusals_of_no_field_show_above_the_step(
    client: Any, cw: CreditWorld, order: Order
) -> None:
    fresh = new_application(cw, order)
    client.force_login(cw.world.manager)

    early = client.post(
        reverse("finance:credit_document", args=[fresh.pk]),
        {"kind": "passport", "file": SimpleUploadedFile("passport.pdf", PDF)},
    )

    assert early.status_code == 409
    assert text_of_id(early.content.decode(), "credit-error") == (
        "Send the questionnaire to the banks first."
    )
    assert fresh.documents.count() == 0

    sent = submitted(cw, cw.world.order(vehicle=cw.world.another_car()))
    late = client.post(
        reverse("finance:credit_calculation", args=[sent.pk]),
        {
            "down_payment_mode": "percent",
            "down_payment_percent": "30",
            "term_months": "36",
            "program": str(cw.standard.pk),
        },
    )

    assert late.status_code == 409
    assert text_of_id(late.content.decode(), "credit-error") == (
        "The application is with the banks: change the questionnaire to send new terms."
    )
    sent.refresh_from_db()
    assert sent.down_payment == Decimal("279900.00")
