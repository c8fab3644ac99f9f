"""Bill notices on each backend: the billing run job writes one notice per bill it issued to the
real outbox, in the household's language, delivered to a real webhook receiver on loopback; a
rerun writes nothing twice; a household without a contact (or whose contact was erased) is skipped
with the reason and gets its notice once it leaves a contact.

The season 2025-2026 (151 days) under the Xuchang-like tariff of ``test_billing_runs``: 90 m² at
21.6 元/m² = 1,944.00 元 area fee; base 30 % = 583.20 元; 43.9 元/GJ; both ways (多退少补).

| household | meter, GJ a day | contact        | settlement (hand-computed)                                  |
|-----------|-----------------|----------------|-------------------------------------------------------------|
| A-1       | M-1, 0.2        | webhook, zh    | 30.2 GJ: 583.20 + 1,325.78 = 1,908.98 → 35.02 credited     |
| A-2       | M-2, 0.1        | none           | (skipped: no contact)                                       |
| A-3       | M-3, 0.5        | e-mail, en     | 75.5 GJ: 583.20 + 3,314.45 = 3,897.65 → 1,953.65 to pay    |
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from application.authorization import SYSTEM, Principal, Role
from application.billing_runs import RunRequest
from application.notifications import Contact, ContactChannel, MessageLanguage
from domain.billing import BillKind
from infrastructure import jobs
from infrastructure.container import Container
from infrastructure.notifications.outbox import QueuedMessage
from tests.integration.test_billing_runs import AFTER_SEASON, SEASON, publish, read_daily
from tests.receivers import WebhookReceiver, webhook_receiver
from tests.strategies import commission_meter, register_household

D = Decimal
CLERK = Principal("clerk-wang", Role.CLERK)
BEFORE_SEASON = datetime(2025, 10, 25, 2, tzinfo=UTC)  # the prepayment is invoiced on 25 Oct
AFTER_DECEMBER = datetime(2026, 1, 5, 2, tzinfo=UTC)
HOUSEHOLDS = {"A-1": ("M-1", D("0.2")), "A-2": ("M-2", D("0.1")), "A-3": ("M-3", D("0.5"))}
CONTACTS = {
    "A-1": Contact("A-1", ContactChannel.WEBHOOK, "13800000001", MessageLanguage.ZH),
    "A-3": Contact("A-3", ContactChannel.EMAIL, "a3@example.cn", MessageLanguage.EN),
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as started:
        yield started


@pytest.fixture
def season(container: Container, receiver: WebhookReceiver) -> Container:
    """The households of the module docstring, their readings, the tariff, the contacts, and the
    webhook channel pointed at the receiver (no SMTP: e-mails wait for their channel)."""
    container.ledger.clock = lambda: AFTER_SEASON
    for account, (serial, daily_gj) in HOUSEHOLDS.items():
        register_household(container.ledger, account)
        commission_meter(container.ledger, serial)
        container.ledger.attach_meter(SYSTEM, account, serial, datetime(2025, 10, 1, tzinfo=UTC))
        read_daily(container, serial, daily_gj)
    publish(container)
    for contact in CONTACTS.values():
        container.contacts.set_contact(contact, "service-chen")
    container.settings = container.settings.model_copy(update={"notification_webhook_url": receiver.url})
    container.catch_up()
    return container


def run_job(container: Container, kind: BillKind, at: datetime, month: str | None = None) -> dict[str, Any]:
    """A clerk's billing run as the API and the worker run it: submitted, then the ``run_billing`` job."""
    # The outbox keeps the clock it was built with; one clock for both, as in production.
    container.ledger.clock = container.outbox.clock = lambda: at
    run_id = container.run_store.submit(CLERK, RunRequest(kind, SEASON, month), "test run")
    result: dict[str, Any] = container.jobs.enqueue("run_billing", run_id=str(run_id))
    assert result["status"] == "done", result
    return result


def notices(container: Container, kind: str) -> dict[str, QueuedMessage]:
    found = [message for message in container.outbox.messages(limit=1000) if message.kind == kind]
    by_account = {message.account_number: message for message in found}
    assert len(by_account) == len(found), "one notice per household and kind"
    return by_account


