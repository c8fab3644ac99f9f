"""Request and response models of payment orders: creating one, reading and listing them, and a
clerk's resolution of a flagged one."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.billing import MoneyText
from api.schemas.common import KEY_MAX_LENGTH, AccountNumber, Reason, RequestModel
from domain.money import CURRENCY
from infrastructure.online_payments import ADAPTERS, Order, OrderStatus, Resolution

# Wide enough that a figure with too many decimals reaches the ledger, which names the rule broken.
AmountInput = Annotated[Decimal, Field(max_digits=16, decimal_places=6, examples=["1944.00"])]


class OrderRequest(RequestModel):
    """A household's payment to be made through an online provider."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"account_number": "WZ-0001", "amount_yuan": "1944.00", "currency": "CNY", "provider": "hmac-json"}
            ]
        },
    )

    account_number: AccountNumber
    amount_yuan: AmountInput = Field(description="元, positive, at most two decimals")
    currency: str = Field(default=CURRENCY, max_length=8, description="Only CNY is taken")
    provider: str = Field(
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        description=f"The provider the payer uses: {', '.join(sorted(ADAPTERS))}",
    )
    bill_id: UUID | None = Field(default=None, description="The bill the payer names; settled first")


class OrderResolutionRequest(RequestModel):
    """A clerk's decision about a flagged order, with why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "decision": "accept_received",
                    "reason": "the provider's merchant platform shows 1.00 元 received; the payer confirms",
                },
                {"decision": "reject", "reason": "refunded to the payer through the provider's merchant platform"},
            ]
        },
    )

    decision: Resolution = Field(
        description="accept_received: book the amount the provider reported as received; "
        "reject: book nothing, the money goes back to the payer through the provider"
    )
    reason: Reason


class PaymentOrderOutput(BaseModel):
    """A payment order and where it stands."""

    order_number: str = Field(description="The merchant order number to give the provider: unique, ours")
    provider: str
    account_number: str
    amount_yuan: MoneyText
    currency: str = CURRENCY
    bill_id: UUID | None
    status: OrderStatus = Field(
        description="open, paid (payment_id), flagged (flagged_reason: a person must look) "
        "resolved (resolution: a clerk decided) or expired (unpaid past expires_at)"
    )
    payment_id: UUID | None
    transaction_id: str | None = Field(description="The provider's transaction id, once paid")
    paid_at: datetime | None = Field(description="When the provider says it was paid")
    flagged_at: datetime | None
    flagged_reason: str | None
    received_amount_yuan: MoneyText | None = Field(
        description="What the notification that flagged the order reported as received"
    )
    received_transaction_id: str | None = Field(description="The transaction id of that notification")
    resolved_at: datetime | None
    resolved_by: str | None = Field(description="The clerk who resolved the flag")
    resolution: Resolution | None
    resolution_reason: str | None
    resolution_payment_id: UUID | None = Field(description="The payment an accept_received resolution booked")
    created_at: datetime
    created_by: str
    expires_at: datetime | None = Field(
        default=None, description="Until when the order takes a payment: give it to the provider as its expiry"
    )
    expired_at: datetime | None = Field(default=None, description="When the ledger expired the unpaid order")
    notify_path: str = Field(description="Where the provider sends its notification")

    @classmethod
    def of(cls, order: Order) -> PaymentOrderOutput:
        return cls(
            order_number=order.order_number,
            provider=order.provider,
            account_number=order.account_number,
            amount_yuan=order.amount_yuan,
            bill_id=order.named_bill_id,
            status=order.status,
            payment_id=order.payment_id,
            transaction_id=order.transaction_id,
            paid_at=order.paid_at,
            flagged_at=order.flagged_at,
            flagged_reason=order.flagged_reason,
            received_amount_yuan=order.received_amount_yuan,
            received_transaction_id=order.received_transaction_id,
            resolved_at=order.resolved_at,
            resolved_by=order.resolved_by,
            resolution=order.resolution,
            resolution_reason=order.resolution_reason,
            resolution_payment_id=order.resolution_payment_id,
            created_at=order.created_at,
            created_by=order.created_by,
            expires_at=order.expires_at,
            expired_at=order.expired_at,
            notify_path=f"/payments/notify/{order.provider}",
        )


class PaymentOrderList(BaseModel):
    """Payment orders, oldest first."""

    items: list[PaymentOrderOutput]
