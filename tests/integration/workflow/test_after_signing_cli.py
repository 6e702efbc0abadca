"""`amend`, `renew`, `terminate` and `repeat` as a user types them (SPEC section 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.services.users import add_user
from engine.settings import Settings
from tests.integration.cli_support import run_cli
from tests.integration.workflow.support import PEOPLE, contract_file


@pytest.mark.slow
def test_amend_renew_and_terminate_from_the_command_line(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"

    def cf(*args: str, code: int = 0) -> Any:
        result = run_cli(*args, db_url=db_url, cwd=tmp_path, CONTRACTFLOW_RISK_BACKEND="python")
        assert result.code == code, (args, result.stdout, result.stderr)
        if "--format" in args and result.code == 0:
            return result.json
        return result

    rt = Runtime(Settings(database_url=db_url, data_dir=tmp_path / "data"))
    try:
        initialise(rt)
        for name, roles in PEOPLE.items():
            add_user(rt, name, list(roles), email=f"{name}@example.com")
    finally:
        rt.close()

    def task(view: dict[str, Any], role: str) -> str:
        return str(
            next(t["id"] for t in view["tasks"] if t["role"] == role and t["status"] == "open")
        )

    j = ("--format", "json")
    view = cf("submit", str(contract_file(tmp_path, amount=500000)), "--as", "alice", *j)
    view = cf("act", task(view, "legal"), "approve", "--as", "lena", *j)
    view = cf("act", task(view, "signer"), "approve", "--as", "sam", *j)
    code = view["id"]
    amended = contract_file(tmp_path, "amended.yaml", amount=520000)
    view = cf("amend", code, str(amended), "--reason", "price change", "--as", "alice", *j)
    assert view["amendments"][0] == {
        **view["amendments"][0],
        "number": 1,
        "status": "open",
        "reason": "price change",
    }
    assert [c["field"] for c in view["amendments"][0]["changes"]] == ["amount"]
    again = cf("amend", code, str(amended), "--reason", "twice", "--as", "alice", code=1)
    assert "already has amendment 1 open" in again.stderr and "Traceback" not in again.stderr
    view = cf("act", task(view, "legal"), "approve", "--as", "lena", *j)
    view = cf("act", task(view, "signer"), "approve", "--as", "sue", *j)
    assert (view["amendments"][0]["status"], view["revision"], view["amount"]) == (
        "in_force",
        2,
        520000,
    )
    shown = cf("show", code, *j)
    assert shown["amendments"][0]["status"] == "in_force"

    new = cf("renew", code, "--as", "alice", *j)
    assert new["renews"] == code
    assert cf("show", code, *j)["renewed_by"] == new["id"]

    refused = cf("terminate", code, "--reason", "customer withdrew", "--as", "alice", code=1)
    assert "may not terminate" in refused.stderr
    ended = cf("terminate", code, "--reason", "customer withdrew", "--as", "maria", *j)
    assert ended["status"] == "terminated"

    bad = contract_file(
        tmp_path,
        "bad.yaml",
        id="SC-2026-0099",
        obligations=[
            {
                "id": "OB-1",
                "party": "us",
                "kind": "service",
                "due": "2027-03-01",
                "repeat": {"every": "week", "until": "2027-01-01"},
            }
        ],
    )
    refused = cf("submit", str(bad), "--as", "alice", code=2)
    assert "obligations[0].repeat.every" in refused.stderr
    assert "Traceback" not in refused.stderr
