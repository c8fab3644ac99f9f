"""The adapter over ``pymeterbus``: a checked long frame → data records in the ledger's units.

``pymeterbus`` (``import meterbus``) splits the user data into records (DIF/DIFE, VIF/VIFE and
data field), reads storage number, tariff, subunit and function, and decodes integer and BCD data
fields. Its ``value`` multiplies by the unit's power of ten in binary floating point
(``46.160000000000004``) and its unit table has gaps, so this adapter:

- takes the data field's integer or BCD number from ``pymeterbus`` and scales it by the VIF's
  power of ten in ``Decimal``: the value at the unit's own resolution, which is what
  ``Decimal(repr(value))`` quantised to the VIF's exponent gives wherever the float is exact,
  and stays exact beyond 15 digits;
- reads 32-bit real data fields itself as the shortest decimal that reads back as the same
  float32 (``21.536703``, not ``21.53670310974121``; ``infrastructure/float32.py``);
- interprets the VIF itself for the quantities a heat ledger reads, with exact unit factors
  (1 Wh = 0.0000036 GJ, 1 J = 10⁻⁹ GJ, MWh and GJ through the 0xFB extension, W and J/h to kW,
  m³/min and m³/s to m³/h, seconds … days to hours);
- decodes date records (types G, F and I) itself, honouring the "invalid" and "summer time"
  bits that ``pymeterbus`` ignores, and reads type I (6 bytes) that it misreads as type F;
- skips, with the reason, a record whose VIF EN 13757-3 gives no meaning (0x7B or 0x7D sent
  without the extension bit: a pointer to an extension table with no code in it, on which
  ``pymeterbus`` raises ``KeyError``), so that the frame's other records still count;
- turns every exception ``pymeterbus`` raises (a cut record ``IndexError``, …) into a per-frame
  rejection or an unreadable record, never a crash.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, localcontext
from enum import StrEnum

import meterbus
from meterbus.telegram_variable_data_record import TelegramVariableDataRecord

from infrastructure.float32 import float32_decimal
from infrastructure.mbus.frame import FrameRejected, LongFrame


class Quantity(StrEnum):
    """What a record measures, for the quantities a heat ledger reads. Units are the ledger's."""

    ENERGY = "energy"  # GJ
    VOLUME = "volume"  # m³
    POWER = "power"  # kW
    VOLUME_FLOW = "volume_flow"  # m³/h
    FLOW_TEMPERATURE = "flow_temperature"  # °C
    RETURN_TEMPERATURE = "return_temperature"  # °C
    TEMPERATURE_DIFFERENCE = "temperature_difference"  # K
    EXTERNAL_TEMPERATURE = "external_temperature"  # °C
    OPERATING_TIME = "operating_time"  # h
    ON_TIME = "on_time"  # h
    DATE = "date"  # a calendar date (type G)
    DATE_TIME = "date_time"  # the meter's wall-clock time (types F and I)
    ERROR_FLAGS = "error_flags"  # the meter's error bits (0xFD 0x17)
    FABRICATION_NUMBER = "fabrication_number"


UNITS = {
    Quantity.ENERGY: "GJ",
    Quantity.VOLUME: "m3",
    Quantity.POWER: "kW",
    Quantity.VOLUME_FLOW: "m3/h",
    Quantity.FLOW_TEMPERATURE: "C",
    Quantity.RETURN_TEMPERATURE: "C",
    Quantity.TEMPERATURE_DIFFERENCE: "K",
    Quantity.EXTERNAL_TEMPERATURE: "C",
    Quantity.OPERATING_TIME: "h",
    Quantity.ON_TIME: "h",
}


class Function(StrEnum):
    """The function field of a DIF: which value of the quantity a record holds."""

    INSTANTANEOUS = "instantaneous"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    ERROR_STATE = "error_state"
    MANUFACTURER_SPECIFIC = "manufacturer_specific"
    MORE_RECORDS_FOLLOW = "more_records_follow"


class Encoding(StrEnum):
    """How a record's data field is written."""

    NONE = "none"
    INTEGER = "integer"
    BCD = "bcd"
    REAL = "real"
    VARIABLE = "variable"


