"""Every page renders for every demo role (templates are strict: a missing value fails)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from engine.services.demo_data import PLANS, load_demo_contracts
from engine.services.runtime import Runtime
from tests.integration.web.support import PEOPLE, sign_in
from tests.support import EXAMPLES

PAGES = ["/inbox", "/contracts", "/contracts?status=closed", "/dashboard", "/submit"]
ADMIN_PAGES = ["/admin/users", "/admin/workflows", "/admin/outbox"]


@pytest.fixture
def db_url(web_sqlite_url: str) -> str:
    """SQLite: rendering does not depend on the database."""
    return web_sqlite_url


def test_every_page_answers_without_a_server_error_for_every_role(
    web_rt: Runtime, client: TestClient
) -> None:
    load_demo_contracts(web_rt, EXAMPLES)
    for user in PEOPLE:
        client.cookies.clear()
        sign_in(client, user)
        for path in PAGES + ADMIN_PAGES + [f"/contracts/{p.code}" for p in PLANS]:
            response = client.get(path)
            assert response.status_code in (200, 403, 404), (user, path, response.text[:300])
            assert "<main>" in response.text, (user, path)
        assert client.get("/inbox?sort=severity&severity=high&q=sc&overdue=1").status_code == 200
        assert client.get("/inbox?severity=nonsense").status_code in (400, 422)


def test_an_admin_adds_a_user_on_the_admin_page(web_rt: Runtime, client: TestClient) -> None:
    token = sign_in(client, "root")
    saved = client.post(
        "/admin/users",
        data={"username": "nina", "roles": ["legal", "finance"], "csrf_token": token},
    )
    assert saved.status_code == 200 and "Saved nina: finance, legal" in saved.text
    refused = client.post(
        "/admin/users", data={"username": "Nina!", "roles": ["legal"], "csrf_token": token}
    )
    assert refused.status_code == 422 and "username" in refused.text
    client.cookies.clear()
    token = sign_in(client, "lena")
    denied = client.post(
        "/admin/users", data={"username": "x", "roles": ["admin"], "csrf_token": token}
    )
    assert denied.status_code == 403
