"""CSV and .xlsx exports read back with the csv module and openpyxl."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from engine.documents.spreadsheet import Column, csv_bytes, xlsx_bytes

COLUMNS = [
    Column("id", "合同编号", "text"),
    Column("counterparty", "Counterparty", "text"),
    Column("count", "Count", "int"),
    Column("amount", "Amount", "decimal"),
    Column("submitted", "Submitted", "date"),
    Column("rate", "On-time rate", "percent"),
]

ROWS = [
    {
        "id": "C-1",
        "counterparty": "上海某某有限公司",
        "count": 3,
        "amount": Decimal("1234567.89"),
        "submitted": dt.date(2027, 3, 1),
        "rate": 87.5,
    },
    ["C-2", '=HYPERLINK("http://x")', 0, Decimal("-5.00"), None, None],
    {
        "id": "@SUM(A1)",
        "counterparty": "+1",
        "count": None,
        "amount": None,
        "submitted": dt.datetime(2027, 3, 2, 9, 30, tzinfo=dt.UTC),
        "rate": Decimal("100.0"),
    },
]


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_starts_with_a_utf8_bom_and_keeps_chinese_text() -> None:
    data = csv_bytes(COLUMNS, ROWS)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = read_csv(data)
    assert rows[0] == [c.header for c in COLUMNS]
    assert rows[1] == ["C-1", "上海某某有限公司", "3", "1234567.89", "2027-03-01", "87.5"]


def test_csv_text_cells_that_look_like_formulas_get_a_leading_apostrophe() -> None:
    rows = read_csv(csv_bytes(COLUMNS, ROWS))
    assert rows[2][1] == '\'=HYPERLINK("http://x")'
    assert rows[3][0] == "'@SUM(A1)"
    assert rows[3][1] == "'+1"
    # a negative number in a number column is data, not a formula
    assert rows[2][3] == "-5.00"
    assert rows[2][4] == "" and rows[2][5] == ""


def test_csv_rejects_a_sequence_row_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="2 values for 6 columns"):
        csv_bytes(COLUMNS, [["a", "b"]])


def test_xlsx_has_a_bold_frozen_header_and_typed_cells() -> None:
    data = xlsx_bytes("合同列表", COLUMNS, ROWS)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert sheet.title == "合同列表"
    assert [c.value for c in sheet[1]] == [c.header for c in COLUMNS]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    first = [c for c in sheet[2]]
    assert first[1].value == "上海某某有限公司"
    assert first[2].value == 3 and first[2].data_type == "n"
    assert first[3].value == pytest.approx(1234567.89) and first[3].number_format == "#,##0.00"
    assert first[4].is_date and first[4].value.date() == dt.date(2027, 3, 1)
    assert first[5].value == pytest.approx(0.875) and first[5].number_format == "0.0%"
    third = [c for c in sheet[4]]
    assert third[4].is_date and third[4].value == dt.datetime(2027, 3, 2, 9, 30)
    assert third[5].value == pytest.approx(1.0)


def test_xlsx_stores_formula_like_text_as_plain_strings() -> None:
    sheet = load_workbook(io.BytesIO(xlsx_bytes("x", COLUMNS, ROWS))).active
    assert sheet is not None
    cell = sheet["B3"]
    assert cell.value == '=HYPERLINK("http://x")'
    assert cell.data_type == "s"
    assert sheet["A4"].value == "@SUM(A1)"


def test_xlsx_columns_are_wide_enough_for_chinese_text() -> None:
    sheet = load_workbook(io.BytesIO(xlsx_bytes("x", COLUMNS, ROWS))).active
    assert sheet is not None
    # 8 CJK characters display as 16 columns
    assert sheet.column_dimensions["B"].width >= 16
    assert sheet.column_dimensions["A"].width >= 8


def test_xlsx_sheet_title_drops_characters_excel_forbids() -> None:
    sheet = load_workbook(io.BytesIO(xlsx_bytes("a/b:c" * 10, COLUMNS, []))).active
    assert sheet is not None
    assert "/" not in sheet.title and ":" not in sheet.title and len(sheet.title) <= 31
