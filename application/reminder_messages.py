"""The words of a payment reminder, in Chinese (the default) or English.

A reminder says what is owed, since when, and how to pay; it tells a household that has paid in
the meantime to disregard it and where to ask about the bill. The last stage of the policy is a
final notice. A Chinese text message starts with the sender's signature in 【】, as Chinese SMS
gateways require. Personal data is kept to the account number and the community. The words are
in the message catalogue (application/locale/*/LC_MESSAGES/reminders.po).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from application.message_catalogue import translate
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
    language = MessageLanguage(language)
    if content.final:
        title = translate("reminder.title.final", language)
    elif content.stage_number == 1:
        title = translate("reminder.title.first", language)
    else:
        title = translate("reminder.title.overdue", language)
    parts = [
        greeting(content.account_number, content.community, language),
        translate(
            "reminder.owed",
            language,
            today=day_text(content.today, language),
            amount=yuan_text(content.amount_yuan),
            oldest_due_on=day_text(content.oldest_due_on, language),
            days_past_due=content.days_past_due,
        ),
        translate("reminder.how_to_pay", language),
    ]
    if content.final:
        parts.append(translate("reminder.final_warning", language))
    if sender.service_phone:
        parts.append(translate("reminder.disregard_or_call", language, service_phone=sender.service_phone))
    else:
        parts.append(translate("reminder.disregard", language))
    return message_subject(title, language, sender), message_body(parts, language, sender)


# -- what every message to a household shares (reminders, bill notices, dispute letters) ----------

# Sentences follow each other without a space in Chinese, with one in English.
SENTENCE_SEPARATORS = {MessageLanguage.ZH: "", MessageLanguage.EN: " "}


def message_subject(title: str, language: MessageLanguage, sender: ReminderSender) -> str:
    """A message's subject: the title, signed with the sender's name."""
    return translate("message.subject", language, sender=sender.name, title=title)


def message_body(parts: Iterable[str], language: MessageLanguage, sender: ReminderSender) -> str:
    """The sentences of a message joined as the language writes them, signed with the sender's name
    (first, in 【】, in Chinese, as Chinese SMS gateways require; at the end in English)."""
    text = SENTENCE_SEPARATORS[language].join(parts)
    return translate("message.body", language, sender=sender.name, text=text)


def greeting(account_number: str, community: str, language: MessageLanguage) -> str:
    """The greeting of a message to a household: the account number and the community only."""
    return translate("message.greeting", language, account_number=account_number, community=community)


def day_text(day: date, language: MessageLanguage) -> str:
    """A day as a letter writes it: ``2025年12月1日`` in Chinese, ``2025-12-01`` in English."""
    if language is MessageLanguage.EN:
        return day.isoformat()
    return f"{day.year}年{day.month}月{day.day}日"
