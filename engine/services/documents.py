"""Contract documents as use cases: render, read a .docx draft, keep the document of every
submitted revision, compare revisions, write the evaluation report.

The documents adapter (`engine.documents`) is pure (bytes in, bytes out); this module
brings the database and settings: which revision, which template, which currencies are
allowed, where the limits are, and the `documents` table that keeps what was sent out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.documents.compare import Change, compare
from engine.documents.safety import Limits
from engine.domain.contract import Contract
from engine.errors import InvalidInput, NotFound, TooLarge
from engine.services.runtime import Runtime
from engine.store import models as m

DOCX_SUFFIXES = (".docx", ".docm", ".dotx", ".dotm", ".doc")
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def limits(rt: Runtime) -> Limits:
    """Upload limits: the file size from settings; unpacked size at most 64 MB (or 20x)."""
    max_bytes = rt.settings.upload_max_bytes
    return Limits(max_bytes=max_bytes, max_uncompressed_bytes=max(64 * 1024 * 1024, 20 * max_bytes))


def is_docx_path(path: Path) -> bool:
    return path.suffix.lower() in DOCX_SUFFIXES


def default_template(contract: Contract) -> str:
    """Sales when we sell, purchase when we buy."""
    return "sales" if contract.direction.value == "sell" else "purchase"


def render(
    rt: Runtime, contract: Contract, template: str | None = None, revision: int | None = None
) -> bytes:
    """The contract as a .docx laid out by the named (or the direction's) template."""
    from engine.documents.render import render_contract
    from engine.documents.templates import load_company, load_template

    folder = rt.settings.templates_dir
    chosen = load_template(folder, template or default_template(contract))
    return render_contract(contract, chosen, load_company(folder), revision=revision)


def extract_upload(rt: Runtime, content: bytes, name: str) -> Contract:
    """A .docx draft (bytes, e.g. a web upload) checked and read into a contract."""
    from engine.documents.intake import extract_contract

    return extract_contract(content, name, currencies=rt.risk_config.currencies, limits=limits(rt))


def read_docx_contract(rt: Runtime, path: Path) -> Contract:
    """A .docx draft on disk; the size is checked before the file is read."""
    lim = limits(rt)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size > lim.max_bytes:
        raise TooLarge(
            f"{path}: file is {size / (1024 * 1024):.1f} MB, over the "
            f"{lim.max_bytes / (1024 * 1024):.1f} MB limit for contract documents"
        )
    return extract_upload(rt, path.read_bytes(), str(path))


# -- stored documents ---------------------------------------------------------------------


def contract_row(session: Session, code: str) -> m.Contract:
    row = session.scalar(select(m.Contract).where(m.Contract.code == code))
    if row is None:
        raise NotFound(f"contract {code!r} does not exist")
    return row


def _revision(session: Session, row: m.Contract, number: int) -> m.ContractRevision:
    rev = session.scalar(
        select(m.ContractRevision).where(
            m.ContractRevision.contract_id == row.id, m.ContractRevision.number == number
        )
    )
    if rev is None:
        raise NotFound(
            f"contract {row.code} has no revision {number} (revisions 1..{row.current_revision})"
        )
    return rev


def revision_contract(session: Session, row: m.Contract, number: int) -> Contract:
    """The terms of one revision as submitted (stored as `model_dump(mode="json")`)."""
    return Contract.model_validate(_revision(session, row, number).terms)


def document_filename(code: str, revision: int, kind: str = "contract") -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in code)
    suffix = {"contract": f"r{revision}", "report": "evaluation", "diff": f"r{revision}-changes"}
    return f"{safe}-{suffix.get(kind, kind)}.docx"


def revision_document(rt: Runtime, code: str, revision: int, contract: Contract) -> dict[str, Any]:
    """The kept document of a revision as the values of its `documents` row (all but the
    contract id). Rendering needs only the terms, so submit does it before its transaction."""
    content = render(rt, contract, revision=revision)
    return {
        "revision": revision,
        "kind": "contract",
        "filename": document_filename(code, revision),
        "content": content,
        "sha256": hashlib.sha256(content).hexdigest(),
        "created_at": rt.clock(),
    }


def store_revision_document(
    session: Session, rt: Runtime, row: m.Contract, revision: int, contract: Contract
) -> m.Document:
    """Render and keep the document of a submitted revision (called inside submit/revise,
    in the same transaction, so a revision never exists without its document)."""
    doc = m.Document(contract_id=row.id, **revision_document(rt, row.code, revision, contract))
    session.add(doc)
    return doc


