"""One-click actions from a task email: a GET shows, a POST acts once, as the emailed user,
after re-checking; forged, expired, reused and stale links are refused with a page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select, update

from engine.services import lifecycle
from engine.services.action_links import make_token
from engine.services.delivery import send_pending
from engine.services.runtime import Runtime
from engine.services.views import show
from engine.store import models as m
from engine.web.app import create_app
from tests.integration.alerts.support import SmtpServer
from tests.integration.notices.support import link
from tests.integration.workflow.support import contract_file
from tests.support import FrozenClock

BASE = "https://cf.example.com"


@pytest.fixture
def client(nrt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(nrt), base_url=BASE) as c:
        yield c


def _open(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def _links(nrt: Runtime, smtp: SmtpServer, tmp_path: Path, who: str = "lena") -> dict[str, str]:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    assert view.stage == "legal_review"
    send_pending(nrt)
    mail = next(msg for msg in smtp.messages if msg.recipients == [f"{who}@example.com"])
    return {
        "approve": link(mail, "Approve").removeprefix(BASE),
        "request_changes": link(mail, "Request changes").removeprefix(BASE),
    }


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _post(client: TestClient, path: str, comment: str = "") -> tuple[int, str]:
    page = client.get(path)
    token = _csrf(page.text)
    response = client.post(path, data={"csrf_token": token, "comment": comment})
    return response.status_code, response.text


def test_opening_a_link_shows_the_summary_and_changes_nothing(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path)
    page = client.get(links["approve"])
    assert page.status_code == 200
    assert "Approve: SC-2026-0042" in page.text and "acting as <strong>lena</strong>" in page.text
    assert 'name="comment"' in page.text
    assert show(nrt, "SC-2026-0042").stage == "legal_review"


def test_confirming_approves_as_the_emailed_user_and_the_audit_says_email(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path)
    status, text = _post(client, links["approve"], "fine by legal")
    assert status == 200, text
    assert "now in <strong>signing</strong>" in text
    view = show(nrt, "SC-2026-0042")
    assert view.stage == "signing"
    last = view.history[-1]
    assert (last.action, last.actor, last.comment) == ("approve", "lena", "fine by legal")
    assert last.details["channel"] == "email"


def test_a_used_link_is_dead_and_says_so_with_409(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path)
    assert _post(client, links["approve"])[0] == 200
    again = client.get(links["approve"])
    assert again.status_code == 409 and "already been used" in again.text
    token = _csrf(client.get("/login").text)
    replay = client.post(links["approve"], data={"csrf_token": token})
    assert replay.status_code == 409
    with nrt.db.reads() as session:
        assert session.scalar(select(func.count()).select_from(m.Approval)) == 1
        stored = session.scalars(select(m.ActionLinkUse.token_hash)).all()
    assert len(stored) == 1 and len(stored[0]) == 64  # a hash, never the token
    assert stored[0] not in links["approve"]


def test_the_other_link_of_a_decided_task_is_refused_with_409(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path)
    assert _post(client, links["approve"])[0] == 200
    page = client.get(links["request_changes"])
    assert page.status_code == 409 and "already approved" in page.text


def test_a_task_closed_by_someone_else_refuses_the_link_with_409(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path, who="lars")
    task = _open(show(nrt, "SC-2026-0042"), "legal")
    page = client.get(links["approve"])
    token = _csrf(page.text)
    lifecycle.act(nrt, task, "approve", "lena")  # between the GET and the POST
    response = client.post(links["approve"], data={"csrf_token": token})
    assert response.status_code == 409 and "already approved" in response.text


def test_a_forged_or_altered_link_is_refused_with_403(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path)
    altered = links["approve"][:-2] + ("AA" if not links["approve"].endswith("AA") else "BB")
    assert client.get(altered).status_code == 403
    other_key = Runtime(
        nrt.settings.model_copy(update={"secret_key": SecretStr("another-secret-key-for-forging")}),
        clock=nrt.clock,
    )
    forged = make_token(other_key, 1, 1, "approve", nrt.clock())
    other_key.close()
    page = client.get(f"/email-actions/{forged}")
    assert page.status_code == 403 and "not valid" in page.text
    assert show(nrt, "SC-2026-0042").stage == "legal_review"


def test_an_expired_link_is_refused_with_403(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient, clock: FrozenClock
) -> None:
    links = _links(nrt, smtp, tmp_path)
    task = _open(show(nrt, "SC-2026-0042"), "legal")
    with nrt.db.reads() as session:
        lena = session.scalar(select(m.User.id).where(m.User.username == "lena"))
    old = make_token(nrt, task, int(lena or 0), "approve", clock.now - dt.timedelta(days=8))
    page = client.get(f"/email-actions/{old}")
    assert page.status_code == 403 and "expired" in page.text
    assert client.get(links["approve"]).status_code == 200  # a fresh one still works


def test_a_deactivated_users_link_stops_working_with_403(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path)
    page = client.get(links["approve"])
    token = _csrf(page.text)
    with nrt.db.transaction() as session:
        session.execute(update(m.User).where(m.User.username == "lena").values(active=False))
    response = client.post(links["approve"], data={"csrf_token": token})
    assert response.status_code == 403 and "no longer act" in response.text
    assert show(nrt, "SC-2026-0042").stage == "legal_review"


def test_a_user_who_lost_the_role_is_refused_at_post_with_403(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path)
    page = client.get(links["approve"])
    token = _csrf(page.text)
    lifecycle_user_roles = ["contract_admin"]
    from engine.services.users import add_user

    add_user(nrt, "lena", lifecycle_user_roles)
    response = client.post(links["approve"], data={"csrf_token": token})
    assert response.status_code == 403
    assert show(nrt, "SC-2026-0042").stage == "legal_review"


def test_a_post_without_the_pages_csrf_token_is_refused(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path)
    response = client.post(links["approve"], data={"comment": "x"})
    assert response.status_code == 403
    assert show(nrt, "SC-2026-0042").stage == "legal_review"


def test_request_changes_needs_a_comment_and_then_hands_back(
    nrt: Runtime, smtp: SmtpServer, tmp_path: Path, client: TestClient
) -> None:
    links = _links(nrt, smtp, tmp_path)
    status, text = _post(client, links["request_changes"], "")
    assert status in (400, 422) and "comment" in text
    status, text = _post(client, links["request_changes"], "cap the penalty at 10%")
    assert status == 200, text
    view = show(nrt, "SC-2026-0042")
    assert view.stage == "drafting" and view.history[-1].details["channel"] == "email"