def test_the_prepayment_run_writes_one_notice_per_bill_and_delivers_it(
    season: Container, receiver: WebhookReceiver
) -> None:
    result = run_job(season, BillKind.PREPAYMENT, BEFORE_SEASON)
    assert result["notices"]["written"] == 2 and result["notices"]["already_written"] == 0
    assert result["notices"]["skipped"] == [
        {"account_number": "A-2", "bill_number": "2025-2026-P-A-2-season", "reason": "bill_notice_no_contact"}
    ]
    written = notices(season, "prepayment")
    assert sorted(written) == ["A-1", "A-3"]
    chinese = written["A-1"]
    assert (chinese.channel, chinese.address, chinese.language, chinese.amount_yuan) == (
        "webhook",
        "13800000001",
        "zh",
        D("1944.00"),
    )
    assert (chinese.dedup_key.startswith("bill:"), chinese.created_by, chinese.status) == (
        True,
        "clerk-wang",
        "delivered",
    )
    assert chinese.subject == "【热力公司】2025-2026采暖季供热费缴费通知"
    # Invoiced on 25 Oct 2025: due on the season's first day.
    assert chinese.body == (
        "【热力公司】尊敬的用户（户号 A-1，碧桂园）：您2025-2026采暖季（2025年11月1日至2026年3月31日）"
        "的供热费预缴账单已出具（账单号 2025-2026-P-A-1-season），应缴 1,944.00 元，缴费截止日为2025年11月1日。"
        "请到营业厅或通过线上渠道缴费；如已缴费，请忽略本通知。"
    )
    english = written["A-3"]
    assert (english.channel, english.address, english.status, english.last_error) == (
        "email",
        "a3@example.cn",
        "pending",
        "channel not configured",
    )
    assert english.body == (
        "Dear customer (account A-3, 碧桂园), your prepayment invoice for heating season 2025-2026"
        " (2025-11-01 to 2026-03-31), bill number 2025-2026-P-A-3-season, is issued."
        " Amount due: 1,944.00 yuan, due by 2025-11-01."
        " Please pay at a service counter or online; if you have paid already, please disregard this message."
        " -- 热力公司"
    )
    (request,) = receiver.received
    payload = json.loads(request.body)
    assert (payload["kind"], payload["recipient"], payload["amount_yuan"], payload["stage_days"]) == (
        "prepayment",
        "13800000001",
        "1944.00",
        0,
    )
    assert payload["body"] == chinese.body and request.headers["x-heatledger-message-id"] == str(chinese.message_id)


