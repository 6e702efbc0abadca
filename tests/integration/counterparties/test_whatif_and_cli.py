"""`rules whatif` (SPEC 7a) and the issue's commands as a user types them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.errors import InvalidDefinition
from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.whatif import whatif
from engine.settings import PROJECT_ROOT
from engine.store import models as m
from tests.integration.cli_support import run_cli
from tests.integration.counterparties.support import CODE, HUADONG, sale, use_backend
from tests.integration.workflow.support import contract_file, prepare


@pytest.fixture
def crt(rt: Runtime) -> Runtime:
    prepare(rt)
    use_backend(rt, "python")
    return rt


def _stored(rt: Runtime) -> tuple[int, int]:
    with rt.db.reads() as s:
        return (
            int(s.scalar(select(func.count()).select_from(m.RiskEvaluation)) or 0),
            int(s.scalar(select(func.count()).select_from(m.RiskFlag)) or 0),
        )


def test_whatif_lists_the_contracts_a_lower_exposure_limit_changes_and_stores_nothing(
    crt: Runtime,
) -> None:
    lifecycle.submit_contract(crt, sale("SC-1", 800000, guarantees=[]), "alice")
    lifecycle.submit_contract(crt, sale("SC-2", 100000, guarantees=[]), "alice")
    before = _stored(crt)
    result = whatif(crt, params={"exposure_limit": 500000})
    assert result["contracts"] == 2
    assert result["changed"] == [
        {"id": "SC-1", "from": "none", "to": "high", "added": ["guarantees.missing"], "removed": []}
    ]
    # SC-1 waits in legal_review, whose route goes to risk_review at high: it would route.
    assert result["would_route"] == ["SC-1"]
    assert _stored(crt) == before


def test_whatif_with_a_broken_rule_folder_names_file_and_line(crt: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "rules", folder)
    broken = folder / "renewal.yaml"
    broken.write_text(broken.read_text().replace("severity: low", "severity: lowish", 1))
    with pytest.raises(InvalidDefinition) as err:
        whatif(crt, rules_dir=folder)
    assert any("renewal.yaml:" in line and "lowish" in line for line in err.value.lines())


def test_the_issue_commands_work_as_typed(crt: Runtime, tmp_path: Path) -> None:
    url = crt.settings.database_url
    env = {"CONTRACTFLOW_DATA_DIR": str(crt.settings.data_dir)}  # the same audit key
    added = run_cli(
        "counterparties",
        "add",
        HUADONG,
        "--code",
        CODE,
        "--rating",
        "BBB",
        "--credit-limit",
        "3000000",
        "--as",
        "rita",
        "--format",
        "json",
        db_url=url,
        **env,
    )
    assert added.code == 0, added.stderr
    assert added.json["available_credit"] == 3000000
    lifecycle.submit_contract(crt, sale("SC-1", 2400000), "alice")
    draft = contract_file(tmp_path, id="SC-2", amount=700000, obligations=None)
    checked = run_cli("rules", "check", str(draft), "--format", "json", db_url=url, **env)
    assert "counterparty.credit_limit" in [f["rule"] for f in checked.json["flags"]]
    submitted = run_cli(
        "submit", str(draft), "--as", "alice", "--format", "json", db_url=url, **env
    )
    assert submitted.code == 0, submitted.stderr
    assert submitted.json["max_severity"] in ("high", "critical")
    shown = run_cli(
        "counterparties", "show", CODE, "--format", "json", "--as", "lena", db_url=url, **env
    )
    assert set(shown.json) >= {
        "name",
        "code",
        "rating",
        "status",
        "credit_limit",
        "exposure",
        "available_credit",
        "contracts",
        "history",
    }
    assert shown.json["exposure"] == 3100000
    changed = run_cli(
        "counterparties",
        "set",
        HUADONG,
        "--status",
        "blocked",
        "--reason",
        "court ruling",
        "--as",
        "rita",
        "--format",
        "json",
        db_url=url,
        **env,
    )
    assert changed.code == 0, changed.stderr
    assert changed.json["rescored"] == 2
    assert sorted(changed.json["raised"]) == ["SC-1", "SC-2"]
    what = run_cli(
        "rules", "whatif", "--param", "exposure_limit=500000", "--format", "json", db_url=url, **env
    )
    assert what.code == 0 and what.json["contracts"] == 2
    refused = run_cli(
        "counterparties",
        "set",
        HUADONG,
        "--status",
        "watch",
        "--reason",
        "x",
        "--as",
        "alice",
        db_url=url,
        **env,
    )
    assert refused.code == 1 and "risk_officer" in refused.stderr
    unknown = run_cli("counterparties", "show", CODE, "--as", "ghost", db_url=url, **env)
    assert unknown.code == 2


def test_a_wrong_code_in_a_contract_file_is_exit_2_naming_the_field(tmp_path: Path) -> None:
    draft = contract_file(tmp_path, counterparty={"name": HUADONG, "code": "91350100M000100Y44"})
    result = run_cli("contracts", "validate", str(draft), "--format", "json", db_url="sqlite://")
    assert result.code == 2
    assert any("counterparty.code" in e and "check character" in e for e in result.json["errors"])
    assert "Traceback" not in result.stderr
