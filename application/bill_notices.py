"""Bill notices: every issued bill (prepayment invoice, monthly statement, settlement) reaches the
household through the channel its contact chose, by way of the notification outbox.

A notice pass reads the issued bills of a selection (a season, optionally one kind, one statement
month, one community) from the billing read models, page by page, and writes a notice for each
bill that has none yet to the outbox, rendered in its contact's language. A notice is named by
the bill's id (``bill:<bill id>``) and the outbox keeps one message per name, ever: repeating a
pass, or two passes at once, writes nothing twice, and a household that gets a contact later gets
the notices of its bills on the next pass. Households without a contact are listed as skipped.
Delivery is not here: the delivery job sends what the outbox holds, with retries and dead letters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Protocol
from uuid import UUID, uuid4

from application.authorization import Permission, Principal
from application.bill_messages import BillNoticeContent, HeatSummary, NoticeKind, render_bill_notice
from application.notifications import Contact, ContactBook, MessageKind, Outbox, OutgoingMessage
from application.reminder_messages import ReminderSender
from domain.billing import BillKind, EnergyBasis
from domain.payment_terms import due_on
from domain.values import CommandContext

# Bills read per page; a pass over a city's season is a few hundred pages.
PAGE_SIZE = 500
# A bound on the pages of one pass (5 million bills): a loop that does not end is a bug.
MAXIMUM_PAGES = 10_000
DEFAULT_REASON = "bill notices"


class BillNoticeSkip(StrEnum):
    """Why an issued bill gets no notice now (also message keys)."""

    NO_CONTACT = "bill_notice_no_contact"
    BILL_NOT_FOUND = "bill_notice_bill_not_found"  # the read model lost it under the pass (a rebuild)


def notice_key(bill_id: UUID) -> str:
    """The outbox name of a bill's notice: one per bill, ever."""
    return f"bill:{bill_id}"


@dataclass(frozen=True)
class BillSelection:
    """Which issued bills a pass looks at: a season's, of one kind and one statement month (its
    label) when given, in one community or the city."""

    season_code: str
    kind: BillKind | None = None
    month: str | None = None
    community: str | None = None


