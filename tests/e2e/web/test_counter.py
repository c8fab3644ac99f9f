"""The counter pages (/ui/counter) on both backends, logged in through the real login form: a
payment taken from the form moves the balance the next page shows and prints its receipt, once
however often the form is sent; reversals, the day journal, refunds through a second person and
online orders; Chinese by default and English on request; actions hidden from roles that may not
take them and refused (403) when posted anyway; CSRF refused; nothing booked by a refused form.

WZ-0001 is invoiced 2127.60 元 for the 2025-2026 season on 10 December 2025 (the frozen day).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from application.authorization import Role
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi
from tests.e2e.test_api_payments import invoiced
from tests.e2e.web.conftest import WebClient, WebLogin

__all__ = ["invoiced"]  # the fixture, used by name

COUNTER = "/ui/counter?account=WZ-0001"
PAYMENTS = "/ui/counter/households/WZ-0001/payments"
REFUNDS = "/ui/counter/households/WZ-0001/refunds"
PAY_BUTTON_ZH = "收款并打印收据"


def payment_form(amount: str, receipt: str, **changes: str) -> dict[str, str]:
    return {"amount_yuan": amount, "channel": "cash", "receipt_number": receipt, "bill_id": "", "reason": "", **changes}


def pay(client: WebClient, amount: str, receipt: str, **changes: str) -> Any:
    return client.post_form(PAYMENTS, payment_form(amount, receipt, **changes), follow_redirects=False)


def payments_booked(api: LedgerApi) -> int:
    total: int = api.get("/households/WZ-0001/payments").json()["total"]
    return total


def balance_text(html: str) -> str:
    found = re.search(r'id="household-balance"[^>]*>\s*([^<]+?)\s*<', html)
    assert found is not None, "the page shows no balance"
    return found.group(1)


def receipt_path(response: Any) -> str:
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert location.startswith("/ui/counter/receipts/")
    return location


def test_a_payment_at_the_counter_moves_the_balance_and_prints_its_receipt(
    invoiced: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK)
    page = clerk.get(COUNTER)
    assert page.status_code == 200
    assert balance_text(page.text) == "欠费 2,127.60 元"
    assert "碧桂园 1号楼 1单元 1层 101室" in page.text
    assert '<label for="payment-amount">收款金额（元）' in page.text and PAY_BUTTON_ZH in page.text
    suggested = re.search(r'name="receipt_number" type="text" value="(R20251210-[0-9A-F]{10})"', page.text)
    assert suggested is not None  # a unique receipt number is filled in
    posted = pay(clerk, "1000", suggested.group(1))
    receipt = clerk.get(receipt_path(posted))
    assert receipt.status_code == 200
    for text in (
        "收款收据",
        f"No. {suggested.group(1)}",
        "1,000.00 元",
        "人民币壹仟元整",
        "现金",
        "web-clerk",
        "热力公司",
    ):
        assert text in receipt.text, text
    assert "2025-2026" in receipt.text  # the bill it settles, by its number
    assert "data-print" in receipt.text and "/static/counter.js" in receipt.text
    assert balance_text(clerk.get(COUNTER).text) == "欠费 1,127.60 元"
    # The same form sent again (a double click, a reload) books nothing and says so.
    again = pay(clerk, "1000", suggested.group(1))
    assert again.headers["location"].endswith("?again=1")
    assert "此前已登记，本次未重复入账" in clerk.get(again.headers["location"]).text
    assert balance_text(clerk.get(COUNTER).text) == "欠费 1,127.60 元"
    assert payments_booked(invoiced) == 1


def test_the_counter_speaks_english_on_request(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK, language="en")
    page = clerk.get(COUNTER)
    assert balance_text(page.text) == "Owes 2,127.60 元"
    assert "Take the payment and print the receipt" in page.text and PAY_BUTTON_ZH not in page.text
    assert "碧桂园, building 1, entrance 1, floor 1, flat 1" in page.text
    receipt = clerk.get(receipt_path(pay(clerk, "2500", "R-EN-1")))
    assert "Receipt" in receipt.text and "人民币贰仟伍佰元整" in receipt.text  # capitals stay Chinese
    assert "Carried as credit" in receipt.text and "372.40 元" in receipt.text
    refused = pay(clerk, "0", "R-EN-2")
    assert refused.status_code == 422 and "must be positive" in refused.text


def test_a_refused_payment_form_is_shown_again_with_why_and_books_nothing(
    invoiced: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK)
    for form, status, message in (
        (payment_form("12.345", "R-1"), 422, "最多两位小数"),
        (payment_form("0", "R-1"), 422, "必须大于 0"),
        (payment_form("100", ""), 422, 'id="payment-receipt-number-error"'),
        (payment_form("100", "R-1", channel="online"), 422, "线上支付须经支付渠道的通知入账"),
    ):
        response = clerk.post_form(PAYMENTS, form, follow_redirects=False)
        assert response.status_code == status, response.text
        assert message in response.text
        assert (
            'aria-invalid="true"' in response.text
            or "form-errors" in response.text
            or "payment-errors" in response.text
        )
        assert f'value="{form["amount_yuan"]}"' in response.text  # what the clerk typed is kept
    assert payments_booked(invoiced) == 0


def test_a_household_that_is_not_there_is_said_so(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    page = clerk.get("/ui/counter?account=WZ-9999")
    assert page.status_code == 200 and "没有户号为 WZ-9999 的热用户。" in page.text
    assert PAY_BUTTON_ZH not in page.text
    missing = clerk.post_form("/ui/counter/households/WZ-9999/payments", payment_form("10", "R-X"))
    assert missing.status_code == 404 and "WZ-9999" in missing.text


def test_an_htmx_lookup_swaps_the_household_panel_alone(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    fragment = clerk.get(COUNTER, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="household">') and "<html" not in fragment.text
    assert "欠费 2,127.60 元" in fragment.text


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR, Role.CUSTOMER_SERVICE])
def test_roles_that_take_no_payments_are_offered_none_and_refused_when_posting(
    invoiced: LedgerApi, web_login: WebLogin, role: Role
) -> None:
    reader = web_login(role)
    page = reader.get(COUNTER)
    assert page.status_code == 200 and "欠费 2,127.60 元" in page.text
    assert PAY_BUTTON_ZH not in page.text and 'action="/ui/counter/households/' not in page.text
    assert 'href="/ui/counter"' not in reader.get("/ui/").text.split("</nav>")[0]  # not in the navigation
    if role is not Role.CUSTOMER_SERVICE:
        assert "101室" not in page.text  # the flat is masked for auditors and regulators
    refused = pay(reader, "100", "R-CRAFTED")
    assert refused.status_code == 403
    assert "<html" in refused.text and "无权" in refused.text
    assert payments_booked(invoiced) == 0


def test_a_post_without_the_csrf_token_is_refused(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    for token in ("", "not-the-token"):
        response = clerk.post(PAYMENTS, data={**payment_form("100", "R-CSRF"), "csrf_token": token})
        assert response.status_code == 403
    assert payments_booked(invoiced) == 0


def test_a_reversal_needs_a_reason_reopens_the_charge_and_happens_once(
    invoiced: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK)
    receipt = receipt_path(pay(clerk, "500", "R-REV", channel="bank_transfer"))
    payment_id = receipt.rsplit("/", 1)[1]
    form_page = clerk.get(f"/ui/counter/payments/{payment_id}/reversal")
    assert form_page.status_code == 200 and '<label for="reversal-reason">冲正原因' in form_page.text
    path = f"/ui/counter/payments/{payment_id}/reversal"
    no_reason = clerk.post_form(path, {"kind": "bounced", "reason": ""}, follow_redirects=False)
    assert no_reason.status_code == 422 and 'id="reversal-reason-error"' in no_reason.text
    done = clerk.post_form(path, {"kind": "bounced", "reason": "转账退回"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == receipt
    printed = clerk.get(receipt).text
    assert "此笔已冲正" in printed and "退票" in printed and "冲正此笔付款" not in printed
    assert balance_text(clerk.get(COUNTER).text) == "欠费 2,127.60 元"
    twice = clerk.post_form(path, {"kind": "error", "reason": "again"}, follow_redirects=False)
    assert twice.status_code == 409
    auditor = web_login(Role.AUDITOR)
    assert "冲正此笔付款" not in auditor.get(receipt).text
    assert auditor.post_form(path, {"kind": "error", "reason": "x"}).status_code == 403


def test_the_day_journal_totals_the_days_payments_and_prints(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    for amount, receipt, channel in (("100", "R-J1", "cash"), ("200", "R-J2", "card"), ("50", "R-J3", "cash")):
        receipt_path(pay(clerk, amount, receipt, channel=channel))
    journal = clerk.get("/ui/counter/journal")
    assert journal.status_code == 200
    assert "2025年12月10日 收款日结" in journal.text
    assert "现金小计" in journal.text and "150.00 元" in journal.text
    assert re.search(r'id="journal-net">\s*350\.00 元', journal.text)
    assert all(reference in journal.text for reference in ("R-J1", "R-J2", "R-J3"))
    cash = clerk.get("/ui/counter/journal?day=2025-12-10&channel=cash&clerk=")
    assert "R-J1" in cash.text and "R-J2" not in cash.text
    printed = clerk.get("/ui/counter/journal?day=2025-12-10&channel=&clerk=&print=1")
    assert printed.status_code == 200 and "打印日结" in printed.text and "收款员签字" in printed.text
    empty = clerk.get("/ui/counter/journal?day=2025-12-09")
    assert "当日没有收款。" in empty.text
    english = web_login(Role.AUDITOR, language="en").get("/ui/counter/journal")
    assert "Day total" in english.text and "Cash subtotal" in english.text


def test_a_refund_is_asked_for_by_one_clerk_and_approved_and_paid_by_another(
    invoiced: LedgerApi, web_login: WebLogin, container: Container
) -> None:
    first = web_login(Role.CLERK, username="clerk-li")
    second = web_login(Role.CLERK, username="clerk-wang")
    receipt_path(pay(first, "2500", "R-RF"))  # 372.40 of credit
    page = first.get(COUNTER)
    assert "申请退款" in page.text and 'value="372.40"' in page.text
    too_much = first.post_form(REFUNDS, {"request_number": "RF-1", "amount_yuan": "400", "reason": "搬家"})
    assert too_much.status_code == 422 and "超过该户可退的余额 372.40 元" in too_much.text
    asked = first.post_form(REFUNDS, {"request_number": "RF-1", "amount_yuan": "372.40", "reason": "搬家"})
    assert asked.status_code == 200  # followed to the refunds awaiting approval
    assert "RF-1" in asked.text and "待另一人审批" in asked.text and "批准退款 RF-1" not in asked.text
    waiting = second.get("/ui/counter/refunds")
    assert 'aria-label="批准退款 RF-1"' in waiting.text
    refund_id = re.search(r"/ui/counter/refunds/([0-9a-f-]{36})/approval", waiting.text)
    assert refund_id is not None
    # The requester's crafted approval is refused by the service, whatever the page offered.
    crafted = first.post_form(f"/ui/counter/refunds/{refund_id.group(1)}/approval", {"reason": ""})
    assert crafted.status_code == 403 and "须由申请人 clerk-li 以外的另一人审批" in crafted.text
    approved = second.post_form(f"/ui/counter/refunds/{refund_id.group(1)}/approval", {"reason": "核实"})
    assert approved.status_code == 200 and "已批准，待支付" in approved.text
    no_reference = second.post_form(f"/ui/counter/refunds/{refund_id.group(1)}/payout", {"bank_reference": ""})
    assert no_reference.status_code == 422 and "payout-reference-" in no_reference.text
    paid = second.post_form(f"/ui/counter/refunds/{refund_id.group(1)}/payout", {"bank_reference": "BK-77"})
    assert paid.status_code == 200 and "银行流水 BK-77" in paid.text
    after = first.get(COUNTER)
    assert balance_text(after.text) == "已结清" and "申请退款" not in after.text
    auditor = web_login(Role.AUDITOR)
    listed = auditor.get("/ui/counter/refunds?every=1")
    assert "RF-1" in listed.text and 'method="post"' not in listed.text.split("<main")[1]


def test_online_orders_are_listed_and_offer_nothing_to_do(invoiced: LedgerApi, web_login: WebLogin) -> None:
    api = invoiced
    body = {"account_number": "WZ-0001", "amount_yuan": "150", "provider": "hmac-json"}
    assert api.client.post("/payments/orders", json=body, headers=api.clerk()).status_code == 201
    clerk = web_login(Role.CLERK)
    page = clerk.get("/ui/counter/orders?status=&account=")
    assert page.status_code == 200 and "150.00 元" in page.text and "待支付" in page.text
    assert 'method="post"' not in page.text.split("<main")[1]
    assert "150.00 元" not in clerk.get("/ui/counter/orders?status=paid").text
    assert clerk.get("/ui/counter/orders?status=lost").status_code == 422


def test_the_counter_needs_a_session(invoiced: LedgerApi, web_client: Any) -> None:
    anonymous = web_client()
    page = anonymous.get(COUNTER, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login?next=/ui/counter")
    assert anonymous.post(PAYMENTS, data=payment_form("1", "R-ANON"), follow_redirects=False).status_code in (303, 403)
    assert payments_booked(invoiced) == 0
