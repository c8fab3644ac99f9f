"""Dunning runs on each backend: the right reminder stage for the right households, rendered in
their language, written to the real outbox once per charge and stage, and why not for the others.

The scenario (prepayments of season 2025-2026 due 1 Nov 2025; policy 15/45/90 days, 50.00 元):

| household | owes    | contact        | protection     | on 10 Jan 2026 (70 days)       |
|-----------|---------|----------------|----------------|--------------------------------|
| DN-1      | 1944.00 | webhook, zh    | —              | stage 45, Chinese              |
| DN-2      | 26.00   | webhook, zh    | —              | below the amount               |
| DN-3      | 1944.00 | webhook, zh    | disputes all   | open dispute                   |
| DN-4      | 1944.00 | —              | —              | no contact (stage 45)          |
| DN-5      | 1944.00 | email, en      | —              | stage 45, English              |
| DN-6      | 1944.00 | webhook, zh    | vulnerable     | stage 45 (a reminder informs)  |
| DN-7      | —       | webhook, zh    | —              | paid in full: not listed       |
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from application.authorization import Principal, Role
from application.notifications import Contact, ContactChannel, MessageLanguage
from domain.dunning import DunningPolicy
from domain.errors import PermissionDeniedError
from infrastructure.container import Container
from tests.integration.test_disputes import open_bill_dispute
from tests.integration.test_payment_read_models import at, bill_id, pay, prepaid_period
from tests.strategies import register_household

D = Decimal
TODAY = date(2026, 1, 10)
POLICY = DunningPolicy.of([15, 45, 90], D("50.00"))
CLERK = Principal("clerk-li", Role.CLERK)
SERVICE = Principal("service-chen", Role.CUSTOMER_SERVICE)
CONTACTS = {
    "DN-1": (ContactChannel.WEBHOOK, "13800000001", MessageLanguage.ZH),
    "DN-2": (ContactChannel.WEBHOOK, "13800000002", MessageLanguage.ZH),
    "DN-3": (ContactChannel.WEBHOOK, "13800000003", MessageLanguage.ZH),
    "DN-5": (ContactChannel.EMAIL, "dn5@example.com", MessageLanguage.EN),
    "DN-6": (ContactChannel.WEBHOOK, "13800000006", MessageLanguage.ZH),
    "DN-7": (ContactChannel.WEBHOOK, "13800000007", MessageLanguage.ZH),
}


@pytest.fixture
def owing(container: Container) -> Container:
    """The scenario of the module docstring."""
    ledger = container.ledger
    for number in range(1, 8):
        account = f"DN-{number}"
        register_household(ledger, account, connected_area_m2="90.00")
        ledger.save(prepaid_period(container, account))
    pay(container, "DN-2", "1918.00", at(date(2025, 11, 5)), "R-0001")
    pay(container, "DN-7", "1944.00", at(date(2025, 11, 5)), "R-0002")
    open_bill_dispute(container, "DN-3", bill_id("DN-3"), "1944.00")
    container.arrears.mark_vulnerable(SERVICE, "DN-6", "lives alone, 82")
    for account, (channel, address, language) in CONTACTS.items():
        container.contacts.set_contact(Contact(account, channel, address, language), "service-chen")
    container.catch_up()
    return container


def outcomes(container: Container, today: date) -> list[tuple[str, int | None, str | None]]:
    summary = container.dunning.remind(CLERK, POLICY, today)
    return [(o.account_number, o.stage_days, o.skip) for o in summary.outcomes]


def test_the_run_reminds_the_right_households_at_the_right_stage(owing: Container) -> None:
    assert outcomes(owing, TODAY) == [
        ("DN-1", 45, None),
        ("DN-2", None, "dunning_below_minimum_amount"),
        ("DN-3", None, "dunning_open_dispute"),
        ("DN-4", 45, "dunning_no_contact"),
        ("DN-5", 45, None),
        ("DN-6", 45, None),
    ]
    messages = {message.account_number: message for message in owing.outbox.messages()}
    assert sorted(messages) == ["DN-1", "DN-5", "DN-6"]
    chinese, english = messages["DN-1"], messages["DN-5"]
    assert (chinese.channel, chinese.address, chinese.status, chinese.attempts) == (
        "webhook",
        "13800000001",
        "pending",
        0,
    )
    assert (chinese.amount_yuan, chinese.stage_days, chinese.created_by) == (D("1944.00"), 45, "clerk-li")
    assert chinese.subject.endswith("供热费催缴通知")
    assert "1,944.00 元" in chinese.body and "逾期 70 天" in chinese.body and "2025年11月1日" in chinese.body
    assert (english.channel, english.address, english.language) == ("email", "dn5@example.com", "en")
    assert "1,944.00 yuan" in english.body and "70 days overdue" in english.body


def test_a_reminder_is_written_once_however_often_the_run_repeats(owing: Container) -> None:
    first = owing.dunning.remind(CLERK, POLICY, TODAY)
    again = owing.dunning.remind(CLERK, POLICY, date(2026, 1, 20))  # still stage 45
    assert (first.queued, again.queued) == (3, 0)
    assert [o.skip for o in again.outcomes if o.account_number in ("DN-1", "DN-5", "DN-6")] == [
        "dunning_already_sent"
    ] * 3
    assert len(owing.outbox.messages()) == 3


def test_the_next_stage_is_a_new_reminder_and_the_last_a_final_notice(owing: Container) -> None:
    owing.dunning.remind(CLERK, POLICY, TODAY)
    later = owing.dunning.remind(CLERK, POLICY, date(2026, 1, 30))  # 90 days
    assert later.queued == 3
    final = [m for m in owing.outbox.messages(account_number="DN-1") if m.stage_days == 90]
    assert len(final) == 1
    assert final[0].subject.endswith("供热费最后催缴通知") and "最后一次催缴通知" in final[0].body


def test_a_household_that_pays_gets_no_more_reminders(owing: Container) -> None:
    owing.dunning.remind(CLERK, POLICY, TODAY)
    pay(owing, "DN-1", "1944.00", at(date(2026, 1, 12)), "R-0003")
    owing.catch_up()
    accounts = [outcome[0] for outcome in outcomes(owing, date(2026, 1, 30))]
    assert "DN-1" not in accounts


def test_a_contact_added_later_gets_the_stage_it_missed(owing: Container) -> None:
    owing.dunning.remind(CLERK, POLICY, TODAY)
    owing.contacts.set_contact(
        Contact("DN-4", ContactChannel.WEBHOOK, "13800000004", MessageLanguage.ZH), "service-chen"
    )
    assert ("DN-4", 45, None) in outcomes(owing, date(2026, 1, 11))


def test_customer_service_may_not_run_dunning(owing: Container) -> None:
    with pytest.raises(PermissionDeniedError):
        owing.dunning.remind(SERVICE, POLICY, TODAY)
    assert owing.outbox.messages() == []


def test_a_community_run_reminds_only_its_households(owing: Container) -> None:
    summary = owing.dunning.remind(CLERK, POLICY, TODAY, community="另一个小区")
    assert summary.outcomes == ()


def test_a_dispute_holds_only_what_it_disputes(owing: Container) -> None:
    """DN-1 disputes 1000.00 of its 1944.00: the reminder asks for the 944.00 beyond it. DN-5
    disputes 1900.00: the 44.00 left is below the policy's 50.00, and the dispute is why."""
    open_bill_dispute(owing, "DN-1", bill_id("DN-1"), "1000.00")
    open_bill_dispute(owing, "DN-5", bill_id("DN-5"), "1900.00")
    assert [
        (account, stage, skip) for account, stage, skip in outcomes(owing, TODAY) if account in ("DN-1", "DN-5")
    ] == [
        ("DN-1", 45, None),
        ("DN-5", None, "dunning_open_dispute"),
    ]
    [message] = owing.outbox.messages(account_number="DN-1")
    assert message.amount_yuan == D("944.00")
    assert "944.00 元" in message.body and "1,944.00" not in message.body
