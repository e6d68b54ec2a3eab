"""The stock search page: scoping, filters and facet counts, the htmx fragment, sorting and
pages, presets, and the XLSX export of the current result."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import (
    BrandFactory,
    CityFactory,
    DealerCenterFactory,
    SiteFactory,
    UserFactory,
)
from autocrm.inventory.models import SavedSearch
from autocrm.inventory.presets import saved_search_delete, saved_search_save
from autocrm.inventory.search import VehicleSearchParams, search_vehicles
from autocrm.inventory.tests.factories import CarModelFactory, VehicleFactory

pytestmark = pytest.mark.django_db

SEARCH = "/stock/"
EXPORT = "/stock/export.xlsx"


@pytest.fixture
def stock():
    """Two dealer centers in two cities with Chery and Haval cars, plus a foreign one."""
    murmansk = DealerCenterFactory(name="Мурманск CHERY", city=CityFactory(name="Мурманск"))
    arkhangelsk = DealerCenterFactory(
        name="Архангельск HAVAL", city=CityFactory(name="Архангельск")
    )
    foreign = DealerCenterFactory(name="Казань GEELY", city=CityFactory(name="Казань"))
    chery, haval = (
        BrandFactory(name="Chery", code="chery"),
        BrandFactory(name="Haval", code="haval"),
    )
    tiggo = CarModelFactory(make=chery, name="Tiggo 7 Pro Max")
    jolion = CarModelFactory(make=haval, name="Jolion")
    site_m = SiteFactory(name="Мурманск CHERY", dealer_center=murmansk)
    site_a = SiteFactory(name="Архангельск HAVAL", dealer_center=arkhangelsk)
    site_f = SiteFactory(name="Казань GEELY", dealer_center=foreign)
    cars = {
        "m_chery_1": VehicleFactory(
            site=site_m, make=chery, car_model=tiggo, price=Decimal("3119900.00"), mileage=2
        ),
        "m_chery_2": VehicleFactory(
            site=site_m, make=chery, car_model=tiggo, price=Decimal("2900000.00"), mileage=15
        ),
        "m_haval": VehicleFactory(
            site=site_m, make=haval, car_model=jolion, price=Decimal("2100000.00"), mileage=7
        ),
        "a_haval": VehicleFactory(
            site=site_a, make=haval, car_model=jolion, price=Decimal("2200000.00"), mileage=30
        ),
        "a_chery": VehicleFactory(
            site=site_a, make=chery, car_model=tiggo, price=Decimal("3000000.00"), mileage=1
        ),
        "foreign": VehicleFactory(site=site_f, make=chery, car_model=tiggo),
    }
    manager = UserFactory(
        username="manager", roles=[RoleCode.SALES_MANAGER], dealer_centers=[murmansk, arkhangelsk]
    )
    return {"cars": cars, "manager": manager, "murmansk": murmansk}


def facet_counts(html: str, name: str) -> dict[str, int]:
    """{value: count} of one checkbox group as rendered."""
    import re

    pattern = re.compile(
        r'<input class="form-check-input" type="checkbox" name="'
        + name
        + r'" value="([^"]+)"[^>]*>\s*<label[^>]*>[^<]*</label>\s*'
        r'<span class="stock-facet-count" data-count="(\d+)">'
    )
    return {value: int(count) for value, count in pattern.findall(html)}


def result_ids(response) -> list[int]:
    import re

    return [int(pk) for pk in re.findall(r'data-vehicle="(\d+)"', response.content.decode())]


def test_anonymous_user_is_sent_to_login(client):
    response = client.get(SEARCH)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_search_page_shows_only_cars_in_scope_with_facets(client, stock):
    client.force_login(stock["manager"])
    response = client.get(SEARCH)

    assert response.status_code == 200
    cars = stock["cars"]
    assert sorted(result_ids(response)) == sorted(
        car.pk for name, car in cars.items() if name != "foreign"
    )
    html = response.content.decode()
    assert facet_counts(html, "city") == {"Мурманск": 3, "Архангельск": 2}
    assert facet_counts(html, "make") == {"Chery": 3, "Haval": 2}
    assert "Казань" not in html
    assert "3 119 900 ₽" in html
    assert 'hx-get="/stock/"' in html
    assert 'hx-push-url="true"' in html
    assert response["Vary"].count("HX-Request") == 1


def test_a_facet_counts_every_filter_except_its_own(client, stock):
    client.force_login(stock["manager"])
    response = client.get(SEARCH, {"city": "Мурманск", "make": "Chery"})

    html = response.content.decode()
    assert sorted(result_ids(response)) == sorted(
        [stock["cars"]["m_chery_1"].pk, stock["cars"]["m_chery_2"].pk]
    )
    # Make counts follow the city filter only; city counts follow the make filter only.
    assert facet_counts(html, "make") == {"Chery": 2, "Haval": 1}
    assert facet_counts(html, "city") == {"Мурманск": 2, "Архангельск": 1}
    assert 'value="Мурманск" id="f-city-' in html
    assert html.count("checked") >= 2


def test_htmx_request_gets_only_the_fragment_with_out_of_band_facets(client, stock):
    client.force_login(stock["manager"])
    response = client.get(
        SEARCH,
        {"city": "Архангельск", "q": "", "price_min": "", "sort": "days_in_stock"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "app-navbar" not in html
    assert html.lstrip().startswith('<div id="stock-results"')
    assert 'id="stock-facets-primary" class="stock-facets" hx-swap-oob="true"' in html
    assert 'id="stock-facets-secondary" class="stock-facets" hx-swap-oob="true"' in html
    assert 'id="stock-apply-count" class="badge text-bg-light" hx-swap-oob="true">2<' in html
    assert sorted(result_ids(response)) == sorted(
        [stock["cars"]["a_haval"].pk, stock["cars"]["a_chery"].pk]
    )
    assert facet_counts(html, "make") == {"Chery": 1, "Haval": 1}
    # The address bar gets the short form: no empty fields, no default sort.
    assert response["HX-Push-Url"] == (
        "/stock/?city=%D0%90%D1%80%D1%85%D0%B0%D0%BD%D0%B3%D0%B5%D0%BB%D1%8C%D1%81%D0%BA"
    )


def test_history_restore_gets_the_whole_page(client, stock):
    client.force_login(stock["manager"])
    response = client.get(
        SEARCH, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.content.decode()


def test_text_search_by_vin_tail_and_price_range(client, stock):
    client.force_login(stock["manager"])
    target = stock["cars"]["a_chery"]

    response = client.get(SEARCH, {"vin": target.vin[-6:].lower()})
    assert result_ids(response) == [target.pk]

    response = client.get(SEARCH, {"q": target.stock_code})
    assert result_ids(response) == [target.pk]

    response = client.get(SEARCH, {"price_min": "2950000", "price_max": "3100000"})
    assert result_ids(response) == [target.pk]


def test_sort_by_price_both_ways(client, stock):
    client.force_login(stock["manager"])
    cars = stock["cars"]
    by_price = sorted(
        (car for name, car in cars.items() if name != "foreign"), key=lambda car: car.price
    )
    assert result_ids(client.get(SEARCH, {"sort": "price"})) == [car.pk for car in by_price]
    assert result_ids(client.get(SEARCH, {"sort": "-price"})) == [
        car.pk for car in reversed(by_price)
    ]


def test_pages_of_fifty(client, stock):
    site = stock["cars"]["m_chery_1"].site
    for _ in range(50):
        VehicleFactory(site=site)
    client.force_login(stock["manager"])

    first = client.get(SEARCH, {"sort": "price"})
    second = client.get(SEARCH, {"sort": "price", "page": "2"})

    assert len(result_ids(first)) == 50
    assert len(result_ids(second)) == 5
    assert not set(result_ids(first)) & set(result_ids(second))
    assert "Показаны 51–55 из 55" in second.content.decode()
    # A page past the end shows the last page instead of an empty table.
    assert result_ids(client.get(SEARCH, {"sort": "price", "page": "9"})) == result_ids(second)


@pytest.mark.parametrize(
    ("query", "field"),
    [({"price_min": "abc"}, "price_min"), ({"sort": "colour"}, "sort"), ({"vin": "I"}, "vin")],
)
def test_malformed_filter_is_a_400_naming_it(client, stock, query, field):
    client.force_login(stock["manager"])
    response = client.get(SEARCH, query)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="stock-error"' in html
    assert f"<strong>{field}</strong>" in html


def test_trim_facet_appears_once_a_model_is_chosen(client, stock):
    client.force_login(stock["manager"])
    html = client.get(SEARCH).content.decode()
    assert 'data-facet="trim"' not in html

    html = client.get(SEARCH, {"model": "Tiggo 7 Pro Max"}).content.decode()
    trims = facet_counts(html, "trim")
    assert sum(trims.values()) == 3


# --------------------------------------------------------------------------- presets


def test_preset_save_apply_and_delete(client, stock):
    manager = stock["manager"]
    client.force_login(manager)

    response = client.post(
        "/stock/presets/",
        {"name": "  Chery в Мурманске ", "query": "city=Мурманск&make=Chery&page=3"},
    )
    preset = SavedSearch.objects.get(user=manager)
    assert (preset.name, preset.query) == (
        "Chery в Мурманске",
        "city=%D0%9C%D1%83%D1%80%D0%BC%D0%B0%D0%BD%D1%81%D0%BA&make=Chery",
    )
    assert response.status_code == 302
    assert response["Location"] == f"/stock/?{preset.query}"

    page = client.get(response["Location"])
    html = page.content.decode()
    assert 'data-preset="Chery в Мурманске"' in html
    assert sorted(result_ids(page)) == sorted(
        [stock["cars"]["m_chery_1"].pk, stock["cars"]["m_chery_2"].pk]
    )

    # Saving under the same name replaces the filters instead of duplicating.
    client.post("/stock/presets/", {"name": "Chery в Мурманске", "query": "make=Haval"})
    assert list(SavedSearch.objects.filter(user=manager).values_list("query", flat=True)) == [
        "make=Haval"
    ]

    response = client.post(f"/stock/presets/{preset.pk}/delete/", {"query": "make=Haval"})
    assert response.status_code == 302
    assert response["Location"] == "/stock/?make=Haval"
    assert not SavedSearch.objects.filter(user=manager).exists()


def test_preset_without_a_name_is_refused(client, stock):
    client.force_login(stock["manager"])
    response = client.post("/stock/presets/", {"name": "   ", "query": "make=Chery"}, follow=True)
    assert SavedSearch.objects.count() == 0
    assert "Назовите подборку" in response.content.decode()


def test_another_users_preset_cannot_be_deleted_or_seen(client, stock):
    other = UserFactory(username="other", roles=[RoleCode.SALES_MANAGER])
    preset = saved_search_save(actor=other, name="Мои Haval", query="make=Haval")
    client.force_login(stock["manager"])

    assert "Мои Haval" not in client.get(SEARCH).content.decode()
    response = client.post(f"/stock/presets/{preset.pk}/delete/")
    assert response.status_code == 404
    assert SavedSearch.objects.filter(pk=preset.pk).exists()


def test_preset_services_directly(stock):
    manager = stock["manager"]
    preset = saved_search_save(actor=manager, name="A", query="?make=Chery&offset=50&q=")
    assert preset.query == "make=Chery"
    saved_search_delete(actor=manager, saved_search_id=preset.pk)
    assert not SavedSearch.objects.exists()


def test_get_is_not_allowed_on_preset_writes(client, stock):
    client.force_login(stock["manager"])
    assert client.get("/stock/presets/").status_code == 405


# --------------------------------------------------------------------------- export


def read_xlsx(response) -> list[list[object]]:
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def test_export_rows_equal_the_search_result(client, stock):
    manager = stock["manager"]
    client.force_login(manager)

    response = client.get(EXPORT, {"make": "Chery", "sort": "-price"})

    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].startswith('attachment; filename="stock-')
    rows = read_xlsx(response)
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Код автомобиля", "VIN", "Марка", "Модель"]
    assert "Цена" in header
    expected = search_vehicles(
        user=manager,
        params=VehicleSearchParams.from_query({"make": "Chery", "sort": "-price", "limit": "200"}),
    ).items
    assert [row[1] for row in body] == [car.vin for car in expected]
    price = body[0][header.index("Цена")]
    assert price == 3119900
    assert isinstance(price, int | float)
    assert body[0][header.index("Город")] == "Мурманск"
    assert body[0][header.index("Тип авто")] == "Новый"


def test_export_goes_past_one_page(client, stock):
    site = stock["cars"]["a_haval"].site
    for _ in range(60):
        VehicleFactory(site=site)
    client.force_login(stock["manager"])

    rows = read_xlsx(client.get(EXPORT))
    assert len(rows) - 1 == 65


def test_export_reads_in_batches_without_losing_or_repeating_rows(client, stock, monkeypatch):
    from autocrm.inventory import views

    monkeypatch.setattr(views, "EXPORT_BATCH", 4)
    client.force_login(stock["manager"])

    rows = read_xlsx(client.get(EXPORT, {"sort": "price"}))

    expected = search_vehicles(
        user=stock["manager"],
        params=VehicleSearchParams.from_query({"sort": "price", "limit": "200"}),
    ).items
    assert [row[1] for row in rows[1:]] == [car.vin for car in expected]
    assert len(expected) == 5


def test_export_is_scoped_and_validates(client, stock):
    outsider = UserFactory(
        username="outsider",
        roles=[RoleCode.SALES_MANAGER],
        dealer_centers=[stock["cars"]["foreign"].dealer_center],
    )
    client.force_login(outsider)
    rows = read_xlsx(client.get(EXPORT))
    assert [row[1] for row in rows[1:]] == [stock["cars"]["foreign"].vin]

    response = client.get(EXPORT, {"mileage_max": "много"})
    assert response.status_code == 400
    assert response.content.decode().startswith("mileage_max:")


def test_navigation_has_the_stock_module_after_home(client, stock):
    client.force_login(stock["manager"])
    html = client.get(reverse("core:home")).content.decode()
    assert html.index('data-module="home"') < html.index('data-module="stock"')
    assert 'href="/stock/" data-module="stock"' in html
