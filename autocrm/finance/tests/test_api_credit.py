"""The credit API: the calculator's exact values and refusals, the programs that fit an
order, an application through its stages with every refusal (and nothing changed by a
refused request), the questionnaire masked or in full with the access log, scoping and
roles, and the whole way through the E-Credit broker simulator over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from autocrm.accounts.models import Brand
from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.finance.models import (
    BrokerCallback,
    BrokerSubmission,
    CreditApplicant,
    CreditApplication,
    CreditApplicationEvent,
    CreditDocument,
    CreditOffer,
    CreditProgram,
    OrderProduct,
    PiiAccess,
)
from autocrm.finance.tests.credit_factories import (
    API_KEY,
    CALLBACK_SECRET,
    LOGIN,
    QUESTIONNAIRE,
    CreditWorld,
    credit_world,
)
from autocrm.orders.models import Invoice, Order
from simulators import ecredit

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CALCULATE = "/api/v1/credit/calculate"


class Caller:
    def __init__(self, client: Any, user: Any) -> None:
        self.client = client
        self.user = user
        token = api_token_create(actor=None, user=user, name="tests").token
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def get(self, url: str, **query: Any) -> Any:
        return self.client.get(url, query, **self.headers)

    def send(self, method: str, url: str, body: Any = None) -> Any:
        return self.client.generic(
            method,
            url,
            data=body if isinstance(body, bytes) else json.dumps({} if body is None else body),
            content_type="application/json",
            **self.headers,
        )

    def post(self, url: str, body: Any = None) -> Any:
        return self.send("POST", url, body)

    def put(self, url: str, body: Any = None) -> Any:
        return self.send("PUT", url, body)

    def upload(self, url: str, kind: str | None, content: bytes, name: str = "scan.pdf") -> Any:
        data: dict[str, Any] = {"file": SimpleUploadedFile(name, content)}
        if kind is not None:
            data["kind"] = kind
        return self.client.post(url, data, **self.headers)


@pytest.fixture(autouse=True)
def _english(client: Any, settings: Any) -> None:
    # Texts are asserted in English, whatever Russian the translators add.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def first_error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"detail", "errors"}, body
    error: dict[str, Any] = body["errors"][0]
    return error


def refused(response: Any) -> tuple[int, str | None, str]:
    error = first_error(response)
    return response.status_code, error["field"], error["code"]


def programs_url(order: Order) -> str:
    return f"/api/v1/orders/{order.pk}/credit-programs"


def applications_url(order: Order) -> str:
    return f"/api/v1/orders/{order.pk}/credit-applications"


def application_url(application_id: int, action: str = "") -> str:
    return f"/api/v1/credit-applications/{application_id}" + (f"/{action}" if action else "")


# --- the calculator ------------------------------------------------------------------------


@pytest.mark.django_db
class TestCalculator:
    @pytest.fixture
    def caller(self, client: Any) -> Caller:
        return Caller(client, UserFactory.create(roles=["sales_manager"]))

    @pytest.mark.parametrize(
        ("credit_amount", "monthly", "total", "overpayment"),
        [
            ("1829900", "62808.61", "2261109.96", "431209.96"),
            (1550000, "53201.45", "1915252.20", "365252.20"),
        ],
    )
    def test_the_seed_examples(
        self, caller: Caller, credit_amount: Any, monthly: str, total: str, overpayment: str
    ) -> None:
        response = caller.post(
            CALCULATE, {"credit_amount": credit_amount, "rate": "14.3", "term_months": 36}
        )

        assert response.status_code == 200, response.content
        assert response.json() == {
            "credit_amount": f"{Decimal(credit_amount):.2f}",
            "monthly_payment": monthly,
            "total_paid": total,
            "overpayment": overpayment,
            "rate": "14.30",
            "term_months": 36,
            "casco": False,
            "order_amount": None,
            "down_payment": None,
            "down_payment_percent": None,
            "financed_products": None,
        }

    def test_a_zero_rate(self, caller: Caller) -> None:
        response = caller.post(
            CALCULATE, {"credit_amount": "1200000.00", "rate": 0, "term_months": 24}
        )

        body = response.json()
        assert (
            body["monthly_payment"],
            body["total_paid"],
            body["overpayment"],
            body["rate"],
        ) == ("50000.00", "1200000.00", "0.00", "0.00")

    def test_a_down_payment_in_percent_or_roubles_is_the_same_loan(self, caller: Caller) -> None:
        common = {"order_amount": "2000000", "term_months": 36, "rate": "14.3", "casco": True}

        by_percent = caller.post(CALCULATE, common | {"down_payment_percent": 25})
        by_roubles = caller.post(CALCULATE, common | {"down_payment": "500000.00"})

        assert by_percent.status_code == by_roubles.status_code == 200, by_percent.content
        expected = {
            "credit_amount": "1500000.00",
            "monthly_payment": "51485.28",
            "total_paid": "1853470.08",
            "overpayment": "353470.08",
            "rate": "14.30",
            "term_months": 36,
            "casco": True,
            "order_amount": "2000000.00",
            "down_payment": "500000.00",
            "down_payment_percent": "25.00",
            "financed_products": "0.00",
        }
        assert by_percent.json() == by_roubles.json() == expected

    def test_financed_products_are_added_to_the_credit(self, caller: Caller) -> None:
        response = caller.post(
            CALCULATE,
            {
                "order_amount": "1829900",
                "down_payment": "314900",
                "financed_products": "35000",
                "term_months": 36,
                "rate": "14.3",
            },
        )

        body = response.json()
        assert (body["credit_amount"], body["monthly_payment"], body["down_payment_percent"]) == (
            "1550000.00",
            "53201.45",
            "17.21",
        )

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"credit_amount": "-1", "rate": 10, "term_months": 12}, "credit_amount"),
            ({"credit_amount": 0, "rate": 10, "term_months": 12}, "credit_amount"),
            ({"credit_amount": "abc", "rate": 10, "term_months": 12}, "credit_amount"),
            ({"credit_amount": True, "rate": 10, "term_months": 12}, "credit_amount"),
            ({"credit_amount": "NaN", "rate": 10, "term_months": 12}, "credit_amount"),
            ({"credit_amount": "1e15", "rate": 10, "term_months": 12}, "credit_amount"),
            ({"credit_amount": 1000, "rate": -1, "term_months": 12}, "rate"),
            ({"credit_amount": 1000, "rate": "100.01", "term_months": 12}, "rate"),
            ({"credit_amount": 1000, "rate": "ten", "term_months": 12}, "rate"),
            ({"credit_amount": 1000, "term_months": 12}, "rate"),
            ({"credit_amount": 1000, "rate": 10, "term_months": 0}, "term_months"),
            ({"credit_amount": 1000, "rate": 10, "term_months": 121}, "term_months"),
            ({"credit_amount": 1000, "rate": 10, "term_months": "a year"}, "term_months"),
            ({"credit_amount": 1000, "rate": 10}, "term_months"),
            ({"rate": 10, "term_months": 12}, "credit_amount"),
            (
                {"credit_amount": 1000, "order_amount": 2000, "rate": 10, "term_months": 12},
                "credit_amount",
            ),
            (
                {"credit_amount": 1000, "down_payment": 100, "rate": 10, "term_months": 12},
                "down_payment",
            ),
            (
                {"order_amount": 0, "down_payment": 0, "rate": 10, "term_months": 12},
                "order_amount",
            ),
            (
                {"order_amount": "-5", "down_payment": 0, "rate": 10, "term_months": 12},
                "order_amount",
            ),
            (
                {"order_amount": 2000, "down_payment": 2500, "rate": 10, "term_months": 12},
                "down_payment",
            ),
            (
                {"order_amount": 2000, "down_payment": 2000, "rate": 10, "term_months": 12},
                "down_payment",
            ),
            (
                {"order_amount": 2000, "down_payment": "-1", "rate": 10, "term_months": 12},
                "down_payment",
            ),
            (
                {"order_amount": 2000, "down_payment_percent": 100, "rate": 10, "term_months": 12},
                "down_payment_percent",
            ),
            (
                {
                    "order_amount": 2000,
                    "down_payment": 500,
                    "down_payment_percent": 25,
                    "rate": 10,
                    "term_months": 12,
                },
                "down_payment",
            ),
            ({"order_amount": 2000, "rate": 10, "term_months": 12}, "down_payment"),
            ({"credit_amount": 1000, "rate": 10, "term_months": 12, "months": 3}, "months"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(
        self, caller: Caller, body: dict[str, Any], field: str
    ) -> None:
        response = caller.post(CALCULATE, body)

        assert response.status_code == 400, response.content
        assert first_error(response)["field"] == field

    def test_a_body_that_is_not_json(self, caller: Caller) -> None:
        response = caller.post(CALCULATE, b"rate=10")

        assert refused(response) == (400, "body", "json_invalid")


# --- credit programs -----------------------------------------------------------------------


@pytest.fixture
def cw(db: Any) -> CreditWorld:
    return credit_world()


@pytest.fixture
def order(cw: CreditWorld) -> Order:
    return cw.world.order()


@pytest.fixture
def manager(client: Any, cw: CreditWorld) -> Caller:
    return Caller(client, cw.world.manager)


@pytest.fixture
def head(client: Any, cw: CreditWorld) -> Caller:
    return Caller(client, cw.world.head)


def standard_quote(cw: CreditWorld, **changes: Any) -> dict[str, Any]:
    """The Совкомбанк program on the world's order (1 829 900), 20 % down, 36 months."""
    return {
        "id": cw.standard.pk,
        "bank": {"id": cw.sovcombank.pk, "code": "sovcombank", "name": "Совкомбанк"},
        "name": "Автокредит Стандарт",
        "rate": "14.30",
        "term_months": 36,
        "min_term_months": 12,
        "max_term_months": 84,
        "min_down_payment_percent": "10.00",
        "casco_required": False,
        # 1 829 900 − 365 980 + 35 000 of life insurance the bank finances.
        "credit_amount": "1498920.00",
        "down_payment": "365980.00",
        "down_payment_percent": "20.00",
        "financed_products": "35000.00",
        "monthly_payment": "51448.21",
        "total_paid": "1852135.56",
        "overpayment": "353215.56",
        "mandatory_products": [
            {"id": cw.life_insurance.pk, "name": "Страхование жизни", "price": "35000.00"}
        ],
        "valid_until": None,
    } | changes


