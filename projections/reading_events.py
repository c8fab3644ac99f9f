"""Stored ``Meter.ReadingRecorded`` events decoded for the projection's catch-up with msgspec.

Readings are 95 % or more of a season's events, and decoding them through the library's mapper
was a fifth of a rebuild: the standard library's JSON parser calls the transcoder's object hook for
each of a reading's ten or so transcoded values, in Python. ``ReadingEventDecoder`` has msgspec
parse the stored JSON against the reading's exact shape instead (datetimes and UUIDs parsed by
msgspec itself, decimals by ``Decimal`` from their text, as the transcoder does) and builds the same
event the mapper builds: an object of the event's class whose ``__dict__`` holds the same values,
intervals as ``MeteredInterval``, the class version's upcasters applied. The projection's handlers
cannot tell the two apart (``tests/integration/test_reading_events.py`` compares them for every
reading of a varied store).

It does so only when the stored state is the mapper's plain JSON (no cipher, no compression) and
the transcoder is the ledger's, whose registered decodings of those value types it reproduces
(checked on samples when it is made). A state of any other shape (an unknown field, a value of
another type, a transcoded value with more keys, a datetime msgspec does not read) fails msgspec's
check and goes through the mapper, which decodes it or says why not. Events of other kinds always do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import msgspec
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from application.transcodings import LedgerTranscoder
from domain.meter import Meter
from domain.readings import MeteredInterval

READING_TOPIC = get_topic(Meter.ReadingRecorded)
# Stored class versions decoded here: the current one, and version 1 by its upcaster (which only
# adds ``limit_breaches``, defaulted below to the value it sets). A new class version turns the
# fast path off (``decodes`` is then empty) until its upcaster is read and the version added here.
DECODED_CLASS_VERSIONS = {2: frozenset({1, 2})}
_NAMES = {"kind": "_type_", "data": "_data_"}


# A transcoded value is an object of exactly "_type_" and "_data_" (the transcoder keeps any other
# object as it is): unknown fields are refused, so such a state goes through the mapper. No struct
# here is tracked by the cyclic collector (they hold no cycles): a sixth cheaper to decode.
class _Time(msgspec.Struct, rename=_NAMES, forbid_unknown_fields=True, gc=False):
    kind: Literal["datetime_iso"]
    data: datetime


class _Amount(msgspec.Struct, rename=_NAMES, forbid_unknown_fields=True, gc=False):
    kind: Literal["decimal_str"]
    data: str  # Decimal(text), as the transcoder: msgspec would also take a JSON number


class _Id(msgspec.Struct, rename=_NAMES, forbid_unknown_fields=True, gc=False):
    kind: Literal["uuid_hex"]
    data: UUID


class _IntervalFields(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """``MeteredInterval``'s fields with its defaults (checked below)."""

    start: _Time
    end: _Time
    energy_gj: _Amount
    volume_m3: _Amount | None
    household_id: _Id | None
    expected_energy_gj: _Amount | None = None
    deviation_percent: _Amount | None = None
    permissible_error_percent: _Amount | None = None
    quality: str = "measured"
    limit_breaches: str = ""


class _Interval(msgspec.Struct, rename=_NAMES, forbid_unknown_fields=True, gc=False):
    kind: Literal["dc_MeteredInterval"]
    data: _IntervalFields


