"""The import services and the background task: upload, mapping, rows, errors, re-import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import translation
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from autocrm.core.errors import Conflict, NotAllowed, ValidationFailed
from autocrm.inventory import imports
from autocrm.inventory.imports import (
    stock_import_process,
    stock_import_run,
    stock_import_set_mapping,
    stock_import_upload,
)
from autocrm.inventory.models import (
    CarModel,
    Color,
    ImportStatus,
    LogisticsStatusChange,
    StockImport,
    Trim,
    Vehicle,
)
from autocrm.inventory.tasks import stock_import_process_task
from autocrm.inventory.tests.test_import_fixtures import (
    HEADERS,
    SECOND_ROW,
    SECOND_VIN,
    SEED_ROW,
    SEED_VIN,
    csv_bytes,
    make_world,
    upload,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    # Messages are asserted in English; the site default is Russian.
    with translation.override("en"):
        yield


@pytest.fixture
def world():
    return make_world()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def start(world, content, name="stock.csv", *, mapping=None, actor=None):
    """Upload, map as suggested (or as given) and mark running, without enqueuing."""
    actor = actor or world.logistician
    stock_import = stock_import_upload(
        actor=actor, file=upload(content, name), dealer_center=world.dealer_center
    )
    stock_import_set_mapping(
        actor=actor, stock_import=stock_import, mapping=mapping or stock_import.mapping
    )
    return stock_import


def run_task(stock_import):
    """The task's own code, synchronously (what db_worker would run)."""
    return stock_import_process_task.call(stock_import.pk, "en")


def row_with(**changes):
    row = list(SEED_ROW)
    for header, value in changes.items():
        row[HEADERS.index(header)] = value
    return row


def test_upload_stores_the_file_and_its_headers(world):
    stock_import = stock_import_upload(
        actor=world.logistician,
        file=upload(csv_bytes([SEED_ROW, SECOND_ROW]), "остатки.csv"),
        dealer_center=world.dealer_center,
    )

    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.UPLOADED
    assert stock_import.original_name == "остатки.csv"
    assert stock_import.headers == HEADERS
    assert stock_import.total_rows == 2
    assert stock_import.created_by == world.logistician
    assert stock_import.dealer_center == world.dealer_center
    assert stock_import.mapping["1"] == "vin"
    with stock_import.file.open("rb") as stored:
        assert stored.read() == csv_bytes([SEED_ROW, SECOND_ROW])


def test_upload_refuses_a_bad_file_and_stores_nothing(world):
    with pytest.raises(ValidationFailed) as error:
        stock_import_upload(
            actor=world.logistician,
            file=upload(b"%PDF-1.4 ...", "stock.pdf"),
            dealer_center=world.dealer_center,
        )

    assert error.value.field == "file"
    assert StockImport.objects.count() == 0


def test_upload_without_data_rows_is_refused(world):
    with pytest.raises(ValidationFailed, match="no data rows"):
        stock_import_upload(
            actor=world.logistician,
            file=upload(csv_bytes([])),
            dealer_center=world.dealer_center,
        )


def test_upload_needs_the_permission_and_a_visible_dealer_center(world):
    with pytest.raises(NotAllowed):
        stock_import_upload(
            actor=world.manager,
            file=upload(csv_bytes([SEED_ROW])),
            dealer_center=world.dealer_center,
        )
    with pytest.raises(NotAllowed) as error:
        stock_import_upload(
            actor=world.logistician,
            file=upload(csv_bytes([SEED_ROW])),
            dealer_center=world.other_dealer_center,
        )

    assert error.value.field == "dealer_center"
    assert StockImport.objects.count() == 0


