"""Every heat-meter frame of shared/test-vectors/mbus decodes, through our adapter, to the values
the reference decoder (libmbus) reads from it (NAME.norm.xml), record by record.

The reference's values are compared as ``Decimal`` at the reference's own resolution (6 decimals
of its unit; energy converted to GJ exactly, power to kW, times to hours). Differences that are
decisions of ours are named where they are allowed (docs/mbus.md, "Test vectors"). Every vector
whose reference reads a current energy, volume or temperatures must give those values to the
ledger: only records the standard does not define may be skipped, never a whole frame for them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from domain.values import FlowSensorSide
from infrastructure.mbus.decode import DataRecord, DecodedFrame, Encoding, Function, Quantity, decode_frame
from infrastructure.mbus.frame import FrameRejected, bytes_from_hex, check_long_frame
from infrastructure.mbus.records import MEDIUM_SIDES, readings_of
from tests.services import unavailable

REPOSITORY = Path(__file__).resolve().parents[4]
VECTORS = REPOSITORY.parent / "shared" / "test-vectors" / "mbus"
NAMES = sorted(path.name.removesuffix(".hex") for path in VECTORS.glob("*.hex")) if VECTORS.is_dir() else []
RECEIVED_AT = datetime(2025, 12, 10, 4, 0, tzinfo=UTC)

FUNCTIONS = {
    "Instantaneous value": Function.INSTANTANEOUS,
    "Maximum value": Function.MAXIMUM,
    "Minimum value": Function.MINIMUM,
    "Value during error state": Function.ERROR_STATE,
    "Manufacturer specific": Function.MANUFACTURER_SPECIFIC,
    "More records follow": Function.MORE_RECORDS_FOLLOW,
}
# (reference quantity, reference unit) → our quantity and the factor from the reference's unit to ours.
HOURS_PER_SECOND = Decimal(1) / Decimal(3600)
QUANTITIES: dict[tuple[str, str], tuple[Quantity, Decimal]] = {
    ("Energy", "Wh"): (Quantity.ENERGY, Decimal("0.0000036")),
    ("Energy", "J"): (Quantity.ENERGY, Decimal("0.000000001")),
    ("Volume", "m^3"): (Quantity.VOLUME, Decimal(1)),
    ("Volume flow", "m^3/h"): (Quantity.VOLUME_FLOW, Decimal(1)),
    ("Power", "W"): (Quantity.POWER, Decimal("0.001")),
    ("Flow temperature", "°C"): (Quantity.FLOW_TEMPERATURE, Decimal(1)),
    ("Return temperature", "°C"): (Quantity.RETURN_TEMPERATURE, Decimal(1)),
    ("Temperature difference", "K"): (Quantity.TEMPERATURE_DIFFERENCE, Decimal(1)),
    ("Operating time", "s"): (Quantity.OPERATING_TIME, HOURS_PER_SECOND),
    ("On time", "s"): (Quantity.ON_TIME, HOURS_PER_SECOND),
}
WHOLE_NUMBERS = {"Error flags": Quantity.ERROR_FLAGS, "Fabrication No": Quantity.FABRICATION_NUMBER}
TIME_POINTS = {"Time point (date & time)": Quantity.DATE_TIME, "Time point (date)": Quantity.DATE}
REFERENCE_DECIMALS = Decimal("0.000001")

# What the ledger makes of each vector (docs/mbus.md): a rejection reason, or the flow sensor's side.
NOT_USED = {
    "SEN_Pollustat": "unknown_medium",  # medium 0D: heat/cooling meter
    "itron_cf_51": "unknown_medium",  # medium 0D: heat/cooling meter
    "amt_calec_mb": "no_energy",  # no energy register in the frame
}
# Records skipped because EN 13757-3 defines no quantity for their VIF: {index: VIB}. libmbus
# reads nothing from them either; the frame's other records are read.
SKIPPED = {"sen_pollutherm": {2: (0x7B,)}}  # 0xFB without the extension bit: no VIFE, no code
FLOW_SIDE = {"itron_cf_55", "svm_f22_telegram1"}
FAULTY = {"svm_f22_telegram1"}  # 243 °C flow and return: a sensor fault
# Readings per frame beyond the current one: billing-date values (stored blocks with a date).
STORED_READINGS = {
    "kamstrup_multical_601": 1,
    "EFE_Engelmann-Elster-SensoStar-2": 1,
    "ELS_Elster-F96-Plus": 1,
    "engelmann_sensostar2c": 2,
    "abb_f95": 2,
    "oms_frame3": 1,
    "tch_telegramm1": 1,
    "metrona_ultraheat_xs": 1,
    "minol_minocal_wr3": 1,
    "ZRM_Minol-Minocal-C2": 9,
    "minol_minocal_c2": 9,
}


def decoded(name: str) -> DecodedFrame:
    return decode_frame(check_long_frame(bytes_from_hex((VECTORS / f"{name}.hex").read_text())))


def reference(name: str) -> ElementTree.Element:
    return ElementTree.parse(VECTORS / f"{name}.norm.xml").getroot()


def require_vectors() -> None:
    if not VECTORS.is_dir():
        unavailable("the M-Bus test vectors", f"{VECTORS} does not exist (shared/ must lie beside the clone)")


def _text(element: ElementTree.Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()


def _unit(element: ElementTree.Element) -> str:
    # The reference files are Latin-1 documents whose degree sign was written as UTF-8.
    return _text(element, "Unit").replace("Â°", "°")


def _close(ours: Decimal, expected: Decimal, encoding: Encoding) -> bool:
    """Equal at the reference's resolution; a 32-bit real keeps about 7 significant digits, so it
    is compared at the coarser of 6 decimals and 7 significant digits (and one step of it)."""
    if encoding is not Encoding.REAL:
        return ours.quantize(REFERENCE_DECIMALS) == expected
    step = max(REFERENCE_DECIMALS, Decimal(1).scaleb(expected.adjusted() - 6) if expected else REFERENCE_DECIMALS)
    return abs(ours - expected) <= step


def _non_decimal_bcd(record: DataRecord) -> bool:
    return record.encoding is Encoding.BCD and record.invalid


def _vife_changes_meaning(record: DataRecord) -> bool:
    return len(record.vib) > 1 and record.vib[0] not in (0xFB, 0xFD) and record.vib[1] & 0x7F != 0x3B


def compare(name: str) -> list[str]:
    """Every difference between our records and the reference's, as text (empty: none)."""
    frame = decoded(name)
    root = reference(name)
    slave = root.find("SlaveInformation")
    assert slave is not None
    problems: list[str] = []
    header = frame.frame.header
    if int(header.identification) != int(_text(slave, "Id")) or header.manufacturer != _text(slave, "Manufacturer"):
        problems.append(f"header {header} vs {_text(slave, 'Id')} {_text(slave, 'Manufacturer')}")
    if header.version != int(_text(slave, "Version")) or header.access_number != int(_text(slave, "AccessNumber")):
        problems.append(f"version/access {header}")
    ours = {record.index: record for record in frame.records}
    unreadable = {record.index for record in (*frame.unreadable, *frame.skipped)}
    references = root.findall("DataRecord")
    assert len(references) == len(frame.records) + len(frame.unreadable) + len(frame.skipped), name
    for index, element in enumerate(references):
        if not _text(element, "Function"):  # the reference could not read it either
            if index not in unreadable:
                problems.append(f"#{index}: the reference reads nothing, we read {ours.get(index)}")
            continue
        record = ours.get(index)
        if record is None:
            problems.append(f"#{index}: unreadable for us, the reference reads {_text(element, 'Value')}")
            continue
        problems.extend(f"#{index}: {problem}" for problem in _compare_record(record, element))
    return problems


