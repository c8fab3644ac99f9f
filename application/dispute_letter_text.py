"""The words of a dispute's resolution letter (处理结果通知书), in Chinese (the default) or English.

The letter tells the household what it disputed, how the dispute came out and why, who decided
and when, and, when the bill was recomputed, the recompute: the bill's amount as issued and as
recomputed, the difference, and each line that differs with the figures that changed in it; then
the credit or debit note booked, its amount and the tariff version it was re-rated at. It closes
with the utility's service number. ``render_letter`` lays it out as a ``LetterDocument`` (title,
sections, tables) that a renderer turns into a PDF; ``render_letter_message`` is the text of the
message that carries it (an e-mail with the PDF attached, or a short SMS/WeChat text pointing to it).

Personal data is kept to the account number and the flat's address, as on a bill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

from application.notifications import MessageLanguage
from application.reminder_messages import ReminderSender, yuan_text
from domain.day_split import BUSINESS_TIME_ZONE

# Figures of a line shown per line at most (a line rarely changes in more than three).
MAXIMUM_FIGURES_SHOWN = 6
# Energy figures are shown to the MJ (three decimals of GJ), with more only when they have them.
ENERGY_PLACES_SHOWN = 3


@dataclass(frozen=True)
class FigureChange:
    """A figure of a bill line as issued and as recomputed (None: not there)."""

    name: str
    issued: str | None
    recomputed: str | None


@dataclass(frozen=True)
class LetterLine:
    """A line of the bill that the recompute changed: its amounts and the figures that changed."""

    code: str
    issued_yuan: Decimal | None
    recomputed_yuan: Decimal | None
    figures: tuple[FigureChange, ...]
    present_before: bool = True
    present_after: bool = True


@dataclass(frozen=True)
class LetterRecompute:
    """The recompute the resolution rests on."""

    bill_number: str
    season_code: str
    issued_yuan: Decimal
    recomputed_yuan: Decimal
    lines: tuple[LetterLine, ...]

    @property
    def difference_yuan(self) -> Decimal:
        """Recomputed minus issued: negative, the household was charged too much."""
        return self.recomputed_yuan - self.issued_yuan


@dataclass(frozen=True)
class LetterNote:
    """The credit (negative) or debit (positive) note booked, and what it was re-rated at."""

    number: str
    amount_yuan: Decimal
    season_code: str
    tariff_version: str
    document_number: str


@dataclass(frozen=True)
class LetterSubject:
    """What was disputed: a bill (its number), a reading (meter and time) or a payment (the
    receipt or transaction number the household quoted)."""

    kind: str
    bill_number: str = ""
    meter_serial: str = ""
    measured_at: datetime | None = None
    payment_reference: str = ""


@dataclass(frozen=True)
class ResolutionLetterContent:
    """Everything a resolution letter states (``outcome``: the dispute's closed state)."""

    dispute_id: UUID
    reference: str
    account_number: str
    community: str
    building: str
    entrance: str
    flat: str
    category: str
    channel: str
    subject: LetterSubject
    description: str
    disputed_amount_yuan: Decimal
    opened_on: date
    outcome: str
    reason: str
    decided_by: str
    decided_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    closed_on: date
    recompute: LetterRecompute | None
    note: LetterNote | None
    booked_before_yuan: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class LetterTable:
    """A table of the letter: a header row (or none), rows of cells, and each column's share of
    the text width."""

    header: tuple[str, ...] | None
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]


@dataclass(frozen=True)
class LetterSection:
    """A numbered part of the letter: its heading, paragraphs, then a table (or none)."""

    heading: str
    paragraphs: tuple[str, ...]
    table: LetterTable | None = None


@dataclass(frozen=True)
class LetterDocument:
    """A letter laid out, in one language, for a renderer."""

    language: MessageLanguage
    letterhead: str
    title: str
    reference_line: str
    salutation: str
    opening: str
    sections: tuple[LetterSection, ...]
    closing: tuple[str, ...]
    signature: tuple[str, ...]
    footer: str
    document_title: str  # the PDF's title
    page_label: str  # "第 {page} 页" / "Page {page}"


# -- labels --------------------------------------------------------------------------------------

