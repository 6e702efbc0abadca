"""Hand-back (SPEC section 12): after request_changes or reject the owner has an open
`revise` entry and an email until a revision is submitted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.domain.views import TaskView
from engine.services import lifecycle
from engine.services.delivery import send_pending
from engine.services.runtime import Runtime
from engine.services.views import list_tasks
from tests.integration.alerts.support import SmtpServer
from tests.integration.notices.support import notices
from tests.integration.workflow.support import contract_file


def _open(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def _revise_entries(rt: Runtime, user: str) -> list[TaskView]:
    return [t for t in list_tasks(rt, user) if t.kind == "revise"]


@pytest.mark.parametrize(
    ("action", "words"), [("request_changes", "changes requested"), ("reject", "rejected")]
)
def test_a_handed_back_contract_is_an_open_revise_entry_of_its_owner_until_revised(
    nrt: Runtime, tmp_path: Path, action: str, words: str
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    assert _revise_entries(nrt, "alice") == []
    task = _open(view, "legal")
    lifecycle.act(nrt, task, action, "lena", "the penalty cap is too low")
    (entry,) = _revise_entries(nrt, "alice")
    assert entry.summary == f"revise SC-2026-0042 ({words} by lena: the penalty cap is too low)"
    assert (entry.kind, entry.status, entry.contract, entry.id) == (
        "revise",
        "open",
        "SC-2026-0042",
        task,
    )
    assert (entry.decided_by, entry.comment, entry.stage) == (
        "lena",
        "the penalty cap is too low",
        "drafting",
    )
    assert _revise_entries(nrt, "lena") == []  # the reviewer has nothing to revise
    lifecycle.revise(nrt, view.id, contract_file(tmp_path, "r2.yaml", amount=450000), "alice")
    assert _revise_entries(nrt, "alice") == []


def test_the_submitter_who_is_not_the_owner_sees_the_entry_too(
    nrt: Runtime, tmp_path: Path
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000, owner="anna"), "alice")
    lifecycle.act(nrt, _open(view, "legal"), "request_changes", "lena", "fix clause 4")
    assert [t.contract for t in _revise_entries(nrt, "anna")] == ["SC-2026-0042"]
    assert [t.contract for t in _revise_entries(nrt, "alice")] == ["SC-2026-0042"]
    (entry,) = _revise_entries(nrt, "alice")
    assert entry.assignee == "anna"


def test_the_owner_and_submitter_are_emailed_with_the_reviewers_comment(
    nrt: Runtime, tmp_path: Path, smtp: SmtpServer
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000, owner="anna"), "alice")
    lifecycle.act(nrt, _open(view, "legal"), "request_changes", "lena", "fix clause 4")
    rows = notices(nrt, "revise_notice")
    assert sorted(r.recipients[0] for r in rows) == ["alice@example.com", "anna@example.com"]
    send_pending(nrt)
    mail = next(m for m in smtp.messages if m.recipients == ["anna@example.com"])
    assert mail.subject.startswith("Revise SC-2026-0042 (changes requested by lena)")
    text = mail.part("text/plain")
    assert "lena wrote:\n  fix clause 4" in text
    assert "contractflow revise SC-2026-0042 FILE" in text
    assert "https://cf.example.com/contracts/SC-2026-0042" in text


def test_approval_tasks_say_kind_approve_in_tasks_json(
    nrt: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    (task,) = list_tasks(nrt, "lena")
    assert json.loads(task.model_dump_json())["kind"] == "approve"


def test_revise_entries_come_first_and_pages_continue_with_approval_tasks(
    nrt: Runtime, tmp_path: Path
) -> None:
    first = lifecycle.submit(nrt, contract_file(tmp_path, "a.yaml", id=None), "alice")
    lifecycle.act(nrt, _open(first, "legal"), "reject", "lena", "no")
    lifecycle.submit(nrt, contract_file(tmp_path, "b.yaml", id=None), "alice")
    everything = list_tasks(nrt, None, all_tasks=True)
    assert [t.kind for t in everything][:1] == ["revise"]
    assert all(t.kind == "approve" for t in everything[1:]) and len(everything) == 3
    page1 = list_tasks(nrt, None, all_tasks=True, limit=1, offset=0)
    page2 = list_tasks(nrt, None, all_tasks=True, limit=2, offset=1)
    assert [t.id for t in page1 + page2] == [t.id for t in everything]