_FUNCTIONS = {
    meterbus.FunctionType.INSTANTANEOUS_VALUE: Function.INSTANTANEOUS,
    meterbus.FunctionType.MAXIMUM_VALUE: Function.MAXIMUM,
    meterbus.FunctionType.MINIMUM_VALUE: Function.MINIMUM,
    meterbus.FunctionType.ERROR_STATE_VALUE: Function.ERROR_STATE,
    meterbus.FunctionType.SPECIAL_FUNCTION: Function.MANUFACTURER_SPECIFIC,
    meterbus.FunctionType.MORE_RECORDS_FOLLOW: Function.MORE_RECORDS_FOLLOW,
}
_ENCODINGS = {
    meterbus.DataEncoding.ENCODING_NULL: Encoding.NONE,
    meterbus.DataEncoding.ENCODING_INTEGER: Encoding.INTEGER,
    meterbus.DataEncoding.ENCODING_BCD: Encoding.BCD,
    meterbus.DataEncoding.ENCODING_REAL: Encoding.REAL,
    meterbus.DataEncoding.ENCODING_VARIABLE_LENGTH: Encoding.VARIABLE,
}

# Exact unit factors to the ledger's units.
GJ_PER_WH = Decimal("0.0000036")
GJ_PER_J = Decimal("0.000000001")
GJ_PER_MWH = Decimal("3.6")
KW_PER_W = Decimal("0.001")
# Factors that are no finite decimal are a product and a divisor, divided last: 1 kW = 3.6 MJ/h.
J_H_PER_KW = 3_600_000
KW_PER_GJ_H, GJ_H_DIVISOR = Decimal(1_000_000), 3600
# On time and operating time in seconds, minutes, hours, days → hours: (factor, divisor).
HOURS = {0: (Decimal(1), 3600), 1: (Decimal(1), 60), 2: (Decimal(1), 1), 3: (Decimal(24), 1)}
# VIFE codes (EN 13757-3, combinable extensions) that keep a record's meaning.
VIFE_POSITIVE_ACCUMULATION = 0x3B
# VIFE codes 0x00-0x1F in a meter's answer are record error codes: the value is not valid.
VIFE_ERROR_CODES = range(0x00, 0x20)
# 0xFD 0x17: error flags; 0xFB 0x00/0x01 MWh, 0x08/0x09 GJ, 0x10/0x11 volume, 0x28/0x29 MW, 0x30/0x31 GJ/h.
VIF_FIRST_EXTENSION = 0xFB
VIF_SECOND_EXTENSION = 0xFD
VIFE_ERROR_FLAGS = 0x17
EXTENSION_BIT = 0x80
# EN 13757-3 (primary VIF table): 1111 1011 and 1111 1101 select the first and second extension
# tables, whose code is the VIFE that follows. Sent without the extension bit (0x7B, 0x7D, as
# sen_pollutherm's record 2 does) no VIFE follows: the record has no quantity the standard defines.
EXTENSION_TABLES_WITHOUT_CODE = {
    VIF_FIRST_EXTENSION & ~EXTENSION_BIT: "first",
    VIF_SECOND_EXTENSION & ~EXTENSION_BIT: "second",
}


@dataclass(frozen=True)
class Meaning:
    """A VIF read: the quantity, the power of ten of one unit step, and the factor (divided by
    ``divisor``) from that unit to the ledger's."""

    quantity: Quantity | None
    exponent: int = 0
    factor: Decimal = Decimal(1)
    divisor: int = 1
    invalid: bool = False


NO_MEANING = Meaning(None)


@dataclass(frozen=True)
class DataRecord:
    """One data record of a frame, in the ledger's units.

    ``quantity`` is None for records a heat ledger does not read (fabrication data, manufacturer
    data, quantities changed by a VIFE such as a cooling register). ``value`` is a ``Decimal``
    in the unit of ``UNITS[quantity]``, a ``date`` (type G), a naive ``datetime`` on the meter's
    clock (types F and I), an ``int`` (error flags, fabrication number), or None when the record
    has no value or the meter marked it invalid (``invalid``).
    """

    index: int
    function: Function
    storage_number: int
    tariff: int
    subunit: int
    vib: tuple[int, ...]
    encoding: Encoding
    quantity: Quantity | None
    value: Decimal | date | datetime | int | None
    invalid: bool = False
    summer_time: bool = False

    @property
    def unit(self) -> str:
        return UNITS.get(self.quantity, "") if self.quantity else ""