_CATEGORIES = {
    "reading_wrong": ("抄表读数有误", "wrong meter reading"),
    "meter_faulty": ("热表故障", "faulty heat meter"),
    "area_wrong": ("计费面积有误", "wrong billed area"),
    "tariff_wrong": ("热价执行有误", "wrong tariff applied"),
    "payment_not_credited": ("缴费未入账", "payment not credited"),
    "poor_heating": ("供热不达标", "poor heating"),
}
_CHANNELS = {
    "counter": ("营业厅", "at the service counter"),
    "phone": ("电话", "by phone"),
    "wechat": ("微信", "on WeChat"),
}
_OUTCOMES = {
    "resolved_upheld": ("争议成立", "upheld"),
    "resolved_partly": ("争议部分成立", "upheld in part"),
    "rejected": ("争议不成立，予以驳回", "rejected"),
}
# Bill lines, named as on the bill (api/bill_explanations.py says them in full).
_LINES = {
    "tariff": ("执行热价", "tariff"),
    "season_days": ("采暖期天数", "heating season days"),
    "owner_segment": ("过户分段", "owner segment"),
    "energy_metered": ("计量热量", "metered heat"),
    "energy_allocated": ("分摊热量", "allocated heat"),
    "no_meter": ("无户用热表", "no heat meter"),
    "meter_broken": ("热表故障", "broken meter"),
    "heat_billed_as_measured": ("异常热量按实测", "unusual heat billed as measured"),
    "heat_replaced_by_estimate": ("异常热量按估算", "unusual heat replaced by an estimate"),
    "position_coefficient": ("位置系数", "position coefficient"),
    "area_fee": ("面积热费", "area fee"),
    "area_fee_share": ("本单面积热费", "area fee of the bill's days"),
    "suspension_charge": ("报停费", "suspension charge"),
    "heated_area_fee": ("供热天数面积热费", "area fee of the heated days"),
    "due_with_suspension": ("应缴合计", "due in all"),
    "base_part": ("基本热费", "base part"),
    "energy_part": ("热量热费", "energy part"),
    "metered_fee": ("计量热费", "metered fee"),
    "due_refund_only": ("应缴热费（多退少不补）", "due (refund only)"),
    "due_both_ways": ("应缴热费（多退少补）", "due (both ways)"),
    "due_capped": ("应缴热费（封顶）", "due (capped)"),
    "due_metered_only": ("应缴热费（按计量）", "due (metered only)"),
    "due_by_area": ("应缴热费（按面积）", "due (by area)"),
    "balance": ("差额", "difference"),
    "prepaid": ("已预交", "prepaid"),
    "settlement_amount": ("结算金额", "settlement amount"),
    "month_energy": ("当月用热", "heat of the month"),
    "metered_fee_to_date": ("累计计量热费", "metered fee to date"),
}
_FIGURES = {
    "measured_gj": ("实测热量 GJ", "measured heat GJ"),
    "estimated_gj": ("估算热量 GJ", "estimated heat GJ"),
    "energy_gj": ("热量 GJ", "heat GJ"),
    "building_energy_gj": ("楼栋总热量 GJ", "building heat GJ"),
    "month_energy_gj": ("当月热量 GJ", "month's heat GJ"),
    "season_energy_gj": ("本季累计 GJ", "season's heat GJ"),
    "days_measured": ("实测天数", "days measured"),
    "days_estimated": ("估算天数", "days estimated"),
    "days_without_data": ("无数据天数", "days without data"),
    "first_reading": ("起始读数", "first reading"),
    "last_reading": ("结束读数", "last reading"),
    "area_m2": ("面积 m²", "area m²"),
    "billed_area_m2": ("计费面积 m²", "billed area m²"),
    "heated_days": ("供热天数", "heated days"),
    "suspended_days": ("报停天数", "suspended days"),
    "season_days": ("采暖期天数", "season days"),
    "coefficient": ("位置系数", "position coefficient"),
    "weight": ("本户权重", "this flat's weight"),
    "weight_total": ("全楼权重", "all weights"),
    "area_price_yuan_per_m2": ("面积热价 元/m²", "area price 元/m²"),
    "energy_price_yuan_per_gj": ("计量热价 元/GJ", "energy price 元/GJ"),
    "base_share_percent": ("基本热费比例 %", "base share %"),
    "base_part_yuan": ("基本热费 元", "base part 元"),
    "energy_part_yuan": ("热量热费 元", "energy part 元"),
    "metered_fee_yuan": ("计量热费 元", "metered fee 元"),
    "area_fee_yuan": ("面积热费 元", "area fee 元"),
    "due_yuan": ("应缴 元", "due 元"),
    "prepaid_yuan": ("已预交 元", "prepaid 元"),
    "suspension_charge_yuan": ("报停费 元", "suspension charge 元"),
    "minimum_charge_yuan": ("最低收费 元", "minimum charge 元"),
    "version": ("热价版本", "tariff version"),
}


