"""The «Кредитные заявки» page: the credit applications of every order the user sees, with
filters, a summary, pagination, a bounded number of queries and the navigation entry."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autocrm.accounts.middleware import SESSION_KEY
from autocrm.accounts.tests.factories import UserFactory
from autocrm.finance.credit_services import (
    credit_application_cancel,
    credit_application_create,
    credit_application_submit,
    credit_document_upload,
    credit_offer_confirm,
    credit_questionnaire_save,
)
from autocrm.finance.models import Bank, CreditApplication, CreditOffer
from autocrm.finance.tests.credit_factories import QUESTIONNAIRE, CreditWorld, credit_world
from autocrm.orders.models import Order
from autocrm.orders.tests.factories import OrderWorld, order_world

pytestmark = pytest.mark.django_db

LIST = "/finance/credit/"
MSK = ZoneInfo("Europe/Moscow")
# The shell's own (session, user, roles, permissions, the switcher's dealer centers) and
# the page's four: the summary, the banks and the dealer centers of the filters, the rows.
QUERY_BUDGET = 12
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _english(client: Any, settings: Any) -> None:
    # Texts are asserted in English, whatever Russian the translators add.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def text(html: str) -> str:
    """The page's text: tags dropped, spaces (and no-break spaces) collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&nbsp;", " ").split())


def row_ids(response: Any) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="credit-row-(\d+)"', response.content.decode())]


def row_text(response: Any, application: CreditApplication) -> str:
    html = response.content.decode()
    row = html.split(f'<tr id="credit-row-{application.pk}"')[1].split("</tr>")[0]
    return text(row.split(">", 1)[1])


def summary(response: Any) -> str:
    html = response.content.decode()
    return text(html.split('id="credit-summary">')[1].split("</p>")[0])


@dataclass
class Book:
    """Four applications in two dealer centers, oldest first:

    A — Мурманск, order 1, stage 1, in progress (created 03.03.2025);
    D — Мурманск, order 1, cancelled in stage 1 (10.03.2025);
    B — Мурманск, order 2, confirmed: Альфа-Банк's offer chosen, Совкомбанк declined (17.03);
    C — Казань, order 3, confirmed: Совкомбанк's offer (24.03.2025, 23:30 Moscow time).
    """

    cw: CreditWorld
    kazan: OrderWorld
    order1: Order
    order2: Order
    order3: Order
    a: CreditApplication
    b: CreditApplication
    c: CreditApplication
    d: CreditApplication
    vtb: Bank

    @property
    def murmansk(self) -> OrderWorld:
        return self.cw.world


def _created(application: CreditApplication, moment: datetime) -> None:
    CreditApplication.objects.filter(pk=application.pk).update(created_at=moment)


def _confirmed(
    cw: CreditWorld, world: OrderWorld, order: Order, offers: list[dict[str, Any]]
) -> CreditApplication:
    """Through the services: calculated, questionnaire sent, documents in, the first of
    ``offers`` confirmed."""
    application = credit_application_create(
        actor=world.manager,
        order=order,
        program=cw.standard,
        down_payment=Decimal("279900.00"),
        term_months=36,
        casco=True,
    )
    credit_questionnaire_save(actor=world.manager, application=application, data=QUESTIONNAIRE)
    application = credit_application_submit(actor=world.manager, application=application)
    for kind in ("passport", "signed_questionnaire"):
        credit_document_upload(
            actor=world.manager,
            application=application,
            kind=kind,
            upload=io.BytesIO(PDF),
            filename=f"{kind}.pdf",
        )
    application.refresh_from_db()
    made = [
        CreditOffer.objects.create(
            application=application,
            decision_id=f"decision-{CreditOffer.objects.count() + 1}",
            version=application.version,
            **fields,
        )
        for fields in offers
    ]
    return credit_offer_confirm(actor=world.manager, application=application, offer_id=made[0].pk)


