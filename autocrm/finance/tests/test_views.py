"""The order card's tabs of financial products (htmx partials), the catalog page and the
demo's seed products."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from autocrm.accounts.tests.factories import UserFactory
from autocrm.finance.demo import products_install_seed
from autocrm.finance.models import FinancialProduct, OrderProduct
from autocrm.finance.services import product_add
from autocrm.finance.tests.factories import SeedProducts, seed_products
from autocrm.orders.models import Order
from autocrm.orders.services.orders import order_transition
from autocrm.orders.tests.factories import OrderWorld, order_world

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _english(client: Any, settings: Any) -> None:
    # Texts are asserted in English, whatever Russian the translators add.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


@pytest.fixture
def products() -> SeedProducts:
    return seed_products()


def tab(order: Order, mandatory: int) -> str:
    return reverse("finance:order_products_tab", args=[order.pk]) + f"?mandatory={mandatory}"


def add_url(order: Order) -> str:
    return reverse("finance:order_product_add", args=[order.pk])


def remove_url(order: Order, product: FinancialProduct) -> str:
    return reverse("finance:order_product_remove", args=[order.pk, product.pk])


def test_the_mandatory_tab_shows_the_seeds_columns_and_offers_its_group(
    client: Any, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    product_add(actor=world.manager, order=order, product=products.assistance)
    client.force_login(world.manager)

    response = client.get(tab(order, 1), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    for heading in (
        "Financial product",
        "Term",
        "Price, RUB",
        "Commission (incl. VAT), RUB",
        "Counterparty",
    ):
        assert f">{heading}</th>" in html
    assert f'data-product="{products.assistance.pk}"' in html
    assert "12 mo." in html
    assert "49 900 ₽" in html
    assert "43 146 ₽" in html
    assert "ООО «Помощь на дорогах»" in html
    assert 'hx-trigger="orderChanged from:body"' in html
    # The picker offers the other mandatory product only.
    assert f'<option value="{products.bank.pk}">' in html
    assert f'<option value="{products.legal.pk}">' not in html
    assert f'<option value="{products.assistance.pk}">' not in html


def test_the_voluntary_tab_lists_its_group(
    client: Any, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    product_add(actor=world.manager, order=order, product=products.legal)
    product_add(actor=world.manager, order=order, product=products.bank)
    client.force_login(world.manager)

    html = client.get(tab(order, 0), **HTMX).content.decode()

    assert "Юр. помощь" in html
    assert "180 000 ₽" in html
    assert "152 000 ₽" in html
    assert f'data-product="{products.bank.pk}"' not in html
    assert "No more products of this group to add." in html


def test_adding_through_htmx_refreshes_the_tab_and_signals_the_order(
    client: Any, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    client.force_login(world.manager)

    response = client.post(
        add_url(order), {"product_id": products.bank.pk, "mandatory": "1"}, **HTMX
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "orderChanged"
    html = response.content.decode()
    assert f'data-product="{products.bank.pk}"' in html
    assert "19 900 ₽" in html
    assert "—" in html  # no commission
    order.refresh_from_db()
    assert (order.products_total, order.total) == (Decimal("19900.00"), Decimal("1849800.00"))


def test_a_refused_addition_answers_its_status_with_the_reason(
    client: Any, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    product_add(actor=world.manager, order=order, product=products.bank)
    client.force_login(world.manager)

    twice = client.post(add_url(order), {"product_id": products.bank.pk, "mandatory": "1"}, **HTMX)
    nothing = client.post(add_url(order), {"product_id": "", "mandatory": "1"}, **HTMX)
    plain = client.post(add_url(order), {"product_id": products.bank.pk, "mandatory": "1"})

    assert twice.status_code == 409
    assert twice["Content-Type"].startswith("text/plain")
    assert "already in the order" in twice.content.decode()
    assert "HX-Trigger" not in twice
    assert nothing.status_code == 400
    assert plain.status_code == 302  # without htmx: back with a message
    assert OrderProduct.objects.count() == 1


def test_removal_through_htmx(client: Any, world: OrderWorld, products: SeedProducts) -> None:
    order = world.order()
    product_add(actor=world.manager, order=order, product=products.legal)
    client.force_login(world.manager)

    response = client.post(remove_url(order, products.legal), {"mandatory": "0"}, **HTMX)

    assert response.status_code == 200
    assert response["HX-Trigger"] == "orderChanged"
    assert "No products of this group in the order." in response.content.decode()
    order.refresh_from_db()
    assert (order.products_total, order.total) == (Decimal("0.00"), Decimal("1829900.00"))


def test_without_htmx_a_change_redirects_back(
    client: Any, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    client.force_login(world.manager)

    response = client.post(
        add_url(order),
        {"product_id": products.legal.pk, "mandatory": "0", "next": "/orders/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    outside = client.post(
        remove_url(order, products.legal), {"mandatory": "0", "next": "https://evil.example/"}
    )
    assert outside["Location"] == tab(order, 0)


def test_who_sees_and_who_changes_the_tabs(
    client: Any, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    service = UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    hostess = UserFactory.create(roles=["hostess"], dealer_centers=[world.dealer_center])

    client.force_login(order_world().manager)
    assert client.get(tab(order, 1)).status_code == 404
    assert client.post(add_url(order), {"product_id": products.bank.pk}).status_code == 404
    client.force_login(hostess)
    assert client.get(tab(order, 1)).status_code == 403
    client.force_login(service)
    html = client.get(tab(order, 1)).content.decode()
    assert "finance-product-picker" not in html
    assert client.post(add_url(order), {"product_id": products.bank.pk}).status_code == 403
    client.force_login(world.manager)
    assert client.get(tab(order, 7)).status_code == 400
    assert client.get(reverse("finance:order_products_tab", args=[999_999])).status_code == 404
    assert not OrderProduct.objects.exists()


def test_a_closed_order_shows_its_products_without_changes(
    client: Any, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    product_add(actor=world.manager, order=order, product=products.bank)
    order_transition(actor=world.manager, order=order, to="cancelled", reason="x")
    client.force_login(world.manager)

    html = client.get(tab(order, 1)).content.decode()

    assert "Продукты банка" in html
    assert "finance-product-picker" not in html
    assert "data-remove-product" not in html
    assert "The order can no longer be changed." in html


# --- the catalog page -------------------------------------------------------------------------


def test_the_catalog_page_and_its_form(
    client: Any, world: OrderWorld, products: SeedProducts
) -> None:
    client.force_login(world.manager)
    page = client.get(reverse("finance:product_catalog"))
    assert page.status_code == 200
    assert "Юр. помощь" in page.content.decode()
    assert 'id="product-new"' not in page.content.decode()
    assert client.post(reverse("finance:product_new"), {"name": "X"}).status_code == 403

    client.force_login(world.head)
    assert 'id="product-new"' in client.get(reverse("finance:product_catalog")).content.decode()
    created = client.post(
        reverse("finance:product_new"),
        {
            "name": "КАСКО",
            "kind": "insurance",
            "term_months": "12",
            "price": "85 000,50",
            "commission": "",
        },
    )
    assert created.status_code == 302
    product = FinancialProduct.objects.get(name="КАСКО")
    assert (product.price, product.commission, product.term_months) == (
        Decimal("85000.50"),
        Decimal("0.00"),
        12,
    )
    refused = client.post(
        reverse("finance:product_new"), {"name": "GAP", "kind": "insurance", "price": "abc"}
    )
    assert refused.status_code == 400
    assert "Enter an amount of 0 or more." in refused.content.decode()
    toggled = client.post(reverse("finance:product_toggle", args=[product.pk]))
    assert toggled.status_code == 302
    product.refresh_from_db()
    assert not product.is_active


# --- demo ------------------------------------------------------------------------------------


def test_the_demo_installs_the_seed_products_once() -> None:
    first = products_install_seed()
    second = products_install_seed()

    assert (first["financial_products_new"], second["financial_products_new"]) == (3, 0)
    rows = {
        product.name: (
            product.term_months,
            product.price,
            product.commission,
            product.mandatory_for_credit,
        )
        for product in FinancialProduct.objects.all()
    }
    assert rows == {
        "САР": (12, Decimal("49900.00"), Decimal("43146.00"), True),
        "Продукты банка": (0, Decimal("19900.00"), Decimal("0.00"), True),
        "Юр. помощь": (0, Decimal("180000.00"), Decimal("152000.00"), False),
    }