def _pick(labels: dict[str, tuple[str, str]], key: str, language: MessageLanguage) -> str:
    pair = labels.get(key)
    if pair is None:
        return key
    return pair[1] if language is MessageLanguage.EN else pair[0]


def category_label(category: str, language: MessageLanguage) -> str:
    """A dispute category as the household reads it."""
    return _pick(_CATEGORIES, category, language)


def outcome_label(outcome: str, language: MessageLanguage) -> str:
    """A closed dispute's outcome as the household reads it."""
    return _pick(_OUTCOMES, outcome, language)


# -- formatting ----------------------------------------------------------------------------------


def _chinese_day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _day(day: date, language: MessageLanguage) -> str:
    return day.isoformat() if language is MessageLanguage.EN else _chinese_day(day)


def _moment(moment: datetime, language: MessageLanguage) -> str:
    local = moment.astimezone(BUSINESS_TIME_ZONE)
    if language is MessageLanguage.EN:
        return f"{local:%Y-%m-%d %H:%M} (Beijing time)"
    return f"{_chinese_day(local.date())} {local:%H:%M}"


def _yuan(amount: Decimal | None) -> str:
    return "—" if amount is None else yuan_text(amount)


def _signed_yuan(amount: Decimal) -> str:
    return f"+{yuan_text(amount)}" if amount > 0 else yuan_text(amount)


def _address(content: ResolutionLetterContent, language: MessageLanguage) -> str:
    if language is MessageLanguage.EN:
        return f"{content.community}, building {content.building}, entrance {content.entrance}, flat {content.flat}"
    return f"{content.community}{content.building}号楼{content.entrance}单元{content.flat}室"


def _subject(subject: LetterSubject, language: MessageLanguage) -> str:
    zh = language is MessageLanguage.ZH
    if subject.kind == "bill":
        return f"账单 {subject.bill_number}" if zh else f"bill {subject.bill_number}"
    if subject.kind == "reading":
        moment = _moment(subject.measured_at, language) if subject.measured_at else ""
        return (
            f"热表 {subject.meter_serial} {moment} 的读数"
            if zh
            else f"the reading of meter {subject.meter_serial} at {moment}"
        )
    reference = subject.payment_reference or "—"
    return f"缴费（凭证号 {reference}）" if zh else f"a payment (receipt {reference})"


