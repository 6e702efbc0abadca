"""Answers at the edges (issue 18 item 12): a chunked body past the limit is 413, and a
500 or 503 carries the security headers, reaches the client as an answer (nothing is
re-raised to the server, which would log a second traceback and may drop the
connection), and an expected 503 is one log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.services.auth import TOKEN_PREFIX
from engine.services.runtime import Runtime
from engine.settings import Settings
from engine.web.app import create_app
from tests.integration.web.support import bearer

SECURITY_HEADERS = ("x-content-type-options", "referrer-policy")


def _chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    yield b'{"title": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


def test_a_chunked_body_past_the_limit_is_413(client: TestClient, web_rt: Runtime) -> None:
    limit = web_rt.settings.upload_max_bytes
    response = client.post(
        "/api/contracts",
        content=_chunks(limit + 256 * 1024),  # an iterator: sent chunked, no Content-Length
        headers={**bearer(web_rt, "alice"), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert "larger than the limit" in response.json()["error"]
    assert all(h in response.headers for h in SECURITY_HEADERS)


def test_a_database_outage_is_a_503_with_security_headers_and_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = tmp_path / "no-such-folder" / "contractflow.db"
    rt = Runtime(Settings(database_url=f"sqlite:///{gone}", data_dir=tmp_path / "data"))
    with TestClient(create_app(rt), raise_server_exceptions=True) as client:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            first = client.get(
                "/api/tasks", headers={"Authorization": f"Bearer {TOKEN_PREFIX}{'x' * 43}"}
            )
            again = client.get("/login", headers={"Accept": "text/html"})
    rt.close()
    assert first.status_code == 503, first.text
    assert first.json()["error"] == "the database is not available; try again"
    assert all(h in first.headers for h in SECURITY_HEADERS)
    assert again.status_code in (200, 503)  # the app still answers
    outage = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert outage and all(r.exc_info is None for r in caplog.records)


def test_an_internal_error_is_a_500_with_security_headers_and_no_traceback_to_the_client(
    web_rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(web_rt)

    @app.get("/api/test-broken")
    def broken() -> None:  # a bug, as any route could have one
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=True) as client:
        response = client.get("/api/test-broken")
        after = client.get("/api/tasks", headers=bearer(web_rt, "lena"))
    assert response.status_code == 500
    assert response.json()["error"] == "internal error; it has been logged"
    assert "Traceback" not in response.text and "a bug" not in response.text
    assert all(h in response.headers for h in SECURITY_HEADERS)
    assert after.status_code == 200
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1  # our log line with the traceback, and nothing re-raised
