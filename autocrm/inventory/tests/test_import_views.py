"""HTML screens of the stock import: permissions, scoping, upload, mapping, progress, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from autocrm.inventory.imports import stock_import_set_mapping, stock_import_upload
from autocrm.inventory.models import ImportStatus, StockImport, Vehicle
from autocrm.inventory.tasks import stock_import_process_task
from autocrm.inventory.tests.test_import_fixtures import (
    HEADERS,
    SECOND_ROW,
    SEED_ROW,
    csv_bytes,
    make_world,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client, settings):
    # Messages are asserted in English; the site default is Russian.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


UPLOAD = reverse("inventory:import_upload")


@pytest.fixture
def world():
    return make_world()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def uploaded(world, rows=None, *, mapped=False):
    stock_import = stock_import_upload(
        actor=world.logistician,
        file=upload(csv_bytes(rows or [SEED_ROW, SECOND_ROW])),
        dealer_center=world.dealer_center,
    )
    if mapped:
        stock_import_set_mapping(
            actor=world.logistician, stock_import=stock_import, mapping=stock_import.mapping
        )
    return stock_import


def urls_of(stock_import):
    return [
        reverse(f"inventory:{name}", args=[stock_import.pk])
        for name in ("import_mapping", "import_detail", "import_progress", "import_errors")
    ]


def test_routes():
    assert UPLOAD == "/stock/import/"
    assert reverse("inventory:import_detail", args=[7]) == "/stock/import/7/"
    assert reverse("inventory:import_mapping", args=[7]) == "/stock/import/7/mapping/"
    assert reverse("inventory:import_progress", args=[7]) == "/stock/import/7/progress/"
    assert reverse("inventory:import_errors", args=[7]) == "/stock/import/7/errors.csv"


def test_anonymous_is_sent_to_login(client):
    response = client.get(UPLOAD)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_users_without_the_permission_get_403_everywhere(client, world):
    stock_import = uploaded(world)
    client.force_login(world.manager)

    for url in [UPLOAD, *urls_of(stock_import)]:
        assert client.get(url).status_code == 403, url
    response = client.post(
        UPLOAD, {"file": upload(csv_bytes([SEED_ROW])), "dealer_center": world.dealer_center.pk}
    )
    assert response.status_code == 403
    assert StockImport.objects.count() == 1


def test_an_import_of_another_dealer_center_is_404(client, world):
    stock_import = uploaded(world)
    client.force_login(world.other_head)

    for url in urls_of(stock_import):
        assert client.get(url).status_code == 404, url
    assert stock_import.original_name not in client.get(UPLOAD).content.decode()


def test_upload_page_offers_only_visible_dealer_centers(client, world):
    client.force_login(world.logistician)

    response = client.get(UPLOAD)

    assert response.status_code == 200
    choices = [
        str(label) for _value, label in response.context["form"].fields["dealer_center"].choices
    ]
    assert choices[1:] == ["Chery Мурманск"]


def test_upload_then_mapping_then_run(client, world, django_capture_on_commit_callbacks):
    client.force_login(world.logistician)

    response = client.post(
        UPLOAD,
        {
            "file": upload(csv_bytes([SEED_ROW, SECOND_ROW]), "stock.csv"),
            "dealer_center": world.dealer_center.pk,
        },
    )

    stock_import = StockImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:import_mapping", args=[stock_import.pk])
    assert stock_import.status == ImportStatus.UPLOADED

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="mapping-preview"' in html
    assert "Tiggo 7 Pro Max" in html
    assert len(page.context["preview"]) == 2
    assert page.context["form"]["column_1"].value() == "vin"
    assert all(item["mapped"] for item in page.context["required"])

    data = {f"column_{index}": key for index, key in stock_import.mapping.items()}
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(response["Location"], {**data, "action": "run"})

    assert started.status_code == 302
    assert started["Location"] == reverse("inventory:import_detail", args=[stock_import.pk])
    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.RUNNING


def test_a_bad_file_type_is_a_400_with_the_reason(client, world):
    client.force_login(world.logistician)

    response = client.post(
        UPLOAD,
        {"file": upload(b"%PDF-1.4", "stock.pdf"), "dealer_center": world.dealer_center.pk},
    )

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == ["Upload a CSV or XLSX file."]
    assert "Upload a CSV or XLSX file." in response.content.decode()
    assert StockImport.objects.count() == 0


def test_an_invisible_dealer_center_is_refused(client, world):
    client.force_login(world.logistician)

    response = client.post(
        UPLOAD,
        {"file": upload(csv_bytes([SEED_ROW])), "dealer_center": world.other_dealer_center.pk},
    )

    assert response.status_code == 400
    assert "dealer_center" in response.context["form"].errors
    assert StockImport.objects.count() == 0


def test_mapping_without_a_required_field_is_a_400(client, world):
    stock_import = uploaded(world)
    client.force_login(world.logistician)
    data = {f"column_{index}": key for index, key in stock_import.mapping.items() if key != "price"}

    response = client.post(
        reverse("inventory:import_mapping", args=[stock_import.pk]), {**data, "action": "run"}
    )

    assert response.status_code == 400
    assert "Choose a column for: Price." in response.content.decode()
    assert [
        item["mapped"] for item in response.context["required"] if item["label"] == "Price"
    ] == [False]
    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.UPLOADED


def test_save_mapping_without_running(client, world):
    stock_import = uploaded(world)
    client.force_login(world.logistician)
    data = {f"column_{index}": key for index, key in stock_import.mapping.items()}
    data["column_11"] = ""  # do not import «Салон»

    response = client.post(
        reverse("inventory:import_mapping", args=[stock_import.pk]), {**data, "action": "save"}
    )

    assert response.status_code == 302
    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.MAPPED
    assert "11" not in stock_import.mapping
    assert stock_import.mapping["16"] == "price"


def test_progress_fragment_polls_while_running_and_stops_when_done(client, world):
    stock_import = uploaded(world, mapped=True)
    StockImport.objects.filter(pk=stock_import.pk).update(
        status=ImportStatus.RUNNING, processed_rows=1, created_count=1
    )
    client.force_login(world.logistician)
    url = reverse("inventory:import_progress", args=[stock_import.pk])

    running = client.get(url, HTTP_HX_REQUEST="true")

    html = running.content.decode()
    assert running.status_code == 200
    assert 'hx-trigger="every 1s"' in html
    assert f'hx-get="{url}"' in html
    assert 'aria-valuenow="50"' in html
    assert 'width="50%"' in html
    assert "<script" not in html
    assert "style=" not in html

    StockImport.objects.filter(pk=stock_import.pk).update(
        status=ImportStatus.MAPPED, processed_rows=0, created_count=0
    )
    stock_import_process_task.call(stock_import.pk, "en")
    done = client.get(url, HTTP_HX_REQUEST="true")

    html = done.content.decode()
    assert "hx-trigger" not in html
    assert 'aria-valuenow="100"' in html
    assert 'data-count="created">2<' in html
    assert 'id="import-no-errors"' in html


def test_detail_shows_errors_and_the_csv_download(client, world):
    bad = list(SEED_ROW)
    bad[HEADERS.index("Цена")] = "дорого"
    stock_import = uploaded(world, [bad, SECOND_ROW], mapped=True)
    stock_import_process_task.call(stock_import.pk, "en")
    client.force_login(world.logistician)

    page = client.get(reverse("inventory:import_detail", args=[stock_import.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="import-errors-table"' in html
    assert 'data-row="2"' in html
    assert "Expected a number" in html
    assert reverse("inventory:import_errors", args=[stock_import.pk]) in html
    # A finished import's progress no longer polls (the header's notification bell does).
    assert 'hx-trigger="every 1s"' not in html

    download = client.get(reverse("inventory:import_errors", args=[stock_import.pk]))

    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == (
        f'attachment; filename="stock-import-{stock_import.pk}-errors.csv"'
    )
    body = download.content.decode("utf-8-sig")
    assert body.splitlines() == ["Row;Column;Error", "2;Цена;Expected a number, e.g. 3 119 900,00."]
    assert Vehicle.objects.get().price == Decimal("1899000.00")


def test_error_table_shows_the_first_200(client, world):
    stock_import = uploaded(world, mapped=True)
    errors = [{"row": n, "column": "VIN", "field": "vin", "message": "bad"} for n in range(2, 302)]
    StockImport.objects.filter(pk=stock_import.pk).update(
        status=ImportStatus.DONE, errors=errors, error_count=300, processed_rows=300, total_rows=300
    )
    client.force_login(world.logistician)

    page = client.get(reverse("inventory:import_detail", args=[stock_import.pk]))

    assert len(page.context["errors"]) == 200
    assert "The first 200 of 300 errors are shown" in page.content.decode()
    download = client.get(reverse("inventory:import_errors", args=[stock_import.pk]))
    assert len(download.content.decode("utf-8-sig").splitlines()) == 301


def test_resume_of_a_failed_import(client, world, django_capture_on_commit_callbacks):
    stock_import = uploaded(world, mapped=True)
    StockImport.objects.filter(pk=stock_import.pk).update(status=ImportStatus.FAILED)
    client.force_login(world.logistician)

    page = client.get(reverse("inventory:import_detail", args=[stock_import.pk]))
    assert 'id="import-resume-form"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("inventory:import_run", args=[stock_import.pk]))

    assert response.status_code == 302
    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.RUNNING


def test_a_finished_import_has_no_mapping_page(client, world):
    stock_import = uploaded(world, mapped=True)
    stock_import_process_task.call(stock_import.pk, "en")
    client.force_login(world.logistician)

    response = client.get(reverse("inventory:import_mapping", args=[stock_import.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:import_detail", args=[stock_import.pk])


def test_recent_imports_are_listed(client, world):
    stock_import = uploaded(world)
    client.force_login(world.admin)

    response = client.get(UPLOAD)

    assert list(response.context["recent_imports"]) == [stock_import]
    assert f'data-import="{stock_import.pk}"' in response.content.decode()
