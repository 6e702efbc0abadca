"""Word-compatible output: LibreOffice converts our documents to PDF with the Chinese text
intact, and a contract re-saved as .docx by LibreOffice still reads back to the same terms;
the first contract page is kept as an image in docs/screenshots/."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.documents.compare import compare
from engine.documents.diffdoc import RevisionInfo, render_diff
from engine.documents.intake import extract_contract
from engine.documents.report import EvaluationInput, render_report
from engine.documents.templates import load_company
from engine.documents.words import law_names
from engine.settings import PROJECT_ROOT
from tests.unit.documents.support import EXAMPLE_FILES, TEMPLATES, example, render, sent_out
from tests.unit.documents.test_compare import revised

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


def _soffice() -> str:
    for name in ("soffice", "libreoffice"):
        if path := shutil.which(name):
            return path
    pytest.skip("LibreOffice is not installed (make system-deps installs libreoffice-writer-nogui)")


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.slow
def test_libreoffice_converts_contract_diff_and_report_to_pdf(tmp_path: Path) -> None:
    soffice = _soffice()
    contract = example("SC-2026-0042")
    company = load_company(TEMPLATES)
    files = {
        "contract.docx": render(contract, revision=1),
        "purchase.docx": render(example("PO-2026-0107"), revision=1),
        "changes.docx": render_diff(
            code="SC-2026-0042",
            title=contract.title,
            old=RevisionInfo(1, "alice", "2027-01-04 09:00 UTC"),
            new=RevisionInfo(2, "alice", "2027-01-05 10:00 UTC"),
            changes=compare(contract, revised(contract)),
            company=company,
        ),
        "evaluation.docx": render_report(
            EvaluationInput(
                code="SC-2026-0042",
                contract=contract,
                stage="evaluation",
                status="active",
                workflow="standard v1",
                owner="alice",
                revisions=1,
                max_severity="low",
                as_of=dt.date(2027, 3, 1),
                generated_at=dt.datetime(2027, 3, 1, tzinfo=dt.UTC),
            ),
            company,
        ),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    proc = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            *files,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    texts = {name: _pdf_text(tmp_path / name.replace(".docx", ".pdf")) for name in files}
    assert "销售合同" in texts["contract.docx"] and "SALES CONTRACT" in texts["contract.docx"]
    assert "贰佰肆拾万元整" in texts["contract.docx"]
    assert "Page 1 of" in texts["contract.docx"]
    assert "采购合同" in texts["purchase.docx"]
    assert "合同修订对照表" in texts["changes.docx"]
    assert "合同履行评估报告" in texts["evaluation.docx"]

    # Saved again by another word processor, the draft still reads back to the same contract.
    resaved = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "docx:MS Word 2007 XML",
            "--outdir",
            str(tmp_path / "resaved"),
            "contract.docx",
            "purchase.docx",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resaved.returncode == 0, resaved.stderr
    for name, original in (("contract", contract), ("purchase", example("PO-2026-0107"))):
        content = (tmp_path / "resaved" / f"{name}.docx").read_bytes()
        assert extract_contract(content, f"{name}.docx") == sent_out(original)

    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "100",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            "-singlefile",
            str(tmp_path / "contract.pdf"),
            str(tmp_path / "page1"),
        ],
        check=True,
        timeout=60,
    )
    image = tmp_path / "page1.png"
    assert image.stat().st_size > 20_000  # a real page, not a blank one
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image, SCREENSHOTS / "contract-page1.png")


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(
        next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages:"))
    )


@pytest.mark.slow
def test_every_page_of_every_template_renders_through_libreoffice(tmp_path: Path) -> None:
    """Each example through each contract template, as legal would send it: LibreOffice
    lays out every page (PDF), every page becomes an image (kept in
    CONTRACTFLOW_DOCUMENT_PAGES when set, to look at), and the text legal sends reads
    right: names for codes, the governing law once, none of our internal data."""
    import os

    soffice = _soffice()
    names = []
    for path in EXAMPLE_FILES:
        for template in ("sales", "purchase"):
            name = f"{path.stem}-{template}.docx"
            (tmp_path / name).write_bytes(render(example(path.stem), template, revision=1))
            names.append(name)
    proc = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            *names,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    keep = os.environ.get("CONTRACTFLOW_DOCUMENT_PAGES")
    for name in names:
        pdf = tmp_path / name.replace(".docx", ".pdf")
        pages = _pages(pdf)
        assert 2 <= pages <= 8, (name, pages)
        text = _pdf_text(pdf)
        assert f"Page {pages} of {pages}" in text, name  # the footer numbers every page
        assert "法律法律" not in text and "信用等级" not in text and "合同管理人" not in text
        law_zh, _ = law_names(example(name.split("-sales")[0].split("-purchase")[0]).governing_law)
        assert f"本合同适用{law_zh}" in text.replace("\n", "").replace(" ", ""), name
        stem = tmp_path / name.replace(".docx", "")
        subprocess.run(
            ["pdftoppm", "-r", "60", "-png", str(pdf), str(stem)], check=True, timeout=120
        )
        images = sorted(tmp_path.glob(f"{stem.name}-*.png"))
        assert len(images) == pages, (name, len(images), pages)
        for image in images:
            assert image.stat().st_size > 8_000, image.name  # a page with content on it
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(image, Path(keep) / image.name)
