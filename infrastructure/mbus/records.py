"""From a decoded M-Bus frame to the readings of one meter (docs/mbus.md, "Mapping").

- The meter's serial in the ledger is its M-Bus identification number as 8 digits ("06855817").
- Medium 0x04 (heat, volume measured in the return) → the flow sensor sits in the return pipe;
  0x0C (heat, volume measured in the flow) → in the flow pipe; any other medium is refused.
- A record whose VIF the standard does not define is skipped (kept in ``skipped``); a damaged
  record refuses the frame.
- Only instantaneous values of tariff 0 and subunit 0 are read. Storage number 0 is the current
  reading; a stored block (storage number > 0) with energy and a date is a reading of that date
  (a billing-date value), at local midnight of a date, or at the time a date-time gives.
- The current reading is timed by the frame's date-time record, on the meter's clock in
  Asia/Shanghai (one hour less when the record's summer-time bit is set); without one, by the
  time the frame was received.
- A temperature outside a heat meter's physical range, or one the meter marks invalid, makes the
  reading faulty (kept, not billable); values beyond the ledger's bounds are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from domain.day_split import BUSINESS_TIME_ZONE
from domain.meter import (
    INSTANT_DECIMALS,
    MAXIMUM_INSTANT_VALUE,
    MAXIMUM_TEMPERATURE_C,
    MINIMUM_TEMPERATURE_C,
    REGISTER_DECIMALS,
)
from domain.readings import ReadingValues
from domain.values import FlowSensorSide, ReadingSource
from infrastructure.mbus.decode import DataRecord, DecodedFrame, Function, Quantity, SkippedRecord
from infrastructure.mbus.frame import FrameRejected

MEDIUM_SIDES = {0x04: FlowSensorSide.RETURN, 0x0C: FlowSensorSide.FLOW}
# The temperatures a heat meter's sensors can really show in a district-heating network (the
# range of the ledger's k·Δθ·ΔV check); outside it a value is a sensor fault (243 °C, 999.9 °C).
PHYSICAL_TEMPERATURE_C = (Decimal(0), Decimal(200))
# The ledger keeps error flags in 31 bits; higher bits are folded into bit 30.
MAXIMUM_ERROR_FLAGS = 2**31 - 1
FOLDED_ERROR_BIT = 1 << 30
SUMMER_TIME_SHIFT = timedelta(hours=1)
# Billing-date values read from one frame, the newest first kept: 1,000 frames of a request then
# yield at most 10,000 readings, the ledger's largest batch.
MAXIMUM_STORED_READINGS = 9
_INSTANT_STEP = Decimal(1).scaleb(-INSTANT_DECIMALS)
_TEMPERATURES = (Quantity.FLOW_TEMPERATURE, Quantity.RETURN_TEMPERATURE)


@dataclass(frozen=True)
class MappedReading:
    """One reading a frame yields: its storage number, its values and, if faulty, why."""

    storage_number: int
    values: ReadingValues
    faults: tuple[str, ...] = ()


@dataclass(frozen=True)
class FrameReadings:
    """The meter a frame names, the readings it yields (the current reading first) and the
    records left out because the standard defines no quantity for them."""

    identification: str
    manufacturer: str
    side: FlowSensorSide
    readings: tuple[MappedReading, ...]
    skipped: tuple[SkippedRecord, ...] = ()

    @property
    def meter_serial(self) -> str:
        return serial_of(self.identification)


def serial_of(identification: str) -> str:
    """The ledger's serial number of a meter with this M-Bus identification number: the same 8 digits."""
    return identification


def readings_of(
    decoded: DecodedFrame, received_at: datetime, time_zone: ZoneInfo = BUSINESS_TIME_ZONE
) -> FrameReadings:
    """The readings of a decoded frame; FrameRejected when it has unreadable (damaged) records,
    a medium other than heat, or no readable current energy register. Records skipped as
    undefined by the standard cost nothing: they are passed on with the readings."""
    header = decoded.frame.header
    if decoded.unreadable:
        first = decoded.unreadable[0]
        reason = "unknown_vif" if first.error.startswith("unknown VIF") else "undecodable"
        raise FrameRejected(
            reason,
            f"record {first.index} (VIF {_hex(first.vib)}) cannot be read: {first.error}",
            header=header,
            message_key=f"mbus.{reason}.record",
            record=first.index,
            vif=_hex(first.vib),
            error=first.error,
        )
    side = MEDIUM_SIDES.get(header.medium)
    if side is None:
        raise FrameRejected(
            "unknown_medium",
            f"medium {header.medium:02X} is not a heat meter (04: volume in the return, 0C: volume in the flow)",
            header=header,
            medium=f"{header.medium:02X}",
        )
    blocks: dict[int, list[DataRecord]] = {}
    for record in decoded.records:
        if record.function is Function.INSTANTANEOUS and record.tariff == 0 and record.subunit == 0:
            blocks.setdefault(record.storage_number, []).append(record)
    current = _reading(blocks.get(0, []), 0, _current_time(blocks.get(0, []), received_at, time_zone))
    if current is None:
        raise FrameRejected("no_energy", "the frame has no readable current energy register", header=header)
    stored: list[MappedReading] = []
    seen = {current.values.measured_at}
    for storage_number in sorted(number for number in blocks if number > 0):
        block = blocks[storage_number]
        moment = _stored_time(block, time_zone)
        if moment is None or moment in seen:
            continue
        reading = _reading(block, storage_number, moment)
        if reading is not None:
            stored.append(reading)
            seen.add(moment)
    newest = sorted(stored, key=lambda reading: reading.values.measured_at)[-MAXIMUM_STORED_READINGS:]
    stored = [reading for reading in stored if reading in newest]
    return FrameReadings(header.identification, header.manufacturer, side, (current, *stored), decoded.skipped)


