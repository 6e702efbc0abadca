"""`contractflow rules ...` through the real command line (durable_rules backend)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from engine.settings import PROJECT_ROOT
from engine.store import models as m
from engine.store.db import Database
from tests.integration.cli_support import run_cli
from tests.support import EXAMPLES


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cf.db'}"


#: Commands whose subject is not the engine run on the Python backend (no worker start-up);
#: the SPEC-shape check and `rules test` run on durable_rules, the default.
FAST = {"CONTRACTFLOW_RISK_BACKEND": "python"}


def test_check_prints_exactly_the_spec_shape(tmp_path: Path) -> None:
    result = run_cli(
        "rules",
        "check",
        str(EXAMPLES / "SC-2026-0042.yaml"),
        "--as-of",
        "2027-03-01",
        "--format",
        "json",
        db_url=sqlite(tmp_path),
    )
    assert result.code == 0, result.stderr
    out = result.json
    assert list(out) == ["contract", "as_of", "max_severity", "flags"]
    assert out["contract"] == "SC-2026-0042"
    assert out["as_of"] == "2027-03-01"
    assert out["max_severity"] == "critical"
    assert [(f["rule"], f["severity"], f["subject"]) for f in out["flags"]] == [
        ("obligations.overdue", "critical", "OB-1"),
        ("obligations.overdue", "high", "OB-2"),
        ("obligations.overdue", "medium", "OB-3"),
    ]
    first = out["flags"][0]
    assert list(first) == ["rule", "category", "severity", "message", "subject", "evidence"]
    assert first["evidence"]["days_past_due"] == 86
    assert first["evidence"]["overdue_critical_days"] == 60
    assert not (tmp_path / "cf.db").exists(), "rules check must store nothing"


def test_fail_on_exits_1_only_when_tripped(tmp_path: Path) -> None:
    path = str(EXAMPLES / "SC-2026-0051.yaml")
    tripped = run_cli(
        "rules",
        "check",
        path,
        "--fail-on",
        "high",
        "--as-of",
        "2027-01-04",
        db_url=sqlite(tmp_path),
        **FAST,
    )
    calm = run_cli(
        "rules",
        "check",
        path,
        "--fail-on",
        "critical",
        "--as-of",
        "2027-01-04",
        db_url=sqlite(tmp_path),
        **FAST,
    )
    assert tripped.code == 1, tripped.stderr
    assert calm.code == 0, calm.stderr


def test_param_overrides_a_threshold_for_one_check(tmp_path: Path) -> None:
    path = str(EXAMPLES / "SC-2026-0051.yaml")
    args = ("rules", "check", path, "--as-of", "2027-01-04", "--format", "json")
    default = run_cli(*args, db_url=sqlite(tmp_path), **FAST).json
    raised = run_cli(
        *args, "--param", "exposure_limit=10000000", db_url=sqlite(tmp_path), **FAST
    ).json
    assert "guarantees.missing" in [f["rule"] for f in default["flags"]]
    assert "guarantees.missing" not in [f["rule"] for f in raised["flags"]]


def test_bad_options_are_one_line_and_exit_2(tmp_path: Path) -> None:
    path = str(EXAMPLES / "SC-2026-0051.yaml")
    unknown = run_cli("rules", "check", path, "--param", "nope=1", db_url=sqlite(tmp_path), **FAST)
    severity = run_cli("rules", "check", path, "--fail-on", "dire", db_url=sqlite(tmp_path), **FAST)
    for result in (unknown, severity):
        assert result.code == 2
        assert "Traceback" not in result.stderr
    assert unknown.stderr.strip().startswith("error: --param nope: unknown parameter")
    assert "--fail-on" in severity.stderr


def test_explain_says_why_each_rule_did_not_fire(tmp_path: Path) -> None:
    out = run_cli(
        "rules",
        "check",
        str(EXAMPLES / "SC-2026-0042.yaml"),
        "--as-of",
        "2027-01-04",
        "--explain",
        "--format",
        "json",
        db_url=sqlite(tmp_path),
        **FAST,
    ).json
    by_rule = {r["rule"]: r for r in out["rules"]}
    assert len(by_rule) == 16
    net = by_rule["payment_terms.long_net_days"]
    assert not net["fired"]
    assert net["why_not"] == ["not payment_terms.net_days (60) > net_days_medium (90)"]
    assert by_rule["obligations.overdue"]["fired"]


def test_rules_test_runs_every_shipped_example(tmp_path: Path) -> None:
    result = run_cli("rules", "test", db_url=sqlite(tmp_path))
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("passed, 0 failed")


def test_rules_test_fails_on_a_wrong_example(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "rules", rules)
    text = (rules / "liability.yaml").read_text()
    (rules / "liability.yaml").write_text(text.replace("fires: [{severity: high}]", "fires: []", 1))
    result = run_cli("rules", "test", db_url=sqlite(tmp_path), CONTRACTFLOW_RULES_DIR=str(rules))
    assert result.code == 1
    assert "FAIL " in result.stdout and "liability.uncapped" in result.stdout


def test_list_names_every_rule_with_its_parameters(tmp_path: Path) -> None:
    out = run_cli("rules", "list", "--format", "json", db_url=sqlite(tmp_path), **FAST).json
    ids = [r["id"] for r in out]
    assert len(ids) == 16 and len(set(ids)) == 16
    net = next(r for r in out if r["id"] == "payment_terms.long_net_days")
    assert net["parameters"] == {"net_days_medium": 90, "net_days_high": 180}
    assert net["severity"] == ["high", "medium"]


def test_init_refuses_a_broken_rule_set_and_keeps_the_one_in_use(tmp_path: Path) -> None:
    url = sqlite(tmp_path)
    first = run_cli("init", "--format", "json", db_url=url, **FAST)
    assert first.code == 0, first.stderr
    assert first.json["rules"] == 16
    broken = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "rules", broken)
    path = broken / "renewal.yaml"
    path.write_text(path.read_text().replace("severity: low", "severity: urgent"))
    refused = run_cli("init", db_url=url, **FAST, CONTRACTFLOW_RULES_DIR=str(broken))
    assert refused.code == 2
    assert f"{path}:" in refused.stderr and "severity 'urgent'" in refused.stderr
    db = Database(url)
    with db.sessions() as s:
        active = s.scalars(select(m.RuleSetVersion).where(m.RuleSetVersion.active)).all()
    db.dispose()
    assert len(active) == 1 and active[0].rules_count == 16
    # The stored set is what `rules list` still shows, even with the broken folder around.
    listed = run_cli(
        "rules", "list", "--format", "json", db_url=url, **FAST, CONTRACTFLOW_RULES_DIR=str(broken)
    ).json
    assert any(r["id"] == "renewal.short_notice" and r["severity"] == "low" for r in listed)


def _tuned_config(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of config/ with one threshold in risk.yaml changed, as a risk officer would."""
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    risk = config / "risk.yaml"
    text = risk.read_text()
    assert old in text
    risk.write_text(text.replace(old, new, 1))
    return config


