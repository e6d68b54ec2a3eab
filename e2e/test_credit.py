"""A credit application end to end in a real browser on a tablet (820 px wide), against the
E-Credit broker simulator over HTTP.

A sales manager opens the order card's «Кредитные заявки» tab, starts a new application,
calculates it with 20 % down under Совкомбанк's program, fills the questionnaire in and
sends it to the banks. The offers step waits for the banks and refreshes by itself; the
background worker sends the application and applies the banks' callbacks (the test runs
it between the steps, as the deployment's ``db_worker`` would). The manager uploads the
passport and the signed questionnaire, sees three offers side by side, chooses
Совкомбанк's, and the order card shows the credit invoice and the life insurance the bank
requires among the mandatory products.

Elements are found by ids and data attributes, so the test does not depend on the state
of the translation.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError
from playwright.sync_api import BrowserContext, Page, expect

from autocrm.finance.models import BrokerCallback, CreditApplication, CreditOffer, OrderProduct
from autocrm.finance.tests.credit_factories import (
    API_KEY,
    CALLBACK_SECRET,
    LOGIN,
    CreditWorld,
    credit_world,
)
from autocrm.orders.models import Invoice
from e2e.conftest import TABLET
from simulators import ecredit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SCREENSHOTS = Path(os.environ.get("AUTOCRM_E2E_SCREENSHOTS", tempfile.gettempdir()))
# What the manager types into the questionnaire (ids of the form's fields).
TYPED = {
    "last_name": "Иванов",
    "first_name": "Иван",
    "patronymic": "Иванович",
    "birth_date": "1985-04-12",
    "birth_place": "г. Мурманск",
    "passport_number": "4510 123456",
    "passport_issued_on": "2015-05-20",
    "passport_division_code": "510-001",
    "passport_issued_by": "ОВД района Ленинский г. Мурманска",
    "registration_address": "г. Мурманск, ул. Ленина, д. 1, кв. 2",
    "residence_address": "г. Мурманск, ул. Ленина, д. 1, кв. 2",
    "phone": "+79001234567",
    "email": "ivanov@example.com",
    "employer": "ООО «Северный порт»",
    "position": "Инженер",
    "employment_months": "48",
    "monthly_income": "150 000",
    "dependants": "1",
}


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0)


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OperationalError:  # SQLite's shared in-memory database: a writer holds it
            pass
        time.sleep(0.05)
    raise AssertionError("timed out")


def fits_the_screen(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]


@pytest.fixture
def broker() -> Iterator[Any]:
    handle = ecredit.start(
        api_key=API_KEY, login=LOGIN, callback_secret=CALLBACK_SECRET, decision_delay=0.3
    )
    try:
        yield handle
    finally:
        handle.stop()


def test_a_credit_application_through_the_four_steps_to_the_order(
    live_server: Any,
    settings: Any,
    broker: Any,
    new_context: Callable[..., BrowserContext],
    login: Callable[[Page, str], None],
    tmp_path: Path,
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url  # the broker's callbacks reach this server
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    cw: CreditWorld = credit_world()
    cw.connection(broker.url)
    manager = cw.world.manager
    order = cw.world.order()
    page = new_context(viewport=TABLET).new_page()
    login(page, manager.username)

    # The order card's tab: no applications yet, a button for a new one.
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    page.click("#tab-credit")
    expect(page.locator("#pane-credit-content #credit-applications")).to_be_visible()
    expect(page.locator("#credit-applications tr[data-application]")).to_have_count(0)
    page.click("#credit-new")

    # Step 1: 20 % down (the roubles follow), Совкомбанк's program, 36 months.
    page.wait_for_url(f"{live_server.url}/finance/orders/{order.pk}/credit/new/")
    expect(page.locator("#credit-steps [aria-current=step]")).to_have_attribute(
        "data-step-link", "1"
    )
    page.check("#id_down_payment_mode_1")  # in percent
    page.fill("#id_down_payment_percent", "20")
    expect(page.locator("#id_down_payment")).to_have_value("365980")
    page.fill("#id_term_months", "36")
    sovcombank = page.locator(f"#credit-program-{cw.standard.pk}")
    expect(sovcombank).to_be_visible()
    page.check(f"#credit-program-{cw.standard.pk}")
    # 1 829 900 − 365 980 + 35 000 of life insurance the bank finances, at 14.3 %.
    expect(page.locator("#credit-summary-amount")).to_have_attribute("data-amount", "1498920.00")
    expect(page.locator("#credit-summary-monthly")).to_have_attribute("data-amount", "51448.21")
    fits_the_screen(page)
    screenshot(page, "credit-step-1", full_page=True)
    page.click("#credit-calculation-submit")

    # Step 2: the questionnaire, sent to the banks.
    application = CreditApplication.objects.get(order=order)
    assert application.credit_amount == Decimal("1498920.00")
    assert application.program == cw.standard
    page.wait_for_url(f"{live_server.url}/finance/credit/{application.pk}/?step=2")
    for name, value in TYPED.items():
        page.fill(f"#id_{name}", value)
    page.select_option("#id_marital_status", "married")
    page.check("#id_consent_personal_data")
    page.check("#id_consent_credit_history")
    fits_the_screen(page)
    screenshot(page, "credit-step-2", full_page=True)
    page.click("#credit-questionnaire-submit")
    page.wait_for_url(f"{live_server.url}/finance/credit/{application.pk}/?step=3")
    expect(page.locator("#credit-documents-missing [data-missing]")).to_have_count(2)

    # Step 4 before the banks answer: it waits, and refreshes by itself.
    page.click("#credit-steps [data-step-link='4']")
    expect(page.locator("#credit-offers-waiting")).to_be_visible()
    run_worker()  # sends the application to the broker
    assert len(broker.applications) == 1
    wait_for(lambda: BrokerCallback.objects.count() == 3)
    run_worker()  # applies the banks' decisions
    assert CreditOffer.objects.filter(application=application).count() == 3
    cards = page.locator("#credit-offer-cards [data-offer]")
    expect(cards).to_have_count(3, timeout=15_000)
    expect(page.locator("#credit-offers-waiting")).to_have_count(0)
    # Nothing can be chosen until the documents are in.
    expect(page.locator("[data-confirm-offer]")).to_have_count(0)
    expect(page.locator("#credit-offers-documents-missing")).to_be_visible()

    # Step 3: the passport and the signed questionnaire.
    page.click("#credit-steps [data-step-link='3']")
    for kind in ("passport", "signed_questionnaire"):
        scan = tmp_path / f"{kind}.pdf"
        scan.write_bytes(PDF)
        page.select_option("#id_kind", kind)
        page.set_input_files("#id_file", str(scan))
        with page.expect_navigation():
            page.click("#credit-document-upload")
    page.wait_for_url(f"{live_server.url}/finance/credit/{application.pk}/?step=4")
    run_worker()  # forwards the documents
    assert len(broker.documents) == 2

    # Step 4: three banks side by side, approvals first (the cheaper first), then the
    # counter-offer; Совкомбанк approved as asked.
    expect(cards).to_have_count(3)
    boxes = [cards.nth(index).bounding_box() for index in range(3)]
    assert all(box is not None for box in boxes)
    assert len({round(box["y"]) for box in boxes if box}) == 1  # one row
    assert [card.get_attribute("data-bank") for card in cards.all()] == [
        "sovcombank",
        "tbank",
        "alfabank",
    ]
    sovcombank_card = page.locator("#credit-offer-cards [data-bank=sovcombank]")
    expect(sovcombank_card).to_have_attribute("data-decision", "approved")
    expect(sovcombank_card.locator("[data-offer-amount]")).to_have_attribute(
        "data-offer-amount", "1498920.00"
    )
    expect(
        page.locator("#credit-offer-cards [data-bank=alfabank] [data-offer-amount]")
    ).to_have_attribute("data-offer-amount", "1349028.00")
    fits_the_screen(page)
    screenshot(page, "credit-step-4", full_page=True)
    expect(page.locator("#credit-history tr[data-event-kind=offer]")).to_have_count(3)
    sovcombank_card.locator("[data-confirm-offer]").click()

    # Back on the order card: the credit invoice and the bank's life insurance.
    # The card opens at its credit tab (the address's hash), loaded.
    page.wait_for_url(f"{live_server.url}/orders/{order.pk}/#credit")
    expect(page.locator("#messages .alert-success")).to_be_visible()
    expect(page.locator("#tab-credit")).to_have_attribute("aria-selected", "true")
    row = page.locator(f"#credit-applications tr[data-application='{application.pk}']")
    expect(row).to_have_attribute("data-status", "confirmed")
    expect(row.locator("[data-offer]")).to_contain_text("Совкомбанк")
    screenshot(page, "credit-tab")
    page.click("#tab-invoices")
    invoices = page.locator("#pane-invoices-content tbody[data-invoice]")
    expect(invoices).to_have_count(1)
    expect(invoices.locator("[data-amount]")).to_have_text(re.compile(r"1\s498\s920,00"))
    page.click("#tab-products-mandatory")
    expect(page.locator("#pane-products-mandatory-content")).to_contain_text("Страхование жизни")
    expect(page.locator("#messages .alert-danger")).to_have_count(0)
    fits_the_screen(page)
    screenshot(page, "credit-order-card", full_page=True)

    application.refresh_from_db()
    assert application.status == "confirmed"
    invoice = Invoice.objects.get(order=order, kind="credit")
    assert invoice.amount == Decimal("1498920.00")
    assert OrderProduct.objects.get(order=order, product=cw.life_insurance).mandatory is True
