"""The dashboard's figures are kept a few seconds while no event is applied (issue 13,
api.web.pages.dashboard_data): a second look reads one position instead of every aggregate, and
any event recorded in between (a payment here) shows on the next look."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from application.authorization import Role
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi
from tests.e2e.test_api_payments import pay
from tests.e2e.web.conftest import WebLogin
from tests.e2e.web.test_arrears import invoiced

__all__ = ["invoiced"]  # the fixture, used by name below


@contextmanager
def counted(container: Container) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(container.engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(container.engine, "before_cursor_execute", seen)


def test_the_figures_are_kept_until_an_event_is_applied(
    invoiced: LedgerApi, web_login: WebLogin, container: Container
) -> None:
    clerk = web_login(Role.CLERK)
    first = clerk.get("/ui/").text
    assert "已收 0.00 元 / 应收 6,382.80 元" in first
    with counted(container) as again:
        assert clerk.get("/ui/").text == first
    with counted(container) as computed:
        assert pay(invoiced, "127.60", "R-0001").status_code == 201
    assert computed  # the payment was projected
    with counted(container) as after_payment:
        html = clerk.get("/ui/").text
    assert "已收 127.60 元 / 应收 6,382.80 元" in html  # the payment moved the position: computed again
    assert len(again) + 8 <= len(after_payment), (len(again), len(after_payment))


def test_each_role_and_language_has_its_own_figures(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk, auditor = web_login(Role.CLERK), web_login(Role.AUDITOR)
    assert "收缴率" in clerk.get("/ui/").text
    assert "Billing progress (prepayment)" in clerk.get("/ui/?lang=en").text
    auditor_page = auditor.get("/ui/").text
    assert "收缴率" in auditor_page and 'href="/ui/dunning?status=dead"' not in auditor_page
    assert 'href="/ui/dunning?status=dead"' in clerk.get("/ui/?lang=zh").text
