"""Fixtures of the web UI's tests: staff accounts per role, logged in through the real login form.

``web_login(role)`` creates an account of that role through ``application.staff_accounts`` and
returns a test client (over https, as the session cookie is Secure outside development) that
logged in by posting the login form; ``client.csrf_token`` is its session's CSRF token, and
``client.post_form(url, data)`` posts a form with it. Each call makes a new account and client:
two clerks are two calls (``web_login(Role.CLERK, username="clerk-2")``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from application.authorization import SYSTEM, Role
from infrastructure.container import Container

BASE_URL = "https://testserver"
PASSWORD = "correct-horse-battery"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_field(html: str) -> str:
    """The value of the first ``csrf_token`` hidden field of a page."""
    found = _CSRF_FIELD.search(html)
    assert found is not None, "the page has no csrf_token field"
    return found.group(1)


class WebClient(TestClient):
    """A browser-like test client of the web UI; ``csrf_token`` is set once it has logged in."""

    csrf_token: str = ""
    username: str = ""

    def post_form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with the session's CSRF token (as the page's hidden field would)."""
        return self.post(url, data={"csrf_token": self.csrf_token, **(data or {})}, **kwargs)

    def log_in(self, username: str, password: str, next_path: str = "/ui/") -> Any:
        """Fill and post the login form as a person would; the response is not followed."""
        token = csrf_field(self.get("/ui/login").text)
        form = {"username": username, "password": password, "csrf_token": token, "next": next_path}
        return self.post("/ui/login", data=form, follow_redirects=False)


WebLogin = Callable[..., WebClient]


@pytest.fixture
def web_client(app: FastAPI) -> Iterator[Callable[[], WebClient]]:
    """New web clients (not logged in) of the app, closed after the test."""
    clients: list[WebClient] = []

    def make() -> WebClient:
        client = WebClient(app, base_url=BASE_URL)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def web_login(container: Container, web_client: Callable[[], WebClient]) -> WebLogin:
    """``web_login(role, username=None, password=PASSWORD, language=None)``: a logged-in client."""

    def log_in(
        role: Role, username: str | None = None, password: str = PASSWORD, language: str | None = None
    ) -> WebClient:
        name = username or f"web-{role.value.replace('_', '-')}"
        container.staff_accounts.create(SYSTEM, name, role, password)
        client = web_client()
        if language is not None:
            client.cookies.set("hl_lang", language)
        response = client.log_in(name, password)
        assert response.status_code == 303, response.text
        client.csrf_token = csrf_field(client.get("/ui/").text)
        client.username = name
        return client

    return log_in
