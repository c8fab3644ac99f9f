"""Request and response models of counter payments, reversals and refund payouts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.billing import MoneyText
from api.schemas.common import KEY_MAX_LENGTH, OptionalReason, Reason, RequestModel
from domain.payment import PaymentChannel, ReversalKind

# Wide enough that a figure with too many decimals reaches the ledger, which names the rule broken.
AmountInput = Annotated[Decimal, Field(max_digits=16, decimal_places=6, examples=["1944.00"])]


class CounterPayment(RequestModel):
    """A payment a clerk takes at the counter."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"amount_yuan": "1944.00", "currency": "CNY", "channel": "cash", "receipt_number": "R-2025-000123"}
            ]
        },
    )

    amount_yuan: AmountInput = Field(description="元, positive, at most two decimals")
    currency: str = Field(default="CNY", max_length=8, description="Only CNY is taken")
    channel: PaymentChannel = Field(description="cash, card or bank_transfer")
    receipt_number: str = Field(min_length=1, max_length=KEY_MAX_LENGTH, description="The receipt's number: unique")
    bill_id: UUID | None = Field(default=None, description="The bill the payer names; settled first")
    reason: OptionalReason = None


class PaymentReceipt(BaseModel):
    """The payment recorded (or found recorded already under the same receipt number)."""

    payment_id: UUID
    recorded: bool = Field(description="False when this receipt was recorded before: nothing new was booked")
    amount_yuan: MoneyText
    account_number: str


class Reversal(RequestModel):
    """Taking a payment back."""

    kind: ReversalKind = Field(description="bounced, chargeback or error")
    reason: Reason


class RefundRequest(RequestModel):
    """Paying part of a household's credit out (approved later by a second person)."""

    request_number: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    amount_yuan: AmountInput
    reason: Reason


class RefundDecision(RequestModel):
    """A second person's approval or rejection."""

    reason: OptionalReason = None


class RefundPayment(RequestModel):
    """The bank transfer that paid an approved refund out."""

    bank_reference: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    reason: OptionalReason = None


class RefundReceipt(BaseModel):
    """A refund request as recorded."""

    refund_id: UUID
    status: str
    amount_yuan: MoneyText
    account_number: str


# -- reads ---------------------------------------------------------------------------------------


class PaymentOutput(BaseModel):
    """A payment received, and its reversal if it was taken back."""

    model_config = ConfigDict(from_attributes=True)

    payment_id: UUID
    account_number: str
    amount_yuan: MoneyText
    channel: str
    source: str = Field(description="counter, or the online provider")
    reference: str = Field(description="The receipt number or the merchant order number")
    received_at: datetime
    received_on: date
    named_bill_id: UUID | None
    actor: str = Field(description="The clerk, or the provider's account")
    reversed_on: date | None
    reversal_kind: str | None
    reversed_by: str | None


class PaymentPage(BaseModel):
    """A page of a household's payments, newest first."""

    items: list[PaymentOutput]
    total: int
    limit: int
    offset: int


class DayPaymentPage(BaseModel):
    """A page of the payments received on a day, in the order received: the journal's lines."""

    day: date
    items: list[PaymentOutput]
    total: int
    limit: int
    offset: int


class AllocationOutput(BaseModel):
    """Part of a credit (a payment or a settlement's credit note) settling part of a charge."""

    model_config = ConfigDict(from_attributes=True)

    sequence: int
    credit_id: UUID
    credit_kind: str
    credit_reference: str | None
    charge_id: UUID
    charge_kind: str
    bill_number: str | None
    amount_yuan: MoneyText


class PaymentDetail(PaymentOutput):
    """A payment, with what it settles now (a receipt's allocation lines)."""

    allocations: list[AllocationOutput] = Field(
        description="The charges this payment settles, in the order allocated; empty once reversed, "
        "and a later reversal or bill may move them"
    )
    credit_yuan: MoneyText = Field(description="Of the payment, what no charge has taken (yet): credit")


