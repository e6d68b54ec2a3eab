"""Reading stock lists: encodings, delimiters, XLSX, values, and header auto-mapping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from autocrm.inventory import imports
from autocrm.inventory.imports import (
    CellError,
    ImportFileError,
    field_for_header,
    parse_bool,
    parse_condition,
    parse_date,
    parse_decimal,
    parse_displacement,
    parse_file,
    parse_pts_kind,
    suggest_mapping,
)
from autocrm.inventory.tests.test_import_fixtures import (
    HEADERS,
    SECOND_ROW,
    SEED_ROW,
    SEED_VIN,
    csv_bytes,
    xlsx_bytes,
)


@pytest.fixture(autouse=True)
def _english():
    # Messages are asserted in English; the site default is Russian.
    with translation.override("en"):
        yield


def rows_of(parsed):
    return list(parsed.rows)


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("utf-8", ";"),
        ("utf-8", ","),
        ("utf-8-sig", ";"),
        ("utf-8-sig", ","),
        ("cp1251", ";"),
        ("cp1251", ","),
    ],
)
def test_csv_in_each_encoding_and_delimiter(encoding, delimiter):
    content = csv_bytes([SEED_ROW, SECOND_ROW], delimiter=delimiter, encoding=encoding)

    parsed = parse_file("stock.csv", content)

    assert parsed.headers == HEADERS
    rows = rows_of(parsed)
    assert [number for number, _row in rows] == [2, 3]
    assert rows[0][1] == SEED_ROW
    assert rows[0][1][16] == "3 119 900,00"
    assert rows[1][1][3] == "Tiggo 4"


def test_cp1251_is_really_cp1251_and_utf8_bom_is_dropped():
    assert csv_bytes([SEED_ROW], encoding="cp1251").startswith("Код".encode("cp1251"))
    bom = csv_bytes([SEED_ROW], encoding="utf-8-sig")
    assert bom.startswith(b"\xef\xbb\xbf")
    assert parse_file("stock.csv", bom).headers[0] == "Код автомобиля"


def test_csv_blank_lines_are_skipped_but_keep_spreadsheet_row_numbers():
    content = b"VIN;Price\r\n\r\nAAA;1\r\n;\r\nBBB;2\r\n"

    parsed = parse_file("stock.csv", content)

    assert parsed.headers == ["VIN", "Price"]
    assert rows_of(parsed) == [(3, ["AAA", "1"]), (5, ["BBB", "2"])]


def test_quoted_cells_with_delimiters_inside():
    content = 'VIN,Цена,Описание\n"X1","3 119 900,00","Кожа, панорама"\n'.encode()

    parsed = parse_file("stock.csv", content)

    assert rows_of(parsed) == [(2, ["X1", "3 119 900,00", "Кожа, панорама"])]


def test_xlsx_read_with_typed_cells_and_a_title_above_the_header():
    row = [
        SEED_VIN,
        SEED_VIN,
        "Chery",
        "Tiggo 7 Pro Max",
        None,
        None,
        None,
        None,
        None,
        147,
        None,
        None,
        None,
        2023,
        2023,
        2,
        3119900.0,
        dt.datetime(2023, 11, 18),
        "Новый",
        "Мурманск",
        "Мурманск CHERY",
    ]
    content = xlsx_bytes([row], title="Остатки автомобилей на 01.12.2023")

    parsed = parse_file("stock.xlsx", content)

    assert parsed.headers == HEADERS
    [(number, cells)] = rows_of(parsed)
    assert number == 4  # title, blank line, header
    assert cells[16] == 3119900
    assert cells[17] == dt.datetime(2023, 11, 18)


def test_xlsx_detected_by_content_even_with_another_name():
    parsed = parse_file("export", xlsx_bytes([SEED_ROW]))

    assert parsed.headers[1] == "VIN"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("stock.pdf", b"%PDF-1.4", "CSV or XLSX"),
        ("stock.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "XLSX or CSV"),
        ("stock.xlsx", b"not a zip", "not a valid XLSX"),
        ("stock.xlsx", b"PK\x03\x04broken", "not a valid XLSX"),
        ("stock.csv", b"", "empty"),
        ("stock.csv", b"\r\n\r\n", "empty"),
    ],
)
def test_unreadable_files_are_refused_with_a_message(name, content, message):
    with pytest.raises(ImportFileError) as error:
        parse_file(name, content)

    assert message in error.value.message
    assert error.value.field == "file"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3 119 900,00", Decimal("3119900.00")),
        ("3\u00a0119\u00a0900,00", Decimal("3119900.00")),
        ("3119900.5", Decimal("3119900.5")),
        ("3,119,900.00", Decimal("3119900.00")),
        ("3.119.900,00", Decimal("3119900.00")),
        ("1.234.567", Decimal("1234567")),
        ("3 119 900 руб.", Decimal("3119900")),
        ("3 119 900 ₽", Decimal("3119900")),
        (3119900.0, Decimal("3119900.0")),
        (2, Decimal(2)),
    ],
)
def test_numbers(raw, expected):
    assert parse_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1,2,3.4.5", "12-34", True])
def test_not_numbers(raw):
    with pytest.raises(CellError):
        parse_decimal(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("29.03.2023", dt.date(2023, 3, 29)),
        ("2023-03-29", dt.date(2023, 3, 29)),
        ("29.03.2023 0:00:00", dt.date(2023, 3, 29)),
        ("2023-03-29T10:00:00", dt.date(2023, 3, 29)),
        (dt.datetime(2023, 3, 29, 12, 0), dt.date(2023, 3, 29)),
        (dt.date(2023, 3, 29), dt.date(2023, 3, 29)),
        (45014, dt.date(2023, 3, 29)),  # an Excel serial day number
        ("45014", dt.date(2023, 3, 29)),
    ],
)
def test_dates(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["31.02.2023", "yesterday", "2023/13/01", "2023", 2023, 12])
def test_not_dates(raw):
    with pytest.raises(CellError):
        parse_date(raw)


def test_words():
    assert parse_condition("Новый") == "new"
    assert parse_condition("С пробегом") == "used"
    assert parse_condition("б/у") == "used"
    assert parse_condition("USED") == "used"
    assert parse_pts_kind("электронный") == "electronic"
    assert parse_pts_kind("ЭПТС") == "electronic"
    assert parse_pts_kind("Бумажный") == "paper"
    assert parse_bool("Да") is True
    assert parse_bool("нет") is False
    assert parse_bool(1) is True
    assert parse_displacement("1,5") == 1500
    assert parse_displacement("1498") == 1498
    with pytest.raises(CellError):
        parse_condition("почти новый")
    with pytest.raises(CellError):
        parse_bool("может быть")


def test_russian_headers_map_to_fields():
    mapping = suggest_mapping(HEADERS)

    assert {HEADERS[int(index)]: key for index, key in mapping.items()} == {
        "Код автомобиля": "stock_code",
        "VIN": "vin",
        "Марка": "make",
        "Модель": "model",
        "Комплектация": "trim",
        "Кузов": "body",
        "Привод": "drive",
        "Двигатель": "engine",
        "Объем двигателя": "displacement_cc",
        "Мощность (л.с.)": "power_hp",
        "КПП": "transmission",
        "Салон": "interior",
        "Цвет": "color",
        "Модельный год": "model_year",
        "Год выпуска по ПТС": "pts_year",
        "Пробег": "mileage",
        "Цена": "price",
        "Дата поступления": "stock_in_date",
        "Тип авто": "condition",
        "Город": "city",
        "Площадка": "site",
        "Консигнатор": "consignor",
        "Логистический статус": "logistics_status",
        "ПТС": "pts_kind",
        "Наличие ПТС": "pts_present",
        "Дата выкупа ПТС": "pts_buyout_date",
        "Дата получения ПТС": "pts_received_date",
        "Гарантия от импортера (Н...)": "warranty_start",
        "Дата рапорта": "report_date",
    }


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Мощность (кВт)", "power_kw"),
        ("Мощность двигателя (л.с.)", "power_hp"),
        ("Год выпуска по ПТС/ЭПТС", "pts_year"),
        ("Гарантия от импортера (К...)", "warranty_end"),
        ("План. дата поставки авто ...", "planned_delivery_date"),
        ("Кол-во владельцев", "owners_count"),
        ("Объём двигателя", "displacement_cc"),
        ("  vin  ", "vin"),
        ("Make", "make"),
        ("Model year", "model_year"),
        ("Price", "price"),
        ("Colour", "color"),
        ("Stock-in date", "stock_in_date"),
        ("Something else", None),
        ("", None),
    ],
)
def test_more_headers(header, field):
    assert field_for_header(header) == field


def test_a_field_is_suggested_for_its_first_column_only():
    assert suggest_mapping(["Цена", "Стоимость", "VIN"]) == {"0": "price", "2": "vin"}


def test_every_required_field_has_an_alias():
    assert set(imports.REQUIRED_FIELDS) == {
        "vin",
        "make",
        "model",
        "price",
        "condition",
        "city",
        "site",
    }


def test_error_report_cells_cannot_start_a_formula():
    assert imports._csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert imports._csv_safe("+7 999") == "'+7 999"
    assert imports._csv_safe("Цена") == "Цена"
    assert imports._csv_safe(2) == "2"
