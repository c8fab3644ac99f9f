"""Retroactive tariff corrections: a price the price bureau (物价局) revised after the season, booked
as credit and debit notes against the original billing periods.

The use cases, each checking ``manage_tariffs`` first (administrators, who publish tariffs):

- **propose** the correction of a tariff version (domain/tariff_correction.py);
- **preview** it: the scenario of the correction (``Scenarios.run`` with the corrected price as its
  one variant, over the households whose period of each season was opened under the version),
  stored like any scenario; beside it, the note each household would get
  (``plan_household``), handed to a sink a chunk at a time; the preview's figures and the digest
  of its notes are recorded on the correction;
- **approve** it (a second person, never the proposer) or **refuse** it;
- **run** it: the approved notes, a chunk per atomic save with the correction's ``NotesBooked``;
  the run's start is saved with the tariff's ``VersionCorrected``; then **complete** it.

What a note covers (docs/tariff-rules.md, "Tariff corrections"): a settlement bill of a period is
``due − prepaid share``, where *due* is what the bill's days cost under the tariff (the area fee
share, or the metered fee as the policy settles it, with the minimum charge) and *prepaid* is what
the prepayment invoice charged. The prepayment stands as invoiced; the note of a settlement bill is
its settlement recomputed under the corrected terms less the same settlement recomputed under the
period's own terms, from the same inputs: ``Δ due``, which is also the change of everything the
season charged (prepayment and settlement together), so a corrected area price reaches the
household through its note even though its prepayment invoice is never re-issued. When the issued
settlement recomputes to the fen (the usual case) this is the corrected settlement less the issued
one; when it does not (the ledger learned something since), the note still carries the price's
effect only, and the household is counted in ``issued_differ``: the rest is a dispute's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.authorization import Permission, Principal
from application.billing_runs import RunException, run_exceptions
from application.ledger import HeatLedger
from application.scenarios import HouseholdOutcome, ScenarioRequest, Scenarios, ScenarioScope, ScenarioSummary
from domain import ids
from domain.adjustments import AdjustmentNote, AdjustmentSource
from domain.billing import BillKind, ComputedBill, settlement_bills
from domain.billing_period import BillingPeriod, bill_number
from domain.day_split import business_day
from domain.errors import ConflictError, LedgerError, NotFoundError
from domain.settlement import BillLine
from domain.tariff import CITY_SCOPE, Tariff
from domain.tariff_correction import (
    VARIANT_LABEL,
    CorrectionProposal,
    PreviewTotals,
    TariffCorrection,
    tariff_correction_id,
)
from domain.values import CommandContext, CustomerClass

ZERO = Decimal(0)
MAXIMUM_SAVE_ATTEMPTS = 3
# Notes booked per atomic save (with the correction's NotesBooked): as a billing run's chunks.
CHUNK_SIZE = 250
# How many held-out households a preview lists (its figures count all of them).
LISTED_HELD_OUT = 500
# The scenario's column labels: the actual, then the corrected tariff.
SCENARIO_LABELS = ("actual", VARIANT_LABEL)

AggregateType = TypeVar("AggregateType")
Result = TypeVar("Result")
# (households done, households in all)
CorrectionProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class PlannedNote:
    """The note a settlement bill of a household takes from the correction: the bill it adjusts
    (by its segment, one per owner), the amount (≠ 0) and the recomputed lines that differ."""

    account_number: str
    household_id: UUID
    community: str
    building: str
    season_code: str
    segment: str
    adjusted_bill_number: str
    amount_yuan: Decimal
    lines: tuple[BillLine, ...]
    matches_issued: bool

    def adjustment(self, correction: TariffCorrection) -> AdjustmentNote:
        """The note to book in the household's period, under the correction's reference."""
        proposal = correction.proposal
        return AdjustmentNote(
            AdjustmentSource.TARIFF_CORRECTION,
            correction.note_reference(self.segment),
            self.adjusted_bill_number,
            self.amount_yuan,
            self.lines,
            proposal.tariff_version,
            proposal.document_number,
        )

    def bill_id(self, correction: TariffCorrection) -> UUID:
        """The id the note's bill has once booked."""
        label = self.adjustment(correction).label
        return ids.bill_id(self.account_number, self.season_code, BillKind.ADJUSTMENT.value, label)


