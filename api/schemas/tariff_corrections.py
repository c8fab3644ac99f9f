"""Retroactive tariff corrections: a price the price bureau revised after the season, previewed,
approved by a second person and booked as credit and debit notes against the original periods.

Money is 元 as JSON strings with two decimals, like every exact decimal of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.billing import (
    BillLineOutput,
    MoneyText,
    PercentInput,
    PriceInput,
    RunExceptionOutput,
    RunProblem,
    RunProgress,
    SeasonCode,
)
from api.schemas.common import NAME_MAX_LENGTH, IsoDate, RequestModel, WholeNumber
from domain.settlement import PositionCorrection, RoundingMode, SettlementPolicy
from domain.tariff_correction import (
    MAXIMUM_REASON_LENGTH,
    MAXIMUM_SEASONS,
    CorrectionProposal,
    PreviewTotals,
    TariffCorrection,
)
from domain.values import MAXIMUM_CODE_LENGTH, CustomerClass
from infrastructure.tariff_corrections import CorrectionJobRecord, JobKind, NoteRow
from projections.tariff_corrections import CorrectionRow

# The request's fields that are not corrected prices.
_PROPOSAL_KEYS = frozenset(
    {"customer_class", "scope", "version", "document_number", "approved_on", "seasons", "reason"}
)

Reason = Field(min_length=1, max_length=MAXIMUM_REASON_LENGTH)


class TariffCorrectionProposal(RequestModel):
    """A tariff version corrected after its seasons: the bureau's document and approval day, the
    seasons it reaches back to, why, and the price fields it corrects (only those named change;
    the others stay as the version says). Billed area, the broken-meter rule and the position
    coefficients are never corrected here: a new version says those."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_class": "residential",
                    "scope": "*",
                    "version": 1,
                    "document_number": "许发改价格〔2026〕12号",
                    "approved_on": "2026-04-10",
                    "seasons": ["2025-2026"],
                    "reason": "物价局核减 2025-2026 采暖季计量热价",
                    "energy_price_yuan_per_gj": "40.00",
                }
            ]
        }
    )

    customer_class: CustomerClass = CustomerClass.RESIDENTIAL
    scope: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, description='A community, or "*" for the city')
    version: WholeNumber = Field(ge=1, description="The version corrected")
    document_number: str = Field(min_length=1, max_length=MAXIMUM_CODE_LENGTH, description="The bureau's document")
    approved_on: IsoDate = Field(description="The day the bureau approved the document")
    seasons: list[SeasonCode] = Field(min_length=1, max_length=MAXIMUM_SEASONS)
    reason: str = Reason
    area_price_yuan_per_m2: PriceInput | None = None
    base_share_percent: PercentInput | None = None
    energy_price_yuan_per_gj: PriceInput | None = None
    policy: SettlementPolicy | None = None
    cap_percent: PercentInput | None = Field(default=None, description="null removes the cap (send it to do so)")
    suspension_share_percent: PercentInput | None = None
    position_correction: PositionCorrection | None = None
    minimum_charge_yuan: PriceInput | None = None
    rounding_mode: RoundingMode | None = None
    rounding_quantum_yuan: PriceInput | None = None

    def proposal(self) -> CorrectionProposal:
        """The domain's proposal: only the price fields the request named (a null cap counts)."""
        named = self.model_fields_set - _PROPOSAL_KEYS
        overrides = {
            name: getattr(self, name) for name in named if getattr(self, name) is not None or name == "cap_percent"
        }
        return CorrectionProposal(
            self.customer_class.value,
            self.scope,
            self.version,
            overrides,
            self.document_number,
            self.approved_on,
            tuple(self.seasons),
        )


class Decision(RequestModel):
    """A decision on a correction, with why."""

    reason: str = Reason


class JobRequest(RequestModel):
    """Why a preview or a run is started (optional)."""

    reason: str = Field(default="", max_length=MAXIMUM_REASON_LENGTH)


