"""The NB-IoT webhook: signed pushes of readings from NB-IoT platforms and concentrators.

The endpoint is ``async`` because the signature covers the raw body, which only an ``async``
endpoint can read (``await request.body()``, once). Everything after that touches the database
or the ledger and is synchronous, so it runs in the thread pool (``run_in_threadpool``), as
FastAPI runs the other, plain ``def`` endpoints. Authentication comes first: an unsigned or
wrongly signed push is a 401 whatever its body holds, and its body is never parsed.

Order of work for one push: verify the channel's signature and the replay window (401, logged
in ``security_events``) → parse the body, numbers as exact decimals (422, the raw body kept in
``quarantined_frames``) → look the message up in ``webhook_deliveries`` (a redelivery gets the
stored answer, 200; the same id with another body is a 409) → submit the readings through the
intake in one batch whose id is uuid5(channel, message_id) → keep and send the answer.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.dependencies import ContainerDependency, PreferredLanguage
from api.messages import Language, render
from api.problems import Problem, problem_response, problem_responses
from api.schemas.nbiot import NbiotPush, NbiotReceipt
from api.schemas.readings import ReadingOutcome
from application.authorization import Principal
from application.ingestion import ItemOutcome, ItemStatus
from domain.errors import ConflictError, LedgerError, NotFoundError
from domain.valve import ReportSource
from infrastructure.container import Container
from infrastructure.intake import Channel
from infrastructure.nbiot import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    NbiotChannels,
    PushRefused,
    delivery_batch_id,
)
from infrastructure.text import printable
from projections.room_telemetry_queries import RoomTelemetryQueries

router = APIRouter(prefix="/ingest/nbiot", tags=["readings"])

# The scheme named in the 401 challenge: a signature over the body, not a bearer token.
CHALLENGE = 'Heatledger-HMAC-SHA256 realm="heatledger", headers="X-Heatledger-Timestamp X-Heatledger-Signature"'


def _inline_schema(model: type[NbiotPush]) -> dict[str, Any]:
    """The model's JSON schema with its nested definitions inlined, for ``openapi_extra``
    (the body is parsed by hand after the signature check, so FastAPI does not document it)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(409, 422),
    401: {
        "model": Problem,
        "description": "Missing, malformed or wrong signature, a timestamp outside ±300 s, or an unknown or revoked "
        "channel (`unauthenticated`; `params.reason` says which). Logged in the security log.",
    },
}


@router.post(
    "/{channel}",
    operation_id="receive_nbiot_push",
    response_model=NbiotReceipt,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _inline_schema(NbiotPush)}}}
    },
)
async def receive_nbiot_push(
    channel: str,
    request: Request,
    container: ContainerDependency,
    language: PreferredLanguage,
    timestamp: Annotated[
        str | None, Header(alias=TIMESTAMP_HEADER, description="Unix seconds when the push was signed")
    ] = None,
    signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            description='Hex HMAC-SHA256 of `"<timestamp>." + raw body` under the channel secret',
        ),
    ] = None,
) -> Response:
    """Receive readings pushed by an NB-IoT platform or concentrator (see docs/nbiot.md).

    **Not** authenticated by a bearer token: each push is signed with the channel's secret
    (`heatledger channel create NAME`). `X-Heatledger-Timestamp` is the unix time of signing
    (at most 300 s from the server's clock, either way) and `X-Heatledger-Signature` the hex
    HMAC-SHA256 of `"<timestamp>." + raw body`. A refused push is a 401 problem, logged, and
    nothing is booked.

    Each reading (`device_id` = the meter's serial) is judged like an item of
    `POST /readings/batches`: accepted, duplicate or rejected with a reason such as
    `unknown_meter`. The answer is 200 whatever the items' outcomes. Redelivering the same
    `message_id` is safe: it gets the first answer again and records nothing new. `valve_state`
    and `room_temperature_c` are recorded as a report of the room controller installed in the
    meter's household (docs/valves.md); without one they are not stored, and `ignored_fields` says so.
    """
    body = await request.body()
    remote = request.client.host if request.client else None
    return await run_in_threadpool(_receive, request, container, channel, timestamp, signature, body, remote, language)


