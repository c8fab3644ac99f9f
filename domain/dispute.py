"""The Dispute aggregate: a household's complaint (客服工单) about a bill, a reading or a payment,
its investigation and its resolution.

A dispute is opened with a category, a description, the amount the household disputes (元, ≥ 0;
0 only for poor heating, which disputes no figure), the channel it came by and who took it. While
it is open, the household's ``DisputeOpened`` holds that amount back from dunning and arrears flags
(``domain.dispute_hold``); every way out of it (resolved, rejected, withdrawn) releases it, in the
same save.

Investigation steps are events: a meter verification requested and its result against the class's
error limit (JJG 225, linked to the meter's ``VerificationRecorded``), a site visit with findings, a
reading corrected (linked to the correction command), an estimate replaced (linked to what
replaced it), a recompute of the bill attached (its difference and the lines that differ, kept as
they were), and notes to the household. The first of these (or a resolution) is the first
response; every event's own timestamp is the step's time.

Resolution: upheld in full or in part books a credit or debit note against the original billing
period (the period of the recomputed bill, re-rated at its own tariff version) in the same save as
the resolution, of the recompute's difference not yet booked by an earlier dispute (in full) or a
smaller amount of the same sign (in part), justified by the recomputed lines that differ; a note
above the approval threshold is proposed by one person and booked only when another approves it.
Or rejected with a reason; or withdrawn by the household.

States: open → investigating → resolution_proposed → resolved_upheld / resolved_partly /
rejected / withdrawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.adjustments import MAXIMUM_JUSTIFICATION_LINES, AdjustmentNote, AdjustmentSource
from domain.billing import BillKind
from domain.billing_period import BillingPeriod, IssuedBill, bill_number
from domain.errors import ConflictError, InvalidInputError, PermissionDeniedError
from domain.settlement import CENT, BillLine
from domain.values import MAXIMUM_CODE_LENGTH, MAXIMUM_NAME_LENGTH, CommandContext, bounded_text
from domain.verification import JudgedPoint

ZERO_YUAN = Decimal("0.00")
# Free text of a dispute: the household's description, a visit's findings, a note to the household.
MAXIMUM_TEXT_LENGTH = 2000
# No household disputes more than this at once; a larger figure is a typing error.
MAXIMUM_DISPUTED_YUAN = Decimal(1_000_000)
# A dispute with more steps than this is not being investigated, it is being typed into.
MAXIMUM_STEPS = 200
# A reference (工单号) is short: it names the dispute's note, whose label a bill carries in 32
# characters ("dispute:" + reference).
MAXIMUM_REFERENCE_LENGTH = 24
_REFERENCE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]*$")


class DisputeCategory(StrEnum):
    """What the household disputes."""

    READING_WRONG = "reading_wrong"
    METER_FAULTY = "meter_faulty"
    AREA_WRONG = "area_wrong"
    TARIFF_WRONG = "tariff_wrong"
    PAYMENT_NOT_CREDITED = "payment_not_credited"
    POOR_HEATING = "poor_heating"


# Categories whose fix is made elsewhere (the payment credited at the counter, the heating
# repaired): upheld in full without a recompute, they book no note.
SETTLED_WITHOUT_RECOMPUTE = frozenset({DisputeCategory.PAYMENT_NOT_CREDITED, DisputeCategory.POOR_HEATING})


class DisputeChannel(StrEnum):
    """How the dispute reached customer service."""

    COUNTER = "counter"
    PHONE = "phone"
    WECHAT = "wechat"


class DisputeState(StrEnum):
    """Where a dispute stands."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    RESOLUTION_PROPOSED = "resolution_proposed"
    RESOLVED_UPHELD = "resolved_upheld"
    RESOLVED_PARTLY = "resolved_partly"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def closed(self) -> bool:
        return self in CLOSED_STATES


CLOSED_STATES = frozenset(
    {DisputeState.RESOLVED_UPHELD, DisputeState.RESOLVED_PARTLY, DisputeState.REJECTED, DisputeState.WITHDRAWN}
)
OPEN_STATES = frozenset(DisputeState) - CLOSED_STATES


class SubjectKind(StrEnum):
    """What a dispute is about."""

    BILL = "bill"
    READING = "reading"
    PAYMENT = "payment"


class ResolutionOutcome(StrEnum):
    """How a dispute is upheld."""

    UPHELD = "upheld"  # in full: the note is the recompute's difference not yet booked
    PARTLY = "partly"  # in part: a given amount, no larger and of the same sign


@dataclass(frozen=True)
class DisputedHousehold:
    """The household a dispute is about, as the opening records it."""

    household_id: UUID
    account_number: str
    community: str
    building: str


