"""Offboarding (issue 18.4) and the shared sign-in throttle (16.3), on both databases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.errors import Conflict, Forbidden
from engine.services import audit, lifecycle, throttle
from engine.services.auth import principal
from engine.services.runtime import Runtime
from engine.services.users import get_user, set_active
from engine.services.views import show
from engine.store import models as m
from engine.web.app import create_app
from tests.integration.web.support import PASSWORD, csrf_from
from tests.support import EXAMPLES


def test_deactivation_gives_open_assigned_tasks_back_to_the_role_pool(web_rt: Runtime) -> None:
    lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice")
    legal = next(t for t in show(web_rt, "SC-2026-0042").tasks if t.role == "legal")
    lifecycle.reassign(web_rt, legal.id, "lena", "root")
    with web_rt.db.reads() as session:
        assert session.get(m.Task, legal.id).assignee_id is not None  # type: ignore[union-attr]
        root = principal(get_user(session, "root"))
    done = set_active(web_rt, "lena", False, by=root)
    assert done.tasks_unassigned == [legal.id]
    with web_rt.db.reads() as session:
        task = session.get(m.Task, legal.id)
        assert task is not None and task.assignee_id is None and task.status == "open"
        last = session.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id.desc()).limit(1)).one()
    assert last.action == "reassign" and last.details["from"] == "lena"
    assert last.details["to"] is None and last.actor_id == root.id
    assert audit.verify(web_rt).verified
    # The task is anyone's with the role again: lars may approve it.
    lifecycle.act(web_rt, legal.id, "approve", "lars", "fine")


def test_the_last_active_admin_cannot_be_deactivated_nor_an_admin_themselves(
    web_rt: Runtime,
) -> None:
    with pytest.raises(Conflict, match="last active admin"):
        set_active(web_rt, "root", False)
    with web_rt.db.reads() as session:
        root = principal(get_user(session, "root"))
    with pytest.raises(Forbidden, match="may not deactivate yourself"):
        set_active(web_rt, "root", False, by=root)
    with pytest.raises(Conflict, match="already active"):
        set_active(web_rt, "lena", True)


def _try(c: TestClient, password: str) -> int:
    token = csrf_from(c.get("/login").text)
    return c.post(
        "/login",
        data={"username": "lena", "password": password, "csrf_token": token},
        follow_redirects=False,
    ).status_code


def test_sign_in_failures_are_shared_by_workers_and_kept_over_a_restart(
    web_rt: Runtime,
) -> None:
    """Two apps, each with its own engine and connections (as two uvicorn workers are),
    count into the same rows; a third started afterwards still refuses."""
    address = ("203.0.113.9", 1234)
    first = Runtime(web_rt.settings, clock=web_rt.clock)
    second = Runtime(web_rt.settings, clock=web_rt.clock)
    try:
        with (
            TestClient(create_app(first), client=address) as one,
            TestClient(create_app(second), client=address) as two,
        ):
            assert [_try(one, "guess-a"), _try(two, "guess-b"), _try(one, "guess-c")] == [401] * 3
            assert [_try(two, "guess-d"), _try(one, "guess-e")] == [401] * 2
            assert _try(two, PASSWORD) == 429
    finally:
        first.close()
        second.close()
    restarted = Runtime(web_rt.settings, clock=web_rt.clock)
    try:
        with TestClient(create_app(restarted), client=address) as three:
            assert _try(three, PASSWORD) == 429
        keys = {row.key for row in throttle.throttle_rows(restarted)}
        assert {"account:lena", "address:203.0.113.9", "pair:lena@203.0.113.9"} <= keys
    finally:
        restarted.close()
