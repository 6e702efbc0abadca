"""Workflow files: every shipped file loads; every broken file says what and where."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.definitions.workflows import load_workflow_file, load_workflow_text, spec_checksum
from engine.errors import InvalidDefinition
from engine.settings import PROJECT_ROOT
from tests.support import DATA

SHIPPED = sorted((PROJECT_ROOT / "config" / "workflows").glob("*.yaml"))
BAD = sorted((DATA / "workflows_bad").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+): (.+)$", re.MULTILINE)


def test_the_shipped_set_has_the_standard_and_two_more_workflows() -> None:
    assert {p.stem for p in SHIPPED} >= {"standard", "fast_track", "purchase"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_workflow_loads(path: Path) -> None:
    spec, _ = load_workflow_file(path)
    assert spec.name == path.stem
    assert spec.stages[-1].final


def test_the_standard_workflow_is_exactly_the_spec_one() -> None:
    spec, _ = load_workflow_file(PROJECT_ROOT / "config" / "workflows" / "standard.yaml")
    assert [s.id for s in spec.stages] == [
        "drafting",
        "legal_review",
        "risk_review",
        "signing",
        "fulfilment",
        "evaluation",
        "closed",
    ]
    legal = spec.stage("legal_review")
    assert [t.role for t in legal.tasks] == ["legal", "finance"]
    assert legal.tasks[0].due_in is not None and legal.tasks[0].due_in.text == "3d"
    assert legal.tasks[1].when == "amount_base > 1000000"
    assert legal.routes[0].to == "risk_review"
    assert spec.stage("fulfilment").tracks == "obligations"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_a_broken_workflow_names_file_line_and_problem(path: Path) -> None:
    expected = EXPECT.findall(path.read_text())
    assert expected, f"{path.name} has no `# expect: LINE: message` header"
    with pytest.raises(InvalidDefinition) as info:
        load_workflow_file(path)
    problems = info.value.lines()
    for line, message in expected:
        wanted = f"{path}:{line}: "
        assert any(p.startswith(wanted) and message in p for p in problems), (
            f"expected {wanted}...{message} in:\n" + "\n".join(problems)
        )


def test_every_problem_is_reported_in_one_pass() -> None:
    text = """workflow: many
version: 0
stages:
  - id: drafting
    actions: {submit: review}
  - id: review
    tasks:
      - {role: lawyer, due_in: soon}
      - {role: legal, when: "amount >"}
    actions: {approve: nowhere}
"""
    with pytest.raises(InvalidDefinition) as info:
        load_workflow_text(text, "many.yaml")
    lines = info.value.lines()
    assert any(line.startswith("many.yaml:2: version") for line in lines)
    assert any("'lawyer' is not a role" in line for line in lines)
    assert any("'soon' is not a duration" in line for line in lines)
    assert any("many.yaml:9:" in line and "when" in line for line in lines)
    assert len(lines) >= 4


def test_escalation_without_a_deadline_is_refused() -> None:
    text = """workflow: x
version: 1
stages:
  - id: drafting
    actions: {submit: review}
  - id: review
    tasks: [{role: legal, escalate_to: legal_lead}]
    actions: {approve: done}
  - id: done
    final: true
"""
    with pytest.raises(InvalidDefinition, match="needs due_in"):
        load_workflow_text(text, "x.yaml")


def test_layout_and_comments_do_not_change_a_definitions_identity() -> None:
    path = PROJECT_ROOT / "config" / "workflows" / "standard.yaml"
    text = path.read_text()
    a = load_workflow_text(text, "a.yaml")
    b = load_workflow_text(
        "# a comment\n" + text.replace("{approve: closed}", "{ approve: closed }"), "b.yaml"
    )
    assert spec_checksum(a) == spec_checksum(b)
    c = load_workflow_text(text.replace("due_in: 3d", "due_in: 2d"), "c.yaml")
    assert spec_checksum(a) != spec_checksum(c)