@dataclass(frozen=True)
class UnreadableRecord:
    """A record ``pymeterbus`` could not interpret, with its error."""

    index: int
    vib: tuple[int, ...]
    error: str


@dataclass(frozen=True)
class SkippedRecord:
    """A whole, well-formed record whose VIF the standard gives no meaning: left out of
    ``records`` with the reason, so that it costs the frame nothing else."""

    index: int
    vib: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class DecodedFrame:
    """A frame's header, its records, those skipped as undefined and those that could not be read."""

    frame: LongFrame
    records: tuple[DataRecord, ...]
    unreadable: tuple[UnreadableRecord, ...]
    skipped: tuple[SkippedRecord, ...] = ()

    @property
    def more_records_follow(self) -> bool:
        return any(record.function is Function.MORE_RECORDS_FOLLOW for record in self.records)


def decode_frame(frame: LongFrame) -> DecodedFrame:
    """Decode a checked frame's records with ``pymeterbus``; FrameRejected("undecodable") when
    the record structure cannot be parsed at all."""
    try:
        telegram = meterbus.TelegramLong(list(frame.raw))
        records = list(telegram.records)
    except Exception as error:  # pymeterbus raises many kinds on malformed data: all mean "cannot decode"
        raise FrameRejected(
            "undecodable",
            f"the data records cannot be decoded ({_describe(error)})",
            header=frame.header,
            error=_describe(error),
        ) from None
    decoded: list[DataRecord] = []
    unreadable: list[UnreadableRecord] = []
    skipped: list[SkippedRecord] = []
    for index, record in enumerate(records):
        vib = tuple(record.vib.parts)
        try:
            undefined = undefined_vif(vib)
            if undefined is None:
                decoded.append(_decode_record(index, record))
            else:
                _check_data_field(record)  # a cut record is damage, whatever its VIF
                skipped.append(SkippedRecord(index, vib, undefined))
        except Exception as error:  # pymeterbus: KeyError for a VIF it cannot name, IndexError, …
            unreadable.append(UnreadableRecord(index, vib, _describe(error)))
    return DecodedFrame(frame, tuple(decoded), tuple(unreadable), tuple(skipped))


def undefined_vif(vib: Sequence[int]) -> str | None:
    """Why EN 13757-3 gives a record with this VIB no meaning, or None when it defines one.

    Only a VIF the standard leaves without a code is undefined here: a defined VIF the ledger
    does not read (mass, a reserved code of an extension table, manufacturer data) is a record
    with no quantity, not an undefined one.
    """
    if not vib or vib[0] not in EXTENSION_TABLES_WITHOUT_CODE:
        return None
    table = EXTENSION_TABLES_WITHOUT_CODE[vib[0]]
    marker = vib[0] | EXTENSION_BIT
    return (
        f"VIF {vib[0]:02X} selects the {table} extension table ({marker:02X}) without the extension bit, "
        "so no VIFE gives its code: EN 13757-3 defines no quantity for it"
    )


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError) and error.args and isinstance(error.args[0], int):
        return f"unknown VIF code 0x{error.args[0]:02X}"
    text = str(error) or getattr(error, "msg", "")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _decode_record(index: int, record: TelegramVariableDataRecord) -> DataRecord:
    record.unit  # noqa: B018 - pymeterbus' reading of the VIF: raises KeyError for a VIF it does not know
    function = _FUNCTIONS[record.dib.function_type]
    storage_number, tariff, subunit = record.dib.parse_dife()  # pymeterbus: DIF and DIFEs
    vib = tuple(record.vib.parts)
    base = (index, function, storage_number, tariff or 0, subunit or 0, vib)
    if function in (Function.MANUFACTURER_SPECIFIC, Function.MORE_RECORDS_FOLLOW):
        return DataRecord(*base, Encoding.NONE, None, None)
    encoding = _check_data_field(record)
    data = list(record.dataField.parts)
    meaning = meaning_of(vib)
    if meaning.quantity is None or encoding in (Encoding.NONE, Encoding.VARIABLE):
        return DataRecord(*base, encoding, meaning.quantity, None)
    if meaning.invalid:
        return DataRecord(*base, encoding, meaning.quantity, None, invalid=True)
    if meaning.quantity is Quantity.DATE:
        return DataRecord(*base, encoding, *_date(data))
    if meaning.quantity is Quantity.DATE_TIME:
        return DataRecord(*base, encoding, *_date_time(data))
    number = _number(record, encoding, data)
    if number is None:
        return DataRecord(*base, encoding, meaning.quantity, None, invalid=True)
    if meaning.quantity in (Quantity.ERROR_FLAGS, Quantity.FABRICATION_NUMBER):
        if encoding is Encoding.INTEGER:
            whole: int | None = int.from_bytes(bytes(data), "little")
        else:
            whole = int(number) if number == number.to_integral_value() else None
        return DataRecord(*base, encoding, meaning.quantity, whole)
    with localcontext() as context:
        context.prec = 40
        value = number.scaleb(meaning.exponent) * meaning.factor / meaning.divisor
    return DataRecord(*base, encoding, meaning.quantity, value)


