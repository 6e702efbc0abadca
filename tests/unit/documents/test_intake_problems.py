"""A draft someone filled in Word: every missing or unreadable term is named, one per line,
with its table, row and column."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from engine.documents.intake import extract_contract
from engine.errors import InvalidContract
from tests.unit.documents.support import (
    edit,
    example,
    key_row,
    render,
    sent_out,
    set_cell,
    table_with,
)


def problems(content: bytes, currencies: set[str] | None = None) -> list[str]:
    with pytest.raises(InvalidContract) as err:
        extract_contract(content, "draft.docx", currencies=currencies)
    return err.value.lines()


@pytest.fixture
def rendered() -> bytes:
    return render(example("SC-2026-0042"))


def test_values_typed_the_way_people_type_them_are_read(rendered: bytes) -> None:
    def typed(doc: Any) -> None:
        set_cell(key_row(doc, "Contract amount").cells[1], "2 500 000")
        set_cell(key_row(doc, "Start date").cells[1], "2026年12月2日")
        set_cell(key_row(doc, "Prepayment").cells[1], "25 %")
        set_cell(key_row(doc, "Automatic renewal").cells[1], "是")
        set_cell(key_row(doc, "Our role").cells[1], "卖方")
        set_cell(key_row(doc, "Liability cap").cells[1], "无上限")
        set_cell(key_row(doc, "Payment term").cells[1], "45 days")
        set_cell(table_with(doc, "Obligor").rows[2].cells[5], "12,000.5")

    contract = extract_contract(edit(rendered, typed), "draft.docx")
    assert contract.amount == Decimal(2500000)
    assert contract.start_date == dt.date(2026, 12, 2)
    assert contract.payment_terms.prepayment_percent == 25
    assert contract.payment_terms.net_days == 45
    assert contract.auto_renewal is True
    assert contract.liability_cap_percent is None
    assert contract.obligations[1].amount == Decimal("12000.50")


def test_unreadable_key_terms_are_named_with_table_row_and_label(rendered: bytes) -> None:
    def spoil(doc: Any) -> None:
        set_cell(key_row(doc, "Contract amount").cells[1], "two million")
        set_cell(key_row(doc, "End date").cells[1], "31.11.2027")
        set_cell(key_row(doc, "Automatic renewal").cells[1], "maybe")

    lines = problems(edit(rendered, spoil))
    assert lines == [
        "draft.docx: Key terms table, row 7 (Contract amount / 合同金额): "
        "'two million' is not a number",
        "draft.docx: Key terms table, row 9 (End date / 终止日期): "
        "'31.11.2027' is not a date (YYYY-MM-DD)",
        "draft.docx: Key terms table, row 14 (Automatic renewal / 自动续约): "
        "'maybe' is not Yes or No",
    ]


def test_a_missing_key_term_row_is_named(rendered: bytes) -> None:
    def drop(doc: Any) -> None:
        row = key_row(doc, "Currency")
        row._tr.getparent().remove(row._tr)

    assert problems(edit(rendered, drop)) == [
        "draft.docx: Key terms table: row 'Currency / 币种' is missing"
    ]


def test_an_empty_required_term_is_named(rendered: bytes) -> None:
    lines = problems(edit(rendered, lambda d: set_cell(key_row(d, "Subject").cells[1], "")))
    assert lines == ["draft.docx: Key terms table, row 2 (Subject / 合同标的): is empty"]


def test_table_rows_name_the_item_and_column(rendered: bytes) -> None:
    def spoil(doc: Any) -> None:
        obligations = table_with(doc, "Obligor")
        set_cell(obligations.rows[2].cells[4], "end of January")
        set_cell(obligations.rows[3].cells[1], "Shipper")
        guarantees = table_with(doc, "Issuer")
        set_cell(guarantees.rows[1].cells[1], "Promise")

    assert problems(edit(rendered, spoil)) == [
        "draft.docx: Guarantees table, row 1 (G-1), Type / 担保类型: 'Promise' is not one of "
        "Bank guarantee, Standby letter of credit, Credit insurance, Collateral, "
        "Parent company guarantee, Advance payment guarantee, Performance bond",
        "draft.docx: Obligations table, row 2 (OB-2), Due date / 期限: "
        "'end of January' is not a date (YYYY-MM-DD)",
        "draft.docx: Obligations table, row 3 (OB-3), Obligor / 履约方: "
        "'Shipper' is not Seller or Buyer",
    ]


def test_contract_rules_point_at_the_table(rendered: bytes) -> None:
    def spoil(doc: Any) -> None:
        set_cell(table_with(doc, "Instalment").rows[1].cells[2], "20")
        set_cell(key_row(doc, "End date").cells[1], "2026-01-01")
        set_cell(table_with(doc, "Obligor").rows[3].cells[0], "OB-1")

    assert problems(edit(rendered, spoil)) == [
        "draft.docx: Key terms table, row 9 (End date / 终止日期): "
        "2026-01-01 is before start_date 2026-12-01",
        "draft.docx: Payment schedule table: percents add up to 90, not 100",
        "draft.docx: Obligations table: id OB-1 is used more than once",
    ]


def test_field_rules_point_at_the_cell(rendered: bytes) -> None:
    def spoil(doc: Any) -> None:
        set_cell(key_row(doc, "Currency").cells[1], "yuan")
        set_cell(key_row(doc, "Prepayment").cells[1], "130")

    lines = problems(edit(rendered, spoil))
    assert lines[0].startswith("draft.docx: Key terms table, row 6 (Currency / 币种): ")
    assert lines[1].startswith(
        "draft.docx: Key terms table, row 10 (Prepayment (%) / 预付款比例(%)): "
    )
    assert "100" in lines[1]
    assert len(lines) == 2


def test_a_currency_without_an_fx_rate_is_refused(rendered: bytes) -> None:
    lines = problems(rendered, currencies={"USD"})
    assert lines == [
        "draft.docx: Key terms table, row 6 (Currency / 币种): "
        "CNY is neither the base currency nor has an FX rate (known: USD)"
    ]


def test_unknown_terms_and_columns_are_refused_not_dropped(rendered: bytes) -> None:
    def typo(doc: Any) -> None:
        set_cell(key_row(doc, "Governing law").cells[0], "Governing lawz")
        set_cell(table_with(doc, "Obligor").rows[0].cells[6], "State")

    lines = problems(edit(rendered, typo))
    assert lines[0].startswith("draft.docx: Key terms table, row 16: unknown term 'Governing lawz'")
    assert lines[1].startswith("draft.docx: Obligations table, column 7: unknown column 'State'")


def test_a_document_without_a_key_terms_table_is_refused(rendered: bytes) -> None:
    def drop(doc: Any) -> None:
        table = table_with(doc, "Key term")
        table._tbl.getparent().remove(table._tbl)

    [line] = problems(edit(rendered, drop))
    assert line.startswith("draft.docx: no Key terms table")


def test_blank_rows_left_in_a_table_are_ignored(rendered: bytes) -> None:
    def blank(doc: Any) -> None:
        table_with(doc, "Obligor").add_row()

    assert extract_contract(edit(rendered, blank), "draft.docx") == sent_out(
        example("SC-2026-0042")
    )


def test_cells_edited_in_word_read_as_the_reader_sees_them(rendered: bytes) -> None:
    """Word splits text into runs, tracks changes, wraps values in content controls."""
    from docx.oxml import parse_xml

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'

    def as_word_would(doc: Any) -> None:
        amount = key_row(doc, "Contract amount").cells[1].paragraphs[0]._p
        for run in amount.findall(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}r"
        ):
            amount.remove(run)
        for xml in (
            f'<w:proofErr {w} w:type="spellStart"/>',
            f"<w:r {w}><w:t>2,</w:t></w:r>",
            f'<w:del {w} w:id="1" w:author="a" w:date="2027-01-01T00:00:00Z">'
            "<w:r><w:delText>4</w:delText></w:r></w:del>",
            f'<w:ins {w} w:id="2" w:author="a" w:date="2027-01-01T00:00:00Z">'
            "<w:r><w:t>5</w:t></w:r></w:ins>",
            f'<w:bookmarkStart {w} w:id="3" w:name="amount"/>',
            f"<w:sdt {w}><w:sdtPr/><w:sdtContent><w:r><w:t>00,000</w:t></w:r></w:sdtContent></w:sdt>",
            f'<w:bookmarkEnd {w} w:id="3"/>',
        ):
            amount.append(parse_xml(xml))

    contract = extract_contract(edit(rendered, as_word_would), "draft.docx")
    assert contract.amount == Decimal(2500000)


def test_a_column_added_to_the_key_terms_is_named_not_ignored(rendered: bytes) -> None:
    def add_column(doc: Any) -> None:
        table = table_with(doc, "Key term")
        table.add_column(table.columns[0].width)
        set_cell(table.rows[0].cells[2], "Notes")

    assert problems(edit(rendered, add_column)) == [
        "draft.docx: Key terms table, column 3: unknown column 'Notes' "
        "(known: Key term / 合同要素; Value / 内容)"
    ]
