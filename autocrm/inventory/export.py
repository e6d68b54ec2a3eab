"""The stock search result as an XLSX workbook, for managers who carry it into Excel.

openpyxl's write-only mode streams rows to the file instead of building a cell tree, so
memory stays flat up to ``EXPORT_LIMIT`` rows. Numbers are written as numbers (prices with
a rouble format), so the sheet sorts and sums without retyping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from io import BytesIO
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

EXPORT_LIMIT = 50_000
PRICE_FORMAT = '#,##0.00 "₽"'
INTEGER_FORMAT = "#,##0"


def _columns() -> list[tuple[str, str, float, str | None]]:
    """(header, row key, column width, number format) — headers in the user's language."""
    return [
        (_("Stock code"), "stock_code", 20, None),
        ("VIN", "vin", 21, None),
        (_("Make"), "make", 14, None),
        (_("Model"), "model", 20, None),
        (_("Trim"), "trim", 18, None),
        (_("Body"), "body_label", 14, None),
        (_("Drive"), "drive_label", 11, None),
        (_("Engine"), "engine_label", 12, None),
        (_("Transmission"), "transmission_label", 12, None),
        (_("Colour"), "color", 14, None),
        (_("Year"), "year", 7, "0"),
        (_("Mileage, km"), "mileage", 11, INTEGER_FORMAT),
        (_("Price"), "price", 16, PRICE_FORMAT),
        (_("Vehicle type"), "condition_label", 11, None),
        (_("City"), "city", 16, None),
        (_("Site"), "site", 22, None),
        (_("Consignor"), "consignor", 22, None),
        (_("Status (reservation)"), "reservation_status_label", 14, None),
        (_("Logistics status"), "logistics_status_label", 18, None),
        (_("Days in stock"), "days_in_stock", 10, INTEGER_FORMAT),
    ]


def export_headers() -> list[str]:
    return [header for header, _key, _width, _format in _columns()]


def export_filename() -> str:
    return f"stock-{timezone.localtime().strftime('%Y-%m-%d-%H%M')}.xlsx"


def _cell_factory(sheet: WriteOnlyWorksheet) -> Callable[[Any, str | None], WriteOnlyCell]:
    def make(value: Any, number_format: str | None) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        if cell.data_type == "f":
            # Text that starts with "=" (data comes from imports and users) stays text, never
            # a formula Excel would run.
            cell.data_type = "s"
        if number_format and isinstance(value, int | Decimal):
            cell.number_format = number_format
        return cell

    return make


def write_vehicles_xlsx(rows: Iterable[dict[str, Any]]) -> bytes:
    columns = _columns()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Stock"))
    sheet.freeze_panes = "A2"
    for index, (_header, _key, width, _format) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header_cells = []
    for header, _key, _width, _format in columns:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        header_cells.append(cell)
    sheet.append(header_cells)
    make = _cell_factory(sheet)
    for row in rows:
        sheet.append([make(row.get(key), number_format) for _h, key, _w, number_format in columns])
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
