"""The whole way of a credit application through the E-Credit broker simulator over HTTP:
submit → callbacks from several banks → documents → confirm one → the order updated."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from autocrm.finance.credit_services import (
    credit_application_create,
    credit_application_submit,
    credit_document_upload,
    credit_offer_confirm,
    credit_questionnaire_save,
)
from autocrm.finance.models import BrokerCallback, CreditApplication, CreditOffer, OrderProduct
from autocrm.finance.tests.credit_factories import (
    API_KEY,
    CALLBACK_SECRET,
    LOGIN,
    QUESTIONNAIRE,
    credit_world,
)
from autocrm.orders.models import Invoice
from simulators import ecredit

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def broker() -> Iterator[Any]:
    handle = ecredit.start(
        api_key=API_KEY, login=LOGIN, callback_secret=CALLBACK_SECRET, decision_delay=0.2
    )
    try:
        yield handle
    finally:
        handle.stop()


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0)


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_submit_callbacks_from_banks_confirm_one_updates_the_order(
    broker: Any, live_server: Any, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    cw = credit_world()
    cw.connection(broker.url)
    manager = cw.world.manager
    order = cw.world.order()
    application = credit_application_create(
        actor=manager,
        order=order,
        program=cw.standard,
        down_payment=Decimal("279900.00"),
        term_months=36,
        casco=True,
    )
    # 1 829 900 − 279 900 + 35 000 of life insurance the bank finances.
    assert application.credit_amount == Decimal("1585000.00")
    assert application.rate == Decimal("14.30")
    credit_questionnaire_save(actor=manager, application=application, data=QUESTIONNAIRE)
    credit_application_submit(actor=manager, application=application)

    run_worker()  # sends the submission
    assert len(broker.applications) == 1
    wait_for(lambda: BrokerCallback.objects.count() == 3)
    run_worker()  # applies the callbacks

    offers = {offer.bank.code: offer for offer in CreditOffer.objects.select_related("bank")}
    assert set(offers) == {"sovcombank", "alfabank", "tbank"}
    assert offers["sovcombank"].status == "approved"
    assert offers["sovcombank"].amount == Decimal("1585000.00")
    assert offers["alfabank"].status == "counter_offer"
    assert offers["alfabank"].amount == Decimal("1426500.00")

    for kind in ("passport", "signed_questionnaire"):
        credit_document_upload(
            actor=manager,
            application=application,
            kind=kind,
            upload=io.BytesIO(PDF),
            filename=f"{kind}.pdf",
        )
    run_worker()  # forwards the documents
    assert len(broker.documents) == 2

    application.refresh_from_db()
    assert application.stage == "confirmation"
    credit_offer_confirm(actor=manager, application=application, offer_id=offers["sovcombank"].pk)

    application.refresh_from_db()
    assert application.status == "confirmed"
    assert application.chosen_offer_id == offers["sovcombank"].pk
    line = OrderProduct.objects.get(order=order, product=cw.life_insurance)
    assert line.mandatory is True
    order.refresh_from_db()
    assert order.total == Decimal("1864900.00")
    invoice = Invoice.objects.get(order=order, kind="credit")
    assert invoice.amount == Decimal("1585000.00")
    assert CreditApplication.objects.get(pk=application.pk).broker_reference
    cw.world.vehicle.refresh_from_db()
    assert cw.world.vehicle.credit_sale is True
