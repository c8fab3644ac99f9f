"""NB-IoT pushes: the body a platform or concentrator signs and sends, and the receipt it gets.

Values are read as exact decimals: the router parses the body with ``parse_float=Decimal``, so
a JSON number keeps every digit, as a string does. Types and shapes fail the whole push (422);
reading rules (unknown meters, registers going backwards, …) reject single items, as in
``POST /readings/batches``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import KEY_MAX_LENGTH, RequestModel
from api.schemas.readings import MAXIMUM_ERROR_FLAGS, Instant, ReadingOutcome, Register
from application.ingestion import MAXIMUM_BATCH_SIZE, ReadingItem
from domain.readings import ReadingValues
from domain.values import ReadingSource
from domain.valve import DeviceReport
from infrastructure.nbiot import MAXIMUM_MESSAGE_ID_LENGTH

# A reading's fields that belong to the flat's room controller, not to the meter: stored as a report
# of the controller installed in the meter's household (issue 14), or answered as ignored without one.
ROOM_FIELDS = ("valve_state", "room_temperature_c")
VALVE_STATE_MAX_LENGTH = 32

# Text from devices is stored (and logged when refused): no NUL or other control characters.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

ValveState = (
    Annotated[str, Field(min_length=1, max_length=VALVE_STATE_MAX_LENGTH, pattern=PRINTABLE)]
    | Annotated[int, Field(ge=0)]
)


class NbiotReading(BaseModel):
    """One reading of one meter, as a room controller or NB-IoT meter uploads it."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(
        min_length=1, max_length=KEY_MAX_LENGTH, pattern=PRINTABLE, description="The heat meter's serial number (表号)"
    )
    timestamp: datetime = Field(description="When the meter took it, ISO 8601 with zone (without one it is rejected)")
    energy_gj: Register
    volume_m3: Register | None = None
    flow_temperature_c: Instant | None = Field(default=None, description="Supply temperature, °C")
    return_temperature_c: Instant | None = Field(default=None, description="Return temperature, °C")
    flow_rate_m3_h: Instant | None = Field(default=None, description="Flow, m³/h")
    power_kw: Instant | None = Field(default=None, description="Power, kW")
    operating_hours: Instant | None = Field(default=None, description="Operating hours register, h")
    error_flags: int = Field(default=0, ge=0, le=MAXIMUM_ERROR_FLAGS, description="The meter's error bits")
    valve_state: ValveState | None = Field(
        default=None,
        description="Valve state (`open`, `closed`, `partial`) or gear (3): a report of the household's room "
        "controller",
    )
    room_temperature_c: Instant | None = Field(
        default=None, description="Room temperature, °C: a report of the household's room controller"
    )

    def to_item(self) -> ReadingItem:
        """The application's view of this reading; aware times are kept in UTC."""
        measured_at = self.timestamp.astimezone(UTC) if self.timestamp.tzinfo else self.timestamp
        values = ReadingValues(
            measured_at=measured_at,
            energy_gj=self.energy_gj,
            volume_m3=self.volume_m3,
            operating_hours=self.operating_hours,
            flow_temperature_c=self.flow_temperature_c,
            return_temperature_c=self.return_temperature_c,
            flow_rate_m3_h=self.flow_rate_m3_h,
            power_kw=self.power_kw,
            error_flags=self.error_flags,
            source=ReadingSource.NBIOT,
        )
        return ReadingItem(self.device_id, values)

    def room_fields(self) -> list[str]:
        """The room controller's fields this reading carries."""
        return [name for name in ROOM_FIELDS if getattr(self, name) is not None]

    def device_report(self, report_id: str) -> DeviceReport | None:
        """This reading's room fields as a report of the flat's controller (None: it has none)."""
        if not self.room_fields():
            return None
        measured_at = self.timestamp.astimezone(UTC) if self.timestamp.tzinfo else self.timestamp
        state = self.valve_state
        return DeviceReport(
            report_id=report_id,
            measured_at=measured_at,
            room_temperature_c=self.room_temperature_c,
            valve_gear=state if isinstance(state, int) else None,
            valve_state=state if isinstance(state, str) else None,
        )


class NbiotPush(RequestModel):
    """A push: the platform's message id (for idempotent redelivery) and up to 10,000 readings."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "a1f3c9e2-0001",
                    "readings": [
                        {
                            "device_id": "KM-100234",
                            "timestamp": "2025-12-01T00:00:00+08:00",
                            "energy_gj": "12.345000",
                            "volume_m3": "74.120",
                            "flow_temperature_c": "68.5",
                            "return_temperature_c": "41.2",
                            "flow_rate_m3_h": "0.412",
                            "power_kw": "7.9",
                            "valve_state": "open",
                            "room_temperature_c": "20.5",
                        }
                    ],
                }
            ]
        }
    )

    message_id: str = Field(
        min_length=1,
        max_length=MAXIMUM_MESSAGE_ID_LENGTH,
        pattern=PRINTABLE,
        description="The platform's id of this message: a redelivery with the same id gets the same answer",
    )
    readings: list[NbiotReading] = Field(max_length=MAXIMUM_BATCH_SIZE)


class NbiotReceipt(BaseModel):
    """The push's batch, its counts, every reading's outcome, and the fields not stored yet."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "a1f3c9e2-0001",
                    "batch_id": "3b4d5c1e-8a0f-5c43-9d0e-6f2a1b7c8d90",
                    "received": 1,
                    "accepted": 1,
                    "duplicates": 0,
                    "rejected": 0,
                    "outcomes": [
                        {
                            "index": 0,
                            "meter_serial": "KM-100234",
                            "measured_at": "2025-11-30T16:00:00Z",
                            "status": "accepted",
                            "reason": None,
                            "message": None,
                            "params": {},
                        }
                    ],
                    "ignored_fields": ["room_temperature_c", "valve_state"],
                }
            ]
        }
    )

    message_id: str
    batch_id: UUID = Field(description="uuid5 of channel and message id: the same for every redelivery")
    received: int
    accepted: int
    duplicates: int
    rejected: int
    outcomes: list[ReadingOutcome] = Field(description="In the order sent; `meter_serial` is the reading's device_id")
    ignored_fields: list[str] = Field(
        description="Room fields (valve_state, room_temperature_c) the push carried that were not stored: the "
        "meter's household has no room controller (or several), or the controller refused the values"
    )
