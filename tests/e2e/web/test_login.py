"""Logging in to the web UI (issue 13): the form, sessions and their cookie, lock-out, rate limit,
logout, idle timeout and lifetime, password change, CSRF refusals, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from freezegun import freeze_time

from application.authorization import SYSTEM, Role
from infrastructure.container import Container
from infrastructure.web_sessions import web_sessions
from tests.e2e.conftest import NOW
from tests.e2e.web.conftest import PASSWORD, WebClient, WebLogin, csrf_field

Clients = Callable[[], WebClient]


def make_account(container: Container, username: str = "zhang.wei", role: Role = Role.CLERK) -> str:
    container.staff_accounts.create(SYSTEM, username, role, PASSWORD)
    return username


def test_a_page_without_a_session_sends_the_browser_to_the_login_form(web_client: Clients) -> None:
    client = web_client()
    response = client.get("/ui/?page=2", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=/ui/%3Fpage%3D2"
    htmx = client.get("/ui/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"] == "/ui/login?next=/ui/"
    assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"


def test_logging_in_opens_a_session_with_a_safe_cookie(container: Container, web_client: Clients) -> None:
    client = web_client()
    username = make_account(container)
    page = client.get("/ui/login")
    assert page.status_code == 200
    assert '<label for="username">用户名</label>' in page.text
    response = client.log_in(username, PASSWORD, next_path="/ui/account/password")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/account/password"
    cookie = next(value for name, value in response.headers.multi_items() if value.startswith("hl_session="))
    token = cookie.split(";")[0].removeprefix("hl_session=")
    flags = {flag.strip().lower() for flag in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
    dashboard = client.get("/ui/")
    assert dashboard.status_code == 200
    assert "zhang.wei · 收费员" in dashboard.text
    assert "仪表盘" in dashboard.text
    with container.engine.connect() as connection:
        rows = connection.execute(web_sessions.select()).all()
    assert len(rows) == 1
    assert rows[0].username == "zhang.wei" and rows[0].role == "clerk"
    assert token not in {rows[0].token_hash, rows[0].csrf_token}  # the token itself is never stored


def test_the_session_cookie_is_not_secure_in_development(container: Container, web_client: Clients) -> None:
    container.settings.session_cookie_secure = False
    client = web_client()
    response = client.log_in(make_account(container), PASSWORD)
    cookie = response.headers["set-cookie"]
    assert "secure" not in cookie.lower()


def test_a_wrong_password_or_an_unknown_username_is_refused_alike(container: Container, web_client: Clients) -> None:
    client = web_client()
    username = make_account(container)
    wrong = client.log_in(username, "not-the-password")
    unknown = client.log_in("nobody", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "用户名或密码错误。" in response.text
        assert "hl_session" not in response.headers.get("set-cookie", "")
    assert 'value="nobody"' in unknown.text  # the username is kept in the form, the password never
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_next_never_leads_off_the_site(container: Container, web_client: Clients) -> None:
    username = make_account(container)
    for next_path in ("//evil.example/ui", "https://evil.example/", "/\\evil.example", "/households"):
        client = web_client()
        assert client.log_in(username, PASSWORD, next_path=next_path).headers["location"] == "/ui/"


def test_a_username_locks_after_the_limit_and_an_administrator_unlocks_it(
    container: Container, web_client: Clients
) -> None:
    client = web_client()
    username = make_account(container)
    statuses = [client.log_in(username, f"wrong-password-{attempt}").status_code for attempt in range(4)]
    assert statuses == [401] * 4
    fifth = client.log_in(username, "wrong-password-5")
    assert fifth.status_code == 429
    assert "账号已锁定" in fifth.text
    locked = client.log_in(username, PASSWORD)  # the right password does not open a locked account
    assert locked.status_code == 429
    assert "账号已锁定" in locked.text
    container.staff_accounts.unlock(SYSTEM, username, "called the service desk")
    assert client.log_in(username, PASSWORD).status_code == 303


def test_a_lock_out_ends_by_itself_after_its_time(container: Container, web_client: Clients) -> None:
    client = web_client()
    with freeze_time(NOW, real_asyncio=True) as clock:
        username = make_account(container)
        for attempt in range(5):
            client.log_in(username, f"wrong-password-{attempt}")
        clock.tick(timedelta(minutes=14))
        assert client.log_in(username, PASSWORD).status_code == 429
        clock.tick(timedelta(minutes=2))
        assert client.log_in(username, PASSWORD).status_code == 303


def test_a_successful_login_restarts_the_count(container: Container, web_client: Clients) -> None:
    client = web_client()
    username = make_account(container)
    for attempt in range(4):
        client.log_in(username, f"wrong-password-{attempt}")
    assert client.log_in(username, PASSWORD).status_code == 303
    other = web_client()
    assert [other.log_in(username, f"wrong-again-{attempt}").status_code for attempt in range(4)] == [401] * 4


def test_an_address_with_too_many_failures_is_refused_even_the_right_password(
    container: Container, web_client: Clients
) -> None:
    client = web_client()
    username = make_account(container)
    limit = container.settings.login_address_max_failures
    for attempt in range(limit):  # many usernames: no lock-out of one name comes first
        assert client.log_in(f"guess-{attempt}", "wrong-password").status_code in (401, 429)
    refused = client.log_in(username, PASSWORD)
    assert refused.status_code == 429
    assert "来自本地址的登录失败次数过多" in refused.text


def test_a_disabled_account_cannot_log_in_and_loses_its_sessions(
    container: Container, web_login: WebLogin, web_client: Clients
) -> None:
    client = web_login(Role.CUSTOMER_SERVICE, username="li.na")
    container.staff_accounts.disable(SYSTEM, "li.na", "left the company")
    assert client.get("/ui/", follow_redirects=False).status_code == 303
    refused = web_client().log_in("li.na", PASSWORD)
    assert refused.status_code == 403
    assert "该账号已停用" in refused.text


def test_logging_out_revokes_the_session(web_login: WebLogin, web_client: Clients) -> None:
    client = web_login(Role.AUDITOR)
    token = client.cookies["hl_session"]
    response = client.post_form("/ui/logout", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login"
    stolen = web_client()
    stolen.cookies.set("hl_session", token)
    assert stolen.get("/ui/", follow_redirects=False).status_code == 303


def test_a_post_without_the_csrf_token_is_refused(web_login: WebLogin) -> None:
    client = web_login(Role.CLERK)
    for response in (
        client.post("/ui/logout", follow_redirects=False),
        client.post("/ui/logout", data={"csrf_token": "forged"}, follow_redirects=False),
        client.post("/ui/logout", headers={"X-CSRF-Token": "forged"}, follow_redirects=False),
    ):
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert "页面已过期或请求来源不明，未执行任何操作" in response.text
    assert client.get("/ui/").status_code == 200  # still logged in: nothing was done
    htmx = client.post("/ui/logout", headers={"X-CSRF-Token": client.csrf_token}, follow_redirects=False)
    assert htmx.status_code == 303


def test_the_login_form_has_its_own_csrf_token(container: Container, web_client: Clients) -> None:
    client = web_client()
    username = make_account(container)
    form = {"username": username, "password": PASSWORD, "csrf_token": "forged", "next": "/ui/"}
    response = client.post("/ui/login", data=form, follow_redirects=False)
    assert response.status_code == 403
    assert "登录表单已过期" in response.text


def test_a_session_ends_after_the_idle_timeout(container: Container, web_client: Clients) -> None:
    client = web_client()
    with freeze_time(NOW, real_asyncio=True) as clock:
        client.log_in(make_account(container), PASSWORD)
        clock.tick(timedelta(minutes=29))
        assert client.get("/ui/").status_code == 200  # seen: the idle time starts again
        clock.tick(timedelta(minutes=29))
        assert client.get("/ui/").status_code == 200
        clock.tick(timedelta(minutes=31))
        assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_a_session_ends_after_its_lifetime_however_busy(container: Container, web_client: Clients) -> None:
    client = web_client()
    with freeze_time(NOW, real_asyncio=True) as clock:
        client.log_in(make_account(container), PASSWORD)
        for _ in range(12 * 3 - 1):
            clock.tick(timedelta(minutes=20))
            assert client.get("/ui/", follow_redirects=False).status_code == 200
        clock.tick(timedelta(minutes=20))
        assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    container: Container, web_login: WebLogin, web_client: Clients
) -> None:
    client = web_login(Role.CLERK, username="wu.gang")
    elsewhere = web_client()
    assert elsewhere.log_in("wu.gang", PASSWORD).status_code == 303
    page = client.get("/ui/account/password")
    assert '<label for="current_password">当前密码</label>' in page.text
    form = {
        "current_password": "not-it-at-all",
        "new_password": "a-new-password",
        "new_password_again": "a-new-password",
    }
    wrong = client.post_form("/ui/account/password", form)
    assert wrong.status_code == 422
    assert "当前密码不正确。" in wrong.text
    mismatch = client.post_form(
        "/ui/account/password",
        {"current_password": PASSWORD, "new_password": "a-new-password", "new_password_again": "another-one-1"},
    )
    assert "两次输入的新密码不一致。" in mismatch.text
    short = client.post_form(
        "/ui/account/password", {"current_password": PASSWORD, "new_password": "short", "new_password_again": "short"}
    )
    assert "密码须为 10 至 256 个字符。" in short.text
    changed = client.post_form(
        "/ui/account/password",
        {"current_password": PASSWORD, "new_password": "a-new-password", "new_password_again": "a-new-password"},
    )
    assert changed.status_code == 200
    assert "密码已修改。" in changed.text
    assert client.get("/ui/").status_code == 200
    assert elsewhere.get("/ui/", follow_redirects=False).status_code == 303
    assert web_client().log_in("wu.gang", PASSWORD).status_code == 401
    assert web_client().log_in("wu.gang", "a-new-password").status_code == 303


def test_the_language_switch_is_remembered(container: Container, web_client: Clients) -> None:
    client = web_client()
    english = client.get("/ui/login?lang=en")
    assert "<h1>Log in</h1>" in english.text
    assert "hl_lang=en" in english.headers["set-cookie"]
    assert "<h1>Log in</h1>" in client.get("/ui/login").text
    assert "<h1>登录</h1>" in client.get("/ui/login?lang=zh").text
    refused = client.log_in(make_account(container), "wrong-password")
    assert "Wrong username or password." not in refused.text  # zh is remembered now
    assert "用户名或密码错误。" in refused.text


def test_errors_on_pages_are_html_and_the_api_keeps_its_problems(web_login: WebLogin) -> None:
    client = web_login(Role.CLERK)
    page = client.get("/ui/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "页面不存在。" in page.text
    api = client.get("/households")
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/static/app.css", "/static/app.js", "/static/vendor/htmx.min.js"])
def test_static_files_are_cached(web_client: Clients, path: str) -> None:
    response = web_client().get(path)
    assert response.status_code == 200
    week = "public, max-age=604800"
    assert response.headers["cache-control"] == (week if "/vendor/" in path else "public, max-age=3600")


def test_the_page_links_its_own_files_with_a_version(web_client: Clients) -> None:
    page = web_client().get("/ui/login").text
    assert "/static/app.css?v=" in page and "/static/app.js?v=" in page
    assert 'src="/static/vendor/htmx.min.js"' in page
    assert csrf_field(page)