@pytest.fixture
def book() -> Book:
    cw = credit_world()
    kazan = order_world(city_name="Казань")
    cw.connection()
    murmansk = cw.world
    murmansk.client.last_name, murmansk.client.first_name = "Смирнов", "Алексей"
    murmansk.client.search_name = "смирнов алексей"
    murmansk.client.save()
    kazan.client.last_name, kazan.client.first_name = "Галиев", "Рустам"
    kazan.client.search_name = "галиев рустам"
    kazan.client.save()
    vtb = Bank.objects.create(name="ВТБ", code="vtb")

    order1 = murmansk.order()
    order2 = murmansk.order(vehicle=murmansk.another_car())
    order3 = kazan.order()
    a = credit_application_create(
        actor=murmansk.manager,
        order=order1,
        program=cw.standard,
        down_payment=Decimal("279900.00"),
        term_months=36,
        casco=True,
    )
    d = credit_application_create(
        actor=murmansk.manager,
        order=order1,
        rate=Decimal("12.50"),
        down_payment=Decimal("829900.00"),
        term_months=60,
    )
    d = credit_application_cancel(actor=murmansk.manager, application=d, reason="Клиент передумал")
    b = _confirmed(
        cw,
        murmansk,
        order2,
        [
            {
                "bank": cw.alfabank,
                "status": "approved",
                "amount": Decimal("1500000.50"),
                "rate": Decimal("11.90"),
                "term_months": 48,
                "monthly_payment": Decimal("39456.12"),
            },
            {"bank": cw.sovcombank, "status": "declined"},
        ],
    )
    c = _confirmed(
        cw,
        kazan,
        order3,
        [
            {
                "bank": cw.sovcombank,
                "status": "approved",
                "amount": Decimal("1200000.00"),
                "rate": Decimal("13.50"),
                "term_months": 60,
                "monthly_payment": Decimal("27611.00"),
            }
        ],
    )
    _created(a, datetime(2025, 3, 3, 9, 0, tzinfo=MSK))
    _created(d, datetime(2025, 3, 10, 12, 0, tzinfo=MSK))
    _created(b, datetime(2025, 3, 17, 15, 0, tzinfo=MSK))
    _created(c, datetime(2025, 3, 24, 23, 30, tzinfo=MSK))
    return Book(cw, kazan, order1, order2, order3, a, b, c, d, vtb)


def management() -> Any:
    return UserFactory.create(roles=["management"])


# --------------------------------------------------------------------------- scoping


def test_management_sees_every_application_newest_first(client: Any, book: Book) -> None:
    client.force_login(management())

    response = client.get(LIST)

    assert response.status_code == 200
    assert row_ids(response) == [book.c.pk, book.b.pk, book.d.pk, book.a.pk]
    assert summary(response) == "4 applications 2 confirmed credits for 2 700 000,50 ₽"
    html = response.content.decode()
    assert 'id="credit-count" data-count="4"' in html
    assert 'data-count="2" data-amount="2700000.50"' in html


def test_a_manager_of_another_dealer_center_sees_none_of_ours(client: Any, book: Book) -> None:
    client.force_login(book.kazan.manager)

    response = client.get(LIST)

    assert response.status_code == 200
    assert row_ids(response) == [book.c.pk]
    assert summary(response) == "1 application 1 confirmed credit for 1 200 000 ₽"
    assert "Смирнов" not in response.content.decode()


def test_a_head_sees_the_applications_of_his_dealer_centers(client: Any, book: Book) -> None:
    client.force_login(book.murmansk.head)

    response = client.get(LIST)

    assert row_ids(response) == [book.b.pk, book.d.pk, book.a.pk]
    assert summary(response) == "3 applications 1 confirmed credit for 1 500 000,50 ₽"

    head_of_both = UserFactory.create(
        roles=["head"], dealer_centers=[book.murmansk.dealer_center, book.kazan.dealer_center]
    )
    client.force_login(head_of_both)

    assert row_ids(client.get(LIST)) == [book.c.pk, book.b.pk, book.d.pk, book.a.pk]


def test_the_dealer_center_switcher_narrows_the_list(client: Any, book: Book) -> None:
    boss = management()
    client.force_login(boss)
    session = client.session
    session[SESSION_KEY] = book.kazan.dealer_center.pk
    session.save()

    response = client.get(LIST)

    assert row_ids(response) == [book.c.pk]


