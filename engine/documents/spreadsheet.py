"""Tabular exports (CSV and Excel .xlsx) of lists the web app and the CLI show.

One column description (`Column`) drives both formats so a CSV and an .xlsx of the same
list always agree on headers and order. Rows are sequences (in column order) or mappings
keyed by `Column.key`.

Kinds and what they expect:

- ``text``: any value, written with ``str()``; ``None`` is an empty cell.
- ``int`` / ``decimal``: numbers (``int``, ``Decimal``, ``float``); Excel gets real numbers
  with a number format, so sums and sorting work there.
- ``date``: ``datetime.date`` or ``datetime.datetime``; Excel gets a date cell.
- ``percent``: a percentage *number* as the JSON APIs give it (``87.5`` means 87.5 %);
  CSV keeps ``87.5``, Excel stores ``0.875`` formatted ``0.0%`` so it displays 87.5 %.

The only module that imports openpyxl.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

Kind = Literal["text", "int", "decimal", "date", "percent"]

# Spreadsheet programs treat a cell starting with one of these as a formula (CSV
# injection, OWASP "CSV Injection"); a leading apostrophe makes them plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_NUMBER_FORMATS: dict[str, str] = {
    "int": "#,##0",
    "decimal": "#,##0.00",
    "date": "yyyy-mm-dd",
    "percent": "0.0%",
}

# Excel's sheet-name limits: 31 characters, none of these.
_SHEET_NAME_BAD = set("[]:*?/\\")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind = "text"


Row = Sequence[Any] | Mapping[str, Any]


def _values(columns: Sequence[Column], row: Row) -> list[Any]:
    if isinstance(row, Mapping):
        return [row.get(c.key) for c in columns]
    values = list(row)
    if len(values) != len(columns):
        raise ValueError(f"row has {len(values)} values for {len(columns)} columns")
    return values


def _safe_text(value: Any) -> str:
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _csv_cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.kind == "text":
        return _safe_text(value)
    if column.kind == "date":
        if isinstance(value, dt.date):
            return value.isoformat()
        return _safe_text(value)
    if isinstance(value, bool):
        return _safe_text(value)
    if isinstance(value, int | Decimal | float):
        # A negative number is data, not a formula: keep it as typed.
        return str(value)
    return _safe_text(value)


def csv_bytes(columns: Sequence[Column], rows: Sequence[Row] | Any) -> bytes:
    """CSV with a header row, encoded UTF-8 *with* a byte-order mark.

    Why the BOM: Excel (Windows, and Mac in most locales) opens a CSV in the system's
    legacy code page (GBK on Chinese Windows, cp1252 elsewhere) unless the file starts
    with the UTF-8 BOM, so counterparties like 上海某某有限公司 would show as mojibake.
    Python's ``csv`` module, LibreOffice and pandas read the BOM fine with
    ``encoding="utf-8-sig"``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_safe_text(c.header) for c in columns])
    for row in rows:
        values = _values(columns, row)
        writer.writerow([_csv_cell(c, v) for c, v in zip(columns, values, strict=True)])
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx_value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    kind = column.kind
    if kind == "text":
        # No apostrophe here: xlsx_bytes stores every string as a string cell, which
        # Excel never evaluates, so the text stays exactly as typed.
        return str(value)
    if kind == "date":
        if isinstance(value, dt.datetime):
            # Excel has no time zones: show the wall-clock time as stored (UTC here).
            return value.replace(tzinfo=None)
        if isinstance(value, dt.date):
            return value
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return str(value)
    if kind == "int":
        return int(value)
    if kind == "percent":
        return float(Decimal(str(value)) / 100)
    # Decimal -> float: Excel stores IEEE doubles anyway; amounts up to 2**53 cents are exact.
    return float(value)


def _sheet_title(title: str) -> str:
    cleaned = "".join("_" if ch in _SHEET_NAME_BAD else ch for ch in title).strip("'")
    return (cleaned or "Sheet")[:31]


def _display_width(text: str) -> int:
    # East Asian characters take two columns in Excel's default font.
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def xlsx_bytes(title: str, columns: Sequence[Column], rows: Sequence[Row] | Any) -> bytes:
    """An Excel workbook with one sheet: a bold header row, typed cells, frozen header.

    Typed cells matter: numbers and dates that arrive as text cannot be summed, filtered
    by range or sorted correctly in Excel, which is what people do with an export.
    """
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _sheet_title(title)
    bold = Font(bold=True)
    widths = [_display_width(c.header) for c in columns]
    for index, column in enumerate(columns):
        cell = sheet.cell(row=1, column=index + 1, value=column.header)
        cell.data_type = "s"
        cell.font = bold
    for row_number, row in enumerate(rows, start=2):
        values = _values(columns, row)
        for index, (column, value) in enumerate(zip(columns, values, strict=True)):
            converted = _xlsx_value(column, value)
            cell = sheet.cell(row=row_number, column=index + 1, value=converted)
            if isinstance(converted, str):
                cell.data_type = "s"  # openpyxl would store "=..." as a formula
            number_format = _NUMBER_FORMATS.get(column.kind)
            if number_format and not isinstance(converted, str) and converted is not None:
                cell.number_format = (
                    "yyyy-mm-dd hh:mm" if isinstance(converted, dt.datetime) else number_format
                )
            shown = _shown(column, converted)
            widths[index] = max(widths[index], _display_width(shown))
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = "A2"
    if columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(sheet.max_row, 1)}"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _shown(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return "0000-00-00 00:00"
    if isinstance(value, dt.date):
        return "0000-00-00"
    if isinstance(value, float) and column.kind == "percent":
        return f"{value * 100:.1f}%"
    if isinstance(value, float | int) and column.kind in ("int", "decimal"):
        return f"{value:,.2f}"
    return str(value)
