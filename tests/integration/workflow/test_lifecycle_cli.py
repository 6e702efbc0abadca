"""The whole lifecycle as a user types it (SPEC section 4), in a real subprocess."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.services.users import add_user
from engine.settings import Settings
from tests.integration.cli_support import run_cli
from tests.integration.workflow.support import PEOPLE, contract_file


@pytest.mark.slow
def test_the_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    # One database kind is enough here: the services under these commands run on both
    # in test_lifecycle.py, and each command is a fresh process (about a second each).
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"

    def cf(*args: str, code: int = 0) -> object:
        result = run_cli(*args, db_url=db_url, cwd=tmp_path, CONTRACTFLOW_RISK_BACKEND="python")
        assert result.code == code, (args, result.stdout, result.stderr)
        if "--format" in args and result.code == 0:
            return result.json
        return result

    # Setting up people is not what this test is about: do it in-process (fast).
    rt = Runtime(Settings(database_url=db_url, data_dir=tmp_path / "data"))
    try:
        init = initialise(rt)
        for name, roles in PEOPLE.items():
            add_user(rt, name, list(roles), email=f"{name}@example.com")
    finally:
        rt.close()
    assert {"workflow": "standard", "version": 1} in [
        {k: w[k] for k in ("workflow", "version")} for w in init["workflows"]
    ]

    draft = contract_file(tmp_path)
    shown = cf("submit", str(draft), "--as", "alice", "--format", "json")
    assert {
        "id",
        "title",
        "stage",
        "status",
        "workflow",
        "workflow_version",
        "max_severity",
        "flags",
        "tasks",
        "history",
    } <= set(shown)
    assert (shown["id"], shown["stage"], shown["status"]) == (
        "SC-2026-0042",
        "legal_review",
        "active",
    )

    tasks = cf("tasks", "--as", "lena", "--format", "json")
    assert [
        set(t) >= {"id", "contract", "stage", "role", "assignee", "due", "status"} for t in tasks
    ] == [True]
    legal = tasks[0]["id"]

    refused = cf("act", str(legal), "approve", "--as", "alice", code=1)
    assert "does not hold the role legal" in refused.stderr and "Traceback" not in refused.stderr
    missing = cf("act", str(legal), "reject", "--as", "lena", code=2)
    assert "needs a comment" in missing.stderr

    def open_task(view: dict, role: str) -> str:  # type: ignore[type-arg]
        return str(
            next(t["id"] for t in view["tasks"] if t["role"] == role and t["status"] == "open")
        )

    view = cf(
        "act", str(legal), "approve", "--comment", "terms ok", "--as", "lena", "--format", "json"
    )
    again = cf("act", str(legal), "approve", "--as", "lars", code=1)
    assert f"task {legal} is approved, not open" in again.stderr
    view = cf("act", open_task(view, "finance"), "approve", "--as", "fei", "--format", "json")
    if view["stage"] == "risk_review":  # the real rules may find a high risk
        view = cf(
            "act", open_task(view, "risk_officer"), "approve", "--as", "rita", "--format", "json"
        )
    assert view["stage"] == "signing"
    view = cf("act", open_task(view, "signer"), "approve", "--as", "sam", "--format", "json")
    assert view["stage"] == "fulfilment"

    for oid in ("OB-1", "OB-2", "OB-3"):
        shown = cf(
            "obligations",
            "fulfil",
            "SC-2026-0042",
            oid,
            "--on",
            dt.datetime.now(dt.UTC).date().isoformat(),  # never in the future
            "--as",
            "alice",
            "--format",
            "json",
        )
    assert shown["stage"] == "evaluation"
    task = cf("tasks", "--as", "alice", "--format", "json")[0]["id"]
    closed = cf("act", str(task), "approve", "--as", "alice", "--format", "json")
    assert (closed["stage"], closed["status"]) == ("closed", "closed")

    table = cf("show", "SC-2026-0042")
    assert "History" in table.stdout and "closed" in table.stdout
    verified = cf("audit", "verify", "--format", "json")
    assert verified["verified"] is True and verified["events"] == len(closed["history"])
    listed = cf("workflows", "list", "--format", "json")
    assert {(w["workflow"], w["contracts"]) for w in listed} >= {("standard", 1), ("purchase", 0)}
    bad = cf(
        "workflows",
        "validate",
        str(Path(__file__).parents[2] / "data" / "workflows_bad" / "dead_end.yaml"),
        code=2,
    )
    assert "dead_end.yaml:10: stage 'limbo' is not final and has no way out" in bad.stderr
    report = cf(
        "workflows", "validate", str(draft.parent / "none.yaml"), "--format", "json", code=2
    )
    assert report.json["valid"] is False
    assert report.json["errors"] == [f"{draft.parent / 'none.yaml'}: no such file"]
    changed = tmp_path / "standard.yaml"
    changed.write_text(
        (Path(__file__).parents[3] / "config" / "workflows" / "standard.yaml")
        .read_text()
        .replace("due_in: 3d", "due_in: 4d")
    )
    refused = cf("workflows", "load", str(changed), code=1)
    assert "standard version 1 is already loaded with a different definition" in refused.stderr