def _compare_record(record: DataRecord, element: ElementTree.Element) -> list[str]:
    problems = []
    if record.function is not FUNCTIONS[_text(element, "Function")]:
        problems.append(f"function {record.function} vs {_text(element, 'Function')}")
    if record.function in (Function.MANUFACTURER_SPECIFIC, Function.MORE_RECORDS_FOLLOW):
        return problems
    attributes = (
        ("storage", record.storage_number, "StorageNumber"),
        ("tariff", record.tariff, "Tariff"),
        ("subunit", record.subunit, "Device"),
    )
    for label, value, tag in attributes:
        if value != int(_text(element, tag) or 0):
            problems.append(f"{label} {value} vs {_text(element, tag)}")
    quantity_name, unit, value = _text(element, "Quantity"), _unit(element), _text(element, "Value")
    if (quantity_name, unit) in QUANTITIES:
        quantity, factor = QUANTITIES[(quantity_name, unit)]
        if record.quantity is None and _vife_changes_meaning(record):
            return problems  # allowed: a VIFE (cooling register, per-pulse value, …) changes the meaning
        if record.quantity is not quantity:
            return [*problems, f"quantity {record.quantity} vs {quantity_name}"]
        if record.value is None and _non_decimal_bcd(record):
            return problems  # allowed: BCD with hex digits A–E is an error code, not a number
        if not isinstance(record.value, Decimal) or not _close(record.value / factor, Decimal(value), record.encoding):
            problems.append(f"{quantity_name} {record.value} {record.unit} vs {value} {unit}")
    elif quantity_name in WHOLE_NUMBERS:
        if record.quantity is not WHOLE_NUMBERS[quantity_name] or record.value != int(Decimal(value)):
            problems.append(f"{quantity_name} {record.value} vs {value}")
    elif quantity_name in TIME_POINTS:
        problems.extend(_compare_time(record, TIME_POINTS[quantity_name], value))
    elif record.quantity is not None:
        problems.append(f"we read {record.quantity} where the reference reads {quantity_name}")
    return problems


