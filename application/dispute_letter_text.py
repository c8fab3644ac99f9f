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

from application.message_catalogue import find, translate
from application.notifications import MessageLanguage
from application.reminder_messages import (
    ReminderSender,
    day_text,
    greeting,
    message_body,
    message_subject,
    yuan_text,
)
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
# The words are in the message catalogue (application/locale/*/LC_MESSAGES/letters.po).

# Punctuation between the items of a list, as each language writes it.
LIST_SEPARATORS = {MessageLanguage.ZH: "；", MessageLanguage.EN: "; "}
_CHINESE_NUMERALS = "一二三四五六七八九十"


def _label(kind: str, name: str, language: MessageLanguage) -> str:
    """A name of ``kind`` (letter.<kind>.<name>) in ``language``; the name itself when it has none."""
    return find(f"letter.{kind}.{name}", language) or name


def category_label(category: str, language: MessageLanguage) -> str:
    """A dispute category as the household reads it."""
    return _label("category", category, language)


def outcome_label(outcome: str, language: MessageLanguage) -> str:
    """A closed dispute's outcome as the household reads it."""
    return _label("outcome", outcome, language)


# -- formatting ----------------------------------------------------------------------------------


def _moment(moment: datetime, language: MessageLanguage) -> str:
    local = moment.astimezone(BUSINESS_TIME_ZONE)
    return translate("letter.moment", language, day=day_text(local.date(), language), time=f"{local:%H:%M}")


def _yuan(amount: Decimal | None) -> str:
    return "—" if amount is None else yuan_text(amount)


def _signed_yuan(amount: Decimal) -> str:
    return f"+{yuan_text(amount)}" if amount > 0 else yuan_text(amount)


def _address(content: ResolutionLetterContent, language: MessageLanguage) -> str:
    return translate(
        "letter.address",
        language,
        community=content.community,
        building=content.building,
        entrance=content.entrance,
        flat=content.flat,
    )


def _subject(subject: LetterSubject, language: MessageLanguage) -> str:
    if subject.kind == "bill":
        return translate("letter.subject.bill", language, bill_number=subject.bill_number)
    if subject.kind == "reading":
        moment = _moment(subject.measured_at, language) if subject.measured_at else ""
        return translate("letter.subject.reading", language, meter_serial=subject.meter_serial, moment=moment)
    return translate("letter.subject.payment", language, reference=subject.payment_reference or "—")


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
        f"{_label('figure', change.name, language)}: "
        f"{_figure_value(change.name, change.issued)} → {_figure_value(change.name, change.recomputed)}"
        for change in line.figures[:MAXIMUM_FIGURES_SHOWN]
    ]
    if not line.present_before:
        shown.insert(0, translate("letter.figures.added", language))
    if not line.present_after:
        shown.insert(0, translate("letter.figures.dropped", language))
    return LIST_SEPARATORS[language].join(shown)


# -- the letter ----------------------------------------------------------------------------------


def render_letter(
    content: ResolutionLetterContent, language: MessageLanguage, sender: ReminderSender
) -> LetterDocument:
    """The letter laid out in ``language``."""
    sections = [_claim_section(content, language), _outcome_section(content, language)]
    if content.recompute is not None:
        sections.append(_recompute_section(content.recompute, language))
    if content.note is not None:
        sections.append(_note_section(content.note, language))
    numbered = tuple(
        LetterSection(_numbered(index, section.heading, language), section.paragraphs, section.table)
        for index, section in enumerate(sections, start=1)
    )
    reference = content.reference
    return LetterDocument(
        language=language,
        letterhead=sender.name,
        title=translate("letter.title", language),
        reference_line=translate(
            "letter.reference_line", language, reference=reference, day=day_text(content.closed_on, language)
        ),
        salutation=translate(
            "letter.salutation",
            language,
            account_number=content.account_number,
            address=_address(content, language),
        ),
        opening=_opening(content, language),
        sections=numbered,
        closing=_closing(sender, language),
        signature=(sender.name, day_text(content.closed_on, language)),
        footer=translate("letter.footer", language, reference=reference, dispute_id=content.dispute_id),
        document_title=translate("letter.document_title", language, reference=reference),
        # The renderer fills {page} page by page: the template itself, unfilled.
        page_label=find("letter.page_label", language) or "{page}",
    )


def _numbered(index: int, heading: str, language: MessageLanguage) -> str:
    number = _CHINESE_NUMERALS[index - 1] if language is MessageLanguage.ZH else str(index)
    return translate("letter.section_heading", language, number=number, heading=heading)


def _opening(content: ResolutionLetterContent, language: MessageLanguage) -> str:
    return translate(
        "letter.opening",
        language,
        opened_on=day_text(content.opened_on, language),
        channel=_label("channel", content.channel, language),
        category=category_label(content.category, language),
        amount=yuan_text(content.disputed_amount_yuan),
    )


