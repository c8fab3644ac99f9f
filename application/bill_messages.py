"""The words of a bill notice (the prepayment invoice, a monthly statement, the settlement), in
Chinese (the default) or English.

A notice tells the household that a bill was issued and what it says in a few lines: the bill's
number, its period, the amount, when it falls due, for statements and the settlement a short
summary of the heat used, and what to pay or what was credited. The bill itself, with every line,
is what customer service explains; the notice is the text message that brings it. A Chinese text
starts with the sender's signature in 【】, as Chinese SMS gateways require. Personal data is kept
to the account number and the community, as in reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from application.notifications import MessageLanguage
from application.reminder_messages import ReminderSender, yuan_text

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
    if MessageLanguage(language) is MessageLanguage.EN:
        return _english(content, sender)
    return _chinese(content, sender)


def gj_text(energy_gj: Decimal) -> str:
    """Heat to 0.001 GJ (half up), as a bill shows it."""
    return f"{energy_gj.quantize(GJ_PLACES, rounding=ROUND_HALF_UP)}"


# -- Chinese --------------------------------------------------------------------------------------


def _chinese_day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _chinese_period(content: BillNoticeContent) -> str:
    return f"{_chinese_day(content.first_day)}至{_chinese_day(content.last_day)}"


def _chinese_month(label: str) -> str:
    """``2025-12`` as ``2025年12月`` (a label that is not a month is shown as it is)."""
    year, _, month = label.partition("-")
    return f"{year}年{int(month)}月" if year.isdigit() and month.isdigit() else label


def _chinese(content: BillNoticeContent, sender: ReminderSender) -> tuple[str, str]:
    greeting = f"【{sender.name}】尊敬的用户（户号 {content.account_number}，{content.community}）："
    if content.kind is NoticeKind.PREPAYMENT:
        title = f"{content.season_code}采暖季供热费缴费通知"
        parts = [
            f"您{content.season_code}采暖季（{_chinese_period(content)}）的供热费预缴账单已出具",
            f"（账单号 {content.number}），",
            *_chinese_payable(content.amount_yuan, content.due_on, "应缴"),
        ]
    elif content.kind is NoticeKind.STATEMENT:
        month = _chinese_month(content.label)
        title = f"{month}供热账单"
        parts = [
            f"您{month}（{_chinese_period(content)}）的用热账单已出具（账单号 {content.number}）：",
            *_chinese_statement(content),
            "本账单无需缴费。",
        ]
    else:
        title = f"{content.season_code}采暖季供热费结算通知"
        parts = [
            f"您{content.season_code}采暖季（{_chinese_period(content)}）的供热费结算单已出具",
            f"（账单号 {content.number}）：",
            *_chinese_settlement(content),
        ]
    if sender.service_phone:
        parts.append(f"如有疑问，请致电 {sender.service_phone}。")
    return f"【{sender.name}】{title}", greeting + "".join(parts)


def _chinese_payable(amount_yuan: Decimal, due_on: date | None, verb: str) -> list[str]:
    if amount_yuan <= 0:
        return ["无需缴费。"]
    due = f"，缴费截止日为{_chinese_day(due_on)}" if due_on is not None else ""
    return [
        f"{verb} {yuan_text(amount_yuan)} 元{due}。",
        "请到营业厅或通过线上渠道缴费；如已缴费，请忽略本通知。",
    ]


def _chinese_statement(content: BillNoticeContent) -> list[str]:
    heat = content.heat
    if heat is None:
        return ["您家按面积计收供热费，本月没有计量用热数据。"]
    season = f"，本采暖季累计 {gj_text(heat.season_energy_gj)} GJ" if heat.season_energy_gj is not None else ""
    parts = [f"本月用热 {gj_text(heat.energy_gj)} GJ{season}。"]
    if content.fee_to_date_yuan is not None:
        parts.append(
            f"按计量计算，截至本月的供热费约为 {yuan_text(content.fee_to_date_yuan)} 元，"
            "仅供参考，以采暖季结束后的结算为准。"
        )
    return parts


def _chinese_heat(heat: HeatSummary | None) -> str:
    if heat is None:
        return "本季按面积结算"
    used = "本季分摊用热" if heat.allocated else "本季用热"
    estimated = f"（其中估算 {gj_text(heat.estimated_gj)} GJ）" if heat.estimated_gj > 0 else ""
    return f"{used} {gj_text(heat.energy_gj)} GJ{estimated}"


def _chinese_settlement(content: BillNoticeContent) -> list[str]:
    parts = [_chinese_heat(content.heat)]
    if content.metered_due_yuan is not None and content.prepaid_yuan is not None:
        parts.append(f"，应缴 {yuan_text(content.metered_due_yuan)} 元，预缴 {yuan_text(content.prepaid_yuan)} 元")
    parts.append("。")
    amount = content.amount_yuan
    if amount < 0:
        parts.append(f"应缴少于预缴，差额 {yuan_text(-amount)} 元已记入您的账户，可抵扣应缴的供热费，也可申请退款。")
    elif amount == 0:
        parts.append("无需补缴。")
    else:
        parts.extend(_chinese_payable(amount, content.due_on, "需补缴"))
    return parts


# -- English --------------------------------------------------------------------------------------


def _english_period(content: BillNoticeContent) -> str:
    return f"{content.first_day.isoformat()} to {content.last_day.isoformat()}"


def _english(content: BillNoticeContent, sender: ReminderSender) -> tuple[str, str]:
    greeting = f"Dear customer (account {content.account_number}, {content.community}),"
    if content.kind is NoticeKind.PREPAYMENT:
        title = f"Heating charges {content.season_code}: prepayment invoice"
        sentences = [
            greeting,
            f"your prepayment invoice for heating season {content.season_code} ({_english_period(content)}),"
            f" bill number {content.number}, is issued.",
            *_english_payable(content.amount_yuan, content.due_on, "Amount due:"),
        ]
    elif content.kind is NoticeKind.STATEMENT:
        title = f"Heating statement for {content.label}"
        sentences = [
            greeting,
            f"your heating statement for {content.label} ({_english_period(content)}),"
            f" bill number {content.number}, is issued.",
            *_english_statement(content),
            "Nothing is to be paid for this statement.",
        ]
    else:
        title = f"Heating charges {content.season_code}: settlement"
        sentences = [
            greeting,
            f"your settlement for heating season {content.season_code} ({_english_period(content)}),"
            f" bill number {content.number}, is issued.",
            *_english_settlement(content),
        ]
    if sender.service_phone:
        sentences.append(f"For questions about your bill, call {sender.service_phone}.")
    sentences.append(f"-- {sender.name}")
    return f"[{sender.name}] {title}", " ".join(sentences)


def _english_payable(amount_yuan: Decimal, due_on: date | None, lead: str) -> list[str]:
    if amount_yuan <= 0:
        return ["Nothing is to be paid."]
    due = f", due by {due_on.isoformat()}" if due_on is not None else ""
    return [
        f"{lead} {yuan_text(amount_yuan)} yuan{due}.",
        "Please pay at a service counter or online; if you have paid already, please disregard this message.",
    ]


def _english_statement(content: BillNoticeContent) -> list[str]:
    heat = content.heat
    if heat is None:
        return ["Your heating is charged by floor area; there is no metered heat for this month."]
    season = f", {gj_text(heat.season_energy_gj)} GJ so far this season" if heat.season_energy_gj is not None else ""
    sentences = [f"Heat used this month: {gj_text(heat.energy_gj)} GJ{season}."]
    if content.fee_to_date_yuan is not None:
        sentences.append(
            f"The metered charges to date come to about {yuan_text(content.fee_to_date_yuan)} yuan:"
            " a guide only, the settlement after the season decides."
        )
    return sentences


def _english_heat(heat: HeatSummary | None) -> str:
    if heat is None:
        return "The season is settled by floor area"
    used = "Heat allocated to you" if heat.allocated else "Heat used"
    estimated = f" ({gj_text(heat.estimated_gj)} GJ of it estimated)" if heat.estimated_gj > 0 else ""
    return f"{used}: {gj_text(heat.energy_gj)} GJ{estimated}"


def _english_settlement(content: BillNoticeContent) -> list[str]:
    summary = _english_heat(content.heat)
    if content.metered_due_yuan is not None and content.prepaid_yuan is not None:
        summary += (
            f"; charges for the season {yuan_text(content.metered_due_yuan)} yuan"
            f" against a prepayment of {yuan_text(content.prepaid_yuan)} yuan"
        )
    sentences = [summary + "."]
    amount = content.amount_yuan
    if amount < 0:
        sentences.append(
            f"The difference of {yuan_text(-amount)} yuan is credited to your account,"
            " to be set against charges due or refunded on request."
        )
    elif amount == 0:
        sentences.append("Nothing more is to be paid.")
    else:
        sentences.extend(_english_payable(amount, content.due_on, "Still to pay:"))
    return sentences
