"""Every template renders every example contract into a document intake reads back."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from docx import Document

from engine.documents.intake import extract_contract, read_docx_tables
from engine.documents.templates import available_templates, load_template
from engine.errors import NotFound
from tests.unit.documents.support import EXAMPLE_FILES, TEMPLATES, example, render, sent_out

TEMPLATE_NAMES = available_templates(TEMPLATES)


def test_sales_and_purchase_templates_ship() -> None:
    assert {"sales", "purchase"} <= set(TEMPLATE_NAMES)


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
@pytest.mark.parametrize("name", [p.stem for p in EXAMPLE_FILES])
def test_every_template_renders_every_example_and_reads_back(template: str, name: str) -> None:
    contract = example(name)
    content = render(contract, template, revision=2)
    assert zipfile.ZipFile(io.BytesIO(content)).testzip() is None
    text = "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)
    tpl = load_template(TEMPLATES, template)
    assert tpl.title_zh in text and tpl.title_en in text
    assert contract.counterparty.name in text
    assert f"{contract.currency} " in text
    assert extract_contract(content, f"{name}.docx") == sent_out(contract)


def test_document_carries_parties_amount_schedule_guarantees_and_obligations() -> None:
    contract = example("SC-2026-0042")
    content = render(contract)
    doc = Document(io.BytesIO(content))
    body = "\n".join(p.text for p in doc.paragraphs)
    cells = "\n".join(c for t in read_docx_tables(content) for row in t for c in row)
    assert "CNY 2,400,000.00" in body
    assert "贰佰肆拾万元整" in body  # the amount in Chinese capitals
    assert "say CNY two million four hundred thousand only" in body
    assert "Huadong Machinery Co., Ltd." in cells  # parties block
    assert "康福演示实业有限公司" in cells  # our company, from company.yaml
    assert "Balance on delivery" in cells and "CNY 1,680,000.00" in cells  # schedule
    assert "Bank guarantee / 银行保函" in cells and "Bank of Ningbo" in cells
    assert "Deliver 40 pumps to the Ningbo plant" in cells
    assert "100%（CNY 2,400,000.00）" in body  # liability cap
    assert "60日" in body  # renewal notice
    assert "中华人民共和国法律" in body
    assert "SC-2026-0042" in doc.sections[0].footer.paragraphs[0].text


def test_purchase_contract_caps_the_buyers_liability_and_names_us_as_buyer() -> None:
    contract = example("PO-2026-0107")
    doc = Document(io.BytesIO(render(contract)))
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "采购合同" in body and "PURCHASE CONTRACT" in body
    assert "The Buyer's aggregate liability" in body
    assert "检验与验收" in body


def test_a_contract_without_schedule_guarantees_or_cap_says_so() -> None:
    contract = example("SC-2026-0051")
    content = render(contract)
    body = "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)
    assert "No guarantee is provided" in body
    assert "not capped" in body
    assert "No late-payment penalty is agreed" in body
    headers = [t[0] for t in read_docx_tables(content)]
    assert not any("Instalment / 付款节点" in h for h in headers)


def test_rendering_is_deterministic_across_clock_seconds() -> None:
    """Zip entries carry timestamps; a second later the same contract gives the same bytes."""
    contract = example("SC-2026-0042")
    first = render(contract, revision=1)
    time.sleep(1.05)
    assert render(contract, revision=1) == first


def test_unknown_template_names_the_ones_that_exist() -> None:
    with pytest.raises(NotFound, match="sales") as err:
        load_template(TEMPLATES, "lease")
    assert "purchase" in str(err.value)


def test_text_that_xml_cannot_hold_does_not_break_the_document() -> None:
    contract = example("SC-2026-0060").model_copy(update={"title": "Line\x0bfeed"})
    content = render(contract)
    assert Document(io.BytesIO(content)).tables


def _document_text(content: bytes) -> str:
    import io

    from docx import Document

    doc = Document(io.BytesIO(content))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_key_terms_name_the_governing_law_and_the_country_not_their_codes() -> None:
    text = _document_text(render(example("SC-2026-0042")))
    assert "中华人民共和国法律 / the laws of the People's Republic of China" in text
    assert "中国 / China" in text
    lines = text.splitlines()
    assert "CN" not in lines  # no cell holds the bare code


def test_a_governing_law_written_out_is_printed_once_not_doubled() -> None:
    contract = example("SC-2026-0042").model_copy(update={"governing_law": "中华人民共和国法律"})
    text = _document_text(render(contract))
    assert "中华人民共和国法律法律" not in text
    assert "本合同适用中华人民共和国法律。" in text
    assert "the laws of 中华人民共和国法律" not in text
    free = contract.model_copy(update={"governing_law": "Swiss law"})
    free_text = _document_text(render(free))
    assert "governed by Swiss law." in free_text and "the laws of Swiss law" not in free_text


def test_the_counterpartys_contract_does_not_print_our_internal_data() -> None:
    contract = example("SC-2026-0042")
    assert contract.counterparty.credit_rating is not None and contract.owner
    text = _document_text(render(contract))
    assert "信用等级" not in text and "credit rating" not in text.lower()
    assert "合同管理人" not in text and "Contract administrator" not in text
