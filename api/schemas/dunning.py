"""Request and response models of dunning: runs, the notification outbox and household contacts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.billing import MoneyText
from api.schemas.common import NAME_MAX_LENGTH, OptionalReason, Reason, RequestModel
from application.notifications import ContactChannel, MessageLanguage


class DunningRun(RequestModel):
    """A dunning run over a community (or the city). The stages and the least amount default to the
    server's settings (HEATLEDGER_DUNNING_STAGES_DAYS, HEATLEDGER_DUNNING_MINIMUM_AMOUNT_YUAN)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"community": "碧桂园", "stages_days": [15, 45, 90], "reason": "月中催缴"}]},
    )

    community: Annotated[str | None, Field(default=None, max_length=NAME_MAX_LENGTH)] = None
    stages_days: Annotated[list[int] | None, Field(default=None, max_length=10)] = None
    minimum_amount_yuan: Annotated[Decimal | None, Field(default=None, max_digits=16, decimal_places=6)] = None
    reason: OptionalReason = None


class ReminderOutcomeOutput(BaseModel):
    """What the run decided for one household with charges past due: the reminder written to the
    outbox (``message_id``, ``stage_days``), or why none was (``skip``)."""

    model_config = ConfigDict(from_attributes=True)

    account_number: str
    amount_yuan: MoneyText
    days_past_due: int
    stage_days: int | None
    message_id: UUID | None
    skip: str | None


class DunningRunOutput(BaseModel):
    """A dunning run's summary."""

    today: date
    community: str | None
    stages_days: list[int]
    minimum_amount_yuan: MoneyText
    queued: int
    skipped: int
    outcomes: list[ReminderOutcomeOutput]


class NotificationOutput(BaseModel):
    """A message of the outbox and where its delivery stands (pending, sending, delivered, dead)."""

    model_config = ConfigDict(from_attributes=True)

    message_id: UUID
    kind: str
    account_number: str
    channel: str
    address: str
    language: str
    subject: str
    body: str
    amount_yuan: MoneyText
    stage_days: int
    created_at: datetime
    created_by: str
    reason: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


class DeliveryOutput(BaseModel):
    """One delivery attempt of a message and its outcome (delivered, retry, dead, requeued)."""

    model_config = ConfigDict(from_attributes=True)

    attempt: int
    attempted_at: datetime
    channel: str
    outcome: str
    detail: str | None
    duration_ms: int | None


class NotificationDetail(NotificationOutput):
    """A message with every delivery attempt, oldest first."""

    deliveries: list[DeliveryOutput]


class NotificationList(BaseModel):
    """A page of the outbox, newest first, and the number of messages per status."""

    items: list[NotificationOutput]
    counts: dict[str, int]


class Requeue(RequestModel):
    """Why a dead message is sent again (the contact was corrected, the gateway is back)."""

    reason: Reason


class DeliveryReport(BaseModel):
    """What one delivery pass did."""

    model_config = ConfigDict(from_attributes=True)

    delivered: int
    retried: int
    dead: int


class ContactInput(RequestModel):
    """Where a household's messages go: ``webhook`` (the utility's SMS/WeChat gateway; ``address`` is
    the id it knows, e.g. a mobile number) or ``email``, and in which language."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"channel": "webhook", "address": "13800138000", "language": "zh", "holder_name": "王芳"}]
        },
    )

    channel: ContactChannel
    address: Annotated[str, Field(min_length=3, max_length=254)]
    language: MessageLanguage = MessageLanguage.ZH
    holder_name: Annotated[
        str,
        Field(
            max_length=128,
            description="The account holder's name as the household gives it (personal data, erased with the "
            "contact); the ledger keeps no names, so a clerk finds a household by it here",
        ),
    ] = ""


class ContactOutput(BaseModel):
    """A household's contact."""

    model_config = ConfigDict(from_attributes=True)

    account_number: str
    channel: ContactChannel
    address: str
    language: MessageLanguage
    holder_name: str = Field(description="The account holder's name; empty when not given")