class PreviewTotalsOutput(BaseModel):
    """What the preview found: the households under the version, the notes they would get."""

    households: int = Field(description="Households whose period was opened under the version")
    notes: int = Field(description="One per settlement bill (owner) the correction moves")
    debit_notes: int
    credit_notes: int
    debit_yuan: MoneyText
    credit_yuan: MoneyText = Field(description="Negative: what goes back to households")
    net_yuan: MoneyText = Field(description="The company's revenue change")
    unchanged: int = Field(description="Settled under the version, not moved by the correction")
    held_out: int = Field(description="Not settled, or their settlement cannot be computed: no note")
    issued_differ: int = Field(
        description="Issued settlements that no longer recompute to the fen: their notes carry the price's effect only"
    )

    @classmethod
    def from_totals(cls, totals: PreviewTotals) -> PreviewTotalsOutput:
        return cls(**{name: getattr(totals, name) for name in cls.model_fields})


class BookedOutput(BaseModel):
    """The notes booked so far."""

    notes: int
    debit_yuan: MoneyText
    credit_yuan: MoneyText
    net_yuan: MoneyText


class TariffCorrectionOutput(BaseModel):
    """A correction: what it corrects, where it stands, its preview and what it booked."""

    correction_id: UUID
    code: str = Field(description="In every note's reference (<code>.<segment>)")
    customer_class: str
    scope: str
    version: int
    document_number: str
    approved_on: date
    seasons: list[str]
    corrected: dict[str, str | None] = Field(description="The price fields corrected, as text")
    state: str = Field(description="proposed | previewing | previewed | approved | refused | running | completed")
    reason: str
    proposed_by: str
    preview_number: int
    scenario_ids: list[UUID] = Field(description="The preview's scenarios, one per season (GET /scenarios/{id})")
    preview: PreviewTotalsOutput | None
    approved_by: str | None
    refused_by: str | None
    builds_on: list[UUID] | None = Field(
        description="Earlier corrections of the version this one starts from (given by GET one; null in lists)"
    )
    booked: BookedOutput

    @classmethod
    def from_correction(cls, correction: TariffCorrection) -> TariffCorrectionOutput:
        proposal = correction.proposal
        totals = correction.preview_totals
        booked = correction.booked
        return cls(
            correction_id=correction.id,
            code=correction.code,
            customer_class=proposal.customer_class,
            scope=proposal.scope,
            version=proposal.tariff_version,
            document_number=proposal.document_number,
            approved_on=proposal.approved_on,
            seasons=list(proposal.seasons),
            corrected=_texts(proposal.overrides),
            state=correction.state.value,
            reason=correction.reason,
            proposed_by=correction.proposed_by,
            preview_number=correction.preview_number,
            scenario_ids=[UUID(item) for item in correction.scenario_ids],
            preview=PreviewTotalsOutput.from_totals(totals) if totals is not None else None,
            approved_by=correction.approved_by or None,
            refused_by=correction.refused_by or None,
            builds_on=[UUID(item) for item in proposal.prior_corrections],
            booked=BookedOutput(
                notes=booked.notes,
                debit_yuan=booked.debit_yuan,
                credit_yuan=booked.credit_yuan,
                net_yuan=booked.net_yuan,
            ),
        )

    @classmethod
    def from_row(cls, row: CorrectionRow) -> TariffCorrectionOutput:
        return cls(
            correction_id=row.correction_id,
            code=row.code,
            customer_class=row.customer_class,
            scope=row.scope,
            version=row.tariff_version,
            document_number=row.document_number,
            approved_on=row.approved_on,
            seasons=list(row.seasons),
            corrected=_texts(row.overrides),
            state=row.state.value,
            reason=row.reason,
            proposed_by=row.proposed_by,
            preview_number=row.preview_number,
            scenario_ids=list(row.scenario_ids),
            preview=PreviewTotalsOutput.from_totals(row.preview_totals) if row.preview_totals else None,
            approved_by=row.approved_by,
            refused_by=row.refused_by,
            builds_on=None,
            booked=BookedOutput(
                notes=row.notes_booked,
                debit_yuan=row.debit_yuan,
                credit_yuan=row.credit_yuan,
                net_yuan=row.debit_yuan + row.credit_yuan,
            ),
        )


def _texts(overrides: Any) -> dict[str, str | None]:
    return {str(name): None if value is None else str(value) for name, value in dict(overrides).items()}


