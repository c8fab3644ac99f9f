"""Meters: commission, find, read, detach, and page through a meter's readings."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated
from urllib.parse import quote
from uuid import uuid4

from fastapi import Path, Query, Response

from api.auth import Caller, Reader
from api.dependencies import Ledger, Queries
from api.problems import RequestRuleError, problem_responses
from api.routers import resource_router
from api.routers.households import reason_argument
from api.schemas.common import KEY_MAX_LENGTH, CommandReceipt
from api.schemas.meters import (
    MeterCommissioned,
    MeterCommissioning,
    MeterDetachment,
    MeterDetail,
    MeterFilter,
    MeterPage,
)
from api.schemas.readings import ReadingOutput, ReadingPage
from application.ledger import RatedLimitsDeclared
from domain.errors import NotFoundError
from projections.queries import MAXIMUM_PAGE_SIZE, LedgerQueries, MeterRecord

router = resource_router("/meters", "meters")

SerialPath = Annotated[str, Path(max_length=KEY_MAX_LENGTH, description="The meter's serial number (表号)")]
MAXIMUM_OFFSET = 10_000_000
MAXIMUM_CURSOR_LENGTH = 200
MAXIMUM_METER_PAGE = 500


def meter_location(serial: str) -> str:
    """The URL path of a meter."""
    return f"/meters/{quote(serial, safe='')}"


def require_meter(queries: LedgerQueries, serial: str) -> MeterRecord:
    """The meter's record, or a 404 problem."""
    record = queries.meter(serial)
    if record is None:
        raise NotFoundError(f"no meter {serial}", kind="meter", key=serial)
    return record


def encode_cursor(measured_at: datetime) -> str:
    """An opaque cursor that continues after the reading measured at ``measured_at``."""
    return base64.urlsafe_b64encode(measured_at.isoformat().encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> datetime:
    """The time a cursor continues after; a 422 problem if it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment = datetime.fromisoformat(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError, binascii.Error):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise RequestRuleError("cursor_invalid", "the page cursor is not valid", field="cursor")
    return moment


@router.post(
    "",
    status_code=201,
    operation_id="commission_meter",
    response_model=MeterCommissioned,
    responses=problem_responses(401, 403, 409, 422),
)
def commission_meter(
    commissioning: MeterCommissioning, caller: Caller, ledger: Ledger, response: Response
) -> MeterCommissioned:
    """Put a heat meter into service (投入使用).

    The serial number is the meter's key for good: commissioning it twice is a 409. Building and
    substation meters must name their community and building. Answers 201 with the meter's
    address in `Location`.
    """
    correlation_id = uuid4()
    ledger.commission_meter(
        caller,
        commissioning.serial,
        commissioning.maker,
        commissioning.model,
        commissioning.accuracy_class,
        commissioning.flow_sensor_side,
        commissioning.kind,
        commissioning.commissioned_at,
        community=commissioning.community,
        building=commissioning.building,
        permanent_flow_m3_h=commissioning.permanent_flow_m3_h,
        energy_register_width_gj=commissioning.energy_register_width_gj,
        volume_register_width_m3=commissioning.volume_register_width_m3,
        correlation_id=correlation_id,
        rated=RatedLimitsDeclared(
            commissioning.maximum_flow_m3_h,
            commissioning.minimum_temperature_c,
            commissioning.maximum_temperature_c,
            commissioning.minimum_temperature_difference_k,
        ),
        **reason_argument(commissioning.reason),
    )
    serial = commissioning.serial.strip()
    response.headers["Location"] = meter_location(serial)
    return MeterCommissioned(serial=serial, correlation_id=correlation_id)


@router.get("", operation_id="list_meters", response_model=MeterPage, responses=problem_responses(401, 403, 422))
def list_meters(
    reader: Reader,
    queries: Queries,
    filters: Annotated[MeterFilter, Query()],
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_METER_PAGE, description="Meters per page, at most 500")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET, description="Meters to skip")] = 0,
) -> MeterPage:
    """Meters by serial number, found by a part of the serial, optionally of one community and
    building, one kind and one state, a page at a time. `total` counts every meter matching."""
    page = queries.meters(filters.to_search(), limit, offset)
    items = [MeterDetail.from_record(record) for record in page.items]
    return MeterPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/{serial}", operation_id="get_meter", response_model=MeterDetail, responses=problem_responses(401, 403, 404, 422)
)
def get_meter(serial: SerialPath, reader: Reader, queries: Queries) -> MeterDetail:
    """A meter: make, class, kind, where it sits, the household it serves now, its newest reading."""
    return MeterDetail.from_record(require_meter(queries, serial))


@router.post(
    "/{serial}/detachments",
    operation_id="detach_meter",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def detach_meter(serial: SerialPath, detachment: MeterDetachment, caller: Caller, ledger: Ledger) -> CommandReceipt:
    """Take a meter off the household it serves, from `detached_at` on, with a reason.

    Readings after the detachment no longer count for that household. A meter serving no
    household is a 409.
    """
    correlation_id = uuid4()
    ledger.detach_meter(caller, serial, detachment.detached_at, detachment.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)


@router.get(
    "/{serial}/readings",
    operation_id="list_meter_readings",
    response_model=ReadingPage,
    responses=problem_responses(401, 403, 404, 422),
)
def list_meter_readings(
    serial: SerialPath,
    reader: Reader,
    queries: Queries,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE, description="Readings per page, at most 1000")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET, description="Readings to skip (not with cursor)")] = 0,
    cursor: Annotated[
        str | None, Query(max_length=MAXIMUM_CURSOR_LENGTH, description="`next_cursor` of the previous page")
    ] = None,
) -> ReadingPage:
    """A meter's readings, newest first, each with the interval ending at it and that interval's
    k·Δθ·ΔV plausibility check (null when the readings lack volume or temperatures).

    Page with `offset`, or, steadier while readings keep arriving, with `cursor`: pass the
    previous page's `next_cursor`; it is null on the last page.
    """
    if cursor is not None and offset:
        raise RequestRuleError("cursor_with_offset", "use either a page cursor or an offset", field="offset")
    meter = require_meter(queries, serial)
    before = decode_cursor(cursor) if cursor is not None else None
    page = queries.readings(meter.meter_id, limit, offset, before)
    next_cursor = encode_cursor(page.items[-1].measured_at) if page.has_more and page.items else None
    return ReadingPage(
        items=[ReadingOutput.from_record(record) for record in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
        next_cursor=next_cursor,
    )
