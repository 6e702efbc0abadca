"""Workflow definitions: validate files, store versions, look them up for contracts.

A stored version is immutable: loading a file whose meaning differs from what is stored
under the same name and version is refused (give the change a new version number), while
re-loading the same definition is a no-op. New contracts start on the highest version;
a contract stays on the version it started on (`contracts.workflow_id`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, case, func, select
from sqlalchemy.orm import Session

from engine.definitions.workflows import load_workflow_file, load_workflow_text, spec_checksum
from engine.domain.views import WorkflowView
from engine.domain.workflow import WorkflowSpec
from engine.errors import Conflict, InvalidDefinition, InvalidInput, NotFound
from engine.services import admin_log
from engine.services.admin_log import Actor, command_line_actor
from engine.services.runtime import Runtime
from engine.store import models as m

_SPECS: WeakKeyDictionary[Engine, dict[int, WorkflowSpec]] = WeakKeyDictionary()


def validate_files(paths: Sequence[Path]) -> list[str]:
    """Every problem in every file as `file:line: message` (empty when all are valid)."""
    errors: list[str] = []
    seen: dict[tuple[str, int], str] = {}
    for path in paths:
        try:
            spec, _ = load_workflow_file(path)
        except InvalidInput as exc:
            errors.extend(exc.lines())
            continue
        key = (spec.name, spec.version)
        if key in seen:
            errors.append(
                f"{path}:1: workflow {spec.name} version {spec.version} is also defined in {seen[key]}"
            )
        seen[key] = str(path)
    return errors


def _store(session: Session, spec: WorkflowSpec, text: str, source: str) -> str:
    """Store one checked spec; 'loaded' or 'unchanged'. Raises Conflict on a changed version."""
    checksum = spec_checksum(spec)
    existing = session.scalar(
        select(m.WorkflowDefinition).where(
            m.WorkflowDefinition.name == spec.name, m.WorkflowDefinition.version == spec.version
        )
    )
    if existing is not None:
        if existing.checksum != checksum:
            raise Conflict(
                f"{source}:1: workflow {spec.name} version {spec.version} is already loaded "
                "with a different definition; give the changed workflow a new version number"
            )
        return "unchanged"
    session.add(
        m.WorkflowDefinition(
            name=spec.name,
            version=spec.version,
            description=spec.description,
            source_text=text,
            source_path=source[:500],
            checksum=checksum,
        )
    )
    return "loaded"


def load_files(
    rt: Runtime, paths: Sequence[Path], *, by: Actor | None = None
) -> list[dict[str, Any]]:
    """Validate every file first, then store them all in one transaction (all or nothing).
    Each version stored (not the unchanged ones) goes in the admin log."""
    errors = validate_files(paths)
    if errors:
        raise InvalidDefinition(errors)
    specs = [(*load_workflow_file(p), str(p)) for p in paths]
    out = []
    actor = by if by is not None else command_line_actor()
    now = rt.clock()
    with rt.db.transaction() as session:
        for spec, text, source in specs:
            status = _store(session, spec, text, source)
            out.append({"workflow": spec.name, "version": spec.version, "status": status})
            if status == "loaded":
                admin_log.record(
                    session,
                    actor,
                    "workflow_loaded",
                    f"{spec.name} v{spec.version}",
                    now,
                    {"workflow": spec.name, "version": spec.version, "file": Path(source).name},
                )
    return out


def shipped_files(rt: Runtime) -> list[Path]:
    return sorted((rt.settings.config_dir / "workflows").glob("*.y*ml"))


def load_shipped_workflows(rt: Runtime) -> dict[str, Any]:
    """`init`: load config/workflows/*.yaml. Returns {"workflows": [{workflow, version, status}]}."""
    files = shipped_files(rt)
    return {"workflows": load_files(rt, files) if files else []}


def _cache(session: Session) -> dict[int, WorkflowSpec]:
    """This database's parsed definitions, by id.

    A stored version never changes (`_store` refuses a changed definition under a version
    number already stored) and ids are not reused, so a parsed spec is good for as long
    as the engine lives: no per-call read or checksum of the definition row. The cache
    belongs to the engine, not to the process, because two databases (or a test database
    emptied and refilled, which restarts the ids) need not agree on what an id means.
    """
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    cache = _SPECS.get(engine)
    if cache is None:
        cache = _SPECS[engine] = {}
    return cache


def spec_for(session: Session, definition_id: int) -> WorkflowSpec:
    """The checked spec of a stored definition (read and parsed once per engine)."""
    cache = _cache(session)
    spec = cache.get(definition_id)
    if spec is None:
        row = session.execute(
            select(m.WorkflowDefinition.source_text, m.WorkflowDefinition.source_path).where(
                m.WorkflowDefinition.id == definition_id
            )
        ).one()
        spec = load_workflow_text(row.source_text, row.source_path or f"workflow#{definition_id}")
        cache[definition_id] = spec
    return spec


def latest_definition_id(session: Session, name: str) -> int:
    """The id of the highest stored version of `name` (what new contracts start on).

    Read on every call (another process may load a new version at any time), but only
    the id: the definition itself comes from `spec_for`'s cache.
    """
    found = session.scalar(
        select(m.WorkflowDefinition.id)
        .where(m.WorkflowDefinition.name == name)
        .order_by(m.WorkflowDefinition.version.desc())
        .limit(1)
    )
    if found is None:
        known = sorted(set(session.scalars(select(m.WorkflowDefinition.name))))
        hint = f"loaded: {', '.join(known)}" if known else "none is loaded; run `contractflow init`"
        raise NotFound(f"--workflow: no workflow named {name!r} ({hint})")
    return found


def list_workflows(rt: Runtime) -> list[WorkflowView]:
    """Every stored version with how many contracts run on it (one grouped query)."""
    with rt.db.reads() as session:
        counts = {
            wid: (total, active)
            for wid, total, active in session.execute(
                select(
                    m.Contract.workflow_id,
                    func.count(),
                    func.sum(case((m.Contract.status == "active", 1), else_=0)),
                ).group_by(m.Contract.workflow_id)
            )
        }
        rows = list(
            session.scalars(
                select(m.WorkflowDefinition).order_by(
                    m.WorkflowDefinition.name, m.WorkflowDefinition.version
                )
            )
        )
        latest: dict[str, int] = {}
        for row in rows:
            latest[row.name] = max(latest.get(row.name, 0), row.version)
        out = []
        for row in rows:
            total, active = counts.get(row.id, (0, 0))
            out.append(
                WorkflowView(
                    workflow=row.name,
                    version=row.version,
                    description=row.description,
                    contracts=int(total or 0),
                    active_contracts=int(active or 0),
                    latest=latest[row.name] == row.version,
                    stages=[s.id for s in spec_for(session, row.id).stages],
                    # The file's name, never the server's folders (the API shows this).
                    source=Path(row.source_path).name if row.source_path else "",
                    loaded_at=row.loaded_at,
                )
            )
        return out
