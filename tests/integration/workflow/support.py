"""Helpers for lifecycle tests: evaluators built for the case, people, contract files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from engine.domain.contract import Contract
from engine.domain.risk import Flag, RiskReport, Severity
from engine.services.runtime import Runtime
from engine.services.users import add_user
from engine.services.workflows import load_shipped_workflows
from tests.support import EXAMPLES

#: One person per role, two where four-eyes or `approvals: 2` need a second one.
PEOPLE: dict[str, tuple[str, ...]] = {
    "alice": ("contract_admin",),
    "anna": ("contract_admin",),
    "lena": ("legal",),
    "lars": ("legal",),
    "leo": ("legal_lead",),
    "fei": ("finance",),
    "rita": ("risk_officer",),
    "paul": ("procurement",),
    "sam": ("signer",),
    "sue": ("signer",),
    "maria": ("contract_manager",),
    "root": ("admin",),
}


class FixedEvaluator:
    """Gives each contract the flags its title asks for: a title containing `[high]`
    gets one high `guarantees` flag, `[critical]` a critical one, and so on."""

    checksum = "test-evaluator"

    def __init__(self, severity_by_title: Mapping[str, str] | None = None) -> None:
        self.severity_by_title = dict(severity_by_title or {})
        self.calls = 0

    def evaluate(
        self,
        contracts: Sequence[Contract],
        as_of: dt.date,
        params: Mapping[str, Decimal] | None = None,
    ) -> list[RiskReport]:
        self.calls += 1
        out = []
        for c in contracts:
            flags = []
            for severity in Severity:
                if severity is not Severity.NONE and f"[{severity.value}]" in c.title:
                    flags.append(
                        Flag(
                            rule=f"test.{severity.value}",
                            category="guarantees",
                            severity=severity,
                            message=f"test flag {severity.value}",
                        )
                    )
            out.append(
                RiskReport(contract=c.id, as_of=as_of, flags=flags, ruleset_checksum=self.checksum)
            )
        return out

    def close(self) -> None:
        pass


def prepare(rt: Runtime) -> Runtime:
    """Workflows loaded, the people above added, the test evaluator in place."""
    load_shipped_workflows(rt)
    for name, roles in PEOPLE.items():
        add_user(rt, name, list(roles), email=f"{name}@example.com")
    rt.set_evaluator(FixedEvaluator())
    return rt


def contract_file(tmp_path: Path, name: str = "draft.yaml", **changes: Any) -> Path:
    """The SPEC example contract with some terms changed (`None` removes a key)."""
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load((EXAMPLES / "SC-2026-0042.yaml").read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = tmp_path / name
    with path.open("w") as fh:
        yaml.dump(data, fh)
    return path
