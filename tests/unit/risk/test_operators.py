"""Every operator, null case and quantifier mix agrees across the three evaluators.

A synthetic rule set (not the catalogue) uses each part of the condition language,
including the ones the catalogue does not (`ne` and `not_in` on nullable fields, `not`
over a quantifier, `any` mixing `some` and tests, sums compared with `ne`, literal day
shifts and percentages); hypothesis then compares durable_rules, the generated Python
functions and the closures behind `--explain` on the oracle's edge-value contracts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.definitions.riskconfig import RiskConfig
from engine.definitions.rules import load_rule_texts
from engine.domain.contract import Contract
from engine.domain.rules import RuleSet
from engine.risk.pool import DurableEvaluator
from engine.risk.python import PythonEvaluator
from engine.risk.values import Env
from tests.support import skip_without_durable
from tests.unit.risk.readings import assert_second_readings_agree
from tests.unit.risk.test_oracle import AS_OF, contracts

RULES = """
rules:
  - id: t.ne_nullable
    category: counterparty
    description: ne holds for a null rating
    when: {field: counterparty.credit_rating, ne: BB}
    severity: low
    message: m
  - id: t.not_in_nullable
    category: counterparty
    description: not_in holds for a null rating
    when: {field: counterparty.credit_rating, not_in: [B, D]}
    severity: low
    message: m
  - id: t.not_gt_nullable
    category: liability
    description: not over a nullable comparison
    when: {not: {field: liability_cap_percent, gt: 150}}
    severity: medium
    message: m
  - id: t.present
    category: liability
    description: present true
    when: {field: renewal_notice_days, present: true}
    severity: low
    message: m
  - id: t.any_mixed
    category: guarantees
    description: any of a quantifier and a test
    when:
      any:
        - some: guarantees
          where: {field: kind, eq: collateral}
        - {field: liability_cap_percent, ge: {param: liability_cap_limit}}
    severity: [{level: high, when: {none: guarantees}}, {level: low}]
    message: m
  - id: t.not_some
    category: guarantees
    description: not over some, inside all with not over none
    when:
      all:
        - {not: {some: guarantees, where: {field: amount_base, gt: {param: exposure_limit}}}}
        - {not: {none: obligations}}
    severity: medium
    message: m
  - id: t.two_somes
    category: guarantees
    description: two positive quantifiers one item may satisfy together
    when:
      all:
        - some: guarantees
          where: {field: kind, in: [collateral, bank_guarantee]}
        - some: guarantees
          where: {field: amount_base, gt: 150000}
        - {not: {none: guarantees, where: {field: expires_on, present: true}}}
    severity: medium
    message: m
  - id: t.sum_ne
    category: guarantees
    description: a sum compared with ne and a literal percentage
    when:
      sum: guarantees
      of: amount
      ne: {field: amount, percent: 10}
    severity: low
    message: "{guarantees_amount_total}"
  - id: t.item_dates
    category: guarantees
    description: item dates against contract dates with literal shifts, null expiry
    for_each: guarantees
    when:
      any:
        - {field: expires_on, ge: {field: contract.end_date, plus_days: 30}}
        - {not: {field: expires_on, le: {field: contract.start_date, minus_days: 1}}}
    severity: [{level: critical, when: {field: expires_on, present: false}}, {level: low}]
    message: "{subject} {expires_on}"
  - id: t.days_past_due
    category: obligations
    description: a derived item number
    for_each: obligations
    when:
      all:
        - {field: days_past_due, ge: -7}
        - {field: party, ne: us}
        - {not: {field: status, in: [fulfilled]}}
    severity: low
    message: "{subject} {days_past_due}"
  - id: t.days_around_end
    category: guarantees
    description: derived expiry-to-end day counts in conditions, bands with own messages
    for_each: guarantees
    when: {field: days_after_end, lt: 31}
    severity:
      - {level: high, when: {field: days_before_end, gt: 0}, message: "{subject} -{days_before_end}"}
      - {level: low, message: "{subject} +{days_after_end}"}
"""


@pytest.fixture(scope="module")
def synthetic(risk_config: RiskConfig) -> RuleSet:
    return load_rule_texts({"synthetic.yaml": RULES}, risk_config.parameters)


@pytest.fixture(scope="module")
def durable_synthetic(synthetic: RuleSet, risk_config: RiskConfig) -> Iterator[DurableEvaluator]:
    skip_without_durable()
    evaluator = DurableEvaluator(synthetic, risk_config, workers=1)
    yield evaluator
    evaluator.close()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(batch=st.lists(contracts(), min_size=1, max_size=4), day=st.integers(-70, 70))
def test_every_operator_agrees_across_evaluators(
    synthetic: RuleSet,
    risk_config: RiskConfig,
    durable_synthetic: DurableEvaluator,
    batch: list[Contract],
    day: int,
) -> None:
    as_of = AS_OF + dt.timedelta(days=day)
    python = PythonEvaluator(synthetic, risk_config)
    expected = python.evaluate(batch, as_of)
    got = durable_synthetic.evaluate(batch, as_of)
    for g, x in zip(got, expected, strict=True):
        gs = {(f.rule, f.severity.value, f.subject) for f in g.flags}
        xs = {(f.rule, f.severity.value, f.subject) for f in x.flags}
        assert gs == xs, (gs - xs, xs - gs)
    assert [r.flags for r in got] == [r.flags for r in expected]
    env = Env(as_of, dict(risk_config.parameters), risk_config)
    for contract, report in zip(batch, expected, strict=True):
        closures = sorted(
            (h.rule.id, h.rule.bands[h.band].level.value, h.item[1] if h.item else -1)
            for compiled in python._compiled
            for h in compiled.hits(contract, env)
        )
        generated = sorted(
            (
                f.rule,
                f.severity.value,
                -1 if f.subject is None else _index(contract, f.rule, f.subject),
            )
            for f in report.flags
        )
        assert closures == generated
    assert_second_readings_agree(synthetic, batch, env, [r.flags for r in expected])


def _index(contract: Contract, rule: str, subject: str) -> int:
    guarantee_rules = ("t.item_dates", "t.days_around_end")
    coll = contract.guarantees if rule in guarantee_rules else contract.obligations
    return next(i for i, x in enumerate(coll) if x.id == subject)
