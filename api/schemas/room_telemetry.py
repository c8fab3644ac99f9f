"""Response models of room telemetry (issue 14): room temperatures and valve-open hours per
household and day, device health, the under-heated households."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from api.schemas.common import InstantText


class RoomTemperatureDay(BaseModel):
    """A business day's room temperature in the household's flat, from ``samples`` reports."""

    model_config = ConfigDict(from_attributes=True)

    day: date
    samples: int
    minimum_c: InstantText
    mean_c: InstantText
    maximum_c: InstantText


class RoomTemperatures(BaseModel):
    """The household's days with a reported room temperature in the range, oldest first (days
    without a report are left out: unknown is not cold)."""

    account_number: str
    first_day: date
    last_day: date
    under_heated_below_c: InstantText
    days: list[RoomTemperatureDay]


class ValveOpenHoursDay(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    open_hours: InstantText


class ValveOpenHours(BaseModel):
    """The household's valve-open hours per business day (from the controllers' accumulated
    open time), oldest first, and their sum over the range: what the on-off time-area
    allocation reads."""

    account_number: str
    first_day: date
    last_day: date
    total_open_hours: InstantText
    days: list[ValveOpenHoursDay]


class DeviceHealthOutput(BaseModel):
    """A controller's latest report and since when its room has been below 18 °C."""

    model_config = ConfigDict(from_attributes=True)

    device_id: str
    account_number: str
    reports: int
    last_seen_at: datetime
    last_source: str
    room_temperature_c: InstantText | None
    humidity_percent: InstantText | None
    set_temperature_c: InstantText | None
    valve_gear: int | None
    valve_state: str | None
    signal_dbm: int | None
    battery_percent: int | None
    below_minimum_since: datetime | None


class DeviceHealthList(BaseModel):
    """Controllers, the longest silent first."""

    items: list[DeviceHealthOutput]


class UnderHeatedOutput(BaseModel):
    """A household whose room has been below 18 °C since ``below_since``: a flat to call."""

    model_config = ConfigDict(from_attributes=True)

    account_number: str
    community: str | None
    building: str | None
    flat: str | None
    device_id: str
    below_since: datetime
    hours_below: InstantText
    room_temperature_c: InstantText | None
    last_seen_at: datetime


class UnderHeatedList(BaseModel):
    """Households below 18 °C for at least ``minimum_hours``, the longest first."""

    below_c: InstantText
    minimum_hours: int
    items: list[UnderHeatedOutput]
