"""`POST /api/alerts/run` refuses a future `as_of` without `force` (issue 18 item 9)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from engine.services.runtime import Runtime
from tests.integration.web.support import bearer


def test_a_future_as_of_is_a_400_in_one_line_unless_forced(
    client: TestClient, web_rt: Runtime
) -> None:
    headers = bearer(web_rt, "root")
    future = (web_rt.today() + dt.timedelta(days=1)).isoformat()
    refused = client.post("/api/alerts/run", json={"as_of": future}, headers=headers)
    assert refused.status_code == 400, refused.text
    assert f"as_of: {future} is in the future" in refused.text
    assert client.get("/api/alerts", headers=headers).json() == []
    today = client.post(
        "/api/alerts/run", json={"as_of": web_rt.today().isoformat()}, headers=headers
    )
    assert today.status_code == 200
    forced = client.post("/api/alerts/run", json={"as_of": future, "force": True}, headers=headers)
    assert forced.status_code == 200, forced.text
