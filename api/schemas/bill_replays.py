"""What a bill's replay and recomputation answer: the issued lines beside the recomputed ones,
the lines that differ and, for a recomputation, each later command that moved the bill."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.billing import MoneyText
from domain.settlement import BillLine
from infrastructure.bill_replay import Cause, CauseEvent, LineDifference, RecomputeOutcome, ReplayOutcome


class ReplayedLineOutput(BaseModel):
    """One line of a bill: the formula (code), what it gave and the figures put in."""

    code: str = Field(examples=["energy_metered"])
    amount_yuan: MoneyText | None = Field(description="None for a line that states a fact")
    figures: dict[str, str]

    @classmethod
    def from_line(cls, line: BillLine) -> ReplayedLineOutput:
        return cls(code=line.code, amount_yuan=line.amount_yuan, figures=dict(line.figures))


class LineDifferenceOutput(BaseModel):
    """A line as issued against the same line computed again (null: the line is absent there)."""

    index: int = Field(description="The line's position on the bill, from 0")
    issued: ReplayedLineOutput | None
    computed: ReplayedLineOutput | None

    @classmethod
    def from_difference(cls, difference: LineDifference) -> LineDifferenceOutput:
        return cls(
            index=difference.index,
            issued=_line_or_none(difference.issued),
            computed=_line_or_none(difference.recomputed),
        )


class BillReplayOutput(BaseModel):
    """An issued bill recomputed through the same billing code from exactly the events known when
    it was issued. `matches` false is a defect of the ledger (it is logged as one)."""

    bill_id: UUID
    number: str
    kind: str
    matches: bool = Field(description="The replayed lines equal the issued ones to the fen")
    issued_amount_yuan: MoneyText
    replayed_amount_yuan: MoneyText | None = Field(description="Null when the replay issued no bill")
    refusal: str | None = Field(description="Why the replay issued no bill, when it did not")
    inputs_position: int = Field(description="The notification position the bill's inputs were read at")
    events_used: int = Field(description="How many events the replay was given")
    issued_lines: list[ReplayedLineOutput]
    differences: list[LineDifferenceOutput]

    @classmethod
    def from_outcome(cls, outcome: ReplayOutcome) -> BillReplayOutput:
        return cls(
            bill_id=outcome.bill_id,
            number=outcome.number,
            kind=outcome.kind,
            matches=outcome.matches,
            issued_amount_yuan=outcome.issued_amount_yuan,
            replayed_amount_yuan=outcome.replayed.amount_yuan,
            refusal=outcome.replayed.refusal,
            inputs_position=outcome.inputs_position,
            events_used=outcome.events_used,
            issued_lines=[ReplayedLineOutput.from_line(line) for line in outcome.issued_lines],
            differences=[LineDifferenceOutput.from_difference(found) for found in outcome.differences],
        )


class CauseEventOutput(BaseModel):
    """One event of a cause: its type, when it happened and was recorded, who and why."""

    aggregate_id: UUID
    version: int
    event_type: str = Field(examples=["Meter.ReadingVoided"])
    recorded_at: datetime
    happened: str = Field(description="The world's date or time the event carries; empty when none")
    actor: str
    reason: str

    @classmethod
    def from_event(cls, event: CauseEvent) -> CauseEventOutput:
        return cls.model_validate(event, from_attributes=True)


class CauseOutput(BaseModel):
    """A command recorded after the bill's inputs that moved the bill, and by how much."""

    correlation_ids: list[UUID]
    amount_yuan: MoneyText = Field(description="How much it moved the bill (0: it moved lines only)")
    amount_before_yuan: MoneyText | None
    amount_after_yuan: MoneyText | None
    event_count: int
    events: list[CauseEventOutput] = Field(description="Its events (at most 20 are listed)")

    @classmethod
    def from_cause(cls, cause: Cause) -> CauseOutput:
        return cls(
            correlation_ids=list(cause.correlation_ids),
            amount_yuan=cause.amount_yuan,
            amount_before_yuan=cause.amount_before_yuan,
            amount_after_yuan=cause.amount_after_yuan,
            event_count=cause.event_count,
            events=[CauseEventOutput.from_event(event) for event in cause.events],
        )


class BillRecomputeOutput(BaseModel):
    """The same bill computed from everything the ledger knows now (as if issued on its day), the
    difference from the issued bill and each later command that moved it."""

    bill_id: UUID
    number: str
    kind: str
    issued_amount_yuan: MoneyText
    recomputed_amount_yuan: MoneyText | None = Field(description="Null when no bill would be issued now")
    difference_yuan: MoneyText = Field(description="Recomputed minus issued")
    refusal: str | None = Field(description="Why no bill would be issued now, when none would")
    replay_matches: bool = Field(description="The starting point equals the issued bill (false: a defect)")
    events_considered: int = Field(description="Events recorded since the bill's inputs")
    lines: list[ReplayedLineOutput]
    differences: list[LineDifferenceOutput]
    causes: list[CauseOutput]

    @classmethod
    def from_outcome(cls, outcome: RecomputeOutcome) -> BillRecomputeOutput:
        return cls(
            bill_id=outcome.bill_id,
            number=outcome.number,
            kind=outcome.kind,
            issued_amount_yuan=outcome.issued_amount_yuan,
            recomputed_amount_yuan=outcome.recomputed.amount_yuan,
            difference_yuan=outcome.difference_yuan,
            refusal=outcome.recomputed.refusal,
            replay_matches=outcome.replay_matches,
            events_considered=outcome.events_considered,
            lines=[ReplayedLineOutput.from_line(line) for line in outcome.recomputed.lines],
            differences=[LineDifferenceOutput.from_difference(found) for found in outcome.differences],
            causes=[CauseOutput.from_cause(cause) for cause in outcome.causes],
        )


def _line_or_none(line: BillLine | None) -> ReplayedLineOutput | None:
    return ReplayedLineOutput.from_line(line) if line is not None else None
