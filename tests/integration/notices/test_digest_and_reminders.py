"""The daily digest for `--notify digest` users, and last-day / delegation reminders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.services import lifecycle
from engine.services.digest import plan_reminders, send_digests
from engine.services.runtime import Runtime
from engine.services.users import set_user
from tests.integration.alerts.support import SmtpServer
from tests.integration.notices.support import notices
from tests.integration.workflow.support import contract_file
from tests.support import FrozenClock


def _open(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def test_a_digest_user_gets_one_email_a_day_listing_open_tasks_overdue_first(
    nrt: Runtime, tmp_path: Path, smtp: SmtpServer, clock: FrozenClock
) -> None:
    set_user(nrt, "lars", notify="digest")
    lifecycle.submit(nrt, contract_file(tmp_path, "a.yaml", id=None, amount=500000), "alice")
    clock.now += dt.timedelta(days=4)  # the first legal task is now overdue (due in 3d)
    lifecycle.submit(nrt, contract_file(tmp_path, "b.yaml", id=None, amount=600000), "alice")
    smtp.messages.clear()
    assert send_digests(nrt) == {"queued": 1, "sent": 1, "failed": 0}
    assert send_digests(nrt) == {"queued": 0, "sent": 0, "failed": 0}  # once a day
    (mail,) = smtp.messages
    assert mail.recipients == ["lars@example.com"]
    assert mail.subject == "Your open tasks on 2027-01-08: 2, 1 overdue"
    text = mail.part("text/plain")
    first, second = text.index("1. SC-2027-0001"), text.index("2. SC-2027-0002")
    assert first < second and "overdue" in text[first:second]
    assert "https://cf.example.com/contracts/SC-2027-0001" in text


def test_immediate_users_get_no_digest(nrt: Runtime, tmp_path: Path, smtp: SmtpServer) -> None:
    lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    assert send_digests(nrt)["queued"] == 0


def test_a_task_on_its_last_day_is_emailed_once_to_who_may_act(
    nrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    assert plan_reminders(nrt) == 0  # due in three days: not yet
    clock.now += dt.timedelta(days=3)
    plan_reminders(nrt)
    plan_reminders(nrt)
    last = [r for r in notices(nrt) if r.level == "last_day"]
    assert sorted(r.recipients[0] for r in last) == ["lars@example.com", "lena@example.com"]
    assert all(r.task_id == _open(view, "legal") for r in last)
    assert last[0].subject.startswith("Last day: SC-2026-0042 (legal review) is due today")


def test_a_delegation_starting_later_is_emailed_on_its_first_day(
    nrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    lifecycle.reassign(nrt, _open(view, "legal"), "lena", "maria")
    today = clock.now.date()
    lifecycle.delegate(
        nrt, "lena", "lars", today + dt.timedelta(days=1), today + dt.timedelta(days=2)
    )
    assert [r for r in notices(nrt) if r.level == "delegated"] == []
    clock.now += dt.timedelta(days=1)
    plan_reminders(nrt)
    plan_reminders(nrt)
    delegated = [r for r in notices(nrt) if r.level == "delegated"]
    assert [r.recipients for r in delegated] == [["lars@example.com"]]