def _energy(text: str) -> str:
    """Energy to at least the MJ, trailing zeros beyond it dropped (``130.200000000`` → ``130.200``)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    exponent = number.normalize().as_tuple().exponent
    places = max(ENERGY_PLACES_SHOWN, -exponent if isinstance(exponent, int) else 0)
    return f"{number:.{places}f}"


def _reading(text: str) -> str:
    """A reading figure (``M-1 2026-04-01T00:00:00+08:00 130.200000000 GJ``) in Beijing time, to the MJ."""
    match = _READING.fullmatch(text)
    if match is None:
        return text
    try:
        moment = datetime.fromisoformat(match["at"]).astimezone(BUSINESS_TIME_ZONE)
    except ValueError:
        return text
    return f"{match['serial']} {moment:%Y-%m-%d %H:%M} {_energy(match['energy'])} GJ"


_READING = re.compile(r"(?P<serial>\S+) (?P<at>\S+) (?P<energy>-?[0-9.]+) GJ")


def _figure_value(name: str, value: str | None) -> str:
    """A figure as shown: energy to at least the MJ, money with its thousands, readings in Beijing time."""
    if value is None or value == "":
        return "—"
    if name.endswith("_gj"):
        return _energy(value)
    if name.endswith("_reading"):
        return _reading(value)
    if name.endswith("_yuan"):
        try:
            return yuan_text(Decimal(value))
        except InvalidOperation:
            return value
    return value


def _figures_text(line: LetterLine, language: MessageLanguage) -> str:
    shown = [
        f"{_pick(_FIGURES, change.name, language)}: "
        f"{_figure_value(change.name, change.issued)} → {_figure_value(change.name, change.recomputed)}"
        for change in line.figures[:MAXIMUM_FIGURES_SHOWN]
    ]
    if not line.present_before:
        shown.insert(0, "重算新增" if language is MessageLanguage.ZH else "added by the recompute")
    if not line.present_after:
        shown.insert(0, "重算后取消" if language is MessageLanguage.ZH else "dropped by the recompute")
    return "；".join(shown) if language is MessageLanguage.ZH else "; ".join(shown)


# -- the letter ----------------------------------------------------------------------------------


def render_letter(
    content: ResolutionLetterContent, language: MessageLanguage, sender: ReminderSender
) -> LetterDocument:
    """The letter laid out in ``language``."""
    zh = language is MessageLanguage.ZH
    sections = [_claim_section(content, language), _outcome_section(content, language)]
    if content.recompute is not None:
        sections.append(_recompute_section(content.recompute, language))
    if content.note is not None:
        sections.append(_note_section(content.note, language))
    numbered = tuple(
        LetterSection(_numbered(index, section.heading, language), section.paragraphs, section.table)
        for index, section in enumerate(sections, start=1)
    )
    return LetterDocument(
        language=language,
        letterhead=sender.name,
        title="供热费争议处理结果通知书" if zh else "Result of your heating bill dispute",
        reference_line=(
            f"工单号：{content.reference}　　日期：{_chinese_day(content.closed_on)}"
            if zh
            else f"Reference: {content.reference}    Date: {content.closed_on.isoformat()}"
        ),
        salutation=(
            f"尊敬的用户（户号 {content.account_number}，{_address(content, language)}）："
            if zh
            else f"Dear customer (account {content.account_number}, {_address(content, language)}),"
        ),
        opening=_opening(content, language),
        sections=numbered,
        closing=_closing(sender, language),
        signature=(sender.name, _day(content.closed_on, language)),
        footer=(
            f"工单号 {content.reference} · 争议编号 {content.dispute_id} · 本通知书依据账务系统记录生成"
            if zh
            else f"Reference {content.reference} · dispute {content.dispute_id} · made from the ledger's records"
        ),
        document_title=(
            f"供热费争议处理结果通知书 {content.reference}" if zh else f"Dispute resolution letter {content.reference}"
        ),
        page_label="第 {page} 页" if zh else "Page {page}",
    )


_CHINESE_NUMERALS = "一二三四五六七八九十"


def _numbered(index: int, heading: str, language: MessageLanguage) -> str:
    if language is MessageLanguage.EN:
        return f"{index}. {heading}"
    return f"{_CHINESE_NUMERALS[index - 1]}、{heading}"


def _opening(content: ResolutionLetterContent, language: MessageLanguage) -> str:
    category = category_label(content.category, language)
    channel = _pick(_CHANNELS, content.channel, language)
    if language is MessageLanguage.EN:
        return (
            f"On {content.opened_on.isoformat()} you told us {channel} about a {category} "
            f"(disputed amount {yuan_text(content.disputed_amount_yuan)} yuan). We have looked into it and "
            "settled it as follows."
        )
    return (
        f"您于{_chinese_day(content.opened_on)}通过{channel}反映的“{category}”问题"
        f"（争议金额 {yuan_text(content.disputed_amount_yuan)} 元），我公司已调查处理完毕，现将结果告知如下。"
    )


def _claim_section(content: ResolutionLetterContent, language: MessageLanguage) -> LetterSection:
    zh = language is MessageLanguage.ZH
    rows = (
        ("争议对象" if zh else "About", _subject(content.subject, language)),
        ("争议类别" if zh else "Category", category_label(content.category, language)),
        ("您反映的情况" if zh else "In your words", content.description),
        (
            "争议金额" if zh else "Disputed amount",
            f"{yuan_text(content.disputed_amount_yuan)} {'元' if zh else 'yuan'}",
        ),
        (
            "受理日期及渠道" if zh else "Received",
            ("，" if zh else ", ").join(
                (_day(content.opened_on, language), _pick(_CHANNELS, content.channel, language))
            ),
        ),
    )
    return LetterSection("争议事项" if zh else "What you disputed", (), LetterTable(None, rows, (0.25, 0.75)))


def _outcome_section(content: ResolutionLetterContent, language: MessageLanguage) -> LetterSection:
    zh = language is MessageLanguage.ZH
    outcome = outcome_label(content.outcome, language)
    paragraphs = (
        f"处理结论：{outcome}。理由：{content.reason}" if zh else f"Outcome: {outcome}. Reason: {content.reason}",
        _booking_sentence(content, language),
    )
    comma = "，" if zh else ", "
    rows = [("处理人" if zh else "Decided by", f"{content.decided_by}{comma}{_moment(content.decided_at, language)}")]
    if content.approved_by is not None and content.approved_at is not None:
        approval = f"{content.approved_by}{comma}{_moment(content.approved_at, language)}"
        rows.append(("审批人" if zh else "Approved by", approval))
    return LetterSection(
        "处理结果" if zh else "How it was settled", paragraphs, LetterTable(None, tuple(rows), (0.25, 0.75))
    )


def _booking_sentence(content: ResolutionLetterContent, language: MessageLanguage) -> str:
    """What the resolution booked, in one sentence."""
    zh = language is MessageLanguage.ZH
    note = content.note
    if content.outcome == "rejected":
        return "账单不作调整。" if zh else "Your bill stays as it is."
    if note is None:
        if content.booked_before_yuan != 0:
            return (
                f"重算差额已由此前的争议处理记账（{yuan_text(content.booked_before_yuan)} 元），本次无需另行调整。"
                if zh
                else f"The difference was booked by an earlier dispute ({yuan_text(content.booked_before_yuan)} "
                "yuan): nothing more is booked now."
            )
        return "本次处理无需调整账单。" if zh else "Nothing on your bill needs adjusting."
    amount = yuan_text(abs(note.amount_yuan))
    if note.amount_yuan < 0:
        return (
            f"已开具贷项调整单 {note.number}，金额 {amount} 元，已记入您的账户，可抵扣应缴热费，也可申请退款。"
            if zh
            else f"A credit note {note.number} of {amount} yuan is booked to your account: it settles heating "
            "charges due, or is refunded on request."
        )
    return (
        f"已开具借项调整单 {note.number}，金额 {amount} 元，请按期缴纳。"
        if zh
        else f"A debit note {note.number} of {amount} yuan is booked to your account: please pay it when due."
    )


def _recompute_section(recompute: LetterRecompute, language: MessageLanguage) -> LetterSection:
    zh = language is MessageLanguage.ZH
    difference = _signed_yuan(recompute.difference_yuan)
    paragraph = (
        f"账单 {recompute.bill_number}（{recompute.season_code} 采暖季）按更正后的数据重新计算：原金额 "
        f"{yuan_text(recompute.issued_yuan)} 元，重算金额 {yuan_text(recompute.recomputed_yuan)} 元，"
        f"差额 {difference} 元（负数表示多收）。有变化的项目如下："
        if zh
        else f"Bill {recompute.bill_number} (season {recompute.season_code}) recomputed from the corrected data: "
        f"{yuan_text(recompute.issued_yuan)} yuan as issued, {yuan_text(recompute.recomputed_yuan)} yuan "
        f"recomputed, a difference of {difference} yuan (negative: charged too much). The lines that differ:"
    )
    header = (
        ("项目", "原账单（元）", "重算（元）", "变化的数据")
        if zh
        else ("Line", "Issued (yuan)", "Recomputed (yuan)", "What changed")
    )
    rows = tuple(
        (
            _pick(_LINES, line.code, language),
            _yuan(line.issued_yuan),
            _yuan(line.recomputed_yuan),
            _figures_text(line, language),
        )
        for line in recompute.lines
    )
    table = LetterTable(header, rows, (0.2, 0.15, 0.15, 0.5)) if rows else None
    return LetterSection("账单重算" if zh else "The bill recomputed", (paragraph,), table)


def _note_section(note: LetterNote, language: MessageLanguage) -> LetterSection:
    zh = language is MessageLanguage.ZH
    kind = (
        ("贷项，减少应缴" if note.amount_yuan < 0 else "借项，需补缴")
        if zh
        else ("credit" if note.amount_yuan < 0 else "debit")
    )
    version = note.tariff_version or "—"
    document = f"（批准文号 {note.document_number}）" if zh and note.document_number else ""
    rows = (
        ("调整单号" if zh else "Note number", note.number),
        (
            "金额" if zh else "Amount",
            f"{_signed_yuan(note.amount_yuan)} 元（{kind}）"
            if zh
            else f"{_signed_yuan(note.amount_yuan)} yuan ({kind})",
        ),
        (
            "所属计费期" if zh else "Billing period",
            f"{note.season_code} 采暖季" if zh else f"season {note.season_code}",
        ),
        (
            "计价依据" if zh else "Priced at",
            f"该计费期执行的第 {version} 版热价{document}"
            if zh
            else f"the period's own tariff, version {version}"
            + (f" (document {note.document_number})" if note.document_number else ""),
        ),
    )
    return LetterSection("调整单" if zh else "The note booked", (), LetterTable(None, rows, (0.25, 0.75)))


def _closing(sender: ReminderSender, language: MessageLanguage) -> tuple[str, ...]:
    if language is MessageLanguage.EN:
        ask = f"call {sender.service_phone} or " if sender.service_phone else ""
        return (f"If you have questions about this result, please {ask}come to a service counter.", "Thank you.")
    ask = f"致电 {sender.service_phone} 或" if sender.service_phone else ""
    return (f"如对处理结果有疑问，请{ask}到营业厅咨询。", "特此通知。")


# -- the message that carries it ------------------------------------------------------------------


def render_letter_message(
    content: ResolutionLetterContent,
    language: MessageLanguage,
    sender: ReminderSender,
    attached: bool,
    letter_url: str = "",
) -> tuple[str, str]:
    """The subject and body of the message with the letter: an e-mail with it ``attached``, or a
    short text for SMS/WeChat pointing to it (online at ``letter_url`` when given, or at a counter)."""
    zh = language is MessageLanguage.ZH
    outcome = outcome_label(content.outcome, language)
    booking = _booking_sentence(content, language)
    if zh:
        subject = f"【{sender.name}】供热费争议处理结果通知（工单号 {content.reference}）"
        parts = [
            f"【{sender.name}】尊敬的用户（户号 {content.account_number}，{content.community}）：",
            f"您的供热费争议（工单号 {content.reference}）已办结：{outcome}。{booking}",
        ]
        if attached:
            parts.append("处理结果通知书见附件（PDF）。")
        elif letter_url:
            parts.append(f"处理结果通知书请查看：{letter_url}，也可到营业厅领取。")
        else:
            parts.append("处理结果通知书可到营业厅领取。")
        if sender.service_phone:
            parts.append(f"如有疑问，请致电 {sender.service_phone}。")
        return subject, "".join(parts)
    subject = f"[{sender.name}] Result of your heating bill dispute {content.reference}"
    sentences = [
        f"Dear customer (account {content.account_number}, {content.community}),",
        f"your heating bill dispute {content.reference} is settled: {outcome}. {booking}",
    ]
    if attached:
        sentences.append("The resolution letter is attached (PDF).")
    elif letter_url:
        sentences.append(f"Read the resolution letter at {letter_url}, or collect it at a service counter.")
    else:
        sentences.append("Collect the resolution letter at a service counter.")
    if sender.service_phone:
        sentences.append(f"For questions, call {sender.service_phone}.")
    sentences.append(f"-- {sender.name}")
    return subject, " ".join(sentences)