def _hex(data: Iterable[int]) -> str:
    return " ".join(f"{byte:02X}" for byte in data) or "none"


def _first(block: list[DataRecord], quantity: Quantity) -> DataRecord | None:
    return next((record for record in block if record.quantity is quantity), None)


def _local(moment: datetime, summer_time: bool, time_zone: ZoneInfo) -> datetime:
    """A wall-clock time of the meter as an aware UTC time."""
    local = moment.replace(tzinfo=time_zone)
    if summer_time:
        local -= SUMMER_TIME_SHIFT
    return local.astimezone(UTC)


def _current_time(block: list[DataRecord], received_at: datetime, time_zone: ZoneInfo) -> datetime:
    record = _first(block, Quantity.DATE_TIME)
    if record is not None and isinstance(record.value, datetime):
        return _local(record.value, record.summer_time, time_zone)
    return received_at


def _stored_time(block: list[DataRecord], time_zone: ZoneInfo) -> datetime | None:
    """When a stored block's values were taken: its date-time, else local midnight of its date."""
    record = _first(block, Quantity.DATE_TIME)
    if record is not None and isinstance(record.value, datetime):
        return _local(record.value, record.summer_time, time_zone)
    record = _first(block, Quantity.DATE)
    if record is not None and isinstance(record.value, date):
        return _local(datetime.combine(record.value, datetime.min.time()), False, time_zone)
    return None


def _decimal(record: DataRecord | None) -> Decimal | None:
    return record.value if record is not None and isinstance(record.value, Decimal) else None


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _register(value: Decimal, decimals: int = REGISTER_DECIMALS) -> Decimal:
    """A register to at most ``decimals`` decimals, cut (never rounded up past what was counted)."""
    if _decimals(value) > decimals:
        return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
    return value


def _optional_register(value: Decimal | None, decimals: int = REGISTER_DECIMALS) -> Decimal | None:
    return None if value is None else _register(value, decimals)


def _instant(value: Decimal) -> Decimal:
    """An instant value to at most 3 decimals, rounded half to even."""
    if _decimals(value) > INSTANT_DECIMALS:
        return value.quantize(_INSTANT_STEP, rounding=ROUND_HALF_EVEN)
    return value


def _reading(block: list[DataRecord], storage_number: int, measured_at: datetime) -> MappedReading | None:
    """The reading of one block, or None without a readable energy register."""
    energy = _decimal(_first(block, Quantity.ENERGY))
    if energy is None:
        return None
    faults: list[str] = []
    temperatures: dict[Quantity, Decimal | None] = {}
    for quantity in _TEMPERATURES:
        temperatures[quantity] = _temperature(_first(block, quantity), faults)
    hours = _decimal(_first(block, Quantity.OPERATING_TIME) or _first(block, Quantity.ON_TIME))
    flags_record = _first(block, Quantity.ERROR_FLAGS) if storage_number == 0 else None
    values = ReadingValues(
        measured_at=measured_at,
        energy_gj=_register(energy),
        volume_m3=_optional_register(_decimal(_first(block, Quantity.VOLUME))),
        operating_hours=_optional_register(hours, INSTANT_DECIMALS),
        flow_temperature_c=temperatures[Quantity.FLOW_TEMPERATURE],
        return_temperature_c=temperatures[Quantity.RETURN_TEMPERATURE],
        flow_rate_m3_h=_bounded_instant(_first(block, Quantity.VOLUME_FLOW), faults),
        power_kw=_bounded_instant(_first(block, Quantity.POWER), faults),
        error_flags=error_flags(flags_record.value if flags_record is not None else 0),
        source=ReadingSource.MBUS,
        faulty=bool(faults),
    )
    return MappedReading(storage_number, values, tuple(faults))


def _temperature(record: DataRecord | None, faults: list[str]) -> Decimal | None:
    """A temperature for the reading; a sensor-fault value marks the reading faulty and is kept
    only when it lies within the ledger's bounds."""
    if record is None:
        return None
    name = record.quantity.value if record.quantity else "temperature"
    value = _decimal(record)
    if value is None:
        if record.invalid:
            faults.append(f"{name} marked invalid by the meter")
        return None
    value = _instant(value)
    lowest, highest = PHYSICAL_TEMPERATURE_C
    if not lowest <= value <= highest:
        faults.append(f"{name} {value} °C outside {lowest}…{highest} °C")
    if not MINIMUM_TEMPERATURE_C <= value < MAXIMUM_TEMPERATURE_C:
        return None
    return value


def _bounded_instant(record: DataRecord | None, faults: list[str]) -> Decimal | None:
    if record is None:
        return None
    name = record.quantity.value if record.quantity else "value"
    value = _decimal(record)
    if value is None:
        if record.invalid:
            faults.append(f"{name} marked invalid by the meter")
        return None
    value = _instant(value)
    if not -MAXIMUM_INSTANT_VALUE < value < MAXIMUM_INSTANT_VALUE:
        faults.append(f"{name} {value} out of range")
        return None
    return value


def error_flags(value: object) -> int:
    """The meter's error bits as the ledger keeps them: bits 0–30 as sent; any higher bit set
    sets bit 30 (the ledger stores 31 bits)."""
    if not isinstance(value, int) or value < 0:
        return 0
    if value > MAXIMUM_ERROR_FLAGS:
        return (value & MAXIMUM_ERROR_FLAGS) | FOLDED_ERROR_BIT
    return value
