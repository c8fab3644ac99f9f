"""The words of a payment reminder, in Chinese (the default) or English.

A reminder says what is owed, since when, and how to pay; it tells a household that has paid in
the meantime to disregard it and where to ask about the bill. The last stage of the policy is a
final notice. A Chinese text message starts with the sender's signature in 【】, as Chinese SMS
gateways require. Personal data is kept to the account number and the community.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from application.notifications import MessageLanguage


@dataclass(frozen=True)
class ReminderSender:
    """Who signs reminders (the utility's name) and the service number to call (may be empty)."""

    name: str
    service_phone: str = ""


@dataclass(frozen=True)
class ReminderContent:
    """The figures a reminder states. ``stage_number`` counts from 1; ``final``: the policy's last."""

    account_number: str
    community: str
    amount_yuan: Decimal
    oldest_due_on: date
    days_past_due: int
    today: date
    stage_number: int
    final: bool


def yuan_text(amount_yuan: Decimal) -> str:
    """An amount as written on a Chinese bill: thousands separated, two decimals (``1,234.50``)."""
    return f"{amount_yuan:,.2f}"


def render_reminder(content: ReminderContent, language: MessageLanguage, sender: ReminderSender) -> tuple[str, str]:
    """The subject and body of a reminder in ``language``."""
    if language is MessageLanguage.EN:
        return _english(content, sender)
    return _chinese(content, sender)


def _chinese_day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _chinese(content: ReminderContent, sender: ReminderSender) -> tuple[str, str]:
    if content.final:
        title = "供热费最后催缴通知"
    elif content.stage_number == 1:
        title = "供热费缴费提醒"
    else:
        title = "供热费催缴通知"
    parts = [
        f"【{sender.name}】尊敬的用户（户号 {content.account_number}，{content.community}）：",
        f"截至{_chinese_day(content.today)}，您尚有供热费 {yuan_text(content.amount_yuan)} 元未缴，",
        f"最早一笔已于{_chinese_day(content.oldest_due_on)}到期，逾期 {content.days_past_due} 天。",
        "请尽快到营业厅或通过线上渠道缴费。",
    ]
    if content.final:
        parts.append("这是最后一次催缴通知，逾期仍未缴费的，我公司将依照供热合同及有关规定处理。")
    parts.append("如已缴费，请忽略本提醒")
    parts.append(f"；如对账单有疑问，请致电 {sender.service_phone}。" if sender.service_phone else "。")
    return f"【{sender.name}】{title}", "".join(parts)


def _english(content: ReminderContent, sender: ReminderSender) -> tuple[str, str]:
    if content.final:
        title = "Final notice: heating charges overdue"
    elif content.stage_number == 1:
        title = "Reminder: heating charges due"
    else:
        title = "Heating charges overdue"
    sentences = [
        f"Dear customer (account {content.account_number}, {content.community}),",
        f"as of {content.today.isoformat()}, {yuan_text(content.amount_yuan)} yuan of heating charges are unpaid;",
        f"the oldest fell due on {content.oldest_due_on.isoformat()} and is {content.days_past_due} days overdue.",
        "Please pay at a service counter or online.",
    ]
    if content.final:
        sentences.append(
            "This is the final notice: if the charges stay unpaid, we will proceed as the heating contract"
            " and the regulations provide."
        )
    ending = "If you have paid already, please disregard this message"
    ending += f"; for questions about your bill, call {sender.service_phone}." if sender.service_phone else "."
    sentences.append(ending)
    sentences.append(f"-- {sender.name}")
    return f"[{sender.name}] {title}", " ".join(sentences)