@pytest.mark.parametrize("role", ["hostess", "operator"])
def test_roles_without_orders_get_a_403_and_no_menu_entry(
    client: Any, book: Book, role: str
) -> None:
    user = UserFactory.create(roles=[role], dealer_centers=[book.murmansk.dealer_center])
    client.force_login(user)

    response = client.get(LIST)

    assert response.status_code == 403
    assert "credit" not in [item["key"] for item in client.get("/").context["nav_items"]]


def test_an_anonymous_visitor_is_sent_to_sign_in(client: Any) -> None:
    response = client.get(LIST)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={LIST}"


def test_the_page_is_a_module_of_the_navigation_right_after_orders(client: Any, book: Book) -> None:
    lawyer = UserFactory.create(roles=["lawyer"], dealer_centers=[book.murmansk.dealer_center])
    client.force_login(lawyer)

    response = client.get(LIST)

    assert response.status_code == 200
    keys = [item["key"] for item in response.context["nav_items"]]
    assert keys[keys.index("orders") + 1] == "credit"
    credit = next(item for item in response.context["nav_items"] if item["key"] == "credit")
    assert (str(credit["label"]), credit["url"], credit["active"]) == (
        "Credit applications",
        LIST,
        True,
    )
    assert [item["key"] for item in response.context["nav_items"] if item["active"]] == ["credit"]
    assert row_ids(response) == [book.b.pk, book.d.pk, book.a.pk]
    assert "<h1" in response.content.decode()
    assert ">Credit applications</h1>" in response.content.decode()


# --------------------------------------------------------------------------- the rows


def test_the_rows_show_every_column_formatted(client: Any, book: Book) -> None:
    client.force_login(management())

    response = client.get(LIST)

    html = response.content.decode()
    head = html.split('id="credit-list-table">')[1].split("</thead>")[0]
    assert [text(cell) for cell in re.findall(r"<th [^>]*>(.*?)</th>", head)] == [
        "№ Created",
        "Order Client, Dealer center",
        "Stage Status, Broker",
        "Credit amount, RUB",
        "Down payment, RUB",
        "Credit offer",
        "Credit rate",
        "Credit term, months",
        "Monthly payment, RUB",
    ]
    murmansk = book.murmansk.dealer_center.name
    # 1 829 900 − 279 900 + 35 000 of life insurance the bank finances, 14.3 %, 36 months.
    assert row_text(response, book.a) == (
        f"{book.a.pk} 03.03.2025 {book.order1.number} Смирнов Алексей {murmansk} "
        "1. Calculation In progress Not sent 1 585 000 ₽ 279 900 ₽ No offer chosen 14.30 % 36 "
        "54 402,78 ₽"
    )
    # Confirmed: the chosen offer's amount, rate, term and payment.
    assert row_text(response, book.b) == (
        f"{book.b.pk} 17.03.2025 {book.order2.number} Смирнов Алексей {murmansk} "
        "4. Offer confirmation Offer confirmed Queued for the broker 1 500 000,50 ₽ 279 900 ₽ "
        "Bank Альфа-Банк, credit amount: 1 500 000,50 ₽ 11.90 % 48 39 456,12 ₽"
    )
    assert row_text(response, book.d).startswith(
        f"{book.d.pk} 10.03.2025 {book.order1.number} Смирнов Алексей {murmansk} "
        "1. Calculation Cancelled Not sent 1 000 000 ₽ 829 900 ₽ No offer chosen 12.50 % 60 "
    )
    # 23:30 in Moscow is still the 24th.
    assert row_text(response, book.c) == (
        f"{book.c.pk} 24.03.2025 {book.order3.number} Галиев Рустам "
        f"{book.kazan.dealer_center.name} 4. Offer confirmation Offer confirmed "
        "Queued for the broker 1 200 000 ₽ 279 900 ₽ Bank Совкомбанк, credit amount: 1 200 000 ₽ "
        "13.50 % 60 27 611 ₽"
    )
    # Each row opens the wizard; the order's number opens the card at its credit tab.
    assert f'href="/finance/credit/{book.a.pk}/" class="fw-semibold"' in html
    assert f'href="/orders/{book.order1.pk}/#credit" data-open-order="{book.order1.pk}"' in html
    assert 'data-credit-amount="1500000.50"' in html


