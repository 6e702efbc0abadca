"""Helpers for document tests: example contracts, rendering, editing a rendered .docx."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from docx import Document

from engine.definitions.contracts import load_contract_file
from engine.documents.render import render_contract
from engine.documents.templates import load_company, load_template
from engine.domain.contract import Contract
from engine.settings import PROJECT_ROOT
from tests.support import EXAMPLES

TEMPLATES = PROJECT_ROOT / "templates"
EXAMPLE_FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in {".yaml", ".json"})


def example(name: str) -> Contract:
    return load_contract_file(next(p for p in EXAMPLE_FILES if p.stem == name))


def sent_out(contract: Contract) -> Contract:
    """The contract as its document carries it: without our own data about the deal (our
    credit rating of the counterparty, our administrator), which is never printed."""
    return contract.model_copy(
        update={
            "owner": None,
            "counterparty": contract.counterparty.model_copy(update={"credit_rating": None}),
        }
    )


def render(contract: Contract, template: str | None = None, revision: int | None = None) -> bytes:
    name = template or ("sales" if contract.direction.value == "sell" else "purchase")
    return render_contract(
        contract, load_template(TEMPLATES, name), load_company(TEMPLATES), revision=revision
    )


def edit(content: bytes, change: Callable[[Any], None]) -> bytes:
    """Open a .docx, let `change` edit it (as a person would in Word), save it again."""
    doc = Document(io.BytesIO(content))
    change(doc)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def table_with(doc: Any, header_text: str) -> Any:
    """The first table whose header row mentions `header_text`."""
    for table in doc.tables:
        if any(header_text in c.text for c in table.rows[0].cells):
            return table
    raise AssertionError(f"no table with {header_text!r}")


def key_row(doc: Any, label: str) -> Any:
    table = table_with(doc, "Key term")
    for row in table.rows:
        if label in row.cells[0].text:
            return row
    raise AssertionError(f"no key term {label!r}")


def set_cell(cell: Any, text: str) -> None:
    """Replace a cell's text (keeps the first paragraph, as typing over it would)."""
    para = cell.paragraphs[0]
    for run in list(para.runs):
        run._r.getparent().remove(run._r)
    para.add_run(text)
