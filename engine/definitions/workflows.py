"""Workflow files (YAML) -> `WorkflowSpec`, with every problem as `file:line: message`.

The checks run on the raw data so one pass finds all problems: the vocabulary of keys
(a strict list per level, each message says what is allowed), values (roles, `due_in`,
`approvals`, `when` parsed and type-checked against `engine.expressions.VOCABULARY`),
then the graph (unknown targets, duplicate ids, unreachable stages, dead ends, no final
stage), in the manner of python-statemachine's factory checks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.definitions.yamlio import LineMap, format_loc, load_yaml_text, read_text
from engine.domain.people import Role
from engine.domain.workflow import STAGE_ACTIONS, DueIn, WorkflowSpec
from engine.errors import InvalidDefinition, InvalidInput
from engine.expressions import ExpressionError, parse

TOP_KEYS = ("workflow", "version", "description", "stages")
STAGE_KEYS = ("id", "description", "tasks", "actions", "routes", "tracks", "final", "self_approval")
TASK_KEYS = ("role", "approvals", "when", "due_in", "escalate_to")
ROUTE_KEYS = ("when", "to")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ROLES = tuple(r.value for r in Role)

Loc = tuple[str | int, ...]


class _Problems:
    """Collects (line, message) pairs for one file."""

    def __init__(self, source: str, lines: LineMap) -> None:
        self.source = source
        self.lines = lines
        self.items: list[tuple[int, str]] = []

    def add(self, loc: Loc, message: str, *, with_path: bool = True) -> None:
        line = self.lines.line(loc) or 1
        text = f"{format_loc(loc)}: {message}" if with_path and loc else message
        self.items.append((line, text))

    def lines_out(self) -> list[str]:
        return [
            f"{self.source}:{line}: {msg}" for line, msg in sorted(self.items, key=lambda x: x[0])
        ]


def _unknown_keys(
    p: _Problems, data: Mapping[str, Any], allowed: tuple[str, ...], loc: Loc
) -> None:
    for key in data:
        if key not in allowed:
            p.add((*loc, key), f"unknown key; allowed: {', '.join(allowed)}")


def _check_when(p: _Problems, value: Any, loc: Loc) -> str | None:
    if not isinstance(value, str) or not value.strip():
        p.add(loc, "must be a condition written as text, e.g. amount_base > 1000000")
        return None
    try:
        parse(value)
    except ExpressionError as exc:
        shown = value if len(value) <= 80 else value[:77] + "..."
        p.add(loc, f"{exc.message} (column {exc.column} of {shown!r})")
        return None
    return value


def _check_role(p: _Problems, value: Any, loc: Loc) -> str | None:
    if value not in ROLES:
        p.add(loc, f"{value!r} is not a role; known: {', '.join(ROLES)}")
        return None
    return str(value)


def _check_task(p: _Problems, raw: Any, loc: Loc) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        p.add(loc, "a task is a mapping with at least `role`")
        return None
    _unknown_keys(p, raw, TASK_KEYS, loc)
    out: dict[str, Any] = {}
    if "role" not in raw:
        p.add(loc, "role: required")
    else:
        out["role"] = _check_role(p, raw["role"], (*loc, "role"))
    approvals = raw.get("approvals", 1)
    if approvals == "all" or (
        isinstance(approvals, int) and not isinstance(approvals, bool) and 1 <= approvals <= 100
    ):
        out["approvals"] = approvals
    else:
        p.add((*loc, "approvals"), f"{approvals!r} must be a number from 1 to 100 or `all`")
    if "when" in raw:
        out["when"] = _check_when(p, raw["when"], (*loc, "when"))
    if "due_in" in raw:
        due = DueIn.parse(str(raw["due_in"])) if raw["due_in"] is not None else None
        if due is None:
            p.add(
                (*loc, "due_in"),
                f"{raw['due_in']!r} is not a duration; use hours (12h), days (3d) "
                "or business days (2bd)",
            )
        out["due_in"] = due
    if "escalate_to" in raw:
        out["escalate_to"] = _check_role(p, raw["escalate_to"], (*loc, "escalate_to"))
        if "due_in" not in raw:
            p.add(
                (*loc, "escalate_to"), "needs due_in (escalation happens when the task is overdue)"
            )
    return out


def _check_stage(p: _Problems, raw: Any, loc: Loc) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        p.add(loc, "a stage is a mapping with at least `id`")
        return None
    _unknown_keys(p, raw, STAGE_KEYS, loc)
    out: dict[str, Any] = {"id": raw.get("id")}
    if "id" not in raw:
        p.add(loc, "id: required")
    elif not isinstance(raw["id"], str) or not NAME_PATTERN.match(raw["id"]):
        p.add((*loc, "id"), f"{raw['id']!r} must be lower-case letters, digits and _")
    if "description" in raw:
        out["description"] = str(raw["description"] or "")
    tasks = raw.get("tasks", [])
    if tasks is None:
        tasks = []
    if not isinstance(tasks, list):
        p.add((*loc, "tasks"), "must be a list of tasks")
        tasks = []
    out["tasks"] = [_check_task(p, t, (*loc, "tasks", i)) for i, t in enumerate(tasks)]
    actions = raw.get("actions", {}) or {}
    if not isinstance(actions, Mapping):
        p.add((*loc, "actions"), "must map actions to stages, e.g. {approve: signing}")
        actions = {}
    out["actions"] = {}
    for name, target in actions.items():
        if name not in STAGE_ACTIONS:
            p.add(
                (*loc, "actions", name),
                f"unknown action {name!r}; allowed: {', '.join(STAGE_ACTIONS)}",
            )
            continue
        out["actions"][name] = target
    routes = raw.get("routes", []) or []
    if not isinstance(routes, list):
        p.add((*loc, "routes"), "must be a list of {when, to}")
        routes = []
    out["routes"] = []
    for i, route in enumerate(routes):
        rloc = (*loc, "routes", i)
        if not isinstance(route, Mapping):
            p.add(rloc, "a route is a mapping {when: CONDITION, to: STAGE}")
            continue
        _unknown_keys(p, route, ROUTE_KEYS, rloc)
        for key in ROUTE_KEYS:
            if key not in route:
                p.add(rloc, f"{key}: required")
        when = _check_when(p, route["when"], (*rloc, "when")) if "when" in route else None
        out["routes"].append({"when": when, "to": route.get("to")})
    if "tracks" in raw:
        if raw["tracks"] != "obligations":
            p.add((*loc, "tracks"), f"{raw['tracks']!r}: only `obligations` can be tracked")
        out["tracks"] = "obligations"
    for flag in ("final", "self_approval"):
        if flag in raw:
            if not isinstance(raw[flag], bool):
                p.add((*loc, flag), f"{raw[flag]!r} must be true or false")
            out[flag] = bool(raw[flag])
    return out


def _check_graph(p: _Problems, stages: list[dict[str, Any]]) -> None:
    ids: dict[str, int] = {}
    for i, stage in enumerate(stages):
        sid = stage["id"]
        if not isinstance(sid, str):
            continue
        if sid in ids:
            first_line = p.lines.line(("stages", ids[sid], "id"))
            p.add(("stages", i, "id"), f"duplicate stage id {sid!r} (first at line {first_line})")
        else:
            ids[sid] = i
    known = ", ".join(ids)
    edges: dict[str, list[str]] = {sid: [] for sid in ids}
    for i, stage in enumerate(stages):
        sid = stage["id"]
        loc: Loc = ("stages", i)
        for action, target in stage["actions"].items():
            if target not in ids:
                p.add(
                    (*loc, "actions", action),
                    f"stage {sid!r}: action {action} goes to unknown stage {target!r} "
                    f"(stages: {known})",
                    with_path=False,
                )
            elif isinstance(sid, str):
                edges[sid].append(target)
        for j, route in enumerate(stage["routes"]):
            target = route["to"]
            if target is None:
                continue
            if target not in ids:
                p.add(
                    (*loc, "routes", j, "to"),
                    f"stage {sid!r}: route goes to unknown stage {target!r} (stages: {known})",
                    with_path=False,
                )
            elif isinstance(sid, str):
                edges[sid].append(target)
        has_way_out = bool(stage["actions"]) or bool(stage["routes"])
        if stage.get("final"):
            if stage["tasks"] or stage["actions"] or stage["routes"] or stage.get("tracks"):
                p.add(
                    (*loc, "final"),
                    f"final stage {sid!r} cannot have tasks, actions, routes or tracks",
                    with_path=False,
                )
            if i == 0:
                p.add((*loc, "final"), "the first stage cannot be final", with_path=False)
        elif not has_way_out:
            p.add(
                (*loc, "id"),
                f"stage {sid!r} is not final and has no way out (add actions, or final: true)",
                with_path=False,
            )
        if stage["tasks"] and "approve" not in stage["actions"]:
            p.add((*loc, "id"), f"stage {sid!r} has tasks but no approve action", with_path=False)
        if stage["routes"] and "approve" not in stage["actions"]:
            p.add(
                (*loc, "routes"),
                f"stage {sid!r}: routes are tried when the stage leaves by approve; add an approve action",
                with_path=False,
            )
        if stage.get("tracks") and "complete" not in stage["actions"]:
            p.add(
                (*loc, "tracks"),
                f"stage {sid!r} tracks obligations but has no complete action",
                with_path=False,
            )
        if "complete" in stage["actions"] and not stage.get("tracks"):
            p.add(
                (*loc, "actions", "complete"),
                f"stage {sid!r}: complete is only for a stage with tracks: obligations",
                with_path=False,
            )
        if "submit" in stage["actions"] and i != 0:
            p.add(
                (*loc, "actions", "submit"),
                f"stage {sid!r}: submit is only for the first stage",
                with_path=False,
            )
    if not any(s.get("final") for s in stages):
        p.add(("stages",), "no final stage (mark the last stage final: true)", with_path=False)
    if not stages or not isinstance(stages[0]["id"], str):
        return
    reachable: set[str] = set()
    todo = [stages[0]["id"]]
    while todo:
        sid = todo.pop()
        if sid not in reachable:
            reachable.add(sid)
            todo.extend(edges.get(sid, []))
    for i, stage in enumerate(stages):
        sid = stage["id"]
        if isinstance(sid, str) and sid not in reachable and ids.get(sid) == i:
            p.add(
                ("stages", i, "id"),
                f"stage {sid!r} cannot be reached from the first stage {stages[0]['id']!r}",
                with_path=False,
            )
    if p.items:
        return  # the loop check below would only repeat what is already reported
    # Every stage must be able to end somewhere: no loop without an exit.
    finals = {s["id"] for s in stages if s.get("final")}
    can_finish = set(finals)
    changed = True
    while changed:
        changed = False
        for sid, targets in edges.items():
            if sid not in can_finish and any(t in can_finish for t in targets):
                can_finish.add(sid)
                changed = True
    for i, stage in enumerate(stages):
        sid = stage["id"]
        if (
            finals
            and isinstance(sid, str)
            and sid in reachable
            and sid not in can_finish
            and (stage["actions"] or stage["routes"])
        ):
            p.add(
                ("stages", i, "id"), f"stage {sid!r} can never reach a final stage", with_path=False
            )


def check_workflow_data(
    data: Any, lines: LineMap, source: str
) -> tuple[WorkflowSpec | None, list[str]]:
    """Check raw data; return the spec, or None and every problem as `file:line: message`."""
    p = _Problems(source, lines)
    if not isinstance(data, Mapping):
        p.add((), "a workflow file is a mapping with workflow, version and stages")
        return None, p.lines_out()
    _unknown_keys(p, data, TOP_KEYS, ())
    for key in ("workflow", "version", "stages"):
        if key not in data:
            p.add((), f"{key}: required")
    name = data.get("workflow")
    if "workflow" in data and (not isinstance(name, str) or not NAME_PATTERN.match(name)):
        p.add(("workflow",), f"{name!r} must be lower-case letters, digits and _")
    version = data.get("version")
    if "version" in data and (
        not isinstance(version, int) or isinstance(version, bool) or version < 1
    ):
        p.add(("version",), f"{version!r} must be a whole number from 1 up")
    raw_stages = data.get("stages")
    stages: list[dict[str, Any]] = []
    if "stages" in data:
        if not isinstance(raw_stages, list) or not raw_stages:
            p.add(("stages",), "must be a non-empty list of stages")
        else:
            for i, raw in enumerate(raw_stages):
                stage = _check_stage(p, raw, ("stages", i))
                if stage is not None:
                    stages.append(stage)
            if len(stages) == len(raw_stages):
                _check_graph(p, stages)
    if p.items:
        return None, p.lines_out()
    spec = WorkflowSpec.model_validate(
        {
            "name": name,
            "version": version,
            "description": str(data.get("description") or ""),
            "stages": stages,
        }
    )
    return spec, []


def load_workflow_text(text: str, source: str) -> WorkflowSpec:
    """Parse and check workflow YAML; raises `InvalidDefinition` listing every problem."""
    try:
        data, lines = load_yaml_text(text, source)
    except InvalidInput as exc:
        raise InvalidDefinition(exc.problems) from None
    spec, problems = check_workflow_data(data, lines, source)
    if spec is None:
        raise InvalidDefinition(problems)
    return spec


def load_workflow_file(path: Path) -> tuple[WorkflowSpec, str]:
    """Read and check one file; returns the spec and the text it came from."""
    try:
        text = read_text(path)
    except InvalidInput as exc:
        raise InvalidDefinition(exc.problems) from None
    return load_workflow_text(text, str(path)), text


def spec_checksum(spec: WorkflowSpec) -> str:
    """Identity of a definition's meaning: comments and layout do not change it."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
