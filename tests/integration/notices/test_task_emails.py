"""Task emails: who is told, when, once, and what the message says (SPEC section 9)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.services import lifecycle
from engine.services.delivery import send_pending
from engine.services.runtime import Runtime
from engine.services.users import set_user
from tests.integration.alerts.support import SmtpServer
from tests.integration.notices.support import link, notices, recipients
from tests.integration.workflow.support import contract_file
from tests.support import FrozenClock


def _open(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def test_submitting_emails_every_holder_of_each_new_task_once_but_not_the_submitter(
    nrt: Runtime, tmp_path: Path
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path), "alice")
    assert sorted(t.role for t in view.tasks) == ["finance", "legal"]
    assert recipients(nrt) == [
        ("finance", "fei@example.com"),
        ("legal", "lars@example.com"),
        ("legal", "lena@example.com"),
    ]
    rows = notices(nrt)
    assert {r.level for r in rows} == {"opened"}
    assert len({r.key for r in rows}) == 3 and all(r.status == "pending" for r in rows)


def test_the_approval_that_opens_the_next_stage_emails_its_holders(
    nrt: Runtime, tmp_path: Path
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    lifecycle.act(nrt, _open(view, "legal"), "approve", "lena")
    assert [e for e in recipients(nrt) if e[0] == "signer"] == [
        ("signer", "sam@example.com"),
        ("signer", "sue@example.com"),
    ]


def test_digest_and_off_users_get_no_immediate_task_email(nrt: Runtime, tmp_path: Path) -> None:
    set_user(nrt, "lars", notify="digest")
    set_user(nrt, "fei", notify="off")
    lifecycle.submit(nrt, contract_file(tmp_path), "alice")
    assert recipients(nrt) == [("legal", "lena@example.com")]


def test_a_delegate_is_emailed_about_new_tasks_of_the_colleague_away(
    nrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    today = clock.now.date()
    lifecycle.delegate(nrt, "sam", "sue", today, today + dt.timedelta(days=3))
    set_user(nrt, "sue", notify="immediate")
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    lifecycle.act(nrt, _open(view, "legal"), "approve", "lena")
    signer_rows = [r for r in notices(nrt) if r.payload["role"] == "signer"]
    # sue holds the role herself: one email, as herself (once per task and user)
    assert sorted(r.recipients[0] for r in signer_rows) == ["sam@example.com", "sue@example.com"]


def test_reassigning_a_task_emails_the_new_assignee_once(nrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    task = _open(view, "legal")
    lifecycle.reassign(nrt, task, "lars", "maria")
    lifecycle.reassign(nrt, task, "lena", "maria")
    lifecycle.reassign(nrt, task, "lars", "maria")  # again: already told about this task
    reassigned = [r for r in notices(nrt) if r.level == "reassigned"]
    assert sorted(r.recipients[0] for r in reassigned) == ["lars@example.com", "lena@example.com"]
    assert all("Assigned to you: SC-2026-0042 (legal review)" in r.subject for r in reassigned)


def test_a_new_delegation_emails_the_delegate_about_the_open_tasks_it_covers(
    nrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    lifecycle.reassign(nrt, _open(view, "legal"), "lena", "maria")
    today = clock.now.date()
    lifecycle.delegate(nrt, "lena", "lars", today, today)
    delegated = [r for r in notices(nrt) if r.level == "delegated"]
    assert [r.recipients for r in delegated] == [["lars@example.com"]]
    assert delegated[0].payload["delegated_by"] == "lena"
    assert "For lena, while they are away" in delegated[0].subject


def test_the_task_email_names_terms_stage_due_flags_and_carries_one_click_links(
    nrt: Runtime, tmp_path: Path, smtp: SmtpServer
) -> None:
    path = contract_file(tmp_path, amount=500000, title="Pumps [high]")
    lifecycle.submit(nrt, path, "alice")
    result = send_pending(nrt)
    assert result.sent == 2 and not result.failed
    lena = next(msg for msg in smtp.messages if msg.recipients == ["lena@example.com"])
    assert lena.subject == "Please review SC-2026-0042 (legal review): Pumps [high]"
    text = lena.part("text/plain")
    for expected in (
        "SC-2026-0042 — Pumps [high]",
        "Huadong",
        "500,000.00 CNY",
        "legal review (your part: legal)",
        "Due:           2027-01-07",
        "[high] test flag high (test.high)",
        "Open the contract: https://cf.example.com/contracts/SC-2026-0042",
    ):
        assert expected in text, expected
    html = lena.part("text/html")
    assert "test flag high" in html and "Request changes</a>" in html
    approve = link(lena, "Approve")
    changes = link(lena, "Request changes")
    assert approve.startswith("https://cf.example.com/email-actions/") and approve != changes
    lars = next(msg for msg in smtp.messages if msg.recipients == ["lars@example.com"])
    assert link(lars, "Approve") != approve  # links are per person


def test_a_revision_email_lists_what_changed_with_before_and_after(
    nrt: Runtime, tmp_path: Path, smtp: SmtpServer
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    lifecycle.act(nrt, _open(view, "legal"), "request_changes", "lena", "cap the penalty")
    send_pending(nrt)
    smtp.messages.clear()
    lifecycle.revise(nrt, view.id, contract_file(tmp_path, "r2.yaml", amount=450000), "alice")
    send_pending(nrt)
    lena = next(msg for msg in smtp.messages if msg.recipients == ["lena@example.com"])
    text = lena.part("text/plain")
    assert "Changed since revision 1:" in text
    assert "amount: 500000" in text and "-> 450000" in text


def test_without_a_base_url_the_email_has_no_links(
    nrt: Runtime, tmp_path: Path, smtp: SmtpServer
) -> None:
    plain = Runtime(nrt.settings.model_copy(update={"base_url": None}), clock=nrt.clock)
    try:
        lifecycle.submit(plain, contract_file(tmp_path, amount=500000), "alice")
        send_pending(plain)
    finally:
        plain.close()
    text = smtp.messages[0].part("text/plain")
    assert "Approve:" not in text and "https://" not in text


def test_task_emails_can_be_switched_off_for_the_deployment(nrt: Runtime, tmp_path: Path) -> None:
    quiet = Runtime(nrt.settings.model_copy(update={"task_emails": False}), clock=nrt.clock)
    try:
        lifecycle.submit(quiet, contract_file(tmp_path), "alice")
    finally:
        quiet.close()
    assert notices(nrt) == []
