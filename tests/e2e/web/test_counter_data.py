"""The counter pages' data (api/web/pages/counter_data.py) on both backends: a household at the
counter, a payment taken from the form once however often it is sent, its receipt, reversals, the
day journal with its lines, refunds through a second person, online orders; refusals as form
errors in Chinese and English, nothing booked when a form is refused.

WZ-0001 is invoiced 2127.60 元 for the 2025-2026 season on 10 December 2025 (the frozen day).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from api.messages import Language
from api.web.pages import counter_data as data
from application.authorization import Principal, Role
from domain.errors import NotFoundError, PermissionDeniedError
from domain.payment import PaymentChannel, RefundStatus
from infrastructure.container import Container
from infrastructure.online_payments import OrderStatus
from projections.queries import HouseholdRecord
from tests.e2e.conftest import NOW, TODAY, LedgerApi
from tests.e2e.test_api_payments import invoiced

__all__ = ["invoiced"]  # the fixture, used by name

CLERK = Principal("web-clerk", Role.CLERK)
SECOND_CLERK = Principal("web-clerk-2", Role.CLERK)
AUDITOR = Principal("web-auditor", Role.AUDITOR)
REGULATOR = Principal("web-regulator", Role.REGULATOR)
CUSTOMER_SERVICE = Principal("web-service", Role.CUSTOMER_SERVICE)
ZH, EN = Language.ZH, Language.EN


@contextmanager
def minutes_later(minutes: int) -> Iterator[None]:
    """The clock a few minutes after NOW: payments are received, and allocated, in that order."""
    with freeze_time(NOW + timedelta(minutes=minutes), real_asyncio=True):
        yield


def household(container: Container) -> HouseholdRecord:
    record = data.find_household(container, " WZ-0001 ")
    assert record is not None
    return record


def payment_form(amount: str, receipt: str, **changes: str) -> dict[str, str]:
    """The payment form as a browser posts it: every field, blanks for what the clerk left empty."""
    return {"amount_yuan": amount, "channel": "cash", "receipt_number": receipt, "bill_id": "", "reason": "", **changes}


def take(container: Container, amount: str, receipt: str, principal: Principal = CLERK, **changes: str) -> UUID:
    outcome = data.take_payment(container, principal, "WZ-0001", payment_form(amount, receipt, **changes), ZH)
    assert not isinstance(outcome, data.Refused), outcome
    assert outcome.recorded
    return outcome.payment_id


def test_a_household_at_the_counter_shows_what_it_owes_and_the_bill_to_name(
    invoiced: LedgerApi, container: Container
) -> None:
    panel = data.household_panel(container, CLERK, household(container))
    assert (panel.account_number, panel.balance.balance_yuan, panel.open_yuan) == (
        "WZ-0001",
        Decimal("2127.60"),
        Decimal("2127.60"),
    )
    assert panel.address == data.Address("碧桂园", "1", "1", 1, "101")
    [choice] = panel.bill_choices
    assert (choice.charge.kind, choice.charge.open_yuan) == ("prepayment", Decimal("2127.60"))
    assert choice.bill_number  # the payer names the bill by its number
    assert (panel.recent_payments, panel.payments_total, panel.account.credit_yuan) == ([], 0, Decimal("0.00"))
    # Auditors' reads of a flat are logged elsewhere, regulators never see it: both see the building only.
    for reader in (AUDITOR, REGULATOR):
        masked = data.household_panel(container, reader, household(container)).address
        assert (masked.community, masked.building, masked.masked, masked.flat) == ("碧桂园", "1", True, None)
    assert data.find_household(container, "WZ-9999") is None and data.find_household(container, "  ") is None


def test_a_payment_moves_the_balance_and_the_same_form_sent_twice_books_once(
    invoiced: LedgerApi, container: Container
) -> None:
    receipt_number = data.suggested_receipt_number(TODAY)
    form = payment_form("1000", receipt_number)
    first = data.take_payment(container, CLERK, "WZ-0001", form, ZH)
    again = data.take_payment(container, CLERK, "WZ-0001", form, ZH)  # a double click
    assert not isinstance(first, data.Refused) and not isinstance(again, data.Refused)
    assert (first.recorded, again.recorded, again.payment_id) == (True, False, first.payment_id)
    panel = data.household_panel(container, CLERK, household(container))
    assert (panel.balance.balance_yuan, panel.open_yuan, panel.payments_total) == (
        Decimal("1127.60"),
        Decimal("1127.60"),
        1,
    )
    assert [(payment.reference, payment.actor) for payment in panel.recent_payments] == [(receipt_number, "web-clerk")]


@pytest.mark.parametrize(
    ("changes", "field", "chinese", "english"),
    [
        ({"amount_yuan": "0"}, "amount_yuan", "必须大于 0", "must be positive"),
        ({"amount_yuan": "12.345"}, "amount_yuan", "最多两位小数", "at most two decimals"),
        ({"amount_yuan": "十元"}, "amount_yuan", "", ""),
        ({"amount_yuan": ""}, "amount_yuan", "", ""),
        ({"channel": "online"}, "", "线上支付", "online payments"),
        ({"receipt_number": ""}, "receipt_number", "", ""),
        ({"bill_id": "not-a-bill"}, "bill_id", "", ""),
    ],
)
def test_a_refused_payment_form_books_nothing_and_says_why_in_both_languages(
    invoiced: LedgerApi, container: Container, changes: dict[str, str], field: str, chinese: str, english: str
) -> None:
    messages = {}
    for language in (ZH, EN):
        outcome = data.take_payment(container, CLERK, "WZ-0001", payment_form("100", "R-BAD", **changes), language)
        assert isinstance(outcome, data.Refused)
        assert outcome.status_code == 422
        errors = outcome.errors
        messages[language] = errors.fields[field] if field else " ".join(errors.general)
        assert messages[language]
    assert chinese in messages[ZH] and english in messages[EN]
    assert re.search(r"[\u4e00-\u9fff]", messages[ZH]) and re.search(r"[A-Za-z]{4}", messages[EN])
    assert messages[ZH] != messages[EN]
    assert data.household_panel(container, CLERK, household(container)).payments_total == 0


def test_a_receipt_number_used_for_another_amount_is_a_conflict(invoiced: LedgerApi, container: Container) -> None:
    take(container, "100", "R-0001")
    outcome = data.take_payment(container, CLERK, "WZ-0001", payment_form("200", "R-0001"), EN)
    assert isinstance(outcome, data.Refused) and outcome.status_code == 409
    assert "R-0001" in " ".join(outcome.errors.general)


def test_who_may_not_take_payments_is_refused_by_the_service(invoiced: LedgerApi, container: Container) -> None:
    for principal in (AUDITOR, REGULATOR, CUSTOMER_SERVICE):
        with pytest.raises(PermissionDeniedError):
            data.take_payment(container, principal, "WZ-0001", payment_form("100", f"R-{principal.name}"), ZH)
    with pytest.raises(NotFoundError):
        data.take_payment(container, CLERK, "WZ-9999", payment_form("100", "R-0002"), ZH)
    assert data.household_panel(container, CLERK, household(container)).payments_total == 0


def test_the_receipt_prints_the_amount_in_capitals_and_what_it_settles(
    invoiced: LedgerApi, container: Container
) -> None:
    payment_id = take(container, "2500", "R-0001", channel="card")
    printed = data.receipt(container, CLERK, payment_id)
    assert (printed.amount_in_capitals, printed.utility_name) == ("贰仟伍佰元整", container.settings.utility_name)
    assert (printed.payment.reference, printed.payment.channel, printed.payment.actor) == (
        "R-0001",
        "card",
        "web-clerk",
    )
    assert [(line.charge_kind, line.amount_yuan) for line in printed.allocations] == [("bill", Decimal("2127.60"))]
    assert printed.allocations[0].bill_number
    assert (printed.payment.credit_yuan, printed.reversed, printed.address.flat) == (Decimal("372.40"), False, "101")
    assert data.receipt(container, AUDITOR, payment_id).address.masked
    with pytest.raises(NotFoundError):
        data.receipt(container, CLERK, uuid4())


def test_a_reversal_needs_a_reason_happens_once_and_shows_on_the_receipt(
    invoiced: LedgerApi, container: Container
) -> None:
    payment_id = take(container, "500", "R-0001", channel="bank_transfer")
    no_reason = data.reverse_payment(container, CLERK, payment_id, {"kind": "bounced", "reason": " "}, EN)
    assert isinstance(no_reason, data.Refused) and "reason" in no_reason.errors.fields
    assert data.reverse_payment(container, CLERK, payment_id, {"kind": "bounced", "reason": "退票"}, ZH) is None
    twice = data.reverse_payment(container, CLERK, payment_id, {"kind": "error", "reason": "again"}, ZH)
    assert isinstance(twice, data.Refused) and twice.status_code == 409 and "已经冲正" in twice.errors.general[0]
    printed = data.receipt(container, CLERK, payment_id)
    assert (printed.reversed, printed.payment.reversal_kind, printed.allocations) == (True, "bounced", [])
    assert data.household_panel(container, CLERK, household(container)).balance.balance_yuan == Decimal("2127.60")
    with pytest.raises(PermissionDeniedError):
        data.reverse_payment(container, AUDITOR, payment_id, {"kind": "error", "reason": "x"}, ZH)


def test_the_day_journal_totals_per_clerk_and_channel_and_lists_the_lines(
    invoiced: LedgerApi, container: Container
) -> None:
    plan: list[tuple[Principal, str, str]] = [
        (CLERK, "100", "cash"),
        (CLERK, "200", "card"),
        (SECOND_CLERK, "300", "cash"),
        (CLERK, "50", "cash"),
    ]
    ids = []
    for minutes, (principal, amount, channel) in enumerate(plan):
        with minutes_later(minutes):
            ids.append(take(container, amount, f"R-{minutes}", principal, channel=channel))
    assert data.reverse_payment(container, CLERK, ids[3], {"kind": "error", "reason": "wrong household"}, ZH) is None
    journal = data.day_journal(container, AUDITOR, None, None, None, 1)
    assert journal.day == TODAY
    rows = [(row.channel, row.actor, row.payments, row.net_yuan) for row in journal.rows]
    assert rows == [
        ("card", "web-clerk", 1, Decimal("200.00")),
        ("cash", "web-clerk", 2, Decimal("100.00")),
        ("cash", "web-clerk-2", 1, Decimal("300.00")),
    ]
    assert journal.by_channel["cash"] == data.JournalTotals(
        3, Decimal("450.00"), 1, Decimal("50.00"), Decimal("400.00")
    )
    assert journal.totals == data.JournalTotals(4, Decimal("650.00"), 1, Decimal("50.00"), Decimal("600.00"))
    assert [line.reference for line in journal.lines.items] == ["R-0", "R-1", "R-2", "R-3"]
    mine = data.day_journal(container, CLERK, TODAY, PaymentChannel.CASH, " web-clerk ", 1)
    assert (mine.clerk, mine.channel, [line.amount_yuan for line in mine.lines.items]) == (
        "web-clerk",
        "cash",
        [Decimal("100.00"), Decimal("50.00")],
    )
    assert data.day_journal(container, CLERK, date(2025, 12, 9), None, None, 1).rows == []


def test_a_refund_is_approved_by_a_second_person_only(invoiced: LedgerApi, container: Container) -> None:
    take(container, "2500", "R-0001")  # 372.40 of credit
    form = {"request_number": "RF-1", "amount_yuan": "400", "reason": "moving away"}
    too_much = data.request_refund(container, CLERK, "WZ-0001", form, EN)
    assert isinstance(too_much, data.Refused) and "372.40" in too_much.errors.fields["amount_yuan"]
    asked = data.request_refund(container, CLERK, "WZ-0001", {**form, "amount_yuan": "372.40"}, ZH)
    assert not isinstance(asked, data.Refused) and asked.status == "requested"
    [waiting] = data.refunds(container, CLERK, RefundStatus.REQUESTED, None, 1).items
    assert (waiting.requested_by, waiting.amount_yuan) == ("web-clerk", Decimal("372.40"))
    # The page offers the decision to a second clerk only; the service refuses the requester anyway.
    assert (data.may_decide(CLERK, waiting), data.may_decide(SECOND_CLERK, waiting)) == (False, True)
    assert not data.may_decide(AUDITOR, waiting)
    with pytest.raises(PermissionDeniedError):
        data.decide_refund(container, CLERK, asked.refund_id, True, {"reason": ""}, ZH)
    early = data.pay_out_refund(container, CLERK, asked.refund_id, {"bank_reference": "BK-1", "reason": ""}, ZH)
    assert isinstance(early, data.Refused) and early.status_code == 409
    approved = data.decide_refund(container, SECOND_CLERK, asked.refund_id, True, {"reason": "checked"}, ZH)
    assert not isinstance(approved, data.Refused) and approved.status == "approved"
    assert data.refunds(container, CLERK, RefundStatus.REQUESTED, None, 1).total == 0
    assert not data.may_decide(SECOND_CLERK, data.refund(container, CLERK, asked.refund_id))
    paid = data.pay_out_refund(container, CLERK, asked.refund_id, {"bank_reference": "BK-1", "reason": ""}, ZH)
    assert not isinstance(paid, data.Refused) and paid.status == "paid"
    listed = data.refunds(container, AUDITOR, None, "WZ-0001", 1).items
    assert [(item.status, item.reference, item.approved_by) for item in listed] == [("paid", "BK-1", "web-clerk-2")]
    assert data.household_panel(container, CLERK, household(container)).account.credit_yuan == Decimal("0.00")


def test_a_refund_can_be_turned_down_with_why(invoiced: LedgerApi, container: Container) -> None:
    take(container, "2200", "R-0001")  # 72.40 of credit
    form = {"request_number": "RF-2", "amount_yuan": "72.40", "reason": "asked by phone"}
    asked = data.request_refund(container, CLERK, "WZ-0001", form, ZH)
    assert not isinstance(asked, data.Refused)
    rejected = data.decide_refund(container, SECOND_CLERK, asked.refund_id, False, {"reason": "to next season"}, ZH)
    assert not isinstance(rejected, data.Refused) and rejected.status == "rejected"
    again = data.request_refund(container, CLERK, "WZ-0001", form, EN)
    assert isinstance(again, data.Refused) and again.status_code == 409
    with pytest.raises(PermissionDeniedError):
        data.request_refund(container, AUDITOR, "WZ-0001", {**form, "request_number": "RF-3"}, ZH)


def test_online_orders_are_listed_read_only(invoiced: LedgerApi, container: Container) -> None:
    api = invoiced
    for minutes, amount in enumerate(("100", "200")):
        body = {"account_number": "WZ-0001", "amount_yuan": amount, "provider": "hmac-json"}
        with minutes_later(minutes):
            assert api.client.post("/payments/orders", json=body, headers=api.clerk()).status_code == 201
    listed = data.payment_orders(container, AUDITOR, OrderStatus.OPEN, " WZ-0001 ", 1)
    assert ([order.amount_yuan for order in listed.items], listed.total, listed.has_next) == (
        [Decimal("100.00"), Decimal("200.00")],
        2,
        False,
    )
    assert data.payment_orders(container, CLERK, OrderStatus.PAID, None, 1).items == []


def test_suggested_receipt_numbers_are_of_the_day_and_never_the_same() -> None:
    numbers = {data.suggested_receipt_number(TODAY) for _ in range(200)}
    assert len(numbers) == 200
    assert all(re.fullmatch(r"R20251210-[0-9A-F]{10}", number) for number in numbers)


@given(total=st.integers(min_value=0, max_value=500), page_size=st.integers(min_value=1, max_value=60))
def test_pages_cover_every_item_once(total: int, page_size: int) -> None:
    items = list(range(total))
    pages = data.Paged([], 1, total, page_size).pages
    seen: list[Any] = []
    for page in range(1, pages + 1):
        start = data.offset_of(page, page_size)
        chunk = items[start : start + page_size]
        paged = data.Paged(chunk, page, total, page_size)
        assert paged.has_next == (page < pages) and paged.has_previous == (page > 1)
        seen.extend(chunk)
    assert seen == items
    assert data.offset_of(0, page_size) == data.offset_of(-3, page_size) == 0