def _receive(
    request: Request,
    container: Container,
    channel: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    remote: str | None,
    language: Language,
) -> Response:
    channels = NbiotChannels(container.engine, container.settings.secret_key, container.ledger.clock)
    try:
        principal = channels.authenticate(channel, timestamp, signature, body, remote)
    except PushRefused as refused:
        return _unauthenticated(request, refused.reason.public, language)
    push = _parse(container, principal, body)
    digest = hashlib.sha256(body).hexdigest()
    kept = channels.delivery(channel, push.message_id)
    if kept is None:
        kept = channels.keep_delivery(_deliver(container, principal, channel, push, digest, language))
    elif kept.body_sha256 != digest:
        raise ConflictError(
            f"the message id {push.message_id} was already delivered on this channel with another body",
            message_key="message_id_reused",
            message_id=push.message_id,
        )
    return Response(
        kept.response,
        status_code=kept.status_code,
        media_type="application/json",
        headers={"Content-Language": kept.content_language, "Vary": "Accept-Language"},
    )


def _deliver(
    container: Container, principal: Principal, channel: str, push: NbiotPush, digest: str, language: Language
) -> Delivery:
    """Submit the push's readings in one batch and build the answer to keep."""
    batch_id = delivery_batch_id(channel, push.message_id)
    report = container.intake.submit(
        principal,
        [reading.to_item() for reading in push.readings],
        Channel.NBIOT,
        f"NB-IoT push {push.message_id}",
        batch_id,
    )
    ignored = sorted(_record_room_reports(container, principal, channel, push))
    receipt = NbiotReceipt(
        message_id=push.message_id,
        batch_id=report.batch_id,
        received=len(report.outcomes),
        accepted=report.accepted,
        duplicates=report.duplicates,
        rejected=report.rejected,
        outcomes=[ReadingOutcome.from_outcome(outcome, _message(outcome, language)) for outcome in report.outcomes],
        ignored_fields=ignored,
    )
    return Delivery(
        channel=channel,
        message_id=push.message_id,
        received_at=container.ledger.clock(),
        batch_id=report.batch_id,
        body_sha256=digest,
        status_code=200,
        content_language=language.value,
        response=receipt.model_dump_json(),
    )


def _record_room_reports(container: Container, principal: Principal, channel: str, push: NbiotPush) -> set[str]:
    """Record the readings' room fields as reports of their households' room controllers (each
    under an id of the channel, message and reading, so it is recorded once); returns the room
    fields that could not be stored."""
    serials = [reading.device_id for reading in push.readings if reading.room_fields()]
    if not serials:
        return set()
    controllers = RoomTelemetryQueries(container.engine).controllers_of_meters(serials)
    service = container.room_controllers
    ignored: set[str] = set()
    for index, reading in enumerate(push.readings):
        report = reading.device_report(f"nbiot:{channel}:{push.message_id}:{index}"[:64])
        device_id = controllers.get(reading.device_id)
        if report is None:
            continue
        try:
            if device_id is None:
                raise NotFoundError(f"no room controller for the meter {reading.device_id}")
            service.record_report(device_id, report, ReportSource.NBIOT, principal)
        except LedgerError:
            ignored.update(reading.room_fields())
    return ignored


def _parse(container: Container, principal: Principal, body: bytes) -> NbiotPush:
    """The push in ``body`` (numbers as exact decimals); a 422 problem, after quarantining the
    body, when it is not valid JSON or not a push."""
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        _quarantine(container, principal, body, f"not valid JSON: {error}")
        position = error.pos if isinstance(error, json.JSONDecodeError) else 0
        message = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error", "ctx": {"error": message}}]
        ) from None
    try:
        return NbiotPush.model_validate(data)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        summary = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in problems[:10])
        _quarantine(container, principal, body, f"not a valid push ({len(problems)} problem(s)): {summary}")
        raise RequestValidationError([{**item, "loc": ("body", *item["loc"])} for item in problems]) from None


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _quarantine(container: Container, principal: Principal, body: bytes, detail: str) -> None:
    payload = printable(body.decode("utf-8", errors="replace"))
    container.intake.quarantine(Channel.NBIOT, principal.name, "invalid_payload", printable(detail), payload)


def _unauthenticated(request: Request, reason: str, language: Language) -> Response:
    detail = render([f"nbiot.{reason}"], {}, language, "The push is not signed as the channel requires.")
    return problem_response(
        request, 401, "unauthenticated", detail, {"reason": reason}, headers={"WWW-Authenticate": CHALLENGE}
    )


def _message(outcome: ItemOutcome, language: Language) -> str | None:
    if outcome.status is not ItemStatus.REJECTED or outcome.reason is None:
        return None
    params = {"meter_serial": outcome.meter_serial, **outcome.params}
    keys = [outcome.message_key or outcome.reason, outcome.reason]
    return render(keys, params, language, outcome.message or outcome.reason)
