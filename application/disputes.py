"""Disputes (客服): customer service opens a household's dispute, records its investigation and
resolves it; a note above the approval threshold waits for a second person.

Each use case checks the caller's permission, loads the aggregates (copies: a failed command
leaves nothing behind), calls the dispute's command and saves everything that changes together in
one atomic ``save()``: the dispute with the household whose disputed amount it holds or releases,
and, when a resolution books a credit or debit note, with the billing period it is booked in.

Permissions: ``manage_disputes`` (customer service, clerks, admins) for everything but the second
person's decision on a proposed note, which needs ``approve_refunds`` (clerks, admins): the same
authority that approves money going back to a household, and never the proposer. Recording a
verification's test points through a dispute also needs ``manage_meters`` (it is the meter's
record); linking one already recorded does not.

What the use cases read besides the event store (bills, payments, recorded verifications,
withdrawn readings) comes through ``DisputeLookups``; the recompute of a bill through a
``Recompute`` function (``infrastructure.bill_replay``), so this layer imports neither.

Once a closing is saved, a ``ClosingHook`` hears of it (the resolution letter,
``application.dispute_letters``); a failure there is logged and never undoes the saved command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from application.authorization import Permission, Principal
from application.ledger import HeatLedger, require_reason
from domain import ids
from domain.billing_period import BillingPeriod, IssuedBill
from domain.day_split import business_day
from domain.dispute import (
    Dispute,
    DisputeChannel,
    DisputeClaim,
    DisputedHousehold,
    DisputeSubject,
    RecomputeSnapshot,
    ResolutionOutcome,
    SubjectKind,
    VerificationResult,
    dispute_notes_booked_yuan,
)
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.household import Household
from domain.season import current_or_last_season
from domain.values import CommandContext
from domain.verification import JudgedPoint, TestPoint, judge_points

AggregateType = TypeVar("AggregateType", bound=Aggregate)
# The source of an estimated reading (domain.values.ReadingSource.ESTIMATE).
ESTIMATE_SOURCE = "estimate"
# How the outcome of a resolution is named in a request; "rejected" books nothing.
REJECTED = "rejected"


@dataclass(frozen=True)
class BillRef:
    """An issued bill as the read models know it."""

    bill_id: UUID
    household_id: UUID
    season_code: str
    number: str
    kind: str


@dataclass(frozen=True)
class PaymentRef:
    """A recorded payment as the read models know it."""

    payment_id: UUID
    household_id: UUID
    received_on: date


@dataclass(frozen=True)
class RecordedVerification:
    """A verification the meter recorded (``Meter.VerificationRecorded``), at ``meter_version``."""

    meter_version: int
    verified_on: date
    certificate: str
    passed: bool
    points: tuple[JudgedPoint, ...]


@dataclass(frozen=True)
class WithdrawnReading:
    """A reading withdrawn from a meter (voided, corrected or replaced), by the command named."""

    measured_at: datetime
    source: str | None
    correlation_id: UUID


class DisputeLookups(Protocol):
    """What the dispute use cases read from the read models."""

    def bill(self, bill_id: UUID) -> BillRef | None: ...

    def payment(self, payment_id: UUID) -> PaymentRef | None: ...

    def verification(self, meter_serial: str, verified_on: date, certificate: str) -> RecordedVerification | None: ...

    def withdrawn_readings(self, meter_serial: str, measured_at: datetime) -> Sequence[WithdrawnReading]: ...


# A bill recomputed from everything known now, kept as a snapshot (infrastructure.bill_replay).
Recompute = Callable[[UUID], RecomputeSnapshot]

logger = logging.getLogger("heatledger.disputes")


class ClosingHook(Protocol):
    """Hears of a dispute closed (resolved, rejected, withdrawn) once the closing is saved."""

    def dispute_closed(self, dispute: Dispute, context: CommandContext) -> object: ...


@dataclass(frozen=True)
class SubjectRequest:
    """What the household disputes, as customer service types it: a bill (``bill_id``), a
    reading (``meter_serial`` and ``measured_at``) or a payment (``payment_id`` when the ledger
    has it, and/or the ``payment_reference`` the household quotes; ``season_code`` when no
    recorded payment names it)."""

    kind: SubjectKind
    bill_id: UUID | None = None
    meter_serial: str = ""
    measured_at: datetime | None = None
    payment_id: UUID | None = None
    payment_reference: str = ""
    season_code: str | None = None


@dataclass(frozen=True)
class OpenedDispute:
    """The dispute opened (``created``) or found opened already with the same reference."""

    dispute_id: UUID
    reference: str
    created: bool


@dataclass(frozen=True)
class ResolutionReport:
    """What a resolution did: the dispute's state now, the note booked (if any) or proposed."""

    dispute_id: UUID
    state: str
    note_amount_yuan: Decimal
    note_bill_id: UUID | None
    note_number: str
    awaiting_approval: bool


