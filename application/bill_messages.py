"""The words of a bill notice (the prepayment invoice, a monthly statement, the settlement), in
Chinese (the default) or English.

A notice tells the household that a bill was issued and what it says in a few lines: the bill's
number, its period, the amount, when it falls due, for statements and the settlement a short
summary of the heat used, and what to pay or what was credited. The bill itself, with every line,
is what customer service explains; the notice is the text message that brings it. A Chinese text
starts with the sender's signature in 【】, as Chinese SMS gateways require. Personal data is kept
to the account number and the community, as in reminders. The words are in the message catalogue
(application/locale/*/LC_MESSAGES/bill_notices.po).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from application.message_catalogue import translate
from application.notifications import MessageLanguage
from application.reminder_messages import (
    ReminderSender,
    day_text,
    greeting,
    message_body,
    message_subject,
    yuan_text,
)

# Heat is stated to 1 MJ (0.001 GJ), as on the bill.
GJ_PLACES = Decimal("0.001")


class NoticeKind(StrEnum):
    """Which bill a notice brings (the bill kinds, by name)."""

    PREPAYMENT = "prepayment"
    STATEMENT = "statement"
    SETTLEMENT = "settlement"


@dataclass(frozen=True)
class HeatSummary:
    """The heat a statement or settlement rests on. For a statement: ``energy_gj`` is the month's,
    ``season_energy_gj`` the season's so far. For a settlement: ``energy_gj`` is the season's
    (``estimated_gj`` of it estimated), ``allocated`` when it is a share of the building meter's."""

    energy_gj: Decimal
    season_energy_gj: Decimal | None = None
    estimated_gj: Decimal = Decimal(0)
    allocated: bool = False


@dataclass(frozen=True)
class BillNoticeContent:
    """The figures a notice states.

    ``amount_yuan``: what the bill charges (negative: credited; zero for a statement).
    ``due_on``: when a charge falls due (None for a statement, which charges nothing).
    ``heat``: None when the bill rests on the area (no meter, a broken meter billed by area).
    ``fee_to_date_yuan``: a statement's metered fee so far (a guide).
    ``metered_due_yuan``/``prepaid_yuan``: a settlement's amount due for the season and the
    prepayment it is set against (None when the bill does not state them).
    """

    kind: NoticeKind
    account_number: str
    community: str
    season_code: str
    label: str
    number: str
    first_day: date
    last_day: date
    amount_yuan: Decimal
    due_on: date | None
    heat: HeatSummary | None = None
    fee_to_date_yuan: Decimal | None = None
    metered_due_yuan: Decimal | None = None
    prepaid_yuan: Decimal | None = None


def render_bill_notice(
    content: BillNoticeContent, language: MessageLanguage, sender: ReminderSender
) -> tuple[str, str]:
    """The subject and body of a bill notice in ``language``."""
    language = MessageLanguage(language)
    period = translate(
        "notice.period",
        language,
        first_day=day_text(content.first_day, language),
        last_day=day_text(content.last_day, language),
    )
    figures = {"season": content.season_code, "period": period, "number": content.number}
    if content.kind is NoticeKind.PREPAYMENT:
        title = translate("notice.title.prepayment", language, season=content.season_code)
        parts = [
            translate("notice.prepayment.issued", language, **figures),
            *_payable(content.amount_yuan, content.due_on, "notice.amount_due", language),
        ]
    elif content.kind is NoticeKind.STATEMENT:
        month = _month(content.label, language)
        title = translate("notice.title.statement", language, month=month)
        parts = [
            translate("notice.statement.issued", language, month=month, **figures),
            *_statement(content, language),
            translate("notice.statement.nothing_to_pay", language),
        ]
    else:
        title = translate("notice.title.settlement", language, season=content.season_code)
        parts = [translate("notice.settlement.issued", language, **figures), *_settlement(content, language)]
    if sender.service_phone:
        parts.append(translate("notice.questions", language, service_phone=sender.service_phone))
    body = [greeting(content.account_number, content.community, language), *parts]
    return message_subject(title, language, sender), message_body(body, language, sender)


def gj_text(energy_gj: Decimal) -> str:
    """Heat to 0.001 GJ (half up), as a bill shows it."""
    return f"{energy_gj.quantize(GJ_PLACES, rounding=ROUND_HALF_UP)}"


def _month(label: str, language: MessageLanguage) -> str:
    """A statement's month: ``2025-12`` as ``2025年12月`` in Chinese (a label that is not a month is
    shown as it is), as it is in English."""
    year, _, month = label.partition("-")
    if language is MessageLanguage.ZH and year.isdigit() and month.isdigit():
        return f"{year}年{int(month)}月"
    return label


def _payable(amount_yuan: Decimal, due_on: date | None, key: str, language: MessageLanguage) -> list[str]:
    """What to pay and by when (``key``: notice.amount_due or notice.still_to_pay), and how to pay."""
    if amount_yuan <= 0:
        return [translate("notice.nothing_to_pay", language)]
    due = "" if due_on is None else translate("notice.due_by", language, due_on=day_text(due_on, language))
    return [
        translate(key, language, amount=yuan_text(amount_yuan), due=due),
        translate("notice.how_to_pay", language),
    ]


def _statement(content: BillNoticeContent, language: MessageLanguage) -> list[str]:
    heat = content.heat
    if heat is None:
        return [translate("notice.statement.by_area", language)]
    season = (
        ""
        if heat.season_energy_gj is None
        else translate("notice.statement.season_so_far", language, season_energy=gj_text(heat.season_energy_gj))
    )
    parts = [translate("notice.statement.heat", language, energy=gj_text(heat.energy_gj), season_so_far=season)]
    if content.fee_to_date_yuan is not None:
        parts.append(translate("notice.statement.fee_to_date", language, amount=yuan_text(content.fee_to_date_yuan)))
    return parts


def _heat(heat: HeatSummary | None, language: MessageLanguage) -> str:
    if heat is None:
        return translate("notice.settlement.by_area", language)
    estimated = (
        translate("notice.settlement.estimated", language, estimated=gj_text(heat.estimated_gj))
        if heat.estimated_gj > 0
        else ""
    )
    key = "notice.settlement.heat_allocated" if heat.allocated else "notice.settlement.heat_used"
    return translate(key, language, energy=gj_text(heat.energy_gj), estimated=estimated)


def _settlement(content: BillNoticeContent, language: MessageLanguage) -> list[str]:
    charges = ""
    if content.metered_due_yuan is not None and content.prepaid_yuan is not None:
        charges = translate(
            "notice.settlement.charges",
            language,
            due=yuan_text(content.metered_due_yuan),
            prepaid=yuan_text(content.prepaid_yuan),
        )
    parts = [translate("notice.settlement.summary", language, heat=_heat(content.heat, language), charges=charges)]
    amount = content.amount_yuan
    if amount < 0:
        parts.append(translate("notice.settlement.credited", language, amount=yuan_text(-amount)))
    elif amount == 0:
        parts.append(translate("notice.settlement.nothing_more", language))
    else:
        parts.extend(_payable(amount, content.due_on, "notice.still_to_pay", language))
    return parts