def test_an_open_application_counts_the_offers_to_its_current_version(
    client: Any, book: Book
) -> None:
    for bank in (book.cw.sovcombank, book.cw.alfabank):
        CreditOffer.objects.create(
            application=book.a,
            decision_id=f"a-{bank.code}",
            version=1,
            bank=bank,
            status="approved",
            amount=Decimal("1585000.00"),
            rate=Decimal("14.30"),
            term_months=36,
            monthly_payment=Decimal("54402.78"),
        )
    CreditOffer.objects.create(
        application=book.a, decision_id="a-old", version=0, bank=book.vtb, status="declined"
    )
    client.force_login(book.murmansk.manager)

    response = client.get(LIST)

    assert "No offer chosen 2 offers" in row_text(response, book.a)
    assert 'data-offer-count="2"' in response.content.decode()


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("params", "expected", "line"),
    [
        ({"stage": "confirmation"}, "cb", "2 applications 2 confirmed credits for 2 700 000,50 ₽"),
        ({"stage": "calculation"}, "da", "2 applications 0 confirmed credits for 0 ₽"),
        ({"status": "confirmed"}, "cb", "2 applications 2 confirmed credits for 2 700 000,50 ₽"),
        ({"status": "open"}, "a", "1 application 0 confirmed credits for 0 ₽"),
        ({"status": "cancelled"}, "d", "1 application 0 confirmed credits for 0 ₽"),
        ({"created_from": "2025-03-10", "created_to": "2025-03-17"}, "bd", None),
        ({"created_to": "2025-03-24"}, "cbda", None),
        ({"created_from": "2025-03-25"}, "", "0 applications 0 confirmed credits for 0 ₽"),
        ({"q": "Смирнов"}, "bda", None),
        ({"q": "галиев рустам"}, "c", None),
        ({"q": "Смирнов Рустам"}, "", None),
        ({"stage": "confirmation", "q": "смирнов"}, "b", None),
    ],
)
def test_each_filter_gives_exactly_its_applications(
    client: Any, book: Book, params: dict[str, str], expected: str, line: str | None
) -> None:
    client.force_login(management())

    response = client.get(LIST, params)

    assert response.status_code == 200
    assert row_ids(response) == [getattr(book, letter).pk for letter in expected]
    if line is not None:
        assert summary(response) == line


def test_the_bank_filter_takes_any_offer_of_the_bank(client: Any, book: Book) -> None:
    client.force_login(management())

    sovcombank = client.get(LIST, {"bank": book.cw.sovcombank.pk})
    alfabank = client.get(LIST, {"bank": book.cw.alfabank.pk})
    vtb = client.get(LIST, {"bank": book.vtb.pk})

    # B chose Альфа-Банк, but Совкомбанк answered it too (declined).
    assert row_ids(sovcombank) == [book.c.pk, book.b.pk]
    assert summary(sovcombank) == "2 applications 2 confirmed credits for 2 700 000,50 ₽"
    assert row_ids(alfabank) == [book.b.pk]
    assert summary(alfabank) == "1 application 1 confirmed credit for 1 500 000,50 ₽"
    assert row_ids(vtb) == []
    assert "No credit applications match." in vtb.content.decode()


def test_the_dealer_center_filter_offers_only_visible_dealer_centers(
    client: Any, book: Book
) -> None:
    client.force_login(management())
    kazan = client.get(LIST, {"dealer_center": book.kazan.dealer_center.pk})
    assert row_ids(kazan) == [book.c.pk]
    murmansk = client.get(LIST, {"dealer_center": book.murmansk.dealer_center.pk})
    assert row_ids(murmansk) == [book.b.pk, book.d.pk, book.a.pk]

    client.force_login(book.murmansk.manager)
    page = client.get(LIST).content.decode()
    options = page.split('name="dealer_center"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\d*)"', options) == [
        "",
        str(book.murmansk.dealer_center.pk),
    ]

    refused = client.get(LIST, {"dealer_center": book.kazan.dealer_center.pk})

    assert refused.status_code == 400
    assert 'data-field="dealer_center"' in refused.content.decode()
    assert book.c.pk not in row_ids(refused)


