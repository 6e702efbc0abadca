"""Failed sign-ins are throttled per account and per client address (issue 16.3), in the
database (shared by workers, kept over restarts), with a bounded back-off, and without
locking the real user out from their own machine."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from engine.services import throttle
from engine.services.runtime import Runtime
from engine.web.app import create_app
from tests.integration.web.support import PASSWORD, csrf_from
from tests.support import FrozenClock

ATTACKER = ("203.0.113.66", 40000)
USER_DESK = ("198.51.100.7", 40001)


@pytest.fixture
def db_url(web_sqlite_url: str) -> str:
    """SQLite here; the shared-state test below also runs on PostgreSQL."""
    return web_sqlite_url


def _client(rt: Runtime, address: tuple[str, int] = ATTACKER) -> TestClient:
    return TestClient(create_app(rt), client=address)


def _try(c: TestClient, username: str, password: str) -> Response:
    token = csrf_from(c.get("/login").text)
    return c.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def test_repeated_wrong_passwords_are_answered_429_with_retry_after(web_rt: Runtime) -> None:
    with _client(web_rt) as c:
        answers = [_try(c, "lena", f"guess-{i}").status_code for i in range(ACCOUNT_LIMIT)]
        assert answers == [401] * ACCOUNT_LIMIT
        refused = _try(c, "lena", PASSWORD)  # even the right password: not checked now
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) == 30
        assert "try again in 30 seconds" in refused.text


ACCOUNT_LIMIT = throttle.ACCOUNT.limit


def test_the_back_off_grows_and_the_account_back_off_is_bounded(web_rt: Runtime) -> None:
    clock = web_rt.clock
    assert isinstance(clock, FrozenClock)
    waits = []
    with _client(web_rt) as c:
        for i in range(12):
            answer = _try(c, "lena", f"guess-{i}")
            if answer.status_code == 429:
                waits.append(int(answer.headers["retry-after"]))
                clock.now += dt.timedelta(seconds=waits[-1])
                answer = _try(c, "lena", f"again-{i}")
            assert answer.status_code in (401, 429)
    assert waits[:3] == [30, 60, 120]
    assert max(waits) <= throttle.ACCOUNT.max_block.total_seconds()
    assert throttle.ACCOUNT.block(10_000) == dt.timedelta(minutes=15)
    assert throttle.ADDRESS.block(10_000) == dt.timedelta(hours=1)


def test_the_user_signs_in_from_their_own_address_while_an_attacker_is_throttled(
    web_rt: Runtime,
) -> None:
    with _client(web_rt) as attacker:
        for i in range(ACCOUNT_LIMIT + 1):
            _try(attacker, "lena", f"guess-{i}")
        assert _try(attacker, "lena", PASSWORD).status_code == 429
    with _client(web_rt, USER_DESK) as desk:
        answer = _try(desk, "lena", PASSWORD)
        assert answer.status_code == 303
        assert desk.get("/api/me").json()["username"] == "lena"


def test_one_address_guessing_many_accounts_is_throttled(web_rt: Runtime) -> None:
    names = ["lena", "lars", "leo", "fei", "rita", "paul", "sam", "maria", "root", "nobody"]
    with _client(web_rt) as c:
        for name in names:  # one guess each: no account reaches its own limit
            assert _try(c, name, "guess").status_code == 401
        refused = _try(c, "alice", PASSWORD)
        assert refused.status_code == 429
        assert "from your address" in refused.text
    with _client(web_rt, USER_DESK) as desk:
        assert _try(desk, "alice", PASSWORD).status_code == 303


def test_unknown_user_names_are_throttled_like_real_ones(web_rt: Runtime) -> None:
    with _client(web_rt) as c:
        answers = [_try(c, "no-such-user", "guess").status_code for _ in range(ACCOUNT_LIMIT)]
        assert answers == [401] * ACCOUNT_LIMIT
        assert _try(c, "no-such-user", "guess").status_code == 429


def test_failures_are_forgotten_after_the_window(web_rt: Runtime) -> None:
    clock = web_rt.clock
    assert isinstance(clock, FrozenClock)
    with _client(web_rt) as c:
        for i in range(ACCOUNT_LIMIT):
            _try(c, "lena", f"guess-{i}")
        assert _try(c, "lena", PASSWORD).status_code == 429
        clock.now += throttle.WINDOW + dt.timedelta(seconds=31)
        assert _try(c, "lena", PASSWORD).status_code == 303


def test_a_success_does_not_reset_the_address_budget(web_rt: Runtime) -> None:
    """Signing in to one's own account between guesses buys no fresh guesses."""
    with _client(web_rt) as c:
        for i in range(throttle.ADDRESS.limit - 1):
            _try(c, f"victim-{i}", "guess")
        assert _try(c, "alice", PASSWORD).status_code == 303
        _try(c, "victim-x", "guess")
        assert _try(c, "victim-y", "guess").status_code == 429


def test_bad_bearer_tokens_count_against_the_address(web_rt: Runtime) -> None:
    with _client(web_rt) as c:
        bad = {"Authorization": "Bearer cft_" + "x" * 43}
        answers = [c.get("/api/me", headers=bad).status_code for _ in range(throttle.ADDRESS.limit)]
        assert answers == [401] * throttle.ADDRESS.limit
        refused = c.get("/api/me", headers=bad)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 60
        assert _try(c, "alice", PASSWORD).status_code == 429


def test_throttling_is_logged(web_rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="contractflow.auth")
    with _client(web_rt) as c:
        for i in range(ACCOUNT_LIMIT + 1):
            _try(c, "lena", f"guess-{i}")
    messages = [r.getMessage() for r in caplog.records if r.name == "contractflow.auth"]
    assert any("sign-in failed: account:lena" in msg for msg in messages)
    assert any(
        "sign-in throttled: account:lena after 5 failures, for 30 s" in msg for msg in messages
    )
    assert any("sign-in refused: account:lena is throttled" in msg for msg in messages)


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert throttle.client_key("2001:db8:1:2:aaaa::1") == throttle.client_key("2001:db8:1:2::9")
    assert throttle.client_key("2001:db8:1:3::1") != throttle.client_key("2001:db8:1:2::1")
    assert throttle.client_key("::ffff:192.0.2.1") == "192.0.2.1"