def _check_data_field(record: TelegramVariableDataRecord) -> Encoding:
    """The data field's encoding; ValueError when the frame ended before the field did."""
    length, pymeterbus_encoding = record.dib.length_encoding
    encoding = _ENCODINGS[pymeterbus_encoding]
    received = len(record.dataField.parts)
    if encoding is not Encoding.VARIABLE and received != length:
        raise ValueError(f"the data field has {received} of its {length} bytes")
    return encoding


def _number(record: TelegramVariableDataRecord, encoding: Encoding, data: Sequence[int]) -> Decimal | None:
    """The data field's number, exactly; None when BCD digits hold an error code (A–E)."""
    if encoding is Encoding.INTEGER:
        return Decimal(int(record.dataField.decodeInt))  # pymeterbus: signed, least significant byte first
    if encoding is Encoding.BCD:
        if not _valid_bcd(data):
            return None
        return Decimal(int(record.dataField.decodeBCD))  # pymeterbus: F in the top digit is a minus sign
    if encoding is Encoding.REAL:
        (real,) = struct.unpack("<f", bytes(data))
        return float32_decimal(real) if math.isfinite(real) else None  # NaN, ±∞: not a value
    return None


def _valid_bcd(data: Sequence[int]) -> bool:
    if not data:
        return False
    for position, byte in enumerate(data):
        high, low = byte >> 4, byte & 0x0F
        if low > 9:
            return False
        if high > 9 and not (position == len(data) - 1 and high == 0xF):
            return False
    return True


def meaning_of(vib: Sequence[int]) -> Meaning:
    """The quantity, unit step and factor of a VIF (with its VIFEs), for the quantities read here."""
    if not vib:
        return NO_MEANING
    vif = vib[0]
    if vif == VIF_FIRST_EXTENSION:
        if len(vib) < 2:
            return NO_MEANING
        return _combined(_first_extension(vib[1] & 0x7F), vib[2:])
    if vif == VIF_SECOND_EXTENSION:
        if len(vib) < 2:
            return NO_MEANING
        code = vib[1] & 0x7F
        meaning = Meaning(Quantity.ERROR_FLAGS) if code == VIFE_ERROR_FLAGS else NO_MEANING
        return _combined(meaning, vib[2:])
    return _combined(_primary(vif & 0x7F), vib[1:])


def _combined(meaning: Meaning, extensions: Sequence[int]) -> Meaning:
    """The meaning of a VIF after its combinable VIFEs: an error code makes the value invalid,
    positive accumulation keeps the meaning, any other extension changes it (a cooling register,
    a rate per hour, a correction factor, manufacturer data): not read."""
    invalid = False
    for extension in extensions:
        code = extension & 0x7F
        if code in VIFE_ERROR_CODES:
            invalid = True
        elif code != VIFE_POSITIVE_ACCUMULATION:
            return NO_MEANING
    if invalid and meaning.quantity is not None:
        return Meaning(meaning.quantity, meaning.exponent, meaning.factor, meaning.divisor, invalid=True)
    return meaning


