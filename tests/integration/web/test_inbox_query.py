"""The inbox query: the same tasks as `contractflow tasks`, overdue first, paged, filtered."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.services import lifecycle
from engine.services.auth import Principal, load_principal
from engine.services.demo_data import load_demo_contracts
from engine.services.inbox import InboxQuery, inbox
from engine.services.runtime import Runtime
from engine.services.users import get_user
from engine.services.views import list_tasks
from tests.support import EXAMPLES, FrozenClock


def who(rt: Runtime, name: str) -> Principal:
    with rt.db.sessions() as session:
        found = load_principal(session, get_user(session, name).id)
    assert found is not None
    return found


def test_the_inbox_holds_the_same_tasks_as_the_tasks_command(web_rt: Runtime) -> None:
    load_demo_contracts(web_rt, EXAMPLES)
    lifecycle.delegate(web_rt, "lena", "lars", web_rt.today(), web_rt.today())
    for name in ("lena", "lars", "fei", "rita", "sam", "paul", "alice", "maria", "root"):
        page = inbox(web_rt, who(web_rt, name), InboxQuery(per_page=200))
        assert {i.task for i in page.items} == {t.id for t in list_tasks(web_rt, name)}, name
        assert page.total == len(page.items)
    lars = inbox(web_rt, who(web_rt, "lars"))
    assert any(i.on_behalf_of is None for i in lars.items)  # lars is a lawyer himself


def test_overdue_tasks_come_first_and_pages_do_not_overlap(
    web_rt: Runtime, clock: FrozenClock
) -> None:
    for day in range(7):
        data = (EXAMPLES / "SC-2026-0060.json").read_text().replace("SC-2026-0060", f"SC-X-{day}")
        path = web_rt.settings.data_dir / f"c{day}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data)
        lifecycle.submit(web_rt, path, "alice")
        clock.now += dt.timedelta(days=1)  # each later contract is due a day later
    lena = who(web_rt, "lena")
    everything = inbox(web_rt, lena, InboxQuery(per_page=200))
    assert everything.total == 7 and everything.overdue == 4  # each due 3 days after; 7 passed
    dues = [i.due for i in everything.items]
    assert dues == sorted(dues)
    assert [i.overdue for i in everything.items] == [True] * 4 + [False] * 3
    pages = [inbox(web_rt, lena, InboxQuery(per_page=3, page=n)).items for n in (1, 2, 3)]
    assert [i.task for p in pages for i in p] == [i.task for i in everything.items]
    newest_first = inbox(web_rt, lena, InboxQuery(sort="due", descending=True, per_page=200))
    assert [i.task for i in newest_first.items] == [i.task for i in everything.items][::-1]
    only_overdue = inbox(web_rt, lena, InboxQuery(overdue_only=True))
    assert only_overdue.total == 4 and all(i.overdue for i in only_overdue.items)
    found = inbox(web_rt, lena, InboxQuery(search="sc-x-4"))
    assert [i.contract for i in found.items] == ["SC-X-4"]


def test_the_task_list_pages_in_due_order_without_gaps_or_overlaps(
    web_rt: Runtime, clock: FrozenClock
) -> None:
    for day in range(7):
        data = (EXAMPLES / "SC-2026-0060.json").read_text().replace("SC-2026-0060", f"SC-P-{day}")
        path = web_rt.settings.data_dir / f"p{day}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data)
        lifecycle.submit(web_rt, path, "alice")
        clock.now -= dt.timedelta(days=1)  # each later contract is due a day earlier
    whole = list_tasks(web_rt, "lena")
    assert len(whole) == 7
    assert [t.due for t in whole] == sorted(t.due for t in whole if t.due is not None)
    assert whole[0].contract == "SC-P-6"  # the earliest due first
    pages = [list_tasks(web_rt, "lena", limit=3, offset=n) for n in (0, 3, 6)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [t.id for p in pages for t in p] == [t.id for t in whole]
    assert list_tasks(web_rt, "lena", limit=3, offset=7) == []
    everyone = list_tasks(web_rt, None, all_tasks=True, limit=2)
    assert [t.id for t in everyone] == [t.id for t in list_tasks(web_rt, None, all_tasks=True)][:2]


BOARD = """workflow: board
version: 1
stages:
  - id: drafting
    actions: {submit: signing}
  - id: signing
    tasks: [{role: signer, approvals: all}]
    actions: {approve: done, reject: drafting}
  - id: done
    final: true