def quotes(caller: Caller, order: Order, **query: Any) -> list[dict[str, Any]]:
    response = caller.get(programs_url(order), **query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["items"])
    items: list[dict[str, Any]] = body["items"]
    return items


def test_programs_fit_by_make_date_down_payment_and_casco(
    cw: CreditWorld, order: Order, manager: Caller
) -> None:
    haval = Brand.objects.create(code="haval", name="Haval")
    other_make = CreditProgram.objects.create(
        bank=cw.sovcombank, name="Haval Финанс", rate=Decimal("3.00")
    )
    other_make.brands.add(haval)
    CreditProgram.objects.create(
        bank=cw.sovcombank,
        name="Летняя акция",
        rate=Decimal("1.00"),
        valid_until=timezone.now().date() - timedelta(days=2),
    )

    # 20 % by default: the CASCO program needs 30 %; the other make's and the expired
    # programs never fit.
    assert quotes(manager, order) == [standard_quote(cw)]

    at_30 = quotes(manager, order, down_payment_percent="30")
    assert [(q["name"], q["rate"], q["monthly_payment"]) for q in at_30] == [
        ("Автокредит КАСКО", "12.90", "43097.92"),
        ("Автокредит Стандарт", "14.30", "45167.35"),
    ]
    assert at_30[0] | {"bank": None, "mandatory_products": None} == {
        "id": cw.casco_program.pk,
        "bank": None,
        "name": "Автокредит КАСКО",
        "rate": "12.90",
        "term_months": 36,
        "min_term_months": 12,
        "max_term_months": 60,
        "min_down_payment_percent": "30.00",
        "casco_required": True,
        "credit_amount": "1280930.00",
        "down_payment": "548970.00",
        "down_payment_percent": "30.00",
        "financed_products": "0.00",
        "monthly_payment": "43097.92",
        "total_paid": "1551525.12",
        "overpayment": "270595.12",
        "mandatory_products": None,
        "valid_until": None,
    }
    assert at_30[0]["bank"] == {"id": cw.alfabank.pk, "code": "alfabank", "name": "Альфа-Банк"}
    # The same down payment in roubles is the same selection.
    assert quotes(manager, order, down_payment="548970.00") == at_30
    # Without CASCO the Альфа program does not fit; with it, it does.
    assert [q["name"] for q in quotes(manager, order, down_payment_percent=30, casco="false")] == [
        "Автокредит Стандарт"
    ]
    assert [q["name"] for q in quotes(manager, order, down_payment_percent=30, casco="true")] == [
        "Автокредит КАСКО",
        "Автокредит Стандарт",
    ]
    # From 50 % down and up to 36 months, the 9.90 band; for 48 months the program's rate.
    at_50 = quotes(manager, order, down_payment_percent=50, term_months=36)
    assert [(q["rate"], q["credit_amount"], q["monthly_payment"]) for q in at_50] == [
        ("9.90", "914950.00", "29479.93"),
        ("14.30", "949950.00", "32605.63"),
    ]
    at_50_long = quotes(manager, order, down_payment_percent=50, term_months=48)
    assert [(q["rate"], q["monthly_payment"]) for q in at_50_long] == [
        ("12.90", "24500.43"),
        ("14.30", "26101.97"),
    ]
    # A term beyond the CASCO program's 60 months leaves only the standard one.
    assert [q["name"] for q in quotes(manager, order, down_payment_percent=50, term_months=72)] == [
        "Автокредит Стандарт"
    ]