def test_the_order_number_finds_its_applications(client: Any, book: Book) -> None:
    client.force_login(management())

    padded = client.get(LIST, {"q": book.order1.number})
    plain = client.get(LIST, {"q": str(book.order2.pk)})
    with_sign = client.get(LIST, {"q": f"№ {book.order3.number}"})
    unknown = client.get(LIST, {"q": "999999"})
    huge = client.get(LIST, {"q": "9" * 30})

    assert row_ids(padded) == [book.d.pk, book.a.pk]
    assert row_ids(plain) == [book.b.pk]
    assert row_ids(with_sign) == [book.c.pk]
    assert row_ids(unknown) == []
    assert (huge.status_code, row_ids(huge)) == (200, [])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"created_from": "2025-03-20", "created_to": "2025-03-10"}, "created_to"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"stage": "approved"}, "stage"),
        ({"status": "sent"}, "status"),
        ({"bank": "abc"}, "bank"),
        ({"bank": "999999"}, "bank"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(
    client: Any, book: Book, params: dict[str, str], field: str
) -> None:
    client.force_login(management())

    response = client.get(LIST, params)

    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()


def test_the_empty_list_says_so(client: Any) -> None:
    client.force_login(management())

    response = client.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="credit-empty">No credit applications yet.<' in html
    assert summary(response) == "0 applications 0 confirmed credits for 0 ₽"
    assert 'id="credit-list-table"' not in html


# --------------------------------------------------------------------------- pages, queries


def test_fifty_rows_a_page_and_the_filters_kept_across_pages(client: Any, book: Book) -> None:
    murmansk = book.murmansk
    made = [
        credit_application_create(
            actor=murmansk.manager,
            order=book.order1,
            rate=Decimal("15.00"),
            down_payment=Decimal("829900.00"),
            term_months=12 + number,
        )
        for number in range(48)
    ]
    client.force_login(management())

    first = client.get(LIST, {"dealer_center": murmansk.dealer_center.pk})
    second = client.get(LIST, {"dealer_center": murmansk.dealer_center.pk, "page": "2"})

    # 48 new ones (created now, newest first) and B, D, A of March: 51.
    assert summary(first) == "51 applications 1 confirmed credit for 1 500 000,50 ₽"
    assert row_ids(first) == [application.pk for application in reversed(made)] + [
        book.b.pk,
        book.d.pk,
    ]
    assert row_ids(second) == [book.a.pk]
    query = f"dealer_center={murmansk.dealer_center.pk}"
    assert f'href="?{query}&amp;page=2">Next<' in first.content.decode()
    assert f'href="?{query}&amp;page=1">Previous<' in second.content.decode()
    assert ">2 / 2<" in second.content.decode()


def test_the_page_costs_the_same_queries_for_more_rows(
    client: Any, book: Book, django_assert_max_num_queries: Any
) -> None:
    client.force_login(management())
    client.get(LIST)  # the session and the language settle
    with CaptureQueriesContext(connection) as four_rows:
        assert len(row_ids(client.get(LIST))) == 4
    with CaptureQueriesContext(connection) as two_rows:
        assert len(row_ids(client.get(LIST, {"bank": book.cw.sovcombank.pk}))) == 2
    for number in range(6):
        application = credit_application_create(
            actor=book.murmansk.manager,
            order=book.order1,
            rate=Decimal("15.00"),
            down_payment=Decimal("829900.00"),
            term_months=24 + number,
        )
        CreditOffer.objects.create(
            application=application,
            decision_id=f"extra-{number}",
            version=1,
            bank=book.vtb,
            status="declined",
        )

    with django_assert_max_num_queries(QUERY_BUDGET), CaptureQueriesContext(connection) as ten_rows:
        assert len(row_ids(client.get(LIST))) == 10
    with CaptureQueriesContext(connection) as six_rows:
        assert len(row_ids(client.get(LIST, {"bank": book.vtb.pk}))) == 6

    assert len(ten_rows) == len(four_rows)
    assert len(six_rows) == len(two_rows)
