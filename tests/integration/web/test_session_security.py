"""Session cookies an attacker could forge or replay, and revoking sessions (issue 18.1,
18.4, 16.6): a public key is never accepted, logout / password change / role removal /
deactivation end sessions at once, the cookie is Secure over HTTPS."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import httpx
import itsdangerous
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from engine.errors import InvalidInput
from engine.services.auth import create_token
from engine.services.runtime import Runtime
from engine.services.users import add_user, set_active
from engine.store import models as m
from engine.web.app import SESSION_COOKIE, create_app
from tests.integration.web.browser import serving
from tests.integration.web.support import PASSWORD, csrf_from, sign_in

OLD_DEFAULT_KEY = "change-me-in-production"


@pytest.fixture
def db_url(web_sqlite_url: str) -> str:
    """SQLite: cookies and sessions behave the same on every database (the revocation
    services run on both in test_deactivation)."""
    return web_sqlite_url


def _payload(cookie: str) -> dict[str, object]:
    """The JSON inside a Starlette session cookie (signature not checked)."""
    data = cookie.split(".")[0]
    return dict(json.loads(base64.b64decode(data + "=" * (-len(data) % 4))))


def _signed(payload: dict[str, object], key: str) -> str:
    """A session cookie as Starlette's SessionMiddleware signs it, with `key`."""
    data = base64.b64encode(json.dumps(payload).encode())
    return itsdangerous.TimestampSigner(key).sign(data).decode()


def _user_id(rt: Runtime, name: str) -> int:
    with rt.db.reads() as session:
        found = session.scalar(select(m.User.id).where(m.User.username == name))
    assert found is not None
    return found


def test_a_cookie_signed_with_the_old_default_key_is_refused(
    client: TestClient, web_rt: Runtime
) -> None:
    sign_in(client, "root")
    genuine = client.cookies[SESSION_COOKIE]
    assert client.get("/api/me").status_code == 200
    forged_copy = _signed(_payload(genuine), OLD_DEFAULT_KEY)
    # What an attacker writes without ever signing in: the admin's user id, any CSRF token.
    forged_admin = _signed({"uid": _user_id(web_rt, "root"), "csrf": "x" * 32}, OLD_DEFAULT_KEY)
    for forged in (forged_copy, forged_admin):
        with TestClient(create_app(web_rt)) as attacker:
            attacker.cookies.set(SESSION_COOKIE, forged)
            assert attacker.get("/api/me").status_code == 401
            page = attacker.get("/admin/users", follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_a_random_session_key_is_made_on_first_start_kept_0600_and_reused(
    web_rt: Runtime,
) -> None:
    key_file = web_rt.settings.data_dir / "session.key"
    assert not key_file.exists()
    with TestClient(create_app(web_rt)) as first:
        sign_in(first, "lena")
        cookie = first.cookies[SESSION_COOKIE]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 32 and key != OLD_DEFAULT_KEY
    with TestClient(create_app(web_rt)) as restarted:  # a restart, or another worker
        restarted.cookies.set(SESSION_COOKIE, cookie)
        assert restarted.get("/api/me").json()["username"] == "lena"
    assert key_file.read_text().strip() == key


@pytest.mark.parametrize(
    ("key", "problem"),
    [(OLD_DEFAULT_KEY, "public example value"), ("short", "at least 16 characters")],
)
def test_a_public_or_short_configured_key_is_refused_at_start(
    web_rt: Runtime, key: str, problem: str
) -> None:
    settings = web_rt.settings.model_copy(update={"secret_key": SecretStr(key)})
    with pytest.raises(InvalidInput, match=problem):
        create_app(Runtime(settings, db=web_rt.db))


def test_a_configured_key_signs_the_cookie_instead_of_the_file(web_rt: Runtime) -> None:
    key = "k" * 40
    settings = web_rt.settings.model_copy(update={"secret_key": SecretStr(key)})
    with TestClient(create_app(Runtime(settings, db=web_rt.db, clock=web_rt.clock))) as c:
        sign_in(c, "lena")
        itsdangerous.TimestampSigner(key).unsign(c.cookies[SESSION_COOKIE])
    assert not (web_rt.settings.data_dir / "session.key").exists()


def test_a_cookie_replayed_after_logout_is_refused(client: TestClient) -> None:
    token = sign_in(client, "lena")
    kept = client.cookies[SESSION_COOKIE]
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, kept)
    assert client.get("/api/me").status_code == 401
    assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_logout_ends_only_that_browsers_session(client: TestClient, web_rt: Runtime) -> None:
    with TestClient(create_app(web_rt)) as other_browser:
        sign_in(other_browser, "lena")
        token = sign_in(client, "lena")
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert other_browser.get("/api/me").json()["username"] == "lena"


def test_a_password_reset_ends_the_users_sessions(client: TestClient, web_rt: Runtime) -> None:
    sign_in(client, "lena")
    add_user(web_rt, "lena", [], password="a-brand-new-password")
    assert client.get("/api/me").status_code == 401
    sign_in(client, "lena", "a-brand-new-password")
    assert client.get("/api/me").status_code == 200


