"""The administrators' page of staff accounts, /ui/admin/users (issue 13), on both backends: the list,
creating, disabling, enabling, unlocking, ending sessions and setting passwords through the page;
other roles neither see it nor may post to it; CSRF refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from application.authorization import SYSTEM, Role
from infrastructure.container import Container
from tests.e2e.web.conftest import PASSWORD, WebClient, WebLogin

Clients = Callable[[], WebClient]
NEW_PASSWORD = "set-by-the-admin-1"


def test_the_admin_sees_every_account_with_its_state(container: Container, web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN, username="admin-zhou")
    web_login(Role.CLERK, username="wang.li")
    container.staff_accounts.disable(SYSTEM, "wang.li", "left")
    page = admin.get("/ui/admin/users")
    assert page.status_code == 200
    assert '<a href="/ui/admin/users" aria-current="page">账号管理</a>' in page.text
    assert "共 2 个员工账号。" in page.text
    assert "<td>wang.li</td>" in page.text and "<td>收费员</td>" in page.text and "已停用" in page.text
    assert 'action="/ui/admin/users/wang.li/enable"' in page.text
    assert 'action="/ui/admin/users/admin-zhou/disable"' not in page.text  # not oneself
    english = admin.get("/ui/admin/users?lang=en")
    assert "2 staff accounts." in english.text and "Billing clerk" in english.text


@pytest.mark.parametrize("role", [Role.CLERK, Role.CUSTOMER_SERVICE, Role.AUDITOR, Role.REGULATOR])
def test_other_roles_do_not_see_the_page_and_are_refused_when_they_post(
    container: Container, web_login: WebLogin, role: Role
) -> None:
    client = web_login(role)
    assert "/ui/admin/users" not in client.get("/ui/").text
    page = client.get("/ui/admin/users")
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    crafted = client.post_form("/ui/admin/users", {"username": "mallory", "role": "admin", "password": PASSWORD})
    assert crafted.status_code == 403
    container.staff_accounts.create(SYSTEM, "li.na", Role.CLERK, PASSWORD)
    assert client.post_form("/ui/admin/users/li.na/disable").status_code == 403
    assert client.post_form("/ui/admin/users/li.na/password", {"password": NEW_PASSWORD}).status_code == 403
    assert [view.username for view in container.staff_accounts.list(SYSTEM) if view.disabled] == []
    assert "mallory" not in {view.username for view in container.staff_accounts.list(SYSTEM)}


def test_an_account_created_on_the_page_logs_in(web_login: WebLogin, web_client: Clients) -> None:
    admin = web_login(Role.ADMIN)
    created = admin.post_form(
        "/ui/admin/users", {"username": "Zhao.Min", "role": "auditor", "password": PASSWORD}, follow_redirects=False
    )
    assert created.status_code == 303
    shown = admin.get(created.headers["location"])
    assert "账号 zhao.min 已创建。" in shown.text
    assert "<td>zhao.min</td>" in shown.text and "<td>审计员</td>" in shown.text
    assert web_client().log_in("zhao.min", PASSWORD).status_code == 303


def test_the_create_form_shows_what_is_wrong_beside_its_field(web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN, username="admin-zhou")
    short = admin.post_form("/ui/admin/users", {"username": "wu.gang", "role": "clerk", "password": "short"})
    assert short.status_code == 422
    assert 'id="new-password-error">密码须为 10 至 256 个字符。' in short.text
    assert 'value="wu.gang"' in short.text
    taken = admin.post_form("/ui/admin/users", {"username": "ADMIN-ZHOU", "role": "clerk", "password": PASSWORD})
    assert taken.status_code == 409
    assert "用户名 admin-zhou 已被使用。" in taken.text
    device = admin.post_form("/ui/admin/users", {"username": "gw-1", "role": "device", "password": PASSWORD})
    assert device.status_code == 422
    assert "员工账号不能使用角色 device" in device.text


def test_disabling_ends_the_sessions_and_enabling_lets_the_account_back(
    web_login: WebLogin, web_client: Clients
) -> None:
    admin = web_login(Role.ADMIN)
    clerk = web_login(Role.CLERK, username="wang.li")
    assert "强制下线" in admin.get("/ui/admin/users").text
    disabled = admin.post_form("/ui/admin/users/wang.li/disable", {"reason": "left"}, follow_redirects=False)
    assert disabled.status_code == 303
    assert clerk.get("/ui/", follow_redirects=False).status_code == 303
    assert web_client().log_in("wang.li", PASSWORD).status_code == 403
    assert admin.post_form("/ui/admin/users/wang.li/enable", follow_redirects=False).status_code == 303
    assert web_client().log_in("wang.li", PASSWORD).status_code == 303


def test_an_admin_cannot_disable_themselves_even_by_posting(web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN, username="admin-zhou")
    refused = admin.post_form("/ui/admin/users/admin-zhou/disable")
    assert refused.status_code == 409
    assert "不能停用自己的账号。" in refused.text
    assert admin.get("/ui/admin/users").status_code == 200


def test_unlocking_ending_sessions_and_setting_a_password(
    container: Container, web_login: WebLogin, web_client: Clients
) -> None:
    admin = web_login(Role.ADMIN)
    clerk = web_login(Role.CLERK, username="wang.li")
    guesser = web_client()
    for attempt in range(5):
        guesser.log_in("wang.li", f"wrong-password-{attempt}")
    page = admin.get("/ui/admin/users").text
    assert 'action="/ui/admin/users/wang.li/unlock"' in page
    assert admin.post_form("/ui/admin/users/wang.li/unlock", follow_redirects=False).status_code == 303
    assert web_client().log_in("wang.li", PASSWORD).status_code == 303
    ended = admin.post_form("/ui/admin/users/wang.li/revoke-sessions")
    assert "账号 wang.li 的会话已全部结束。" in ended.text
    assert clerk.get("/ui/", follow_redirects=False).status_code == 303
    short = admin.post_form("/ui/admin/users/wang.li/password", {"password": "short"})
    assert short.status_code == 422 and "密码须为 10 至 256 个字符。" in short.text
    set_now = admin.post_form("/ui/admin/users/wang.li/password", {"password": NEW_PASSWORD})
    assert "已为 wang.li 设置新密码" in set_now.text
    assert web_client().log_in("wang.li", NEW_PASSWORD).status_code == 303
    missing = admin.post_form("/ui/admin/users/nobody/unlock")
    assert missing.status_code == 404 and "没有用户名为 nobody 的员工账号。" in missing.text


def test_the_page_refuses_a_post_without_the_csrf_token(container: Container, web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN)
    forged = admin.post("/ui/admin/users", data={"username": "mallory", "role": "admin", "password": PASSWORD})
    assert forged.status_code == 403
    assert "mallory" not in {view.username for view in container.staff_accounts.list(SYSTEM)}
