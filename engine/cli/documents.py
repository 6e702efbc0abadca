"""`render`, `diff`, `report` and `contracts extract`: contracts as Word documents."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.common import (
    AsUserOpt,
    DateOpt,
    FormatOpt,
    NoUserOpt,
    OutputFormat,
    acting_as,
    emit,
    parse_date,
    print_table,
    require_visible,
    runtime,
)

CONTRACT_FILE_SUFFIXES = (".yaml", ".yml", ".json", ".docx")

OutOpt = Annotated[
    Path, typer.Option("--out", "-o", help="where to write the .docx", show_default=False)
]


def register(app: typer.Typer) -> None:
    app.command("render")(render)
    app.command("diff")(diff)
    app.command("report")(report)


def _write(path: Path, content: bytes) -> None:
    from engine.errors import InvalidInput

    try:
        path.write_bytes(content)
    except OSError as exc:
        raise InvalidInput(f"--out {path}: cannot write ({exc.strerror or exc})") from None


def _written(path: Path, content: bytes, **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "file": str(path),
        "bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def render(
    contract: Annotated[
        str,
        typer.Argument(help="a contract id (e.g. SC-2026-0042) or a contract file (.yaml/.json)"),
    ],
    out: OutOpt,
    template: Annotated[
        str | None,
        typer.Option(help="sales or purchase (default: by the contract's direction)"),
    ] = None,
    revision: Annotated[
        int | None, typer.Option(min=1, help="revision number (default: the current one)")
    ] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Write a contract as a Word document: the kept document of a revision, or a new
    rendering with --template. A contract file renders without a database."""
    from engine.services import documents as docs

    path = Path(contract)
    with runtime() as rt:
        if path.suffix.lower() in CONTRACT_FILE_SUFFIXES and path.exists():
            from engine.errors import InvalidInput
            from engine.services.contracts import read_contract

            if revision is not None:
                raise InvalidInput(
                    f"--revision: {contract} is a file; revisions belong to stored contracts"
                )

            parsed = read_contract(rt, path)
            content = docs.render(rt, parsed, template=template)
            info: dict[str, Any] = {"contract": parsed.id, "revision": None, "stored": False}
        else:
            require_visible(rt, acting_as(rt, as_user), contract)
            doc = docs.contract_document(rt, contract, revision=revision, template=template)
            content = doc.content
            info = {"contract": contract, "revision": doc.revision, "stored": doc.stored}
    _write(out, content)
    result = _written(out, content, **info)
    if fmt is OutputFormat.JSON:
        emit(result, fmt)
        return
    what = "kept document" if result["stored"] else "rendered"
    rev = f" revision {result['revision']}" if result["revision"] else ""
    typer.echo(f"wrote {out} ({result['contract'] or 'draft'}{rev}, {what}, {len(content)} bytes)")


def diff(
    contract: Annotated[str, typer.Argument(help="contract id")],
    old: Annotated[int, typer.Option("--from", min=1, help="the earlier revision")],
    new: Annotated[int, typer.Option("--to", min=1, help="the later revision")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="also write a .docx with old and new side by side"),
    ] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Term-by-term changes between two revisions of a contract."""
    from engine.services import documents as docs

    with runtime() as rt:
        require_visible(rt, acting_as(rt, as_user), contract)
        result = docs.compare_revisions(rt, contract, old, new)
        content = docs.diff_document(rt, result) if out is not None else None
    if out is not None and content is not None:
        _write(out, content)
    if fmt is OutputFormat.JSON:
        data = result.as_dict()
        if out is not None and content is not None:
            data["document"] = _written(out, content)
        emit(data, fmt)
        return
    if not result.changes:
        typer.echo(f"{contract}: revisions {old} and {new} have the same terms")
    else:
        rows = [
            {
                "term": c.label,
                "change": c.change,
                f"revision {old}": c.old_text,
                f"revision {new}": c.new_text,
            }
            for c in result.changes
        ]
        print_table(
            rows,
            ["term", "change", f"revision {old}", f"revision {new}"],
            title=f"{contract}: revision {old} -> {new} "
            f"({len(rows)} change{'' if len(rows) == 1 else 's'})",
        )
    if out is not None:
        sys.stdout.write(f"wrote {out}\n")


def report(
    contract: Annotated[str, typer.Argument(help="contract id")],
    out: OutOpt,
    as_of: DateOpt = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Write the evaluation report: obligations met on time or late, payments, risk flags
    over the contract's life, approvals and their durations, reviewer comments."""
    from engine.services.evaluation_report import evaluation_report

    day = parse_date(as_of, "--as-of")
    with runtime() as rt:
        require_visible(rt, acting_as(rt, as_user), contract)
        _name, content = evaluation_report(rt, contract, day)
    _write(out, content)
    result = _written(out, content, contract=contract)
    if fmt is OutputFormat.JSON:
        emit(result, fmt)
        return
    typer.echo(f"wrote {out} (evaluation report of {contract}, {len(content)} bytes)")


def extract(
    file: Annotated[Path, typer.Argument(help="a .docx draft that follows the contract template")],
    as_user: NoUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Read a Word draft's Key terms, schedule, guarantees and obligations tables and print
    the contract file (YAML; JSON with --format json). Stores nothing."""
    from engine.services import documents as docs

    with runtime() as rt:
        contract = docs.read_docx_contract(rt, file)
    if fmt is OutputFormat.JSON:
        emit(contract.model_dump(mode="python", exclude_none=True), fmt)
        return
    sys.stdout.write(docs.contract_yaml(contract))
