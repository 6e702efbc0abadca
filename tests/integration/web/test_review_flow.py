"""A contract through the web app: submit by upload, inbox, contract page, decisions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from engine.services.runtime import Runtime
from tests.integration.web.support import bearer, sign_in
from tests.support import EXAMPLES


def upload(client: TestClient, headers: dict[str, str], name: str = "SC-2026-0042.yaml") -> dict:
    content = (EXAMPLES / name).read_bytes()
    response = client.post(
        "/api/contracts/upload", files={"file": (name, content)}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_submitted_contract_appears_in_the_reviewers_inbox_and_moves_on_approval(
    client: TestClient, web_rt: Runtime
) -> None:
    contract = upload(client, bearer(web_rt, "alice"))
    assert contract["stage"] == "legal_review"
    lena = bearer(web_rt, "lena")
    inbox = client.get("/api/inbox", headers=lena).json()
    assert [i["contract"] for i in inbox["items"]] == ["SC-2026-0042"]
    task = inbox["items"][0]["task"]
    fei = bearer(web_rt, "fei")
    finance_task = client.get("/api/tasks", headers=fei).json()[0]["id"]
    after = client.post(
        f"/api/tasks/{task}/act", json={"action": "approve", "comment": "ok"}, headers=lena
    )
    assert after.status_code == 200 and after.json()["stage"] == "legal_review"
    done = client.post(f"/api/tasks/{finance_task}/act", json={"action": "approve"}, headers=fei)
    assert done.json()["stage"] in ("signing", "risk_review")
    assert client.get("/api/inbox", headers=lena).json()["items"] == []


def test_an_api_decision_answers_what_it_did_and_is_in_the_contracts_history(
    client: TestClient, web_rt: Runtime
) -> None:
    upload(client, bearer(web_rt, "alice"))
    lena = bearer(web_rt, "lena")
    task = client.get("/api/tasks", headers=lena).json()[0]["id"]
    body = {"action": "request_changes", "comment": "add a liability cap"}
    response = client.post(f"/api/tasks/{task}/act", json=body, headers=lena)
    assert response.status_code == 200
    assert response.json() == {
        "contract": "SC-2026-0042",
        "task": task,
        "action": "request_changes",
        "task_status": "changes_requested",
        "from_stage": "legal_review",
        "stage": "drafting",
        "status": "active",
    }
    shown = client.get("/api/contracts/SC-2026-0042", headers=lena).json()
    assert shown["stage"] == "drafting"
    assert any(h["comment"] == "add a liability cap" for h in shown["history"])


def test_acting_twice_on_a_task_is_a_conflict(client: TestClient, web_rt: Runtime) -> None:
    upload(client, bearer(web_rt, "alice"))
    lena = bearer(web_rt, "lena")
    task = client.get("/api/tasks", headers=lena).json()[0]["id"]
    body = {"action": "reject", "comment": "penalty clause missing"}
    assert client.post(f"/api/tasks/{task}/act", json=body, headers=lena).status_code == 200
    again = client.post(f"/api/tasks/{task}/act", json=body, headers=lena)
    assert again.status_code == 409
    assert "not open" in again.json()["error"]


def test_reject_without_a_comment_is_refused_with_422_or_400(
    client: TestClient, web_rt: Runtime
) -> None:
    upload(client, bearer(web_rt, "alice"))
    lena = bearer(web_rt, "lena")
    task = client.get("/api/tasks", headers=lena).json()[0]["id"]
    response = client.post(f"/api/tasks/{task}/act", json={"action": "reject"}, headers=lena)
    assert response.status_code == 400
    assert "comment" in response.json()["error"]


def test_an_invalid_contract_is_refused_with_every_problem_and_nothing_stored(
    client: TestClient, web_rt: Runtime
) -> None:
    alice = bearer(web_rt, "alice")
    bad = b"title: x\ndirection: sideways\ncurrency: CNY\namount: -5\n"
    response = client.post(
        "/api/contracts/upload", files={"file": ("bad.yaml", bad)}, headers=alice
    )
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert any("direction" in p for p in problems) and any("amount" in p for p in problems)
    assert client.get("/api/contracts", headers=alice).json() == []


def test_uploads_are_type_checked_and_size_limited(client: TestClient, web_rt: Runtime) -> None:
    alice = bearer(web_rt, "alice")
    exe = client.post(
        "/api/contracts/upload", files={"file": ("run.exe", b"MZ\x90\x00")}, headers=alice
    )
    assert exe.status_code == 400 and "not a contract file type" in exe.json()["error"]
    binary = client.post(
        "/api/contracts/upload", files={"file": ("c.yaml", b"\x00\x01\x02")}, headers=alice
    )
    assert binary.status_code == 400
    limit = web_rt.settings.upload_max_bytes
    big = b"# padding\n" * (limit // 10 + 10)
    response = client.post(
        "/api/contracts/upload", files={"file": ("big.yaml", big)}, headers=alice
    )
    assert response.status_code == 413
    huge = client.post(
        "/api/contracts/upload", files={"file": ("huge.yaml", big * 2)}, headers=alice
    )
    assert huge.status_code == 413


def test_the_json_submit_checks_the_body_like_a_file(client: TestClient, web_rt: Runtime) -> None:
    alice = bearer(web_rt, "alice")
    response = client.post("/api/contracts", json={"title": "x", "colour": "red"}, headers=alice)
    assert response.status_code == 422
    assert any(p.startswith("request: colour: unknown key") for p in response.json()["problems"])


def test_the_contract_page_shows_terms_flags_stages_and_the_decision_buttons(
    client: TestClient, web_rt: Runtime
) -> None:
    upload(client, bearer(web_rt, "alice"))
    sign_in(client, "lena")
    html = client.get("/contracts/SC-2026-0042").text
    for text in (
        "Supply of 40 centrifugal pumps",
        "Payment schedule",
        "Bank of Ningbo",
        "OB-1",
        'aria-current="step"',
        ">Approve<",
        ">Reject<",
        ">Request changes<",
        'name="comment"',
    ):
        assert text in html, text


def test_approving_on_the_page_moves_the_stage_and_records_the_comment(
    client: TestClient, web_rt: Runtime
) -> None:
    upload(client, bearer(web_rt, "alice"))
    token = sign_in(client, "lena")
    inbox = client.get("/inbox").text
    assert "SC-2026-0042" in inbox
    task = client.get("/api/tasks").json()[0]["id"]
    response = client.post(
        f"/tasks/{task}/act",
        data={"action": "request_changes", "comment": "cap the liability", "csrf_token": token},
    )
    assert response.status_code == 200
    assert "now in stage drafting" in response.text
    assert "cap the liability" in response.text
    assert client.get("/api/contracts/SC-2026-0042").json()["stage"] == "drafting"


def test_a_reviewer_cannot_open_a_contract_without_a_task_for_them(
    client: TestClient, web_rt: Runtime
) -> None:
    upload(client, bearer(web_rt, "alice"))
    sign_in(client, "sam")
    assert client.get("/contracts/SC-2026-0042").status_code == 404
    assert client.get("/api/contracts/SC-2026-0042").status_code == 404


def test_submitting_on_the_page_shows_problems_beside_the_form(
    client: TestClient, web_rt: Runtime
) -> None:
    token = sign_in(client, "alice")
    response = client.post(
        "/submit",
        data={"csrf_token": token},
        files={"file": ("draft.json", b'{"title": "x", "amount": 0}')},
    )
    assert response.status_code == 422
    assert "draft.json: direction: required" in response.text
    assert 'id="problems"' in response.text
    good = client.post(
        "/submit",
        data={"csrf_token": token},
        files={"file": ("SC-2026-0042.yaml", (EXAMPLES / "SC-2026-0042.yaml").read_bytes())},
    )
    assert good.status_code == 200 and "Submitted SC-2026-0042" in good.text


def test_bulk_approval_takes_only_low_risk_tasks(client: TestClient, web_rt: Runtime) -> None:
    alice = bearer(web_rt, "alice")
    for name in ("SC-2026-0042.yaml", "SC-2026-0051.yaml", "SC-2026-0060.json"):
        upload(client, alice, name)
    lena = bearer(web_rt, "lena")
    items = client.get("/api/inbox", headers=lena).json()["items"]
    ids = [i["task"] for i in items]
    outcome = client.post("/api/tasks/bulk-approve", json={"task_ids": ids}, headers=lena).json()
    low = {i["task"] for i in items if i["low_risk"]}
    assert set(outcome["approved"]) == low
    assert {r["task"] for r in outcome["refused"]} == set(ids) - low


def test_the_dashboard_counts_stages_flags_and_obligations(
    client: TestClient, web_rt: Runtime
) -> None:
    alice = bearer(web_rt, "alice")
    for name in ("SC-2026-0042.yaml", "SC-2026-0051.yaml"):
        upload(client, alice, name)
    data = client.get("/api/dashboard", headers=bearer(web_rt, "maria")).json()
    assert sum(c["value"] for c in data["contracts_by_stage"]) == 2
    assert len(data["obligations_by_week"]) == 13
    sign_in(client, "maria")
    html = client.get("/dashboard").text
    assert html.count("<svg") == 4 or "no flags" in html


def test_the_contract_document_downloads_as_docx_for_those_who_may_see_it(
    client: TestClient, web_rt: Runtime
) -> None:
    upload(client, bearer(web_rt, "alice"))
    response = client.get("/api/contracts/SC-2026-0042/document", headers=bearer(web_rt, "lena"))
    assert response.status_code == 200
    assert response.content.startswith(b"PK")
    assert "attachment" in response.headers["content-disposition"]
    hidden = client.get("/api/contracts/SC-2026-0042/document", headers=bearer(web_rt, "sam"))
    assert hidden.status_code == 404


def test_rules_check_over_http_matches_the_command_line_shape(
    client: TestClient, web_rt: Runtime
) -> None:
    import json

    import yaml

    raw = yaml.safe_load((EXAMPLES / "SC-2026-0051.yaml").read_text())
    data = json.loads(json.dumps(raw, default=str))
    body = {"contract": data, "as_of": "2026-11-01"}
    result = client.post(
        "/api/rules/check?fail_on=high", json=body, headers=bearer(web_rt, "lena")
    ).json()
    assert set(result) == {"contract", "as_of", "max_severity", "flags", "tripped"}
    assert result["contract"] == "SC-2026-0051" and result["as_of"] == "2026-11-01"
    assert result["tripped"] == (result["max_severity"] in ("high", "critical"))
    assert all(
        {"rule", "category", "severity", "message", "evidence"} <= set(f) for f in result["flags"]
    )
    assert client.get("/api/contracts", headers=bearer(web_rt, "lena")).json() == []
    bad = client.post(
        "/api/rules/check",
        json={"contract": data, "params": {"net_days_medium": "many"}},
        headers=bearer(web_rt, "lena"),
    )
    assert bad.status_code == 400


def test_a_contract_id_with_slashes_is_refused_and_a_hash_id_works_everywhere(
    client: TestClient, web_rt: Runtime
) -> None:
    """Ids are letters, digits, -, _ and # (issue 16.4): `HT/2026/001` and `SC/..//x` are
    refused with the rule named; an id with `_` and `#` works in the API and the pages."""
    import json

    alice = bearer(web_rt, "alice")
    data = json.loads((EXAMPLES / "SC-2026-0060.json").read_text())
    for bad in ("HT/2026/001", "SC/..//x"):
        refused = client.post("/api/contracts", json={**data, "id": bad}, headers=alice)
        assert refused.status_code == 422, refused.text
        assert "is not an id: use letters, digits, -, _ and #" in refused.text
    data["id"] = "HT_2026#001"
    assert client.post("/api/contracts", json=data, headers=alice).status_code == 201
    assert client.get("/api/contracts/HT_2026%23001", headers=alice).json()["id"] == "HT_2026#001"
    fulfilled = client.post(
        "/api/contracts/HT_2026%23001/obligations/OB-1/fulfil", json={}, headers=alice
    )
    # routed to the contract (not a 404/422 on the slashes); in review, nothing to record
    assert fulfilled.status_code == 409 and "stage legal_review" in fulfilled.text
    sign_in(client, "alice")
    assert "HT_2026#001" in client.get("/contracts/HT_2026%23001").text


def test_a_revision_uploaded_on_the_page_shows_what_changed(
    client: TestClient, web_rt: Runtime
) -> None:
    upload(client, bearer(web_rt, "alice"))
    lena = bearer(web_rt, "lena")
    task = client.get("/api/tasks", headers=lena).json()[0]["id"]
    body = {"action": "request_changes", "comment": "add a liability cap of 80%"}
    client.post(f"/api/tasks/{task}/act", json=body, headers=lena)
    token = sign_in(client, "alice")
    assert "Upload a revision" in client.get("/contracts/SC-2026-0042").text
    revised = (
        (EXAMPLES / "SC-2026-0042.yaml")
        .read_text()
        .replace("liability_cap_percent: 100", "liability_cap_percent: 80")
    )
    response = client.post(
        "/contracts/SC-2026-0042/revise",
        data={"csrf_token": token},
        files={"file": ("SC-2026-0042-r2.yaml", revised.encode())},
    )
    assert response.status_code == 200, response.text[:500]
    assert "Revision 2 of SC-2026-0042 submitted" in response.text
    assert (
        "liability cap percent" in response.text
    )  # the field in words and "add a liability cap" in response.text
    assert client.get("/api/contracts/SC-2026-0042").json()["stage"] == "legal_review"


def test_values_the_database_cannot_store_are_a_bad_request(
    client: TestClient, web_rt: Runtime
) -> None:
    upload(client, bearer(web_rt, "alice"))
    lena = bearer(web_rt, "lena")
    task = client.get("/api/tasks", headers=lena).json()[0]["id"]
    with TestClient(client.app, raise_server_exceptions=False) as quiet:
        response = quiet.post(
            f"/api/tasks/{task}/act",
            json={"action": "reject", "comment": "bad\u0000byte"},
            headers=lena,
        )
        assert response.status_code in (200, 400)  # SQLite stores NUL; PostgreSQL cannot
        page = quiet.get("/contracts/%00", headers=lena, follow_redirects=False)
        assert page.status_code in (303, 404)
        assert quiet.get("/api/contracts/%00", headers=lena).status_code == 422


def test_a_word_draft_is_read_through_document_intake(client: TestClient, web_rt: Runtime) -> None:
    from engine.services.contracts import read_contract
    from engine.services.documents import render

    contract = read_contract(web_rt, EXAMPLES / "SC-2026-0060.json")
    docx = render(web_rt, contract)
    alice = bearer(web_rt, "alice")
    response = client.post(
        "/api/contracts/upload", files={"file": ("draft.docx", docx)}, headers=alice
    )
    assert response.status_code == 201, response.text[:500]
    assert response.json()["id"] == "SC-2026-0060"
    fake = client.post(
        "/api/contracts/upload", files={"file": ("fake.docx", b"not a zip")}, headers=alice
    )
    assert fake.status_code == 400 and "not a .docx" in fake.json()["error"]


def test_the_evaluation_report_downloads_for_those_who_may_see_it(
    client: TestClient, web_rt: Runtime
) -> None:
    upload(client, bearer(web_rt, "alice"))
    response = client.get("/api/contracts/SC-2026-0042/report", headers=bearer(web_rt, "lena"))
    assert response.status_code == 200
    assert response.content.startswith(b"PK")
    assert "evaluation" in response.headers["content-disposition"].lower()
    hidden = client.get("/api/contracts/SC-2026-0042/report", headers=bearer(web_rt, "sam"))
    assert hidden.status_code == 404
