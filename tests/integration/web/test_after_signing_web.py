"""Amend, renew and terminate in the web app: the contract page shows the buttons to the
roles allowed and the amendments; the JSON API does what the commands do."""

from __future__ import annotations

import io
import json
from typing import Any

from fastapi.testclient import TestClient
from ruamel.yaml import YAML

from engine.services.runtime import Runtime
from engine.services.views import show
from tests.integration.web.support import bearer, sign_in
from tests.support import EXAMPLES


def _terms(**changes: Any) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load((EXAMPLES / "SC-2026-0042.yaml").read_text())
    data.update(changes)
    return dict(json.loads(json.dumps(data, default=str)))


def signed(client: TestClient, rt: Runtime) -> str:
    """SC-2026-0042 at 500,000 (no finance review), approved and signed by API."""
    made = client.post("/api/contracts", json=_terms(amount=500000), headers=bearer(rt, "alice"))
    assert made.status_code == 201, made.text
    code = str(made.json()["id"])
    by_role = {"legal": "lena", "finance": "fei", "risk_officer": "rita", "signer": "sam"}
    root = bearer(rt, "root")
    for _ in range(6):
        view = client.get(f"/api/contracts/{code}", headers=root).json()
        for task in [t for t in view["tasks"] if t["status"] == "open"]:
            headers = bearer(rt, by_role[task["role"]])
            client.post(f"/api/tasks/{task['id']}/act", json={"action": "approve"}, headers=headers)
    assert client.get(f"/api/contracts/{code}", headers=headers).json()["stage"] == "fulfilment"
    return code


def test_the_contract_page_offers_amend_renew_and_terminate_to_the_roles_allowed(
    client: TestClient, web_rt: Runtime
) -> None:
    code = signed(client, web_rt)
    sign_in(client, "alice")  # the owner: amend and renew, not terminate
    page = client.get(f"/contracts/{code}").text
    assert 'id="amend-form"' in page and 'id="renew-form"' in page
    assert 'id="terminate-form"' not in page
    client.post("/logout", follow_redirects=False)
    sign_in(client, "maria")  # a contract manager: terminate only
    page = client.get(f"/contracts/{code}").text
    assert 'id="terminate-form"' in page and 'id="amend-form"' not in page
    assert 'id="renew-form"' not in page
    client.post("/logout", follow_redirects=False)
    sign_in(client, "lena")  # a reviewer: none of them
    page = client.get(f"/contracts/{code}").text
    assert not any(f'id="{f}-form"' in page for f in ("amend", "renew", "terminate"))


def test_an_amendment_by_upload_is_reviewed_on_the_contract_page(
    client: TestClient, web_rt: Runtime
) -> None:
    code = signed(client, web_rt)
    csrf = sign_in(client, "alice")
    content = YAML(typ="safe", pure=True)
    buffer = io.StringIO()
    content.dump(_terms(amount=520000), buffer)
    done = client.post(
        f"/contracts/{code}/amend",
        data={"reason": "price change", "csrf_token": csrf},
        files={"file": ("amended.yaml", buffer.getvalue().encode())},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(f"/contracts/{code}").text
    assert "Amendment 1" in page and "price change" in page and "Amendment 1 of" in page
    client.post("/logout", follow_redirects=False)
    csrf = sign_in(client, "lena")
    page = client.get(f"/contracts/{code}").text
    assert "of amendment 1" in page and 'value="approve"' in page  # the amendment's buttons
    assert show(web_rt, code).amendments[0].stage == "legal_review"


def test_the_api_amends_renews_and_terminates(client: TestClient, web_rt: Runtime) -> None:
    code = signed(client, web_rt)
    alice = bearer(web_rt, "alice")
    opened = client.post(
        f"/api/contracts/{code}/amendments",
        json={"reason": "price change", "terms": _terms(amount=510000)},
        headers=alice,
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["amendments"][0]["status"] == "open"
    second = client.post(
        f"/api/contracts/{code}/amendments",
        json={"reason": "again", "terms": _terms(amount=530000)},
        headers=alice,
    )
    assert second.status_code == 409
    bad = client.post(
        f"/api/contracts/{code}/amendments",
        json={
            "reason": "x",
            "terms": _terms(
                obligations=[
                    {
                        "id": "OB-1",
                        "party": "us",
                        "kind": "service",
                        "due": "2027-03-01",
                        "repeat": {"every": "week", "until": "2027-09-01"},
                    }
                ]
            ),
        },
        headers=alice,
    )
    assert bad.status_code in (400, 422) and "repeat.every" in bad.text
    renewed = client.post(f"/api/contracts/{code}/renew", headers=alice)
    assert renewed.status_code == 201 and renewed.json()["renews"] == code
    refused = client.post(
        f"/api/contracts/{code}/terminate", json={"reason": "withdrew"}, headers=alice
    )
    assert refused.status_code == 403
    ended = client.post(
        f"/api/contracts/{code}/terminate",
        json={"reason": "withdrew"},
        headers=bearer(web_rt, "maria"),
    )
    assert ended.status_code == 200 and ended.json()["status"] == "terminated"
    assert ended.json()["amendments"][0]["status"] == "cancelled"