def _primary(code: int) -> Meaning:
    n = code & 0x07
    group = code & 0x78
    if group == 0x00:
        return Meaning(Quantity.ENERGY, n - 3, GJ_PER_WH)
    if group == 0x08:
        return Meaning(Quantity.ENERGY, n, GJ_PER_J)
    if group == 0x10:
        return Meaning(Quantity.VOLUME, n - 6)
    if group == 0x20:
        quantity = Quantity.ON_TIME if code < 0x24 else Quantity.OPERATING_TIME
        factor, divisor = HOURS[code & 0x03]
        return Meaning(quantity, 0, factor, divisor)
    if group == 0x28:
        return Meaning(Quantity.POWER, n - 3, KW_PER_W)
    if group == 0x30:
        return Meaning(Quantity.POWER, n, divisor=J_H_PER_KW)
    if group == 0x38:
        return Meaning(Quantity.VOLUME_FLOW, n - 6)
    if group == 0x40:
        return Meaning(Quantity.VOLUME_FLOW, n - 7, Decimal(60))
    if group == 0x48:
        return Meaning(Quantity.VOLUME_FLOW, n - 9, Decimal(3600))
    two = code & 0x03
    fours = {
        0x58: Quantity.FLOW_TEMPERATURE,
        0x5C: Quantity.RETURN_TEMPERATURE,
        0x60: Quantity.TEMPERATURE_DIFFERENCE,
        0x64: Quantity.EXTERNAL_TEMPERATURE,
    }
    if code & 0x7C in fours:
        return Meaning(fours[code & 0x7C], two - 3)
    if code == 0x6C:
        return Meaning(Quantity.DATE)
    if code == 0x6D:
        return Meaning(Quantity.DATE_TIME)
    if code == 0x78:
        return Meaning(Quantity.FABRICATION_NUMBER)
    return NO_MEANING


def _first_extension(code: int) -> Meaning:
    n = code & 0x01
    if code in (0x00, 0x01):
        return Meaning(Quantity.ENERGY, n - 1, GJ_PER_MWH)
    if code in (0x08, 0x09):
        return Meaning(Quantity.ENERGY, n - 1)
    if code in (0x10, 0x11):
        return Meaning(Quantity.VOLUME, n + 2)
    if code in (0x28, 0x29):
        return Meaning(Quantity.POWER, n - 1, Decimal(1000))
    if code in (0x30, 0x31):
        return Meaning(Quantity.POWER, n - 1, KW_PER_GJ_H, GJ_H_DIVISOR)
    return NO_MEANING


# -- dates ----------------------------------------------------------------------------------------


def _year(low_byte: int, high_byte: int, hundreds: int = 0) -> int:
    """The year of a type F, G or I date: 7 bits split over two bytes, with the century bits of
    EN 13757-3:2013 when set and the compatible reading (00–80 → 20xx, 81–99 → 19xx) otherwise."""
    year = ((low_byte & 0xE0) >> 5) | ((high_byte & 0xF0) >> 1)
    if hundreds:
        return 1900 + 100 * hundreds + year
    return 2000 + year if year <= 80 else 1900 + year


def _date(data: Sequence[int]) -> tuple[Quantity | None, date | None, bool]:
    """Type G: the quantity, the date, and whether it is invalid (an impossible date)."""
    if len(data) != 2:
        return None, None, False
    try:
        return Quantity.DATE, date(_year(data[0], data[1]), data[1] & 0x0F, data[0] & 0x1F), False
    except ValueError:
        return Quantity.DATE, None, True


def _date_time(data: Sequence[int]) -> tuple[Quantity | None, datetime | None, bool, bool]:
    """Type F (4 bytes: minute, hour, day, month) or type I (6 bytes: second first): the quantity,
    the wall-clock time, whether it is invalid (IV bit, impossible time) and the summer-time bit."""
    if len(data) == 4:
        second, (minute, hour, day, month) = 0, data
        invalid, summer = bool(minute & 0x80), bool(hour & 0x80)
        hundreds = (hour >> 5) & 0x03
    elif len(data) == 6:
        second, minute, hour, day, month = data[0], data[1], data[2], data[3], data[4]
        invalid, summer, hundreds = bool(minute & 0x80), bool(second & 0x40), 0
        second &= 0x3F
    else:
        return None, None, False, False
    if invalid:
        return Quantity.DATE_TIME, None, True, summer
    try:
        moment = datetime(_year(day, month, hundreds), month & 0x0F, day & 0x1F, hour & 0x1F, minute & 0x3F, second)
    except ValueError:
        return Quantity.DATE_TIME, None, True, summer
    return Quantity.DATE_TIME, moment, False, summer
