"""The contract page's own actions as a person uses them: recording fulfilment with a date
and a comment (only once signed), reverting it, withdrawing a contract sent back, and
refusals shown as error banners in the page's words."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.views import show
from tests.integration.web.support import sign_in
from tests.support import EXAMPLES


@pytest.fixture
def db_url(web_sqlite_url: str) -> str:
    """SQLite: the page's behaviour does not depend on the database (the services run on
    both in the workflow tests)."""
    return web_sqlite_url


def _task(rt: Runtime, code: str, role: str) -> int:
    return next(t.id for t in show(rt, code).tasks if t.role == role and t.status == "open")


def _signed(rt: Runtime) -> str:
    code = lifecycle.submit(rt, EXAMPLES / "SC-2026-0042.yaml", "alice").id
    for role, who in (("legal", "lena"), ("finance", "fei")):
        lifecycle.act(rt, _task(rt, code, role), "approve", who)
    if show(rt, code).stage == "risk_review":
        lifecycle.act(rt, _task(rt, code, "risk_officer"), "approve", "rita")
    lifecycle.act(rt, _task(rt, code, "signer"), "approve", "sam")
    assert show(rt, code).stage == "fulfilment"
    return code


def _banner(html: str) -> tuple[str, str]:
    found = re.search(r'<p class="(flash[^"]*)" role="(\w+)">([^<]*)</p>', html)
    assert found, "the page shows no banner"
    return found.group(1), found.group(3)


def test_a_contract_in_review_offers_no_fulfilled_buttons_but_shows_its_flags(
    web_rt: Runtime, client: TestClient
) -> None:
    code = lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice").id
    sign_in(client, "alice")
    page = client.get(f"/contracts/{code}").text
    assert "Fulfilled…" not in page and "/obligations/OB-1/fulfil" not in page
    assert "once the contract is signed" in page
    assert 'id="flags"' in page


def test_fulfilment_is_recorded_with_a_date_and_a_comment_and_history_names_it(
    web_rt: Runtime, client: TestClient
) -> None:
    code = _signed(web_rt)
    token = sign_in(client, "alice")
    page = client.get(f"/contracts/{code}").text
    assert 'type="date" name="on"' in page and "Record fulfilment" in page
    done = client.post(
        f"/contracts/{code}/obligations/OB-1/fulfil",
        data={"on": "2026-12-05", "comment": "bank slip 1142", "csrf_token": token},
    )
    assert _banner(done.text) == ("flash", "Recorded OB-1 as fulfilled on 2026-12-05.")
    ob = next(o for o in show(web_rt, code).obligations if o.id == "OB-1")
    assert (ob.status, str(ob.fulfilled_on)) == ("fulfilled", "2026-12-05")
    history = done.text[done.text.index('id="history"') :]
    assert "OB-1 (Advance payment of 30%) on 2026-12-05" in history
    assert "bank slip 1142" in history

    reverted = client.post(
        f"/contracts/{code}/obligations/OB-1/revert",
        data={"reason": "slip belonged to another order", "csrf_token": token},
    )
    assert _banner(reverted.text) == ("flash", "OB-1 is open again.")
    assert "was fulfilled on 2026-12-05" in reverted.text


def test_a_refused_action_is_an_error_banner_in_the_pages_words(
    web_rt: Runtime, client: TestClient
) -> None:
    code = lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice").id
    token = sign_in(client, "lena")
    refused = client.post(
        f"/tasks/{_task(web_rt, code, 'legal')}/act",
        data={"action": "reject", "comment": "", "csrf_token": token},
    )
    css, text = _banner(refused.text)
    assert css == "flash error" and 'role="alert"' in refused.text
    assert "--" not in text and "_" not in text
    assert text == "Not done: Reject needs a comment saying why (see the Comment box)."


def test_a_future_fulfilment_date_on_the_page_is_an_error_banner(
    web_rt: Runtime, client: TestClient
) -> None:
    code = _signed(web_rt)
    token = sign_in(client, "alice")
    refused = client.post(
        f"/contracts/{code}/obligations/OB-1/fulfil",
        data={"on": "2099-01-01", "csrf_token": token},
    )
    css, text = _banner(refused.text)
    assert css == "flash error"
    assert text.startswith("Not done: 2099-01-01 is in the future") and "--on" not in text


def test_the_owner_withdraws_a_contract_sent_back_from_its_page(
    web_rt: Runtime, client: TestClient
) -> None:
    code = lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice").id
    lifecycle.act(web_rt, _task(web_rt, code, "legal"), "reject", "lena", "not for us")
    token = sign_in(client, "alice")
    assert 'id="withdraw"' in client.get(f"/contracts/{code}").text
    empty = client.post(f"/contracts/{code}/withdraw", data={"reason": "", "csrf_token": token})
    assert _banner(empty.text)[0] == "flash error"
    done = client.post(
        f"/contracts/{code}/withdraw", data={"reason": "customer cancelled", "csrf_token": token}
    )
    assert _banner(done.text)[1].startswith(f"Withdrew {code}")
    assert show(web_rt, code).status == "withdrawn"
    assert 'id="withdraw"' not in done.text
    assert code not in client.get("/contracts").text  # the list shows active contracts
    assert code in client.get("/contracts?status=withdrawn").text


def test_a_reviewer_may_not_withdraw(web_rt: Runtime, client: TestClient) -> None:
    code = lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice").id
    token = sign_in(client, "lena")
    assert 'id="withdraw"' not in client.get(f"/contracts/{code}").text
    denied = client.post(f"/contracts/{code}/withdraw", data={"reason": "x", "csrf_token": token})
    assert denied.status_code == 403
    assert show(web_rt, code).status == "active"
