"""The real flows, run end to end under Prefect against a real SMTP server and database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from engine.settings import get_settings
from engine.store import models as m
from engine.store.db import Database
from tests.integration.alerts.support import SmtpServer, add_contract, add_user

AS_OF = dt.date(2027, 3, 1)


@pytest.fixture
def product_env(
    db_url: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> Iterator[Database]:
    """The flows read settings from the environment, as they do when Prefect runs them."""
    monkeypatch.setenv("CONTRACTFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("CONTRACTFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CONTRACTFLOW_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("CONTRACTFLOW_MAIL_FROM", "cf@example.com")
    monkeypatch.setenv("CONTRACTFLOW_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    db = Database(db_url)
    from engine.services.users import seed_roles

    with db.transaction() as session:
        seed_roles(session)
    yield db
    db.dispose()
    get_settings.cache_clear()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_overdue_alerts_flow_plans_and_sends_once(
    prefect_harness: None, product_env: Database, smtp: SmtpServer
) -> None:
    from flows.alerts import overdue_alerts

    with product_env.transaction() as session:
        alice = add_user(session, "alice", "alice@example.com", ("contract_admin",))
        add_user(session, "maria", "maria@example.com", ("contract_manager",))
        add_contract(
            session,
            "SC-FLOW-1",
            alice,
            [
                {"oid": "OB-1", "due": AS_OF + dt.timedelta(days=2)},
                {"oid": "OB-2", "due": AS_OF - dt.timedelta(days=90)},
            ],
        )

    assert overdue_alerts(as_of=AS_OF) == {
        "sent": 2,
        "skipped_duplicates": 0,
        "failed": 0,
        "deferred": 0,
    }
    assert overdue_alerts(as_of=AS_OF) == {
        "sent": 0,
        "skipped_duplicates": 2,
        "failed": 0,
        "deferred": 0,
    }
    recipients = sorted(tuple(msg.recipients) for msg in smtp.messages)
    assert recipients == [
        ("alice@example.com",),
        ("alice@example.com", "maria@example.com"),
    ]


def test_overdue_alerts_flow_sends_expiry_and_renewal_notices_once(
    prefect_harness: None, product_env: Database, smtp: SmtpServer
) -> None:
    from flows.alerts import overdue_alerts

    with product_env.transaction() as session:
        alice = add_user(session, "alice", "alice@example.com", ("contract_admin",))
        add_contract(
            session,
            "SC-FLOW-9",
            alice,
            [],
            end_date=AS_OF + dt.timedelta(days=45),
            auto_renewal=True,
            renewal_notice_days=40,
        )

    # 90 and 60 days (the 60-day mark is past, the 30-day one not yet) and the notice.
    assert overdue_alerts(as_of=AS_OF) == {
        "sent": 3,
        "skipped_duplicates": 0,
        "failed": 0,
        "deferred": 0,
    }
    assert overdue_alerts(as_of=AS_OF) == {
        "sent": 0,
        "skipped_duplicates": 3,
        "failed": 0,
        "deferred": 0,
    }
    subjects = sorted(msg.subject for msg in smtp.messages)
    assert all("SC-FLOW-9" in subject for subject in subjects)
    assert [s.split(":")[0] for s in subjects] == [
        "Expiring (60 days)",
        "Expiring (90 days)",
        "Renewal notice due",
    ]


def test_sla_escalations_flow_escalates_and_emails_the_escalation_role(
    prefect_harness: None, product_env: Database, smtp: SmtpServer
) -> None:
    from flows.escalations import sla_escalations

    with product_env.transaction() as session:
        alice = add_user(session, "alice", "alice@example.com", ("contract_admin",))
        add_user(session, "lena", "lena@example.com", ("legal_lead",))
        contract = add_contract(session, "SC-FLOW-2", alice, [])
        contract.stage = "legal_review"
        session.add(
            m.Task(
                contract_id=contract.id,
                revision=1,
                stage="legal_review",
                role="legal",
                due_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                escalate_to="legal_lead",
            )
        )

    first = sla_escalations()
    assert first["escalated"] == 1 and first["sent"] == 1
    assert sla_escalations()["escalated"] == 0
    [msg] = smtp.messages
    assert msg.recipients == ["lena@example.com"]
    assert "SC-FLOW-2" in msg.subject
    assert outbox_kinds(product_env) == ["task_escalation"]


def outbox_kinds(db: Database) -> list[str]:
    with db.sessions() as session:
        return [r.kind for r in session.query(m.OutboxMessage)]


def test_nightly_rescore_flow_rescores_in_chunks_and_alerts_follow(
    prefect_harness: None,
    product_env: Database,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Contracts submitted through the real workflow; the flow re-scores them chunk by chunk
    (obligations have fallen overdue since), and once they are signed the alert flow emails
    their owner."""
    from engine.services import lifecycle
    from engine.services.rules import load_shipped_rules
    from engine.services.runtime import Runtime
    from engine.services.users import add_user as add_person
    from engine.services.workflows import load_shipped_workflows
    from flows.alerts import overdue_alerts
    from flows.rescore import nightly_rescore
    from tests.support import EXAMPLES

    monkeypatch.setenv("CONTRACTFLOW_RISK_BACKEND", "python")
    get_settings.cache_clear()
    rt = Runtime(get_settings())
    try:
        load_shipped_workflows(rt)
        load_shipped_rules(rt)
        add_person(rt, "alice", ["contract_admin"], email="alice@example.com")
        for name in ("SC-2026-0042.yaml", "SC-2026-0051.yaml", "PO-2026-0107.yaml"):
            lifecycle.submit(rt, EXAMPLES / name, "alice")
    finally:
        rt.close()

    result = nightly_rescore(as_of=dt.date(2027, 3, 1), chunk_size=2)
    assert result["chunks"] == 2 and result["scored"] == 3 and result["changed"] >= 1
    with product_env.sessions() as session:
        severity = session.scalar(
            select(m.Contract.max_severity).where(m.Contract.code == "SC-2026-0042")
        )
    assert severity == "critical"
    assert nightly_rescore(as_of=dt.date(2027, 3, 1))["changed"] == 0

    assert overdue_alerts(as_of=dt.date(2027, 3, 1))["sent"] == 0  # in review: terms only
    with product_env.transaction() as session:  # signed (the approvals are not this test's)
        for row in session.scalars(select(m.Contract)):
            row.stage = "fulfilment"
    sent = overdue_alerts(as_of=dt.date(2027, 3, 1))
    assert sent["sent"] >= 3 and sent["failed"] == 0
    subjects = {msg.subject for msg in smtp.messages}
    assert any("SC-2026-0042" in s and "OB-1" in s for s in subjects)
    assert all(msg.recipients == ["alice@example.com"] for msg in smtp.messages)


def test_task_digest_flow_sends_each_digest_user_one_email(
    prefect_harness: None, product_env: Database, smtp: SmtpServer
) -> None:
    from flows.notices import task_digest

    with product_env.transaction() as session:
        alice = add_user(session, "alice", "alice@example.com", ("contract_admin",))
        lars = add_user(session, "lars", "lars@example.com", ("legal",))
        lars.notify = "digest"
        add_user(session, "lena", "lena@example.com", ("legal",))  # immediate: no digest
        contract = add_contract(session, "SC-FLOW-9", alice, [])
        contract.stage = "legal_review"
        session.add(m.Task(contract_id=contract.id, revision=1, stage="legal_review", role="legal"))

    assert task_digest() == {"queued": 1, "sent": 1, "failed": 0}
    assert task_digest()["queued"] == 0
    [msg] = smtp.messages
    assert msg.recipients == ["lars@example.com"] and "SC-FLOW-9" in msg.part("text/plain")
