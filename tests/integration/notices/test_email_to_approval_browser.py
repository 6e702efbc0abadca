"""The whole path on real parts: a submit is emailed by the `serve` sender thread to a real
SMTP server (aiosmtpd), the reviewer opens the email's Approve link in a real browser
(Debian chromium via Playwright), confirms, the stage moves, and the link is dead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.users import seed_roles
from engine.services.views import show
from engine.settings import Settings
from engine.web.app import create_app
from tests.integration.alerts.support import SmtpServer, free_port
from tests.integration.notices.support import link
from tests.integration.web.browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.workflow.support import contract_file, prepare

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="chromium is not installed (make system-deps)"
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api")


def _wait(condition: object, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def site(db_url: str, tmp_path: Path, smtp: SmtpServer) -> Iterator[tuple[Runtime, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rt = Runtime(
        Settings(
            database_url=db_url,
            data_dir=tmp_path / "data",
            smtp_port=smtp.port,
            mail_from="contractflow@cf.example.com",
            base_url=base,
            notice_poll_seconds=3600,  # only the commit's wake-up can send in time
        )
    )
    with rt.db.transaction() as session:
        seed_roles(session)
    prepare(rt)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(rt, send_emails=True), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert _wait(lambda: server.started), "uvicorn did not start"
    try:
        yield rt, base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        rt.close()


def test_a_reviewer_approves_from_the_email_in_a_browser_and_the_link_dies(
    site: tuple[Runtime, str], smtp: SmtpServer, tmp_path: Path
) -> None:
    rt, base = site
    view = lifecycle.submit(rt, contract_file(tmp_path, amount=500000), "alice")
    assert view.stage == "legal_review"
    assert _wait(lambda: any(m.recipients == ["lena@example.com"] for m in smtp.messages))
    mail = next(m for m in smtp.messages if m.recipients == ["lena@example.com"])
    approve = link(mail, "Approve")
    assert approve.startswith(f"{base}/email-actions/")

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(approve)
            assert page.locator("h1").inner_text().startswith("Approve: SC-2026-0042")
            assert "acting as lena" in page.locator("#email-action").inner_text()
            assert show(rt, view.id).stage == "legal_review"  # opening the link did nothing
            page.fill("textarea[name=comment]", "approved from my phone")
            page.click("button[name=confirm]")
            page.wait_for_selector("#email-action-done")
            assert "now in signing" in page.locator("#email-action-done").inner_text()

            after = show(rt, view.id)
            assert after.stage == "signing"
            assert after.history[-1].actor == "lena"
            assert after.history[-1].details["channel"] == "email"

            response = page.goto(approve)
            assert response is not None and response.status == 409
            assert "already been used" in page.locator("#email-action-refused").inner_text()
        finally:
            browser.close()
    # the next stage's signers were told, by the same thread
    assert _wait(lambda: any(m.recipients == ["sam@example.com"] for m in smtp.messages))
