"""A risk warning reaches the owner by real SMTP through the alert job, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.services import lifecycle
from engine.services.alerts import run_alerts
from engine.services.counterparties import set_counterparty
from engine.services.runtime import Runtime
from engine.services.users import seed_roles
from tests.integration.alerts.conftest import alert_settings
from tests.integration.alerts.support import SmtpServer
from tests.integration.counterparties.support import HUADONG, sale, use_backend
from tests.integration.workflow.support import prepare
from tests.support import FrozenClock


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_the_owner_of_a_raised_contract_gets_one_risk_warning_email(
    db_url: str, tmp_path: Path, clock: FrozenClock, smtp: SmtpServer
) -> None:
    rt = Runtime(alert_settings(db_url, tmp_path, smtp.port), clock=clock)
    try:
        with rt.db.transaction() as session:
            seed_roles(session)
        prepare(rt)
        use_backend(rt, "python")
        lifecycle.submit_contract(rt, sale("SC-1"), "alice")
        set_counterparty(rt, "rita", HUADONG, status="blocked", reason="court ruling")
        first = run_alerts(rt)
        second = run_alerts(rt)
    finally:
        rt.close()
    warnings = [r for r in smtp.messages if "risk warning" in r.subject]
    assert len(warnings) == 1
    assert warnings[0].recipients == ["alice@example.com"]
    assert warnings[0].subject.startswith("SC-1: risk warning")
    assert "court ruling" in warnings[0].part("text/plain")
    assert first["sent"] >= 1 and second["sent"] == 0
