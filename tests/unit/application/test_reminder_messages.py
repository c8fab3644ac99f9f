"""The words of a reminder: Chinese by default, English on request, every figure stated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from application.notifications import MessageLanguage
from application.reminder_messages import ReminderContent, ReminderSender, render_reminder, yuan_text

SENDER = ReminderSender("许昌热力", "0374-1234567")


def content(stage: int = 1, final: bool = False) -> ReminderContent:
    return ReminderContent(
        account_number="BGY-1-1-101",
        community="碧桂园",
        amount_yuan=Decimal("1234.5"),
        oldest_due_on=date(2026, 11, 30),
        days_past_due=45,
        today=date(2027, 1, 14),
        stage_number=stage,
        final=final,
    )


def test_money_is_written_with_two_decimals_and_thousands() -> None:
    assert yuan_text(Decimal("1234.5")) == "1,234.50"
    assert yuan_text(Decimal("0.07")) == "0.07"


def test_a_chinese_reminder_states_the_figures_and_signs_first() -> None:
    subject, body = render_reminder(content(), MessageLanguage.ZH, SENDER)
    assert subject == "【许昌热力】供热费缴费提醒"
    assert body.startswith("【许昌热力】")
    for figure in ("BGY-1-1-101", "碧桂园", "1,234.50 元", "2026年11月30日", "逾期 45 天", "2027年1月14日"):
        assert figure in body
    assert "0374-1234567" in body
    assert "最后" not in body


def test_later_stages_and_the_final_notice_are_worded_more_firmly() -> None:
    assert render_reminder(content(2), MessageLanguage.ZH, SENDER)[0].endswith("供热费催缴通知")
    subject, body = render_reminder(content(3, final=True), MessageLanguage.ZH, SENDER)
    assert subject.endswith("供热费最后催缴通知")
    assert "最后一次催缴通知" in body


def test_an_english_reminder_on_request() -> None:
    subject, body = render_reminder(content(3, final=True), MessageLanguage.EN, SENDER)
    assert subject == "[许昌热力] Final notice: heating charges overdue"
    for figure in ("1,234.50 yuan", "2026-11-30", "45 days overdue", "2027-01-14", "final notice"):
        assert figure in body
    assert render_reminder(content(), MessageLanguage.EN, SENDER)[0].endswith("Reminder: heating charges due")


def test_without_a_service_number_no_number_is_promised() -> None:
    _, chinese = render_reminder(content(), MessageLanguage.ZH, ReminderSender("许昌热力"))
    _, english = render_reminder(content(), MessageLanguage.EN, ReminderSender("许昌热力"))
    assert "致电" not in chinese and chinese.endswith("如已缴费，请忽略本提醒。")
    assert "call" not in english
