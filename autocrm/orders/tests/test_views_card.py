"""The order screens: the list, a new order from the vehicle card or from the importer, the
order card (header, totals, status moves, price, tabs, history), the client card's panel
and the vehicle card's order button."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client as HttpClient

from autocrm.accounts.tests.factories import UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.inventory.models import ReservationStatus
from autocrm.orders.models import (
    ImporterOrderStatus,
    Order,
    OrderEvent,
    OrderKind,
    OrderStatus,
    PaymentStatus,
)
from autocrm.orders.services.orders import order_transition
from autocrm.orders.tests.factories import SEED_PRICE, OrderWorld, order_world
from autocrm.sales.tests.factories import default_pipelines, make_deal

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


@pytest.fixture
def other() -> OrderWorld:
    """A second dealer center (Архангельск) with its own car, manager and client."""
    return order_world(city_name="Архангельск")


def logged_in(client: HttpClient, user: Any) -> HttpClient:
    client.force_login(user)
    return client


def text_of(html: str, element_id: str) -> str:
    """The text inside the element with this id (tags dropped, spaces collapsed)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(dd|span|div|p|a|td|button)>', html, re.S)
    assert match, f"#{element_id} not found"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def tab_keys(html: str) -> list[str]:
    return re.findall(r'<button class="nav-link[^"]*" id="tab-([a-z-]+)"', html)


# --------------------------------------------------------------------------- the list


