"""The stock screens in a real browser: live facet counts without a page reload, the
seed's car card, reserving it, and the tablet layout of both pages."""

from __future__ import annotations

import datetime
import os
import re
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from autocrm.accounts.tests.factories import (
    BrandFactory,
    CityFactory,
    ConsignorFactory,
    DealerCenterFactory,
    SiteFactory,
    UserFactory,
)
from autocrm.inventory.models import Condition, PtsKind
from autocrm.inventory.tests.factories import (
    BodyTypeFactory,
    CarModelFactory,
    ColorFactory,
    DriveTypeFactory,
    EngineTypeFactory,
    LogisticsStatusFactory,
    TransmissionFactory,
    TrimFactory,
    VehicleFactory,
)
from e2e.conftest import TABLET

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SEED_VIN = "LVVDB21B1PD734288"
# Screenshots for a human look at the layout (stock-search.png, stock-card.png ...).
SCREENSHOTS = Path(os.environ.get("AUTOCRM_E2E_SCREENSHOTS", tempfile.gettempdir()))


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


@pytest.fixture
def stock():
    """Chery and Haval cars in Мурманск and Архангельск; the seed's Chery among them."""
    murmansk = DealerCenterFactory(name="CHERY Центр Мурманск", city=CityFactory(name="Мурманск"))
    arkhangelsk = DealerCenterFactory(
        name="HAVAL Центр Архангельск", city=CityFactory(name="Архангельск")
    )
    chery = BrandFactory(name="Chery", code="chery")
    haval = BrandFactory(name="Haval", code="haval")
    tiggo = CarModelFactory(make=chery, name="Tiggo 7 Pro Max")
    tiggo4 = CarModelFactory(make=chery, name="Tiggo 4")
    jolion = CarModelFactory(make=haval, name="Jolion")
    site_murmansk = SiteFactory(name="Мурманск CHERY", dealer_center=murmansk)
    site_arkhangelsk = SiteFactory(name="Архангельск HAVAL", dealer_center=arkhangelsk)
    seed = VehicleFactory(
        vin=SEED_VIN,
        stock_code=SEED_VIN,
        make=chery,
        car_model=tiggo,
        trim=TrimFactory(car_model=tiggo, name="Ultimate"),
        body=BodyTypeFactory(code="suv", name="Внедорожник"),
        drive=DriveTypeFactory(code="fwd", name="Передний"),
        engine=EngineTypeFactory(code="petrol", name="Бензин"),
        transmission=TransmissionFactory(code="cvt", name="Вариатор"),
        color=ColorFactory(name="Red/Black"),
        interior="Кожа",
        displacement_cc=None,
        power_hp=None,
        power_kw=None,
        model_year=None,
        pts_year=2023,
        mileage=2,
        condition=Condition.NEW,
        price=Decimal("3119900.00"),
        stock_in_date=timezone.localdate() - datetime.timedelta(days=133),
        logistics_status=LogisticsStatusFactory(code="in_showroom", name="Салон"),
        pts_kind=PtsKind.ELECTRONIC,
        pts_present=True,
        pts_buyout_date=datetime.date(2023, 3, 23),
        pts_received_date=datetime.date(2023, 3, 23),
        warranty_start=datetime.date(2023, 4, 6),
        report_date=datetime.date(2023, 3, 29),
        site=site_murmansk,
        consignor=ConsignorFactory(name="Мурманск CHERY"),
    )
    # Transactional tests start without the catalog rows of the data migration.
    LogisticsStatusFactory(code="at_warehouse", name="На складе")
    BodyTypeFactory(code="crossover", name="Кроссовер")
    white = ColorFactory(name="Белый")
    # Мурманск: 3 Chery (with the seed car) and 1 Haval; Архангельск: 1 Chery and 3 Haval.
    for price in ("2450000", "2890000"):
        VehicleFactory(
            site=site_murmansk, make=chery, car_model=tiggo4, price=Decimal(price), color=white
        )
    VehicleFactory(site=site_murmansk, make=haval, car_model=jolion, price=Decimal("2300000"))
    VehicleFactory(site=site_arkhangelsk, make=chery, car_model=tiggo4, price=Decimal("2500000"))
    for mileage in (0, 35000, 81000):
        VehicleFactory(
            site=site_arkhangelsk,
            make=haval,
            car_model=jolion,
            mileage=mileage,
            condition=Condition.USED if mileage else Condition.NEW,
            price=Decimal("1990000"),
        )
    UserFactory(
        username="seller",
        first_name="Мария",
        last_name="Продажина",
        roles=["sales_manager"],
        dealer_centers=[murmansk, arkhangelsk],
    )
    return seed