def test_tuning_a_threshold_keeps_the_examples_passing_and_notes_what_they_no_longer_show(
    tmp_path: Path,
) -> None:
    config = _tuned_config(tmp_path, "net_days_medium: 90 ", "net_days_medium: 60 ")
    result = run_cli("rules", "test", db_url=sqlite(tmp_path), CONTRACTFLOW_CONFIG_DIR=str(config))
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("passed, 0 failed")
    assert "FAIL" not in result.stdout and "Decimal(" not in result.stdout
    notes = [line for line in result.stdout.splitlines() if line.startswith("NOTE ")]
    assert notes, result.stdout
    assert len(notes) == len(set(notes)), "a note is printed once, not once per backend"
    assert all("payment_terms.long_net_days" in n for n in notes), notes
    assert any(
        "exactly 90 days does not fire" in n
        and "expects no flag with net_days_medium=90" in n
        and "with the configured net_days_medium=60 it gives medium" in n
        for n in notes
    ), notes
    init = run_cli("init", db_url=sqlite(tmp_path), CONTRACTFLOW_CONFIG_DIR=str(config), **FAST)
    assert init.code == 0, init.stdout + init.stderr
    assert any(
        line.startswith("note: ") and "configured net_days_medium=60" in line
        for line in init.stdout.splitlines()
    ), init.stdout


def test_init_with_the_shipped_thresholds_has_no_example_notes(tmp_path: Path) -> None:
    init = run_cli("init", db_url=sqlite(tmp_path), **FAST)
    assert init.code == 0, init.stdout + init.stderr
    assert "note:" not in init.stdout


def test_a_broken_example_fails_once_naming_the_backends_with_readable_values(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "rules", rules)
    path = rules / "payment_terms.yaml"
    text = path.read_text()
    wrong = "evidence: {net_days: 91, net_days_medium: 95}"
    path.write_text(text.replace("evidence: {net_days: 91, net_days_medium: 90}", wrong, 1))
    result = run_cli("rules", "test", db_url=sqlite(tmp_path), CONTRACTFLOW_RULES_DIR=str(rules))
    assert result.code == 1, result.stdout + result.stderr
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 1, result.stdout
    assert "payment_terms.long_net_days: 91 days is medium (both backends)" in fails[0]
    assert fails[0].endswith("evidence net_days_medium = 90, expected 95"), fails[0]
    assert result.stdout.strip().endswith("passed, 1 failed")