class Disputes:
    """Disputes of households, with the caller's permission checked first."""

    def __init__(
        self,
        ledger: HeatLedger,
        lookups: DisputeLookups,
        recompute: Recompute,
        approval_threshold_yuan: Decimal,
        closing_hook: ClosingHook | None = None,
    ) -> None:
        assert approval_threshold_yuan >= 0, "the approval threshold is an amount"
        self.ledger = ledger
        self.lookups = lookups
        self.recompute = recompute
        self.approval_threshold_yuan = approval_threshold_yuan
        self.closing_hook = closing_hook

    # -- opening --------------------------------------------------------------------------------

    def open(
        self,
        principal: Principal,
        account_number: str,
        subject: SubjectRequest,
        claim: DisputeClaim,
        reference: str | None = None,
        reason: str = "",
        correlation_id: UUID | None = None,
    ) -> OpenedDispute:
        """Open a dispute and hold its amount on the household, in one save. With a ``reference``
        (工单号) a retry finds the dispute opened already (``created`` False); the same reference
        for another claim is a ConflictError."""
        principal.require(Permission.MANAGE_DISPUTES)
        today = business_day(self.ledger.clock())
        chosen = reference.strip() if reference else _generated_reference(today)
        context = self._context(principal, reason or f"dispute opened ({claim.category})", correlation_id)
        with self.ledger.locks.writing([ids.household_id(account_number), ids.dispute_id(account_number, chosen)]):
            household = self.ledger.household(account_number)
            found = self._subject(household, subject, today)
            disputed = DisputedHousehold(
                household.id, household.account_number, household.address.community, household.address.building
            )
            dispute = Dispute.open(chosen, disputed, found, claim, today, context)
            existing = self._load_or_none(Dispute, dispute.id)
            if existing is not None:
                return self._same_opening(existing, dispute)
            household.open_dispute(dispute.id, dispute.disputed_amount_yuan, context)
            self.ledger.save(dispute, household)
        return OpenedDispute(dispute.id, dispute.reference, True)

    @staticmethod
    def _same_opening(existing: Dispute, retried: Dispute) -> OpenedDispute:
        same = (existing.subject, existing.category, existing.disputed_amount_yuan) == (
            retried.subject,
            retried.category,
            retried.disputed_amount_yuan,
        )
        if not same:
            raise ConflictError(
                f"the reference {existing.reference} names another dispute of this household",
                message_key="dispute_reference_taken",
                reference=existing.reference,
                dispute_id=str(existing.id),
            )
        return OpenedDispute(existing.id, existing.reference, False)

    def _subject(self, household: Household, request: SubjectRequest, today: date) -> DisputeSubject:
        """The subject checked against the ledger: the bill or payment is the household's, the
        meter measured it."""
        kind = SubjectKind(request.kind)
        if kind is SubjectKind.BILL:
            return self._bill_subject(household, request)
        if kind is SubjectKind.READING:
            return self._reading_subject(household, request)
        return self._payment_subject(household, request, today)

    def _bill_subject(self, household: Household, request: SubjectRequest) -> DisputeSubject:
        if request.bill_id is None:
            raise InvalidInputError("name the disputed bill", message_key="dispute_subject_incomplete", field="bill_id")
        bill = self.lookups.bill(request.bill_id)
        if bill is None:
            raise NotFoundError(f"no bill {request.bill_id}", kind="bill", key=str(request.bill_id))
        if bill.household_id != household.id:
            raise InvalidInputError(
                "the bill is not this household's",
                message_key="dispute_bill_other_household",
                bill_number=bill.number,
                account_number=household.account_number,
            )
        return DisputeSubject(SubjectKind.BILL, bill.season_code, bill_id=bill.bill_id, bill_number=bill.number)

    def _reading_subject(self, household: Household, request: SubjectRequest) -> DisputeSubject:
        if not request.meter_serial.strip() or request.measured_at is None:
            raise InvalidInputError(
                "name the disputed reading: its meter and when it was measured",
                message_key="dispute_subject_incomplete",
                field="measured_at",
            )
        serial = self._household_meter(household, request.meter_serial)
        season = current_or_last_season(business_day(request.measured_at))
        return DisputeSubject(SubjectKind.READING, season.code, meter_serial=serial, measured_at=request.measured_at)

    def _payment_subject(self, household: Household, request: SubjectRequest, today: date) -> DisputeSubject:
        if request.payment_id is None and not request.payment_reference.strip():
            raise InvalidInputError(
                "name the payment: the ledger's payment id or the household's receipt or transaction number",
                message_key="dispute_subject_incomplete",
                field="payment_reference",
            )
        season_code = request.season_code or current_or_last_season(today).code
        if request.payment_id is not None:
            payment = self.lookups.payment(request.payment_id)
            if payment is None:
                raise NotFoundError(f"no payment {request.payment_id}", kind="payment", key=str(request.payment_id))
            if payment.household_id != household.id:
                raise InvalidInputError(
                    "the payment is not this household's",
                    message_key="dispute_payment_other_household",
                    account_number=household.account_number,
                )
            season_code = current_or_last_season(payment.received_on).code
        return DisputeSubject(
            SubjectKind.PAYMENT,
            season_code,
            payment_id=request.payment_id,
            payment_reference=request.payment_reference.strip(),
        )

    def _household_meter(self, household: Household, serial: str) -> str:
        """``serial`` if that meter measures or measured the household (its history says so)."""
        wanted = serial.strip()
        for domain_event in self.ledger.events.get(household.id):
            if isinstance(domain_event, Household.MeterAttached) and domain_event.meter_serial == wanted:
                return wanted
        raise InvalidInputError(
            "the meter never measured this household",
            message_key="dispute_meter_other_household",
            meter_serial=wanted,
            account_number=household.account_number,
        )

    # -- investigation --------------------------------------------------------------------------

    def request_verification(
        self,
        principal: Principal,
        dispute_id: UUID,
        meter_serial: str,
        reason: str = "",
        correlation_id: UUID | None = None,
    ) -> None:
        """A verification of the household's meter (JJG 225) is requested."""
        principal.require(Permission.MANAGE_DISPUTES)
        context = self._context(principal, reason or "meter verification requested", correlation_id)
        with self._alone_on(dispute_id):
            dispute = self._dispute(dispute_id)
            serial = self._household_meter(self.ledger.household(dispute.household.account_number), meter_serial)
            dispute.request_verification(serial, context)
            self.ledger.save(dispute)

    def record_verification_result(
        self,
        principal: Principal,
        dispute_id: UUID,
        meter_serial: str,
        verified_on: date,
        certificate: str,
        points: list[TestPoint] | None = None,
        reason: str = "",
        correlation_id: UUID | None = None,
    ) -> VerificationResult:
        """The verification's result against the class's error limit. With ``points`` it is
        recorded on the meter now (the same path as ``POST /meters/{serial}/verifications``) and
        saved with the dispute; without, the verification the meter recorded on ``verified_on``
        with ``certificate`` is linked (NotFoundError when there is none)."""
        principal.require(Permission.MANAGE_DISPUTES)
        context = self._context(principal, reason or "meter verification result", correlation_id)
        with self._alone_on(dispute_id, ids.meter_id(meter_serial.strip())):
            dispute = self._dispute(dispute_id)
            serial = self._household_meter(self.ledger.household(dispute.household.account_number), meter_serial)
            if points is None:
                result = self._recorded_verification(serial, verified_on, certificate)
                dispute.record_verification_result(result, context)
                self.ledger.save(dispute)
                return result
            principal.require(Permission.MANAGE_METERS)
            meter = self.ledger.meter(serial)
            passed = meter.record_verification(verified_on, certificate, points, context)
            judged = judge_points(points, meter.accuracy_class, meter.permanent_flow_m3_h)
            result = VerificationResult(serial, verified_on, certificate.strip(), passed, tuple(judged), meter.version)
            dispute.record_verification_result(result, context)
            self.ledger.save(meter, dispute)
            return result

    def _recorded_verification(self, serial: str, verified_on: date, certificate: str) -> VerificationResult:
        found = self.lookups.verification(serial, verified_on, certificate.strip())
        if found is None:
            key = f"{serial} {verified_on.isoformat()} {certificate.strip()}"
            raise NotFoundError(f"no verification {key}", kind="verification", key=key)
        return VerificationResult(
            serial, found.verified_on, found.certificate, found.passed, found.points, found.meter_version
        )

    def record_site_visit(
        self,
        principal: Principal,
        dispute_id: UUID,
        visited_on: date,
        findings: str,
        visited_by: str = "",
        reason: str = "",
        correlation_id: UUID | None = None,
    ) -> None:
        """A visit to the flat: when, by whom (default: the caller) and what was found."""
        principal.require(Permission.MANAGE_DISPUTES)
        context = self._context(principal, reason or "site visit", correlation_id)
        self._change(dispute_id, lambda dispute: dispute.record_site_visit(visited_on, visited_by, findings, context))

    def link_reading_correction(
        self,
        principal: Principal,
        dispute_id: UUID,
        meter_serial: str,
        measured_at: datetime,
        correction_correlation_id: UUID,
        reason: str = "",
        correlation_id: UUID | None = None,
    ) -> None:
        """Link the correction of a reading (``POST /meters/{serial}/reading-corrections`` or a
        void; its receipt's correlation id). NotFoundError when the meter's withdrawn readings
        hold no reading at ``measured_at`` withdrawn by that command."""
        principal.require(Permission.MANAGE_DISPUTES)
        context = self._context(principal, reason or "reading corrected", correlation_id)
        with self._alone_on(dispute_id):
            dispute = self._dispute(dispute_id)
            serial = self._household_meter(self.ledger.household(dispute.household.account_number), meter_serial)
            withdrawn = self.lookups.withdrawn_readings(serial, measured_at)
            if not any(reading.correlation_id == correction_correlation_id for reading in withdrawn):
                key = f"{serial} {measured_at.isoformat()} {correction_correlation_id}"
                raise NotFoundError(f"no reading correction {key}", kind="reading_correction", key=key)
            dispute.link_reading_correction(serial, measured_at, correction_correlation_id, context)
            self.ledger.save(dispute)

    def link_estimate_replacement(
        self,
        principal: Principal,
        dispute_id: UUID,
        meter_serial: str,
        measured_at: datetime,
        replacement_correlation_id: UUID | None = None,
        reason: str = "",
        correlation_id: UUID | None = None,
    ) -> UUID:
        """Link the replacement of an estimated reading at ``measured_at`` (by a real reading, or
        voided and estimated again): the command that withdrew it, the one named or the latest.
        NotFoundError when no estimate at ``measured_at`` was withdrawn (by that command)."""
        principal.require(Permission.MANAGE_DISPUTES)
        context = self._context(principal, reason or "estimate replaced", correlation_id)
        with self._alone_on(dispute_id):
            dispute = self._dispute(dispute_id)
            serial = self._household_meter(self.ledger.household(dispute.household.account_number), meter_serial)
            replaced = [
                reading.correlation_id
                for reading in self.lookups.withdrawn_readings(serial, measured_at)
                if reading.source == ESTIMATE_SOURCE and replacement_correlation_id in (None, reading.correlation_id)
            ]
            if not replaced:
                key = f"{serial} {measured_at.isoformat()}"
                raise NotFoundError(f"no replaced estimate {key}", kind="estimate_replacement", key=key)
            dispute.link_estimate_replacement(serial, measured_at, replaced[-1], context)
            self.ledger.save(dispute)
            return replaced[-1]

    def attach_recompute(
        self,
        principal: Principal,
        dispute_id: UUID,
        bill_id: UUID,
        reason: str = "",
        correlation_id: UUID | None = None,
    ) -> RecomputeSnapshot:
        """Recompute one of the household's bills from everything known now and attach it: its
        difference and the lines that differ, kept as they are now (a later correction needs a
        new recompute)."""
        principal.require(Permission.MANAGE_DISPUTES)
        context = self._context(principal, reason or "recompute attached", correlation_id)
        self.dispute(dispute_id)  # a missing dispute is a 404 before the (costly) recompute
        snapshot = self.recompute(bill_id)  # read-only: outside the command lock
        self._change(dispute_id, lambda dispute: dispute.attach_recompute(snapshot, context))
        return snapshot

    def inform_household(
        self,
        principal: Principal,
        dispute_id: UUID,
        message: str,
        channel: DisputeChannel,
        reason: str = "",
        correlation_id: UUID | None = None,
    ) -> None:
        """Record a note to the household (what it was told and how)."""
        principal.require(Permission.MANAGE_DISPUTES)
        context = self._context(principal, reason or "note to the household", correlation_id)
        self._change(dispute_id, lambda dispute: dispute.inform_household(message, channel, context))

    # -- resolution -----------------------------------------------------------------------------

    def resolve(
        self,
        principal: Principal,
        dispute_id: UUID,
        outcome: str,
        reason: str,
        amount_yuan: Decimal | None = None,
        correlation_id: UUID | None = None,
    ) -> ResolutionReport:
        """Resolve: ``rejected`` (the reason says why), or ``upheld`` / ``partly`` with the note
        booked against the recomputed bill's period now, or proposed for a second person's
        approval when it is above the threshold."""
        principal.require(Permission.MANAGE_DISPUTES)
        require_reason(reason)
        context = self._context(principal, reason, correlation_id)
        with self._alone_on(dispute_id):
            dispute = self._dispute(dispute_id)
            if outcome == REJECTED:
                if amount_yuan is not None:
                    raise InvalidInputError(
                        "a rejection books nothing: give no amount",
                        message_key="dispute_amount_only_in_part",
                        field="amount_yuan",
                    )
                dispute.reject(self._today(), context)
                return self._close(dispute, None, None, context)
            period = self._period(dispute)
            booked = (
                dispute_notes_booked_yuan(period, dispute.recompute.bill_number, dispute.note_label)
                if period is not None and dispute.recompute is not None
                else Decimal(0)
            )
            decision = dispute.decide(ResolutionOutcome(outcome), amount_yuan, booked, self.approval_threshold_yuan)
            if decision.needs_second_person:
                dispute.propose(decision, context)
                self.ledger.save(dispute)
                return _report(dispute, awaiting_approval=True)
            note = dispute.resolve(decision, period, self._today(), context)
            return self._close(dispute, period, note, context)

    def approve(
        self, principal: Principal, dispute_id: UUID, reason: str, correlation_id: UUID | None = None
    ) -> ResolutionReport:
        """The second person approves the proposed note (never the proposer): it is booked."""
        principal.require(Permission.APPROVE_REFUNDS)
        context = self._context(principal, reason.strip() or "approved", correlation_id)
        with self._alone_on(dispute_id):
            dispute = self._dispute(dispute_id)
            period = self._period(dispute)
            note = dispute.approve(period, self._today(), context)
            return self._close(dispute, period, note, context)

    def refuse(
        self, principal: Principal, dispute_id: UUID, reason: str, correlation_id: UUID | None = None
    ) -> ResolutionReport:
        """The second person refuses the proposed note (never the proposer): nothing is booked and
        the dispute is investigated again."""
        principal.require(Permission.APPROVE_REFUNDS)
        require_reason(reason)
        context = self._context(principal, reason, correlation_id)
        with self._alone_on(dispute_id):
            dispute = self._dispute(dispute_id)
            dispute.refuse(context)
            self.ledger.save(dispute)
            return _report(dispute, awaiting_approval=False)

    def withdraw(
        self, principal: Principal, dispute_id: UUID, reason: str, correlation_id: UUID | None = None
    ) -> ResolutionReport:
        """The household withdraws its dispute: nothing is booked, the amount is released."""
        principal.require(Permission.MANAGE_DISPUTES)
        require_reason(reason)
        context = self._context(principal, reason, correlation_id)
        with self._alone_on(dispute_id):
            dispute = self._dispute(dispute_id)
            dispute.withdraw(self._today(), context)
            return self._close(dispute, None, None, context)

    def _close(
        self, dispute: Dispute, period: BillingPeriod | None, note: IssuedBill | None, context: CommandContext
    ) -> ResolutionReport:
        """Release the household's hold and save it with the dispute (and the note's period)."""
        assert not dispute.is_open, "only a closed dispute releases its hold"
        household = self.ledger.household(dispute.household.account_number)
        household.close_dispute(dispute.id, context)
        changed: list[Aggregate] = [dispute, household]
        if note is not None:
            assert period is not None, "a note is booked in a period"
            changed.append(period)
        self.ledger.save(*changed)
        self._after_closing(dispute, context)
        return _report(dispute, awaiting_approval=False)

    def _after_closing(self, dispute: Dispute, context: CommandContext) -> None:
        """Tell the hook (the resolution letter). The closing is saved already: a failure here is
        logged, not raised, and the letter is sent again by hand (``POST /disputes/{id}/letter``)."""
        if self.closing_hook is None:
            return
        try:
            self.closing_hook.dispute_closed(dispute, context)
        except Exception:
            logger.exception("dispute %s is closed, but its closing hook failed", dispute.reference)

    def _period(self, dispute: Dispute) -> BillingPeriod | None:
        """The recomputed bill's billing period (None without a recompute)."""
        if dispute.recompute is None:
            return None
        period_id = ids.billing_period_id(dispute.household.account_number, dispute.recompute.season_code)
        return self._load_or_none(BillingPeriod, period_id)

    # -- reads ----------------------------------------------------------------------------------

    def dispute(self, dispute_id: UUID) -> Dispute:
        """The dispute (a copy), or NotFoundError."""
        with self.ledger.locks.writing([dispute_id]):
            return self._dispute(dispute_id)

    # -- plumbing -------------------------------------------------------------------------------

    def _change(self, dispute_id: UUID, change: Callable[[Dispute], None]) -> None:
        with self.ledger.locks.writing([dispute_id]):  # beside other commands, on a copy
            dispute = self._dispute(dispute_id)
            change(dispute)
            self.ledger.save(dispute)

    @contextmanager
    def _alone_on(self, dispute_id: UUID, *more: UUID) -> Iterator[None]:
        """Beside other commands, alone on the dispute, its household and the billing period of
        its recompute (``more``: other aggregates the command changes); they change copies."""
        with self.ledger.locks.writing_found([dispute_id, *more], lambda: self._related_ids(dispute_id)):
            yield

    def _related_ids(self, dispute_id: UUID) -> list[UUID]:
        dispute = self._load_or_none(Dispute, dispute_id)
        if dispute is None:
            return []
        account_number = dispute.household.account_number
        related = [ids.household_id(account_number)]
        if dispute.recompute is not None:
            related.append(ids.billing_period_id(account_number, dispute.recompute.season_code))
        return related

    def _dispute(self, dispute_id: UUID) -> Dispute:
        dispute = self._load_or_none(Dispute, dispute_id)
        if dispute is None:
            raise NotFoundError(f"no dispute {dispute_id}", kind="dispute", key=str(dispute_id))
        return dispute

    def _load_or_none(self, kind: type[AggregateType], aggregate_id: UUID) -> AggregateType | None:
        """A copy of the aggregate (a failed command leaves the cache as it was), or None."""
        try:
            aggregate: Aggregate = self.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, kind):
            return None
        return aggregate

    def _today(self) -> date:
        return business_day(self.ledger.clock())

    @staticmethod
    def _context(principal: Principal, reason: str, correlation_id: UUID | None) -> CommandContext:
        return CommandContext(principal.name, reason.strip(), correlation_id or uuid4())


def _report(dispute: Dispute, awaiting_approval: bool) -> ResolutionReport:
    proposal = dispute.proposal if awaiting_approval else None
    return ResolutionReport(
        dispute.id,
        dispute.state.value,
        proposal.amount_yuan if proposal is not None else dispute.note_amount_yuan,
        dispute.note_bill_id,
        dispute.note_number,
        awaiting_approval,
    )


def _generated_reference(today: date) -> str:
    """A reference when customer service gives none: the day and six random hex digits."""
    return f"D{today:%y%m%d}-{uuid4().hex[:6]}"
