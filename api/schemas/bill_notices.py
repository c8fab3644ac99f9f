"""Request and response models of bill notices: a pass that writes the notice of every issued bill
without one to the notification outbox."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.billing import MoneyText, MonthCode, SeasonCode
from api.schemas.common import NAME_MAX_LENGTH, OptionalReason, RequestModel
from domain.billing import BillKind


class BillNoticeRun(RequestModel):
    """A notice pass over a season's issued bills: of one kind, one statement month and one
    community when given, else all of them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"season": "2025-2026", "kind": "settlement", "community": "碧桂园"}]},
    )

    season: SeasonCode
    kind: BillKind | None = Field(default=None, description="prepayment | statement | settlement; default: all")
    month: MonthCode | None = Field(default=None, description="One statement month (its bills' label)")
    community: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    reason: OptionalReason = None


class BillNoticeOutcomeOutput(BaseModel):
    """One bill: the notice written (``message_id``) or why none was (``skip``)."""

    model_config = ConfigDict(from_attributes=True)

    account_number: str
    bill_number: str
    kind: str
    amount_yuan: MoneyText = Field(description="What the bill charges; negative: credited")
    message_id: UUID | None
    skip: str | None = Field(description="bill_notice_no_contact, or null when a notice was written")


class BillNoticeRunOutput(BaseModel):
    """What the pass did: notices written now, bills whose notice was written before, and the bills
    skipped with the reason (households without a contact)."""

    season: str
    kind: str | None
    month: str | None
    community: str | None
    bills: int
    written: list[BillNoticeOutcomeOutput]
    already_written: int
    skipped: list[BillNoticeOutcomeOutput]
