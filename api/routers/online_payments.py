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
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, Reader
from api.dependencies import ContainerDependency
from api.messages import render
from api.problems import Problem, problem_response, problem_responses, request_language
from api.routers import resource_router
from api.schemas.common import KEY_MAX_LENGTH
from api.schemas.payment_orders import OrderRequest, OrderResolutionRequest, PaymentOrderList, PaymentOrderOutput
from infrastructure.container import Container
from infrastructure.online_payments import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NotificationOutcome,
    NotificationRefused,
    OnlinePayments,
    OrderStatus,
)
from projections.queries import MAXIMUM_PAGE_SIZE

router = resource_router("/payments", "payments")

# The scheme named in the 401 challenge: a signature over the body, not a bearer token.
CHALLENGE = f'Pay-HMAC-SHA256 realm="heatledger", headers="{TIMESTAMP_HEADER} {SIGNATURE_HEADER}"'
OrderNumberPath = Annotated[
    str,
    Path(
        max_length=KEY_MAX_LENGTH, description="The order number from its creation", examples=["HL20251210K7QX2M9D4TPA"]
    ),
]
ProviderPath = Annotated[
    str, Path(max_length=KEY_MAX_LENGTH, description="The provider's name", examples=["hmac-json"])
]


class NeutralNotification(BaseModel):
    """The body of an ``hmac-json`` notification (for the documentation: the body is read by the
    provider's adapter after the signature check)."""

    merchant_order_number: str = Field(examples=["HL20251210K7QX2M9D4TPA"])
    transaction_id: str = Field(examples=["4200001234202512101234567890"])
    amount_yuan: str = Field(description="元 as text, at most two decimals", examples=["1944.00"])
    currency: str = Field(examples=["CNY"])
    paid_at: datetime = Field(description="ISO 8601 with a zone", examples=["2025-12-10T12:00:00+08:00"])


def online_payments(container: Container) -> OnlinePayments:
    return OnlinePayments(container.engine, container.ledger, container.settings.secret_key)


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
    """A payment order: open, paid (with its payment), flagged (with why) or resolved (by whom, how)."""
    return PaymentOrderOutput.of(online_payments(container).order(order_number))


@router.get(
    "/orders",
    operation_id="list_payment_orders",
    response_model=PaymentOrderList,
    responses=problem_responses(401, 403, 422),
)
def list_payment_orders(
    _caller: Reader,
    container: ContainerDependency,
    status: OrderStatus | None = None,
    account_number: Annotated[str | None, Query(min_length=1, max_length=KEY_MAX_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PaymentOrderList:
    """Payment orders, oldest first, of one status and household if given: `status=flagged` lists
    the orders waiting for a clerk's resolution."""
    orders = online_payments(container).orders(status, account_number, limit, offset)
    return PaymentOrderList(items=[PaymentOrderOutput.of(order) for order in orders])


@router.post(
    "/orders/{order_number}/resolution",
    operation_id="resolve_payment_order",
    response_model=PaymentOrderOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def resolve_payment_order(
    order_number: OrderNumberPath, resolution: OrderResolutionRequest, caller: Caller, container: ContainerDependency
) -> PaymentOrderOutput:
    """Resolve a flagged order, once, with why (clerks and admins: `receive_payments`).

    `accept_received` books a payment of the amount the provider reported as received, with the
    provider's transaction id as its reference and the clerk as its actor; `reject` books nothing
    (the clerk has the money returned to the payer through the provider). An order that is not
    flagged, or is resolved already, is a 409; of concurrent resolutions one wins.
    """
    order = online_payments(container).resolve(caller, order_number, resolution.decision, resolution.reason)
    return PaymentOrderOutput.of(order)


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