@dataclass(frozen=True)
class HouseholdPlan:
    """What the correction does to one household's season: its notes, or why it is held out."""

    notes: tuple[PlannedNote, ...] = ()
    held_out: RunException | None = None
    issued_differs: bool = False


def plan_household(proposal: CorrectionProposal, outcome: HouseholdOutcome) -> HouseholdPlan:
    """The notes of a household the scenario computed: per settlement bill, the settlement under
    the corrected terms less the settlement under the period's own (as earlier corrections of the
    version left them), from the same inputs."""
    household = outcome.household
    period, facts, inputs = outcome.period, outcome.facts, outcome.inputs
    if period is None or facts is None or inputs is None or not period.settlement:
        return HouseholdPlan(held_out=_not_settled(household.account_number, facts.season_code if facts else ""))
    season_code = facts.season_code
    corrected_facts = replace(
        facts,
        terms=proposal.corrected_terms(facts.terms, season_code),
        document_number=proposal.document_number,
        approved_on=proposal.approved_on,
    )
    before_facts = replace(facts, terms=proposal.terms_before(facts.terms, season_code))
    try:
        original = settlement_bills(before_facts, inputs)
        corrected = settlement_bills(corrected_facts, inputs)
    except LedgerError as error:
        return HouseholdPlan(held_out=run_exceptions(household.account_number, error)[0])
    issued_labels = [bill.label for bill in period.settlement]
    notes = []
    for before, after in zip(original, corrected, strict=True):
        amount = after.amount_yuan - before.amount_yuan
        if amount == 0:
            continue
        adjusted_label = before.label if before.label in issued_labels else issued_labels[0]
        notes.append(
            PlannedNote(
                household.account_number,
                household.household_id,
                household.community,
                household.building,
                facts.season_code,
                before.label,
                bill_number(facts.season_code, household.account_number, BillKind.SETTLEMENT, adjusted_label),
                amount,
                _lines_that_differ(before, after),
                bool(outcome.matches_issued),
            )
        )
    return HouseholdPlan(tuple(notes), None, not outcome.matches_issued)


def _lines_that_differ(before: ComputedBill, after: ComputedBill) -> tuple[BillLine, ...]:
    """The corrected bill's lines that the bill under the period's own terms does not have as they are."""
    return tuple(line for line in after.lines if line not in before.lines)


def _not_settled(account_number: str, season_code: str) -> RunException:
    return RunException(
        account_number,
        "correction_period_not_settled",
        "the household's season is not settled: a correction adjusts issued settlements only",
        {"season": season_code},
    )