def test_programs_come_lowest_monthly_payment_first(
    cw: CreditWorld, order: Order, manager: Caller
) -> None:
    CreditProgram.objects.create(bank=cw.alfabank, name="Дорогой", rate=Decimal("25.00"))
    CreditProgram.objects.create(bank=cw.sovcombank, name="Льготный", rate=Decimal("5.00"))

    found = quotes(manager, order, down_payment_percent=30)

    assert [(q["name"], q["monthly_payment"]) for q in found] == [
        ("Льготный", "38390.62"),
        ("Автокредит КАСКО", "43097.92"),
        ("Автокредит Стандарт", "45167.35"),
        ("Дорогой", "50929.55"),
    ]
    payments = [Decimal(q["monthly_payment"]) for q in found]
    assert payments == sorted(payments)
    page = manager.get(programs_url(order), down_payment_percent=30, limit=2, offset=1).json()
    assert (page["count"], [q["name"] for q in page["items"]]) == (
        4,
        ["Автокредит КАСКО", "Автокредит Стандарт"],
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"down_payment": "100000", "down_payment_percent": "20"}, "down_payment"),
        ({"down_payment": "1829900"}, "down_payment"),
        ({"down_payment": "-1"}, "down_payment"),
        ({"down_payment_percent": "100"}, "down_payment_percent"),
        ({"down_payment_percent": "abc"}, "down_payment_percent"),
        ({"term_months": "0"}, "term_months"),
        ({"term_months": "121"}, "term_months"),
        ({"order_amount": "0"}, "order_amount"),
        ({"casco": "maybe"}, "casco"),
    ],
)
def test_program_query_refusals(
    order: Order, manager: Caller, query: dict[str, str], field: str
) -> None:
    response = manager.get(programs_url(order), **query)

    assert response.status_code == 400, response.content
    assert first_error(response)["field"] == field


# --- opening an application --------------------------------------------------------------


def create(caller: Caller, order: Order, **body: Any) -> Any:
    body.setdefault("term_months", 36)
    return caller.post(applications_url(order), body)


def test_open_an_application_from_a_program(cw: CreditWorld, order: Order, manager: Caller) -> None:
    response = create(
        manager, order, program_id=cw.standard.pk, down_payment="279900.00", casco=True
    )

    assert response.status_code == 201, response.content
    body = response.json()
    application = CreditApplication.objects.get()
    assert body["id"] == application.pk
    history = body.pop("history")
    created_at, updated_at = body.pop("created_at"), body.pop("updated_at")
    assert created_at
    assert updated_at
    assert body == {
        "id": application.pk,
        "order_id": order.pk,
        "stage": "calculation",
        "stage_name": "1. Calculation",
        "status": "open",
        "status_name": "In progress",
        "version": 1,
        "order_amount": "1829900.00",
        "down_payment": "279900.00",
        "down_payment_percent": "15.30",
        "financed_products": "35000.00",
        "credit_amount": "1585000.00",
        "term_months": 36,
        "rate": "14.30",
        "casco": True,
        "monthly_payment": "54402.78",
        "total_paid": "1958500.08",
        "overpayment": "373500.08",
        "program": {
            "id": cw.standard.pk,
            "name": "Автокредит Стандарт",
            "bank": {"id": cw.sovcombank.pk, "code": "sovcombank", "name": "Совкомбанк"},
        },
        "broker_state": "not_sent",
        "broker_state_name": "Not sent",
        "broker_reference": "",
        "submitted_at": None,
        "chosen_offer_id": None,
        "confirmed_at": None,
        "cancel_reason": "",
        "has_questionnaire": False,
        "created_by": {"id": cw.world.manager.pk, "name": cw.world.manager.display_name},
        "offers": [],
        "documents": [],
    }
    assert [(e["kind"], e["from_value"], e["to_value"]) for e in history] == [
        ("stage", "", "calculation")
    ]
    assert history[0]["changed_by"] == {
        "id": cw.world.manager.pk,
        "name": cw.world.manager.display_name,
    }
    listed = manager.get(applications_url(order)).json()
    assert (listed["count"], listed["items"][0]["id"]) == (1, application.pk)
    assert manager.get(application_url(application.pk)).json()["credit_amount"] == "1585000.00"