@dataclass(frozen=True)
class DocumentFile:
    filename: str
    content: bytes
    revision: int
    stored: bool  # the kept document of record, or freshly rendered

    media_type: str = DOCX_MEDIA_TYPE


def contract_document(
    rt: Runtime, code: str, *, revision: int | None = None, template: str | None = None
) -> DocumentFile:
    """The document of a revision (default: current). The kept one when there is one and no
    other template is asked for; otherwise rendered from the revision's terms."""
    with rt.db.sessions() as session:
        row = contract_row(session, code)
        number = revision or row.current_revision
        contract = revision_contract(session, row, number)
        if template is None:
            kept = session.scalar(
                select(m.Document)
                .where(
                    m.Document.contract_id == row.id,
                    m.Document.revision == number,
                    m.Document.kind == "contract",
                )
                .order_by(m.Document.id.desc())
                .limit(1)
            )
            if kept is not None:
                return DocumentFile(kept.filename, kept.content, number, stored=True)
        content = render(rt, contract, template=template, revision=number)
        return DocumentFile(document_filename(row.code, number), content, number, stored=False)


def list_documents(rt: Runtime, code: str) -> list[dict[str, Any]]:
    """What is kept for a contract (for downloads): kind, revision, file name, size, hash."""
    with rt.db.sessions() as session:
        row = contract_row(session, code)
        docs = session.execute(
            select(
                m.Document.id,
                m.Document.kind,
                m.Document.revision,
                m.Document.filename,
                m.Document.sha256,
                m.Document.created_at,
            )
            .where(m.Document.contract_id == row.id)
            .order_by(m.Document.revision, m.Document.id)
        ).all()
        return [
            {
                "id": d.id,
                "kind": d.kind,
                "revision": d.revision,
                "filename": d.filename,
                "sha256": d.sha256,
                "created_at": d.created_at,
            }
            for d in docs
        ]


# -- comparison ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionDiff:
    code: str
    title: str
    old: int
    new: int
    changes: list[Change]
    old_meta: dict[str, str]
    new_meta: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract": self.code,
            "from": self.old,
            "to": self.new,
            "changes": [c.as_dict() for c in self.changes],
        }


def _meta(session: Session, rev: m.ContractRevision) -> dict[str, str]:
    who = session.scalar(select(m.User.username).where(m.User.id == rev.submitted_by_id)) or "?"
    at = rev.submitted_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {"submitted_by": who, "submitted_at": at, "source": rev.source_name or ""}


def compare_revisions(rt: Runtime, code: str, old: int, new: int) -> RevisionDiff:
    """Every term that differs between revisions `old` and `new` of a contract."""
    with rt.db.sessions() as session:
        row = contract_row(session, code)
        before, after = _revision(session, row, old), _revision(session, row, new)
        changes = compare(
            Contract.model_validate(before.terms), Contract.model_validate(after.terms)
        )
        return RevisionDiff(
            code=row.code,
            title=row.title,
            old=old,
            new=new,
            changes=changes,
            old_meta=_meta(session, before),
            new_meta=_meta(session, after),
        )


def diff_document(rt: Runtime, diff: RevisionDiff) -> bytes:
    from engine.documents.diffdoc import RevisionInfo, render_diff
    from engine.documents.templates import load_company

    return render_diff(
        code=diff.code,
        title=diff.title,
        old=RevisionInfo(diff.old, **diff.old_meta),
        new=RevisionInfo(diff.new, **diff.new_meta),
        changes=diff.changes,
        company=load_company(rt.settings.templates_dir),
    )


# -- YAML ---------------------------------------------------------------------------------


def contract_yaml(contract: Contract) -> str:
    """A contract file (SPEC section 1) for a contract: unset terms left out, decimals exact."""
    import io
    from decimal import Decimal
    from enum import Enum

    from ruamel.yaml import YAML

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, Enum):
            return value.value
        return value

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.allow_unicode = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)

    def decimal(representer: Any, value: Decimal) -> Any:
        text = format(value, "f")
        tag = "float" if "." in text else "int"
        return representer.represent_scalar(f"tag:yaml.org,2002:{tag}", text)

    yaml.representer.add_representer(Decimal, decimal)
    buffer = io.StringIO()
    yaml.dump(plain(contract.model_dump(mode="python")), buffer)
    return buffer.getvalue()