def notes_digest(notes: Iterable[PlannedNote]) -> str:
    """sha256 (hex) of notes in the order given: what the approval binds the run to."""
    digest = hashlib.sha256()
    for note in notes:
        record = [
            note.account_number,
            str(note.household_id),
            note.season_code,
            note.segment,
            note.adjusted_bill_number,
            str(note.amount_yuan),
            [line.to_record() for line in note.lines],
        ]
        digest.update(json.dumps(record, default=str, ensure_ascii=False, sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


class ScenarioRecorder(Protocol):
    """Where a preview's scenarios are stored (infrastructure.scenarios.ScenarioStore)."""

    def submit(self, principal: Principal, request: ScenarioRequest) -> UUID: ...

    def started(self, scenario_id: UUID) -> None: ...

    def write_outcomes(self, scenario_id: UUID, outcomes: Sequence[HouseholdOutcome]) -> None: ...

    def progressed(self, scenario_id: UUID, done: int, total: int) -> None: ...

    def finished(self, scenario_id: UUID, summary: ScenarioSummary, labels: list[str]) -> None: ...

    def failed(self, scenario_id: UUID, error: BaseException) -> None: ...


@dataclass
class PreviewResult:
    """A computed preview: its scenarios (one per season), its figures, the households held out."""

    preview_number: int
    scenario_ids: list[UUID] = field(default_factory=list)
    totals: PreviewTotals = field(default_factory=PreviewTotals)
    held_out: list[RunException] = field(default_factory=list)
    issued_differ: list[str] = field(default_factory=list)


@dataclass
class _PreviewTally:
    """The running figures of a preview, household by household."""

    households: int = 0
    unchanged: int = 0
    held_out: int = 0
    issued_differ: int = 0
    amounts: list[Decimal] = field(default_factory=list)

    def count(self, plan: HouseholdPlan) -> None:
        self.households += 1
        if plan.held_out is not None:
            self.held_out += 1
            return
        self.issued_differ += int(plan.issued_differs)
        if not plan.notes:
            self.unchanged += 1
        self.amounts.extend(note.amount_yuan for note in plan.notes)

    def totals(self) -> PreviewTotals:
        debits = [amount for amount in self.amounts if amount > 0]
        credits = [amount for amount in self.amounts if amount < 0]
        return PreviewTotals(
            households=self.households,
            notes=len(self.amounts),
            debit_notes=len(debits),
            credit_notes=len(credits),
            debit_yuan=sum(debits, ZERO),
            credit_yuan=sum(credits, ZERO),
            unchanged=self.unchanged,
            held_out=self.held_out,
            issued_differ=self.issued_differ,
        )


@dataclass(frozen=True)
class ProposedCorrection:
    """A proposal's outcome: the correction, and whether this call created or changed it."""

    correction_id: UUID
    created: bool
    changed: bool


@dataclass
class ChunkReport:
    """What booking a chunk did: the amounts booked now, the notes booked before, the failures."""

    booked_yuan: list[Decimal] = field(default_factory=list)
    already_booked: int = 0
    exceptions: list[RunException] = field(default_factory=list)


class TariffCorrections:
    """Tariff corrections, with the caller's permission checked first."""

    def __init__(self, ledger: HeatLedger, scenarios: Scenarios) -> None:
        self.ledger = ledger
        self.scenarios = scenarios

    # -- proposing ---------------------------------------------------------------------------------

    def propose(
        self, principal: Principal, proposal: CorrectionProposal, reason: str, correlation_id: UUID | None = None
    ) -> ProposedCorrection:
        """Propose a correction of a tariff version; the same proposal again finds it (a retry),
        other figures for the same version and document propose it again (before its approval)."""
        principal.require(Permission.MANAGE_TARIFFS)
        context = self._context(principal, reason, correlation_id)
        customer_class = CustomerClass(proposal.customer_class).value
        # Exclusive: the proposal is judged against the tariff billing runs price with (they run
        # exclusive and read cached tariffs); rare, a clerk's step.
        with self.ledger.command_lock:
            tariff = self._load(Tariff, ids.tariff_id(customer_class, proposal.scope))
            if tariff is None:
                raise NotFoundError(
                    f"no tariff for {customer_class} in {proposal.scope}",
                    kind="tariff",
                    key=f"{customer_class}:{proposal.scope}",
                )
            correction_id = tariff_correction_id(
                customer_class, tariff.scope, proposal.tariff_version, proposal.document_number.strip()
            )
            existing = self._load(TariffCorrection, correction_id)
            if existing is None:
                correction = TariffCorrection.propose(tariff, proposal, self._today(), context)
                self.ledger.save(correction)
                return ProposedCorrection(correction.id, created=True, changed=True)
            changed = existing.propose_again(tariff, proposal, self._today(), context)
            if changed:
                self.ledger.save(existing)
        return ProposedCorrection(existing.id, created=False, changed=changed)

    def correction(self, correction_id: UUID) -> TariffCorrection:
        """The correction (a copy), or NotFoundError."""
        with self.ledger.locks.writing([correction_id]):
            return self._existing(correction_id)

    # -- preview -----------------------------------------------------------------------------------

    def request_preview(self, principal: Principal, correction_id: UUID, reason: str = "preview") -> int:
        """Start a new preview of the correction; returns its number (its job computes it)."""
        principal.require(Permission.MANAGE_TARIFFS)
        return self._change(
            correction_id, lambda correction: correction.start_preview(self._context(principal, reason, None))
        )

    def compute_preview(
        self,
        principal: Principal,
        correction_id: UUID,
        preview_number: int,
        recorder: ScenarioRecorder,
        notes_sink: Callable[[Sequence[PlannedNote]], None],
        progress: CorrectionProgress | None = None,
    ) -> PreviewResult:
        """Compute a preview: a stored scenario per season, and the notes handed to ``notes_sink``
        a chunk at a time. Books nothing and records nothing on the correction."""
        principal.require(Permission.MANAGE_TARIFFS)
        correction = self.correction(correction_id)
        proposal = correction.proposal
        result = PreviewResult(preview_number)
        tally = _PreviewTally()
        done_before = 0
        for season_code in proposal.seasons:
            request = ScenarioRequest(
                season_code, (proposal.variant_for(season_code),), _scope(proposal), None, _title(proposal, season_code)
            )
            scenario_id = recorder.submit(principal, request)
            result.scenario_ids.append(scenario_id)

            def sink(outcomes: Sequence[HouseholdOutcome], scenario_id: UUID = scenario_id) -> None:
                recorder.write_outcomes(scenario_id, outcomes)
                notes_sink(self._plans(proposal, outcomes, tally, result))

            def moved(done: int, total: int, scenario_id: UUID = scenario_id, before: int = done_before) -> None:
                recorder.progressed(scenario_id, done, total)
                if progress is not None:
                    progress(before + done, before + total)

            summary = self._scenario(principal, recorder, request, scenario_id, sink, moved, proposal)
            # Households whose settlement cannot be computed (one exception per interval of heat
            # awaiting a decision, say) are held out, each counted once.
            failed = {exception.account_number for exception in summary.exceptions}
            tally.households += len(failed)
            tally.held_out += len(failed)
            for exception in summary.exceptions:
                _list(result.held_out, exception)
            done_before += summary.households
        result.totals = tally.totals()
        return result

    def _scenario(
        self,
        principal: Principal,
        recorder: ScenarioRecorder,
        request: ScenarioRequest,
        scenario_id: UUID,
        sink: Callable[[Sequence[HouseholdOutcome]], None],
        progress: CorrectionProgress,
        proposal: CorrectionProposal,
    ) -> ScenarioSummary:
        recorder.started(scenario_id)
        try:
            summary = self.scenarios.run(
                principal,
                request,
                sink=sink,
                progress=progress,
                scenario_id=scenario_id,
                opened_under=(proposal.scope, proposal.tariff_version),
            )
        except BaseException as error:
            recorder.failed(scenario_id, error)
            raise
        recorder.finished(scenario_id, summary, list(SCENARIO_LABELS))
        return summary

    @staticmethod
    def _plans(
        proposal: CorrectionProposal,
        outcomes: Sequence[HouseholdOutcome],
        tally: _PreviewTally,
        result: PreviewResult,
    ) -> list[PlannedNote]:
        notes: list[PlannedNote] = []
        for outcome in outcomes:
            plan = plan_household(proposal, outcome)
            tally.count(plan)
            if plan.held_out is not None:
                _list(result.held_out, plan.held_out)
            if plan.issued_differs and len(result.issued_differ) < LISTED_HELD_OUT:
                result.issued_differ.append(outcome.household.account_number)
            notes.extend(plan.notes)
        return notes

    def record_preview(
        self, principal: Principal, correction_id: UUID, result: PreviewResult, digest: str, reason: str = "preview"
    ) -> None:
        """Record a computed preview on the correction (the latest one only)."""
        principal.require(Permission.MANAGE_TARIFFS)
        context = self._context(principal, reason, None)
        self._change(
            correction_id,
            lambda correction: correction.record_preview(
                result.preview_number, result.scenario_ids, result.totals, digest, context
            ),
        )

    # -- decisions ---------------------------------------------------------------------------------

    def approve(self, principal: Principal, correction_id: UUID, reason: str) -> None:
        """Approve the latest preview (a second person: never the proposer)."""
        principal.require(Permission.MANAGE_TARIFFS)
        context = self._context(principal, reason, None)
        self._change(correction_id, lambda correction: correction.approve(context))

    def refuse(self, principal: Principal, correction_id: UUID, reason: str) -> None:
        """Refuse the correction, with why (before its run starts)."""
        principal.require(Permission.MANAGE_TARIFFS)
        context = self._context(principal, reason, None)
        self._change(correction_id, lambda correction: correction.refuse(context))

    # -- the run -----------------------------------------------------------------------------------

    def start_run(self, principal: Principal, correction_id: UUID, digest: str, correlation_id: UUID) -> bool:
        """Start the run of the approved notes (their ``digest`` must be the approved one), saved
        with the tariff's ``VersionCorrected``; False when it runs already (resumed) or is over."""
        principal.require(Permission.MANAGE_TARIFFS)
        # Exclusive: the run's start saves the tariff's VersionCorrected, which billing runs and the
        # chunks (exclusive, on cached periods and tariffs) must not see half-way; rare.
        with self.ledger.command_lock:
            correction = self._existing(correction_id)
            context = self._context(principal, _run_reason(correction), correlation_id)
            proposal = correction.proposal
            tariff = self._load(Tariff, correction.tariff_id)
            assert tariff is not None, "a correction's tariff exists"
            recorded = [item.correction_id for item in tariff.corrections_of(proposal.tariff_version)]
            if not correction.start_run(digest, recorded, context):
                return False
            tariff.record_correction(
                proposal.tariff_version,
                correction.id,
                proposal.document_number,
                proposal.approved_on,
                proposal.overrides,
                proposal.seasons,
                context,
            )
            self.ledger.save(correction, tariff)
        return True

    def book_chunk(
        self, principal: Principal, correction_id: UUID, notes: Sequence[PlannedNote], correlation_id: UUID
    ) -> ChunkReport:
        """Book a chunk of approved notes in their periods, in one save with the correction's count
        of them; a note booked before is not booked again. Retried from fresh state on a conflict."""
        principal.require(Permission.MANAGE_TARIFFS)
        assert len(notes) <= CHUNK_SIZE * 4, "a chunk is bounded"
        for attempt in range(1, MAXIMUM_SAVE_ATTEMPTS + 1):
            # Exclusive: a chunk books notes on the cached billing periods themselves (as billing
            # runs issue bills), so no other command may load one of them meanwhile.
            with self.ledger.command_lock:
                loaded: list[Any] = []
                try:
                    report = self._book(principal, correction_id, notes, correlation_id, loaded)
                except IntegrityError:
                    self.ledger.evict(loaded)
                    if attempt == MAXIMUM_SAVE_ATTEMPTS:
                        raise ConflictError(
                            "the billing periods kept changing while the correction booked its notes; run it again",
                            message_key="run_contended",
                        ) from None
                    continue
                except BaseException:
                    self.ledger.evict(loaded)
                    raise
            return report
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _book(
        self,
        principal: Principal,
        correction_id: UUID,
        notes: Sequence[PlannedNote],
        correlation_id: UUID,
        loaded: list[Any],
    ) -> ChunkReport:
        correction = self.ledger.load_or_none(TariffCorrection, correction_id)
        if correction is None:
            raise NotFoundError(
                f"no tariff correction {correction_id}", kind="tariff_correction", key=str(correction_id)
            )
        loaded.append(correction)
        context = self._context(principal, _run_reason(correction), correlation_id)
        today = self._today()
        report = ChunkReport()
        periods: dict[UUID, BillingPeriod] = {}
        for note in notes:
            period_id = ids.billing_period_id(note.account_number, note.season_code)
            period = periods.get(period_id) or self.ledger.load_or_none(BillingPeriod, period_id)
            if period is None:
                report.exceptions.append(_period_missing(note))
                continue
            if period_id not in periods:
                periods[period_id] = period
                loaded.append(period)
            try:
                bill = period.book_adjustment(note.adjustment(correction), today, context)
            except LedgerError as error:
                report.exceptions.extend(run_exceptions(note.account_number, error))
                continue
            if bill is None:
                report.already_booked += 1
            else:
                report.booked_yuan.append(bill.amount_yuan)
        correction.record_notes(report.booked_yuan, context)
        if report.booked_yuan:
            changed = [period for period in periods.values() if period.pending_events]
            self.ledger.save(correction, *changed)
        return report

    def complete(self, principal: Principal, correction_id: UUID, correlation_id: UUID) -> bool:
        """Close the run once every approved note is booked; False when it was closed already."""
        principal.require(Permission.MANAGE_TARIFFS)
        with self.ledger.locks.writing([correction_id]):  # beside other commands, on a copy
            correction = self._existing(correction_id)
            completed = correction.complete(self._context(principal, _run_reason(correction), correlation_id))
            if completed:
                self.ledger.save(correction)
        return completed

    # -- plumbing ----------------------------------------------------------------------------------

    def _change(self, correction_id: UUID, change: Callable[[TariffCorrection], Result]) -> Result:
        # Beside other commands, alone on the correction (a copy): these steps touch nothing else.
        with self.ledger.locks.writing([correction_id]):
            correction = self._existing(correction_id)
            result = change(correction)
            self.ledger.save(correction)
        return result

    def _existing(self, correction_id: UUID) -> TariffCorrection:
        """A copy of the correction (a failed command leaves the cache as it was), or NotFoundError."""
        correction = self._load(TariffCorrection, correction_id)
        if correction is None:
            raise NotFoundError(
                f"no tariff correction {correction_id}", kind="tariff_correction", key=str(correction_id)
            )
        return correction

    def _load(self, kind: type[AggregateType], aggregate_id: UUID) -> AggregateType | None:
        """A copy of the aggregate, or None."""
        try:
            aggregate: object = self.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None

    def _today(self) -> date:
        return business_day(self.ledger.clock())

    @staticmethod
    def _context(principal: Principal, reason: str, correlation_id: UUID | None) -> CommandContext:
        return CommandContext(principal.name, reason.strip(), correlation_id or uuid4())


def _scope(proposal: CorrectionProposal) -> ScenarioScope:
    """The scenario's households: the tariff's class, in its community (or the whole city)."""
    community = None if proposal.scope == CITY_SCOPE else proposal.scope
    return ScenarioScope(community=community, customer_class=CustomerClass(proposal.customer_class))


def _title(proposal: CorrectionProposal, season_code: str) -> str:
    text = (
        f"热价更正 {proposal.document_number}: {proposal.customer_class} {proposal.scope} "
        f"v{proposal.tariff_version}, {season_code}"
    )
    return text[:200]


def _run_reason(correction: TariffCorrection) -> str:
    return f"tariff correction {correction.proposal.document_number} ({correction.code})"


def _list(items: list[RunException], item: RunException) -> None:
    if len(items) < LISTED_HELD_OUT:
        items.append(item)


def _period_missing(note: PlannedNote) -> RunException:
    return RunException(
        note.account_number,
        "correction_period_missing",
        "the household's billing period of the season is not in the ledger",
        {"season": note.season_code},
    )