def test_open_an_application_at_a_rate_given_by_hand(order: Order, manager: Caller) -> None:
    response = create(manager, order, rate="15.5", down_payment_percent=20)

    body = response.json()
    assert (response.status_code, body["stage"], body["program"]) == (201, "calculation", None)
    assert (
        body["credit_amount"],
        body["down_payment"],
        body["rate"],
        body["monthly_payment"],
        body["financed_products"],
    ) == ("1463920.00", "365980.00", "15.50", "51106.44", "0.00")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"down_payment_percent": 20}, (400, "rate", "validation_error")),
        ({"rate": 15, "down_payment": 1, "down_payment_percent": 1}, (400, "down_payment", None)),
        ({"rate": 15}, (400, "down_payment", "validation_error")),
        ({"rate": 15, "down_payment": "1829900"}, (400, "down_payment", "validation_error")),
        ({"rate": 101, "down_payment": 0}, (400, "rate", "less_than_equal")),
        ({"rate": 15, "down_payment": 0, "term_months": 150}, (400, "term_months", None)),
        ({"rate": 15, "down_payment": 0, "order_amount": 0}, (400, "order_amount", None)),
        ({"program_id": 999999, "down_payment": 0}, (400, "program_id", "validation_error")),
        ({"rate": 15, "down_payment": 0, "stage": "documents"}, (400, "stage", "extra_forbidden")),
    ],
)
def test_opening_refusals_create_nothing(
    order: Order, manager: Caller, body: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    response = create(manager, order, **body)

    status, field, code = refused(response)
    assert (status, field) == expected[:2], response.content
    if expected[2] is not None:
        assert code == expected[2]
    assert CreditApplication.objects.count() == 0


def test_a_program_with_a_rate_or_not_fitting_is_refused(
    cw: CreditWorld, order: Order, manager: Caller
) -> None:
    with_rate = create(manager, order, program_id=cw.standard.pk, rate=10, down_payment=0)
    no_casco = create(manager, order, program_id=cw.casco_program.pk, down_payment_percent=40)
    too_little_down = create(
        manager, order, program_id=cw.casco_program.pk, down_payment_percent=20, casco=True
    )
    cw.standard.valid_until = timezone.now().date() - timedelta(days=2)
    cw.standard.save()
    expired = create(manager, order, program_id=cw.standard.pk, down_payment_percent=20)

    assert refused(with_rate) == (400, "rate", "validation_error")
    assert refused(no_casco) == (409, "program_id", "program_casco")
    assert refused(too_little_down) == (409, "program_id", "program_down_payment")
    assert refused(expired) == (409, "program_id", "program_not_valid")
    assert CreditApplication.objects.count() == 0


# --- stages 1 → 2 → 3 → 4 ----------------------------------------------------------------


def opened(caller: Caller, order: Order) -> int:
    response = create(caller, order, rate="15.5", down_payment_percent=20)
    assert response.status_code == 201, response.content
    application_id: int = response.json()["id"]
    return application_id


def with_questionnaire(caller: Caller, order: Order, **changes: Any) -> int:
    application_id = opened(caller, order)
    response = caller.put(application_url(application_id, "questionnaire"), QUESTIONNAIRE | changes)
    assert response.status_code == 200, response.content
    return application_id


def submitted(cw: CreditWorld, caller: Caller, order: Order) -> int:
    cw.connection()
    application_id = with_questionnaire(caller, order)
    response = caller.post(application_url(application_id, "submit"))
    assert response.status_code == 200, response.content
    return application_id


def upload_both(caller: Caller, application_id: int) -> None:
    for kind in ("passport", "signed_questionnaire"):
        response = caller.upload(application_url(application_id, "documents"), kind, PDF)
        assert response.status_code == 201, response.content


def state(application_id: int) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    application = CreditApplication.objects.get(pk=application_id)
    return {
        "row": {
            name: getattr(application, name)
            for name in (
                "stage",
                "status",
                "version",
                "broker_state",
                "submitted_at",
                "chosen_offer_id",
                "credit_amount",
                "rate",
                "term_months",
                "cancel_reason",
                "updated_at",
            )
        },
        "events": CreditApplicationEvent.objects.filter(application=application).count(),
        "submissions": BrokerSubmission.objects.filter(application=application).count(),
        "documents": CreditDocument.objects.filter(application=application).count(),
        "applicant": list(CreditApplicant.objects.filter(application=application).values()),
        "invoices": Invoice.objects.filter(order=application.order).count(),
        "order_products": OrderProduct.objects.filter(order=application.order).count(),
    }


def test_the_questionnaire_takes_the_application_to_stage_2(order: Order, manager: Caller) -> None:
    application_id = opened(manager, order)

    response = manager.put(application_url(application_id, "questionnaire"), QUESTIONNAIRE)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["stage"], body["stage_name"], body["has_questionnaire"]) == (
        "questionnaire",
        "2. Questionnaire",
        True,
    )
    # The application never carries the applicant's data.
    shown = json.dumps(body, ensure_ascii=False)
    assert "4510" not in shown
    assert "Иванов" not in shown
    applicant = CreditApplicant.objects.get(application_id=application_id)
    assert (applicant.passport_number, applicant.passport_last_digits) == ("4510 123456", "3456")
    assert applicant.monthly_income == Decimal("150000.00")
    assert applicant.consented_at is not None
    # Saving again stays in stage 2.
    again = manager.put(application_url(application_id, "questionnaire"), QUESTIONNAIRE)
    assert again.json()["stage"] == "questionnaire"
    assert [e["kind"] for e in again.json()["history"]] == ["stage", "stage", "change"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"passport_number": "4510 12345"}, "passport_number"),
        ({"passport_number": "45AB 123456"}, "passport_number"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"birth_date": "12.04.1985"}, "birth_date"),
        (
            {"birth_date": (timezone.now().date() - timedelta(days=365 * 10)).isoformat()},
            "birth_date",
        ),
        ({"email": "ivanov@"}, "email"),
        ({"email": "not an e-mail"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"passport_division_code": "5100"}, "passport_division_code"),
        ({"passport_issued_on": "1980-01-01"}, "passport_issued_on"),
        ({"monthly_income": "-1"}, "monthly_income"),
        ({"monthly_income": "lots"}, "monthly_income"),
        ({"employment_months": 5000}, "employment_months"),
        ({"dependants": -1}, "dependants"),
        ({"marital_status": "complicated"}, "marital_status"),
        ({"last_name": "x" * 101}, "last_name"),
        ({"registration_address": "a\x00b"}, "registration_address"),
        ({"consented_at": "2026-01-01T00:00:00Z"}, "consented_at"),
        ({"snils": "123"}, "snils"),
    ],
)
def test_bad_questionnaire_fields_are_named_and_nothing_is_saved(
    order: Order, manager: Caller, changes: dict[str, Any], field: str
) -> None:
    application_id = opened(manager, order)
    before = state(application_id)

    response = manager.put(
        application_url(application_id, "questionnaire"), QUESTIONNAIRE | changes
    )

    assert response.status_code == 400, response.content
    assert first_error(response)["field"] == field
    assert state(application_id) == before


