"""The document commands as a user types them, in a real subprocess."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docx import Document

from engine.definitions.contracts import load_contract_file
from tests.integration.cli_support import Result, run_cli
from tests.support import EXAMPLES
from tests.unit.documents.support import sent_out


def test_render_submit_docx_diff_report_and_extract(tmp_path: Path) -> None:
    # One database kind: the services run on both in test_document_services.py.
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"

    def cf(*args: str, code: int = 0) -> Any:
        result = run_cli(*args, db_url=db_url, cwd=tmp_path, CONTRACTFLOW_RISK_BACKEND="python")
        assert result.code == code, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.json if "--format" in args and code == 0 else result

    cf("init")
    cf("users", "add", "alice", "--role", "contract_admin")
    cf("users", "add", "lena", "--role", "legal")

    # A contract file becomes a Word contract without touching the database.
    cf("render", str(EXAMPLES / "SC-2026-0042.yaml"), "--out", "draft.docx")
    extracted: Result = cf("contracts", "extract", "draft.docx")
    (tmp_path / "extracted.yaml").write_text(extracted.stdout)
    assert load_contract_file(tmp_path / "extracted.yaml") == sent_out(
        load_contract_file(EXAMPLES / "SC-2026-0042.yaml")
    )

    # The .docx is submitted directly; its document is kept and downloadable.
    shown = cf("submit", "draft.docx", "--as", "alice", "--format", "json")
    assert shown["id"] == "SC-2026-0042"
    kept = cf("render", "SC-2026-0042", "--revision", "1", "--out", "r1.docx", "--format", "json")
    assert (kept["revision"], kept["stored"]) == (1, True)
    assert any("销售合同" in p.text for p in Document(str(tmp_path / "r1.docx")).paragraphs)

    # Legal asks for changes; the admin edits the Word file and submits it again.
    task = cf("tasks", "--as", "lena", "--format", "json")[0]["id"]
    cf("act", str(task), "request_changes", "--as", "lena", "--comment", "60 days is too long")
    doc = Document(str(tmp_path / "draft.docx"))
    key_terms = next(t for t in doc.tables if t.rows[0].cells[0].text.startswith("Key term"))
    row = next(r for r in key_terms.rows if r.cells[0].text.startswith("Payment term"))
    row.cells[1].paragraphs[0].runs[0].text = "45"
    doc.save(str(tmp_path / "draft-v2.docx"))
    assert (
        cf("submit", "draft-v2.docx", "--as", "alice", "--format", "json")["id"] == "SC-2026-0042"
    )

    diff = cf("diff", "SC-2026-0042", "--from", "1", "--to", "2", "--format", "json")
    assert diff["changes"] == [
        {
            "term": "payment_terms.net_days",
            "label": "Payment term (days after invoice) / 付款期限(开票后天数)",
            "change": "changed",
            "from": 60,
            "to": 45,
        }
    ]
    table = cf("diff", "SC-2026-0042", "--from", "1", "--to", "2", "--out", "changes.docx")
    assert "Payment term" in table.stdout and "wrote changes.docx" in table.stdout
    assert (tmp_path / "changes.docx").stat().st_size > 10_000

    report = cf("report", "SC-2026-0042", "--out", "evaluation.docx", "--format", "json")
    assert report["file"] == "evaluation.docx"
    report_doc = Document(str(tmp_path / "evaluation.docx"))
    assert any("合同履行评估报告" in p.text for p in report_doc.paragraphs)


def test_bad_documents_and_names_are_refused_with_one_line(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    (tmp_path / "notes.docx").write_text("just some text")
    result = run_cli("contracts", "extract", "notes.docx", db_url=db_url, cwd=tmp_path)
    assert (result.code, result.stderr) == (
        2,
        "error: notes.docx: not a .docx file (a .docx is a zip archive; this is not)\n",
    )
    run_cli("init", db_url=db_url, cwd=tmp_path)
    missing = run_cli("render", "SC-404", "--out", "x.docx", db_url=db_url, cwd=tmp_path)
    assert (missing.code, missing.stderr) == (2, "error: contract 'SC-404' does not exist\n")
    assert not (tmp_path / "x.docx").exists()