def _claim_section(content: ResolutionLetterContent, language: MessageLanguage) -> LetterSection:
    received = translate(
        "letter.claim.received_value",
        language,
        day=day_text(content.opened_on, language),
        channel=_label("channel", content.channel, language),
    )
    rows = (
        (translate("letter.claim.about", language), _subject(content.subject, language)),
        (translate("letter.claim.category", language), category_label(content.category, language)),
        (translate("letter.claim.description", language), content.description),
        (
            translate("letter.claim.amount", language),
            translate("letter.amount", language, amount=yuan_text(content.disputed_amount_yuan)),
        ),
        (translate("letter.claim.received", language), received),
    )
    heading = translate("letter.claim.heading", language)
    return LetterSection(heading, (), LetterTable(None, rows, (0.25, 0.75)))


def _outcome_section(content: ResolutionLetterContent, language: MessageLanguage) -> LetterSection:
    outcome = outcome_label(content.outcome, language)
    paragraphs = (
        translate("letter.result.conclusion", language, outcome=outcome, reason=content.reason),
        _booking_sentence(content, language),
    )
    decided = _person_at(content.decided_by, content.decided_at, language)
    rows = [(translate("letter.result.decided_by", language), decided)]
    if content.approved_by is not None and content.approved_at is not None:
        approval = _person_at(content.approved_by, content.approved_at, language)
        rows.append((translate("letter.result.approved_by", language), approval))
    heading = translate("letter.result.heading", language)
    return LetterSection(heading, paragraphs, LetterTable(None, tuple(rows), (0.25, 0.75)))


def _person_at(person: str, moment: datetime, language: MessageLanguage) -> str:
    return translate("letter.result.person_at", language, person=person, moment=_moment(moment, language))


def _booking_sentence(content: ResolutionLetterContent, language: MessageLanguage) -> str:
    """What the resolution booked, in one sentence."""
    note = content.note
    if content.outcome == "rejected":
        return translate("letter.booking.rejected", language)
    if note is None:
        if content.booked_before_yuan != 0:
            amount = yuan_text(content.booked_before_yuan)
            return translate("letter.booking.booked_before", language, amount=amount)
        return translate("letter.booking.nothing", language)
    key = "letter.booking.credit" if note.amount_yuan < 0 else "letter.booking.debit"
    return translate(key, language, number=note.number, amount=yuan_text(abs(note.amount_yuan)))


def _recompute_section(recompute: LetterRecompute, language: MessageLanguage) -> LetterSection:
    paragraph = translate(
        "letter.recompute.paragraph",
        language,
        bill_number=recompute.bill_number,
        season=recompute.season_code,
        issued=yuan_text(recompute.issued_yuan),
        recomputed=yuan_text(recompute.recomputed_yuan),
        difference=_signed_yuan(recompute.difference_yuan),
    )
    header = tuple(
        translate(f"letter.recompute.column.{column}", language)
        for column in ("line", "issued", "recomputed", "changes")
    )
    rows = tuple(
        (
            _label("line", line.code, language),
            _yuan(line.issued_yuan),
            _yuan(line.recomputed_yuan),
            _figures_text(line, language),
        )
        for line in recompute.lines
    )
    table = LetterTable(header, rows, (0.2, 0.15, 0.15, 0.5)) if rows else None
    return LetterSection(translate("letter.recompute.heading", language), (paragraph,), table)


def _note_section(note: LetterNote, language: MessageLanguage) -> LetterSection:
    kind = translate("letter.note.kind.credit" if note.amount_yuan < 0 else "letter.note.kind.debit", language)
    document = (
        translate("letter.note.document", language, document_number=note.document_number)
        if note.document_number
        else ""
    )
    priced_at = translate(
        "letter.note.priced_at_value", language, version=note.tariff_version or "—", document=document
    )
    rows = (
        (translate("letter.note.number", language), note.number),
        (
            translate("letter.note.amount", language),
            translate("letter.note.amount_value", language, amount=_signed_yuan(note.amount_yuan), kind=kind),
        ),
        (
            translate("letter.note.period", language),
            translate("letter.note.period_value", language, season=note.season_code),
        ),
        (translate("letter.note.priced_at", language), priced_at),
    )
    heading = translate("letter.note.heading", language)
    return LetterSection(heading, (), LetterTable(None, rows, (0.25, 0.75)))


def _closing(sender: ReminderSender, language: MessageLanguage) -> tuple[str, ...]:
    if sender.service_phone:
        ask = translate("letter.closing.call", language, service_phone=sender.service_phone)
    else:
        ask = translate("letter.closing.counter", language)
    return (ask, translate("letter.closing.thanks", language))


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
    language = MessageLanguage(language)
    settled = translate(
        "letter.message.settled",
        language,
        reference=content.reference,
        outcome=outcome_label(content.outcome, language),
        booking=_booking_sentence(content, language),
    )
    parts = [greeting(content.account_number, content.community, language), settled]
    if attached:
        parts.append(translate("letter.message.attached", language))
    elif letter_url:
        parts.append(translate("letter.message.online", language, letter_url=letter_url))
    else:
        parts.append(translate("letter.message.counter", language))
    if sender.service_phone:
        parts.append(translate("letter.message.questions", language, service_phone=sender.service_phone))
    title = translate("letter.message.title", language, reference=content.reference)
    return message_subject(title, language, sender), message_body(parts, language, sender)
