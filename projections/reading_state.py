"""The stored shape of a ``Meter.ReadingRecorded`` event, as msgspec structs: one place for what
both msgspec decoders of readings read (``projections/reading_events.py``, the catch-up's, and
``infrastructure/reading_decoding.py``, the bill replay's), the class versions they decode and the
checks that keep the shape in step with the event and ``MeteredInterval``.

A stored state is the mapper's plain JSON: each datetime, decimal, UUID and interval a transcoded
value, an object of exactly "_type_" and "_data_" (the transcoder keeps any other object as it is).
Unknown fields in a transcoded value or an interval are refused, so such a state fails msgspec's
check and goes through the mapper, which decodes it or says why not. Datetimes are parsed by
msgspec itself (in C, half the cost of ``datetime.fromisoformat`` on the text, and the same values,
which ``decodes_as_registered`` checks on samples before a decoder relies on it); decimals are kept
as their text for ``Decimal``, as the transcoder does (msgspec would also take a JSON number); UUIDs
as their text for the transcoder's decoding, which parses each text once (``uuid_decoder``). No
struct here is tracked by the cyclic collector (they hold no cycles): a sixth cheaper to decode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.utils import get_topic

from application.transcodings import LedgerTranscoder
from domain.meter import Meter
from domain.readings import MeteredInterval

READING_TOPIC = get_topic(Meter.ReadingRecorded)
# Stored class versions decoded, by the class's current version: version 2 added
# ``limit_breaches`` (upcast_v1_v2 sets it to "", the default the catch-up's state gives it;
# billing does not read it). A new class version turns both fast paths off (the mapper decodes
# every reading) until its upcaster is read and the version added here.
DECODED_CLASS_VERSIONS = {2: frozenset({1, 2})}
TRANSCODED = {"kind": "_type_", "data": "_data_"}
T = TypeVar("T")


class Time(msgspec.Struct, rename=TRANSCODED, forbid_unknown_fields=True, gc=False):
    kind: Literal["datetime_iso"]
    data: datetime


class Amount(msgspec.Struct, rename=TRANSCODED, forbid_unknown_fields=True, gc=False):
    kind: Literal["decimal_str"]
    data: str  # Decimal(text), as the transcoder


class Id(msgspec.Struct, rename=TRANSCODED, forbid_unknown_fields=True, gc=False):
    kind: Literal["uuid_hex"]
    data: str  # by the transcoder's registered decoding, which parses a text once (see ``uuid_decoder``)


class IntervalFields(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """``MeteredInterval``'s fields with its defaults (checked below; a field it lacks is refused)."""

    start: Time
    end: Time
    energy_gj: Amount
    volume_m3: Amount | None
    household_id: Id | None
    expected_energy_gj: Amount | None = None
    deviation_percent: Amount | None = None
    permissible_error_percent: Amount | None = None
    quality: str = "measured"
    limit_breaches: str = ""

    def made_by(self, make: Callable[..., T], decode_id: Callable[[str], UUID]) -> T:
        """``make`` of the fields, each decoded, in ``MeteredInterval``'s order (one not stored at
        the dataclass's default): what ``MeteredInterval(**fields)`` holds, ``decode_id`` being
        the transcoder's decoding of a UUID."""
        household = self.household_id
        return make(
            self.start.data,
            self.end.data,
            Decimal(self.energy_gj.data),
            amount(self.volume_m3),
            None if household is None else decode_id(household.data),
            amount(self.expected_energy_gj),
            amount(self.deviation_percent),
            amount(self.permissible_error_percent),
            self.quality,
            self.limit_breaches,
        )


class Interval(msgspec.Struct, rename=TRANSCODED, forbid_unknown_fields=True, gc=False):
    kind: Literal["dc_MeteredInterval"]
    data: IntervalFields


assert IntervalFields.__struct_fields__ == tuple(field.name for field in fields(MeteredInterval)), "its fields"
assert IntervalFields.__struct_defaults__ == tuple(
    field.default for field in fields(MeteredInterval) if field.default is not MISSING
), "its defaults"


def amount(found: Amount | None) -> Decimal | None:
    """The decimal of an optional transcoded amount."""
    return None if found is None else Decimal(found.data)


def uuid_decoder(mapper: Any) -> Callable[[str], UUID]:
    """The registered decoding of a stored UUID's text (for a mapper ``fast_versions`` allows):
    it parses each text once, and a season's readings repeat their few household and batch ids,
    so this costs half what msgspec's parsing of each costs, and makes no new object each time."""
    decoder: Callable[[str], UUID] | None = mapper.transcoder.value_decoder("uuid_hex")
    assert decoder is not None, "checked by fast_versions"
    return decoder


def fast_versions(mapper: Any) -> frozenset[int]:
    """The stored class versions a decoder of these structs may decode for ``mapper``: none unless
    its states are plain JSON (no cipher, no compression) by the ledger's transcoder, decoding as
    these structs do."""
    plain = (
        getattr(mapper, "cipher", None) is None
        and getattr(mapper, "compressor", None) is None
        and isinstance(getattr(mapper, "transcoder", None), LedgerTranscoder)
    )
    if not plain or not decodes_as_registered(mapper.transcoder):
        return frozenset()
    return DECODED_CLASS_VERSIONS.get(Meter.ReadingRecorded.class_version, frozenset())


def decodes_as_registered(transcoder: LedgerTranscoder) -> bool:
    """Whether the transcoder's registered decodings give what these structs give, on samples
    (the same type, value and repr), and make an interval as ``MeteredInterval(**fields)``."""
    samples: list[tuple[str, Any, Any]] = [
        ("datetime_iso", "2025-11-01T16:00:00+00:00", datetime(2025, 11, 1, 16, tzinfo=UTC)),
        ("datetime_iso", "2026-12-05T10:34:24.092457+00:00", datetime(2026, 12, 5, 10, 34, 24, 92457, tzinfo=UTC)),
        ("decimal_str", "302.6240", Decimal("302.6240")),
        ("uuid_hex", "6b5dd7d4831646208f3d896bdf72eefb", UUID("6b5dd7d4831646208f3d896bdf72eefb")),
    ]
    for name, text, expected in samples:
        decoder = transcoder.value_decoder(name)
        if decoder is None:
            return False
        made = decoder(text)
        if not _same(made, expected) or (name in _PARSED and not _same(_parsed(name, text), expected)):
            return False
    interval_decoder = transcoder.value_decoder("dc_MeteredInterval")
    sample = {"start": samples[0][2], "end": samples[1][2], "energy_gj": Decimal("0.0075"), "volume_m3": None}
    sample |= {"household_id": UUID(int=1), "quality": "estimated"}
    if interval_decoder is None:
        return False
    made = interval_decoder(dict(sample))
    return type(made) is MeteredInterval and made == MeteredInterval(**sample)


_PARSED: dict[str, type[Time | Amount]] = {"datetime_iso": Time, "decimal_str": Amount}


def _parsed(name: str, text: str) -> Any:
    """What a decoder of these structs makes of the transcoded value ``name`` of ``text``."""
    found = msgspec.json.decode(msgspec.json.encode({"_type_": name, "_data_": text}), type=_PARSED[name])
    return Decimal(found.data) if isinstance(found, Amount) else found.data


def _same(made: Any, expected: Any) -> bool:
    """The same type, value and repr (the same digits and the same zone)."""
    return type(made) is type(expected) and made == expected and repr(made) == repr(expected)