def test_mapping_requires_the_required_fields_once_each(world):
    stock_import = stock_import_upload(
        actor=world.logistician,
        file=upload(csv_bytes([SEED_ROW])),
        dealer_center=world.dealer_center,
    )
    without_price = {index: key for index, key in stock_import.mapping.items() if key != "price"}

    with pytest.raises(ValidationFailed) as missing:
        stock_import_set_mapping(
            actor=world.logistician, stock_import=stock_import, mapping=without_price
        )
    with pytest.raises(ValidationFailed) as twice:
        stock_import_set_mapping(
            actor=world.logistician,
            stock_import=stock_import,
            mapping={**stock_import.mapping, "0": "vin"},
        )

    assert missing.value.field == "mapping"
    assert "Price" in missing.value.message
    assert twice.value.field == "column_1"
    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.UPLOADED

    stock_import_set_mapping(
        actor=world.logistician, stock_import=stock_import, mapping={**without_price, "16": "price"}
    )
    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.MAPPED
    assert stock_import.mapping["16"] == "price"


def test_full_import_creates_cars_with_exact_values(world):
    stock_import = start(world, csv_bytes([SEED_ROW, SECOND_ROW], encoding="cp1251"))

    result = run_task(stock_import)

    assert result == {"processed": 2, "created": 2, "updated": 0, "errors": 0}
    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.DONE
    assert stock_import.errors == []
    assert stock_import.finished_at is not None
    car = Vehicle.objects.get(vin=SEED_VIN)
    assert car.stock_code == SEED_VIN
    assert car.make == world.chery
    assert car.car_model.name == "Tiggo 7 Pro Max"
    assert car.trim is not None
    assert car.trim.name == "Ultimate"
    assert car.body is not None
    assert car.body.code == "suv"
    assert car.drive is not None
    assert car.drive.code == "fwd"
    assert car.engine is not None
    assert car.engine.code == "petrol"
    assert car.transmission is not None
    assert car.transmission.code == "cvt"
    assert car.displacement_cc == 1500
    assert car.power_hp == Decimal("147.0")
    assert car.power_kw == Decimal("108.1")  # derived from hp
    assert car.interior == "Кожа"
    assert car.color is not None
    assert car.color.name == "Red/Black"
    assert car.model_year == 2023
    assert car.pts_year == 2023
    assert car.mileage == 2
    assert car.price == Decimal("3119900.00")
    assert car.stock_in_date == dt.date(2023, 11, 18)
    assert car.condition == "new"
    assert car.city.name == "Мурманск"
    assert car.site == world.site
    assert car.consignor == world.consignor
    assert car.dealer_center == world.dealer_center
    assert car.logistics_status.code == "in_showroom"
    assert car.pts_kind == "electronic"
    assert car.pts_present is True
    assert car.pts_buyout_date == dt.date(2023, 3, 23)
    assert car.pts_received_date == dt.date(2023, 3, 23)
    assert car.warranty_start == dt.date(2023, 4, 6)
    assert car.report_date == dt.date(2023, 3, 29)
    assert car.reservation_status == "free"
    history = LogisticsStatusChange.objects.get(vehicle=car)
    assert history.to_status.code == "in_showroom"
    assert history.changed_by == world.logistician

    used = Vehicle.objects.get(vin=SECOND_VIN)
    assert used.stock_code == SECOND_VIN
    assert used.car_model.name == "Tiggo 4"
    assert used.trim is None
    assert used.body is not None
    assert used.body.code == "crossover"
    assert used.displacement_cc == 1498
    assert used.power_hp is None
    assert used.power_kw is None
    assert used.mileage == 15300
    assert used.price == Decimal("1899000.00")
    assert used.stock_in_date == dt.date(2024, 1, 15)
    assert used.condition == "used"
    assert used.consignor is None
    assert used.logistics_status.code == "at_warehouse"
    assert used.pts_kind == "paper"
    assert used.pts_present is False


def test_xlsx_import_with_excel_numbers_and_dates(world):
    row = row_with(**{"Цена": 3119900, "Дата поступления": dt.datetime(2023, 11, 18), "Пробег": 2})
    row[HEADERS.index("Дата рапорта")] = 45014  # an Excel serial number: 29.03.2023
    stock_import = start(world, xlsx_bytes([row]), "stock.xlsx")

    run_task(stock_import)

    car = Vehicle.objects.get(vin=SEED_VIN)
    assert car.price == Decimal("3119900.00")
    assert car.stock_in_date == dt.date(2023, 11, 18)
    assert car.report_date == dt.date(2023, 3, 29)


