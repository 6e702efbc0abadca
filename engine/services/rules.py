"""Rule-set use cases: load and keep the rules in force, check one contract, run examples.

The rule set in force is the one `contractflow init` accepted last (table `rule_sets`);
before any `init` it is the `rules/` folder. A broken folder is refused by `init` and the
stored set stays in force. Batch re-scoring lives in `engine.services.rescore`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from engine.definitions.rules import example_contract, load_rule_texts, read_rule_dir
from engine.domain.contract import Contract
from engine.domain.risk import Flag, RiskReport, Severity
from engine.domain.rules import COLLECTIONS, CONTRACT_FIELDS, Example, Rule, RuleSet
from engine.errors import InvalidInput
from engine.risk.durable_compile import compile_rules
from engine.risk.python import PythonEvaluator
from engine.risk.values import Env
from engine.services.runtime import Runtime
from engine.store import models as m


def folder_rules(rt: Runtime) -> RuleSet:
    """The rules in `rules/`, checked (and compiled once, so the engine's limits are met)."""
    rules = load_rule_texts(read_rule_dir(rt.settings.rules_dir), rt.risk_config.parameters)
    compile_rules(rules)
    return rules


def _stored(rt: Runtime) -> RuleSet | None:
    """The active stored rule set, or None (no database yet, never initialised)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    url = rt.db.url
    if url.startswith("sqlite") and ":memory:" not in url:
        path = url.split(":///", 1)[-1]
        if path and not Path(path).exists():
            return None  # do not create a database file just to look
    try:
        with rt.db.transaction() as session:
            row = session.scalar(select(m.RuleSetVersion).where(m.RuleSetVersion.active.is_(True)))
            if row is None:
                return None
            sources = dict(row.sources)
    except (OperationalError, ProgrammingError) as exc:
        # Only a database without our schema means "nothing stored". Anything else (a lock
        # wait that timed out, a lost connection) must not silently switch the rule set in
        # force to the files in rules/: it surfaces as the database error it is.
        if not _schema_missing(exc):
            raise
        return None
    return load_rule_texts(sources, rt.risk_config.parameters)


def _schema_missing(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def active_rules(rt: Runtime) -> RuleSet:
    """The rule set in force: the one `init` stored last, else the files in rules/."""
    return _stored(rt) or folder_rules(rt)


def check_shipped_rules(rt: Runtime) -> RuleSet:
    """Check rules/ before `init` writes anything; raises `InvalidDefinition` when broken."""
    return folder_rules(rt)


def load_shipped_rules(rt: Runtime, rules: RuleSet | None = None) -> dict[str, int]:
    """Make rules/ the rule set in force (`init`); a broken folder changes nothing."""
    rules = rules or folder_rules(rt)
    sources = {Path(name).name: text for name, text in rules.sources.items()}
    with rt.db.transaction() as session:
        row = session.scalar(
            select(m.RuleSetVersion).where(m.RuleSetVersion.checksum == rules.checksum)
        )
        session.execute(update(m.RuleSetVersion).values(active=False))
        if row is None:
            row = m.RuleSetVersion(
                checksum=rules.checksum, sources=sources, rules_count=len(rules.rules)
            )
            session.add(row)
        row.active = True
    return {"rules": len(rules.rules)}


# -- one contract ---------------------------------------------------------------------------


def parse_params(pairs: list[str]) -> dict[str, Decimal]:
    """`NAME=VALUE` pairs from `--param`; names are checked against config/risk.yaml later."""
    out: dict[str, Decimal] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            if not sep or not name.strip():
                raise InvalidOperation
            out[name.strip()] = Decimal(value.strip().replace("_", ""))
        except InvalidOperation:
            raise InvalidInput(f"--param {pair}: expected NAME=NUMBER") from None
    return out


def report_json(report: RiskReport) -> dict[str, Any]:
    return {
        "contract": report.contract,
        "as_of": report.as_of.isoformat(),
        "max_severity": report.max_severity.value,
        "flags": [flag_json(f) for f in report.flags],
    }


def flag_json(flag: Flag) -> dict[str, Any]:
    return {
        "rule": flag.rule,
        "category": flag.category,
        "severity": flag.severity.value,
        "message": flag.message,
        "subject": flag.subject,
        "evidence": flag.evidence,
    }


def check_file(
    rt: Runtime,
    path: Path,
    as_of: dt.date | None = None,
    params: Mapping[str, Decimal] | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """Evaluate one contract file with the rules in force; stores nothing."""
    from engine.services.contracts import read_contract

    return check_contract(rt, read_contract(rt, path), as_of, params, explain)


def check_contract(
    rt: Runtime,
    contract: Contract,
    as_of: dt.date | None = None,
    params: Mapping[str, Decimal] | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """`rules check` for a contract already read (the web app's draft check)."""
    from engine.services.register import draft_with_register

    # The stored register's facts (status, limit, the other contracts' exposure): SPEC 7.
    contract = draft_with_register(rt, contract)
    day = as_of or rt.today()
    report = rt.evaluator.evaluate([contract], day, params)[0]
    out = report_json(report)
    if explain:
        from engine.risk.explain import explain as explain_rules
        from engine.risk.flags import effective_params

        py = PythonEvaluator(getattr(rt.evaluator, "rules", None) or rt.rules, rt.risk_config)
        env = Env(day, effective_params(rt.risk_config, params), rt.risk_config)
        out["rules"] = [asdict(e) for e in explain_rules(py, contract, env)]
    return out


# -- the examples beside the rules ----------------------------------------------------------


def example_failures(rule: Rule, ex: Example, flags: list[Flag]) -> list[str]:
    got = sorted(
        ((f.severity.value, f.subject or "") for f in flags if f.rule == rule.id),
    )
    want = sorted((e.severity.value if e.severity else "?", e.subject or "") for e in ex.fires)
    problems: list[str] = []
    if len(got) != len(want) or any(
        w[0] not in ("?", g[0]) or (w[1] and w[1] != g[1]) for g, w in zip(got, want, strict=False)
    ):
        problems.append(f"expected {want or 'no flag'}, got {got or 'no flag'}")
    mine = [f for f in flags if f.rule == rule.id]
    for expected in ex.fires:
        match = next(
            (f for f in mine if expected.subject in (None, f.subject)),
            None,
        )
        if match is None:
            continue
        if expected.message is not None and expected.message != match.message:
            problems.append(f"message {match.message!r}, expected {expected.message!r}")
        for key, value in expected.evidence.items():
            actual = match.evidence.get(key)
            if not _same(actual, value):
                problems.append(f"evidence {key} = {actual!r}, expected {value!r}")
    return problems


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, Decimal | int) and not isinstance(actual, bool):
        try:
            return Decimal(actual) == Decimal(str(expected))
        except InvalidOperation:
            return False
    if isinstance(actual, dt.date):
        return actual.isoformat() == str(expected)
    return bool(actual == expected)


def run_examples(rt: Runtime, rules: RuleSet | None = None, backend: Any = None) -> dict[str, Any]:
    """Run every example of every rule; `failures` names file:line, rule and what differed."""
    from engine.risk.flags import effective_params

    rules = rules or folder_rules(rt)
    evaluator = backend or PythonEvaluator(rules, rt.risk_config)
    cases: list[dict[str, Any]] = []
    for rule in rules.rules:
        for ex in rule.examples:
            entry: dict[str, Any] = {
                "rule": rule.id,
                "example": ex.name,
                "where": f"{ex.source}:{ex.line}",
            }
            try:
                contract = example_contract(ex, rt.risk_config.currencies)
            except ValueError as exc:
                entry["problems"] = [f"invalid contract: {str(exc).splitlines()[0]}"]
                cases.append(entry)
                continue
            effective_params(rt.risk_config, ex.params)
            report = evaluator.evaluate([contract], ex.as_of, ex.params)[0]
            entry["problems"] = example_failures(rule, ex, report.flags)
            cases.append(entry)
    failures = [c for c in cases if c["problems"]]
    missing = [
        r.id
        for r in rules.rules
        if not any(e.fires for e in r.examples) or not any(not e.fires for e in r.examples)
    ]
    return {
        "examples": len(cases),
        "passed": len(cases) - len(failures),
        "failed": len(failures),
        "failures": failures,
        "rules_without_both_cases": missing,
    }


# -- listing --------------------------------------------------------------------------------


def list_rules(rt: Runtime) -> list[dict[str, Any]]:
    rules = active_rules(rt)
    out = []
    for r in rules.rules:
        levels = [b.level.value for b in r.bands]
        out.append(
            {
                "id": r.id,
                "category": r.category,
                "severity": levels[0] if len(levels) == 1 else levels,
                "parameters": {p: rt.risk_config.parameters.get(p) for p in r.params},
                "for_each": r.for_each,
                "description": r.description,
                "source": f"{Path(r.source).name}:{r.line}",
            }
        )
    return out


def vocabulary() -> dict[str, Any]:
    """What rules may name, for docs and `rules list --fields`."""
    return {
        "contract": {k: asdict(v) for k, v in CONTRACT_FIELDS.items()},
        "collections": {c: {k: asdict(v) for k, v in f.items()} for c, f in COLLECTIONS.items()},
        "severities": [s.value for s in Severity if s is not Severity.NONE],
    }
