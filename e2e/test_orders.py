"""The seed's sales path in a real browser (issue 6), on a tablet (820 px wide).

A sales manager of the Мурманск dealer center opens the seed car's card (Chery Tiggo 7 Pro
Max, VIN LVVDB21B1PD734288, 1 829 900 ₽), creates an order for a client, applies the
Мурманск promotion, adds an equipment package, issues a reservation invoice of 10 000 ₽
and registers its payment, and books a trade-in inspection at the dealer center. After
every step the order's totals change in place (no page reload). A head, in a second
browser, sees the car's deal passport before and after.

Elements are found by ids and data attributes, so the test does not depend on the state
of the translation.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, expect

from autocrm.accounts.models import WorkingHours
from autocrm.accounts.tests.factories import CityFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.inventory.models import Vehicle
from autocrm.orders.models import EquipmentPackage, Order, Promotion
from autocrm.orders.tests.factories import OrderWorld, order_world
from autocrm.trade_ins.scheduling import zone_of
from e2e.conftest import TABLET

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SEED_VIN = "LVVDB21B1PD734288"
# Screenshots for a human look at the layout (order-card.png ...).
SCREENSHOTS = Path(os.environ.get("AUTOCRM_E2E_SCREENSHOTS", tempfile.gettempdir()))


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


@pytest.fixture
def seed() -> dict[str, Any]:
    world: OrderWorld = order_world()
    Vehicle.objects.filter(pk=world.vehicle.pk).update(vin=SEED_VIN, stock_code=SEED_VIN)
    world.manager.first_name, world.manager.last_name = "Мария", "Продажина"
    world.manager.save()
    dealer_center = world.dealer_center
    client = ClientFactory.create(
        dealer_center=dealer_center,
        last_name="Бродникова",
        first_name="Екатерина",
        middle_name="Леонидовна",
        phones=["+79211234567"],
    )
    today = timezone.localdate(timezone.now(), zone_of(dealer_center))
    promotion = Promotion.objects.create(
        name="Chery Tiggo 7 Pro Max: выгода 100 000 ₽",
        importer="Chery Automobile Rus",
        make=world.make,
        car_model=world.car_model,
        valid_from=today - timedelta(days=10),
        valid_to=today + timedelta(days=20),
        discount_amount=Decimal("100000.00"),
        importer_bonus=Decimal("60000.00"),
    )
    promotion.cities.set([world.city])
    elsewhere = Promotion.objects.create(
        name="Chery Tiggo 7 Pro Max: Архангельск",
        make=world.make,
        car_model=world.car_model,
        valid_from=today - timedelta(days=10),
        valid_to=today + timedelta(days=20),
        discount_amount=Decimal("150000.00"),
    )
    elsewhere.cities.set([CityFactory.create(name="Архангельск")])
    package = EquipmentPackage.objects.create(
        code="tiggo7-winter",
        name="Зимний пакет",
        dealer_center=dealer_center,
        make=world.make,
        car_model=world.car_model,
        price=Decimal("85000.00"),
        cost=Decimal("52000.00"),
        installation_minutes=120,
    )
    appraiser = UserFactory.create(
        first_name="Олег",
        last_name="Оценщиков",
        roles=["appraiser"],
        dealer_centers=[dealer_center],
    )
    WorkingHours.objects.bulk_create(
        WorkingHours(
            dealer_center=dealer_center, weekday=weekday, opens_at=time(9), closes_at=time(18)
        )
        for weekday in range(7)
    )
    return {
        "world": world,
        "client": client,
        "promotion": promotion,
        "elsewhere": elsewhere,
        "package": package,
        "appraiser": appraiser,
        "tomorrow": today + timedelta(days=1),
    }


def tablet_page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context(viewport=TABLET).new_page()


def expect_totals(page: Page, **figures: str) -> None:
    for key, text in figures.items():
        expect(page.locator(f"#totals-{key.replace('_', '-')}")).to_have_text(text)


def passport_amount(page: Page, selector: str) -> Any:
    return expect(page.locator(f"{selector} td[data-amount]"))


def test_the_seed_path_from_the_vehicle_card_to_the_deal_passport(
    live_server: Any,
    new_context: Callable[..., BrowserContext],
    login: Callable[[Page, str], None],
    seed: dict[str, Any],
) -> None:
    world: OrderWorld = seed["world"]
    client = seed["client"]
    vehicle_url = f"{live_server.url}/stock/{world.vehicle.pk}/"

    # A head looks at the car's deal passport before anybody orders it.
    head = tablet_page(new_context)
    login(head, world.head.username)
    head.goto(vehicle_url)
    head.click("#deal-passport-toggle")
    passport_amount(head, "#section-deal-passport tr[data-total=margin]").to_have_attribute(
        "data-amount", "272900.00"
    )

    # The manager opens the seed car's card and creates the order.
    page = tablet_page(new_context)
    login(page, world.manager.username)
    page.goto(vehicle_url)
    expect(page.locator("#vehicle-vin")).to_have_text(SEED_VIN)
    expect(page.locator("#summary-price")).to_have_text("1 829 900 ₽")
    # A manager is not shown the car's economics.
    expect(page.locator("#deal-passport-toggle")).to_have_count(0)
    with page.expect_navigation():
        page.click("#vehicle-order-create")
    expect(page.locator("#order-new-price")).to_have_text("1 829 900 ₽")
    page.fill("#order-client-search", "Бродникова")
    page.locator(f"#order-client-{client.pk}").check()
    expect(page.locator("#order-deal-select")).to_be_visible()
    screenshot(page, "order-new", full_page=True)
    with page.expect_navigation():
        page.click("#order-new-submit")

    order = Order.objects.get()
    expect(page).to_have_url(f"{live_server.url}/orders/{order.pk}/")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "draft")
    expect(page.locator("#order-client")).to_have_text("Бродникова Екатерина Леонидовна")
    expect(page.locator("#order-vehicle-vin")).to_have_text(SEED_VIN)
    expect_totals(
        page,
        vehicle_price="1 829 900 ₽",
        total="1 829 900 ₽",
        paid="0 ₽",
        balance_due="1 829 900 ₽",
    )
    expect(page.locator("#totals-payment-status")).to_have_attribute("data-status", "unpaid")
    # Nothing below reloads the page: this marker would be lost.
    page.evaluate("window.orderCardMarker = 'still here'")

    # Акции: only the Мурманск promotion is offered; applying it lowers the total.
    page.click("#tab-promotions")
    offered = page.locator(f"[data-available-promotion='{seed['promotion'].pk}']")
    expect(offered).to_be_visible()
    expect(page.locator(f"[data-available-promotion='{seed['elsewhere'].pk}']")).to_have_count(0)
    offered.locator("button[type=submit]").click()
    expect(page.locator(f"[data-applied-promotion='{seed['promotion'].pk}']")).to_be_visible()
    expect_totals(page, discounts="−100 000 ₽", total="1 729 900 ₽", balance_due="1 729 900 ₽")

    # ДО: the winter package for this model.
    page.click("#tab-equipment")
    page.locator(f"[data-available-package='{seed['package'].pk}'] button[type=submit]").click()
    expect(page.locator("#order-equipment [data-order-equipment]")).to_have_count(1)
    expect_totals(page, equipment="85 000 ₽", total="1 814 900 ₽", balance_due="1 814 900 ₽")

    # Счета: a reservation invoice of 10 000 ₽, then its payment.
    page.click("#tab-invoices")
    page.select_option("#id_issue-kind", "reservation")
    page.fill("#id_issue-amount", "10000")
    page.click(".invoice-issue-form button[type=submit]")
    invoice = page.locator("#order-invoices tbody[data-invoice]")
    expect(invoice).to_have_count(1)
    expect(invoice.locator("[data-number]")).to_have_text("POC0000001")
    expect(invoice.locator("[data-amount]")).to_contain_text("10 000")
    expect_totals(page, invoiced="10 000 ₽", paid="0 ₽")
    payment = invoice.locator("form.payment-form")
    expect(payment.locator("input[name$='-amount']")).to_have_value("10000.00")
    payment.locator("[data-register-payment]").click()
    expect(invoice).to_have_attribute("data-status", "paid")
    expect_totals(page, paid="10 000 ₽", balance_due="1 804 900 ₽", total="1 814 900 ₽")
    expect(page.locator("#totals-payment-status")).to_have_attribute("data-status", "partly_paid")

    # Авто в зачёт: an inspection at the dealer center tomorrow at 10:00.
    page.click("#tab-trade-ins")
    page.fill("#id_make", "Lada")
    page.fill("#id_model", "Vesta")
    page.fill("#id_plate", "А123ВС51")
    page.fill("#id_vin", "XTA219000K0123456")
    page.fill("#id_year", "2019")
    page.fill("#id_date", seed["tomorrow"].isoformat())
    slot = page.locator(
        f"#trade-in-form [data-date='{seed['tomorrow'].isoformat()}'] label[data-slot='10:00']"
    )
    expect(slot).to_be_visible()
    slot.click()
    page.click("#trade-in-submit")
    expect(page.locator("#trade-ins-table [data-appraiser]")).to_have_text(
        seed["appraiser"].display_name
    )
    # Booking credits nothing yet (the appraisal and the client's consent come later).
    expect_totals(page, trade_in="0 ₽", balance_due="1 804 900 ₽")

    screenshot(page, "order-card", full_page=True)

    # The layout holds at 820 px: nothing wider than the screen, the totals stay on top
    # while the tabs scroll under them.
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert page.evaluate("window.scrollY") > 200
    box = page.locator("#order-totals").bounding_box()
    assert box is not None
    assert -1 <= box["y"] <= 1
    assert box["width"] > TABLET["width"] * 0.9
    screenshot(page, "order-card-scrolled")
    page.evaluate("window.scrollTo(0, 0)")

    # The order's history has every step.
    page.click("#tab-history")
    expect(page.locator("#order-history tr[data-event-kind]")).not_to_have_count(0)
    expect(page.locator("#order-history tr[data-event-kind=promotion]")).to_have_count(1)
    # The other tabs load too, and nothing was refused on the way.
    for key in ("products-mandatory", "products-voluntary", "documents"):
        page.click(f"#tab-{key}")
        expect(page.locator(f"#pane-{key}-content")).not_to_contain_text("Загрузка…")
        expect(page.locator(f"#pane-{key}-content")).not_to_be_empty()
    page.click("#tab-credit")
    expect(page.locator("#pane-credit-content #credit-applications")).to_be_visible()
    expect(page.locator("#messages .alert-danger")).to_have_count(0)
    assert page.evaluate("window.orderCardMarker") == "still here"

    # The head sees the changed figures in the order's deal passport…
    head.goto(f"{live_server.url}/orders/{order.pk}/")
    head.click("#tab-passport")
    pane = "#pane-passport"
    passport_amount(head, f"{pane} tr[data-line=sale_price]").to_have_attribute(
        "data-amount", "1829900.00"
    )
    passport_amount(head, f"{pane} tr[data-line=equipment_sale]").to_have_attribute(
        "data-amount", "85000.00"
    )
    passport_amount(head, f"{pane} tr[data-line=importer_bonuses]").to_have_attribute(
        "data-amount", "60000.00"
    )
    passport_amount(head, f"{pane} tr[data-line=promotion_discounts]").to_have_attribute(
        "data-amount", "100000.00"
    )
    passport_amount(head, f"{pane} tr[data-total=income]").to_have_attribute(
        "data-amount", "1974900.00"
    )
    passport_amount(head, f"{pane} tr[data-total=expense]").to_have_attribute(
        "data-amount", "1709000.00"
    )
    passport_amount(head, f"{pane} tr[data-total=margin]").to_have_attribute(
        "data-amount", "265900.00"
    )
    screenshot(head, "order-card-passport", full_page=True)
    # …and on the car's card, which now links to the order instead of offering a new one.
    head.goto(vehicle_url)
    expect(head.locator("#vehicle-order-link")).to_have_attribute("href", f"/orders/{order.pk}/")
    expect(head.locator("#vehicle-order-create")).to_have_count(0)
    head.click("#deal-passport-toggle")
    passport_amount(head, "#section-deal-passport tr[data-total=margin]").to_have_attribute(
        "data-amount", "265900.00"
    )


def test_a_refused_status_move_is_shown_on_the_card(
    live_server: Any,
    new_context: Callable[..., BrowserContext],
    login: Callable[[Page, str], None],
    seed: dict[str, Any],
) -> None:
    world: OrderWorld = seed["world"]
    order = world.order(client=seed["client"])
    page = tablet_page(new_context)
    login(page, world.manager.username)
    page.goto(f"{live_server.url}/orders/{order.pk}/")

    page.click("#order-action-confirmed")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "confirmed")
    expect(page.locator("#order-action-draft")).to_be_visible()

    # Cancelling without a reason is refused where the user clicked.
    page.locator("#order-cancel summary").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#order-cancel-submit")
    expect(page.locator("#order-error")).to_have_attribute("data-field", "reason")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "confirmed")

    page.fill("#order-cancel-form input[name=reason]", "Клиент передумал")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#order-cancel-submit")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#order-cancel-reason")).to_have_text("Клиент передумал")
    expect(page.locator("#order-actions")).to_have_count(0)