def test_removing_a_role_ends_the_users_sessions_but_adding_one_does_not(
    client: TestClient, web_rt: Runtime
) -> None:
    sign_in(client, "lena")
    add_user(web_rt, "lena", ["legal", "finance"])
    assert sorted(client.get("/api/me").json()["roles"]) == ["finance", "legal"]
    add_user(web_rt, "lena", ["finance"])
    assert client.get("/api/me").status_code == 401


def test_a_deactivated_users_sessions_and_tokens_stop_at_once_and_they_cannot_sign_in(
    client: TestClient, web_rt: Runtime
) -> None:
    sign_in(client, "lena")
    headers = {"Authorization": f"Bearer {create_token(web_rt, 'lena').token}"}
    assert client.get("/api/me", headers=headers).status_code == 200
    set_active(web_rt, "lena", False)
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers=headers).status_code == 401
    token = csrf_from(client.get("/login").text)
    refused = client.post(
        "/login", data={"username": "lena", "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 401
    set_active(web_rt, "lena", True)
    assert client.get("/api/me", headers=headers).status_code == 401  # tokens stay revoked
    sign_in(client, "lena")
    assert client.get("/api/me").json()["username"] == "lena"


def test_the_admin_page_deactivates_and_reactivates_a_user(
    client: TestClient, web_rt: Runtime
) -> None:
    with TestClient(create_app(web_rt)) as lena:
        sign_in(lena, "lena")
        token = sign_in(client, "root")
        page = client.get("/admin/users").text
        assert 'action="/admin/users/lena/deactivate"' in page
        assert 'action="/admin/users/root/deactivate"' not in page  # not oneself
        done = client.post("/admin/users/lena/deactivate", data={"csrf_token": token})
        assert done.status_code == 200 and "lena is deactivated" in done.text
        assert lena.get("/api/me").status_code == 401
        assert 'action="/admin/users/lena/reactivate"' in done.text
        client.post("/admin/users/lena/reactivate", data={"csrf_token": token})
        sign_in(lena, "lena")


def test_only_an_admin_may_deactivate_on_the_page(client: TestClient) -> None:
    token = sign_in(client, "maria")
    refused = client.post("/admin/users/lena/deactivate", data={"csrf_token": token})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("base_url", "setting", "secure"),
    [
        ("https://cf.example.com", None, True),
        ("http://cf.example.com", None, False),
        (None, None, False),
        ("https://cf.example.com", False, False),
        ("http://127.0.0.1:8000", True, True),
    ],
)
def test_the_session_cookie_is_secure_when_served_over_https_or_when_set(
    web_rt: Runtime, base_url: str | None, setting: bool | None, secure: bool
) -> None:
    settings = web_rt.settings.model_copy(
        update={"base_url": base_url, "session_cookie_secure": setting}
    )
    app = create_app(Runtime(settings, db=web_rt.db, clock=web_rt.clock))
    with TestClient(app, base_url="https://testserver") as c:
        token = csrf_from(c.get("/login").text)
        response = c.post(
            "/login",
            data={"username": "lena", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
    cookie = response.headers["set-cookie"].lower()
    assert response.status_code == 303
    assert ("; secure" in cookie) is secure


def _sign_in_over_http(http: httpx.Client, name: str) -> str:
    token = csrf_from(http.get("/login").text)
    response = http.post(
        "/login", data={"username": name, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return csrf_from(http.get("/inbox").text)


def test_over_real_http_logout_and_deactivation_end_sessions_at_once(
    web_rt: Runtime, tmp_path: Path
) -> None:
    with (
        serving(web_rt) as base,
        httpx.Client(base_url=base) as lena,
        httpx.Client(base_url=base) as leo,
    ):
        token = _sign_in_over_http(lena, "lena")
        kept = lena.cookies[SESSION_COOKIE]
        assert lena.get("/api/me").status_code == 200
        assert lena.post("/logout", data={"csrf_token": token}).status_code == 303
        with httpx.Client(base_url=base, cookies={SESSION_COOKIE: kept}) as replay:
            assert replay.get("/api/me").status_code == 401
        _sign_in_over_http(leo, "leo")
        assert leo.get("/api/me").status_code == 200
        set_active(web_rt, "leo", False)
        assert leo.get("/api/me").status_code == 401
        assert leo.get("/inbox").headers["location"].startswith("/login")


def test_serve_refuses_the_public_example_key_with_one_line(db_url: str, tmp_path: Path) -> None:
    from tests.integration.cli_support import run_cli
    from tests.integration.web.browser import free_port

    res = run_cli(
        "serve",
        "--no-scheduler",
        "--port",
        str(free_port()),
        db_url=db_url,
        cwd=tmp_path,
        CONTRACTFLOW_SECRET_KEY=OLD_DEFAULT_KEY,
    )
    assert res.code == 2
    assert res.stderr.startswith("error: CONTRACTFLOW_SECRET_KEY: this is the public example")
    assert "Traceback" not in res.stderr and len(res.stderr.splitlines()) == 1
