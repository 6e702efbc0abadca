"""Numbers and dates at the edges over HTTP: 400 with one line, never 500 (issue 18.3/18.8)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from engine.services.runtime import Runtime
from engine.services.uploads import read_upload
from tests.integration.web.support import bearer
from tests.support import EXAMPLES


def _contract(web_rt: Runtime) -> dict:
    contract, _ = read_upload(web_rt, "SC.yaml", (EXAMPLES / "SC-2026-0042.yaml").read_bytes())
    return contract.model_dump(mode="json")


def test_out_of_range_params_and_as_of_answer_400_with_one_line(
    client: TestClient, web_rt: Runtime
) -> None:
    headers = bearer(web_rt, "alice")
    body = {"contract": _contract(web_rt)}
    cases = [
        ({"params": {"net_days_medium": 1e308}}, "1E+308 is out of range"),
        ({"params": {"net_days_medium": 1e20}}, "1E+20 is out of range"),
        ({"as_of": "9999-12-31"}, "as_of: 9999-12-31 is out of range"),
    ]
    for extra, expected in cases:
        response = client.post("/api/rules/check", json={**body, **extra}, headers=headers)
        assert response.status_code == 400, (extra, response.text)
        assert expected in response.text


def test_tiny_params_and_penalties_evaluate(client: TestClient, web_rt: Runtime) -> None:
    headers = bearer(web_rt, "alice")
    contract = _contract(web_rt)
    contract["payment_terms"]["late_penalty_percent_per_day"] = "0.00001"
    response = client.post(
        "/api/rules/check",
        json={"contract": contract, "params": {"net_days_medium": 1e-7}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert any(f["rule"] == "payment_terms.long_net_days" for f in response.json()["flags"])