def _compare_time(record: DataRecord, quantity: Quantity, value: str) -> list[str]:
    if record.quantity is None and _vife_changes_meaning(record):
        return []
    if record.quantity is not quantity:
        return [f"quantity {record.quantity} vs {quantity}"]
    if quantity is Quantity.DATE:
        expected: object = date.fromisoformat(value)
    else:
        expected = datetime.fromisoformat(value.removesuffix("Z"))
    return [] if record.value == expected else [f"{quantity} {record.value} vs {value}"]


@pytest.mark.parametrize("name", NAMES or ["(no vectors)"])
def test_each_vector_decodes_to_the_reference_values(name: str) -> None:
    require_vectors()
    assert compare(name) == []


@pytest.mark.parametrize("name", NAMES or ["(no vectors)"])
def test_each_vector_becomes_a_reading_or_a_named_rejection(name: str) -> None:
    require_vectors()
    if name in NOT_USED:
        with pytest.raises(FrameRejected) as rejection:
            readings_of(decoded(name), RECEIVED_AT)
        assert rejection.value.reason == NOT_USED[name]
        return
    readings = readings_of(decoded(name), RECEIVED_AT)
    assert readings.side is (FlowSensorSide.FLOW if name in FLOW_SIDE else FlowSensorSide.RETURN)
    current = readings.readings[0]
    assert current.storage_number == 0
    assert current.values.faulty is (name in FAULTY)
    assert len(readings.readings) == 1 + STORED_READINGS.get(name, 0)
    assert all(stored.storage_number > 0 and not stored.values.faulty for stored in readings.readings[1:])
    assert readings.meter_serial == f"{int(reference(name).findtext('SlaveInformation/Id') or 0):08d}"


# The values a heat ledger bills on, with the decimals the ledger keeps and how it gets there:
# registers cut (never rounded up past what was counted), temperatures rounded half to even.
HEAT_VALUES = {
    Quantity.ENERGY: ("energy_gj", 9, ROUND_DOWN),
    Quantity.VOLUME: ("volume_m3", 9, ROUND_DOWN),
    Quantity.FLOW_TEMPERATURE: ("flow_temperature_c", 3, ROUND_HALF_EVEN),
    Quantity.RETURN_TEMPERATURE: ("return_temperature_c", 3, ROUND_HALF_EVEN),
}


def reference_heat_values(name: str) -> dict[Quantity, tuple[Decimal, Encoding]]:
    """The reference's current energy, volume and temperatures, in the ledger's units: of each
    quantity the first instantaneous value of storage 0, tariff 0 and subunit 0 whose meaning no
    VIFE changes (what the ledger reads), with our record's encoding."""
    ours = {record.index: record for record in decoded(name).records}
    values: dict[Quantity, tuple[Decimal, Encoding]] = {}
    for index, element in enumerate(reference(name).findall("DataRecord")):
        key = (_text(element, "Quantity"), _unit(element))
        if key not in QUANTITIES or _text(element, "Function") != "Instantaneous value":
            continue
        if any(int(_text(element, tag) or 0) for tag in ("StorageNumber", "Tariff", "Device")):
            continue
        quantity, factor = QUANTITIES[key]
        record = ours.get(index)
        if quantity not in HEAT_VALUES or quantity in values or record is None or _vife_changes_meaning(record):
            continue
        values[quantity] = (Decimal(_text(element, "Value")) * factor, record.encoding)
    return values


def _as_the_ledger_keeps(value: Decimal, quantity: Quantity) -> Decimal:
    _, decimals, rounding = HEAT_VALUES[quantity]
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def _agrees(ours: object, expected: Decimal, encoding: Encoding, quantity: Quantity) -> bool:
    """Exactly what the ledger keeps of the reference's value; for a 32-bit real, within its 7
    significant digits (or the ledger's resolution, if coarser)."""
    if not isinstance(ours, Decimal):
        return False
    if encoding is not Encoding.REAL:
        return ours == _as_the_ledger_keeps(expected, quantity)
    resolution = Decimal(1).scaleb(-HEAT_VALUES[quantity][1])
    return abs(ours - expected) <= max(resolution, Decimal(1).scaleb(expected.adjusted() - 6))


HEAT_VECTORS = [name for name in NAMES if Quantity.ENERGY in reference_heat_values(name)] if NAMES else []


