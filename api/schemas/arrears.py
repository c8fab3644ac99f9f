"""Request and response models of the arrears policy: flag runs, flags, household protections."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.billing import MoneyText
from api.schemas.common import NAME_MAX_LENGTH, OptionalReason, Reason, RequestModel
from domain.arrears import FlagStatus, WithdrawalKind

MonthDayText = Annotated[str, Field(min_length=3, max_length=5, pattern=r"^\d{1,2}-\d{1,2}$", examples=["11-15"])]


class FlagRun(RequestModel):
    """The policy to flag households by: what they owe past due, for how long, and the window of
    the season (month-days, e.g. 11-15 to 03-15) in which flags may be raised."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "minimum_amount_yuan": "1000.00",
                    "minimum_days_past_due": 30,
                    "window_start": "11-15",
                    "window_end": "03-15",
                }
            ]
        },
    )

    minimum_amount_yuan: Annotated[Decimal, Field(max_digits=16, decimal_places=6)]
    minimum_days_past_due: Annotated[int, Field(ge=0, le=100_000)]
    window_start: MonthDayText
    window_end: MonthDayText
    community: Annotated[str | None, Field(default=None, max_length=NAME_MAX_LENGTH)] = None
    reason: OptionalReason = None


class CandidateOutput(BaseModel):
    """What the run decided for one household with charges past due."""

    model_config = ConfigDict(from_attributes=True)

    account_number: str
    amount_yuan: MoneyText
    days_past_due: int
    flagged: bool
    flag_id: UUID | None
    reasons: list[str]
    raised_again: bool = Field(
        default=False, description="The flag raised is one withdrawn earlier this season, raised again"
    )


class FlagRunOutput(BaseModel):
    """A flag run's summary: flags raised now, and why the other households were not flagged."""

    season_code: str
    today: date
    community: str | None
    flagged: int
    skipped: int
    outcomes: list[CandidateOutput]


class FlagDecision(RequestModel):
    """A second person's approval."""

    reason: OptionalReason = None


class FlagWithdrawal(RequestModel):
    """Taking a flag back, with why."""

    kind: WithdrawalKind
    reason: Reason


class ArrearsFlagOutput(BaseModel):
    """An arrears flag as it stands: who raised it last (and when), the approval or withdrawal of
    that raise; ``times_raised`` counts its raises this season (the history is on the flag's page)."""

    model_config = ConfigDict(from_attributes=True)

    flag_id: UUID
    account_number: str
    community: str
    building: str
    season_code: str
    status: FlagStatus
    amount_yuan: MoneyText
    days_past_due: int
    raised_by: str = Field(description="Who raised it last: the second person approving is anyone else")
    approved_by: str | None
    withdrawn_by: str | None
    withdrawal_kind: str | None
    raised_at: datetime = Field(description="When it was last raised")
    decided_at: datetime | None
    times_raised: int = Field(description="1, and one more each time it was raised again after a withdrawal")


class FlagHistoryOutput(BaseModel):
    """One event of a flag: raised, raised_again, approved or withdrawn, by whom, why and when."""

    model_config = ConfigDict(from_attributes=True)

    action: str = Field(examples=["raised_again"])
    on: date = Field(description="The business day")
    actor: str
    reason: str
    recorded_at: datetime = Field(description="When the ledger recorded it")
    amount_yuan: MoneyText | None = Field(default=None, description="Past due when raised")
    days_past_due: int | None = Field(default=None, description="Days past due when raised")
    withdrawal_kind: str | None = None


class ArrearsFlagDetail(BaseModel):
    """An arrears flag read from the ledger itself, with its whole history."""

    flag_id: UUID
    account_number: str
    season_code: str
    status: FlagStatus
    amount_yuan: MoneyText
    days_past_due: int
    raised_on: date = Field(description="The business day of the latest raise")
    raised_by: str = Field(description="Who raised it last: the second person approving is anyone else")
    approved_by: str | None
    withdrawal_kind: str | None
    times_raised: int
    history: list[FlagHistoryOutput]


class ArrearsFlagList(BaseModel):
    """Arrears flags by community, building and account, and how many flags there are of each
    status (of the community asked for; ``raised`` ones await a second person's approval)."""

    items: list[ArrearsFlagOutput]
    counts: dict[str, int] = Field(default_factory=dict, examples=[{"raised": 3, "approved": 12, "withdrawn": 1}])


class VulnerableHouseholdOutput(BaseModel):
    """A household marked vulnerable: no arrears flag is raised for it while it is."""

    model_config = ConfigDict(from_attributes=True)

    account_number: str
    community: str
    building: str
    open_disputes: int


class VulnerableHouseholdPage(BaseModel):
    """A page of the households marked vulnerable, by community, building and account."""

    items: list[VulnerableHouseholdOutput]
    total: int
    limit: int
    offset: int


class ProtectionChange(RequestModel):
    """Why a household is (no longer) protected or a dispute opened or closed."""

    reason: Reason


class FlagReceipt(BaseModel):
    """An arrears flag as recorded after a decision."""

    flag_id: UUID
    status: FlagStatus
    account_number: str