@dataclass(frozen=True)
class DisputeSubject:
    """What is disputed: a bill (its id and number), a reading (meter serial and ``measured_at``)
    or a payment (the ledger's payment id when it knows it, and the reference the household
    quotes: a receipt or a transaction number). ``season_code``: the season it belongs to."""

    kind: SubjectKind
    season_code: str
    bill_id: UUID | None = None
    bill_number: str = ""
    meter_serial: str = ""
    measured_at: datetime | None = None
    payment_id: UUID | None = None
    payment_reference: str = ""


@dataclass(frozen=True)
class DisputeClaim:
    """What the household says: the category, in its words, the amount it disputes, by which channel."""

    category: DisputeCategory
    description: str
    disputed_amount_yuan: Decimal
    channel: DisputeChannel


@dataclass(frozen=True)
class VerificationResult:
    """A meter verification (JJG 225) as the meter recorded it: each point's error against the
    class's maximum permissible error there, and the verdict. ``meter_version`` is the version of
    the meter's ``VerificationRecorded`` event: the link to it."""

    meter_serial: str
    verified_on: date
    certificate: str
    passed: bool
    points: tuple[JudgedPoint, ...]
    meter_version: int

    @property
    def worst_point(self) -> JudgedPoint:
        """The point whose error used most of its permissible error."""
        return max(self.points, key=lambda point: abs(point.measured_error_percent) / point.permissible_error_percent)


