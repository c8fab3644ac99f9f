"""The notice pass with fakes: what a notice takes from a bill's lines, paging through a selection
once, one notice per bill however often the pass runs, skips without a contact, and roles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

import application.bill_notices as bill_notices
from application.authorization import Principal, Role
from application.bill_messages import HeatSummary, NoticeKind
from application.bill_notices import BillNotices, BillSelection, notice_content, notice_key
from application.notifications import Contact, ContactChannel, MessageKind, MessageLanguage, OutgoingMessage
from application.reminder_messages import ReminderSender
from domain.errors import PermissionDeniedError

D = Decimal
CLERK = Principal("clerk-li", Role.CLERK)


@dataclass(frozen=True)
class Line:
    code: str
    amount_yuan: Decimal | None
    figures: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bill:
    bill_id: UUID
    account_number: str
    kind: str
    number: str
    amount_yuan: Decimal
    community: str = "碧桂园"
    season_code: str = "2025-2026"
    label: str = "season"
    issued_on: date = date(2025, 10, 25)
    first_day: date = date(2025, 11, 1)
    last_day: date = date(2026, 3, 31)
    basis: str = "area"
    lines: Sequence[Line] = ()


def settlement(basis: str, *lines: Line) -> Bill:
    return Bill(uuid4(), "A-1", "settlement", "S-1", D("-35.02"), label="1", issued_on=date(2026, 4, 15), basis=basis,
                lines=lines)  # fmt: skip


AMOUNT_LINE = Line("settlement_amount", D("-35.02"), {"due_yuan": "1908.98", "prepaid_yuan": "1944.00"})


def test_a_prepayment_falls_due_on_the_season_s_first_day_when_invoiced_before_it() -> None:
    bill = Bill(uuid4(), "A-1", "prepayment", "P-1", D("1944.00"))
    content = notice_content(bill)
    assert (content.kind, content.due_on, content.amount_yuan) == (
        NoticeKind.PREPAYMENT,
        date(2025, 11, 1),
        D("1944.00"),
    )
    late = notice_content(replace(bill, issued_on=date(2025, 11, 20)))
    assert late.due_on == date(2025, 11, 20)


def test_a_statement_takes_the_month_s_heat_and_the_fee_to_date_and_falls_due_never() -> None:
    bill = Bill(uuid4(), "A-1", "statement", "M-1", D("0.00"), label="2025-12", basis="metered", lines=(
        Line("tariff", None, {}),
        Line("month_energy", None, {"month_energy_gj": "6.200", "season_energy_gj": "12.200"}),
        Line("metered_fee_to_date", D("771.18"), {}),
    ))  # fmt: skip
    content = notice_content(bill)
    assert content.due_on is None
    assert content.heat == HeatSummary(D("6.200"), season_energy_gj=D("12.200"))
    assert content.fee_to_date_yuan == D("771.18")
    assert notice_content(replace(bill, lines=(Line("no_meter", None),))).heat is None


def test_a_settlement_takes_the_heat_its_basis_rests_on() -> None:
    metered = settlement(
        "metered", Line("energy_metered", None, {"measured_gj": "29.0", "estimated_gj": "1.2"}), AMOUNT_LINE
    )
    content = notice_content(metered)
    assert content.heat == HeatSummary(D("30.2"), estimated_gj=D("1.2"))
    assert (content.metered_due_yuan, content.prepaid_yuan, content.due_on) == (
        D("1908.98"),
        D("1944.00"),
        date(2026, 5, 15),  # 30 days after the issue
    )
    allocated = settlement("allocated", Line("energy_allocated", None, {"energy_gj": "15.1"}), AMOUNT_LINE)
    assert notice_content(allocated).heat == HeatSummary(D("15.1"), allocated=True)
    # A broken meter billed by area shows the meter's evidence, but the bill rests on the area.
    by_area = settlement("area_broken_meter", Line("energy_metered", None, {"measured_gj": "3.0"}), AMOUNT_LINE)
    assert notice_content(by_area).heat is None
    # A bill without the summary lines still gets its notice, without those figures.
    bare = notice_content(settlement("metered"))
    assert (bare.heat, bare.metered_due_yuan, bare.prepaid_yuan) == (None, None, None)


# -- the pass -------------------------------------------------------------------------------------


class FakeBills:
    def __init__(self, bills: list[Bill]) -> None:
        self.by_id = {bill.bill_id: bill for bill in bills}
        self.pages = 0

    def issued_bills(self, selection: BillSelection, after_number: str | None, limit: int) -> list[Bill]:
        self.pages += 1
        ordered = sorted(self.by_id.values(), key=lambda bill: bill.number)
        return [bill for bill in ordered if after_number is None or bill.number > after_number][:limit]

    def bills(self, bill_ids: Sequence[UUID]) -> dict[UUID, Bill]:
        return {bill_id: self.by_id[bill_id] for bill_id in bill_ids if bill_id in self.by_id}


class FakeContacts:
    def __init__(self, contacts: dict[str, Contact]) -> None:
        self.held = contacts

    def contacts(self, account_numbers: Sequence[str]) -> dict[str, Contact]:
        return {account: self.held[account] for account in account_numbers if account in self.held}


class FakeOutbox:
    def __init__(self) -> None:
        self.messages: dict[str, OutgoingMessage] = {}

    def enqueue(self, message: OutgoingMessage) -> UUID | None:
        if message.dedup_key in self.messages:
            return None
        self.messages[message.dedup_key] = message
        return uuid4()

    def written(self, dedup_keys: Sequence[str]) -> set[str]:
        return {key for key in dedup_keys if key in self.messages}

    def enqueue_all(self, messages: Sequence[OutgoingMessage]) -> list[UUID | None]:
        return [self.enqueue(message) for message in messages]


def contact(account: str, language: MessageLanguage = MessageLanguage.ZH) -> Contact:
    return Contact(account, ContactChannel.WEBHOOK, "13800000000", language)


@pytest.fixture
def seven_bills() -> list[Bill]:
    return [Bill(uuid4(), f"A-{n}", "prepayment", f"P-{n}", D("1944.00")) for n in range(1, 8)]


def test_the_pass_pages_through_every_bill_once_and_writes_each_notice_once(
    seven_bills: list[Bill], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bill_notices, "PAGE_SIZE", 3)
    reader, outbox = FakeBills(seven_bills), FakeOutbox()
    contacts = FakeContacts({f"A-{n}": contact(f"A-{n}") for n in range(1, 8) if n != 5})
    notices = BillNotices(reader, contacts, outbox, ReminderSender("许昌热力"))
    first = notices.notify(CLERK, BillSelection("2025-2026"))
    assert reader.pages == 4  # 3 + 3 + 1, then an empty page
    assert sorted(outcome.account_number for outcome in first.written) == ["A-1", "A-2", "A-3", "A-4", "A-6", "A-7"]
    assert [(o.account_number, o.bill_number, o.skip) for o in first.skipped] == [
        ("A-5", "P-5", "bill_notice_no_contact")
    ]
    assert set(outbox.messages) == {notice_key(bill.bill_id) for bill in seven_bills if bill.account_number != "A-5"}
    message = outbox.messages[notice_key(seven_bills[0].bill_id)]
    assert (message.kind, message.amount_yuan, message.stage_days, message.created_by) == (
        MessageKind.PREPAYMENT,
        D("1944.00"),
        0,
        "clerk-li",
    )
    again = notices.notify(CLERK, BillSelection("2025-2026"))
    assert (len(again.written), again.already_written, len(again.skipped), again.bills) == (0, 6, 1, 7)
    # The household that leaves a contact later gets its bill's notice on the next pass.
    contacts.held["A-5"] = contact("A-5", MessageLanguage.EN)
    late = notices.notify(CLERK, BillSelection("2025-2026"))
    assert [(o.account_number, o.skip) for o in late.written] == [("A-5", None)]
    assert outbox.messages[notice_key(seven_bills[4].bill_id)].subject.startswith("[许昌热力] Heating charges")


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.AUDITOR, Role.REGULATOR, Role.DEVICE])
def test_only_those_who_send_reminders_send_bill_notices(role: Role, seven_bills: list[Bill]) -> None:
    outbox = FakeOutbox()
    notices = BillNotices(FakeBills(seven_bills), FakeContacts({}), outbox, ReminderSender("许昌热力"))
    with pytest.raises(PermissionDeniedError):
        notices.notify(Principal("someone", role), BillSelection("2025-2026"))
    assert outbox.messages == {}
