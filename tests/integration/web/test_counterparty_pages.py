"""Counterparty pages and API: the register, the page with its bar, edits by risk officers
only (CSRF, kept in the history), links from contract pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from engine.services import lifecycle
from engine.services.counterparties import add_counterparty, show_counterparty
from engine.services.runtime import Runtime
from tests.integration.web.support import bearer, csrf_from, sign_in
from tests.support import EXAMPLES

HUADONG = "Huadong Machinery Co., Ltd."
CODE = "91350100M000100Y43"


def test_register_page_searches_and_counterparty_page_shows_exposure_bar(
    web_rt: Runtime, client: TestClient
) -> None:
    add_counterparty(web_rt, "rita", HUADONG, code=CODE, credit_limit="3000000")
    lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice")
    sign_in(client, "lena")
    listing = client.get("/counterparties", params={"q": "huadong"})
    assert listing.status_code == 200 and HUADONG in listing.text
    assert "No counterparty" in client.get("/counterparties", params={"q": "zzz"}).text
    page = client.get(f"/counterparties/{CODE}")
    assert page.status_code == 200
    assert "80%" in page.text  # 2,400,000 of 3,000,000
    assert "SC-2026-0042" in page.text
    assert 'name="reason"' not in page.text  # no change form for a legal reviewer
    contract = client.get("/contracts/SC-2026-0042")
    assert f'href="/counterparties/{CODE}"' in contract.text


def test_a_risk_officer_changes_a_counterparty_with_csrf_and_it_is_kept_in_history(
    web_rt: Runtime, client: TestClient
) -> None:
    add_counterparty(web_rt, "rita", HUADONG, code=CODE)
    sign_in(client, "rita")
    page = client.get(f"/counterparties/{CODE}")
    token = csrf_from(page.text)
    refused = client.post(f"/counterparties/{CODE}", data={"status": "watch", "reason": "x"})
    assert refused.status_code == 403
    done = client.post(
        f"/counterparties/{CODE}",
        data={"status": "watch", "reason": "late payments", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = show_counterparty(web_rt, CODE, "rita")
    assert shown["status"] == "watch"
    assert shown["history"][-1]["by"] == "rita"
    assert shown["history"][-1]["reason"] == "late payments"


def test_api_lists_shows_and_changes_counterparties_for_risk_officers_only(
    web_rt: Runtime, client: TestClient
) -> None:
    risk, legal = bearer(web_rt, "rita"), bearer(web_rt, "lena")
    made = client.post(
        "/api/counterparties",
        json={"name": HUADONG, "code": CODE, "rating": "BBB", "credit_limit": 1000000},
        headers=risk,
    )
    assert made.status_code == 201, made.text
    assert client.post("/api/counterparties", json={"name": "X"}, headers=legal).status_code == 403
    bad = client.post(
        "/api/counterparties", json={"name": "Y", "code": "91350100M000100Y44"}, headers=risk
    )
    assert bad.status_code == 400 and "check character" in bad.text
    changed = client.patch(
        f"/api/counterparties/{CODE}",
        json={"credit_limit": None, "reason": "limit withdrawn"},
        headers=risk,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"counterparty": HUADONG, "rescored": 0, "raised": []}
    shown = client.get(f"/api/counterparties/{CODE}", headers=legal).json()
    assert shown["credit_limit"] is None and shown["rating"] == "BBB"
    listed = client.get("/api/counterparties", params={"search": "91350100"}, headers=legal)
    assert [r["code"] for r in listed.json()] == [CODE]