@dataclass(frozen=True)
class LineChange:
    """A line of the bill as issued against the same line recomputed (None: absent there)."""

    index: int
    issued: BillLine | None
    recomputed: BillLine | None

    def to_record(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "issued": self.issued.to_record() if self.issued is not None else None,
            "recomputed": self.recomputed.to_record() if self.recomputed is not None else None,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> LineChange:
        issued, recomputed = record.get("issued"), record.get("recomputed")
        return cls(
            int(record["index"]),
            BillLine.from_record(issued) if issued is not None else None,
            BillLine.from_record(recomputed) if recomputed is not None else None,
        )


@dataclass(frozen=True)
class RecomputeSnapshot:
    """A bill recomputed from everything known (``infrastructure.bill_replay``), kept as it was
    when attached: the amounts, the lines that differ, and the commands that moved it."""

    bill_id: UUID
    bill_number: str
    bill_kind: str
    season_code: str
    account_number: str
    issued_amount_yuan: Decimal
    recomputed_amount_yuan: Decimal
    changes: tuple[LineChange, ...]
    cause_correlation_ids: tuple[UUID, ...] = ()

    @property
    def difference_yuan(self) -> Decimal:
        """Recomputed minus issued: negative, the household was charged too much."""
        return self.recomputed_amount_yuan - self.issued_amount_yuan

    def justification(self) -> tuple[BillLine, ...]:
        """The note's justification: each recomputed line that differs (a line the recompute
        dropped is given as issued, marked ``removed``), with the issued amount beside it."""
        lines = []
        for change in self.changes:
            if change.recomputed is not None:
                figures = dict(change.recomputed.figures)
                if change.issued is not None and change.issued.amount_yuan is not None:
                    figures["issued_amount_yuan"] = str(change.issued.amount_yuan)
                lines.append(BillLine(change.recomputed.code, change.recomputed.amount_yuan, figures))
            elif change.issued is not None:
                lines.append(BillLine(change.issued.code, None, {**change.issued.figures, "removed": "true"}))
        return tuple(lines)


@dataclass(frozen=True)
class ResolutionDecision:
    """What a resolution books: the outcome, the note's signed amount (0: nothing to book), the
    approval threshold it was judged against and whether a second person must approve it first."""

    outcome: ResolutionOutcome
    amount_yuan: Decimal
    threshold_yuan: Decimal

    @property
    def needs_second_person(self) -> bool:
        """A note above the threshold (in magnitude) is booked only once a second person approves."""
        return abs(self.amount_yuan) > self.threshold_yuan


def valid_reference(reference: str) -> str:
    """A dispute reference: 1 to 24 letters, digits, '-' or '_', starting with a letter or digit."""
    text = reference.strip()
    if not text or len(text) > MAXIMUM_REFERENCE_LENGTH or not _REFERENCE.fullmatch(text):
        raise InvalidInputError(
            f"a dispute reference has 1 to {MAXIMUM_REFERENCE_LENGTH} letters, digits, '-' or '_'",
            message_key="dispute_reference_invalid",
            field="reference",
            value=reference[:40],
            limit=MAXIMUM_REFERENCE_LENGTH,
        )
    return text


def disputed_amount(amount_yuan: Decimal, category: DisputeCategory) -> Decimal:
    """The disputed amount checked: 元 to the 分, 0 to 1,000,000; 0 only for poor heating."""
    if not amount_yuan.is_finite() or amount_yuan < 0 or amount_yuan > MAXIMUM_DISPUTED_YUAN:
        raise InvalidInputError(
            f"a disputed amount lies between 0 and {MAXIMUM_DISPUTED_YUAN} 元",
            message_key="disputed_amount_out_of_range",
            field="disputed_amount_yuan",
            value=str(amount_yuan),
            limit=str(MAXIMUM_DISPUTED_YUAN),
        )
    if amount_yuan != amount_yuan.quantize(CENT):
        raise InvalidInputError(
            "the amount has more than two decimals (分)",
            message_key="amount_too_precise",
            field="disputed_amount_yuan",
            value=str(amount_yuan),
        )
    if amount_yuan == 0 and category is not DisputeCategory.POOR_HEATING:
        raise InvalidInputError(
            "only a poor-heating dispute disputes no amount",
            message_key="disputed_amount_required",
            field="disputed_amount_yuan",
            category=category.value,
        )
    return amount_yuan.quantize(CENT)


def dispute_notes_booked_yuan(period: BillingPeriod, adjusted_bill_number: str, excluding_label: str) -> Decimal:
    """What earlier disputes' notes in ``period`` booked against ``adjusted_bill_number``: a
    recompute of that bill does not see them (a note is not replayed), so a second dispute about
    the same bill books only what is left of the difference."""
    total = ZERO_YUAN
    for bill in period.issued(BillKind.ADJUSTMENT):
        if bill.label != excluding_label and _adjusts(bill, adjusted_bill_number):
            total += bill.amount_yuan
    return total


def _adjusts(bill: IssuedBill, adjusted_bill_number: str) -> bool:
    source = next((line for line in bill.lines if line.code == "adjustment_source"), None)
    return (
        source is not None
        and source.figures.get("source") == AdjustmentSource.DISPUTE.value
        and source.figures.get("adjusted_bill") == adjusted_bill_number
    )


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


class Dispute(Aggregate):
    """A household's dispute, from its opening to its resolution (see the module's docstring)."""

    class Event(Aggregate.Event):
        """Every dispute event stamps the dispute with its own timestamp: the step's time, the
        first response (``RESPONDS``) and the closing (``CLOSES``)."""

        RESPONDS = False
        CLOSES = False

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate._stamp(self)

    class Opened(Aggregate.Created):
        reference: str
        household_id: UUID
        account_number: str
        community: str
        building: str
        subject_kind: str
        season_code: str
        bill_id: UUID | None
        bill_number: str
        meter_serial: str
        measured_at: datetime | None
        payment_id: UUID | None
        payment_reference: str
        category: str
        description: str
        disputed_amount_yuan: Decimal
        channel: str
        opened_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class VerificationRequested(Event):
        """A verification of the meter (检定, JJG 225) was requested."""

        RESPONDS = True
        meter_serial: str
        actor: str
        reason: str
        correlation_id: UUID

    class VerificationResultRecorded(Event):
        """The verification's result, linked to the meter's ``VerificationRecorded`` (its version)."""

        RESPONDS = True
        meter_serial: str
        verified_on: date
        certificate: str
        passed: bool
        points: list[JudgedPoint]
        meter_version: int
        actor: str
        reason: str
        correlation_id: UUID

    class SiteVisited(Event):
        """Someone visited the flat (上门) and found what ``findings`` says."""

        RESPONDS = True
        visited_on: date
        visited_by: str
        findings: str
        actor: str
        reason: str
        correlation_id: UUID

    class ReadingCorrected(Event):
        """The disputed reading was corrected by the correction command ``correction_correlation_id``."""

        RESPONDS = True
        meter_serial: str
        measured_at: datetime
        correction_correlation_id: UUID
        actor: str
        reason: str
        correlation_id: UUID

    class EstimateReplaced(Event):
        """An estimated reading was replaced (by a real reading or a corrected estimate), by the
        command ``replacement_correlation_id``."""

        RESPONDS = True
        meter_serial: str
        measured_at: datetime
        replacement_correlation_id: UUID
        actor: str
        reason: str
        correlation_id: UUID

    class RecomputeAttached(Event):
        """A recompute of a bill, kept as it was: the amounts, the lines that differ, the causes."""

        RESPONDS = True
        bill_id: UUID
        bill_number: str
        bill_kind: str
        season_code: str
        issued_amount_yuan: Decimal
        recomputed_amount_yuan: Decimal
        difference_yuan: Decimal
        lines: list[dict[str, Any]]
        cause_correlation_ids: list[UUID]
        actor: str
        reason: str
        correlation_id: UUID

    class HouseholdInformed(Event):
        """A note to the household (what customer service told it, and how)."""

        RESPONDS = True
        message: str
        channel: str
        actor: str
        reason: str
        correlation_id: UUID

    class ResolutionProposed(Event):
        """A note above the approval threshold, proposed; booked when a second person approves."""

        RESPONDS = True
        outcome: str
        note_amount_yuan: Decimal
        approval_threshold_yuan: Decimal
        actor: str
        reason: str
        correlation_id: UUID

    class ResolutionApproved(Event):
        """A second person approved the proposal: its note is booked (saved with this event)."""

        CLOSES = True
        note_amount_yuan: Decimal
        note_bill_id: UUID | None
        note_number: str
        closed_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class ResolutionRefused(Event):
        """A second person refused the proposal: the dispute is investigated again."""

        actor: str
        reason: str
        correlation_id: UUID

    class Resolved(Event):
        """Upheld in full or in part without a second person (the note, if any, saved with it)."""

        RESPONDS = True
        CLOSES = True
        outcome: str
        note_amount_yuan: Decimal
        note_bill_id: UUID | None
        note_number: str
        approval_threshold_yuan: Decimal
        closed_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class Rejected(Event):
        """The dispute is rejected; the reason says why."""

        RESPONDS = True
        CLOSES = True
        closed_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class Withdrawn(Event):
        """The household withdrew the dispute."""

        CLOSES = True
        closed_on: date
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(account_number: str, reference: str) -> UUID:
        return ids.dispute_id(account_number, reference)

    @event(Opened)
    def __init__(
        self,
        reference: str,
        household_id: UUID,
        account_number: str,
        community: str,
        building: str,
        subject_kind: str,
        season_code: str,
        bill_id: UUID | None,
        bill_number: str,
        meter_serial: str,
        measured_at: datetime | None,
        payment_id: UUID | None,
        payment_reference: str,
        category: str,
        description: str,
        disputed_amount_yuan: Decimal,
        channel: str,
        opened_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.reference = reference
        self.household = DisputedHousehold(household_id, account_number, community, building)
        self.subject = DisputeSubject(
            SubjectKind(subject_kind),
            season_code,
            bill_id,
            bill_number,
            meter_serial,
            measured_at,
            payment_id,
            payment_reference,
        )
        self.category = DisputeCategory(category)
        self.description = description
        self.disputed_amount_yuan = disputed_amount_yuan
        self.channel = DisputeChannel(channel)
        self.opened_on = opened_on
        self.opened_by = actor
        self.state = DisputeState.OPEN
        self.steps = 0
        self.first_response_at: datetime | None = None
        self.last_step_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.closed_on: date | None = None
        self.verification_requested = False
        self.verification: VerificationResult | None = None
        self.recompute: RecomputeSnapshot | None = None
        self.proposal: ResolutionDecision | None = None
        self.proposed_by: str | None = None
        self.note_amount_yuan = ZERO_YUAN
        self.note_bill_id: UUID | None = None
        self.note_number = ""
        self.approved_by: str | None = None
        self.closed_by: str | None = None
        self.closing_reason = ""

    @classmethod
    def open(
        cls,
        reference: str,
        household: DisputedHousehold,
        subject: DisputeSubject,
        claim: DisputeClaim,
        opened_on: date,
        context: CommandContext,
    ) -> Dispute:
        """Open a dispute; every value is checked before the event exists."""
        category = DisputeCategory(claim.category)
        return cls(
            reference=valid_reference(reference),
            household_id=household.household_id,
            account_number=household.account_number,
            community=household.community,
            building=household.building,
            subject_kind=SubjectKind(subject.kind).value,
            season_code=subject.season_code,
            bill_id=subject.bill_id,
            bill_number=subject.bill_number,
            meter_serial=subject.meter_serial,
            measured_at=subject.measured_at,
            payment_id=subject.payment_id,
            payment_reference=bounded_text(
                subject.payment_reference, "payment_reference", MAXIMUM_CODE_LENGTH, required=False
            ),
            category=category.value,
            description=bounded_text(claim.description, "description", MAXIMUM_TEXT_LENGTH),
            disputed_amount_yuan=disputed_amount(claim.disputed_amount_yuan, category),
            channel=DisputeChannel(claim.channel).value,
            opened_on=opened_on,
            **_context_fields(context),
        )

    # -- what it is ------------------------------------------------------------------------

    @property
    def opened_at(self) -> datetime:
        """When the ledger recorded the opening."""
        return self.created_on

    def days_open(self, today: date) -> int:
        """Business days from the opening to the closing day, or to ``today`` while open."""
        return max(((self.closed_on or today) - self.opened_on).days, 0)

    @property
    def is_open(self) -> bool:
        """Whether the dispute still holds its amount (not resolved, rejected nor withdrawn)."""
        return not self.state.closed

    @property
    def note_label(self) -> str:
        """The label of the note a resolution books (one note per dispute, ever)."""
        return f"{AdjustmentSource.DISPUTE.value}:{self.reference}"

    def _stamp(self, domain_event: Any) -> None:
        self.last_step_at = domain_event.timestamp
        if domain_event.RESPONDS and self.first_response_at is None:
            self.first_response_at = domain_event.timestamp
        if domain_event.CLOSES:
            self.closed_at = domain_event.timestamp

    # -- investigation ----------------------------------------------------------------------

    def request_verification(self, meter_serial: str, context: CommandContext) -> None:
        """A verification of the meter is requested (the meter shop or the metrology institute)."""
        self._require_investigable()
        self._verification_requested(meter_serial, **_context_fields(context))

    @event(VerificationRequested)
    def _verification_requested(self, meter_serial: str, actor: str, reason: str, correlation_id: UUID) -> None:
        self.verification_requested = True
        self._step(DisputeState.INVESTIGATING)

    def record_verification_result(self, result: VerificationResult, context: CommandContext) -> None:
        """The verification's result, linked to the meter's recorded verification."""
        self._require_investigable()
        if not result.points or result.meter_version < 1:
            raise InvalidInputError(
                "a verification result names the meter's recorded verification and its points",
                message_key="dispute_verification_unlinked",
                meter_serial=result.meter_serial,
            )
        self._verification_result_recorded(
            result.meter_serial,
            result.verified_on,
            result.certificate,
            result.passed,
            list(result.points),
            result.meter_version,
            **_context_fields(context),
        )

    @event(VerificationResultRecorded)
    def _verification_result_recorded(
        self,
        meter_serial: str,
        verified_on: date,
        certificate: str,
        passed: bool,
        points: list[JudgedPoint],
        meter_version: int,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.verification = VerificationResult(
            meter_serial, verified_on, certificate, passed, tuple(points), meter_version
        )
        self._step(DisputeState.INVESTIGATING)

    def record_site_visit(self, visited_on: date, visited_by: str, findings: str, context: CommandContext) -> None:
        """A visit to the flat, by whom, and what was found."""
        self._require_investigable()
        self._site_visited(
            visited_on,
            bounded_text(visited_by or context.actor, "visited_by", MAXIMUM_NAME_LENGTH),
            bounded_text(findings, "findings", MAXIMUM_TEXT_LENGTH),
            **_context_fields(context),
        )

    @event(SiteVisited)
    def _site_visited(
        self, visited_on: date, visited_by: str, findings: str, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        self._step(DisputeState.INVESTIGATING)

    def link_reading_correction(
        self, meter_serial: str, measured_at: datetime, correction_correlation_id: UUID, context: CommandContext
    ) -> None:
        """The reading correction (``POST /meters/{serial}/reading-corrections``) this dispute led to."""
        self._require_investigable()
        self._reading_corrected(meter_serial, measured_at, correction_correlation_id, **_context_fields(context))

    @event(ReadingCorrected)
    def _reading_corrected(
        self,
        meter_serial: str,
        measured_at: datetime,
        correction_correlation_id: UUID,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self._step(DisputeState.INVESTIGATING)

    def link_estimate_replacement(
        self, meter_serial: str, measured_at: datetime, replacement_correlation_id: UUID, context: CommandContext
    ) -> None:
        """The estimated reading at ``measured_at`` was replaced by the command named."""
        self._require_investigable()
        self._estimate_replaced(meter_serial, measured_at, replacement_correlation_id, **_context_fields(context))

    @event(EstimateReplaced)
    def _estimate_replaced(
        self,
        meter_serial: str,
        measured_at: datetime,
        replacement_correlation_id: UUID,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self._step(DisputeState.INVESTIGATING)

    def attach_recompute(self, recompute: RecomputeSnapshot, context: CommandContext) -> None:
        """Attach a recompute of one of the household's bills (the latest attached one counts)."""
        self._require_investigable()
        if recompute.account_number != self.household.account_number:
            raise InvalidInputError(
                "the bill is not this household's",
                message_key="dispute_bill_other_household",
                bill_number=recompute.bill_number,
                account_number=self.household.account_number,
            )
        if recompute.bill_kind == BillKind.ADJUSTMENT.value:
            raise InvalidInputError(
                "a note is not recomputed", message_key="adjustment_not_replayable", bill_id=str(recompute.bill_id)
            )
        if len(recompute.changes) > MAXIMUM_JUSTIFICATION_LINES:
            raise InvalidInputError(
                "the recompute differs in too many lines to justify a note",
                message_key="adjustment_too_long",
                limit=MAXIMUM_JUSTIFICATION_LINES,
            )
        self._recompute_attached(
            recompute.bill_id,
            recompute.bill_number,
            recompute.bill_kind,
            recompute.season_code,
            recompute.issued_amount_yuan,
            recompute.recomputed_amount_yuan,
            recompute.difference_yuan,
            [change.to_record() for change in recompute.changes],
            list(recompute.cause_correlation_ids),
            **_context_fields(context),
        )

    @event(RecomputeAttached)
    def _recompute_attached(
        self,
        bill_id: UUID,
        bill_number: str,
        bill_kind: str,
        season_code: str,
        issued_amount_yuan: Decimal,
        recomputed_amount_yuan: Decimal,
        difference_yuan: Decimal,
        lines: list[dict[str, Any]],
        cause_correlation_ids: list[UUID],
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.recompute = RecomputeSnapshot(
            bill_id,
            bill_number,
            bill_kind,
            season_code,
            self.household.account_number,
            issued_amount_yuan,
            recomputed_amount_yuan,
            tuple(LineChange.from_record(line) for line in lines),
            tuple(cause_correlation_ids),
        )
        self._step(DisputeState.INVESTIGATING)

    def inform_household(self, message: str, channel: DisputeChannel, context: CommandContext) -> None:
        """Record what customer service told the household (any time before the dispute closes)."""
        self._require_open()
        self._require_step_room()
        self._household_informed(
            bounded_text(message, "message", MAXIMUM_TEXT_LENGTH),
            DisputeChannel(channel).value,
            **_context_fields(context),
        )

    @event(HouseholdInformed)
    def _household_informed(self, message: str, channel: str, actor: str, reason: str, correlation_id: UUID) -> None:
        self.steps += 1
        if self.state is DisputeState.OPEN:
            self.state = DisputeState.INVESTIGATING

    # -- resolution -------------------------------------------------------------------------

    def decide(
        self,
        outcome: ResolutionOutcome,
        requested_yuan: Decimal | None,
        booked_before_yuan: Decimal,
        threshold_yuan: Decimal,
    ) -> ResolutionDecision:
        """The note a resolution books (no event): in full, the recompute's difference less what
        earlier disputes booked against the same bill; in part, ``requested_yuan``, of the same sign
        and no larger. A note above ``threshold_yuan`` (in magnitude) needs a second person."""
        outcome = ResolutionOutcome(outcome)
        amount = self._note_amount(outcome, requested_yuan, booked_before_yuan)
        return ResolutionDecision(outcome, amount, threshold_yuan)

    def _note_amount(
        self, outcome: ResolutionOutcome, requested_yuan: Decimal | None, booked_before_yuan: Decimal
    ) -> Decimal:
        if outcome is ResolutionOutcome.UPHELD and requested_yuan is not None:
            raise InvalidInputError(
                "upheld in full books the recompute's difference: give an amount only in part",
                message_key="dispute_amount_only_in_part",
                field="amount_yuan",
            )
        if self.recompute is None:
            if outcome is ResolutionOutcome.UPHELD and self.category in SETTLED_WITHOUT_RECOMPUTE:
                return ZERO_YUAN
            raise ConflictError(
                "attach a recompute of the bill before upholding the dispute",
                message_key="dispute_recompute_required",
                reference=self.reference,
            )
        outstanding = self.recompute.difference_yuan - booked_before_yuan
        if outcome is ResolutionOutcome.UPHELD:
            return outstanding
        return _part_of(outstanding, requested_yuan)

    def resolve(
        self, decision: ResolutionDecision, period: BillingPeriod | None, issued_on: date, context: CommandContext
    ) -> IssuedBill | None:
        """Resolve now (no second person needed): book the note in ``period`` (the recomputed
        bill's) and record the resolution; save both together. Returns the note, if any."""
        self._require_resolvable()
        if decision.needs_second_person:
            raise ConflictError(
                "a note above the threshold is proposed for a second person's approval",
                message_key="dispute_needs_second_person",
            )
        note = self._book(decision.amount_yuan, period, issued_on, context)
        self._resolved(
            decision.outcome.value,
            decision.amount_yuan,
            note.bill_id if note else None,
            note.number if note else "",
            decision.threshold_yuan,
            issued_on,
            **_context_fields(context),
        )
        return note

    @event(Resolved)
    def _resolved(
        self,
        outcome: str,
        note_amount_yuan: Decimal,
        note_bill_id: UUID | None,
        note_number: str,
        approval_threshold_yuan: Decimal,
        closed_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self._close(_resolved_state(outcome), actor, reason, closed_on)
        self.note_amount_yuan, self.note_bill_id, self.note_number = note_amount_yuan, note_bill_id, note_number

    def propose(self, decision: ResolutionDecision, context: CommandContext) -> None:
        """Propose a note above the threshold for a second person's approval (nothing is booked)."""
        self._require_resolvable()
        assert decision.needs_second_person, "only a note above the threshold waits for approval"
        self._resolution_proposed(
            decision.outcome.value, decision.amount_yuan, decision.threshold_yuan, **_context_fields(context)
        )

    @event(ResolutionProposed)
    def _resolution_proposed(
        self,
        outcome: str,
        note_amount_yuan: Decimal,
        approval_threshold_yuan: Decimal,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.proposal = ResolutionDecision(ResolutionOutcome(outcome), note_amount_yuan, approval_threshold_yuan)
        self.proposed_by = actor
        self.state = DisputeState.RESOLUTION_PROPOSED

    def approve(self, period: BillingPeriod | None, issued_on: date, context: CommandContext) -> IssuedBill | None:
        """A second person (never the proposer) approves: the proposed note is booked in
        ``period`` (save both together). The note must still fit what is left of the recompute's
        difference: another dispute may have booked part of it meanwhile (ConflictError)."""
        proposal = self._require_proposal()
        if context.actor == self.proposed_by:
            raise PermissionDeniedError(
                "a resolution is approved by a second person, not by the one who proposed it",
                message_key="second_person_required",
                requested_by=self.proposed_by,
            )
        self._require_still_fits(proposal, period)
        note = self._book(proposal.amount_yuan, period, issued_on, context)
        self._resolution_approved(
            proposal.amount_yuan,
            note.bill_id if note else None,
            note.number if note else "",
            issued_on,
            **_context_fields(context),
        )
        return note

    def _require_still_fits(self, proposal: ResolutionDecision, period: BillingPeriod | None) -> None:
        """ConflictError when what is left of the recompute's difference no longer takes the
        proposed note (another dispute's note against the same bill was booked meanwhile)."""
        if self.recompute is None or proposal.amount_yuan == 0 or period is None:
            return
        booked = dispute_notes_booked_yuan(period, self.recompute.bill_number, self.note_label)
        left = self.recompute.difference_yuan - booked
        if proposal.outcome is ResolutionOutcome.UPHELD:
            fits = proposal.amount_yuan == left
        else:
            fits = (proposal.amount_yuan > 0) == (left > 0) and abs(proposal.amount_yuan) <= abs(left)
        if not fits:
            raise ConflictError(
                "another dispute booked part of this difference meanwhile: propose the resolution again",
                message_key="dispute_difference_booked_meanwhile",
                proposed_yuan=str(proposal.amount_yuan),
                left_yuan=str(left),
            )

    @event(ResolutionApproved)
    def _resolution_approved(
        self,
        note_amount_yuan: Decimal,
        note_bill_id: UUID | None,
        note_number: str,
        closed_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        assert self.proposal is not None, "an approval follows a proposal"
        self.approved_by = actor
        self._close(_resolved_state(self.proposal.outcome.value), actor, reason, closed_on)
        self.note_amount_yuan, self.note_bill_id, self.note_number = note_amount_yuan, note_bill_id, note_number

    def refuse(self, context: CommandContext) -> None:
        """A second person refuses the proposal: nothing is booked, the investigation goes on."""
        self._require_proposal()
        if context.actor == self.proposed_by:
            raise PermissionDeniedError(
                "a resolution is refused by a second person, not by the one who proposed it",
                message_key="second_person_required",
                requested_by=self.proposed_by,
            )
        self._resolution_refused(**_context_fields(context))

    @event(ResolutionRefused)
    def _resolution_refused(self, actor: str, reason: str, correlation_id: UUID) -> None:
        self.proposal = None
        self.proposed_by = None
        self.state = DisputeState.INVESTIGATING

    def reject(self, today: date, context: CommandContext) -> None:
        """Reject the dispute on the business day ``today``; the reason says why (nothing is booked)."""
        self._require_resolvable()
        self._rejected(today, **_context_fields(context))

    @event(Rejected)
    def _rejected(self, closed_on: date, actor: str, reason: str, correlation_id: UUID) -> None:
        self._close(DisputeState.REJECTED, actor, reason, closed_on)

    def withdraw(self, today: date, context: CommandContext) -> None:
        """The household withdraws the dispute (a pending proposal is dropped; nothing is booked)."""
        self._require_open()
        self._withdrawn(today, **_context_fields(context))

    @event(Withdrawn)
    def _withdrawn(self, closed_on: date, actor: str, reason: str, correlation_id: UUID) -> None:
        self._close(DisputeState.WITHDRAWN, actor, reason, closed_on)

    # -- helpers ----------------------------------------------------------------------------

    def _book(
        self, amount_yuan: Decimal, period: BillingPeriod | None, issued_on: date, context: CommandContext
    ) -> IssuedBill | None:
        """Book the note of ``amount_yuan`` against the recomputed bill's period (none for 0)."""
        if amount_yuan == 0:
            return None
        recompute = self.recompute
        assert recompute is not None, "a note's amount comes from a recompute"
        if period is None or period.facts.season_code != recompute.season_code:
            raise ConflictError(
                "the note is booked against the recomputed bill's own billing period",
                message_key="dispute_period_missing",
                season_code=recompute.season_code,
            )
        assert period.account_number == self.household.account_number, "the household's own period"
        note = AdjustmentNote(
            AdjustmentSource.DISPUTE, self.reference, recompute.bill_number, amount_yuan, recompute.justification()
        )
        booked = period.book_adjustment(note, issued_on, context)
        if booked is None:  # booked already (its label is the dispute's): the same note
            booked = period.bills[f"{BillKind.ADJUSTMENT.value}:{note.label}"]
        assert booked.number == bill_number(
            recompute.season_code, self.household.account_number, BillKind.ADJUSTMENT, note.label
        )
        return booked

    def _step(self, state: DisputeState) -> None:
        self.steps += 1
        self.state = state

    def _close(self, state: DisputeState, actor: str, reason: str, closed_on: date) -> None:
        self.steps += 1
        self.state = state
        self.closed_on = closed_on
        self.closed_by = actor
        self.closing_reason = reason

    def _require_open(self) -> None:
        if self.state.closed:
            raise ConflictError(
                f"the dispute is {self.state.value}",
                message_key="dispute_state_conflict",
                reference=self.reference,
                state=self.state.value,
            )

    def _require_step_room(self) -> None:
        if self.steps >= MAXIMUM_STEPS:
            raise ConflictError(
                f"a dispute takes at most {MAXIMUM_STEPS} steps",
                message_key="dispute_too_many_steps",
                limit=MAXIMUM_STEPS,
            )

    def _require_investigable(self) -> None:
        """Investigation goes on while the dispute is open or investigated (not while a resolution
        awaits its approval: its basis would move under the approver)."""
        if self.state not in (DisputeState.OPEN, DisputeState.INVESTIGATING):
            raise ConflictError(
                f"the dispute is {self.state.value}",
                message_key="dispute_state_conflict",
                reference=self.reference,
                state=self.state.value,
            )
        self._require_step_room()

    def _require_resolvable(self) -> None:
        self._require_investigable()

    def _require_proposal(self) -> ResolutionDecision:
        if self.state is not DisputeState.RESOLUTION_PROPOSED or self.proposal is None:
            raise ConflictError(
                f"the dispute is {self.state.value}: no resolution awaits approval",
                message_key="dispute_state_conflict",
                reference=self.reference,
                state=self.state.value,
            )
        return self.proposal


def _part_of(outstanding_yuan: Decimal, requested_yuan: Decimal | None) -> Decimal:
    """A part of what is outstanding: nonzero, to the 分, of the same sign, no larger."""
    if requested_yuan is None:
        raise InvalidInputError(
            "upheld in part needs the note's amount", message_key="dispute_part_amount_required", field="amount_yuan"
        )
    if not requested_yuan.is_finite() or requested_yuan != requested_yuan.quantize(CENT) or requested_yuan == 0:
        raise InvalidInputError(
            "a note's amount is in 元 with at most 2 decimals, not 0",
            message_key="adjustment_amount_invalid",
            amount_yuan=str(requested_yuan),
        )
    same_sign = (requested_yuan > 0) == (outstanding_yuan > 0)
    if outstanding_yuan == 0 or not same_sign or abs(requested_yuan) > abs(outstanding_yuan):
        raise InvalidInputError(
            "in part: an amount of the difference's sign, no larger than it",
            message_key="dispute_part_exceeds_difference",
            field="amount_yuan",
            amount_yuan=str(requested_yuan),
            difference_yuan=str(outstanding_yuan),
        )
    return requested_yuan.quantize(CENT)


def _resolved_state(outcome: str) -> DisputeState:
    return DisputeState.RESOLVED_UPHELD if outcome == ResolutionOutcome.UPHELD.value else DisputeState.RESOLVED_PARTLY
