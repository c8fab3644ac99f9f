"""Random valid heat-meter frames, built by the test encoder from EN 13757-3, decode to the
values encoded (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from hypothesis import assume, given
from hypothesis import strategies as st

from domain.values import FlowSensorSide
from infrastructure.mbus.decode import decode_frame
from infrastructure.mbus.frame import bytes_from_hex, check_long_frame
from infrastructure.mbus.records import readings_of
from tests.unit.infrastructure.mbus.encoder import (
    BCD8,
    BCD12,
    HEAT_FLOW,
    HEAT_RETURN,
    INT32,
    INT48,
    Frame,
    Record,
    date_record,
    date_time,
    energy_vib,
    error_flags,
    numeric,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED_AT = datetime(2025, 12, 10, 4, 0, tzinfo=UTC)
ENERGY_SCALES = (
    [("Wh", exponent) for exponent in range(-3, 5)]
    + [("J", exponent) for exponent in range(0, 8)]
    + [("MWh", -1), ("MWh", 0), ("GJ", -1), ("GJ", 0)]
)


@dataclass(frozen=True)
class Spec:
    """What a random frame holds, and the values the ledger must read from it."""

    frame: Frame
    side: FlowSensorSide
    energy_gj: Decimal
    volume_m3: Decimal
    flow_c: Decimal
    return_c: Decimal
    flow_rate_m3_h: Decimal
    power_kw: Decimal
    flags: int
    measured_at: datetime
    stored: tuple[int, datetime, Decimal] | None


def scaled(draw: st.DrawFn, low: int, high: int, exponents: range) -> tuple[int, int]:
    """A raw value and a decimal exponent (the VIF's nn)."""
    return draw(st.integers(low, high)), draw(st.sampled_from(list(exponents)))


@st.composite
def heat_frames(draw: st.DrawFn) -> Spec:
    scale, exponent = draw(st.sampled_from(ENERGY_SCALES))
    energy_raw = draw(st.integers(0, 99_999_999))
    energy_field = draw(st.sampled_from([INT32, BCD8, INT48, BCD12]))
    energy_vif, gj_per_step = energy_vib(scale, exponent)
    volume_raw, volume_n = scaled(draw, 0, 99_999_999, range(0, 8))
    flow_n = draw(st.integers(0, 3))
    return_n = draw(st.integers(0, 3))
    flow_value = draw(st.decimals(Decimal(-50), Decimal("249.999"), places=3 - flow_n if flow_n < 3 else 0))
    return_value = draw(st.decimals(Decimal(-50), Decimal("249.999"), places=3 - return_n if return_n < 3 else 0))
    rate_raw, rate_n = scaled(draw, 0, 9_999_999, range(0, 8))
    power_raw, power_n = scaled(draw, -999_999, 9_999_999, range(0, 8))
    flags = draw(st.integers(0, 2**31 - 1))
    clock = draw(
        st.none()
        | st.datetimes(datetime(2000, 1, 1), datetime(2080, 12, 31)).map(
            lambda moment: moment.replace(second=0, microsecond=0)
        )
    )
    stored = draw(
        st.none()
        | st.tuples(st.integers(1, 15), st.dates(date(2000, 1, 1), date(2080, 12, 31)), st.integers(0, 99_999_999))
    )
    medium = draw(st.sampled_from([HEAT_RETURN, HEAT_FLOW]))
    records: list[Record] = [
        numeric(energy_vif, energy_raw, energy_field),
        numeric([0x10 | volume_n], volume_raw),
        numeric([0x58 | flow_n], int(flow_value.scaleb(3 - flow_n))),
        numeric([0x5C | return_n], int(return_value.scaleb(3 - return_n))),
        numeric([0x38 | rate_n], rate_raw),
        numeric([0x28 | power_n], power_raw),
        error_flags(flags, INT32),
    ]
    measured_at = RECEIVED_AT
    if clock is not None:
        records.append(date_time(clock))
        measured_at = clock.replace(tzinfo=SHANGHAI).astimezone(UTC)
    stored_reading = None
    if stored is not None:
        storage, day, raw = stored
        records += [numeric(energy_vif, raw, energy_field, storage=storage), date_record(day, storage=storage)]
        moment = datetime.combine(day, datetime.min.time(), SHANGHAI).astimezone(UTC)
        assume(moment != measured_at)
        stored_reading = (storage, moment, _register(raw * gj_per_step))
    draw(st.randoms()).shuffle(records)
    frame = Frame(
        identification=f"{draw(st.integers(0, 99_999_999)):08d}",
        manufacturer="".join(draw(st.lists(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=3, max_size=3))),
        medium=medium,
        records=records,
        access_number=draw(st.integers(0, 255)),
    )
    return Spec(
        frame=frame,
        side=FlowSensorSide.RETURN if medium == HEAT_RETURN else FlowSensorSide.FLOW,
        energy_gj=_register(energy_raw * gj_per_step),
        volume_m3=Decimal(volume_raw).scaleb(volume_n - 6),
        flow_c=flow_value,
        return_c=return_value,
        flow_rate_m3_h=_instant(Decimal(rate_raw).scaleb(rate_n - 6)),
        power_kw=_instant(Decimal(power_raw).scaleb(power_n - 3) / 1000),
        flags=flags,
        measured_at=measured_at,
        stored=stored_reading,
    )


def _register(value: Decimal) -> Decimal:
    return value.quantize(Decimal("1e-9"), rounding=ROUND_DOWN) if value.as_tuple().exponent < -9 else value  # type: ignore[operator]


def _instant(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)


@given(heat_frames())
def test_random_heat_frames_decode_to_the_values_encoded(spec: Spec) -> None:
    readings = readings_of(decode_frame(check_long_frame(spec.frame.encode())), RECEIVED_AT)
    assert readings.identification == readings.meter_serial == spec.frame.identification
    assert readings.manufacturer == spec.frame.manufacturer
    assert readings.side is spec.side
    current = readings.readings[0]
    values = current.values
    assert current.storage_number == 0
    assert values.measured_at == spec.measured_at
    assert values.energy_gj == spec.energy_gj
    assert values.volume_m3 == spec.volume_m3
    assert values.flow_temperature_c == spec.flow_c
    assert values.return_temperature_c == spec.return_c
    assert values.flow_rate_m3_h == spec.flow_rate_m3_h
    assert values.power_kw == spec.power_kw
    assert values.error_flags == spec.flags
    physical = all(Decimal(0) <= value <= Decimal(200) for value in (spec.flow_c, spec.return_c))
    assert values.faulty is not physical
    if spec.stored is None:
        assert len(readings.readings) == 1
    else:
        storage, moment, energy = spec.stored
        stored = readings.readings[1]
        assert (stored.storage_number, stored.values.measured_at, stored.values.energy_gj) == (storage, moment, energy)
        assert stored.values.volume_m3 is None and stored.values.error_flags == 0


@given(heat_frames(), st.lists(st.sampled_from([" ", "", "\n", "\r\n", "\t", "  "]), min_size=1), st.booleans())
def test_the_same_frame_as_hex_text_decodes_alike(spec: Spec, separators: list[str], lower: bool) -> None:
    data = spec.frame.encode()
    pairs = [f"{byte:02x}" if lower else f"{byte:02X}" for byte in data]
    text = "".join(pair + separators[index % len(separators)] for index, pair in enumerate(pairs))
    assert bytes_from_hex(text) == data
