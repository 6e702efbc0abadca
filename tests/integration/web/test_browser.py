"""The reviewer's path in a real browser: sign in, inbox, contract, decide.

Set CONTRACTFLOW_SCREENSHOTS=docs/screenshots to refresh the README's screenshots.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.views import show
from tests.integration.web.browser import CHROMIUM, CHROMIUM_ARGS, serving
from tests.integration.web.support import PASSWORD
from tests.support import EXAMPLES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="chromium is not installed (make system-deps)"
    ),
]

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def db_url(web_sqlite_url: str) -> str:
    """SQLite: the browser path does not depend on the database (both run in the API tests)."""
    return web_sqlite_url


@pytest.fixture
def portfolio(web_rt: Runtime) -> Runtime:
    """The example contracts submitted, one of them already approved by finance."""
    for name in (
        "SC-2026-0042.yaml",
        "SC-2026-0051.yaml",
        "SC-2026-0060.json",
        "PO-2026-0107.yaml",
    ):
        lifecycle.submit(web_rt, EXAMPLES / name, "alice")
    finance = next(t for t in show(web_rt, "SC-2026-0042").tasks if t.role == "finance")
    lifecycle.act(web_rt, finance.id, "approve", "fei", "payment terms are fine")
    return web_rt


@pytest.fixture
def site(portfolio: Runtime) -> Iterator[str]:
    with serving(portfolio) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def shot(page: object, name: str) -> None:
    folder = os.environ.get("CONTRACTFLOW_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)  # type: ignore[attr-defined]


def sign_in(page: object, site: str, user: str, password: str = PASSWORD) -> None:
    page.goto(f"{site}/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", user)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]


def test_a_reviewer_signs_in_opens_a_contract_and_approves_it(page, site: str) -> None:  # type: ignore[no-untyped-def]
    expect = playwright_api.expect
    sign_in(page, site, "lena")
    expect(page).to_have_url(f"{site}/inbox")
    rows = page.locator("#inbox tbody tr")
    expect(rows).to_have_count(4)
    shot(page, "inbox.png")
    page.click("text=SC-2026-0042")
    expect(page.locator("#stage")).to_have_text("legal_review")
    expect(page.locator("#flags")).to_be_visible()
    shot(page, "contract.png")
    page.fill("textarea[name=comment]", "Terms checked; guarantee is adequate.")
    page.click("button:has-text('Approve')")
    expect(page.locator(".flash")).to_contain_text("now in stage")
    expect(page.locator("#stage")).not_to_have_text("legal_review")
    expect(page.locator("#history")).to_contain_text("Terms checked; guarantee is adequate.")
    page.click("text=Inbox")
    expect(rows).to_have_count(3)


def test_a_reviewer_rejects_with_a_reason_and_the_contract_goes_back_to_drafting(  # type: ignore[no-untyped-def]
    page, site: str
) -> None:
    expect = playwright_api.expect
    sign_in(page, site, "lena")
    page.click("text=SC-2026-0051")
    page.click("button:has-text('Reject')")  # no comment: refused, nothing changes
    expect(page.locator(".flash")).to_contain_text("comment")
    expect(page.locator("#stage")).to_have_text("legal_review")
    page.fill("textarea[name=comment]", "The counterparty's rating needs a guarantee.")
    page.click("button:has-text('Reject')")
    expect(page.locator("#stage")).to_have_text("drafting")
    expect(page.locator("#history")).to_contain_text("needs a guarantee")


def test_a_wrong_password_keeps_the_visitor_on_the_sign_in_page(page, site: str) -> None:  # type: ignore[no-untyped-def]
    expect = playwright_api.expect
    sign_in(page, site, "lena", "not-the-password")
    expect(page).to_have_url(f"{site}/login")
    expect(page.locator(".error")).to_have_text("Wrong user name or password.")
    page.goto(f"{site}/inbox")
    expect(page).to_have_url(f"{site}/login?next=%2Finbox")


def test_the_manager_sees_the_dashboard_charts(page, site: str) -> None:  # type: ignore[no-untyped-def]
    expect = playwright_api.expect
    sign_in(page, site, "maria")
    page.click("text=Dashboard")
    expect(page.locator("svg.chart")).to_have_count(4)
    expect(page.locator("#by-stage")).to_contain_text("legal review")
    shot(page, "dashboard.png")


def test_an_admin_deactivates_a_reviewer_and_the_reviewers_open_browser_is_signed_out(  # type: ignore[no-untyped-def]
    browser, site: str
) -> None:
    expect = playwright_api.expect
    reviewer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        sign_in(reviewer, site, "lena")
        expect(reviewer).to_have_url(f"{site}/inbox")
        sign_in(admin, site, "root")
        admin.goto(f"{site}/admin/users")
        admin.click("button[data-user=lena]")
        expect(admin.locator(".flash")).to_contain_text("lena is deactivated")
        expect(admin.locator("button[data-user=lena]")).to_have_text("Reactivate")
        reviewer.reload()
        expect(reviewer).to_have_url(f"{site}/login?next=%2Finbox")
        sign_in(reviewer, site, "lena")  # the right password no longer opens anything
        expect(reviewer.locator("p.error")).to_have_text("Wrong user name or password.")
        expect(reviewer).to_have_url(f"{site}/login")
        admin.goto(f"{site}/admin/log")
        expect(admin.locator("table")).to_contain_text("user_deactivated")
    finally:
        reviewer.context.close()
        admin.context.close()