def test_statements_and_the_settlement_state_the_heat_and_what_to_pay_or_what_is_credited(
    season: Container, receiver: WebhookReceiver
) -> None:
    run_job(season, BillKind.PREPAYMENT, BEFORE_SEASON)
    run_job(season, BillKind.STATEMENT, AFTER_DECEMBER, "2025-12")
    statements = notices(season, "statement")
    assert sorted(statements) == ["A-1", "A-3"]
    # December 31 × 0.2 = 6.2 GJ, season so far 61 × 0.2 = 12.2 GJ; the fee to date: the base for
    # 61 of 151 days 1,944 × 30 % × 61 / 151 = 235.60 plus 12.2 × 43.9 = 535.58.
    assert statements["A-1"].subject == "【热力公司】2025年12月供热账单"
    assert statements["A-1"].body == (
        "【热力公司】尊敬的用户（户号 A-1，碧桂园）：您2025年12月（2025年12月1日至2025年12月31日）的用热账单已出具"
        "（账单号 2025-2026-M-A-1-2025-12）：本月用热 6.200 GJ，本采暖季累计 12.200 GJ。按计量计算，"
        "截至本月的供热费约为 771.18 元，仅供参考，以采暖季结束后的结算为准。本账单无需缴费。"
    )
    # 15.5 GJ in December, 30.5 so far; 235.60 + 30.5 × 43.9 = 235.60 + 1,338.95 = 1,574.55.
    assert (
        "Heat used this month: 15.500 GJ, 30.500 GJ so far this season."
        " The metered charges to date come to about 1,574.55 yuan" in statements["A-3"].body
    )
    assert statements["A-1"].amount_yuan == D("0.00")

    run_job(season, BillKind.SETTLEMENT, AFTER_SEASON)
    settlements = notices(season, "settlement")
    assert settlements["A-1"].amount_yuan == D("-35.02")
    assert settlements["A-1"].body == (
        "【热力公司】尊敬的用户（户号 A-1，碧桂园）：您2025-2026采暖季（2025年11月1日至2026年3月31日）的供热费结算单"
        "已出具（账单号 2025-2026-S-A-1-1）：本季用热 30.200 GJ，应缴 1,908.98 元，预缴 1,944.00 元。"
        "应缴少于预缴，差额 35.02 元已记入您的账户，可抵扣应缴的供热费，也可申请退款。"
    )
    # Settled on 15 Apr 2026: the supplement falls due 30 days later.
    assert settlements["A-3"].amount_yuan == D("1953.65")
    assert settlements["A-3"].body == (
        "Dear customer (account A-3, 碧桂园), your settlement for heating season 2025-2026"
        " (2025-11-01 to 2026-03-31), bill number 2025-2026-S-A-3-1, is issued."
        " Heat used: 75.500 GJ; charges for the season 3,897.65 yuan against a prepayment of 1,944.00 yuan."
        " Still to pay: 1,953.65 yuan, due by 2026-05-15."
        " Please pay at a service counter or online; if you have paid already, please disregard this message."
        " -- 热力公司"
    )
    kinds = [json.loads(request.body)["kind"] for request in receiver.received]
    assert kinds == ["prepayment", "statement", "settlement"]  # A-1's, each delivered once


def test_a_rerun_and_a_clerk_s_pass_write_nothing_twice(season: Container, receiver: WebhookReceiver) -> None:
    run_job(season, BillKind.PREPAYMENT, BEFORE_SEASON)
    again = run_job(season, BillKind.PREPAYMENT, BEFORE_SEASON)
    assert again["summary"]["bills_issued"] == 0
    assert (again["notices"]["written"], again["notices"]["already_written"], len(again["notices"]["skipped"])) == (
        0,
        2,
        1,
    )
    clerk_pass = season.jobs.enqueue("send_bill_notices", season=SEASON.code)
    assert (clerk_pass["bills"], clerk_pass["written"], clerk_pass["already_written"]) == (3, 0, 2)
    assert len(season.outbox.messages(limit=1000)) == 2
    assert len(receiver.received) == 1


def test_a_household_without_a_contact_is_skipped_until_it_leaves_one(
    season: Container, receiver: WebhookReceiver
) -> None:
    season.contacts.forget("A-1", "service-chen")  # erased on the household's request
    result = run_job(season, BillKind.PREPAYMENT, BEFORE_SEASON)
    assert [item["account_number"] for item in result["notices"]["skipped"]] == ["A-1", "A-2"]
    assert sorted(notices(season, "prepayment")) == ["A-3"]
    assert receiver.received == []
    season.contacts.set_contact(Contact("A-2", ContactChannel.WEBHOOK, "13800000002", MessageLanguage.ZH), "clerk")
    later = season.jobs.enqueue("send_bill_notices", season=SEASON.code, kind="prepayment")
    assert (later["written"], later["already_written"], [s["account_number"] for s in later["skipped"]]) == (
        1,
        1,
        ["A-1"],
    )
    (request,) = receiver.received
    assert json.loads(request.body)["recipient"] == "13800000002"


def test_a_notice_pass_that_fails_leaves_the_run_done_and_the_next_pass_writes_the_notices(
    season: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(container: Container) -> None:
        raise RuntimeError("the outbox's database went away")

    monkeypatch.setattr(jobs, "bill_notices_for", broken)
    result = run_job(season, BillKind.PREPAYMENT, BEFORE_SEASON)
    assert (result["summary"]["bills_issued"], result["notices"]) == (3, None)
    assert season.outbox.messages() == []
    monkeypatch.undo()
    later = season.jobs.enqueue("send_bill_notices", season=SEASON.code)
    assert (later["written"], later["already_written"]) == (2, 0)