def test_submit_queues_the_application_for_the_broker(
    cw: CreditWorld, order: Order, manager: Caller
) -> None:
    cw.connection()
    application_id = with_questionnaire(manager, order)

    response = manager.post(application_url(application_id, "submit"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["stage"], body["broker_state"], body["broker_state_name"]) == (
        "documents",
        "queued",
        "Queued for the broker",
    )
    assert body["submitted_at"] is not None
    assert body["history"][-1]["text"] == "Sent to the credit broker"
    submission = BrokerSubmission.objects.get(application_id=application_id)
    assert (submission.kind, submission.version, submission.status) == ("application", 1, "queued")


def test_submit_refusals_change_nothing(cw: CreditWorld, order: Order, manager: Caller) -> None:
    def submit(application_id: int) -> Any:
        before = state(application_id)
        response = manager.post(application_url(application_id, "submit"))
        assert state(application_id) == before
        return response

    no_questionnaire = opened(manager, order)
    assert refused(submit(no_questionnaire)) == (409, "questionnaire", "questionnaire_missing")

    no_employer = with_questionnaire(manager, order, employer="")
    assert refused(submit(no_employer)) == (400, "employer", "validation_error")

    no_passport = with_questionnaire(manager, order, passport_number=None)
    assert refused(submit(no_passport)) == (400, "passport_number", "validation_error")

    no_consent = with_questionnaire(manager, order, consent_personal_data=False)
    assert refused(submit(no_consent)) == (400, "consent_personal_data", "validation_error")

    complete = with_questionnaire(manager, order)
    assert refused(submit(complete)) == (409, None, "broker_not_configured")

    cw.connection()
    assert manager.post(application_url(complete, "submit")).status_code == 200
    assert refused(submit(complete)) == (409, None, "already_submitted")
    assert BrokerSubmission.objects.count() == 1


def test_documents_after_submission_complete_stage_3(
    cw: CreditWorld, order: Order, manager: Caller
) -> None:
    application_id = submitted(cw, manager, order)
    url = application_url(application_id, "documents")

    passport = manager.upload(url, "passport", PDF, name="паспорт.pdf")

    assert passport.status_code == 201, passport.content
    body = passport.json()
    document = CreditDocument.objects.get()
    assert body == {
        "id": document.pk,
        "kind": "passport",
        "kind_name": "Passport scan",
        "filename": "паспорт.pdf",
        "size": len(PDF),
        "content_type": "application/pdf",
        "version": 1,
        "broker_state": "queued",
        "uploaded_by": {"id": cw.world.manager.pk, "name": cw.world.manager.display_name},
        "created_at": body["created_at"],
    }
    with document.file.open("rb") as handle:
        assert handle.read() == PDF
    assert manager.get(application_url(application_id)).json()["stage"] == "documents"

    signed = manager.upload(url, "signed_questionnaire", PDF)

    assert signed.status_code == 201
    detail = manager.get(application_url(application_id)).json()
    assert (detail["stage"], [d["kind"] for d in detail["documents"]]) == (
        "confirmation",
        ["passport", "signed_questionnaire"],
    )


def test_document_refusals_change_nothing(cw: CreditWorld, order: Order, manager: Caller) -> None:
    early = with_questionnaire(manager, order)
    before = state(early)
    assert refused(manager.upload(application_url(early, "documents"), "passport", PDF)) == (
        409,
        "stage",
        "not_submitted",
    )
    assert state(early) == before

    application_id = submitted(cw, manager, order)
    url = application_url(application_id, "documents")
    before = state(application_id)
    text_file = manager.upload(url, "passport", b"just some text\n", name="passport.txt")
    assert refused(text_file) == (400, "file", "validation_error")
    assert refused(manager.upload(url, "passport", b"", name="empty.pdf"))[:2] == (400, "file")
    assert refused(manager.upload(url, None, PDF))[:2] == (400, "kind")
    assert refused(manager.upload(url, "selfie", PDF))[:2] == (400, "kind")
    no_file = manager.client.post(url, {"kind": "passport"}, **manager.headers)
    assert refused(no_file)[:2] == (400, "file")
    assert state(application_id) == before


# --- offers and confirmation ---------------------------------------------------------------


def make_offer(cw: CreditWorld, application_id: int, **fields: Any) -> CreditOffer:
    fields.setdefault("bank", cw.sovcombank)
    fields.setdefault("status", "approved")
    fields.setdefault("version", 1)
    fields.setdefault("amount", Decimal("1463920.00"))
    fields.setdefault("rate", Decimal("15.50"))
    fields.setdefault("term_months", 36)
    fields.setdefault("monthly_payment", Decimal("51106.44"))
    fields.setdefault("valid_until", timezone.now().date() + timedelta(days=14))
    fields.setdefault("decision_id", f"DEC-{CreditOffer.objects.count() + 1:06d}")
    return CreditOffer.objects.create(application_id=application_id, **fields)


def test_confirm_refusals_change_nothing(cw: CreditWorld, order: Order, manager: Caller) -> None:
    application_id = submitted(cw, manager, order)
    approved = make_offer(cw, application_id)

    def confirm(offer_id: int) -> Any:
        before = state(application_id)
        response = manager.post(application_url(application_id, "confirm"), {"offer_id": offer_id})
        assert state(application_id) == before
        return response

    # Stage 3: the documents are not in yet.
    assert refused(confirm(approved.pk)) == (409, "stage", "documents_missing")
    upload_both(manager, application_id)

    declined = make_offer(
        cw, application_id, bank=cw.alfabank, status="declined", amount=None, rate=None
    )
    expired = make_offer(cw, application_id, valid_until=timezone.now().date() - timedelta(days=2))
    other_application = opened(manager, order)
    foreign = make_offer(cw, other_application)
    assert refused(confirm(declined.pk)) == (409, "offer_id", "offer_declined")
    assert refused(confirm(expired.pk)) == (409, "offer_id", "offer_expired")
    assert refused(confirm(999999)) == (404, "offer_id", "not_found")
    assert refused(confirm(foreign.pk)) == (404, "offer_id", "not_found")
    assert refused(confirm(0))[:2] == (400, "offer_id")

    detail = manager.get(application_url(application_id)).json()
    assert {offer["id"]: offer["can_confirm"] for offer in detail["offers"]} == {
        approved.pk: True,
        declined.pk: False,
        expired.pk: False,
    }

    # A new version of the questionnaire: the old offers answer an earlier version.
    changed = manager.put(
        application_url(application_id, "questionnaire"), QUESTIONNAIRE | {"dependants": 2}
    )
    assert (changed.json()["stage"], changed.json()["version"]) == ("questionnaire", 2)
    assert manager.post(application_url(application_id, "submit")).status_code == 200
    upload_both(manager, application_id)
    detail = manager.get(application_url(application_id)).json()
    assert detail["stage"] == "confirmation"
    assert detail["offers"][0]["is_current"] is False
    assert detail["offers"][0]["can_confirm"] is False
    assert refused(confirm(approved.pk)) == (409, "offer_id", "offer_superseded")


def test_confirming_an_offer_updates_the_order(
    cw: CreditWorld, order: Order, manager: Caller
) -> None:
    application_id = submitted(cw, manager, order)
    upload_both(manager, application_id)
    other_id = opened(manager, order)
    offer = make_offer(
        cw,
        application_id,
        amount=Decimal("1498920.00"),
        rate=Decimal("14.30"),
        monthly_payment=Decimal("51448.21"),
        required_product_codes=["life_insurance", "gap_insurance"],
    )
    offer.required_products.add(cw.life_insurance)
    assert offer.valid_until is not None
    offer_view = manager.get(application_url(application_id)).json()["offers"][0]
    assert offer_view == {
        "id": offer.pk,
        "bank": {"id": cw.sovcombank.pk, "code": "sovcombank", "name": "Совкомбанк"},
        "status": "approved",
        "status_name": "Approved",
        "amount": "1498920.00",
        "rate": "14.30",
        "term_months": 36,
        "monthly_payment": "51448.21",
        "required_products": [
            {"id": cw.life_insurance.pk, "name": "Страхование жизни", "price": "35000.00"}
        ],
        "required_product_codes": ["life_insurance", "gap_insurance"],
        "valid_until": offer.valid_until.isoformat(),
        "comment": "",
        "version": 1,
        "is_current": True,
        "can_confirm": True,
        "created_at": offer_view["created_at"],
    }

    response = manager.post(application_url(application_id, "confirm"), {"offer_id": offer.pk})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["chosen_offer_id"], body["credit_amount"], body["rate"]) == (
        "confirmed",
        offer.pk,
        "1498920.00",
        "14.30",
    )
    assert (body["monthly_payment"], body["total_paid"], body["overpayment"]) == (
        "51448.21",
        "1852135.56",
        "353215.56",
    )
    assert body["confirmed_at"] is not None
    assert body["offers"][0]["can_confirm"] is False
    assert body["order"] == {
        "id": order.pk,
        "version": Order.objects.get(pk=order.pk).version,
        "vehicle_price": "1829900.00",
        "equipment_total": "0.00",
        "discount_total": "0.00",
        "products_total": "35000.00",
        "trade_in_credit": "0.00",
        "total": "1864900.00",
        "invoiced_total": "1498920.00",
        "paid_total": "0.00",
        "balance_due": "1864900.00",
        "payment_status": "unpaid",
    }
    assert OrderProduct.objects.get(order=order, product=cw.life_insurance).mandatory is True
    assert Invoice.objects.get(order=order, kind="credit").amount == Decimal("1498920.00")
    other = manager.get(application_url(other_id)).json()
    assert (other["status"], other["cancel_reason"]) == (
        "cancelled",
        "Another application was confirmed.",
    )
    # A confirmed application is closed.
    again = manager.post(application_url(application_id, "confirm"), {"offer_id": offer.pk})
    assert refused(again) == (409, None, "application_closed")


