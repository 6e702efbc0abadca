"""Sign-in, sessions, CSRF and API tokens, through HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.services.auth import create_token, revoke_token
from engine.services.runtime import Runtime
from tests.integration.web.support import PASSWORD, csrf_from, sign_in


@pytest.fixture
def db_url(web_sqlite_url: str) -> str:
    """SQLite only: these pin HTTP, cookie and token behaviour, the same on every database."""
    return web_sqlite_url


def test_a_visitor_is_sent_to_the_login_page(client: TestClient) -> None:
    response = client.get("/inbox", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_the_login_form_has_username_password_and_a_csrf_token(client: TestClient) -> None:
    html = client.get("/login").text
    assert 'name="username"' in html and 'name="password"' in html
    assert csrf_from(html)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient,
) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "lena", "password": "wrong-password", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    unknown = client.post(
        "/login", data={"username": "nobody", "password": PASSWORD, "csrf_token": token}
    )
    assert unknown.status_code == 401
    assert client.get("/api/me").status_code == 401


def test_signing_in_sets_an_httponly_session_cookie_and_opens_the_inbox(
    client: TestClient,
) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": "lena", "password": PASSWORD, "csrf_token": token, "next": "/inbox"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/inbox"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/api/me").json()["username"] == "lena"


def test_a_form_post_without_the_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "lena", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/api/me").status_code == 401


def test_the_login_page_does_not_redirect_to_another_site(client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "username": "lena",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/inbox"


def test_signing_out_ends_the_session(client: TestClient) -> None:
    token = sign_in(client, "lena")
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/api/me").status_code == 401


def test_a_cookie_session_must_send_the_csrf_header_to_change_things(
    client: TestClient,
) -> None:
    token = sign_in(client, "alice")
    refused = client.post("/api/tasks/1/act", json={"action": "approve"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]
    allowed = client.post(
        "/api/tasks/1/act", json={"action": "approve"}, headers={"X-CSRF-Token": token}
    )
    assert allowed.status_code != 403 or "CSRF" not in allowed.json()["error"]


def test_bearer_tokens_work_until_revoked(client: TestClient, web_rt: Runtime) -> None:
    new = create_token(web_rt, "rita", "script")
    headers = {"Authorization": f"Bearer {new.token}"}
    assert client.get("/api/me", headers=headers).json()["roles"] == ["risk_officer"]
    revoke_token(web_rt, new.id)
    response = client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "the API token is unknown or revoked"


def test_tokens_are_stored_hashed(web_rt: Runtime) -> None:
    from sqlalchemy import select

    from engine.store import models as m

    new = create_token(web_rt, "rita")
    with web_rt.db.sessions() as session:
        stored = list(session.scalars(select(m.ApiToken.token_hash)))
    assert new.token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_pages_forbid_framing_and_load_nothing_from_elsewhere(client: TestClient) -> None:
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "http" not in response.text.split("<main>")[0].replace("http-equiv", "")


def test_api_docs_are_served_without_a_cdn(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in html and "cdn" not in html
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "contractflow"


def test_a_database_outage_answers_503_without_a_traceback(tmp_path: Path) -> None:
    from engine.services.runtime import Runtime
    from engine.settings import Settings
    from engine.web.app import create_app

    down = Runtime(
        Settings(
            database_url="postgresql://nobody@127.0.0.1:1/nothing",
            data_dir=tmp_path,
            risk_backend="python",
        )
    )
    with TestClient(create_app(down), raise_server_exceptions=False) as c:
        response = c.get("/api/me", headers={"Authorization": "Bearer cft_x"})
    assert response.status_code == 503
    assert response.json()["error"] == "the database is not available; try again"
    down.close()


def test_every_response_carries_the_security_headers_and_pages_their_csp(
    client: TestClient,
) -> None:
    page = client.get("/login")
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    api = client.get("/api/me")
    assert api.status_code == 401 and api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.headers["Referrer-Policy"] == "same-origin"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "Content-Security-Policy" not in docs.headers


def test_a_tokens_last_use_is_recorded_at_most_every_few_minutes(web_rt: Runtime) -> None:
    import datetime as dt

    from engine.services.auth import LAST_USED_RESOLUTION, list_tokens, principal_for_token

    made = create_token(web_rt, "lena", "script")
    start = web_rt.clock()
    found = principal_for_token(web_rt, made.token)
    assert found is not None and found.username == "lena" and "legal" in found.roles
    [first] = [t for t in list_tokens(web_rt, "lena") if t.id == made.id]
    assert first.last_used_at is not None and abs(first.last_used_at - start) < dt.timedelta(
        minutes=1
    )
    principal_for_token(web_rt, made.token)  # soon after: not written again
    [again] = [t for t in list_tokens(web_rt, "lena") if t.id == made.id]
    assert again.last_used_at == first.last_used_at
    assert dt.timedelta(minutes=1) <= LAST_USED_RESOLUTION
    assert principal_for_token(web_rt, made.token + "x") is None
