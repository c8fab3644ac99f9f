"""The BillingPeriod aggregate: one household's season of billing.

Opened with the tariff version in force on the season's first day and the household's billed
area and position; it then issues the prepayment invoice, the monthly statements and the
settlement, each once: issuing a bill again is a no-op, so a billing run can always be re-run.
A bill is never edited; a revised settlement is a new bill carrying who and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.adjustments import AdjustmentNote, adjustment_bill
from domain.billing import (
    BillKind,
    ComputedBill,
    MonthInputs,
    PeriodFacts,
    SettlementInputs,
    monthly_statement,
    prepayment_invoice,
    settlement_bills,
)
from domain.errors import ConflictError, InvalidInputError
from domain.season import Season
from domain.settlement import BillLine
from domain.tariff import TariffTerms, TariffVersion
from domain.values import CommandContext

ZERO = Decimal(0)
# Terms made from their records, by the record's exact text: every period of a tariff version
# records the same terms, and a billing run rebuilds a chunk's periods from their events (issue
# 17: 17 µs to make the terms, 4 µs to key them). Bounded: cleared when full.
_TERMS_MADE: dict[tuple[Any, ...], TariffTerms] = {}
MAXIMUM_TERMS_MADE = 256


@dataclass(frozen=True, eq=False)
class IssuedBill:
    """A bill as the period issued it.

    Its lines are kept as the event recorded them (``line_records``) and made ``BillLine`` values
    only when asked: a billing run loads every period of a chunk, rebuilding each bill issued
    before, and reads the lines of almost none of them (issue 17: the conversion was a seventh of
    a settlement's time). Two bills are equal when their fields and their lines are."""

    bill_id: UUID
    kind: BillKind
    label: str
    number: str
    issued_on: date
    first_day: date
    last_day: date
    amount_yuan: Decimal
    basis: str
    line_records: Sequence[Mapping[str, Any]]
    # The position of the ledger's notification log up to which the read models had applied the
    # events this bill's inputs were read from (0: not recorded, bills issued before it was).
    # With the period's own events before the bill, it names exactly what the bill was computed
    # from, so the bill can be replayed years later (infrastructure/bill_replay.py).
    inputs_position: int = 0
    # The command that issued it (a billing run's id): a run resumed after a crash counts the
    # bills its earlier executions issued as its own.
    correlation_id: UUID | None = None

    @cached_property
    def lines(self) -> tuple[BillLine, ...]:
        """The bill's lines, made from their records once, on first use."""
        return tuple(BillLine.from_record(record) for record in self.line_records)

    def _compared(self) -> tuple[Any, ...]:
        return (
            self.bill_id,
            self.kind,
            self.label,
            self.number,
            self.issued_on,
            self.first_day,
            self.last_day,
            self.amount_yuan,
            self.basis,
            self.lines,
            self.inputs_position,
            self.correlation_id,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IssuedBill):
            return NotImplemented
        return self._compared() == other._compared()

    __hash__ = None  # type: ignore[assignment]  # its lines hold dicts, as before


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


def bill_number(season_code: str, account_number: str, kind: BillKind, label: str) -> str:
    """A bill's printed number: season, kind letter, account and label (``2025-2026-S-0101-1``)."""
    letter = {BillKind.PREPAYMENT: "P", BillKind.STATEMENT: "M", BillKind.SETTLEMENT: "S", BillKind.ADJUSTMENT: "A"}[
        kind
    ]
    return f"{season_code}-{letter}-{account_number}-{label}"


class BillingPeriod(Aggregate):
    """A household's billing for one heating season."""

    class Opened(Aggregate.Created):
        # Version 2 adds the season's days in force beside the period's own days (which are
        # fewer for a household registered or deregistered within the season) and the decree.
        class_version = 2
        household_id: UUID
        account_number: str
        community: str
        building: str
        season_code: str
        first_day: date
        last_day: date
        tariff_id: UUID
        tariff_scope: str
        tariff_version: int
        document_number: str
        approved_on: date
        terms: dict[str, Any]
        billed_area_m2: Decimal
        position_coefficient: Decimal
        actor: str
        reason: str
        correlation_id: UUID
        season_first_day: date
        season_last_day: date
        season_decree: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Version 1 periods were opened on the whole default season.
            state["season_first_day"] = state["first_day"]
            state["season_last_day"] = state["last_day"]
            state["season_decree"] = ""

    class SeasonDaysChanged(Aggregate.Event):
        """The season's days in force changed (a decree extended it) before the period settled."""

        season_first_day: date
        season_last_day: date
        season_decree: str
        first_day: date
        last_day: date
        actor: str
        reason: str
        correlation_id: UUID

    class BillIssued(Aggregate.Event):
        # Version 2 records the notification position the bill's inputs were read at.
        class_version = 2
        bill_id: UUID
        kind: str
        label: str
        number: str
        issued_on: date
        first_day: date
        last_day: date
        amount_yuan: Decimal
        basis: str
        lines: list[dict[str, Any]]
        actor: str
        reason: str
        correlation_id: UUID
        inputs_position: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Bills issued before positions were recorded: unknown (a replay takes the events
            # recorded before the bill instead).
            state["inputs_position"] = 0

    @staticmethod
    def create_id(account_number: str, season_code: str) -> UUID:
        return ids.billing_period_id(account_number, season_code)

    @event(Opened)
    def __init__(
        self,
        household_id: UUID,
        account_number: str,
        community: str,
        building: str,
        season_code: str,
        first_day: date,
        last_day: date,
        tariff_id: UUID,
        tariff_scope: str,
        tariff_version: int,
        document_number: str,
        approved_on: date,
        terms: dict[str, Any],
        billed_area_m2: Decimal,
        position_coefficient: Decimal,
        actor: str,
        reason: str,
        correlation_id: UUID,
        season_first_day: date,
        season_last_day: date,
        season_decree: str,
    ) -> None:
        self.household_id = household_id
        self.community = community
        self.building = building
        self.tariff_id = tariff_id
        self.facts = PeriodFacts(
            account_number,
            season_code,
            first_day,
            last_day,
            tariff_scope,
            tariff_version,
            document_number,
            approved_on,
            terms_from_record(terms),
            billed_area_m2,
            position_coefficient,
            season_first_day,
            season_last_day,
            season_decree,
        )
        self.bills: dict[str, IssuedBill] = {}

    @classmethod
    def open(
        cls,
        household_id: UUID,
        account_number: str,
        community: str,
        building: str,
        season: Season,
        tariff_id: UUID,
        tariff_scope: str,
        version: TariffVersion,
        billed_area_m2: Decimal,
        position_coefficient: Decimal,
        context: CommandContext,
        days: tuple[date, date] | None = None,
    ) -> BillingPeriod:
        """Open a household's season under the tariff version in force on its first day.

        ``days`` are the household's first and last billed day when it was registered after the
        season began or deregistered before it ended (None: the whole season)."""
        first_day, last_day = _checked_days(season, days)
        if not version.covers(season.first_day):
            raise InvalidInputError(
                "the tariff version is not in force on the season's first day",
                message_key="tariff_version_not_in_force",
                version=version.number,
                day=season.first_day.isoformat(),
            )
        if billed_area_m2 <= 0:
            raise InvalidInputError(
                "the household has no area to bill", message_key="household_without_area", account_number=account_number
            )
        if not position_coefficient.is_finite() or position_coefficient <= 0:
            raise InvalidInputError(
                "the position coefficient must be positive",
                message_key="coefficient_out_of_range",
                position=account_number,
                value=str(position_coefficient),
            )
        return cls(
            household_id=household_id,
            account_number=account_number,
            community=community,
            building=building,
            season_code=season.code,
            first_day=first_day,
            last_day=last_day,
            tariff_id=tariff_id,
            tariff_scope=tariff_scope,
            tariff_version=version.number,
            document_number=version.document_number,
            approved_on=version.approved_on,
            terms=version.terms.to_record(),
            billed_area_m2=billed_area_m2,
            position_coefficient=position_coefficient,
            **_context_fields(context),
            season_first_day=season.first_day,
            season_last_day=season.last_day,
            season_decree=season.decree_number,
        )

    # -- what has been issued ----------------------------------------------------------------

    @property
    def account_number(self) -> str:
        return self.facts.account_number

    @property
    def season(self) -> Season:
        """The season's days in force when the period last learned them."""
        first = self.facts.season_first_day or self.facts.first_day
        last = self.facts.season_last_day or self.facts.last_day
        return Season(first, last, self.facts.season_decree)

    @property
    def days(self) -> tuple[date, date]:
        """The period's own first and last day."""
        return self.facts.first_day, self.facts.last_day

    def has_issued(self, kind: BillKind, label: str) -> bool:
        return f"{kind.value}:{label}" in self.bills

    def issued(self, kind: BillKind | None = None) -> list[IssuedBill]:
        """The bills issued, in order, optionally of one kind."""
        return [bill for bill in self.bills.values() if kind is None or bill.kind is kind]

    def issued_under(self, correlation_id: UUID) -> list[IssuedBill]:
        """The bills issued by one command (a billing run, over all its executions), in order."""
        return [bill for bill in self.bills.values() if bill.correlation_id == correlation_id]

    @property
    def is_settled(self) -> bool:
        return bool(self.issued(BillKind.SETTLEMENT))

    @property
    def prepaid_yuan(self) -> Decimal:
        """What the prepayment invoice charged (nothing when none was issued)."""
        return sum((bill.amount_yuan for bill in self.issued(BillKind.PREPAYMENT)), ZERO)

    # -- commands ----------------------------------------------------------------------------

    def follow_season(self, season: Season, days: tuple[date, date] | None, context: CommandContext) -> bool:
        """Take the season's days in force (a decree extended it); True when they changed. Bills
        issued before stay as they were; a settled period keeps the days it was settled on."""
        first_day, last_day = _checked_days(season, days)
        unchanged = (self.season, self.days) == (season, (first_day, last_day))
        if unchanged or self.is_settled:
            return False
        self._season_days_changed(
            season.first_day, season.last_day, season.decree_number, first_day, last_day, **_context_fields(context)
        )
        return True

    @event(SeasonDaysChanged)
    def _season_days_changed(
        self,
        season_first_day: date,
        season_last_day: date,
        season_decree: str,
        first_day: date,
        last_day: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.facts = replace(
            self.facts,
            season_first_day=season_first_day,
            season_last_day=season_last_day,
            season_decree=season_decree,
            first_day=first_day,
            last_day=last_day,
        )

    def invoice_prepayment(
        self, suspended_at_start: bool, issued_on: date, context: CommandContext, inputs_position: int = 0
    ) -> IssuedBill | None:
        """Invoice the area fee; None when it was invoiced already. ``inputs_position``: the
        notification position the inputs were read at (recorded on the bill for its replay)."""
        if self.has_issued(BillKind.PREPAYMENT, "season"):
            return None
        if self.is_settled:
            raise ConflictError(
                "the season is settled already", message_key="period_settled", account_number=self.account_number
            )
        return self._issue(prepayment_invoice(self.facts, suspended_at_start), issued_on, context, inputs_position)

    def issue_statement(
        self, month: MonthInputs, issued_on: date, context: CommandContext, inputs_position: int = 0
    ) -> IssuedBill | None:
        """Issue a month's statement once its days have ended; None when it was issued already."""
        if self.has_issued(BillKind.STATEMENT, month.month):
            return None
        if not (self.facts.first_day <= month.first_day <= month.last_day <= self.facts.last_day):
            raise InvalidInputError(
                "the month lies outside the season", message_key="month_outside_season", month=month.month
            )
        if issued_on <= month.last_day:
            raise InvalidInputError(
                "a month's statement is issued after the month has ended",
                message_key="month_not_ended",
                month=month.month,
            )
        return self._issue(monthly_statement(self.facts, month), issued_on, context, inputs_position)

    def settle(
        self, inputs: SettlementInputs, issued_on: date, context: CommandContext, inputs_position: int = 0
    ) -> list[IssuedBill]:
        """Settle the season once it has ended; an empty list when it was settled already."""
        if self.is_settled:
            return []
        if issued_on <= self.facts.last_day:
            raise InvalidInputError(
                "a season is settled after its last day", message_key="season_not_ended", season=self.facts.season_code
            )
        bills = settlement_bills(self.facts, inputs)
        return [self._issue(bill, issued_on, context, inputs_position) for bill in bills]

    def book_adjustment(self, note: AdjustmentNote, issued_on: date, context: CommandContext) -> IssuedBill | None:
        """Book a credit or debit note against this period (a resolved dispute, a corrected tariff);
        None when this note was booked already (its source makes its label)."""
        if self.has_issued(BillKind.ADJUSTMENT, note.label):
            return None
        return self._issue(adjustment_bill(self.facts, note), issued_on, context, 0)

    def _issue(self, bill: ComputedBill, issued_on: date, context: CommandContext, inputs_position: int) -> IssuedBill:
        assert inputs_position >= 0, "a notification position is never negative"
        number = bill_number(self.facts.season_code, self.account_number, bill.kind, bill.label)
        self._bill_issued(
            ids.bill_id(self.account_number, self.facts.season_code, bill.kind.value, bill.label),
            bill.kind.value,
            bill.label,
            number,
            issued_on,
            bill.first_day,
            bill.last_day,
            bill.amount_yuan,
            bill.basis,
            [line.to_record() for line in bill.lines],
            **_context_fields(context),
            inputs_position=inputs_position,
        )
        return self.bills[f"{bill.kind.value}:{bill.label}"]

    @event(BillIssued)
    def _bill_issued(
        self,
        bill_id: UUID,
        kind: str,
        label: str,
        number: str,
        issued_on: date,
        first_day: date,
        last_day: date,
        amount_yuan: Decimal,
        basis: str,
        lines: list[dict[str, Any]],
        actor: str,
        reason: str,
        correlation_id: UUID,
        inputs_position: int,
    ) -> None:
        issued = IssuedBill(
            bill_id,
            BillKind(kind),
            label,
            number,
            issued_on,
            first_day,
            last_day,
            amount_yuan,
            basis,
            lines,
            inputs_position,
            correlation_id,
        )
        self.bills[f"{kind}:{label}"] = issued


def terms_from_record(record: Mapping[str, Any]) -> TariffTerms:
    """``TariffTerms.from_record(record)``, made once per distinct record (the same value: the key
    is each field's type and text, so 21.6 and 21.60, which print differently, are two records)."""
    key = _exact(record)
    terms = _TERMS_MADE.get(key)
    if terms is None:
        terms = TariffTerms.from_record(record)
        if len(_TERMS_MADE) >= MAXIMUM_TERMS_MADE:
            _TERMS_MADE.clear()
        _TERMS_MADE[key] = terms
    return terms


def _exact(record: Mapping[str, Any]) -> tuple[Any, ...]:
    # A loop, and ``dict`` rather than the Mapping ABC (whose isinstance check is slow for every
    # leaf): half the time, about 4 % of a settlement's run (py-spy). A record decoded from an
    # event nests dicts; any other mapping is keyed by its text, which shows its values' types.
    key = []
    for name, value in record.items():
        key.append((name, _exact(value) if isinstance(value, dict) else (type(value).__name__, str(value))))
    return tuple(key)


def _checked_days(season: Season, days: tuple[date, date] | None) -> tuple[date, date]:
    """The period's own days: the season's, or the household's part of them (inside the season)."""
    if days is None:
        return season.first_day, season.last_day
    first_day, last_day = days
    if not season.first_day <= first_day <= last_day <= season.last_day:
        raise InvalidInputError(
            "the household's days lie outside the season",
            message_key="period_outside_season",
            season=season.code,
            first_day=first_day.isoformat(),
            last_day=last_day.isoformat(),
        )
    return first_day, last_day