"""


@pytest.fixture
def board(web_rt: Runtime) -> Runtime:
    """SC-2026-0042 waiting on a signing stage that needs every signer (sam and sue)."""
    from engine.services.users import add_user
    from engine.services.workflows import load_files

    add_user(web_rt, "sue", ["signer"], email="sue@example.com")
    path = web_rt.settings.data_dir / "board.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BOARD)
    load_files(web_rt, [path])
    lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice", workflow="board")
    return web_rt


def test_a_task_i_approved_leaves_my_list_but_stays_while_i_stand_in_for_a_colleague(
    board: Runtime,
) -> None:
    web_rt = board
    [task] = list_tasks(web_rt, "sam", limit=10)
    assert task.approvals_required == 2
    lifecycle.act(web_rt, task.id, "approve", "sam")
    assert list_tasks(web_rt, "sam", limit=10) == []  # his part is done
    assert [t.id for t in list_tasks(web_rt, "sue", limit=10)] == [task.id]
    lifecycle.delegate(web_rt, "sue", "sam", web_rt.today(), web_rt.today())
    assert [t.id for t in list_tasks(web_rt, "sam", limit=10)] == [task.id]  # sue's part


def test_the_inbox_drops_a_two_approval_task_once_i_approved_and_keeps_it_for_others(
    board: Runtime,
) -> None:
    web_rt = board
    [item] = inbox(web_rt, who(web_rt, "sam")).items
    lifecycle.act(web_rt, item.task, "approve", "sam")
    mine = inbox(web_rt, who(web_rt, "sam"))
    assert (mine.items, mine.total) == ([], 0)
    assert [i.task for i in inbox(web_rt, who(web_rt, "sue")).items] == [item.task]


def test_counts_stop_past_the_cap_and_still_count_the_overdue_first(
    web_rt: Runtime, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.services.inbox as inbox_module

    for day in range(7):
        data = (EXAMPLES / "SC-2026-0060.json").read_text().replace("SC-2026-0060", f"SC-C-{day}")
        path = web_rt.settings.data_dir / f"cap{day}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data)
        lifecycle.submit(web_rt, path, "alice")
        clock.now += dt.timedelta(days=1)
    lena = who(web_rt, "lena")
    exact = inbox(web_rt, lena)
    assert (exact.total, exact.overdue, exact.more) == (7, 4, False)
    monkeypatch.setattr(inbox_module, "COUNT_CAP", 4)
    capped = inbox(web_rt, lena)
    assert (capped.total, capped.overdue, capped.more) == (5, 4, True)
    monkeypatch.setattr(inbox_module, "COUNT_CAP", 2)
    capped = inbox(web_rt, lena)
    assert (capped.total, capped.overdue, capped.more) == (3, 3, True)
    assert [i.task for i in capped.items] == [i.task for i in exact.items]  # the page is whole


def test_sqlite_pages_read_while_someone_holds_the_write_lock(web_rt: Runtime) -> None:
    """The inbox, contract list and dashboard only read: on SQLite they take no write lock,
    so a long write (a submit rendering its .docx, a rescore chunk) does not stall them."""
    import sqlite3
    import time

    from engine.services.dashboard import dashboard
    from engine.services.portfolio import visible_contract_list

    if web_rt.db.dialect != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    load_demo_contracts(web_rt, EXAMPLES)
    lena = who(web_rt, "lena")
    writer = sqlite3.connect(web_rt.db.engine.url.database or "", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # someone holds the write lock
        started = time.monotonic()
        assert inbox(web_rt, lena).total >= 1
        assert visible_contract_list(web_rt, lena)
        assert dashboard(web_rt).contracts_by_stage
        assert time.monotonic() - started < 2  # a write transaction would wait 10 s here
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_inbox_search_takes_percent_and_underscore_as_typed(web_rt: Runtime) -> None:
    for code in ("SC-A_1", "SC-AB1", "SC-100"):
        data = (EXAMPLES / "SC-2026-0060.json").read_text().replace("SC-2026-0060", code)
        path = web_rt.settings.data_dir / f"{code}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data)
        lifecycle.submit(web_rt, path, "alice")
    lena = who(web_rt, "lena")
    underscore = inbox(web_rt, lena, InboxQuery(search="sc-a_1"))
    assert [i.contract for i in underscore.items] == ["SC-A_1"]  # not SC-AB1 too
    assert inbox(web_rt, lena, InboxQuery(search="%")).total == 0  # no code has a %
    assert inbox(web_rt, lena, InboxQuery(search="sc-1%0")).total == 0