class RefundOutput(BaseModel):
    """A refund payout and where it stands."""

    model_config = ConfigDict(from_attributes=True)

    refund_id: UUID
    account_number: str
    request_number: str
    amount_yuan: MoneyText
    status: str = Field(description="requested (awaiting a second person), approved, rejected or paid")
    requested_on: date
    requested_by: str
    approved_by: str | None
    paid_on: date | None
    reference: str | None = Field(description="The bank transfer's reference, once paid out")


class RefundPage(BaseModel):
    """A page of refund payouts, the oldest request first."""

    items: list[RefundOutput]
    total: int
    limit: int
    offset: int


class OpenChargeOutput(BaseModel):
    """A charge not yet settled in full."""

    model_config = ConfigDict(from_attributes=True)

    charge_id: UUID
    season_code: str | None
    kind: str
    issued_on: date
    due_on: date
    amount_yuan: MoneyText
    open_yuan: MoneyText


class HouseholdAccountOutput(BaseModel):
    """How a household's payments were allocated, what is still open, and its credit."""

    account_number: str
    allocations: list[AllocationOutput]
    open_charges: list[OpenChargeOutput]
    credit_yuan: MoneyText = Field(description="Credit not yet used: settles the next charges")
    disputed_yuan: MoneyText = Field(
        default=Decimal(0),
        description="What the open disputes hold of the open charges: their disputed amounts, no more than is "
        "open (an old dispute flag without an amount holds all)",
    )
    undisputed_yuan: MoneyText = Field(
        default=Decimal(0), description="The open charges beyond what is disputed: what dunning and flags count"
    )


class BalanceAsOfOutput(BaseModel):
    """A household's account at the end of a day: balance = charged − paid + reversed + refunded."""

    model_config = ConfigDict(from_attributes=True)

    day: date
    charged_yuan: MoneyText
    paid_yuan: MoneyText
    reversed_yuan: MoneyText
    refunded_yuan: MoneyText
    balance_yuan: MoneyText = Field(description="Owed by the household; negative: owed to it")


class AgingOutput(BaseModel):
    """A household's open charges by days past due (current: not yet due)."""

    model_config = ConfigDict(from_attributes=True)

    account_number: str
    community: str
    building: str
    current_yuan: MoneyText
    days_0_30_yuan: MoneyText
    days_31_90_yuan: MoneyText
    days_91_180_yuan: MoneyText
    days_181_365_yuan: MoneyText
    over_365_yuan: MoneyText
    total_yuan: MoneyText


class AgingTotalsOutput(BaseModel):
    """The buckets summed over every household with open charges."""

    model_config = ConfigDict(from_attributes=True)

    households: int
    current_yuan: MoneyText
    days_0_30_yuan: MoneyText
    days_31_90_yuan: MoneyText
    days_91_180_yuan: MoneyText
    days_181_365_yuan: MoneyText
    over_365_yuan: MoneyText
    total_yuan: MoneyText


class AgingReport(BaseModel):
    """Arrears aging on a day, per household and in total."""

    as_of: date
    community: str | None
    building: str | None = None
    totals: AgingTotalsOutput
    items: list[AgingOutput]


class CollectionRateOutput(BaseModel):
    """A building's season: charged, collected, open and the collection rate."""

    model_config = ConfigDict(from_attributes=True)

    season_code: str
    community: str
    building: str
    households: int
    charged_yuan: MoneyText
    collected_yuan: MoneyText
    from_credit_notes_yuan: MoneyText
    open_yuan: MoneyText
    rate_percent: Decimal | None


class CollectionRates(BaseModel):
    """Collection rates per community and building for a season."""

    season: str
    items: list[CollectionRateOutput]


class JournalOutput(BaseModel):
    """One clerk's payments through one channel on one day (the cash-up)."""

    model_config = ConfigDict(from_attributes=True)

    day: date
    channel: str
    actor: str
    payments: int
    total_yuan: MoneyText
    reversed_payments: int
    reversed_yuan: MoneyText
    net_yuan: MoneyText


class Journal(BaseModel):
    """The payment journal of a day."""

    day: date
    items: list[JournalOutput]