def test_the_list_shows_the_orders_of_the_managers_dealer_center_only(
    client: HttpClient, world: OrderWorld, other: OrderWorld
) -> None:
    mine = world.order()
    theirs = other.order()
    logged_in(client, world.manager)

    response = client.get("/orders/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="order-row-{mine.pk}"' in html
    assert f'id="order-row-{theirs.pk}"' not in html
    assert 'data-count="1"' in html
    assert "1 829 900 ₽" in html


def test_the_list_filters_by_status_payment_client_and_vin(
    client: HttpClient, world: OrderWorld
) -> None:
    first = world.order()
    second_client = ClientFactory.create(
        dealer_center=world.dealer_center, last_name="Бродникова", first_name="Екатерина"
    )
    second = world.order(client=second_client, vehicle=world.another_car(vin="XTA21099012345678"))
    order_transition(actor=world.manager, order=second, to=OrderStatus.CONFIRMED)
    logged_in(client, world.manager)

    def rows(query: str) -> set[int]:
        response = client.get(f"/orders/?{query}")
        assert response.status_code == 200
        return {int(pk) for pk in re.findall(r'id="order-row-(\d+)"', response.content.decode())}

    assert rows("status=confirmed") == {second.pk}
    assert rows("status=draft") == {first.pk}
    assert rows("payment_status=unpaid") == {first.pk, second.pk}
    assert rows("payment_status=paid") == set()
    assert rows("q=бродникова") == {second.pk}
    assert rows("q=012345678") == {second.pk}
    assert rows(f"q={second.pk}") == {second.pk}
    assert rows(f"q={second.number}") == {second.pk}
    assert rows(f"manager={world.manager.pk}&dealer_center={world.dealer_center.pk}") == {
        first.pk,
        second.pk,
    }


def test_a_bad_filter_answers_400_naming_the_field(client: HttpClient, world: OrderWorld) -> None:
    logged_in(client, world.manager)

    response = client.get("/orders/?created_from=2026-02-10&created_to=2026-02-01&status=nope")

    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-field="created_to"' in html
    assert 'data-field="status"' in html


def test_roles_without_orders_are_refused_the_list(client: HttpClient, world: OrderWorld) -> None:
    hostess = UserFactory.create(roles=["hostess"], dealer_centers=[world.dealer_center])
    logged_in(client, hostess)

    assert client.get("/orders/").status_code == 403


# --------------------------------------------------------------------------- the card


def test_the_card_shows_header_totals_and_the_seed_tabs_in_order(
    client: HttpClient, world: OrderWorld
) -> None:
    order = world.order()
    logged_in(client, world.manager)

    response = client.get(f"/orders/{order.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert text_of(html, "order-status") == "Черновик" or 'data-status="draft"' in html
    assert f'href="/clients/{world.client.pk}/"' in html
    assert f'href="/stock/{world.vehicle.pk}/"' in html
    assert text_of(html, "order-vehicle-vin") == world.vehicle.vin
    assert text_of(html, "totals-vehicle-price") == "1 829 900 ₽"
    assert text_of(html, "totals-total") == "1 829 900 ₽"
    assert text_of(html, "totals-paid") == "0 ₽"
    assert text_of(html, "totals-balance-due") == "1 829 900 ₽"
    assert 'hx-trigger="orderChanged from:body"' in html
    # A manager does not see the car's economics.
    assert tab_keys(html) == [
        "equipment",
        "promotions",
        "invoices",
        "credit",
        "products-mandatory",
        "products-voluntary",
        "trade-ins",
        "documents",
        "history",
    ]
    assert f'hx-get="/finance/orders/{order.pk}/credit/"' in html
    # Draft: confirm or cancel.
    assert 'id="order-action-confirmed"' in html
    assert 'id="order-cancel-form"' in html
    assert 'id="order-action-delivered"' not in html
    assert "js/orders.js" in html


def test_a_head_also_sees_the_deal_passport_tab(client: HttpClient, world: OrderWorld) -> None:
    order = world.order()
    logged_in(client, world.head)

    html = client.get(f"/orders/{order.pk}/").content.decode()

    assert tab_keys(html)[-1] == "passport"
    assert f'hx-get="/orders/vehicles/{world.vehicle.pk}/passport/"' in html


@pytest.mark.parametrize(
    "path",
    ["", "header/", "totals/", "history/"],
)
def test_another_dealer_centers_manager_gets_404(
    client: HttpClient, world: OrderWorld, other: OrderWorld, path: str
) -> None:
    order = world.order()
    logged_in(client, other.manager)

    assert client.get(f"/orders/{order.pk}/{path}").status_code == 404


@pytest.mark.parametrize("path", ["status/", "price/", "importer-status/"])
def test_another_dealer_centers_manager_cannot_act_on_the_order(
    client: HttpClient, world: OrderWorld, other: OrderWorld, path: str
) -> None:
    order = world.order()
    logged_in(client, other.manager)

    response = client.post(
        f"/orders/{order.pk}/{path}",
        {"to": "cancelled", "reason": "x", "vehicle_price": "1"},
        **HTMX,
    )

    assert response.status_code == 404
    order.refresh_from_db()
    assert (order.status, order.vehicle_price) == (OrderStatus.DRAFT, SEED_PRICE)


def test_the_totals_partial_shows_the_current_figures(
    client: HttpClient, world: OrderWorld
) -> None:
    order = world.order()
    Order.objects.filter(pk=order.pk).update(
        equipment_total=Decimal("85000.00"),
        discount_total=Decimal("100000.00"),
        products_total=Decimal("49900.00"),
        trade_in_credit=Decimal("600000.00"),
        total=Decimal("1864800.00"),
        paid_total=Decimal("10000.00"),
        balance_due=Decimal("1254800.00"),
        payment_status=PaymentStatus.PARTLY_PAID,
    )
    logged_in(client, world.manager)

    response = client.get(f"/orders/{order.pk}/totals/", **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith("<section")
    expected = {
        "totals-vehicle-price": "1 829 900 ₽",
        "totals-equipment": "85 000 ₽",
        "totals-discounts": "−100 000 ₽",
        "totals-products": "49 900 ₽",
        "totals-trade-in": "600 000 ₽",
        "totals-total": "1 864 800 ₽",
        "totals-paid": "10 000 ₽",
        "totals-balance-due": "1 254 800 ₽",
    }
    assert {key: text_of(html, key) for key in expected} == expected
    assert 'data-status="partly_paid"' in html
    assert 'data-balance-due="1254800.00"' in html


def test_editing_the_price_inline_triggers_order_changed_and_the_totals_follow(
    client: HttpClient, world: OrderWorld
) -> None:
    order = world.order()
    logged_in(client, world.manager)

    response = client.post(f"/orders/{order.pk}/price/", {"vehicle_price": "1 799 900,50"}, **HTMX)

    assert response.status_code == 204
    assert response["HX-Trigger"] == "orderChanged"
    order.refresh_from_db()
    assert (order.vehicle_price, order.total, order.balance_due) == (
        Decimal("1799900.50"),
        Decimal("1799900.50"),
        Decimal("1799900.50"),
    )
    totals = client.get(f"/orders/{order.pk}/totals/").content.decode()
    assert text_of(totals, "totals-total") == "1 799 900,50 ₽"
    assert OrderEvent.objects.filter(order=order, kind="change").count() == 1


@pytest.mark.parametrize("price", ["-1", "abc", ""])
def test_a_bad_price_is_refused_in_the_header_and_changes_nothing(
    client: HttpClient, world: OrderWorld, price: str
) -> None:
    order = world.order()
    logged_in(client, world.manager)

    response = client.post(f"/orders/{order.pk}/price/", {"vehicle_price": price}, **HTMX)

    assert response.status_code == 400
    assert "HX-Trigger" not in response
    html = response.content.decode()
    assert 'id="order-error" data-field="vehicle_price"' in html
    assert 'id="order-price-edit" open' in html
    order.refresh_from_db()
    assert (order.vehicle_price, order.version) == (SEED_PRICE, 1)


def test_status_moves_through_the_card(client: HttpClient, world: OrderWorld) -> None:
    order = world.order()
    logged_in(client, world.manager)

    confirmed = client.post(f"/orders/{order.pk}/status/", {"to": "confirmed"}, **HTMX)
    assert confirmed.status_code == 204
    assert confirmed["HX-Trigger"] == "orderChanged"
    header = client.get(f"/orders/{order.pk}/header/").content.decode()
    assert 'data-status="confirmed"' in header
    assert 'id="order-action-draft"' in header

    back = client.post(f"/orders/{order.pk}/status/", {"to": "draft"}, **HTMX)
    assert back.status_code == 204
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_a_move_the_map_refuses_is_shown_with_its_reason(
    client: HttpClient, world: OrderWorld
) -> None:
    order = world.order()
    logged_in(client, world.manager)

    response = client.post(f"/orders/{order.pk}/status/", {"to": "delivered"}, **HTMX)

    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="order-error"' in html
    assert 'id="order-header"' in html
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_cancelling_asks_for_the_reason_and_then_releases_the_car(
    client: HttpClient, world: OrderWorld
) -> None:
    order = world.order()
    logged_in(client, world.manager)

    refused = client.post(f"/orders/{order.pk}/status/", {"to": "cancelled", "reason": " "}, **HTMX)
    assert refused.status_code == 400
    assert 'data-field="reason"' in refused.content.decode()
    assert 'id="order-cancel" open' in refused.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT

    done = client.post(
        f"/orders/{order.pk}/status/", {"to": "cancelled", "reason": "Клиент передумал"}, **HTMX
    )
    assert done.status_code == 204
    order.refresh_from_db()
    world.vehicle.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "Клиент передумал")
    assert world.vehicle.reservation_status == ReservationStatus.FREE
    header = client.get(f"/orders/{order.pk}/header/").content.decode()
    assert 'id="order-actions"' not in header
    assert text_of(header, "order-cancel-reason") == "Клиент передумал"


def test_without_htmx_a_move_redirects_to_the_card_with_a_message(
    client: HttpClient, world: OrderWorld
) -> None:
    order = world.order()
    logged_in(client, world.manager)

    response = client.post(f"/orders/{order.pk}/status/", {"to": "delivered"}, follow=True)

    assert response.redirect_chain == [(f"/orders/{order.pk}/", 302)]
    assert 'id="messages"' in response.content.decode()


def test_only_sellers_act_on_an_order(client: HttpClient, world: OrderWorld) -> None:
    order = world.order()
    service = UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    logged_in(client, service)

    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'id="order-actions"' not in html
    assert 'id="order-price-form"' not in html
    assert client.post(f"/orders/{order.pk}/status/", {"to": "confirmed"}).status_code == 403


def test_the_history_lists_the_orders_events(client: HttpClient, world: OrderWorld) -> None:
    order = world.order()
    order_transition(actor=world.manager, order=order, to=OrderStatus.CONFIRMED)
    logged_in(client, world.manager)

    response = client.get(f"/orders/{order.pk}/history/", **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-event-kind="status"') == 2
    assert 'data-event-to="confirmed"' in html
    assert world.manager.display_name in html


# --------------------------------------------------------------------------- new orders


def test_creating_an_order_from_the_vehicle_card(client: HttpClient, world: OrderWorld) -> None:
    pipelines = default_pipelines()
    deal = make_deal(
        pipeline=pipelines["new_car"],
        dealer_center=world.dealer_center,
        client=world.client,
        title="Tiggo 7",
    )
    logged_in(client, world.manager)

    card = client.get(f"/stock/{world.vehicle.pk}/").content.decode()
    assert f'href="/orders/new/?vehicle={world.vehicle.pk}" id="vehicle-order-create"' in card

    page = client.get(f"/orders/new/?vehicle={world.vehicle.pk}")
    assert page.status_code == 200
    assert text_of(page.content.decode(), "order-new-price") == "1 829 900 ₽"

    options = client.get(f"/orders/new/clients/?q={world.client.last_name}", **HTMX)
    assert f'value="{world.client.pk}"' in options.content.decode()
    deals = client.get(f"/orders/new/deals/?client={world.client.pk}", **HTMX)
    assert f'value="{deal.pk}"' in deals.content.decode()

    response = client.post(
        f"/orders/new/?vehicle={world.vehicle.pk}",
        {"client": str(world.client.pk), "deal": str(deal.pk), "comment": "Из карточки"},
    )

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/"
    assert (order.kind, order.client, order.deal, order.vehicle, order.manager) == (
        OrderKind.STOCK,
        world.client,
        deal,
        world.vehicle,
        world.manager,
    )
    assert (order.total, order.comment) == (SEED_PRICE, "Из карточки")
    world.vehicle.refresh_from_db()
    assert world.vehicle.reservation_status == ReservationStatus.RESERVED

    # Once ordered, the card links to the order instead of offering a new one.
    card = client.get(f"/stock/{world.vehicle.pk}/").content.decode()
    assert 'id="vehicle-order-create"' not in card
    assert f'href="/orders/{order.pk}/" id="vehicle-order-link"' in card
    assert f'data-order="{order.pk}"' in card


def test_the_new_order_page_prefills_the_client_and_his_deal(
    client: HttpClient, world: OrderWorld
) -> None:
    deal = make_deal(
        pipeline=default_pipelines()["new_car"],
        dealer_center=world.dealer_center,
        client=world.client,
    )
    logged_in(client, world.manager)

    html = client.get(
        f"/orders/new/?vehicle={world.vehicle.pk}&client={world.client.pk}&deal={deal.pk}"
    ).content.decode()

    assert f'value="{world.client.pk}" id="order-client-{world.client.pk}" checked' in html
    assert f'<option value="{deal.pk}" selected>' in html


def test_a_new_order_needs_a_client_the_user_sees(
    client: HttpClient, world: OrderWorld, other: OrderWorld
) -> None:
    logged_in(client, world.manager)
    url = f"/orders/new/?vehicle={world.vehicle.pk}"

    missing = client.post(url, {"comment": ""})
    foreign = client.post(url, {"client": str(other.client.pk)})
    foreign_deal = client.post(
        url,
        {
            "client": str(world.client.pk),
            "deal": str(
                make_deal(
                    pipeline=default_pipelines()["new_car"], dealer_center=world.dealer_center
                ).pk
            ),
        },
    )

    assert missing.status_code == foreign.status_code == foreign_deal.status_code == 400
    assert 'data-field="client"' in missing.content.decode()
    assert 'data-field="client"' in foreign.content.decode()
    assert 'data-field="deal"' in foreign_deal.content.decode()
    assert not Order.objects.exists()
    world.vehicle.refresh_from_db()
    assert world.vehicle.reservation_status == ReservationStatus.FREE


def test_a_car_held_by_an_order_is_refused_with_the_reason(
    client: HttpClient, world: OrderWorld
) -> None:
    holder = world.order()
    second = ClientFactory.create(dealer_center=world.dealer_center)
    logged_in(client, world.manager)

    page = client.get(f"/orders/new/?vehicle={world.vehicle.pk}").content.decode()
    assert 'id="order-new-held"' in page
    response = client.post(f"/orders/new/?vehicle={world.vehicle.pk}", {"client": str(second.pk)})

    assert response.status_code == 400
    assert holder.number in response.content.decode()
    assert list(Order.objects.all()) == [holder]


def test_a_car_of_another_dealer_center_cannot_be_ordered(
    client: HttpClient, world: OrderWorld, other: OrderWorld
) -> None:
    logged_in(client, world.manager)

    assert client.get(f"/orders/new/?vehicle={other.vehicle.pk}").status_code == 404
    assert client.get("/orders/new/").status_code == 404
    assert client.get("/orders/new/?vehicle=99999999999999").status_code == 404
    response = client.post(f"/orders/new/?vehicle={other.vehicle.pk}", {"client": "1"})
    assert response.status_code == 404
    assert not Order.objects.exists()


def test_the_client_search_finds_only_visible_clients(
    client: HttpClient, world: OrderWorld, other: OrderWorld
) -> None:
    logged_in(client, world.manager)
    other.client.last_name = world.client.last_name
    other.client.save()

    html = client.get(f"/orders/new/clients/?q={world.client.last_name}").content.decode()

    assert f'value="{world.client.pk}"' in html
    assert f'value="{other.client.pk}"' not in html
    empty = client.get("/orders/new/clients/?q=Никтоневстречал").content.decode()
    assert 'id="order-client-none"' in empty


def test_the_vehicle_card_hides_the_button_from_roles_that_do_not_sell(
    client: HttpClient, world: OrderWorld
) -> None:
    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])
    logged_in(client, logistician)

    html = client.get(f"/stock/{world.vehicle.pk}/").content.decode()

    assert 'id="vehicle-order-create"' not in html
    assert 'id="section-orders"' in html
    # Logisticians see the deal passport: its block loads the partial when opened.
    assert f'hx-get="/orders/vehicles/{world.vehicle.pk}/passport/"' in html
    assert 'id="deal-passport-toggle"' in html


def test_the_vehicle_card_shows_no_passport_to_a_manager(
    client: HttpClient, world: OrderWorld
) -> None:
    logged_in(client, world.manager)

    html = client.get(f"/stock/{world.vehicle.pk}/").content.decode()

    assert "/passport/" not in html
    assert 'id="section-deal-passport"' in html
    assert 'id="deal-passport-toggle"' not in html


def test_a_sold_car_offers_no_order(client: HttpClient, world: OrderWorld) -> None:
    world.vehicle.reservation_status = ReservationStatus.SOLD
    world.vehicle.save()
    logged_in(client, world.manager)

    html = client.get(f"/stock/{world.vehicle.pk}/").content.decode()

    assert 'id="vehicle-order-create"' not in html


def test_ordering_from_the_importer(client: HttpClient, world: OrderWorld) -> None:
    logged_in(client, world.manager)
    page = client.get(f"/orders/new/importer/?client={world.client.pk}")
    assert page.status_code == 200
    assert f'id="order-client-{world.client.pk}" checked' in page.content.decode()

    response = client.post(
        "/orders/new/importer/",
        {
            "client": str(world.client.pk),
            "dealer_center": str(world.dealer_center.pk),
            "car_model": str(world.car_model.pk),
            "trim": str(world.trim.pk),
            "color": "Красный",
            "options": "Фаркоп",
            "expected_price": "2 100 000",
        },
    )

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/"
    assert (order.kind, order.vehicle, order.vehicle_price) == (
        OrderKind.IMPORTER,
        None,
        Decimal("2100000.00"),
    )
    importer = order.importer_order
    assert (importer.car_model, importer.trim, importer.color, importer.status) == (
        world.car_model,
        world.trim,
        "Красный",
        ImporterOrderStatus.REQUESTED,
    )
    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-importer-status="requested"' in html
    assert 'id="order-importer-form"' in html
    assert 'name="vin"' not in html  # the arriving car's fields come with "shipped"
    assert "passport" not in tab_keys(html)

    moved = client.post(
        f"/orders/{order.pk}/importer-status/",
        {"to": "confirmed", "importer_reference": "CH-2026-001"},
        **HTMX,
    )
    assert moved.status_code == 204
    assert moved["HX-Trigger"] == "orderChanged"
    importer.refresh_from_db()
    assert (importer.status, importer.importer_reference) == ("confirmed", "CH-2026-001")


def test_an_importer_order_arrives_as_a_stock_car(client: HttpClient, world: OrderWorld) -> None:
    logged_in(client, world.manager)
    client.post(
        "/orders/new/importer/",
        {
            "client": str(world.client.pk),
            "dealer_center": str(world.dealer_center.pk),
            "car_model": str(world.car_model.pk),
            "expected_price": "2100000",
        },
    )
    order = Order.objects.get()
    for to in ("confirmed", "in_production", "shipped"):
        assert (
            client.post(f"/orders/{order.pk}/importer-status/", {"to": to}, **HTMX).status_code
            == 204
        )

    header = client.get(f"/orders/{order.pk}/header/").content.decode()
    assert 'name="vin"' in header
    assert f'<option value="{world.site.pk}">' in header
    refused = client.post(f"/orders/{order.pk}/importer-status/", {"to": "arrived"}, **HTMX)
    assert refused.status_code == 400
    assert 'data-field="vin"' in refused.content.decode()

    arrived = client.post(
        f"/orders/{order.pk}/importer-status/",
        {"to": "arrived", "vin": "LVVDB21B1PD734299", "site": str(world.site.pk)},
        **HTMX,
    )
    assert arrived.status_code == 204
    order.refresh_from_db()
    assert order.vehicle is not None
    assert (order.vehicle.vin, order.vehicle.price) == ("LVVDB21B1PD734299", Decimal("2100000.00"))


def test_an_importer_order_needs_a_model(client: HttpClient, world: OrderWorld) -> None:
    logged_in(client, world.manager)

    response = client.post(
        "/orders/new/importer/",
        {"client": str(world.client.pk), "dealer_center": str(world.dealer_center.pk)},
    )

    assert response.status_code == 400
    assert 'data-field="car_model"' in response.content.decode()
    assert not Order.objects.exists()


# --------------------------------------------------------------------------- client card


def test_the_client_card_lists_his_orders(client: HttpClient, world: OrderWorld) -> None:
    order = world.order()
    logged_in(client, world.manager)

    card = client.get(f"/clients/{world.client.pk}/").content.decode()
    assert f'hx-get="/orders/clients/{world.client.pk}/panel/"' in card

    panel = client.get(f"/orders/clients/{world.client.pk}/panel/", **HTMX)
    assert panel.status_code == 200
    html = panel.content.decode()
    assert f'data-order="{order.pk}"' in html
    assert f'href="/orders/new/importer/?client={world.client.pk}"' in html


def test_the_client_panel_is_scoped(
    client: HttpClient, world: OrderWorld, other: OrderWorld
) -> None:
    hostess = UserFactory.create(roles=["hostess"], dealer_centers=[world.dealer_center])
    logged_in(client, other.manager)
    assert client.get(f"/orders/clients/{world.client.pk}/panel/").status_code == 404
    logged_in(client, hostess)
    assert client.get(f"/orders/clients/{world.client.pk}/panel/").content == b""


def test_orders_are_a_module_of_the_navigation(client: HttpClient, world: OrderWorld) -> None:
    logged_in(client, world.manager)

    response = client.get("/orders/")

    keys = [item["key"] for item in response.context["nav_items"]]
    assert keys[keys.index("deals") + 1] == "orders"
    assert [item["key"] for item in response.context["nav_items"] if item["active"]] == ["orders"]