class IssuedBill(Protocol):
    """An issued bill as a page of the selection lists it."""

    @property
    def bill_id(self) -> UUID: ...
    @property
    def account_number(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def number(self) -> str: ...
    @property
    def amount_yuan(self) -> Decimal: ...


class BillLineView(Protocol):
    """One line of a bill: its code, amount and figures (as text)."""

    @property
    def code(self) -> str: ...
    @property
    def amount_yuan(self) -> Decimal | None: ...
    @property
    def figures(self) -> dict[str, str]: ...


class NoticeBill(Protocol):
    """An issued bill with the lines a notice summarises."""

    @property
    def bill_id(self) -> UUID: ...
    @property
    def account_number(self) -> str: ...
    @property
    def community(self) -> str: ...
    @property
    def season_code(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def number(self) -> str: ...
    @property
    def issued_on(self) -> date: ...
    @property
    def first_day(self) -> date: ...
    @property
    def last_day(self) -> date: ...
    @property
    def amount_yuan(self) -> Decimal: ...
    @property
    def basis(self) -> str: ...
    @property
    def lines(self) -> Sequence[BillLineView]: ...


class IssuedBillReader(Protocol):
    """The billing read models, as a notice pass reads them."""

    def issued_bills(self, selection: BillSelection, after_number: str | None, limit: int) -> Sequence[IssuedBill]:
        """Up to ``limit`` bills of the selection, by bill number, after ``after_number``."""
        ...

    def bills(self, bill_ids: Sequence[UUID]) -> Mapping[UUID, NoticeBill]:
        """These bills with their lines, by id (a bill the read model does not hold is left out)."""
        ...


@dataclass(frozen=True)
class NoticeOutcome:
    """What the pass did for one bill: the notice written (its message id), or why none was."""

    account_number: str
    bill_number: str
    kind: str
    amount_yuan: Decimal
    message_id: UUID | None
    skip: str | None


@dataclass(frozen=True)
class BillNoticeSummary:
    """A notice pass: its selection, the notices written, the bills skipped (with the reason) and
    how many bills had their notice already."""

    selection: BillSelection
    written: tuple[NoticeOutcome, ...]
    skipped: tuple[NoticeOutcome, ...]
    already_written: int

    @property
    def bills(self) -> int:
        return len(self.written) + len(self.skipped) + self.already_written


class BillNotices:
    """Notice passes, with the caller's permission checked first."""

    def __init__(self, reader: IssuedBillReader, contacts: ContactBook, outbox: Outbox, sender: ReminderSender) -> None:
        self.reader = reader
        self.contacts = contacts
        self.outbox = outbox
        self.sender = sender

    def notify(self, principal: Principal, selection: BillSelection, reason: str = DEFAULT_REASON) -> BillNoticeSummary:
        """Write a notice for each bill of the selection that has none yet to the outbox."""
        principal.require(Permission.SEND_REMINDERS)
        context = CommandContext(principal.name, reason.strip() or DEFAULT_REASON, uuid4())
        written: list[NoticeOutcome] = []
        skipped: list[NoticeOutcome] = []
        already = 0
        after: str | None = None
        for _ in range(MAXIMUM_PAGES):
            page = self.reader.issued_bills(selection, after, PAGE_SIZE)
            if not page:
                break
            assert after is None or page[0].number > after, "pages follow the bill number"
            after = page[-1].number
            page_written, page_skipped, page_already = self._page(page, context)
            written.extend(page_written)
            skipped.extend(page_skipped)
            already += page_already
        else:
            raise AssertionError(f"a notice pass reads at most {MAXIMUM_PAGES} pages")
        return BillNoticeSummary(selection, tuple(written), tuple(skipped), already)

    def _page(
        self, page: Sequence[IssuedBill], context: CommandContext
    ) -> tuple[list[NoticeOutcome], list[NoticeOutcome], int]:
        """One page: a look-up of the notices written, one of the contacts and one of the bills
        to write, then the notices of the bills still without one, written together."""
        present = self.outbox.written([notice_key(bill.bill_id) for bill in page])
        missing = [bill for bill in page if notice_key(bill.bill_id) not in present]
        contacts = self.contacts.contacts([bill.account_number for bill in missing])
        reachable = [bill.bill_id for bill in missing if bill.account_number in contacts]
        bills = self.reader.bills(reachable) if reachable else {}
        skipped: list[NoticeOutcome] = []
        to_write: list[tuple[IssuedBill, OutgoingMessage]] = []
        for issued in missing:
            contact = contacts.get(issued.account_number)
            bill = bills.get(issued.bill_id)
            if contact is None:
                skipped.append(_outcome(issued, None, BillNoticeSkip.NO_CONTACT))
            elif bill is None:  # a read model rebuilt under the pass: the next pass writes it
                skipped.append(_outcome(issued, None, BillNoticeSkip.BILL_NOT_FOUND))
            else:
                to_write.append((issued, self._message(bill, contact, context)))
        message_ids = self.outbox.enqueue_all([message for _, message in to_write])
        written = [
            _outcome(issued, message_id, None)
            for (issued, _), message_id in zip(to_write, message_ids, strict=True)
            if message_id is not None
        ]
        # A notice another pass wrote meanwhile was written once, by that pass.
        already = len(page) - len(missing) + len(to_write) - len(written)
        return written, skipped, already

    def _message(self, bill: NoticeBill, contact: Contact, context: CommandContext) -> OutgoingMessage:
        content = notice_content(bill)
        subject, body = render_bill_notice(content, contact.language, self.sender)
        return OutgoingMessage(
            dedup_key=notice_key(bill.bill_id),
            kind=MessageKind(content.kind.value),
            account_number=bill.account_number,
            channel=contact.channel,
            address=contact.address,
            language=contact.language,
            subject=subject,
            body=body,
            amount_yuan=bill.amount_yuan,
            stage_days=0,
            created_by=context.actor,
            reason=context.reason,
            correlation_id=context.correlation_id,
        )


def _outcome(bill: IssuedBill, message_id: UUID | None, skip: BillNoticeSkip | None) -> NoticeOutcome:
    return NoticeOutcome(
        bill.account_number, bill.number, str(bill.kind), bill.amount_yuan, message_id, skip.value if skip else None
    )


# -- what a notice says, from the bill's lines ------------------------------------------------------


def notice_content(bill: NoticeBill) -> BillNoticeContent:
    """The figures of a bill's notice: its own fields, when it falls due, and from its lines the
    heat used and (settlement) what was due against the prepayment. A line a bill does not have
    leaves its figure out of the notice rather than failing it."""
    kind = NoticeKind(str(bill.kind))
    lines = {line.code: line for line in bill.lines}
    content = BillNoticeContent(
        kind=kind,
        account_number=bill.account_number,
        community=bill.community,
        season_code=bill.season_code,
        label=bill.label,
        number=bill.number,
        first_day=bill.first_day,
        last_day=bill.last_day,
        amount_yuan=bill.amount_yuan,
        due_on=None if kind is NoticeKind.STATEMENT else due_on(BillKind(kind.value), bill.issued_on, bill.first_day),
    )
    if kind is NoticeKind.STATEMENT:
        return _with_statement_figures(content, lines)
    if kind is NoticeKind.SETTLEMENT:
        return _with_settlement_figures(content, bill.basis, lines)
    return content


def _with_statement_figures(content: BillNoticeContent, lines: dict[str, BillLineView]) -> BillNoticeContent:
    month = lines.get("month_energy")
    month_gj = _decimal(month.figures.get("month_energy_gj")) if month else None
    if month is None or month_gj is None:
        return content
    fee = lines.get("metered_fee_to_date")
    heat = HeatSummary(month_gj, season_energy_gj=_decimal(month.figures.get("season_energy_gj")))
    return replace(content, heat=heat, fee_to_date_yuan=fee.amount_yuan if fee else None)


def _with_settlement_figures(
    content: BillNoticeContent, basis: str, lines: dict[str, BillLineView]
) -> BillNoticeContent:
    result = lines.get("settlement_amount")
    due = _decimal(result.figures.get("due_yuan")) if result else None
    prepaid = _decimal(result.figures.get("prepaid_yuan")) if result else None
    return replace(content, heat=_settled_heat(basis, lines), metered_due_yuan=due, prepaid_yuan=prepaid)


def _settled_heat(basis: str, lines: dict[str, BillLineView]) -> HeatSummary | None:
    """The heat the settlement rests on; None when it rests on the area."""
    if basis in (EnergyBasis.METERED.value, EnergyBasis.ESTIMATED_BROKEN_METER.value) and "energy_metered" in lines:
        figures = lines["energy_metered"].figures
        measured = _decimal(figures.get("measured_gj"))
        estimated = _decimal(figures.get("estimated_gj")) or Decimal(0)
        return HeatSummary(measured + estimated, estimated_gj=estimated) if measured is not None else None
    if basis == EnergyBasis.ALLOCATED.value and "energy_allocated" in lines:
        energy = _decimal(lines["energy_allocated"].figures.get("energy_gj"))
        return HeatSummary(energy, allocated=True) if energy is not None else None
    return None


def _decimal(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