def test_row_errors_name_row_and_column_and_other_rows_are_imported(world):
    rows = [
        SEED_ROW,
        row_with(**{"VIN": "SHORTVIN", "Код автомобиля": "X1"}),
        row_with(**{"VIN": "LVVDB21B1PD700003", "Код автомобиля": "X3", "Цена": "дорого"}),
        row_with(
            **{
                "VIN": "LVVDB21B1PD700004",
                "Код автомобиля": "X4",
                "Кузов": "Тачанка",
                "Марка": "Lada",
            }
        ),
        row_with(
            **{
                "VIN": "LVVDB21B1PD700005",
                "Код автомобиля": "X5",
                "Площадка": "Казань HAVAL",
                "Город": "Казань",
            }
        ),
        row_with(**{"VIN": "LVVDB21B1PD700006", "Код автомобиля": "X6", "Тип авто": ""}),
        row_with(**{"Код автомобиля": "X7"}),  # the seed's VIN again
        SECOND_ROW,
    ]
    stock_import = start(world, csv_bytes(rows))

    run_task(stock_import)

    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.DONE
    assert (stock_import.processed_rows, stock_import.created_count) == (8, 2)
    assert (stock_import.updated_count, stock_import.error_count) == (0, 6)
    errors = [(error["row"], error["column"]) for error in stock_import.errors]
    assert errors == [
        (3, "VIN"),
        (4, "Цена"),
        (5, "Марка"),
        (5, "Кузов"),
        (6, "Площадка"),
        (7, "Тип авто"),
        (8, "VIN"),
    ]
    messages = {(error["row"], error["column"]): error["message"] for error in stock_import.errors}
    assert "17 characters" in messages[(3, "VIN")]
    assert "Expected a number" in messages[(4, "Цена")]
    assert messages[(5, "Марка")] == "Unknown make «Lada»."
    assert messages[(5, "Кузов")].startswith("Unknown value «Тачанка»; expected one of:")
    assert "another dealer center" in messages[(6, "Площадка")]
    assert messages[(7, "Тип авто")] == "A value is required."
    assert messages[(8, "VIN")] == "This VIN already appears in row 2; the row is skipped."
    assert sorted(Vehicle.objects.values_list("vin", flat=True)) == [SEED_VIN, SECOND_VIN]
    # Catalog rows made for a failed row are rolled back with it.
    assert not CarModel.objects.filter(make__name="Lada").exists()


def test_a_failed_row_rolls_back_catalog_entries_it_created(world):
    row = row_with(**{"Модель": "Arrizo 8", "Комплектация": "Prestige", "Цвет": "Лазурный"})
    row[HEADERS.index("Площадка")] = "Нет такой"
    stock_import = start(world, csv_bytes([row]))

    run_task(stock_import)

    stock_import.refresh_from_db()
    assert stock_import.error_count == 1
    assert stock_import.errors[0]["column"] == "Площадка"
    assert not CarModel.objects.filter(name="Arrizo 8").exists()
    assert not Trim.objects.filter(name="Prestige").exists()
    assert not Color.objects.filter(name="Лазурный").exists()


def test_service_errors_are_reported_on_their_column(world):
    row = row_with(**{"Город": "Казань"})  # the site is in Murmansk
    stock_import = start(world, csv_bytes([row]))

    run_task(stock_import)

    stock_import.refresh_from_db()
    assert stock_import.errors == [
        {"row": 2, "column": "Площадка", "field": "site", "message": "The site is in another city."}
    ]
    assert Vehicle.objects.count() == 0