class TariffCorrectionList(BaseModel):
    items: list[TariffCorrectionOutput]


class PreviewJobSummary(BaseModel):
    scenario_ids: list[UUID]
    totals: PreviewTotalsOutput
    held_out: list[RunExceptionOutput] = Field(description="Households without a note, and why")
    issued_differ_accounts: list[str]


class RunJobSummary(BaseModel):
    notes_booked: int = Field(description="Booked by this run")
    already_booked: int = Field(description="Booked before (a run resumed, or run again): not booked twice")
    debit_yuan: MoneyText
    credit_yuan: MoneyText
    net_yuan: MoneyText
    completed: bool = Field(description="Whether every approved note is booked now")
    exceptions: list[RunExceptionOutput]


class TariffCorrectionJobOutput(BaseModel):
    """A preview or run of a correction: where it stands, how far it came, what it did or why it stopped."""

    job_id: UUID
    correction_id: UUID
    kind: str = Field(description="preview | run")
    preview_number: int
    status: str = Field(description="queued | running | done | failed")
    submitted_by: str
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: RunProgress
    preview: PreviewJobSummary | None = Field(description="A preview, once done")
    run: RunJobSummary | None = Field(description="A run, once done")
    error: RunProblem | None = Field(description="When it failed")

    @classmethod
    def from_record(
        cls,
        record: CorrectionJobRecord,
        exception: Callable[[dict[str, Any]], RunExceptionOutput],
        error: RunProblem | None,
    ) -> TariffCorrectionJobOutput:
        summary = record.summary
        preview = run = None
        if summary is not None and record.kind is JobKind.PREVIEW:
            preview = PreviewJobSummary(
                scenario_ids=[UUID(item) for item in summary["scenario_ids"]],
                totals=PreviewTotalsOutput.from_totals(PreviewTotals.from_record(summary["totals"])),
                held_out=[exception(item) for item in summary["held_out"]],
                issued_differ_accounts=list(summary["issued_differ_accounts"]),
            )
        elif summary is not None:
            run = RunJobSummary(
                **{name: summary[name] for name in RunJobSummary.model_fields if name != "exceptions"},
                exceptions=[exception(item) for item in summary["exceptions"]],
            )
        return cls(
            job_id=record.job_id,
            correction_id=record.correction_id,
            kind=record.kind.value,
            preview_number=record.preview_number,
            status=record.status.value,
            submitted_by=record.actor,
            submitted_at=record.submitted_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            progress=RunProgress(done=record.done, total=record.total),
            preview=preview,
            run=run,
            error=error,
        )


class CorrectionNoteOutput(BaseModel):
    """A note of the correction: previewed, and booked once its bill exists."""

    account_number: str
    community: str
    building: str
    season: str
    segment: str = Field(description="The settlement bill's owner segment (1, 2 … per holder)")
    adjusted_bill_number: str
    amount_yuan: MoneyText = Field(description="Negative: a credit note; positive: a debit note")
    matches_issued: bool = Field(description="Whether the issued settlement still recomputes to the fen")
    lines: list[BillLineOutput] = Field(description="The recomputed lines that differ")
    booked: bool
    bill_id: UUID = Field(description="The note's bill (GET /bills/{id}/explain once booked)")
    bill_number: str | None
    issued_on: date | None

    @classmethod
    def from_row(cls, row: NoteRow) -> CorrectionNoteOutput:
        note = row.note
        return cls(
            account_number=note.account_number,
            community=note.community,
            building=note.building,
            season=note.season_code,
            segment=note.segment,
            adjusted_bill_number=note.adjusted_bill_number,
            amount_yuan=note.amount_yuan,
            matches_issued=note.matches_issued,
            lines=[
                BillLineOutput(code=line.code, amount_yuan=line.amount_yuan, figures=line.figures)
                for line in note.lines
            ],
            booked=row.booked_number is not None,
            bill_id=row.bill_id,
            bill_number=row.booked_number,
            issued_on=row.issued_on,
        )


class CorrectionNotePage(BaseModel):
    preview_number: int = Field(description="The approved preview's notes (before approval: the latest preview's)")
    items: list[CorrectionNoteOutput]
    limit: int
    offset: int
