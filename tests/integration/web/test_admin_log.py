"""Admin actions leave a record (issue 18.7): who, when, what; visible to admins only; the
log is append-only in the database itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from engine.services.admin_log import list_events
from engine.services.auth import create_token, revoke_token
from engine.services.runtime import Runtime
from engine.services.users import set_active
from engine.services.workflows import load_files
from tests.integration.cli_support import run_cli
from tests.integration.web.support import bearer, sign_in
from tests.support import FrozenClock

SMALL_WORKFLOW = """workflow: tiny
version: 1
stages:
  - id: drafting
    actions: {submit: review}
  - id: review
    tasks: [{role: legal}]
    actions: {approve: done, reject: drafting}
  - id: done
    final: true
"""


def _mark(rt: Runtime) -> int:
    """The id of the newest event so far (the fixture's set-up records some)."""
    found = list_events(rt, limit=1)
    return found[0].id if found else 0


def test_admin_actions_on_the_web_are_recorded_with_who_when_and_what(
    client: TestClient, web_rt: Runtime
) -> None:
    start = _mark(web_rt)
    token = sign_in(client, "root")
    form = {"csrf_token": token, "username": "nina", "roles": ["legal"], "password": "p" * 12}
    assert client.post("/admin/users", data=form).status_code == 200
    form = {"csrf_token": token, "username": "nina", "roles": ["finance"], "password": "q" * 12}
    client.post("/admin/users", data=form)
    client.post("/admin/users/nina/deactivate", data={"csrf_token": token})
    client.post("/admin/users/nina/reactivate", data={"csrf_token": token})
    events = [e for e in reversed(list_events(web_rt)) if e.id > start]
    assert [(e.actor, e.action, e.subject) for e in events] == [
        ("root", "user_created", "nina"),
        ("root", "password_set", "nina"),
        ("root", "roles_changed", "nina"),
        ("root", "password_set", "nina"),
        ("root", "user_deactivated", "nina"),
        ("root", "user_reactivated", "nina"),
    ]
    assert events[0].details == {"roles": ["legal"]}
    assert events[2].details == {"added": ["finance"], "removed": ["legal"]}
    assert all(e.at == web_rt.clock() for e in events)
    assert "p" * 12 not in str([e.details for e in events])  # never a secret
    page = client.get("/admin/log").text
    assert "user_deactivated" in page and "roles_changed" in page


def test_tokens_and_workflow_loads_are_recorded(web_rt: Runtime, tmp_path: Path) -> None:
    clock = web_rt.clock
    assert isinstance(clock, FrozenClock)
    start = _mark(web_rt)
    new = create_token(web_rt, "rita", "report script")
    revoke_token(web_rt, new.id)
    revoke_token(web_rt, new.id)  # already revoked: nothing new happened, nothing recorded
    (tmp_path / "tiny.yaml").write_text(SMALL_WORKFLOW)
    load_files(web_rt, [tmp_path / "tiny.yaml"])
    load_files(web_rt, [tmp_path / "tiny.yaml"])  # unchanged: not a load
    set_active(web_rt, "lena", False)
    events = [e for e in reversed(list_events(web_rt)) if e.id > start]
    assert [(e.action, e.subject) for e in events] == [
        ("token_created", "rita"),
        ("token_revoked", "rita"),
        ("workflow_loaded", "tiny v1"),
        ("user_deactivated", "lena"),
    ]
    assert events[0].details == {"token_id": new.id, "name": "report script"}
    assert events[2].details == {"workflow": "tiny", "version": 1, "file": "tiny.yaml"}
    assert events[3].details["sessions_ended"] == 0
    assert all(e.actor.startswith("cli:") for e in events)


def test_only_admins_read_the_admin_log(client: TestClient, web_rt: Runtime) -> None:
    set_active(web_rt, "lena", False)
    answer = client.get("/api/admin/log", headers=bearer(web_rt, "root"))
    assert answer.status_code == 200
    assert answer.json()[0]["action"] == "token_created"  # the bearer token just made
    assert answer.json()[1]["action"] == "user_deactivated"
    assert client.get("/api/admin/log", headers=bearer(web_rt, "maria")).status_code == 403
    sign_in(client, "maria")
    assert client.get("/admin/log").status_code == 403


def test_the_admin_log_refuses_update_and_delete(web_rt: Runtime) -> None:
    set_active(web_rt, "lena", False)
    for statement in ("UPDATE admin_events SET actor = 'nobody'", "DELETE FROM admin_events"):
        with (
            pytest.raises(DBAPIError, match="admin_events is append-only"),
            web_rt.db.transaction() as session,
        ):
            session.execute(text(statement))
    assert list_events(web_rt, limit=1)[0].action == "user_deactivated"


def test_the_command_line_records_and_prints_the_admin_log(db_url: str, tmp_path: Path) -> None:
    assert run_cli("init", db_url=db_url).code == 0
    added = run_cli("users", "add", "nina", "--role", "legal", db_url=db_url)
    assert added.code == 0, added.stderr
    off = run_cli("users", "deactivate", "nina", "--format", "json", db_url=db_url)
    assert off.code == 0, off.stderr
    assert off.json["active"] is False
    again = run_cli("users", "deactivate", "nina", db_url=db_url)
    assert again.code == 1 and "already deactivated" in again.stderr
    unknown = run_cli("users", "deactivate", "nobody", db_url=db_url)
    assert unknown.code == 2 and "does not exist" in unknown.stderr
    assert run_cli("users", "reactivate", "nina", db_url=db_url).code == 0
    log = run_cli("admin", "log", "--format", "json", "--limit", "3", db_url=db_url)
    assert log.code == 0, log.stderr
    assert [(e["action"], e["subject"]) for e in log.json] == [
        ("user_reactivated", "nina"),
        ("user_deactivated", "nina"),
        ("user_created", "nina"),
    ]
    assert all(e["actor"].startswith("cli:") for e in log.json)
    table = run_cli("admin", "log", "--action", "user_created", db_url=db_url)
    assert table.code == 0 and "nina" in table.stdout
    bad = run_cli("admin", "log", "--action", "nonsense", db_url=db_url)
    assert bad.code == 2 and "--action" in bad.stderr
