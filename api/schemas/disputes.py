"""Request and response models of disputes: opening, investigation steps, resolution, reads."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.billing import MoneyText
from api.schemas.common import (
    KEY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    AccountNumber,
    IsoDate,
    OptionalReason,
    Reason,
    RequestModel,
    SeasonCode,
    UtcDatetime,
)
from api.schemas.lifecycle import TestPointInput
from domain.dispute import (
    MAXIMUM_REFERENCE_LENGTH,
    MAXIMUM_TEXT_LENGTH,
    DisputeCategory,
    DisputeChannel,
    DisputeState,
    SubjectKind,
)
from domain.verification import MAXIMUM_TEST_POINTS

AmountInput = Annotated[Decimal, Field(max_digits=16, decimal_places=6, examples=["215.60"])]
Text = Annotated[str, Field(min_length=1, max_length=MAXIMUM_TEXT_LENGTH)]
Serial = Annotated[str, Field(min_length=1, max_length=KEY_MAX_LENGTH, description="The meter's serial number")]


class SubjectInput(RequestModel):
    """What is disputed: a bill (`bill_id`), a reading (`meter_serial` and `measured_at`), or a
    payment (`payment_id` when the ledger has it, and/or the `payment_reference` the household
    quotes, with `season_code` when no recorded payment names the season)."""

    kind: SubjectKind
    bill_id: UUID | None = None
    meter_serial: str = Field(default="", max_length=KEY_MAX_LENGTH)
    measured_at: UtcDatetime | None = None
    payment_id: UUID | None = None
    payment_reference: str = Field(default="", max_length=KEY_MAX_LENGTH)
    season_code: SeasonCode | None = None


class DisputeInput(RequestModel):
    """A household's dispute as customer service takes it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_number": "WZ-0001",
                    "subject": {"kind": "bill", "bill_id": "1f0c3c53-62c4-5d1a-9b51-2d8f8d6f3a10"},
                    "category": "area_wrong",
                    "description": "实际供热面积 80 m²，账单按 90 m² 计费",
                    "disputed_amount_yuan": "215.60",
                    "channel": "phone",
                    "reference": "KF-20260416-07",
                }
            ]
        },
    )

    account_number: AccountNumber
    subject: SubjectInput
    category: DisputeCategory
    description: Text
    disputed_amount_yuan: AmountInput = Field(description="元, ≥ 0, two decimals; 0 only for poor heating")
    channel: DisputeChannel
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAXIMUM_REFERENCE_LENGTH,
        description="The ticket number (工单号): a retry with it finds the dispute opened already; default: generated",
    )
    reason: OptionalReason = None


class DisputeOpenedOutput(BaseModel):
    """The dispute opened (201), or found opened already with the same reference (200)."""

    dispute_id: UUID
    reference: str
    created: bool
    correlation_id: UUID


class _Step(RequestModel):
    reason: OptionalReason = None


class VerificationRequestedStep(_Step):
    """A verification of the household's meter (检定, JJG 225) is requested."""

    kind: Literal["verification_requested"]
    meter_serial: Serial


class VerificationResultStep(_Step):
    """The verification's result: with `points` it is recorded on the meter now (needs
    `manage_meters`); without, the verification the meter recorded that day with that certificate
    is linked (404 when there is none)."""

    kind: Literal["verification_result"]
    meter_serial: Serial
    verified_on: IsoDate
    certificate: str = Field(default="", max_length=NAME_MAX_LENGTH)
    points: list[TestPointInput] | None = Field(default=None, max_length=MAXIMUM_TEST_POINTS)


class SiteVisitStep(_Step):
    """A visit to the flat: when, by whom (default: the caller), what was found."""

    kind: Literal["site_visit"]
    visited_on: IsoDate
    findings: Text
    visited_by: str = Field(default="", max_length=NAME_MAX_LENGTH)


class ReadingCorrectedStep(_Step):
    """The disputed reading's correction, by the correlation id of its receipt
    (`POST /meters/{serial}/reading-corrections`)."""

    kind: Literal["reading_corrected"]
    meter_serial: Serial
    measured_at: UtcDatetime
    correction_correlation_id: UUID


