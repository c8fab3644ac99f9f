"""Room telemetry (issue 14): what the room controllers report, per household and day, per device,
and the households whose rooms stay cold. Read from the room telemetry read models
(``projections/room_telemetry.py``), fed by MQTT reports and NB-IoT pushes; readers only.

Paths under ``/room-telemetry`` for the lists, so that no device id is ever read as a list's name.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Annotated

from fastapi import Query

from api.auth import Reader
from api.dependencies import BusinessToday, ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.consumption import FromQuery, ToQuery, day_range_of
from api.routers.households import AccountNumberPath
from api.schemas.common import AccountNumber
from api.schemas.room_telemetry import (
    DeviceHealthList,
    DeviceHealthOutput,
    RoomTemperatureDay,
    RoomTemperatures,
    UnderHeatedList,
    UnderHeatedOutput,
    ValveOpenHours,
    ValveOpenHoursDay,
)
from projections.queries import Granularity
from projections.room_telemetry_queries import (
    MAXIMUM_LISTED,
    UNDER_HEATED_BELOW_C,
    RoomTelemetryQueries,
    UnderHeatedHousehold,
)

router = resource_router("", "valves")

LimitQuery = Annotated[int, Query(ge=1, le=MAXIMUM_LISTED, description="At most this many rows")]
OffsetQuery = Annotated[int, Query(ge=0, le=1_000_000, description="Rows skipped (paging)")]
HOUR = Decimal("0.1")


@router.get(
    "/households/{account_number}/room-temperatures",
    operation_id="get_household_room_temperatures",
    response_model=RoomTemperatures,
    responses=problem_responses(401, 403, 404, 422),
)
def get_household_room_temperatures(
    account_number: AccountNumberPath,
    _reader: Reader,
    container: ContainerDependency,
    today: BusinessToday,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
) -> RoomTemperatures:
    """The household's room temperature per business day (minimum, mean, maximum of its
    controllers' reports), oldest first; the range defaults to the season to date, at most 400
    days. Days without a report are left out."""
    container.ledger.household(account_number)  # 404 for an unknown household
    days = day_range_of(today, Granularity.DAY, from_day, to_day)
    rows = RoomTelemetryQueries(container.engine).room_temperatures(account_number, days.first_day, days.last_day)
    return RoomTemperatures(
        account_number=account_number,
        first_day=days.first_day,
        last_day=days.last_day,
        under_heated_below_c=UNDER_HEATED_BELOW_C,
        days=[RoomTemperatureDay.model_validate(row) for row in rows],
    )


@router.get(
    "/households/{account_number}/valve-open-hours",
    operation_id="get_household_valve_open_hours",
    response_model=ValveOpenHours,
    responses=problem_responses(401, 403, 404, 422),
)
def get_household_valve_open_hours(
    account_number: AccountNumberPath,
    _reader: Reader,
    container: ContainerDependency,
    today: BusinessToday,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
) -> ValveOpenHours:
    """The household's valve-open hours per business day and their sum over the range (the
    season to date by default, at most 400 days): what the on-off time-area allocation reads
    when no hours are typed in."""
    container.ledger.household(account_number)  # 404 for an unknown household
    days = day_range_of(today, Granularity.DAY, from_day, to_day)
    rows = RoomTelemetryQueries(container.engine).valve_open_hours(account_number, days.first_day, days.last_day)
    return ValveOpenHours(
        account_number=account_number,
        first_day=days.first_day,
        last_day=days.last_day,
        total_open_hours=sum((row.open_hours for row in rows), Decimal(0)),
        days=[ValveOpenHoursDay.model_validate(row) for row in rows],
    )


@router.get(
    "/room-telemetry/device-health",
    operation_id="list_room_controller_health",
    response_model=DeviceHealthList,
    responses=problem_responses(401, 403, 422),
)
def list_room_controller_health(
    _reader: Reader,
    container: ContainerDependency,
    account_number: Annotated[AccountNumber | None, Query(description="Only this household's controllers")] = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> DeviceHealthList:
    """Controllers that have reported, the longest silent first: last seen, battery, signal,
    valve gear and state, temperatures, and since when the room has been below 18 °C."""
    rows = RoomTelemetryQueries(container.engine).device_health(account_number, limit, offset)
    return DeviceHealthList(items=[DeviceHealthOutput.model_validate(row) for row in rows])


@router.get(
    "/room-telemetry/under-heated",
    operation_id="list_under_heated_households",
    response_model=UnderHeatedList,
    responses=problem_responses(401, 403, 422),
)
def list_under_heated_households(
    _reader: Reader,
    container: ContainerDependency,
    minimum_hours: Annotated[
        int | None,
        Query(ge=1, le=24 * 30, description="Below 18 °C at least this long; default: the setting (24)"),
    ] = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> UnderHeatedList:
    """Households whose room has stayed below 18 °C (the national minimum) for the hours asked,
    the longest first, with their address: customer service's list of flats to call."""
    hours = minimum_hours or container.settings.under_heated_minimum_hours
    now = container.ledger.clock()
    rows = RoomTelemetryQueries(container.engine).under_heated(now, hours, limit, offset)
    return UnderHeatedList(
        below_c=UNDER_HEATED_BELOW_C,
        minimum_hours=hours,
        items=[_under_heated(row, now) for row in rows],
    )


def _under_heated(row: UnderHeatedHousehold, now: datetime) -> UnderHeatedOutput:
    seconds = Decimal((now - row.below_since).total_seconds())
    return UnderHeatedOutput(
        account_number=row.account_number,
        community=row.community,
        building=row.building,
        flat=row.flat,
        device_id=row.device_id,
        below_since=row.below_since,
        hours_below=(seconds / 3600).quantize(HOUR, ROUND_DOWN),
        room_temperature_c=row.room_temperature_c,
        last_seen_at=row.last_seen_at,
    )
