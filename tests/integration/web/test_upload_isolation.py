"""Hostile uploads over HTTP: bombs answer 422 at once, and parsing a large upload runs in a
worker thread so other users are answered meanwhile (issue 16.1, 18.2)."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from engine.services.runtime import Runtime
from tests.integration.web.support import bearer
from tests.support import EXAMPLES
from tests.unit.definitions.test_hostile_yaml import BOMB, DEEP_FLOW


def _big_contract(obligations: int) -> bytes:
    """A valid-looking contract whose YAML takes seconds to parse (many obligations)."""
    head = (EXAMPLES / "SC-2026-0042.yaml").read_text().split("obligations:")[0]
    head = head.replace("id: SC-2026-0042", "id: SC-BIG-1")
    rows = "".join(
        f"  - {{id: OB-{i}, party: us, kind: delivery, due: 2027-01-31, description: Part {i}}}\n"
        for i in range(obligations)
    )
    return (head + "obligations:\n" + rows).encode()


def test_alias_bomb_and_deep_nesting_uploads_answer_422_at_once(
    client: TestClient, web_rt: Runtime
) -> None:
    headers = bearer(web_rt, "alice")
    for name, text, expected in [
        ("laughs.yaml", BOMB, "laughs.yaml:2: YAML aliases (*a) are not allowed"),
        ("deep.yaml", DEEP_FLOW, "deep.yaml:1: YAML nested too deeply (limit 50 levels)"),
        ("deep.json", '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", "JSON nested too deeply"),
    ]:
        for url in ("/api/contracts/upload", "/api/rules/check/upload"):
            started = time.perf_counter()
            response = client.post(url, files={"file": (name, text.encode())}, headers=headers)
            # Expanding the bomb (9^9 list items) or recursing 50,000 levels would take
            # minutes; refusing it takes milliseconds. 10 s leaves room for a busy machine.
            assert time.perf_counter() - started < 10.0, (url, name)
            assert response.status_code == 422, (url, name, response.text)
            assert expected in response.text, response.text


def test_another_request_is_answered_while_a_big_upload_is_parsed(
    client: TestClient, web_rt: Runtime
) -> None:
    alice = bearer(web_rt, "alice")
    content = _big_contract(2500)
    done: dict[str, float] = {}

    def upload() -> None:
        response = client.post(
            "/api/rules/check/upload", files={"file": ("big.yaml", content)}, headers=alice
        )
        done["upload"] = time.perf_counter()
        done["upload_status"] = response.status_code

    started = time.perf_counter()
    worker = threading.Thread(target=upload)
    worker.start()
    time.sleep(0.3)  # the upload is being parsed now (it takes seconds)
    response = client.get("/api/contracts", headers=alice)
    answered = time.perf_counter()
    worker.join(timeout=120)
    assert response.status_code == 200
    assert done["upload_status"] == 200
    assert done["upload"] - started > 1.0, "the upload must take long enough to matter"
    assert answered < done["upload"], (
        f"the list waited for the upload: answered after {answered - started:.2f} s, "
        f"upload done after {done['upload'] - started:.2f} s"
    )