# --- terms, cancel, resend --------------------------------------------------------------------


def test_changing_the_terms_before_submission_only(
    cw: CreditWorld, order: Order, manager: Caller
) -> None:
    application_id = with_questionnaire(manager, order)
    url = application_url(application_id, "terms")

    changed = manager.put(url, {"rate": "15.5", "down_payment_percent": 20, "term_months": 48})

    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["stage"], body["term_months"], body["monthly_payment"], body["total_paid"]) == (
        "questionnaire",
        48,
        "41113.99",
        "1973471.52",
    )
    assert body["history"][-1]["text"] == "Terms: 1463920.00 for 48 months at 15.50 %"
    before = state(application_id)
    assert refused(manager.put(url, {"rate": "15.5", "term_months": 48}))[:2] == (
        400,
        "down_payment",
    )
    assert state(application_id) == before

    cw.connection()
    assert manager.post(application_url(application_id, "submit")).status_code == 200
    before = state(application_id)
    late = manager.put(url, {"rate": "12", "down_payment_percent": 20, "term_months": 24})
    assert refused(late) == (409, None, "already_submitted")
    assert state(application_id) == before


def test_cancel_needs_a_reason_and_closes_the_application(order: Order, manager: Caller) -> None:
    application_id = opened(manager, order)
    url = application_url(application_id, "cancel")
    before = state(application_id)

    assert refused(manager.post(url, {"reason": "  "})) == (400, "reason", "validation_error")
    assert refused(manager.post(url, {}))[:2] == (400, "reason")
    assert state(application_id) == before

    response = manager.post(url, {"reason": "Клиент передумал"})

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["cancel_reason"]) == (
        "cancelled",
        "Клиент передумал",
    )
    assert refused(manager.post(url, {"reason": "Ещё раз"})) == (409, None, "application_closed")
    questionnaire = manager.put(application_url(application_id, "questionnaire"), QUESTIONNAIRE)
    assert refused(questionnaire) == (409, None, "application_closed")


