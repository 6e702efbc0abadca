"""The counterparty register on both databases, scored by both rule backends (SPEC 7)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.services import audit, lifecycle
from engine.services.counterparties import (
    add_counterparty,
    list_counterparties,
    set_counterparty,
    show_counterparty,
)
from engine.services.runtime import Runtime
from engine.services.views import show
from engine.store import models as m
from tests.integration.counterparties.support import CODE, HUADONG, sale, use_backend
from tests.integration.workflow.support import PEOPLE, prepare

BACKENDS = ["python", "durable"]


@pytest.fixture
def crt(rt: Runtime) -> Runtime:
    prepare(rt)
    use_backend(rt, "python")
    return rt


def _sign(rt: Runtime, code: str) -> None:
    """Approve every open task of `code` (by a holder of its role) until it is signed."""
    holders = {roles[0]: name for name, roles in reversed(PEOPLE.items())}
    view = show(rt, code)
    while view.stage != "fulfilment":
        task = next(t for t in view.tasks if t.status == "open")
        view = lifecycle.act(rt, task.id, "approve", holders[task.role])


def _rules(view: lifecycle.ContractView) -> list[str]:
    return sorted(f.rule for f in view.flags)


def test_submit_links_by_code_else_by_name_and_creates_unknown_counterparties(
    crt: Runtime,
) -> None:
    lifecycle.submit_contract(
        crt, sale("SC-1", counterparty={"name": "  huadong MACHINERY co., ltd. "}), "alice"
    )
    lifecycle.submit_contract(
        crt, sale("SC-2", counterparty={"name": "Huadong (renamed)", "code": CODE}), "alice"
    )
    lifecycle.submit_contract(crt, sale("SC-3", counterparty={"code": CODE}), "alice")
    lifecycle.submit_contract(crt, sale("SC-4"), "alice")
    with crt.db.reads() as s:
        parties = s.execute(
            select(
                m.Counterparty.id, m.Counterparty.name, m.Counterparty.code, m.Counterparty.rating
            ).order_by(m.Counterparty.id)
        ).all()
        links = dict(s.execute(select(m.Contract.code, m.Contract.counterparty_id)).all())
    # SC-1 created a record (spaces tidied, rating from the file); SC-2 brought a code the
    # register did not know under a new name: a second record; SC-3 links by that code
    # whatever its name says; SC-4 (no code) links to SC-1's record by name, case ignored.
    (p1, n1, c1, r1), (p2, n2, c2, r2) = parties
    assert (n1, c1, r1) == ("huadong MACHINERY co., ltd.", None, "A")
    assert (n2, c2, r2) == ("Huadong (renamed)", CODE, "A")
    assert links == {"SC-1": p1, "SC-2": p2, "SC-3": p2, "SC-4": p1}


def test_exposure_sums_submitted_active_sales_less_settled_counterparty_payments(
    crt: Runtime,
) -> None:
    add_counterparty(crt, "rita", HUADONG, code=CODE, credit_limit="5000000")
    lifecycle.submit_contract(
        crt,
        sale(
            "SC-1",
            1000000,
            obligations=[
                {
                    "id": "P-1",
                    "party": "counterparty",
                    "kind": "payment",
                    "due": "2027-02-01",
                    "amount": "300000",
                },
                {
                    "id": "D-1",
                    "party": "us",
                    "kind": "payment",
                    "due": "2027-02-01",
                    "amount": "900000",
                },
            ],
        ),
        "alice",
    )
    lifecycle.submit_contract(crt, sale("SC-2", 200000, currency="USD"), "alice")
    lifecycle.submit_contract(crt, sale("PO-1", 700000, direction="buy"), "alice")
    shown = show_counterparty(crt, CODE, "lena")
    assert shown["exposure"] == Decimal(1000000 + 1420000)  # USD 200,000 x 7.10; buy owes 0
    assert shown["available_credit"] == Decimal(5000000 - 2420000)
    _sign(crt, "SC-1")  # obligations are recorded once signed (docs/workflows.md)
    lifecycle.fulfil_obligation(crt, "SC-1", "P-1", "alice", on=crt.today())
    shown = show_counterparty(crt, HUADONG.upper(), "lena")
    assert shown["exposure"] == Decimal(700000 + 1420000)
    outstanding = {c["id"]: c["outstanding"] for c in shown["contracts"]}
    assert outstanding == {"SC-1": Decimal(700000), "SC-2": Decimal(1420000), "PO-1": Decimal(0)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_contract_taking_the_counterparty_over_its_limit_is_high_and_goes_to_risk_review(
    crt: Runtime, backend: str
) -> None:
    use_backend(crt, backend)
    add_counterparty(crt, "rita", HUADONG, code=CODE, rating="BBB", credit_limit="3000000")
    first = lifecycle.submit_contract(crt, sale("SC-1", 2400000), "alice")
    assert "counterparty.credit_limit" not in _rules(first)
    second = lifecycle.submit_contract(crt, sale("SC-2", 700000), "alice")
    flag = next(f for f in second.flags if f.rule == "counterparty.credit_limit")
    assert flag.severity.value == "high"
    assert {k: Decimal(str(v)) for k, v in flag.evidence.items()} == {
        "credit_limit": Decimal(3000000),
        "exposure_other": Decimal(2400000),
        "outstanding": Decimal(700000),
    }
    for task in second.tasks:
        if task.status == "open":
            who = {"legal": "lena", "finance": "fei"}[task.role]
            view = lifecycle.decide(crt, task.id, "approve", who)
    assert view.stage == "risk_review"


def test_request_changes_back_to_drafting_takes_a_contract_out_of_the_exposure(
    crt: Runtime,
) -> None:
    add_counterparty(crt, "rita", HUADONG, credit_limit="1000000")
    view = lifecycle.submit_contract(crt, sale("SC-1", 600000), "alice")
    task = next(t for t in view.tasks if t.status == "open" and t.role == "legal")
    lifecycle.decide(crt, task.id, "request_changes", "lena", comment="fix the terms")
    assert show_counterparty(crt, HUADONG, "lena")["exposure"] == Decimal(0)
    second = lifecycle.submit_contract(crt, sale("SC-2", 600000), "alice")
    assert "counterparty.credit_limit" not in _rules(second)


@pytest.mark.parametrize("backend", BACKENDS)
def test_blocking_a_counterparty_rescores_its_contracts_and_warns_each_owner_once(
    crt: Runtime, backend: str
) -> None:
    use_backend(crt, backend)
    lifecycle.submit_contract(crt, sale("SC-1"), "alice")
    lifecycle.submit_contract(crt, sale("SC-2", owner="anna"), "alice")
    result = set_counterparty(crt, "rita", HUADONG, status="blocked", reason="court ruling")
    assert result.as_dict() == {"counterparty": HUADONG, "rescored": 2, "raised": ["SC-1", "SC-2"]}
    assert show(crt, "SC-1").max_severity == "critical"
    # The same value again changes nothing and warns nobody again.
    again = set_counterparty(crt, "rita", HUADONG, status="blocked", reason="still blocked")
    assert again.rescored == 0 and again.raised == []
    # Watch is below blocked: re-scored, nothing rose, no new warning.
    lower = set_counterparty(crt, "rita", HUADONG, status="watch", reason="appeal won")
    assert lower.rescored == 2 and lower.raised == []
    with crt.db.reads() as s:
        mails = s.execute(
            select(m.OutboxMessage.recipients, m.OutboxMessage.subject)
            .where(m.OutboxMessage.kind == "risk_warning")
            .order_by(m.OutboxMessage.id)
        ).all()
        events = s.scalar(
            select(func.count())
            .select_from(m.AuditEvent)
            .where(m.AuditEvent.action == "counterparty_change")
        )
        history = s.scalars(select(m.CounterpartyChange.field)).all()
    assert [r for r, _ in mails] == [["alice@example.com"], ["anna@example.com"]]
    assert all("risk warning" in subject and subject.startswith("SC-") for _, subject in mails)
    assert events == 2
    assert audit.verify(crt).verified  # the events chain onto each contract's trail
    assert history.count("status") == 2


def test_only_risk_officers_and_admins_change_the_register(crt: Runtime) -> None:
    with pytest.raises(Forbidden):
        add_counterparty(crt, "alice", HUADONG)
    add_counterparty(crt, "root", HUADONG)
    with pytest.raises(Forbidden):
        set_counterparty(crt, "lena", HUADONG, status="watch", reason="x")
    with pytest.raises(Conflict):
        add_counterparty(crt, "rita", HUADONG.lower())
    with pytest.raises(NotFound):
        show_counterparty(crt, "nobody", "lena")
    with pytest.raises(NotFound):
        list_counterparties(crt, "ghost")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("code", "91350100M000100Y44", "--code: 91350100M000100Y44 is not a Unified Social"),
        ("credit_limit", "-1", "--credit-limit: -1 must be an amount >= 0"),
        ("rating", "BBBB", "--rating: 'BBBB' is not a credit rating"),
        ("status", "paused", "--status: 'paused' is not one of"),
    ],
)
def test_bad_register_input_names_the_option_and_stores_nothing(
    crt: Runtime, option: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        add_counterparty(crt, "rita", HUADONG, **{option: value})
    assert message in str(err.value)
    with crt.db.reads() as s:
        assert s.scalar(select(func.count()).select_from(m.Counterparty)) == 0


def test_a_code_contradicting_the_register_refuses_the_submit(crt: Runtime) -> None:
    add_counterparty(crt, "rita", HUADONG, code=CODE)
    other = "91110000600037341L"
    with pytest.raises(InvalidInput, match=r"counterparty\.code: 91110000600037341L"):
        lifecycle.submit_contract(crt, sale("SC-1", counterparty={"code": other}), "alice")
    with crt.db.reads() as s:
        assert s.scalar(select(func.count()).select_from(m.Contract)) == 0
