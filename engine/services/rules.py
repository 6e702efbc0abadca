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


def show(value: Any) -> str:
    """A value as people read it: 60, not Decimal('60'); dates as 2027-01-04."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return str(int(value))
        return format(value.normalize(), "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _flags_text(flags: list[tuple[str, str]]) -> str:
    if not flags:
        return "no flag"
    return ", ".join(f"{sev} on {subject}" if subject else sev for sev, subject in flags)


def _got(rule: Rule, flags: list[Flag]) -> list[tuple[str, str]]:
    return sorted((f.severity.value, f.subject or "") for f in flags if f.rule == rule.id)


def _want(ex: Example) -> list[tuple[str, str]]:
    return sorted((e.severity.value if e.severity else "?", e.subject or "") for e in ex.fires)


def _matches(got: list[tuple[str, str]], want: list[tuple[str, str]]) -> bool:
    return len(got) == len(want) and all(
        w[0] in ("?", g[0]) and (not w[1] or w[1] == g[1]) for g, w in zip(got, want, strict=True)
    )


def example_failures(rule: Rule, ex: Example, flags: list[Flag]) -> list[str]:
    got, want = _got(rule, flags), _want(ex)
    problems: list[str] = []
    if not _matches(got, want):
        problems.append(f"expected {_flags_text(want)}, got {_flags_text(got)}")
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
                problems.append(f"evidence {key} = {show(actual)}, expected {show(value)}")
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


def _retuned(rt: Runtime, rule: Rule, ex: Example) -> dict[str, tuple[Decimal, Decimal]]:
    """{parameter: (written for, configured)} where config/risk.yaml moved a threshold the
    rule reads away from the value its example was written for (the example's own
    `params:` are deliberate and stay)."""
    configured = rt.risk_config.parameters
    return {
        name: (value, Decimal(configured[name]))
        for name, value in ex.written_for.items()
        if name in rule.params
        and name not in ex.params
        and name in configured
        and Decimal(configured[name]) != value
    }


def run_examples(rt: Runtime, rules: RuleSet | None = None, backend: Any = None) -> dict[str, Any]:
    """Run every example of every rule with the thresholds it was written for; `failures`
    names file:line, rule and what differed. `notes` names the examples whose flags differ
    under the thresholds configured in config/risk.yaml (not a failure: the risk officer
    tuned them; the note says what the examples no longer show)."""
    from engine.risk.flags import effective_params

    rules = rules or folder_rules(rt)
    evaluator = backend or PythonEvaluator(rules, rt.risk_config)
    cases: list[dict[str, Any]] = []
    notes: list[str] = []
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
            params = {**ex.written_for, **ex.params}
            effective_params(rt.risk_config, params)
            report = evaluator.evaluate([contract], ex.as_of, params)[0]
            entry["problems"] = example_failures(rule, ex, report.flags)
            cases.append(entry)
            moved = _retuned(rt, rule, ex)
            if moved and not entry["problems"]:
                tuned = evaluator.evaluate([contract], ex.as_of, ex.params)[0]
                got = _got(rule, tuned.flags)
                if not _matches(got, _want(ex)):
                    was = ", ".join(f"{n}={show(w)}" for n, (w, _) in moved.items())
                    now = ", ".join(f"{n}={show(c)}" for n, (_, c) in moved.items())
                    notes.append(
                        f"{entry['where']}: example '{ex.name}' of rule {rule.id} expects "
                        f"{_flags_text(_want(ex))} with {was}; with the configured {now} it "
                        f"gives {_flags_text(got)}"
                    )
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
        "notes": notes,
        "rules_without_both_cases": missing,
    }


def examples_against_config(rt: Runtime, rules: RuleSet) -> list[str]:
    """For `init`: the notes of `run_examples` (examples that no longer hold for the
    thresholds in config/risk.yaml), on the Python backend (same semantics, no worker)."""
    return list(run_examples(rt, rules)["notes"])


def merge_backend_runs(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One result from the same examples run on several backends: a failure both give
    alike is listed once for "both backends"; one that differs names its backend."""
    names = list(runs)
    first = runs[names[0]]
    by_case: dict[tuple[str, str, str, tuple[str, ...]], list[str]] = {}
    order: list[tuple[str, str, str, tuple[str, ...]]] = []
    for name in names:
        for f in runs[name]["failures"]:
            key = (f["where"], f["rule"], f["example"], tuple(f["problems"]))
            if key not in by_case:
                by_case[key] = []
                order.append(key)
            by_case[key].append(name)
    failures = []
    for key in order:
        where, rule, example, problems = key
        who = by_case[key]
        backend = (
            ("both backends" if len(names) == 2 else "all backends")
            if len(who) == len(names)
            else " and ".join(who)
        )
        failures.append(
            {
                "rule": rule,
                "example": example,
                "where": where,
                "problems": list(problems),
                "backend": backend,
            }
        )
    notes: list[str] = []
    for name in names:
        notes.extend(n for n in runs[name]["notes"] if n not in notes)
    failed = len({(f["where"], f["rule"], f["example"]) for f in failures})
    return {
        "examples": first["examples"],
        "passed": first["examples"] - failed,
        "failed": failed,
        "failures": failures,
        "notes": notes,
        "rules_without_both_cases": first["rules_without_both_cases"],
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