class EstimateReplacedStep(_Step):
    """The estimated reading at `measured_at` was replaced (by a real reading or a new estimate);
    the command that replaced it is found, or checked when given."""

    kind: Literal["estimate_replaced"]
    meter_serial: Serial
    measured_at: UtcDatetime
    replacement_correlation_id: UUID | None = None


class RecomputeStep(_Step):
    """Recompute one of the household's bills from everything known now and attach it."""

    kind: Literal["recompute"]
    bill_id: UUID


class HouseholdNoteStep(_Step):
    """A note to the household: what it was told, and how."""

    kind: Literal["household_note"]
    message: Text
    channel: DisputeChannel


StepInput = Annotated[
    VerificationRequestedStep
    | VerificationResultStep
    | SiteVisitStep
    | ReadingCorrectedStep
    | EstimateReplacedStep
    | RecomputeStep
    | HouseholdNoteStep,
    Field(discriminator="kind"),
]


class StepReceipt(BaseModel):
    """The step recorded: the dispute's state now and the correlation id on its event."""

    dispute_id: UUID
    kind: str
    state: DisputeState
    correlation_id: UUID
    details: dict[str, Any] = Field(
        default_factory=dict, description="What the step found: a verification's verdict, a recompute's difference"
    )


class ResolutionInput(RequestModel):
    """Upheld in full (`upheld`: the recompute's difference not yet booked), in part (`partly`:
    `amount_yuan` of the same sign and no larger; negative credits the household), or `rejected`."""

    outcome: Literal["upheld", "partly", "rejected"]
    amount_yuan: Annotated[Decimal, Field(max_digits=16, decimal_places=6, examples=["-64.80"])] | None = None
    reason: Reason


class ApprovalInput(RequestModel):
    """The second person's decision on a proposed note."""

    decision: Literal["approve", "refuse"]
    reason: OptionalReason = None


class WithdrawalInput(RequestModel):
    """The household withdraws its dispute."""

    reason: Reason


class ResolutionOutput(BaseModel):
    """Where the dispute stands after a resolution, an approval or a withdrawal: the note booked
    (its bill id and number) or proposed (`awaiting_approval`)."""

    model_config = ConfigDict(from_attributes=True)

    dispute_id: UUID
    state: DisputeState
    note_amount_yuan: MoneyText
    note_bill_id: UUID | None
    note_number: str
    awaiting_approval: bool
    correlation_id: UUID


class DisputeOutput(BaseModel):
    """A dispute as it stands."""

    model_config = ConfigDict(from_attributes=True)

    dispute_id: UUID
    reference: str
    account_number: str
    community: str
    building: str
    subject_kind: SubjectKind
    season_code: str
    bill_id: UUID | None
    bill_number: str
    meter_serial: str
    measured_at: datetime | None
    payment_id: UUID | None
    payment_reference: str
    category: DisputeCategory
    description: str
    disputed_amount_yuan: MoneyText
    channel: DisputeChannel
    state: DisputeState
    opened_by: str
    opened_on: date
    opened_at: datetime
    first_response_at: datetime | None
    last_step_at: datetime
    age_days: int = Field(description="Days open: to the closing day, or to today while open")
    recompute_bill_number: str | None
    recompute_difference_yuan: MoneyText | None
    proposed_outcome: str | None
    proposed_amount_yuan: MoneyText | None
    proposed_by: str | None
    note_amount_yuan: MoneyText | None
    note_bill_id: UUID | None
    note_number: str | None
    approved_by: str | None
    closed_by: str | None
    closed_at: datetime | None
    closing_reason: str | None


class DisputeStepOutput(BaseModel):
    """One event of the dispute: its kind, when it was recorded, who, why, and its details."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    kind: str
    recorded_at: datetime
    actor: str
    reason: str
    correlation_id: UUID
    details: dict[str, Any]


class DisputeDetail(DisputeOutput):
    """A dispute with every step, in order."""

    steps: list[DisputeStepOutput]


class DisputePage(BaseModel):
    """A page of disputes, the oldest opened first."""

    items: list[DisputeOutput]
    total: int
    limit: int
    offset: int


class HouseholdDisputes(DisputePage):
    """A household's disputes, and what its open ones dispute in all (None: an old dispute flag
    without an amount is open and holds everything)."""

    account_number: str
    open_disputes: int
    disputed_yuan: MoneyText | None