def facet_count(page: Page, name: str, value: str) -> str:
    option = page.locator(f'.stock-facet-option:has(input[name="{name}"][value="{value}"])')
    return option.locator(".stock-facet-count").inner_text()


def result_count(page: Page) -> str:
    return page.locator("#stock-results").get_attribute("data-count") or ""


def test_filters_update_counts_without_reload_and_open_the_seed_card(
    live_server, page, login, stock
):
    login(page, "seller")
    page.click("#nav-modules [data-module=stock]")
    expect(page.locator("h1")).to_have_text("Склад автомобилей")
    assert result_count(page) == "8"
    expect(page.locator("#stock-count")).to_have_text("8 автомобилей")
    assert facet_count(page, "city", "Мурманск") == "4"
    assert facet_count(page, "make", "Haval") == "4"
    screenshot(page, "stock-search", full_page=True)

    # A marker on window survives only if the page is not reloaded.
    page.evaluate("() => { window.__marker = 'still-here'; }")

    page.locator('label[for="f-city-%D0%9C%D1%83%D1%80%D0%BC%D0%B0%D0%BD%D1%81%D0%BA"]').click()
    expect(page.locator("#stock-results")).to_have_attribute("data-count", "4")
    expect(page.locator("#stock-count")).to_have_text("4 автомобиля")
    # Other facets follow the city; the city facet keeps counting the other city.
    assert facet_count(page, "make", "Chery") == "3"
    assert facet_count(page, "make", "Haval") == "1"
    assert facet_count(page, "city", "Архангельск") == "4"

    page.locator('#stock-facets-primary input[name="make"][value="Chery"]').check()
    expect(page.locator("#stock-results")).to_have_attribute("data-count", "3")
    expect(page.locator("#stock-count")).to_have_text("3 автомобиля")
    # The city counts now follow the make: one Chery in Архангельск.
    assert facet_count(page, "city", "Архангельск") == "1"
    assert facet_count(page, "city", "Мурманск") == "3"
    assert facet_count(page, "make", "Haval") == "1"
    expect(page.locator("#stock-active-filters .stock-chip")).to_have_count(3)

    assert page.evaluate("() => window.__marker") == "still-here"
    # The URL follows the filters, so the result can be shared or bookmarked.
    assert re.search(r"[?&]make=Chery", page.url)
    assert "city=%D0%9C%D1%83%D1%80%D0%BC%D0%B0%D0%BD%D1%81%D0%BA" in page.url
    assert "price_min" not in page.url

    # Text search by the VIN's tail, typed: the result follows after a short pause.
    page.fill("#filter-vin", "734288")
    expect(page.locator("#stock-results")).to_have_attribute("data-count", "1")
    assert page.evaluate("() => window.__marker") == "still-here"
    row = page.locator(f"#stock-table tbody tr:has-text('{SEED_VIN}')")
    expect(row).to_contain_text("Chery Tiggo 7 Pro Max")
    expect(row).to_contain_text("Ultimate")
    expect(row).to_contain_text("3 119 900 ₽")
    expect(row).to_contain_text("Мурманск CHERY")
    expect(row).to_contain_text("Свободен")
    screenshot(page, "stock-search-filtered", full_page=True)

    with page.expect_navigation():
        row.locator("a.stock-car-link").click()
    expect(page.locator("h1")).to_contain_text("Chery Tiggo 7 Pro Max")
    expected = {
        "#summary-condition": "Новый",
        "#summary-price": "3 119 900 ₽",
        "#summary-days": "133",
        "#summary-reservation": "Свободен",
        "#field-stock-code": SEED_VIN,
        "#field-vin": SEED_VIN,
        "#field-make": "Chery",
        "#field-model": "Tiggo 7 Pro Max",
        "#field-body": "Внедорожник",
        "#field-drive": "Передний",
        "#field-engine": "Бензин",
        "#field-transmission": "Вариатор",
        "#field-interior": "Кожа",
        "#field-color": "Red/Black",
        "#field-pts-year": "2023",
        "#field-mileage": "2 км",
        "#field-report-date": "29.03.2023",
        "#field-condition": "Новый",
        "#field-rhd": "Нет",
        "#field-reservation-status": "Свободен",
        "#field-warranty-start": "06.04.2023",
        "#field-trim": "Ultimate",
        "#field-logistics-status": "Салон",
        "#field-pts-present": "Да",
        "#field-pts-buyout": "23.03.2023",
        "#field-pts-received": "23.03.2023",
        "#field-city": "Мурманск",
        "#field-site": "Мурманск CHERY",
        "#field-consignor": "Мурманск CHERY",
    }
    for selector, text in expected.items():
        expect(page.locator(selector)).to_have_text(text)
    expect(page.locator("#field-pts-kind")).to_contain_text("электронный")
    expect(page.locator("#section-vehicle .card-header")).to_have_text("Автомобиль")
    expect(page.locator("#section-additional .card-header")).to_have_text(
        "Дополнительная информация"
    )
    expect(page.locator("#section-location .card-header")).to_have_text("Локация")
    expect(page.locator("#section-deal-passport .card-header")).to_have_text("Паспорт сделки")
    expect(page.locator("#section-orders .card-header")).to_have_text("Заказы")
    expect(page.locator("#flag-credit-sale")).not_to_be_checked()
    expect(page.locator("#flag-credit-sale")).to_be_disabled()
    screenshot(page, "stock-card", full_page=True)

    # Reserve it from the card; the header and the action block follow.
    page.fill("#id_hours", "24")
    page.fill("#id_comment", "Клиент приедет завтра")
    with page.expect_navigation():
        page.click("#reserve-form button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("Автомобиль забронирован до")
    expect(page.locator("#summary-reservation")).to_have_text("Забронирован")
    expect(page.locator("#section-reservations")).to_contain_text("Продажина Мария")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#release-form button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("Бронь снята")
    expect(page.locator("#summary-reservation")).to_have_text("Свободен")

    # The printable PTS sheet.
    page.click("#field-pts-kind a")
    expect(page.locator("h1")).to_have_text("Электронный паспорт транспортного средства (ЭПТС)")
    expect(page.locator("#pts-vin")).to_have_text(SEED_VIN)
    page.emulate_media(media="print")
    expect(page.locator(".app-navbar")).to_be_hidden()
    expect(page.locator("#print-button")).to_be_hidden()
    screenshot(page, "stock-pts-print", full_page=True)
    page.emulate_media(media="screen")


def test_sorting_and_presets(live_server, page, login, stock):
    login(page, "seller")
    page.goto(f"{live_server.url}/stock/")
    page.evaluate("() => { window.__marker = 1; }")

    page.select_option("#stock-sort", "-price")
    expect(page.locator("#stock-table tbody tr").first).to_contain_text("3 119 900 ₽")
    page.locator('#stock-facets-primary input[name="make"][value="Haval"]').check()
    expect(page.locator("#stock-results")).to_have_attribute("data-count", "4")
    assert page.evaluate("() => window.__marker") == 1

    page.click("#stock-presets-toggle")
    page.fill("#preset-save-form input[name=name]", "Haval дороже")
    with page.expect_navigation():
        page.click("#preset-save-form button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("Подборка «Haval дороже» сохранена")

    page.goto(f"{live_server.url}/stock/")
    assert result_count(page) == "8"
    page.click("#stock-presets-toggle")
    with page.expect_navigation():
        page.click("#stock-preset-list a:text('Haval дороже')")
    assert result_count(page) == "4"
    expect(page.locator("#stock-sort")).to_have_value("-price")


def test_tablet_layout_has_no_sideways_scroll_and_filters_in_a_panel(
    live_server, new_context, login, stock
):
    page = new_context(viewport=TABLET).new_page()
    login(page, "seller")
    page.goto(f"{live_server.url}/stock/")
    panel = page.locator("#stock-filter-panel")
    expect(panel).to_be_hidden()
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"/stock/ scrolls sideways by {overflow}px"
    screenshot(page, "stock-tablet", full_page=True)

    page.evaluate("() => { window.__marker = 'tablet'; }")
    page.click("#stock-filters-toggle")
    expect(panel).to_be_visible()
    panel.locator('input[name="make"][value="Haval"]').check()
    expect(page.locator("#stock-apply-count")).to_have_text("4")
    screenshot(page, "stock-tablet-filters")
    page.click("#stock-apply")
    expect(panel).to_be_hidden()
    expect(page.locator("#stock-results")).to_have_attribute("data-count", "4")
    assert page.evaluate("() => window.__marker") == "tablet"
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0

    page.goto(f"{live_server.url}/stock/{stock.pk}/")
    expect(page.locator("#field-vin")).to_have_text(SEED_VIN)
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the card scrolls sideways by {overflow}px"
    screenshot(page, "stock-card-tablet", full_page=True)

    for width, height in ((768, 1024), (1024, 768)):
        page.set_viewport_size({"width": width, "height": height})
        for path in ("/stock/", f"/stock/{stock.pk}/", f"/stock/{stock.pk}/pts/"):
            page.goto(f"{live_server.url}{path}")
            overflow = page.evaluate(
                "() => document.scrollingElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{path} at {width}px scrolls sideways by {overflow}px"
