"""The TariffCorrection aggregate: a price the price bureau (物价局) revised after the season, with
its document number, booked as credit and debit notes against the original billing periods.

A correction names one version of one tariff (customer class and scope), the price fields the
bureau corrected (the others stay as the version says), the bureau's document and its approval
day, the seasons it reaches back to, who proposed it and why. It never edits the version: the
tariff records that the version was corrected (``Tariff.VersionCorrected``) and every affected
billing period takes a note of its own (``AdjustmentSource.TARIFF_CORRECTION``).

Its life::

    proposed ─preview→ previewing ─→ previewed ─approve (another person)→ approved ─run→ running ─→ completed
        └──────────────── refuse (any time before the run) ───────────────────────┘→ refused

- **preview**: the scenario of the correction (application/scenarios.py) settles each affected
  household again under the corrected terms; the notes each would get are stored with the
  preview, and the preview's figures and a digest of its notes are recorded here;
- **approval** by a second person, never the one who proposed it, of exactly that preview;
- **run**: the previewed notes are booked, a chunk per save, each chunk with this aggregate's
  ``NotesBooked`` in the same save; a note is booked once per period (its label carries this
  correction's code), so a run killed half-way and run again books only what is missing;
- **completed** once every previewed note is booked: the counts and totals equal the preview's.

A proposal not approved yet (or refused) can be proposed again with other figures: it goes back to
``proposed`` and needs a new preview and approval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.errors import ConflictError, InvalidInputError, PermissionDeniedError
from domain.scenario import TariffVariant
from domain.season import Season, season_start_year
from domain.settlement import CENT
from domain.tariff import Tariff, TariffTerms, TariffVersion
from domain.values import MAXIMUM_CODE_LENGTH, CommandContext, CustomerClass, bounded_text

ZERO = Decimal(0)
# A correction reaches back at most this many seasons (a price bureau corrects the last one or two).
MAXIMUM_SEASONS = 5
MAXIMUM_REASON_LENGTH = 500
# The note's reference is ``<code>.<segment>``: "tariff_correction:" (18) + 10 + "." + up to 3
# digits fits the 32 characters a bill's label has.
CODE_LENGTH = 10
MAXIMUM_SEGMENTS = 999
# The label a preview's variant carries in its scenario.
VARIANT_LABEL = "更正后 corrected"


def tariff_correction_id(customer_class: str, scope: str, version: int, document_number: str) -> UUID:
    """The id of the correction of a tariff version by a document: proposing it again (a retry)
    finds the same correction, and one document corrects a version once."""
    return uuid5(ids.LEDGER_NAMESPACE, f"tariff-correction:{customer_class}:{scope}:{version}:{document_number}")


class CorrectionState(StrEnum):
    """Where a correction stands."""

    PROPOSED = "proposed"
    PREVIEWING = "previewing"
    PREVIEWED = "previewed"
    APPROVED = "approved"
    REFUSED = "refused"
    RUNNING = "running"
    COMPLETED = "completed"


# States in which the proposal may still change (proposed again) or be refused.
OPEN_STATES = frozenset({CorrectionState.PROPOSED, CorrectionState.PREVIEWING, CorrectionState.PREVIEWED})


@dataclass(frozen=True)
class PreviewTotals:
    """A preview's figures: the households the correction reaches and the notes they would get.

    ``credit_yuan`` is the sum of the credit notes (negative), ``debit_yuan`` of the debit notes;
    ``unchanged`` households are settled under the version but the correction does not move their
    season; ``held_out`` could not be given a note (not settled, or their settlement cannot be
    computed) and are listed with the reason; ``issued_differ`` households' issued settlements no
    longer recompute to the fen from what the ledger knows now (their notes carry the price's
    effect only, see docs/tariff-rules.md)."""

    households: int = 0
    notes: int = 0
    debit_notes: int = 0
    credit_notes: int = 0
    debit_yuan: Decimal = ZERO
    credit_yuan: Decimal = ZERO
    unchanged: int = 0
    held_out: int = 0
    issued_differ: int = 0

    @property
    def net_yuan(self) -> Decimal:
        """What the notes change in all: the company's revenue moves by this much."""
        return self.debit_yuan + self.credit_yuan

    def to_record(self) -> dict[str, str]:
        return {name: str(value) for name, value in asdict(self).items()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PreviewTotals:
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = record.get(item.name, "0")
            values[item.name] = Decimal(str(raw)) if item.name.endswith("_yuan") else int(str(raw))
        return cls(**values)


@dataclass(frozen=True)
class CorrectionProposal:
    """What is proposed: the version, the corrected price fields (as a scenario variant's overrides:
    text, None to remove a cap), the bureau's document and approval day, the seasons reached.

    A version corrected before (a correction that ran) is corrected again from where the earlier
    corrections left it: ``base_overrides`` are, per season, the price fields the earlier
    corrections of that season set (in order), and ``prior_corrections`` their ids; both are
    filled when the proposal is checked (``check_proposal``), from the tariff's record."""

    customer_class: str
    scope: str
    tariff_version: int
    overrides: Mapping[str, Any]
    document_number: str
    approved_on: date
    seasons: tuple[str, ...]
    base_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    prior_corrections: tuple[str, ...] = ()

    @property
    def variant(self) -> TariffVariant:
        """This correction's own fields as a scenario's variant (on the version's price)."""
        return TariffVariant(VARIANT_LABEL, dict(self.overrides), from_actual=True)

    def variant_for(self, season_code: str) -> TariffVariant:
        """The season's price after this correction, as a scenario's variant on the version's price:
        the earlier corrections' fields of the season, then this one's."""
        return TariffVariant(VARIANT_LABEL, {**self.base_overrides.get(season_code, {}), **self.overrides})

    def terms_before(self, terms: TariffTerms, season_code: str) -> TariffTerms:
        """A period's terms as the earlier corrections of its season left them (as published when none)."""
        base = self.base_overrides.get(season_code)
        return TariffVariant(VARIANT_LABEL, dict(base)).terms_on(terms) if base else terms

    def corrected_terms(self, terms: TariffTerms, season_code: str) -> TariffTerms:
        """A period's terms after this correction."""
        return self.variant_for(season_code).terms_on(terms)

    def same_request(self, other: CorrectionProposal) -> bool:
        """Whether ``other`` asks for the same correction (what the proposer typed, not what was derived)."""
        return (self.overrides, self.approved_on, self.seasons) == (other.overrides, other.approved_on, other.seasons)


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


class TariffCorrection(Aggregate):
    """The correction of one tariff version by a price bureau's document (see the module docstring)."""

    class Proposed(Aggregate.Created):
        tariff_id: UUID
        customer_class: str
        scope: str
        tariff_version: int
        overrides: dict[str, Any]
        document_number: str
        approved_on: date
        seasons: list[str]
        base_overrides: dict[str, dict[str, Any]]
        prior_corrections: list[str]
        actor: str
        reason: str
        correlation_id: UUID

    class Reproposed(Aggregate.Event):
        """Proposed again with other figures before its approval (or after its refusal)."""

        overrides: dict[str, Any]
        approved_on: date
        seasons: list[str]
        base_overrides: dict[str, dict[str, Any]]
        prior_corrections: list[str]
        actor: str
        reason: str
        correlation_id: UUID

    class PreviewStarted(Aggregate.Event):
        preview_number: int
        actor: str
        reason: str
        correlation_id: UUID

    class Previewed(Aggregate.Event):
        preview_number: int
        scenario_ids: list[str]  # one scenario per season, in the order of the seasons
        totals: dict[str, str]
        digest: str  # sha256 of the previewed notes (application.tariff_corrections.notes_digest)
        actor: str
        reason: str
        correlation_id: UUID

    class Approved(Aggregate.Event):
        preview_number: int
        digest: str
        actor: str
        reason: str
        correlation_id: UUID

    class Refused(Aggregate.Event):
        actor: str
        reason: str
        correlation_id: UUID

    class RunStarted(Aggregate.Event):
        actor: str
        reason: str
        correlation_id: UUID

    class NotesBooked(Aggregate.Event):
        """A chunk's notes, booked in the same save as this event."""

        notes: int
        debit_yuan: Decimal
        credit_yuan: Decimal
        actor: str
        reason: str
        correlation_id: UUID

    class Completed(Aggregate.Event):
        notes: int
        debit_yuan: Decimal
        credit_yuan: Decimal
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(
        tariff_id: UUID,
        customer_class: str,
        scope: str,
        tariff_version: int,
        overrides: dict[str, Any],
        document_number: str,
        approved_on: date,
        seasons: list[str],
        base_overrides: dict[str, dict[str, Any]],
        prior_corrections: list[str],
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> UUID:
        return tariff_correction_id(customer_class, scope, tariff_version, document_number)

    @event(Proposed)
    def __init__(
        self,
        tariff_id: UUID,
        customer_class: str,
        scope: str,
        tariff_version: int,
        overrides: dict[str, Any],
        document_number: str,
        approved_on: date,
        seasons: list[str],
        base_overrides: dict[str, dict[str, Any]],
        prior_corrections: list[str],
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.tariff_id = tariff_id
        self.proposal = CorrectionProposal(
            customer_class,
            scope,
            tariff_version,
            dict(overrides),
            document_number,
            approved_on,
            tuple(seasons),
            {season: dict(values) for season, values in base_overrides.items()},
            tuple(prior_corrections),
        )
        self.state = CorrectionState.PROPOSED
        self.proposed_by = actor
        self.reason = reason
        self.preview_number = 0
        self.scenario_ids: tuple[str, ...] = ()
        self.preview_totals: PreviewTotals | None = None
        self.preview_digest = ""
        self.approved_by = ""
        self.approved_preview = 0
        self.refused_by = ""
        self.booked = PreviewTotals()

    # -- proposing -----------------------------------------------------------------------------

    @classmethod
    def propose(
        cls, tariff: Tariff, proposal: CorrectionProposal, today: date, context: CommandContext
    ) -> TariffCorrection:
        """Propose the correction of a version of ``tariff`` (checked: see ``check_proposal``)."""
        checked = check_proposal(tariff, proposal, today)
        return cls(
            tariff_id=tariff.id,
            customer_class=checked.customer_class,
            scope=checked.scope,
            tariff_version=checked.tariff_version,
            overrides=dict(checked.overrides),
            document_number=checked.document_number,
            approved_on=checked.approved_on,
            seasons=list(checked.seasons),
            base_overrides={season: dict(values) for season, values in checked.base_overrides.items()},
            prior_corrections=list(checked.prior_corrections),
            **_context_fields(_checked_context(context)),
        )

    def propose_again(self, tariff: Tariff, proposal: CorrectionProposal, today: date, context: CommandContext) -> bool:
        """The same proposal again (a retry): False, nothing changes. Other figures for the same
        version and document: proposed again (True), unless it was approved or run already."""
        if self.state not in OPEN_STATES | {CorrectionState.REFUSED}:
            if _typed_request(proposal).same_request(_typed_request(self.proposal)):
                return False
            raise ConflictError(
                "this document's correction of the version was approved already: it cannot be proposed again",
                message_key="tariff_correction_exists",
                document_number=self.proposal.document_number,
                state=self.state.value,
            )
        checked = check_proposal(tariff, proposal, today, exclude=self.id)
        if checked == self.proposal and self.state is not CorrectionState.REFUSED:
            return False
        self._reproposed(
            dict(checked.overrides),
            checked.approved_on,
            list(checked.seasons),
            {season: dict(values) for season, values in checked.base_overrides.items()},
            list(checked.prior_corrections),
            **_context_fields(_checked_context(context)),
        )
        return True

    @event(Reproposed)
    def _reproposed(
        self,
        overrides: dict[str, Any],
        approved_on: date,
        seasons: list[str],
        base_overrides: dict[str, dict[str, Any]],
        prior_corrections: list[str],
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.proposal = CorrectionProposal(
            self.proposal.customer_class,
            self.proposal.scope,
            self.proposal.tariff_version,
            dict(overrides),
            self.proposal.document_number,
            approved_on,
            tuple(seasons),
            {season: dict(values) for season, values in base_overrides.items()},
            tuple(prior_corrections),
        )
        self.state = CorrectionState.PROPOSED
        self.proposed_by = actor
        self.reason = reason
        self.scenario_ids = ()
        self.preview_totals = None
        self.preview_digest = ""
        self.refused_by = ""

    # -- preview -------------------------------------------------------------------------------

    def start_preview(self, context: CommandContext) -> int:
        """Start a new preview (also of a preview that never finished); returns its number."""
        self._require(OPEN_STATES, "preview")
        number = self.preview_number + 1
        self._preview_started(number, **_context_fields(context))
        return number

    @event(PreviewStarted)
    def _preview_started(self, preview_number: int, actor: str, reason: str, correlation_id: UUID) -> None:
        self.preview_number = preview_number
        self.state = CorrectionState.PREVIEWING
        self.scenario_ids = ()
        self.preview_totals = None
        self.preview_digest = ""

    def record_preview(
        self,
        preview_number: int,
        scenario_ids: Sequence[UUID],
        totals: PreviewTotals,
        digest: str,
        context: CommandContext,
    ) -> None:
        """Record a finished preview: only the latest one started (an older one is stale)."""
        if self.state is not CorrectionState.PREVIEWING or preview_number != self.preview_number:
            raise ConflictError(
                "this preview was overtaken by a newer one or by a decision on the correction",
                message_key="tariff_correction_preview_stale",
                preview=preview_number,
                latest=self.preview_number,
                state=self.state.value,
            )
        if len(digest) != 64:
            raise InvalidInputError("a preview's digest is a sha256 in hex", message_key="tariff_correction_digest")
        self._previewed(
            preview_number, [str(item) for item in scenario_ids], totals.to_record(), digest, **_context_fields(context)
        )

    @event(Previewed)
    def _previewed(
        self,
        preview_number: int,
        scenario_ids: list[str],
        totals: dict[str, str],
        digest: str,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.state = CorrectionState.PREVIEWED
        self.scenario_ids = tuple(scenario_ids)
        self.preview_totals = PreviewTotals.from_record(totals)
        self.preview_digest = digest

    # -- the second person's decision ----------------------------------------------------------

    def approve(self, context: CommandContext) -> None:
        """Approve the latest preview: a second person, never the one who proposed the correction."""
        self._require(frozenset({CorrectionState.PREVIEWED}), "approve")
        if context.actor == self.proposed_by:
            raise PermissionDeniedError(
                "a tariff correction is approved by a second person, not by the one who proposed it",
                message_key="second_person_required",
                requested_by=self.proposed_by,
            )
        checked = _checked_context(context)
        self._approved(self.preview_number, self.preview_digest, **_context_fields(checked))

    @event(Approved)
    def _approved(self, preview_number: int, digest: str, actor: str, reason: str, correlation_id: UUID) -> None:
        self.state = CorrectionState.APPROVED
        self.approved_by = actor
        self.approved_preview = preview_number

    def refuse(self, context: CommandContext) -> None:
        """Refuse the correction (with why) any time before its run starts."""
        self._require(OPEN_STATES | {CorrectionState.APPROVED}, "refuse")
        self._refused(**_context_fields(_checked_context(context)))

    @event(Refused)
    def _refused(self, actor: str, reason: str, correlation_id: UUID) -> None:
        self.state = CorrectionState.REFUSED
        self.refused_by = actor

    # -- the run -------------------------------------------------------------------------------

    def start_run(self, digest: str, recorded: Sequence[UUID], context: CommandContext) -> bool:
        """Start booking the approved preview's notes, whose digest must be the approved one; True
        when it starts now, False when it runs already or has completed (a run resumed).

        ``recorded``: the corrections of the version the tariff records now. They must be the ones
        this correction was computed on: another that ran since would be booked twice."""
        if self.state in (CorrectionState.RUNNING, CorrectionState.COMPLETED):
            self._require_approved_notes(digest)
            return False
        self._require(frozenset({CorrectionState.APPROVED}), "run")
        self._require_approved_notes(digest)
        if tuple(str(item) for item in recorded) != self.proposal.prior_corrections:
            raise ConflictError(
                "another correction of this version ran since this one was proposed: propose it again",
                message_key="tariff_correction_overtaken",
                version=self.proposal.tariff_version,
            )
        self._run_started(**_context_fields(context))
        return True

    def _require_approved_notes(self, digest: str) -> None:
        if digest != self.preview_digest:
            raise ConflictError(
                "the notes to book are not the ones approved: preview and approve the correction again",
                message_key="tariff_correction_preview_changed",
                preview=self.approved_preview,
            )

    @event(RunStarted)
    def _run_started(self, actor: str, reason: str, correlation_id: UUID) -> None:
        self.state = CorrectionState.RUNNING

    def record_notes(self, amounts_yuan: Sequence[Decimal], context: CommandContext) -> None:
        """Count the notes a chunk booked (in the same save as the billing periods that booked them)."""
        if not amounts_yuan:
            return  # a chunk booked before (a run resumed, or run again once completed)
        self._require(frozenset({CorrectionState.RUNNING}), "book")
        assert all(amount != 0 and amount == amount.quantize(CENT) for amount in amounts_yuan), "notes are in fen"
        debit = sum((amount for amount in amounts_yuan if amount > 0), ZERO)
        credit = sum((amount for amount in amounts_yuan if amount < 0), ZERO)
        self._notes_booked(len(amounts_yuan), debit, credit, **_context_fields(context))

    @event(NotesBooked)
    def _notes_booked(
        self, notes: int, debit_yuan: Decimal, credit_yuan: Decimal, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        booked = self.booked
        self.booked = PreviewTotals(
            notes=booked.notes + notes,
            debit_yuan=booked.debit_yuan + debit_yuan,
            credit_yuan=booked.credit_yuan + credit_yuan,
        )

    def complete(self, context: CommandContext) -> bool:
        """Close the run once every previewed note is booked; False when it is completed already.
        ConflictError when the notes booked are not the preview's (some are still to book)."""
        if self.state is CorrectionState.COMPLETED:
            return False
        self._require(frozenset({CorrectionState.RUNNING}), "complete")
        expected = self.preview_totals or PreviewTotals()
        booked = self.booked
        if (booked.notes, booked.debit_yuan, booked.credit_yuan) != (
            expected.notes,
            expected.debit_yuan,
            expected.credit_yuan,
        ):
            raise ConflictError(
                "not every previewed note is booked yet: run the correction again",
                message_key="tariff_correction_incomplete",
                booked=booked.notes,
                previewed=expected.notes,
            )
        self._completed(booked.notes, booked.debit_yuan, booked.credit_yuan, **_context_fields(context))
        return True

    @event(Completed)
    def _completed(
        self, notes: int, debit_yuan: Decimal, credit_yuan: Decimal, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        self.state = CorrectionState.COMPLETED

    # -- reading -------------------------------------------------------------------------------

    @property
    def code(self) -> str:
        """A short code of the correction, in every note's reference (``<code>.<segment>``)."""
        return self.id.hex[:CODE_LENGTH]

    def note_reference(self, segment: str) -> str:
        """The reference of the note of a settlement bill's segment (``1``, ``2`` … per owner)."""
        if not segment.isdigit() or not 1 <= int(segment) <= MAXIMUM_SEGMENTS:
            raise InvalidInputError(
                "a settlement's segment is numbered 1 to 999", message_key="tariff_correction_segment", segment=segment
            )
        return f"{self.code}.{segment}"

    def _require(self, states: frozenset[CorrectionState], action: str) -> None:
        if self.state not in states:
            raise ConflictError(
                f"a correction that is {self.state.value} cannot {action}",
                message_key="tariff_correction_state",
                state=self.state.value,
                action=action,
            )


def check_proposal(
    tariff: Tariff, proposal: CorrectionProposal, today: date, exclude: UUID | None = None
) -> CorrectionProposal:
    """The proposal as it will be recorded (document trimmed, seasons in order, the earlier
    corrections of the version it builds on), or an error: the version must exist, the corrected
    fields must be price fields that change its price in every season, the bureau's approval day
    must be over, each season must be over and lie (partly) in the version's days. ``exclude``: the
    correction being proposed again (not an earlier one of its own)."""
    version = tariff.version_numbered(proposal.tariff_version)
    document = bounded_text(proposal.document_number, "document_number", MAXIMUM_CODE_LENGTH)
    if proposal.approved_on > today:
        raise InvalidInputError(
            "the bureau's approval day lies in the future",
            message_key="tariff_correction_approved_later",
            field="approved_on",
            approved_on=proposal.approved_on.isoformat(),
        )
    overrides = dict(proposal.variant.to_record()["overrides"])  # a field of the wrong kind: refused here
    seasons = _checked_seasons(proposal.seasons, version, today)
    earlier = [
        correction for correction in tariff.corrections_of(version.number) if correction.correction_id != exclude
    ]
    base: dict[str, dict[str, Any]] = {}
    for correction in earlier:
        for season in set(correction.seasons) & set(seasons):
            base.setdefault(season, {}).update(correction.overrides)
    checked = CorrectionProposal(
        CustomerClass(tariff.customer_class).value,
        tariff.scope,
        version.number,
        overrides,
        document,
        proposal.approved_on,
        seasons,
        base,
        tuple(str(correction.correction_id) for correction in earlier),
    )
    for season in seasons:
        # An invalid corrected price (a capped policy without a cap, say) is refused here too.
        if checked.corrected_terms(version.terms, season) == checked.terms_before(version.terms, season):
            raise InvalidInputError(
                "the correction leaves the version's price as it is",
                message_key="tariff_correction_changes_nothing",
                field="overrides",
                version=version.number,
                season=season,
            )
    return checked


def _typed_request(proposal: CorrectionProposal) -> CorrectionProposal:
    """The proposal with its fields as text, as recorded (to compare a retry with the record)."""
    return replace(
        proposal,
        overrides=dict(proposal.variant.to_record()["overrides"]),
        seasons=tuple(sorted(set(proposal.seasons))),
    )


def _checked_seasons(codes: Sequence[str], version: TariffVersion, today: date) -> tuple[str, ...]:
    unique = sorted(set(codes))
    if not 1 <= len(unique) <= MAXIMUM_SEASONS:
        raise InvalidInputError(
            f"a correction reaches back 1 to {MAXIMUM_SEASONS} seasons",
            message_key="tariff_correction_season_count",
            field="seasons",
            limit=MAXIMUM_SEASONS,
        )
    for code in unique:
        try:
            season = Season.default_starting(season_start_year(code))
        except ValueError:
            raise InvalidInputError(
                f"a season code looks like 2025-2026, not {code}",
                message_key="season_invalid",
                field="seasons",
                value=code,
            ) from None
        if today <= season.last_day:
            raise InvalidInputError(
                "a tariff correction reaches back to seasons that are over",
                message_key="tariff_correction_season_not_over",
                field="seasons",
                season=code,
            )
        ends = version.effective_until
        if version.effective_from > season.last_day or (ends is not None and ends < season.first_day):
            raise InvalidInputError(
                "the version was not in force in this season",
                message_key="tariff_correction_season_outside_version",
                field="seasons",
                season=code,
                version=version.number,
            )
    return tuple(unique)


def _checked_context(context: CommandContext) -> CommandContext:
    """Proposals and decisions say why: the reason is required (and bounded)."""
    reason = bounded_text(context.reason, "reason", MAXIMUM_REASON_LENGTH)
    return CommandContext(context.actor, reason, context.correlation_id)
