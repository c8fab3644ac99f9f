"""Online payments: payment orders (clerks, the WeChat page backend) and the providers' signed
payment notifications (docs/payments.md).

``POST /payments/notify/{provider}`` takes no bearer token: a notification is authenticated by its
signature under the provider's merchant key, so the endpoint is ``async`` to read the raw body the
signature covers, and runs the rest (database, ledger) in the thread pool, as the NB-IoT webhook
does. A refused notification is a 401 problem, logged in ``security_events``; an accepted one gets
the acknowledgement the provider's adapter writes (for ``hmac-json``: ``{"code": "SUCCESS"}``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, Reader
from api.dependencies import ContainerDependency
from api.messages import render
from api.problems import Problem, problem_response, problem_responses, request_language
from api.routers import resource_router
from api.schemas.billing import MoneyText
from api.schemas.common import KEY_MAX_LENGTH, RequestModel
from domain.money import CURRENCY
from infrastructure.container import Container
from infrastructure.online_payments import (
    ADAPTERS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NotificationOutcome,
    NotificationRefused,
    OnlinePayments,
    Order,
    OrderStatus,
)

router = resource_router("/payments", "payments")

# The scheme named in the 401 challenge: a signature over the body, not a bearer token.
CHALLENGE = f'Pay-HMAC-SHA256 realm="heatledger", headers="{TIMESTAMP_HEADER} {SIGNATURE_HEADER}"'
# Wide enough that a figure with too many decimals reaches the ledger, which names the rule broken.
AmountInput = Annotated[Decimal, Field(max_digits=16, decimal_places=6, examples=["1944.00"])]
OrderNumberPath = Annotated[
    str,
    Path(
        max_length=KEY_MAX_LENGTH, description="The order number from its creation", examples=["HL20251210K7QX2M9D4TPA"]
    ),
]
ProviderPath = Annotated[
    str, Path(max_length=KEY_MAX_LENGTH, description="The provider's name", examples=["hmac-json"])
]


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

    account_number: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    amount_yuan: AmountInput = Field(description="元, positive, at most two decimals")
    currency: str = Field(default=CURRENCY, max_length=8, description="Only CNY is taken")
    provider: str = Field(
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        description=f"The provider the payer uses: {', '.join(sorted(ADAPTERS))}",
    )
    bill_id: UUID | None = Field(default=None, description="The bill the payer names; settled first")


class PaymentOrderOutput(BaseModel):
    """A payment order and where it stands."""

    order_number: str = Field(description="The merchant order number to give the provider: unique, ours")
    provider: str
    account_number: str
    household_id: UUID
    amount_yuan: MoneyText
    currency: str = CURRENCY
    bill_id: UUID | None
    status: OrderStatus = Field(description="open, paid (payment_id) or flagged (flagged_reason: a person must look)")
    payment_id: UUID | None
    transaction_id: str | None = Field(description="The provider's transaction id, once paid")
    paid_at: datetime | None = Field(description="When the provider says it was paid")
    flagged_at: datetime | None
    flagged_reason: str | None
    created_at: datetime
    created_by: str
    notify_path: str = Field(description="Where the provider sends its notification")

    @classmethod
    def of(cls, order: Order) -> PaymentOrderOutput:
        return cls(
            order_number=order.order_number,
            provider=order.provider,
            account_number=order.account_number,
            household_id=order.household_id,
            amount_yuan=order.amount_yuan,
            bill_id=order.named_bill_id,
            status=order.status,
            payment_id=order.payment_id,
            transaction_id=order.transaction_id,
            paid_at=order.paid_at,
            flagged_at=order.flagged_at,
            flagged_reason=order.flagged_reason,
            created_at=order.created_at,
            created_by=order.created_by,
            notify_path=f"/payments/notify/{order.provider}",
        )


class NeutralNotification(BaseModel):
    """The body of an ``hmac-json`` notification (for the documentation: the body is read by the
    provider's adapter after the signature check)."""

    merchant_order_number: str = Field(examples=["HL20251210K7QX2M9D4TPA"])
    transaction_id: str = Field(examples=["4200001234202512101234567890"])
    amount_yuan: str = Field(description="元 as text, at most two decimals", examples=["1944.00"])
    currency: str = Field(examples=["CNY"])
    paid_at: datetime = Field(description="ISO 8601 with a zone", examples=["2025-12-10T12:00:00+08:00"])


def online_payments(container: Container) -> OnlinePayments:
    return OnlinePayments(container.engine, container.ledger, container.payments, container.settings.secret_key)


@router.post(
    "/orders",
    status_code=201,
    operation_id="create_payment_order",
    response_model=PaymentOrderOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def create_payment_order(
    request: OrderRequest, caller: Caller, container: ContainerDependency, response: Response
) -> PaymentOrderOutput:
    """Create a payment order for a household (clerks, or the WeChat page backend with a clerk's token).

    Give the provider the `order_number` and `amount_yuan`; the provider notifies
    `notify_path` once the payer has paid, and the payment is booked then.
    """
    order = online_payments(container).create_order(
        caller, request.account_number, request.amount_yuan, request.provider, request.bill_id, request.currency
    )
    response.headers["Location"] = f"/payments/orders/{order.order_number}"
    return PaymentOrderOutput.of(order)


@router.get(
    "/orders/{order_number}",
    operation_id="get_payment_order",
    response_model=PaymentOrderOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_payment_order(
    order_number: OrderNumberPath, _caller: Reader, container: ContainerDependency
) -> PaymentOrderOutput:
    """A payment order: open, paid (with its payment) or flagged (with why)."""
    return PaymentOrderOutput.of(online_payments(container).order(order_number))


_NOTIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Booked, or booked already by an earlier delivery (nothing new): the provider's acknowledgement",
        "content": {"application/json": {"example": {"code": "SUCCESS", "message": "OK"}}},
    },
    401: {
        "model": Problem,
        "description": "Missing or wrong signature, or a timestamp outside ±300 s (`unauthenticated`; "
        "`params.reason` says which). Logged in the security log; nothing booked.",
    },
    404: {"model": Problem, "description": "No such provider (logged) or order (`not_found`)"},
    409: {
        "model": Problem,
        "description": "The amount differs from the order's (the order is flagged, logged), the order is flagged, "
        "or it belongs to another provider (`conflict`). Nothing booked.",
    },
    422: {
        "model": Problem,
        "description": "Not a notification, or an amount or currency the ledger does not take (`invalid_input`)",
    },
}


@router.post(
    "/notify/{provider}",
    operation_id="receive_payment_notification",
    response_class=Response,
    responses=_NOTIFY_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": NeutralNotification.model_json_schema()}},
        }
    },
)
async def receive_payment_notification(
    provider: ProviderPath, request: Request, container: ContainerDependency
) -> Response:
    """Receive a provider's notification that an order was paid (see docs/payments.md).

    **Not** authenticated by a bearer token: for `hmac-json`, `X-Pay-Timestamp` is the unix time of
    signing (at most 300 s from the server's clock, either way) and `X-Pay-Signature` the hex
    HMAC-SHA256 of `"<timestamp>." + raw body` under the provider's merchant key. Redelivering a
    notification is safe: it gets the same acknowledgement and books nothing new.
    """
    body = await request.body()
    remote = request.client.host if request.client else None
    headers = dict(request.headers.items())
    try:
        outcome: NotificationOutcome = await run_in_threadpool(
            online_payments(container).handle_notification, provider, headers, body, remote
        )
    except NotificationRefused as refused:
        return _unauthenticated(request, refused.reason.value)
    return Response(outcome.body, status_code=outcome.status_code, media_type=outcome.content_type)


def _unauthenticated(request: Request, reason: str) -> Response:
    language = request_language(request)
    detail = render([f"payments.{reason}"], {}, language, "The notification is not signed as the provider requires.")
    return problem_response(
        request, 401, "unauthenticated", detail, {"reason": reason}, headers={"WWW-Authenticate": CHALLENGE}
    )
