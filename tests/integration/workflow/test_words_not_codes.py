"""Words, not codes, where a person reads (tables, pages); JSON keeps the codes."""

from __future__ import annotations

from pathlib import Path

from engine.domain.wording import field_words, words
from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.services.users import add_user
from engine.settings import Settings
from tests.integration.cli_support import run_cli
from tests.integration.workflow.support import PEOPLE, contract_file


def test_codes_have_words() -> None:
    assert words("legal_review") == "legal review"
    assert words("changes_requested") == "changes requested"
    assert words("overdue_high") == "long overdue"
    assert field_words("guarantees[G-1].amount") == "guarantee G-1: amount"
    assert field_words("payment_terms.net_days") == "payment terms: net days"


def test_show_and_init_print_words_and_json_keeps_codes(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    init = run_cli("init", db_url=db_url, cwd=tmp_path, CONTRACTFLOW_RISK_BACKEND="python")
    assert init.code == 0, init.stderr
    assert "{'" not in init.stdout and "workflow standard version 1: loaded" in init.stdout
    rt = Runtime(Settings(database_url=db_url, data_dir=tmp_path / "data"))
    try:
        initialise(rt)
        for name, roles in PEOPLE.items():
            add_user(rt, name, list(roles), email=f"{name}@example.com")
        view = lifecycle.submit(rt, contract_file(tmp_path, amount=500000), "alice")
        legal = next(t.id for t in view.tasks if t.role == "legal")
        lifecycle.act(rt, legal, "request_changes", "lena", "raise the guarantee")
        changed = contract_file(
            tmp_path,
            "v2.yaml",
            amount=500000,
            guarantees=[{"id": "G-1", "kind": "bank_guarantee", "amount": 300000}],
        )
        lifecycle.revise(rt, view.id, changed, "alice")
    finally:
        rt.close()

    table = run_cli("show", "SC-2026-0042", db_url=db_url, cwd=tmp_path)
    assert table.code == 0, table.stderr
    for code in ("legal_review", "changes_requested", "request_changes", "guarantees[G-1]"):
        assert code not in table.stdout, code
    assert "stage legal review" in table.stdout
    assert "request changes" in table.stdout  # the history
    assert "guarantee G-1: amount" in table.stdout

    data = run_cli("show", "SC-2026-0042", "--format", "json", db_url=db_url, cwd=tmp_path).json
    assert data["stage"] == "legal_review"
    assert "changes_requested" in {t["status"] for t in data["tasks"]}
    assert "guarantees[G-1].amount" in [c["field"] for c in data["revisions"][1]["changes"]]