@pytest.mark.parametrize("name", HEAT_VECTORS or ["(no vectors)"])
def test_each_vector_with_reference_heat_values_gives_them_to_the_ledger(name: str) -> None:
    """A frame whose reference reads a current energy (and volume, temperatures) becomes a reading
    with those values; only a frame that is no heat meter's (medium 0D) is refused, for that."""
    require_vectors()
    expected = reference_heat_values(name)
    frame = decoded(name)
    if frame.frame.header.medium not in MEDIUM_SIDES:
        with pytest.raises(FrameRejected) as rejection:
            readings_of(frame, RECEIVED_AT)
        assert rejection.value.reason == "unknown_medium"
        return
    values = readings_of(frame, RECEIVED_AT).readings[0].values
    disagreements = {
        quantity: (getattr(values, HEAT_VALUES[quantity][0]), value)
        for quantity, (value, encoding) in expected.items()
        if not _agrees(getattr(values, HEAT_VALUES[quantity][0]), value, encoding, quantity)
    }
    assert disagreements == {}


@pytest.mark.parametrize("name", NAMES or ["(no vectors)"])
def test_only_records_the_standard_does_not_define_are_skipped(name: str) -> None:
    require_vectors()
    frame = decoded(name)
    assert {record.index: record.vib for record in frame.skipped} == SKIPPED.get(name, {})
    assert frame.unreadable == ()


def test_the_sensus_pollutherm_frame_gives_the_reference_reading() -> None:
    """The frame once refused whole for its record 2 (VIF 7B): 864 × 10⁴ Wh = 31.104 GJ,
    7998.92 m³, 75.5 and 59.4 °C, 5458 × 10 W = 54.58 kW; no date-time, so timed on receipt."""
    require_vectors()
    readings = readings_of(decoded("sen_pollutherm"), RECEIVED_AT)
    (current,) = readings.readings
    assert (readings.meter_serial, readings.manufacturer, readings.side) == ("21050076", "SPX", FlowSensorSide.RETURN)
    assert (current.values.energy_gj, current.values.volume_m3) == (Decimal("31.104"), Decimal("7998.92"))
    assert (current.values.flow_temperature_c, current.values.return_temperature_c) == (
        Decimal("75.5"),
        Decimal("59.4"),
    )
    assert current.values.power_kw == Decimal("54.58")
    assert (current.values.measured_at, current.values.faulty) == (RECEIVED_AT, False)
    (skipped,) = readings.skipped
    assert (skipped.index, skipped.vib) == (2, (0x7B,))


def test_heat_vectors_are_found() -> None:
    """All but amt_calec_mb (power, flow and temperatures only) read a current energy."""
    require_vectors()
    assert len(HEAT_VECTORS) == len(NAMES) - 1
    assert "sen_pollutherm" in HEAT_VECTORS


def test_the_vectors_are_all_there() -> None:
    require_vectors()
    assert len(NAMES) == 31
    assert all((VECTORS / f"{name}.norm.xml").exists() for name in NAMES)


def test_the_kamstrup_frame_gives_exact_values() -> None:
    """pymeterbus reads 46.160000000000004 °C; the ledger gets 46.16 and 134.4636 GJ (37,351 kWh)."""
    require_vectors()
    readings = readings_of(decoded("kamstrup_multical_601"), RECEIVED_AT)
    current, billing = readings.readings
    assert readings.meter_serial == "06855817"
    assert current.values.energy_gj == Decimal("134.4636")
    assert current.values.volume_m3 == Decimal("561.08")
    assert (current.values.flow_temperature_c, current.values.return_temperature_c) == (
        Decimal("101.69"),
        Decimal("46.16"),
    )
    assert current.values.power_kw == Decimal("34.7")
    assert current.values.flow_rate_m3_h == Decimal("0.543")
    assert current.values.operating_hours == Decimal(985)
    assert current.values.measured_at == datetime(2011, 1, 5, 7, 26, tzinfo=UTC)  # 15:26 in Asia/Shanghai
    assert billing.storage_number == 1
    assert billing.values.measured_at == datetime(2010, 12, 30, 16, 0, tzinfo=UTC)  # local midnight, 31 Dec
    assert billing.values.energy_gj == Decimal("120.0996")


def test_the_sensor_fault_frame_is_faulty_and_keeps_its_values() -> None:
    require_vectors()
    readings = readings_of(decoded("svm_f22_telegram1"), RECEIVED_AT)
    (current,) = readings.readings
    assert current.values.faulty
    assert current.values.flow_temperature_c == current.values.return_temperature_c == Decimal(243)
    assert current.values.energy_gj == Decimal("100.8504")
    assert len(current.faults) == 2
