"""In a real browser, offline but for the app: the API's documentation pages, logging in, lock-out.

Every page here runs with requests to any other host aborted (the browser_page fixture fails the
test if one was even tried), which is how a utility's filtered network treats a CDN.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from api.i18n import Language, text
from tests.e2e.browser.conftest import LOCKOUT_ACCOUNT, LiveServer, PageWatch

# ReDoc lays out every operation before it shows one: 10 s on a quiet machine, 26 s seen under load.
RENDER_TIMEOUT_MS = 90_000
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def _message(key: str) -> str:
    """The Chinese text of a message up to its first parameter (the part a page shows verbatim)."""
    template = text(key, Language.ZH)
    assert template, f"no Chinese text for {key}"
    return template.split("{", 1)[0].strip()


def _operation_ids(page: Page) -> list[str]:
    """Every operation of the app's OpenAPI document, as the page's own origin serves it."""
    document = page.request.get("/openapi.json").json()
    return [
        operation["operationId"]
        for path in document["paths"].values()
        for method, operation in path.items()
        if method in HTTP_METHODS
    ]


def test_swagger_ui_renders_the_operations_from_the_apps_own_files(
    browser_page: Page, page_watch: PageWatch, screenshot: Callable[..., Path]
) -> None:
    page = browser_page
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(urlsplit(request.url).path))

    page.goto("/docs")

    expect(page.locator(".opblock").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    # Swagger UI draws only the operations near the viewport; its state holds the whole document.
    assert page.evaluate("ui.specSelectors.operations().size") == len(_operation_ids(page))
    assert page.evaluate("ui.errSelectors.allErrors().size") == 0
    expect(page.locator(".information-container .title")).to_contain_text("Heat Ledger")
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    assert {"/static/vendor/swagger-ui/swagger-ui-bundle.js", "/openapi.json"} <= set(loaded)
    assert page_watch.blocked_requests == []
    screenshot("api-docs")


def test_redoc_renders_the_operations_from_the_apps_own_files(
    browser_page: Page, page_watch: PageWatch, screenshot: Callable[..., Path]
) -> None:
    page = browser_page

    page.goto("/redoc")

    sections = page.locator("[data-section-id^='operation/']")
    expect(sections.first).to_be_attached(timeout=RENDER_TIMEOUT_MS)
    # An operation under two tags is drawn under each: compare the operations, not the sections.
    drawn = set(sections.evaluate_all("sections => sections.map(section => section.dataset.sectionId)"))
    assert drawn == {f"operation/{operation_id}" for operation_id in _operation_ids(page)}
    expect(page.locator("h1").first).to_contain_text("Heat Ledger")
    expect(page.locator("[data-section-id='operation/register_household']")).to_be_attached()
    assert page_watch.blocked_requests == []
    # ReDoc's sidebar shows its maker's logo from a CDN: the page's policy stops it in the browser.
    assert len(page_watch.refused_by_policy) == 1 and "cdn.redoc.ly" in page_watch.refused_by_policy[0]
    page_watch.refused_by_policy.clear()
    screenshot("api-redoc")


def test_a_clerk_logs_in_through_the_form_and_sees_the_dashboard(
    browser_page: Page, live_server: LiveServer, screenshot: Callable[..., Path]
) -> None:
    page = browser_page
    clerk = live_server.accounts["clerk"]

    page.goto("/")  # → /ui/ → the login form, as a first visit goes

    assert urlsplit(page.url).path == "/ui/login"
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_label(text("web.login.username", Language.ZH) or "").fill(clerk.username)
    page.get_by_label(text("web.login.password", Language.ZH) or "").fill(clerk.password)
    screenshot("login")
    page.get_by_role("button", name=text("web.login.submit", Language.ZH)).click()

    page.wait_for_url("**/ui/")
    expect(page.locator("h1")).to_have_text(text("web.dashboard.title", Language.ZH) or "")
    expect(page.locator("body")).to_contain_text(clerk.username)
    screenshot("dashboard")


def test_the_enter_key_logs_in_too(browser_page: Page, live_server: LiveServer) -> None:
    page = browser_page
    auditor = live_server.accounts["auditor"]
    page.goto("/ui/login")

    page.keyboard.type(auditor.username)  # the username field has the focus when the form opens
    page.keyboard.press("Tab")
    page.keyboard.type(auditor.password)
    page.keyboard.press("Enter")

    page.wait_for_url("**/ui/")


def test_wrong_passwords_lock_the_account_even_against_the_right_one(
    browser_page: Page, live_server: LiveServer, log_in: Callable[[Page, str], None]
) -> None:
    page = browser_page
    account = live_server.accounts[LOCKOUT_ACCOUNT]
    error = page.locator("#login-error")

    def attempt(password: str) -> None:
        page.goto("/ui/login")
        page.locator("#username").fill(account.username)
        page.locator("#password").fill(password)
        page.locator("form button[type=submit]").click()  # returns once the answer's page has loaded

    for _ in range(live_server.login_max_failures - 1):
        attempt("not-the-password")
        expect(error).to_contain_text(_message("error.login_bad_credentials"))
    attempt("not-the-password")  # the last failure the limit allows

    attempt(account.password)

    expect(error).to_contain_text(_message("error.login_locked"))
    assert urlsplit(page.url).path == "/ui/login"
    # Only that account is locked: another logs in from the same browser and address.
    log_in(page, "clerk")
