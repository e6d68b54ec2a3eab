"""Import of a dealer's stock list from CSV or XLSX: reading, column mapping, validation, upsert.

The flow has three steps, each a service:

1. ``stock_import_upload`` stores the file and its header row (status *uploaded*), so an
   upload is never lost even if the mapping is left for later;
2. ``stock_import_set_mapping`` saves which vehicle field each file column fills
   (status *mapped*); ``suggest_mapping`` proposes it from Russian and English headers;
3. ``stock_import_run`` queues the background task, which calls ``stock_import_process``.

``stock_import_process`` works in batches, each in its own transaction together with the
progress counters, so a crash loses at most the batch in flight and a retry continues
where the last committed batch ended. A row is matched to the car in stock with the same
VIN: a new VIN creates a car (``services.vehicle_create``), a known one is updated with the
fields that changed (``services.vehicle_update``). A bad row is reported and skipped; it
never stops the import.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, transaction
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from autocrm.accounts.models import Brand, City, Consignor, DealerCenter, Site
from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.core.errors import Conflict, DomainError, NotAllowed, ValidationFailed
from autocrm.inventory import services
from autocrm.inventory.models import (
    BodyType,
    CarModel,
    CatalogEntry,
    Color,
    Condition,
    DriveType,
    EngineType,
    ImportStatus,
    LogisticsStatus,
    PtsKind,
    StockImport,
    Transmission,
    Trim,
    Vehicle,
)
from autocrm.inventory.vin import normalize_vin

logger = logging.getLogger(__name__)

MAX_FILE_SIZE = 20 * 1024 * 1024
BATCH_SIZE = 100
PREVIEW_ROWS = 5
# Every error is counted, but only this many are kept: a file with a wrong column mapping
# would otherwise store a message per row and per column.
MAX_STORED_ERRORS = 10_000
# A worker that made no progress for this long has most likely died; the import may be resumed.
STALE_AFTER = timedelta(minutes=5)
# Rows above the header (an export's title, the report date ...) are skipped; the header is
# the row among the first ones that has the most recognised column names.
HEADER_SEARCH_ROWS = 20


class ImportFileError(ValidationFailed):
    """The file cannot be read as a stock list at all."""

    code = "bad_file"


# --------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class ImportField:
    """A vehicle field a file column can fill."""

    key: str
    label: str | Promise
    kind: str
    required: bool = False
    aliases: tuple[str, ...] = ()


# fmt: off
_FIELD_TABLE: tuple[tuple[str, str | Promise, str, bool, str], ...] = (
    # key, label, kind, required, header names (normalised: see normalize_header), "|"-separated
    ("vin", gettext_lazy("VIN"), "vin", True, "vin|вин|vin код|vin номер|номер vin|идентификационный номер|vin code"),
    ("stock_code", gettext_lazy("Stock code"), "text", False, "код автомобиля|код авто|код|складской номер|складской код|stock code|stock number|stock no"),
    ("make", gettext_lazy("Make"), "make", True, "марка|марка автомобиля|бренд|make|brand"),
    ("model", gettext_lazy("Model"), "model", True, "модель|модель автомобиля|model"),
    ("trim", gettext_lazy("Trim"), "trim", False, "комплектация|комплектации|trim|grade|complectation"),
    ("body", gettext_lazy("Body"), "catalog", False, "кузов|тип кузова|body|body type"),
    ("drive", gettext_lazy("Drive"), "catalog", False, "привод|тип привода|drive|drive type"),
    ("engine", gettext_lazy("Engine type"), "catalog", False, "двигатель|тип двигателя|топливо|тип топлива|engine|engine type|fuel|fuel type"),
    ("displacement_cc", gettext_lazy("Engine displacement, cm³"), "displacement", False, "объем двигателя|объем двигателя см3|объем двигателя куб см|объем двигателя л|рабочий объем|объем|displacement|engine displacement|engine volume"),
    ("power_hp", gettext_lazy("Power, hp"), "power", False, "мощность л с|мощность двигателя л с|мощность лс|мощность|л с|power hp|power|hp|horsepower"),
    ("power_kw", gettext_lazy("Power, kW"), "power", False, "мощность квт|мощность двигателя квт|квт|power kw|kw"),
    ("transmission", gettext_lazy("Transmission"), "catalog", False, "кпп|коробка передач|коробка|трансмиссия|тип кпп|transmission|gearbox"),
    ("interior", gettext_lazy("Interior"), "text", False, "салон|отделка салона|обивка салона|материал салона|interior"),
    ("color", gettext_lazy("Colour"), "color", False, "цвет|цвет кузова|color|colour"),
    ("model_year", gettext_lazy("Model year"), "year", False, "модельный год|год модели|model year"),
    ("pts_year", gettext_lazy("Year by (E)PTS"), "year", False, "год выпуска по птс|год выпуска по птс эптс|год выпуска по эптс|год по птс|год выпуска|год|year|year of manufacture|production year"),
    ("mileage", gettext_lazy("Mileage, km"), "int", False, "пробег|пробег км|mileage|odometer|mileage km"),
    ("price", gettext_lazy("Price"), "money", True, "цена|цена авто|цена автомобиля|цена руб|стоимость|розничная цена|price|retail price"),
    ("stock_in_date", gettext_lazy("Stock-in date"), "date", False, "дата поступления|дата поступления на склад|дата прихода|дата приемки|stock in date|arrival date|date in stock"),
    ("condition", gettext_lazy("Condition (new/used)"), "condition", True, "тип авто|тип автомобиля|новый с пробегом|новый б у|состояние|condition|new used|type"),
    ("right_hand_drive", gettext_lazy("Right-hand drive"), "bool", False, "правый руль|right hand drive|rhd"),
    ("warranty_start", gettext_lazy("Importer warranty start"), "date", False, "гарантия от импортера начало|начало гарантии|дата начала гарантии|гарантия с|warranty start"),
    ("warranty_end", gettext_lazy("Importer warranty end"), "date", False, "гарантия от импортера конец|окончание гарантии|дата окончания гарантии|гарантия по|warranty end"),
    ("planned_delivery_date", gettext_lazy("Planned delivery date"), "date", False, "план дата поставки авто|план дата поставки автомобиля|план дата поставки|плановая дата поставки|planned delivery date"),
    ("actual_delivery_date", gettext_lazy("Actual delivery date"), "date", False, "факт дата поставки авто|факт дата поставки автомобиля|факт дата поставки|фактическая дата поставки|actual delivery date"),
    ("logistics_status", gettext_lazy("Logistics status"), "catalog", False, "логистический статус|статус логистики|статус поставки|logistics status"),
    ("description", gettext_lazy("Description"), "text", False, "описание|описание автомобиля|комментарий|примечание|description|comment|notes"),
    ("pts_kind", gettext_lazy("PTS kind (paper/electronic)"), "pts_kind", False, "птс|вид птс|тип птс|птс эптс|pts|pts kind|pts type"),
    ("pts_number", gettext_lazy("PTS number"), "text", False, "номер птс|номер эптс|номер птс эптс|pts number"),
    ("pts_present", gettext_lazy("PTS present"), "bool", False, "наличие птс|птс в наличии|pts present"),
    ("pts_buyout_date", gettext_lazy("PTS buy-out date"), "date", False, "дата выкупа птс|pts buyout date|pts buy out date"),
    ("pts_received_date", gettext_lazy("PTS received date"), "date", False, "дата получения птс|pts received date"),
    ("pts_storage_place", gettext_lazy("PTS storage place"), "text", False, "место хранения птс|pts storage place"),
    ("credit_sale", gettext_lazy("Credit sale"), "bool", False, "реализация в кредит|credit sale"),
    ("trade_in_sale", gettext_lazy("Trade-in sale"), "bool", False, "реализация в зачет|trade in sale"),
    ("pledged", gettext_lazy("Pledged"), "bool", False, "в залоге|в залого|залог|pledged"),
    ("ord_present", gettext_lazy("ORD present"), "bool", False, "наличие орд|орд|ord present|ord"),
    ("city", gettext_lazy("City"), "city", True, "город|city"),
    ("site", gettext_lazy("Site"), "site", True, "площадка|site|lot"),
    ("consignor", gettext_lazy("Consignor"), "consignor", False, "консигнатор|собственник|consignor"),
    ("owners_count", gettext_lazy("Number of owners"), "int", False, "кол во владельцев|количество владельцев|число владельцев|владельцев|owners|owners count|number of owners"),
    ("history_report_url", gettext_lazy("Vehicle-history report"), "url", False, "отчет автотеки|автотека|ссылка на отчет автотеки|history report|vehicle history report"),
    ("history_report_date", gettext_lazy("Vehicle-history report date"), "date", False, "дата отчета автотеки|history report date"),
    ("report_date", gettext_lazy("Report date"), "date", False, "дата рапорта|report date"),
)
# Spellings found in dealers' exports for catalog entries, by catalog code.
_CATALOG_SYNONYMS: dict[str, dict[str, str]] = {
    "drive": {"передний привод": "fwd", "2wd": "fwd", "задний привод": "rwd", "полный привод": "awd", "4wd": "awd", "4x4": "awd"},
    "engine": {"бензиновый": "petrol", "бенз": "petrol", "дизельный": "diesel", "дт": "diesel", "электрический": "electric", "электромобиль": "electric", "ev": "electric", "гибридный": "hybrid"},
    "transmission": {"мкпп": "manual", "мт": "manual", "mt": "manual", "акпп": "automatic", "ат": "automatic", "at": "automatic", "автоматическая": "automatic", "ркпп": "robot", "amt": "robot", "dct": "robot", "dsg": "robot", "роботизированная": "robot"},
}
# fmt: on

IMPORT_FIELDS: dict[str, ImportField] = {
    key: ImportField(key, label, kind, required, tuple(aliases.split("|")))
    for key, label, kind, required, aliases in _FIELD_TABLE
}
REQUIRED_FIELDS: tuple[str, ...] = tuple(
    key for key, item in IMPORT_FIELDS.items() if item.required
)
# Field names used by the vehicle services, where they differ from ours.
_SERVICE_FIELD_TO_KEY = {"car_model": "model"}
_CATALOG_MODELS: dict[str, type[CatalogEntry]] = {
    "body": BodyType,
    "drive": DriveType,
    "engine": EngineType,
    "transmission": Transmission,
    "logistics_status": LogisticsStatus,
}


def normalize_header(value: object) -> str:
    """Lower case, ё → е, punctuation to spaces: «Мощность (л.с.)» → «мощность л с»."""
    text = str(value or "").casefold().replace("ё", "е")
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for item in IMPORT_FIELDS.values():
        for alias in (item.key, *item.aliases):
            index.setdefault(normalize_header(alias), item.key)
    return index


_ALIASES = _alias_index()


def field_for_header(header: object) -> str | None:
    """The field a column header names, or None. Truncated headers («Гарантия от импортера
    (Н...») match when they are the start of exactly one known name."""
    name = normalize_header(header)
    if not name:
        return None
    if name in _ALIASES:
        return _ALIASES[name]
    if len(name) >= 6:
        candidates = {key for alias, key in _ALIASES.items() if alias.startswith(name)}
        if len(candidates) == 1:
            return candidates.pop()
    return None


def suggest_mapping(headers: Iterable[object]) -> dict[str, str]:
    """``{column index: field}`` for the recognised headers; a field is taken once."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        key = field_for_header(header)
        if key and key not in taken:
            mapping[str(index)] = key
            taken.add(key)
    return mapping


# --------------------------------------------------------------------------- reading files

Cell = Any


@dataclass
class ParsedFile:
    headers: list[str]
    # (row number as the spreadsheet shows it, the cells) for every non-empty data row
    rows: Iterator[tuple[int, list[Cell]]]


def file_kind(name: str, content: bytes) -> str:
    """``"xlsx"`` or ``"csv"``; anything else is refused with a message naming the file."""
    suffix = PurePath(name).suffix.lower()
    is_zip = content[:4] == b"PK\x03\x04"
    if suffix == ".xlsx" or (suffix != ".csv" and is_zip):
        if not is_zip:
            raise ImportFileError(_("The file is not a valid XLSX workbook."), field="file")
        return "xlsx"
    if suffix == ".xls" or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError(
            _("Excel 97–2003 files (.xls) are not supported: save the sheet as XLSX or CSV."),
            field="file",
        )
    if suffix not in (".csv", ".txt"):
        raise ImportFileError(_("Upload a CSV or XLSX file."), field="file")
    if b"\x00" in content[:4096]:
        raise ImportFileError(_("The file is not a text CSV file."), field="file")
    return "csv"


def decode_csv(content: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1251 — what Russian Excel saves as CSV."""
    if content.startswith(codecs.BOM_UTF8):
        return content[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1251", errors="replace")


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most columns, consistently."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    sample = "\n".join(lines)
    best, best_score = ",", (-1, -1)
    for delimiter in (";", ",", "\t", "|"):
        widths = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter)]
        if not widths or max(widths) < 2:
            continue
        most_common = max(set(widths), key=widths.count)
        score = (widths.count(most_common), most_common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_rows(content: bytes) -> Iterator[list[Cell]]:
    text = decode_csv(content)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=detect_delimiter(text))
    try:
        yield from reader
    except csv.Error as error:
        raise ImportFileError(
            _("The CSV file is malformed: %(error)s") % {"error": error}, field="file"
        ) from None


def _xlsx_rows(content: bytes) -> Iterator[list[Cell]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        logger.info("unreadable xlsx: %s", error)
        raise ImportFileError(_("The file is not a valid XLSX workbook."), field="file") from None
    try:
        sheet = workbook.worksheets[0]
        # Some writers store a wrong sheet size, and read-only mode trusts it.
        reset_dimensions = getattr(sheet, "reset_dimensions", None)
        if reset_dimensions is not None:
            reset_dimensions()
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def _is_empty(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def parse_file(name: str, content: bytes) -> ParsedFile:
    """Headers and data rows of a stock list. Empty rows are skipped everywhere, so that the
    n-th data row is the same row on every read of the same file (imports resume by count)."""
    kind = file_kind(name, content)
    source = _xlsx_rows(content) if kind == "xlsx" else _csv_rows(content)
    numbered = ((number, row) for number, row in enumerate(source, start=1) if row)
    head: list[tuple[int, list[Cell]]] = []
    for number, row in numbered:
        if any(not _is_empty(cell) for cell in row):
            head.append((number, row))
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    if not head:
        raise ImportFileError(_("The file is empty."), field="file")
    scores = [sum(1 for cell in row if field_for_header(cell) is not None) for _number, row in head]
    best = max(scores)
    header_at = scores.index(best) if best >= 2 else 0
    header_cells = list(head[header_at][1])
    while header_cells and _is_empty(header_cells[-1]):
        header_cells.pop()
    headers = [_header_text(cell, index) for index, cell in enumerate(header_cells)]
    if not headers:
        raise ImportFileError(_("The file has no header row."), field="file")

    def data_rows() -> Iterator[tuple[int, list[Cell]]]:
        for number, row in head[header_at + 1 :]:
            yield number, row
        for number, row in numbered:
            if any(not _is_empty(cell) for cell in row):
                yield number, row

    return ParsedFile(headers=headers, rows=data_rows())


def _header_text(cell: Cell, index: int) -> str:
    text = " ".join(str(cell).split()) if cell is not None else ""
    return text or _("Column %(number)s") % {"number": index + 1}


def _read_stored(stock_import: StockImport) -> bytes:
    try:
        with stock_import.file.open("rb") as stored:
            return stored.read()
    except (OSError, ValueError):
        raise ImportFileError(
            _("The uploaded file is missing from storage."), field="file"
        ) from None


def stock_import_preview(
    *, stock_import: StockImport, limit: int = PREVIEW_ROWS
) -> list[list[str]]:
    """The first data rows, as text, padded to the header's width (the mapping page)."""
    parsed = parse_file(stock_import.original_name, _read_stored(stock_import))
    width = len(parsed.headers)
    preview: list[list[str]] = []
    for _number, row in parsed.rows:
        cells = [_display(cell) for cell in row[:width]]
        preview.append(cells + [""] * (width - len(cells)))
        if len(preview) >= limit:
            break
    return preview


def _display(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.strftime("%d.%m.%Y") if cell.time() == datetime.min.time() else str(cell)
    if isinstance(cell, date):
        return cell.strftime("%d.%m.%Y")
    return str(cell).strip()


# --------------------------------------------------------------------------- values


class CellError(Exception):
    """A cell's value cannot be used; the message is for the user."""


class _DependsOnAnError(Exception):
    """A model without a usable make, a trim without a usable model: reported once, there."""


_EMPTY_VALUES = {"", "-", "—", "–", "n/a", "нет данных"}
_TRUE = {"да", "yes", "y", "true", "1", "+", "x", "х", "✓", "✔", "v", "есть", "в наличии", "д"}
_FALSE = {"нет", "no", "n", "false", "0", "отсутствует", "н"}
_NEW = {"новый", "новая", "новое", "нов", "new", "н"}
_USED = {"с пробегом", "б у", "бу", "used", "подержанный", "пробег", "с пробегом trade in"}
_ELECTRONIC = {"электронный", "эптс", "электронный птс", "electronic", "epts", "e", "э"}
_PAPER = {"бумажный", "бумажный птс", "paper", "б"}
_UNIT_SUFFIX = re.compile(
    r"(руб\.?|р\.|₽|rub|км|km|л\.\s*с\.?|hp|квт|kw|см3|см³|куб\.?\s*см|cm3|cc|г\.|год)$",
    re.IGNORECASE,
)
_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y", "%d/%m/%Y", "%Y.%m.%d")


def _is_blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and cell.strip().casefold() in _EMPTY_VALUES)


def parse_decimal(cell: Cell) -> Decimal:
    """«3 119 900,00», «3119900.5», «1.234.567», 3119900.0 (an Excel number) → Decimal."""
    if isinstance(cell, bool):
        raise CellError(_("Expected a number."))
    if isinstance(cell, int | Decimal):
        return Decimal(cell)
    if isinstance(cell, float):
        return Decimal(repr(cell))
    text = re.sub(r"[\s'’]", "", str(cell))
    text = _UNIT_SUFFIX.sub("", text)
    if "," in text and "." in text:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        text = text.replace(thousands, "").replace(decimal_mark, ".")
    elif text.count(",") == 1:
        text = text.replace(",", ".")
    elif text.count(",") > 1:
        text = text.replace(",", "")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise CellError(_("Expected a number, e.g. 3 119 900,00."))
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CellError(_("Expected a number, e.g. 3 119 900,00.")) from None


def parse_int(cell: Cell, *, maximum: int = 2_147_483_647) -> int:
    value = parse_decimal(cell)
    if value != value.to_integral_value():
        raise CellError(_("Expected a whole number."))
    if not 0 <= value <= maximum:
        raise CellError(_("The number is out of range."))
    return int(value)


def parse_date(cell: Cell) -> date:
    """dd.mm.yyyy, yyyy-mm-dd (with or without a time) or an Excel date / serial number."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, int | float | Decimal) and not isinstance(cell, bool):
        return _excel_serial(float(cell))
    text = str(cell).strip()
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return _excel_serial(float(text))
    head = re.split(r"[ T]", text, maxsplit=1)[0]
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(head, pattern).date()
        except ValueError:
            continue
    raise CellError(_("Expected a date such as 31.12.2023 or 2023-12-31."))


def _excel_serial(serial: float) -> date:
    from openpyxl.utils.datetime import from_excel

    # Only 1954–2119: a bare year such as 2023 in a date column must not become 1905-07-15.
    if not 20_000 <= serial < 80_000:
        raise CellError(_("Expected a date such as 31.12.2023 or 2023-12-31."))
    value = from_excel(serial)
    return value.date() if isinstance(value, datetime) else value


def parse_year(cell: Cell) -> int:
    if isinstance(cell, date | datetime):
        return cell.year
    year = parse_int(cell, maximum=9999)
    if not 1900 <= year <= 2100:
        raise CellError(_("Expected a year such as 2023."))
    return year


def parse_bool(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float):
        return bool(cell)
    word = normalize_header(cell) or str(cell).strip()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise CellError(_("Expected yes or no (Да/Нет)."))


def parse_condition(cell: Cell) -> str:
    word = normalize_header(cell)
    if word in _NEW:
        return Condition.NEW
    if word in _USED or word.startswith("с пробегом") or word.startswith("б у"):
        return Condition.USED
    raise CellError(_("Expected «Новый» or «С пробегом» (new or used)."))


def parse_pts_kind(cell: Cell) -> str:
    word = normalize_header(cell)
    if word in _ELECTRONIC or word.startswith("электрон") or word.startswith("эптс"):
        return PtsKind.ELECTRONIC
    if word in _PAPER or word.startswith("бумаж"):
        return PtsKind.PAPER
    raise CellError(_("Expected «электронный» or «бумажный» (electronic or paper)."))


def parse_displacement(cell: Cell) -> int:
    """Cubic centimetres; small figures are litres (1,5 → 1500 cm³)."""
    value = parse_decimal(cell)
    if value < 0:
        raise CellError(_("The number is out of range."))
    if value < 20:
        value *= 1000
    return int(value.quantize(Decimal("1")))


def parse_power(cell: Cell) -> Decimal:
    value = parse_decimal(cell).quantize(Decimal("0.1"))
    if not 0 < value < 100_000:
        raise CellError(_("The number is out of range."))
    return value


def _text(cell: Cell) -> str:
    return _display(cell)


# --------------------------------------------------------------------------- catalogs


def _max_length(model: type[Any], name: str) -> int:
    return int(getattr(model._meta.get_field(name), "max_length", None) or 10**9)


def _key(value: object) -> str:
    return " ".join(str(value).split()).casefold().replace("ё", "е")


class _Catalogs:
    """Reference data of one import run, loaded once and matched case-insensitively in
    Python (SQLite folds the case of ASCII letters only, and catalog names are Russian)."""

    def __init__(self) -> None:
        self.brands = self._index(Brand.objects.order_by("pk"), "name", "code")
        self.entries = {
            key: self._index(model._default_manager.order_by("pk"), "name", "code")
            for key, model in _CATALOG_MODELS.items()
        }
        self.colors = self._index(Color.objects.order_by("pk"), "name")
        self.cities: dict[str, list[City]] = {}
        for city in City.objects.order_by("pk"):
            self.cities.setdefault(_key(city.name), []).append(city)
        self.sites = self._index(
            Site.objects.select_related("dealer_center").order_by("pk"), "name"
        )
        self.consignors = self._index(Consignor.objects.order_by("pk"), "name", "inn")
        self.models: dict[int, dict[str, CarModel]] = {}
        self.trims: dict[int, dict[str, Trim]] = {}
        # Created inside a row's savepoint: cached only once the row is saved, because a
        # failed row rolls them back.
        self.pending: list[Callable[[], object]] = []

    @staticmethod
    def _index(queryset: Iterable[Any], *attributes: str) -> dict[str, Any]:
        index: dict[str, Any] = {}
        for item in queryset:
            for attribute in attributes:
                value = getattr(item, attribute)
                if value:
                    index.setdefault(_key(value), item)
        return index

    def commit_row(self) -> None:
        for action in self.pending:
            action()
        self.pending.clear()

    def discard_row(self) -> None:
        self.pending.clear()

    def make(self, value: Cell) -> Brand:
        brand = self.brands.get(_key(value))
        if brand is None:
            raise CellError(_("Unknown make «%(value)s».") % {"value": _text(value)})
        return brand

    def car_model(self, make: Brand, value: Cell) -> CarModel:
        by_name = self.models.get(make.pk)
        if by_name is None:
            by_name = self._index(CarModel.objects.filter(make=make).order_by("pk"), "name")
            self.models[make.pk] = by_name
        name = _text(value)
        found = by_name.get(_key(name))
        if found is None:
            if len(name) > _max_length(CarModel, "name"):
                raise CellError(_("The value is too long."))
            found = services.catalog_model_get_or_create(make=make, name=name)
            created = found
            self.pending.append(lambda: by_name.setdefault(_key(name), created))
        return found

    def trim(self, car_model: CarModel, value: Cell) -> Trim:
        by_name = self.trims.get(car_model.pk)
        if by_name is None:
            by_name = self._index(Trim.objects.filter(car_model=car_model).order_by("pk"), "name")
            self.trims[car_model.pk] = by_name
        name = _text(value)
        found = by_name.get(_key(name))
        if found is None:
            if len(name) > _max_length(Trim, "name"):
                raise CellError(_("The value is too long."))
            found = services.catalog_trim_get_or_create(car_model=car_model, name=name)
            created = found
            self.pending.append(lambda: by_name.setdefault(_key(name), created))
        return found

    def entry(self, key: str, value: Cell) -> CatalogEntry:
        index = self.entries[key]
        wanted = _key(_text(value))
        found = index.get(wanted)
        if found is None:
            code = _CATALOG_SYNONYMS.get(key, {}).get(normalize_header(value))
            found = index.get(code) if code else None
        if found is None:
            choices = ", ".join(sorted({entry.name for entry in index.values()}))
            raise CellError(
                _("Unknown value «%(value)s»; expected one of: %(choices)s.")
                % {"value": _text(value), "choices": choices}
            )
        return found

    def color(self, value: Cell) -> Color:
        name = _text(value)
        found = self.colors.get(_key(name))
        if found is None:
            if len(name) > _max_length(Color, "name"):
                raise CellError(_("The value is too long."))
            found, _created = Color.objects.get_or_create(name=name)
            created = found
            self.pending.append(lambda: self.colors.setdefault(_key(name), created))
        return found

    def city(self, value: Cell, *, preferred: City | None) -> City:
        cities = self.cities.get(_key(_text(value)), [])
        if not cities:
            raise CellError(_("Unknown city «%(value)s».") % {"value": _text(value)})
        if len(cities) > 1 and preferred is not None and preferred in cities:
            return preferred
        return cities[0]

    def site(self, value: Cell) -> Site:
        found = self.sites.get(_key(_text(value)))
        if found is None:
            raise CellError(_("Unknown site «%(value)s».") % {"value": _text(value)})
        return found

    def consignor(self, value: Cell) -> Consignor:
        found = self.consignors.get(_key(_text(value)))
        if found is None:
            raise CellError(_("Unknown consignor «%(value)s».") % {"value": _text(value)})
        return found


# --------------------------------------------------------------------------- one row


@dataclass
class RowError:
    row: int
    column: str
    field: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class _Run:
    stock_import: StockImport
    actor: Any
    columns: dict[str, int]  # field → column index
    headers: list[str]
    catalogs: _Catalogs
    first_row_of_vin: dict[str, int] = field(default_factory=dict)

    def column_of(self, key: str) -> str:
        index = self.columns.get(key)
        return self.headers[index] if index is not None else ""


_TEXT_FIELDS = ("stock_code", "interior", "pts_number", "pts_storage_place", "history_report_url")
_SMALL_INT_MAX = 32767


def _convert_row(run: _Run, cells: list[Cell]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Vehicle field values of a row (only the mapped columns) and the (field, message) errors.

    A mapped column with an empty cell clears the field: the file is the truth for the
    columns it has. Columns that are not mapped leave the car's data as it is.
    """
    values: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []

    def cell(key: str) -> Cell:
        index = run.columns[key]
        return cells[index] if index < len(cells) else None

    for key in (*REQUIRED_FIELDS, *[k for k in IMPORT_FIELDS if k not in REQUIRED_FIELDS]):
        if key not in run.columns:
            continue
        spec = IMPORT_FIELDS[key]
        raw = cell(key)
        if _is_blank(raw):
            if spec.required:
                errors.append((key, _("A value is required.")))
            else:
                values.update(_cleared(key, spec.kind))
            continue
        try:
            values.update(_convert_cell(run, key, spec.kind, raw, values))
        except _DependsOnAnError:
            continue  # the make (or model) column already has an error for this row
        except CellError as error:
            errors.append((key, str(error)))
    return values, errors


def _cleared(key: str, kind: str) -> dict[str, Any]:
    if key in ("stock_code", "stock_in_date", "logistics_status"):
        return {}  # never cleared: a stock code defaults to the VIN, the others have workflows
    if key == "mileage":
        return {"mileage": 0}
    if kind == "bool":
        return {key: False}
    if kind in ("text", "url", "pts_kind"):
        return {key: ""}
    return {key: None}


def _convert_cell(
    run: _Run, key: str, kind: str, raw: Cell, values: Mapping[str, Any]
) -> dict[str, Any]:
    catalogs = run.catalogs
    if kind == "vin":
        return {"vin": normalize_vin(_text(raw))}
    if kind in ("text", "url"):
        text = _text(raw) if key != "description" else str(raw).strip()
        limit = _max_length(Vehicle, key) if key in _TEXT_FIELDS else None
        if limit is not None and len(text) > limit:
            raise CellError(
                _("The value is too long (at most %(limit)s characters).") % {"limit": limit}
            )
        return {key: text}
    if kind == "make":
        return {"make": catalogs.make(raw)}
    if kind == "model":
        make = values.get("make")
        if make is None:
            raise _DependsOnAnError
        return {"car_model": catalogs.car_model(make, raw)}
    if kind == "trim":
        car_model = values.get("car_model")
        if car_model is None:
            raise _DependsOnAnError
        return {"trim": catalogs.trim(car_model, raw)}
    if kind == "catalog":
        return {key: catalogs.entry(key, raw)}
    if kind == "color":
        return {"color": catalogs.color(raw)}
    if kind == "city":
        preferred = run.stock_import.dealer_center.city if run.stock_import.dealer_center else None
        return {"city": catalogs.city(raw, preferred=preferred)}
    if kind == "site":
        site = catalogs.site(raw)
        dealer_center_id = run.stock_import.dealer_center_id
        if site.dealer_center_id is not None and site.dealer_center_id != dealer_center_id:
            raise CellError(
                _("The site «%(site)s» belongs to another dealer center.") % {"site": site.name}
            )
        return {"site": site}
    if kind == "consignor":
        return {"consignor": catalogs.consignor(raw)}
    if kind == "money":
        price = parse_decimal(raw)
        if price < 0:
            raise CellError(_("Price cannot be negative."))
        if price >= Decimal("1e12"):
            raise CellError(_("The number is out of range."))
        return {key: price}
    if kind == "int":
        maximum = _SMALL_INT_MAX if key == "owners_count" else 2_147_483_647
        return {key: parse_int(raw, maximum=maximum)}
    if kind == "year":
        return {key: parse_year(raw)}
    if kind == "date":
        return {key: parse_date(raw)}
    if kind == "bool":
        return {key: parse_bool(raw)}
    if kind == "condition":
        return {"condition": parse_condition(raw)}
    if kind == "pts_kind":
        return {"pts_kind": parse_pts_kind(raw)}
    if kind == "displacement":
        return {key: parse_displacement(raw)}
    if kind == "power":
        return {key: parse_power(raw)}
    raise AssertionError(f"unknown import field kind {kind}")


def _same(vehicle: Vehicle, name: str, value: Any) -> bool:
    model_field = Vehicle._meta.get_field(name)
    if model_field.is_relation:
        return getattr(vehicle, f"{name}_id") == (value.pk if value is not None else None)
    current = getattr(vehicle, name)
    if isinstance(value, Decimal) and current is not None:
        return Decimal(current) == value
    return bool(current == value)


def _import_row(run: _Run, row_number: int, cells: list[Cell]) -> tuple[str, list[RowError]]:
    """Create or update one car; returns ``("created" | "updated" | "unchanged" | "error", errors)``.

    Runs inside a savepoint: a failure rolls back this row's writes (catalog entries included).
    """
    values, problems = _convert_row(run, cells)
    vin = values.get("vin", "")
    first = run.first_row_of_vin.get(vin)
    if vin and first is not None and first != row_number:
        problems.append(
            (
                "vin",
                _("This VIN already appears in row %(row)s; the row is skipped.") % {"row": first},
            )
        )
    if problems:
        return "error", [_row_error(run, row_number, key, message) for key, message in problems]

    logistics_status = values.pop("logistics_status", None)
    existing = Vehicle.objects.filter(vin=vin, in_stock=True).first()
    dealer_center = run.stock_import.dealer_center
    if existing is not None:
        if not can_see_dealer_center(run.actor, existing.dealer_center_id) and (
            existing.dealer_center_id is not None
        ):
            message = _("A car with this VIN is in stock at a dealer center you cannot see.")
            return "error", [_row_error(run, row_number, "vin", message)]
        values["dealer_center"] = dealer_center
        changes = {
            name: value
            for name, value in values.items()
            if name != "vin" and not _same(existing, name, value)
        }
        if changes:
            services.vehicle_update(actor=run.actor, vehicle=existing, **changes)
        moved = logistics_status is not None and existing.logistics_status_id != logistics_status.pk
        if moved:
            services.logistics_status_change(
                actor=run.actor,
                vehicle=existing,
                to_status=logistics_status,
                comment=_("Stock import #%(id)s") % {"id": run.stock_import.pk},
            )
        return ("updated" if changes or moved else "unchanged"), []
    values["dealer_center"] = dealer_center
    if logistics_status is not None:
        values["logistics_status"] = logistics_status
    services.vehicle_create(actor=run.actor, **values)
    return "created", []


def _row_error(run: _Run, row_number: int, key: str | None, message: str) -> RowError:
    key = _SERVICE_FIELD_TO_KEY.get(key or "", key or "")
    column = run.column_of(key) if key else ""
    if not column and key in IMPORT_FIELDS:
        column = str(IMPORT_FIELDS[key].label)
    return RowError(row=row_number, column=column, field=key, message=message)


# --------------------------------------------------------------------------- services


def _require_permission(actor: Any) -> None:
    if not getattr(actor, "has_perm", None) or not actor.has_perm("inventory.import_stock"):
        raise NotAllowed(_("You may not import stock."))


def stock_import_upload(
    *, actor: Any, file: UploadedFile, dealer_center: DealerCenter
) -> StockImport:
    """Store an uploaded stock list and read its header row (status *uploaded*)."""
    _require_permission(actor)
    if not can_see_dealer_center(actor, dealer_center.pk):
        raise NotAllowed(
            _("You cannot import stock for this dealer center."), field="dealer_center"
        )
    name = PurePath(file.name or "stock.csv").name
    if file.size is not None and file.size > MAX_FILE_SIZE:
        raise ValidationFailed(
            _("The file is larger than %(size)s MB.") % {"size": MAX_FILE_SIZE // (1024 * 1024)},
            field="file",
        )
    file.seek(0)
    content = file.read()
    if not content:
        raise ImportFileError(_("The file is empty."), field="file")
    parsed = parse_file(name, content)
    total_rows = sum(1 for _row in parsed.rows)
    if total_rows == 0:
        raise ImportFileError(_("The file has a header row but no data rows."), field="file")
    file.seek(0)
    with transaction.atomic():
        stock_import = StockImport(
            original_name=name[:255],
            created_by=actor,
            dealer_center=dealer_center,
            status=ImportStatus.UPLOADED,
            headers=parsed.headers,
            mapping=suggest_mapping(parsed.headers),
            total_rows=total_rows,
        )
        stock_import.file.save(name, file, save=False)
        stock_import.save()
    return stock_import


def stock_import_set_mapping(
    *, actor: Any, stock_import: StockImport, mapping: Mapping[Any, str]
) -> StockImport:
    """Save ``{column index: field}`` (an empty field skips the column); status *mapped*."""
    _require_permission(actor)
    cleaned: dict[str, str] = {}
    column_of_field: dict[str, int] = {}
    for raw_index, key in mapping.items():
        try:
            index = int(raw_index)
        except (TypeError, ValueError):
            raise ValidationFailed(_("Unknown column."), field=f"column_{raw_index}") from None
        if not 0 <= index < len(stock_import.headers):
            raise ValidationFailed(_("Unknown column."), field=f"column_{raw_index}")
        if not key:
            continue
        if key not in IMPORT_FIELDS:
            raise ValidationFailed(_("Unknown vehicle field."), field=f"column_{index}")
        if key in column_of_field:
            raise ValidationFailed(
                _("«%(field)s» is already filled from the column «%(column)s».")
                % {
                    "field": IMPORT_FIELDS[key].label,
                    "column": stock_import.headers[column_of_field[key]],
                },
                field=f"column_{index}",
            )
        column_of_field[key] = index
        cleaned[str(index)] = key
    missing = [key for key in REQUIRED_FIELDS if key not in column_of_field]
    if missing:
        raise ValidationFailed(
            _("Choose a column for: %(fields)s.")
            % {"fields": ", ".join(str(IMPORT_FIELDS[key].label) for key in missing)},
            field="mapping",
            code="required_fields_missing",
        )
    with transaction.atomic():
        locked = StockImport.objects.select_for_update().get(pk=stock_import.pk)
        if locked.status not in (ImportStatus.UPLOADED, ImportStatus.MAPPED):
            raise Conflict(_("The import has already started; its mapping cannot change."))
        locked.mapping = cleaned
        locked.status = ImportStatus.MAPPED
        locked.save(update_fields=["mapping", "status", "updated_at"])
    stock_import.mapping, stock_import.status = locked.mapping, locked.status
    return locked


def stock_import_is_stale(stock_import: StockImport, *, now: datetime | None = None) -> bool:
    """Running, but without progress for a while: its worker has most likely died."""
    now = now or timezone.now()
    return (
        stock_import.status == ImportStatus.RUNNING
        and stock_import.updated_at is not None
        and now - stock_import.updated_at > STALE_AFTER
    )


def stock_import_run(*, actor: Any, stock_import: StockImport) -> StockImport:
    """Queue the import. Also resumes a failed one, or a running one whose worker died;
    the task is safe to run twice (see ``stock_import_process``)."""
    from autocrm.inventory.tasks import stock_import_process_task

    _require_permission(actor)
    with transaction.atomic():
        locked = StockImport.objects.select_for_update().get(pk=stock_import.pk)
        if locked.status == ImportStatus.DONE:
            raise Conflict(_("The import has already finished."), code="import_finished")
        if locked.status == ImportStatus.UPLOADED:
            raise Conflict(_("Map the columns first."), field="mapping", code="not_mapped")
        if locked.status == ImportStatus.RUNNING and not stock_import_is_stale(locked):
            raise Conflict(_("The import is already running."), code="import_running")
        locked.status = ImportStatus.RUNNING
        locked.started_at = locked.started_at or timezone.now()
        locked.finished_at = None
        locked.save(update_fields=["status", "started_at", "finished_at", "updated_at"])
        language = translation.get_language() or settings.LANGUAGE_CODE
        transaction.on_commit(lambda: stock_import_process_task.enqueue(locked.pk, language))
    return locked


def stock_import_process(*, stock_import_id: int, batch_size: int = BATCH_SIZE) -> StockImport:
    """Import the rows of a running import, batch by batch, from where it stopped.

    Idempotent: a finished import is left alone; a second worker on the same import, or a
    retry after a crash, skips the rows whose batch was committed (the progress counter is
    committed with the batch's cars), so no row is applied twice.
    """
    stock_import = StockImport.objects.select_related("dealer_center__city", "created_by").get(
        pk=stock_import_id
    )
    if stock_import.status == ImportStatus.MAPPED:
        with transaction.atomic():
            StockImport.objects.filter(pk=stock_import_id, status=ImportStatus.MAPPED).update(
                status=ImportStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
            )
        stock_import.refresh_from_db()
    if stock_import.status != ImportStatus.RUNNING:
        return stock_import
    try:
        return _process(stock_import, batch_size=batch_size)
    except ImportFileError as error:
        _fail(stock_import_id, str(error.message))
    except Exception:
        _fail(stock_import_id, _("The import stopped because of an internal error."))
        raise
    return StockImport.objects.get(pk=stock_import_id)


def _fail(stock_import_id: int, message: str) -> None:
    logger.warning("stock import %s failed: %s", stock_import_id, message)
    with transaction.atomic():
        locked = StockImport.objects.select_for_update().get(pk=stock_import_id)
        if locked.status != ImportStatus.RUNNING:
            return
        locked.status = ImportStatus.FAILED
        locked.finished_at = timezone.now()
        locked.errors = [
            *locked.errors,
            RowError(row=0, column="", field="file", message=message).as_dict(),
        ]
        locked.save(update_fields=["status", "finished_at", "errors", "updated_at"])


class _Stopped(Exception):
    """Another worker finished the import, or it was stopped, while this one was running."""


def _process(stock_import: StockImport, *, batch_size: int) -> StockImport:
    parsed = parse_file(stock_import.original_name, _read_stored(stock_import))
    columns = {key: int(index) for index, key in stock_import.mapping.items() if key}
    run = _Run(
        stock_import=stock_import,
        actor=stock_import.created_by,
        columns=columns,
        headers=stock_import.headers,
        catalogs=_Catalogs(),
    )
    # The first row of each VIN wins; later rows with the same VIN are reported. Computed
    # over the whole file, so every retry decides the same way.
    vin_column = columns["vin"]
    for number, row in parse_file(stock_import.original_name, _read_stored(stock_import)).rows:
        if vin_column < len(row) and not _is_blank(row[vin_column]):
            run.first_row_of_vin.setdefault(normalize_vin(_text(row[vin_column])), number)

    start = stock_import.processed_rows
    batch: list[tuple[int, int, list[Cell]]] = []
    position = 0
    try:
        for number, row in parsed.rows:
            if position >= start:
                batch.append((position, number, row))
            position += 1
            if len(batch) >= batch_size:
                _process_batch(run, batch)
                batch = []
        if batch:
            _process_batch(run, batch)
    except _Stopped:
        return StockImport.objects.get(pk=stock_import.pk)

    with transaction.atomic():
        locked = StockImport.objects.select_for_update().get(pk=stock_import.pk)
        if locked.status == ImportStatus.RUNNING:
            locked.status = ImportStatus.DONE
            locked.finished_at = timezone.now()
            locked.total_rows = max(locked.processed_rows, position)
            locked.save(update_fields=["status", "finished_at", "total_rows", "updated_at"])
    return locked


def _process_batch(run: _Run, batch: list[tuple[int, int, list[Cell]]]) -> None:
    with transaction.atomic():
        locked = StockImport.objects.select_for_update().get(pk=run.stock_import.pk)
        if locked.status != ImportStatus.RUNNING:
            raise _Stopped
        counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
        new_errors: list[dict[str, object]] = []
        last = locked.processed_rows
        for position, number, row in batch:
            if position < locked.processed_rows:
                continue  # committed by an earlier attempt or by another worker
            outcome, errors = _import_row_safely(run, number, row)
            counts[outcome] += 1
            new_errors.extend(error.as_dict() for error in errors)
            last = position + 1
        if last == locked.processed_rows:
            return
        room = max(MAX_STORED_ERRORS - len(locked.errors), 0)
        locked.errors = [*locked.errors, *new_errors[:room]]
        locked.processed_rows = last
        locked.created_count += counts["created"]
        locked.updated_count += counts["updated"]
        locked.error_count += counts["error"]
        locked.save(
            update_fields=[
                "errors",
                "processed_rows",
                "created_count",
                "updated_count",
                "error_count",
                "updated_at",
            ]
        )


def _import_row_safely(run: _Run, number: int, row: list[Cell]) -> tuple[str, list[RowError]]:
    try:
        with transaction.atomic():
            outcome, errors = _import_row(run, number, row)
            if outcome == "error":
                # Catalog entries created while reading the row go with it.
                transaction.set_rollback(True)
    except DomainError as error:
        run.catalogs.discard_row()
        return "error", [_row_error(run, number, error.field, str(error.message))]
    except DatabaseError:
        run.catalogs.discard_row()
        logger.exception("stock import %s: row %s could not be saved", run.stock_import.pk, number)
        return "error", [_row_error(run, number, None, _("The row could not be saved."))]
    if outcome == "error":
        run.catalogs.discard_row()
    else:
        run.catalogs.commit_row()
    return outcome, errors


# --------------------------------------------------------------------------- reports


def stock_import_errors_csv(*, stock_import: StockImport) -> str:
    """The error report as CSV text (UTF-8 with BOM when encoded, so Excel opens it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow([_("Row"), _("Column"), _("Error")])
    for error in stock_import.errors:
        writer.writerow(
            [
                _csv_safe(error.get("row", "")),
                _csv_safe(error.get("column", "")),
                _csv_safe(error.get("message", "")),
            ]
        )
    return buffer.getvalue()


def _csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas: a cell from the uploaded file must not run in Excel."""
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