def test_reimport_with_changed_price_updates_without_duplicates(world):
    first = start(world, csv_bytes([SEED_ROW, SECOND_ROW]))
    run_task(first)
    ids = dict(Vehicle.objects.values_list("vin", "pk"))
    changed = [
        row_with(**{"Цена": "2 999 000,00", "Логистический статус": "Продан"}),
        [*SECOND_ROW[:16], "1 850 000", *SECOND_ROW[17:]],
    ]

    second = start(world, csv_bytes(changed))
    run_task(second)

    second.refresh_from_db()
    assert (second.created_count, second.updated_count, second.error_count) == (0, 2, 0)
    assert Vehicle.objects.count() == 2
    assert dict(Vehicle.objects.values_list("vin", "pk")) == ids
    car = Vehicle.objects.get(vin=SEED_VIN)
    assert car.price == Decimal("2999000.00")
    assert car.logistics_status.code == "sold"
    assert [change.to_status.code for change in car.logistics_history.all()] == [
        "sold",
        "in_showroom",
    ]
    assert Vehicle.objects.get(vin=SECOND_VIN).price == Decimal("1850000.00")
    assert car.history.count() == 3  # created, price updated, logistics status changed


def test_reimport_of_the_same_file_changes_nothing(world):
    content = csv_bytes([SEED_ROW, SECOND_ROW])
    run_task(start(world, content))
    before = list(Vehicle.objects.order_by("pk").values())

    again = start(world, content)
    run_task(again)

    again.refresh_from_db()
    assert (again.created_count, again.updated_count, again.error_count) == (0, 0, 0)
    assert again.processed_rows == 2
    assert list(Vehicle.objects.order_by("pk").values()) == before


def test_rerunning_a_finished_import_does_nothing(world):
    stock_import = start(world, csv_bytes([SEED_ROW, SECOND_ROW]))
    run_task(stock_import)
    stock_import.refresh_from_db()
    finished_at = stock_import.finished_at

    run_task(stock_import)

    stock_import.refresh_from_db()
    assert (stock_import.created_count, stock_import.updated_count) == (2, 0)
    assert stock_import.finished_at == finished_at
    assert Vehicle.objects.count() == 2
    with pytest.raises(Conflict):
        stock_import_run(actor=world.logistician, stock_import=stock_import)


def test_a_crashed_import_resumes_after_its_last_committed_batch(world, monkeypatch):
    rows = [
        row_with(**{"VIN": f"LVVDB21B1PD7{n:05d}", "Код автомобиля": f"C{n}"}) for n in range(7)
    ]
    stock_import = start(world, csv_bytes(rows))
    StockImport.objects.filter(pk=stock_import.pk).update(status=ImportStatus.RUNNING)
    real_import_row = imports._import_row
    calls = {"count": 0}

    def crash_on_the_sixth_row(run, number, cells):
        calls["count"] += 1
        if calls["count"] == 6:
            raise RuntimeError("worker killed")
        return real_import_row(run, number, cells)

    monkeypatch.setattr(imports, "_import_row", crash_on_the_sixth_row)
    with pytest.raises(RuntimeError):
        stock_import_process(stock_import_id=stock_import.pk, batch_size=3)

    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.FAILED
    assert stock_import.processed_rows == 3  # the second batch was rolled back whole
    assert Vehicle.objects.count() == 3

    monkeypatch.setattr(imports, "_import_row", real_import_row)
    stock_import_run(actor=world.logistician, stock_import=stock_import)
    stock_import_process(stock_import_id=stock_import.pk, batch_size=3)

    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.DONE
    assert (stock_import.processed_rows, stock_import.created_count) == (7, 7)
    assert stock_import.updated_count == 0
    assert Vehicle.objects.count() == 7