def test_resend_queues_a_failed_submission_again(
    cw: CreditWorld, order: Order, manager: Caller
) -> None:
    application_id = submitted(cw, manager, order)
    url = application_url(application_id, "resend")
    before = state(application_id)
    assert refused(manager.post(url)) == (409, None, "nothing_to_resend")
    assert state(application_id) == before

    BrokerSubmission.objects.filter(application_id=application_id).update(
        status="failed", attempts=8, last_error="unauthorized"
    )
    CreditApplication.objects.filter(pk=application_id).update(broker_state="failed")

    response = manager.post(url)

    assert response.status_code == 200, response.content
    assert response.json()["broker_state"] == "queued"
    submission = BrokerSubmission.objects.get(application_id=application_id)
    assert (submission.status, submission.attempts) == ("queued", 0)


# --- the questionnaire as each role sees it ------------------------------------------------------


def test_the_questionnaire_in_full_for_the_manager_with_an_access_log(
    client: Any, cw: CreditWorld, order: Order, manager: Caller
) -> None:
    application_id = opened(manager, order)
    url = application_url(application_id, "questionnaire")
    assert manager.get(url).json() == {"masked": False, "questionnaire": None}
    assert PiiAccess.objects.count() == 0  # nothing was read
    manager.put(url, QUESTIONNAIRE)
    consented_at = CreditApplicant.objects.get().consented_at
    assert consented_at is not None

    response = manager.get(url)

    assert response.status_code == 200
    assert response.json() == {
        "masked": False,
        "questionnaire": QUESTIONNAIRE | {"consented_at": consented_at.isoformat()},
    }
    access = PiiAccess.objects.get()
    assert (access.application_id, access.user_id, access.channel) == (
        application_id,
        cw.world.manager.pk,
        "api",
    )
    assert access.fields == [
        "birth_place",
        "passport_number",
        "passport_issued_by",
        "passport_division_code",
        "registration_address",
        "residence_address",
    ]
    lawyer = Caller(
        client, UserFactory.create(roles=["lawyer"], dealer_centers=[cw.world.dealer_center])
    )
    assert lawyer.get(url).json()["questionnaire"]["passport_number"] == "4510 123456"
    assert [(a.user_id, a.channel) for a in PiiAccess.objects.order_by("pk")] == [
        (cw.world.manager.pk, "api"),
        (lawyer.user.pk, "api"),
    ]


def test_the_questionnaire_masked_for_a_head_and_not_logged(
    order: Order, manager: Caller, head: Caller
) -> None:
    application_id = opened(manager, order)
    url = application_url(application_id, "questionnaire")
    manager.put(url, QUESTIONNAIRE)

    response = head.get(url)

    assert response.status_code == 200
    body = response.json()
    assert body["masked"] is True
    questionnaire = body["questionnaire"]
    assert (
        questionnaire["passport_number"],
        questionnaire["passport_division_code"],
        questionnaire["registration_address"],
        questionnaire["residence_address"],
        questionnaire["birth_place"],
        questionnaire["passport_issued_by"],
    ) == ("•••• ••3456", "•••-•01", "•••", "•••", "•••", "•••")
    # Names, dates, phone and income are not secret from colleagues.
    assert (questionnaire["last_name"], questionnaire["birth_date"], questionnaire["phone"]) == (
        "Иванов",
        "1985-04-12",
        "+79001234567",
    )
    shown = json.dumps(body, ensure_ascii=False)
    assert "4510" not in shown
    assert "Ленина" not in shown
    assert "ОВД" not in shown
    assert PiiAccess.objects.count() == 0


# --- scoping and roles ------------------------------------------------------------------------


def test_another_dealer_centers_manager_gets_404_and_changes_nothing(
    client: Any, cw: CreditWorld, order: Order, manager: Caller
) -> None:
    application_id = with_questionnaire(manager, order)
    stranger = Caller(
        client,
        UserFactory.create(roles=["sales_manager"], dealer_centers=[DealerCenterFactory.create()]),
    )
    before = state(application_id)

    answers = {
        "programs": stranger.get(programs_url(order)),
        "list": stranger.get(applications_url(order)),
        "create": create(stranger, order, rate=15, down_payment=0),
        "detail": stranger.get(application_url(application_id)),
        "questionnaire": stranger.get(application_url(application_id, "questionnaire")),
        "put questionnaire": stranger.put(
            application_url(application_id, "questionnaire"), QUESTIONNAIRE
        ),
        "terms": stranger.put(
            application_url(application_id, "terms"), {"rate": 1, "down_payment": 0}
        ),
        "submit": stranger.post(application_url(application_id, "submit")),
        "resend": stranger.post(application_url(application_id, "resend")),
        "documents": stranger.upload(application_url(application_id, "documents"), "passport", PDF),
        "confirm": stranger.post(application_url(application_id, "confirm"), {"offer_id": 1}),
        "cancel": stranger.post(application_url(application_id, "cancel"), {"reason": "x"}),
    }

    assert {name: response.status_code for name, response in answers.items()} == dict.fromkeys(
        answers, 404
    )
    assert state(application_id) == before
    assert CreditApplication.objects.count() == 1
    assert PiiAccess.objects.count() == 0


