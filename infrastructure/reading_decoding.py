"""A stored ``Meter.ReadingRecorded`` decoded straight into what billing reads of it.

A replay decodes a season of a household's readings on every request (4,368 for an hourly
meter). The library's mapper parses each event's JSON with the standard library's parser, decodes
every transcoded value in it (a reading carries about fifteen: its timestamp, batch, unwrapped
registers and each interval's times, energy and household) and builds the event object. Billing
reads only the reading's time and register, the interval it replaces and its intervals, so
``ReadingDecoder`` has msgspec parse the JSON against the shape of just those fields (skipping
the others without building them) and decodes each transcoded value, innermost first, with the
function the ledger's transcoder registered for its type name, as the mapper's decoding does:
the same values from the same bytes, at a fifth of the cost.

It does so only when the stored state is the mapper's plain JSON (no cipher, no compression) and
the stored class version's upcasters change nothing read here; a state of any other shape (an
unknown field in an interval, a value of another type, a transcoded value with more keys) fails
msgspec's check and goes through the mapper too. ``tests/integration/test_reading_decoding.py``
checks that both give the same for every reading of a store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from projections.billing_fold import IntervalFacts, RecordedReading

READING_TOPIC = get_topic(Meter.ReadingRecorded)
# Stored class versions decoded here, by the class's current version: version 2 added
# ``limit_breaches`` to the event, which billing does not read, so a version 1 state decodes to
# the same. A new class version turns this path off (the mapper decodes every reading) until it
# is added here, after reading its upcaster.
DECODED_CLASS_VERSIONS = {2: frozenset({1, 2})}
_NAMES = {"kind": "_type_", "data": "_data_"}


# A transcoded value is an object of exactly "_type_" and "_data_" (else the transcoder keeps the
# object as it is): unknown fields are refused, so such a state goes through the mapper. None of
# these structs is tracked by the cyclic collector (gc=False: they hold text, None, a list and each
# other, never a cycle), which makes them an eighth cheaper to decode.
class _Time(msgspec.Struct, rename=_NAMES, forbid_unknown_fields=True, gc=False):
    kind: Literal["datetime_iso"]
    data: str


class _Amount(msgspec.Struct, rename=_NAMES, forbid_unknown_fields=True, gc=False):
    kind: Literal["decimal_str"]
    data: str


class _Id(msgspec.Struct, rename=_NAMES, forbid_unknown_fields=True, gc=False):
    kind: Literal["uuid_hex"]
    data: str


class _IntervalFields(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """``MeteredInterval``'s fields, with its defaults (a field it does not have is refused)."""

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


class _ReadingState(msgspec.Struct, gc=False):
    """The fields billing reads of a reading event's state (the others are skipped)."""

    measured_at: _Time
    energy_gj: _Amount
    replaced_interval_start: _Time | None
    intervals: list[_Interval]
    class_version: int = 1


assert _IntervalFields.__struct_fields__ == tuple(field.name for field in fields(MeteredInterval)), "its fields"
assert _IntervalFields.__struct_defaults__ == tuple(
    field.default for field in fields(MeteredInterval) if field.default is not MISSING
), "its defaults"
_STATE = msgspec.json.Decoder(_ReadingState)


class ReadingDecoder:
    """Decodes reading events for the billing fold: fast where it may, else by ``mapper``."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        plain = mapper.cipher is None and mapper.compressor is None and isinstance(transcoder, LedgerTranscoder)
        # The functions decoding calls for each transcoded value read here, by its stored name.
        decoders: list[Callable[[Any], Any] | None] = [
            transcoder.value_decoder(name) if plain else None
            for name in ("datetime_iso", "decimal_str", "uuid_hex", "dc_MeteredInterval")
        ]
        self._time: Any
        self._amount: Any
        self._id: Any
        self._time, self._amount, self._id, interval_decoder = decoders
        versions = DECODED_CLASS_VERSIONS.get(Meter.ReadingRecorded.class_version, frozenset())
        fast = None not in decoders and _makes_metered_intervals(interval_decoder)
        self.fast_versions: frozenset[int] = versions if fast else frozenset()

    def decode(self, notification: Notification) -> RecordedReading:
        """What billing reads of the reading event ``notification``."""
        assert notification.topic == READING_TOPIC, "a reading event"
        found = self._fast(notification) if self.fast_versions else None
        if found is None:
            found = RecordedReading.of(self.mapper.to_domain_event(notification))
        return found

    def decode_all(self, notifications: Sequence[Notification]) -> list[RecordedReading]:
        """``decode`` of each, in order."""
        return [self.decode(notification) for notification in notifications]

    def _fast(self, notification: Notification) -> RecordedReading | None:
        try:
            state = _STATE.decode(notification.state)
        except msgspec.DecodeError:  # malformed, or another shape: the mapper decodes it (or says why not)
            return None
        if state.class_version not in self.fast_versions:
            return None
        replaced = state.replaced_interval_start
        meter_id = notification.originator_id
        assert isinstance(meter_id, UUID), "the ledger's ids are UUIDs"
        return RecordedReading(
            meter_id,
            self._time(state.measured_at.data),
            self._amount(state.energy_gj.data),
            None if replaced is None else self._time(replaced.data),
            tuple([self._interval(interval.data) for interval in state.intervals]),
        )

    def _interval(self, found: _IntervalFields) -> IntervalFacts:
        """The interval's fields, each decoded (one not stored: at the dataclass's default), as
        ``MeteredInterval(**fields)`` holds them: what the registered decoding makes of them."""
        amount, time = self._amount, self._time
        return IntervalFacts(
            time(found.start.data),
            time(found.end.data),
            amount(found.energy_gj.data),
            None if found.volume_m3 is None else amount(found.volume_m3.data),
            None if found.household_id is None else self._id(found.household_id.data),
            None if found.expected_energy_gj is None else amount(found.expected_energy_gj.data),
            None if found.deviation_percent is None else amount(found.deviation_percent.data),
            None if found.permissible_error_percent is None else amount(found.permissible_error_percent.data),
            found.quality,
            found.limit_breaches,
        )


def _makes_metered_intervals(decoder: Callable[[Any], Any] | None) -> bool:
    """Whether the registered decoding of a ``dc_MeteredInterval`` is ``MeteredInterval(**fields)``
    (the fields are then taken as they are, without making the object), judged on a sample."""
    sample = {
        "start": datetime(2025, 11, 1, tzinfo=UTC),
        "end": datetime(2025, 11, 1, 1, tzinfo=UTC),
        "energy_gj": Decimal("0.0075"),
        "volume_m3": None,
        "household_id": UUID(int=1),
        "quality": "estimated",
    }
    if decoder is None:
        return False
    made = decoder(dict(sample))
    return type(made) is MeteredInterval and made == MeteredInterval(**sample)  # type: ignore[arg-type]