def test_a_second_worker_skips_batches_already_committed(world):
    rows = [
        row_with(**{"VIN": f"LVVDB21B1PD7{n:05d}", "Код автомобиля": f"C{n}"}) for n in range(5)
    ]
    stock_import = start(world, csv_bytes(rows))
    StockImport.objects.filter(pk=stock_import.pk).update(status=ImportStatus.RUNNING)
    stock_import_process(stock_import_id=stock_import.pk, batch_size=2)
    # A duplicate delivery of the task, as if the first one had been retried.
    StockImport.objects.filter(pk=stock_import.pk).update(status=ImportStatus.RUNNING)

    stock_import_process(stock_import_id=stock_import.pk, batch_size=2)

    stock_import.refresh_from_db()
    assert (stock_import.processed_rows, stock_import.created_count) == (5, 5)
    assert Vehicle.objects.count() == 5


def test_a_car_of_an_invisible_dealer_center_is_not_updated(world):
    run_task(start(world, csv_bytes([SEED_ROW]), actor=world.admin))
    Vehicle.objects.filter(vin=SEED_VIN).update(dealer_center=world.other_dealer_center)

    stock_import = start(world, csv_bytes([row_with(**{"Цена": "1,00"})]))
    run_task(stock_import)

    stock_import.refresh_from_db()
    assert stock_import.error_count == 1
    assert stock_import.errors[0]["column"] == "VIN"
    assert Vehicle.objects.get(vin=SEED_VIN).price == Decimal("3119900.00")


def test_group_storage_site_takes_the_chosen_dealer_center(world):
    row = row_with(**{"Площадка": "Склад Мурманск"})
    run_task(start(world, csv_bytes([row])))

    car = Vehicle.objects.get(vin=SEED_VIN)
    assert car.site == world.storage
    assert car.dealer_center == world.dealer_center


def test_unmapped_columns_are_left_alone_on_update(world):
    run_task(start(world, csv_bytes([SEED_ROW])))
    stock_import = stock_import_upload(
        actor=world.logistician,
        file=upload(csv_bytes([row_with(**{"Цвет": "Синий", "Цена": "3 000 000"})])),
        dealer_center=world.dealer_center,
    )
    mapping = {index: key for index, key in stock_import.mapping.items() if key != "color"}
    stock_import_set_mapping(actor=world.logistician, stock_import=stock_import, mapping=mapping)

    run_task(stock_import)

    car = Vehicle.objects.get(vin=SEED_VIN)
    assert car.price == Decimal("3000000.00")
    assert car.color is not None
    assert car.color.name == "Red/Black"


def test_run_enqueues_the_task_on_commit(world, django_capture_on_commit_callbacks):
    stock_import = start(world, csv_bytes([SEED_ROW]))

    with django_capture_on_commit_callbacks(execute=True):
        stock_import_run(actor=world.logistician, stock_import=stock_import)

    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.RUNNING
    [result] = DBTaskResult.objects.all()
    assert result.task_path == "autocrm.inventory.tasks.stock_import_process_task"
    assert result.args_kwargs["args"][0] == stock_import.pk
    with pytest.raises(Conflict):
        stock_import_run(actor=world.logistician, stock_import=stock_import)


@pytest.mark.django_db(transaction=True)
def test_the_database_worker_runs_the_import():
    world = make_world()
    stock_import = start(world, csv_bytes([SEED_ROW, SECOND_ROW]))
    stock_import_run(actor=world.logistician, stock_import=stock_import)

    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0)

    [result] = DBTaskResult.objects.all()
    assert result.status == TaskResultStatus.SUCCESSFUL, result.traceback
    assert result.return_value == {"processed": 2, "created": 2, "updated": 0, "errors": 0}
    stock_import.refresh_from_db()
    assert stock_import.status == ImportStatus.DONE
    assert Vehicle.objects.count() == 2


def test_error_report_csv(world):
    stock_import = start(world, csv_bytes([row_with(**{"Цена": "=HYPERLINK(1)"})]))
    run_task(stock_import)
    stock_import.refresh_from_db()

    report = imports.stock_import_errors_csv(stock_import=stock_import)

    lines = report.splitlines()
    assert lines[0] == "Row;Column;Error"
    assert lines[1] == "2;Цена;Expected a number, e.g. 3 119 900,00."