def test_a_logistician_reads_but_may_not_write(
    client: Any, cw: CreditWorld, order: Order, manager: Caller
) -> None:
    application_id = with_questionnaire(manager, order)
    logistician = Caller(
        client, UserFactory.create(roles=["logistician"], dealer_centers=[cw.world.dealer_center])
    )
    before = state(application_id)

    assert logistician.get(application_url(application_id)).status_code == 200
    assert logistician.get(applications_url(order)).json()["count"] == 1
    assert quotes(logistician, order)[0]["id"] == cw.standard.pk
    masked = logistician.get(application_url(application_id, "questionnaire")).json()
    assert (masked["masked"], masked["questionnaire"]["passport_number"]) == (True, "•••• ••3456")
    writes = {
        "create": create(logistician, order, rate=15, down_payment=0),
        "put questionnaire": logistician.put(
            application_url(application_id, "questionnaire"), QUESTIONNAIRE
        ),
        "terms": logistician.put(application_url(application_id, "terms"), {}),
        "submit": logistician.post(application_url(application_id, "submit")),
        "resend": logistician.post(application_url(application_id, "resend")),
        "documents": logistician.upload(
            application_url(application_id, "documents"), "passport", PDF
        ),
        "confirm": logistician.post(application_url(application_id, "confirm"), {"offer_id": 1}),
        "cancel": logistician.post(application_url(application_id, "cancel"), {"reason": "x"}),
    }

    assert {name: refused(response) for name, response in writes.items()} == dict.fromkeys(
        writes, (403, None, "forbidden")
    )
    assert state(application_id) == before
    assert CreditApplication.objects.count() == 1


def test_a_hostess_may_not_read_credit(client: Any, cw: CreditWorld, order: Order) -> None:
    hostess = Caller(
        client, UserFactory.create(roles=["hostess"], dealer_centers=[cw.world.dealer_center])
    )

    assert hostess.get(programs_url(order)).status_code == 403
    assert (
        hostess.post(CALCULATE, {"credit_amount": 1, "rate": 1, "term_months": 1}).status_code
        == 403
    )


# --- the whole way over HTTP, through the broker simulator ----------------------------------


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
    from django.core.management import call_command

    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0)


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.django_db(transaction=True)
def test_the_whole_way_through_the_api_and_the_broker(
    client: Any, broker: Any, live_server: Any, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    cw = credit_world()
    cw.connection(broker.url)
    order = cw.world.order()
    manager = Caller(client, cw.world.manager)

    # 1. Calculation from the Совкомбанк program; the bank finances the life insurance.
    created = create(
        manager, order, program_id=cw.standard.pk, down_payment="279900.00", casco=True
    )
    assert created.status_code == 201, created.content
    application_id = created.json()["id"]
    assert (created.json()["credit_amount"], created.json()["monthly_payment"]) == (
        "1585000.00",
        "54402.78",
    )
    # 2. The questionnaire; 3. to the banks.
    assert (
        manager.put(application_url(application_id, "questionnaire"), QUESTIONNAIRE).json()["stage"]
        == "questionnaire"
    )
    submitted_now = manager.post(application_url(application_id, "submit")).json()
    assert (submitted_now["stage"], submitted_now["broker_state"]) == ("documents", "queued")

    run_worker()  # sends the application
    assert len(broker.applications) == 1
    sent = manager.get(application_url(application_id)).json()
    assert sent["broker_state"] == "sent"
    reference = sent["broker_reference"]
    assert reference.startswith("EC-")
    wait_for(lambda: BrokerCallback.objects.count() == 3)
    run_worker()  # applies the banks' decisions

    # A replayed callback is acknowledged as a duplicate and adds no offer; one signed
    # with a wrong secret is refused and stores nothing.
    assert broker.resend_last(reference) == 200
    assert json.loads(broker.callbacks_sent[-1].answer) == {"status": "duplicate"}
    assert broker.send_callback(reference, secret="not-the-secret") == 403
    run_worker()
    assert BrokerCallback.objects.count() == 3
    assert CreditOffer.objects.count() == 3

    detail = manager.get(application_url(application_id)).json()
    offers = {offer["bank"]["code"]: offer for offer in detail["offers"]}
    assert {
        code: (o["status"], o["amount"], o["rate"], o["monthly_payment"], o["can_confirm"])
        for code, o in offers.items()
    } == {
        "sovcombank": ("approved", "1585000.00", "14.30", "54402.78", False),
        "alfabank": ("counter_offer", "1426500.00", "16.30", "50363.04", False),
        "tbank": ("approved", "1585000.00", "15.30", "55177.69", False),
    }
    assert offers["sovcombank"]["required_products"] == [
        {"id": cw.life_insurance.pk, "name": "Страхование жизни", "price": "35000.00"}
    ]
    assert offers["tbank"]["required_product_codes"] == ["gap_insurance"]
    assert offers["tbank"]["required_products"] == []

    # 3. The documents, forwarded to the broker; then stage 4.
    upload_both(manager, application_id)
    run_worker()
    assert len(broker.documents) == 2
    detail = manager.get(application_url(application_id)).json()
    assert detail["stage"] == "confirmation"
    assert [d["broker_state"] for d in detail["documents"]] == ["sent", "sent"]
    assert {o["bank"]["code"]: o["can_confirm"] for o in detail["offers"]} == {
        "sovcombank": True,
        "alfabank": True,
        "tbank": True,
    }

    # 4. Confirm Совкомбанк: the order gets the life insurance and a credit invoice.
    confirmed = manager.post(
        application_url(application_id, "confirm"), {"offer_id": offers["sovcombank"]["id"]}
    )

    assert confirmed.status_code == 200, confirmed.content
    body = confirmed.json()
    assert (body["status"], body["chosen_offer_id"]) == ("confirmed", offers["sovcombank"]["id"])
    assert (
        body["order"]["products_total"],
        body["order"]["total"],
        body["order"]["invoiced_total"],
        body["order"]["balance_due"],
    ) == ("35000.00", "1864900.00", "1585000.00", "1864900.00")
    assert OrderProduct.objects.get(order=order, product=cw.life_insurance).mandatory is True
    assert Invoice.objects.get(order=order, kind="credit").amount == Decimal("1585000.00")