class _ReadingState(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """Every field of a stored reading event's state (class version 1 lacks the last two)."""

    timestamp: _Time
    measured_at: _Time
    energy_gj: _Amount
    volume_m3: _Amount | None
    operating_hours: _Amount | None
    flow_temperature_c: _Amount | None
    return_temperature_c: _Amount | None
    flow_rate_m3_h: _Amount | None
    power_kw: _Amount | None
    error_flags: int
    source: str
    faulty: bool
    fingerprint: str
    energy_unwrapped_gj: _Amount
    volume_unwrapped_m3: _Amount | None
    intervals: list[_Interval]
    replaced_interval_start: _Time | None
    replaced_interval_end: _Time | None
    batch_id: _Id
    actor: str
    reason: str
    limit_breaches: str = ""  # what upcast_v1_v2 sets
    class_version: int = 1


_STATE = msgspec.json.Decoder(_ReadingState)
# The event's own fields and the state's must be the same names (a field added to the event
# without a class version would otherwise be left out here).
_STATE_FIELDS = {*_ReadingState.__struct_fields__, "originator_id", "originator_version"} - {"class_version"}
assert frozenset(field.name for field in fields(Meter.ReadingRecorded)) == _STATE_FIELDS, "the event's fields"
assert _IntervalFields.__struct_fields__ == tuple(field.name for field in fields(MeteredInterval)), "its fields"
assert _IntervalFields.__struct_defaults__ == tuple(
    field.default for field in fields(MeteredInterval) if field.default is not MISSING
), "its defaults"


class ReadingEventDecoder:
    """Decodes stored events like ``mapper.to_domain_event``, readings without it where it may."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        plain = (
            getattr(mapper, "cipher", None) is None
            and getattr(mapper, "compressor", None) is None
            and isinstance(getattr(mapper, "transcoder", None), LedgerTranscoder)
        )
        fast = plain and _decodes_as_registered(mapper.transcoder)
        versions = DECODED_CLASS_VERSIONS.get(Meter.ReadingRecorded.class_version, frozenset())
        self.decodes: frozenset[int] = versions if fast else frozenset()

    def decode_all(self, notifications: Sequence[Notification]) -> list[Any]:
        """The domain event of each notification, in order."""
        to_domain_event = self.mapper.to_domain_event
        if not self.decodes:
            return [to_domain_event(notification) for notification in notifications]
        fast = self.decode_reading
        return [
            (fast(notification) if notification.topic == READING_TOPIC else None) or to_domain_event(notification)
            for notification in notifications
        ]

    def decode_reading(self, notification: Notification) -> Meter.ReadingRecorded | None:
        """The reading event of ``notification`` (None: the mapper must decode it)."""
        if not self.decodes:
            return None
        try:
            state = _STATE.decode(notification.state)
        except msgspec.DecodeError:
            return None
        originator_id = notification.originator_id
        if state.class_version not in self.decodes or type(originator_id) is not UUID:
            return None
        replaced_start, replaced_end = state.replaced_interval_start, state.replaced_interval_end
        volume_unwrapped = state.volume_unwrapped_m3
        values = {
            "timestamp": state.timestamp.data,
            "measured_at": state.measured_at.data,
            "energy_gj": Decimal(state.energy_gj.data),
            "volume_m3": _amount(state.volume_m3),
            "operating_hours": _amount(state.operating_hours),
            "flow_temperature_c": _amount(state.flow_temperature_c),
            "return_temperature_c": _amount(state.return_temperature_c),
            "flow_rate_m3_h": _amount(state.flow_rate_m3_h),
            "power_kw": _amount(state.power_kw),
            "error_flags": state.error_flags,
            "source": state.source,
            "faulty": state.faulty,
            "fingerprint": state.fingerprint,
            "energy_unwrapped_gj": Decimal(state.energy_unwrapped_gj.data),
            "volume_unwrapped_m3": None if volume_unwrapped is None else Decimal(volume_unwrapped.data),
            "intervals": [_metered_interval(interval.data) for interval in state.intervals],
            "replaced_interval_start": None if replaced_start is None else replaced_start.data,
            "replaced_interval_end": None if replaced_end is None else replaced_end.data,
            "batch_id": state.batch_id.data,
            "actor": state.actor,
            "reason": state.reason,
            "limit_breaches": state.limit_breaches,
            "originator_id": originator_id,
            "originator_version": notification.originator_version,
        }
        event = object.__new__(Meter.ReadingRecorded)
        object.__setattr__(event, "__dict__", values)
        return event


def _amount(found: _Amount | None) -> Decimal | None:
    return None if found is None else Decimal(found.data)


def _metered_interval(found: _IntervalFields) -> MeteredInterval:
    """``MeteredInterval(**fields)``, as the registered decoding of ``dc_MeteredInterval`` makes it."""
    household = found.household_id
    return MeteredInterval(
        found.start.data,
        found.end.data,
        Decimal(found.energy_gj.data),
        _amount(found.volume_m3),
        None if household is None else household.data,
        _amount(found.expected_energy_gj),
        _amount(found.deviation_percent),
        _amount(found.permissible_error_percent),
        found.quality,
        found.limit_breaches,
    )


def _decodes_as_registered(transcoder: LedgerTranscoder) -> bool:
    """Whether the transcoder's registered decodings give what this module gives, on samples."""
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
        if type(made) is not type(expected) or made != expected or repr(made) != repr(expected):
            return False
    interval_decoder = transcoder.value_decoder("dc_MeteredInterval")
    sample = {"start": samples[0][2], "end": samples[0][2], "energy_gj": Decimal(1), "volume_m3": None}
    sample |= {"household_id": None, "quality": "estimated"}
    if interval_decoder is None:
        return False
    made = interval_decoder(dict(sample))
    return type(made) is MeteredInterval and made == MeteredInterval(**sample)
