"""People's display names (e.g. 张伟) beside their login names: pages and emails show them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.errors import InvalidInput
from engine.notify.render import render_email
from engine.services import lifecycle
from engine.services.alerts import plan_alerts
from engine.services.runtime import Runtime
from engine.services.users import add_user, list_users, set_user
from engine.store import models as m
from tests.integration.web.support import sign_in
from tests.support import EXAMPLES


@pytest.fixture
def db_url(web_sqlite_url: str) -> str:
    return web_sqlite_url


def test_users_have_display_names_and_pages_show_them(web_rt: Runtime, client: TestClient) -> None:
    add_user(web_rt, "alice", ["contract_admin"], display_name="张伟")
    set_user(web_rt, "lena", display_name="Lena Schmidt")
    assert {u.username: u.display_name for u in list_users(web_rt)}["alice"] == "张伟"
    with pytest.raises(InvalidInput, match="control characters"):
        set_user(web_rt, "lena", display_name="Lena\nSchmidt")

    code = lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice").id
    sign_in(client, "lena")
    page = client.get(f"/contracts/{code}").text
    assert "owner 张伟 · submitted by 张伟" in page
    assert "Lena Schmidt" in page  # the header: who is signed in
    assert "张伟" in client.get("/contracts").text


def test_the_obligation_alert_names_the_owner_by_display_name(web_rt: Runtime) -> None:
    add_user(web_rt, "alice", ["contract_admin"], display_name="张伟")
    code = lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice").id
    with web_rt.db.transaction() as session:  # signed, as the alert job needs
        row = session.scalar(select(m.Contract).where(m.Contract.code == code))
        assert row is not None
        row.stage = "fulfilment"
    assert plan_alerts(web_rt).planned == 1
    with web_rt.db.sessions() as session:
        # (the submit's task emails wait in the outbox too: their own kind)
        alert = session.scalars(
            select(m.OutboxMessage).where(m.OutboxMessage.kind == "obligation_alert")
        ).one()
    assert alert.payload["owner_name"] == "张伟" and alert.payload["owner"] == "alice"
    message = render_email(
        web_rt.settings.templates_dir / "email",
        kind=alert.kind,
        level=alert.level,
        subject=alert.subject,
        payload=alert.payload,
        base_url=None,
        uid=alert.message_id,
        mail_from="contractflow@example.com",
    )
    assert "Owner:         张伟" in message.text and "张伟" in message.html
