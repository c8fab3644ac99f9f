"""Stored ``Meter.ReadingRecorded`` events decoded for the projection's catch-up with msgspec.

Readings are 95 % or more of a season's events, and decoding them through the library's mapper
was a fifth of a rebuild: the standard library's JSON parser calls the transcoder's object hook for
each of a reading's ten or so transcoded values, in Python. ``ReadingEventDecoder`` has msgspec
parse the stored JSON against the reading's exact shape instead (datetimes parsed by msgspec
itself, decimals by ``Decimal`` from their text and UUIDs by the transcoder's decoding, which parses
each text once) and builds the same event the mapper builds: an object of the event's class whose
``__dict__`` holds the same values, intervals as ``MeteredInterval``, the class version's upcasters
applied. The projection's handlers cannot tell the two apart
(``tests/integration/test_reading_events.py`` compares them for every reading of a varied store).
The stored shape of a reading's values, the class versions decoded and the checks on the
transcoder are ``projections/reading_state.py``'s, shared with the bill replay's decoder.

It does so only when the stored state is the mapper's plain JSON (no cipher, no compression) and
the transcoder is the ledger's, whose registered decodings of those value types it reproduces
(checked on samples when it is made). A state of any other shape (an unknown field, a value of
another type, a transcoded value with more keys, a datetime msgspec does not read) fails msgspec's
check and goes through the mapper, which decodes it or says why not. Events of other kinds always do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Notification

from domain.meter import Meter
from domain.readings import MeteredInterval
from projections.reading_state import (
    READING_TOPIC,
    Amount,
    Id,
    Interval,
    Time,
    amount,
    fast_versions,
    uuid_decoder,
)

__all__ = ["READING_TOPIC", "ReadingEventDecoder"]


class _ReadingState(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """Every field of a stored reading event's state (class version 1 lacks the last two)."""

    timestamp: Time
    measured_at: Time
    energy_gj: Amount
    volume_m3: Amount | None
    operating_hours: Amount | None
    flow_temperature_c: Amount | None
    return_temperature_c: Amount | None
    flow_rate_m3_h: Amount | None
    power_kw: Amount | None
    error_flags: int
    source: str
    faulty: bool
    fingerprint: str
    energy_unwrapped_gj: Amount
    volume_unwrapped_m3: Amount | None
    intervals: list[Interval]
    replaced_interval_start: Time | None
    replaced_interval_end: Time | None
    batch_id: Id
    actor: str
    reason: str
    limit_breaches: str = ""  # what upcast_v1_v2 sets
    class_version: int = 1


_STATE = msgspec.json.Decoder(_ReadingState)
# The event's own fields and the state's must be the same names (a field added to the event
# without a class version would otherwise be left out here).
_STATE_FIELDS = {*_ReadingState.__struct_fields__, "originator_id", "originator_version"} - {"class_version"}
assert frozenset(field.name for field in fields(Meter.ReadingRecorded)) == _STATE_FIELDS, "the event's fields"


class ReadingEventDecoder:
    """Decodes stored events like ``mapper.to_domain_event``, readings without it where it may."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        self.decodes: frozenset[int] = fast_versions(mapper)
        self._id: Callable[[str], UUID] = uuid_decoder(mapper) if self.decodes else UUID

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
        decode_id = self._id
        volume_unwrapped = state.volume_unwrapped_m3
        values = {
            "timestamp": state.timestamp.data,
            "measured_at": state.measured_at.data,
            "energy_gj": Decimal(state.energy_gj.data),
            "volume_m3": amount(state.volume_m3),
            "operating_hours": amount(state.operating_hours),
            "flow_temperature_c": amount(state.flow_temperature_c),
            "return_temperature_c": amount(state.return_temperature_c),
            "flow_rate_m3_h": amount(state.flow_rate_m3_h),
            "power_kw": amount(state.power_kw),
            "error_flags": state.error_flags,
            "source": state.source,
            "faulty": state.faulty,
            "fingerprint": state.fingerprint,
            "energy_unwrapped_gj": Decimal(state.energy_unwrapped_gj.data),
            "volume_unwrapped_m3": None if volume_unwrapped is None else Decimal(volume_unwrapped.data),
            "intervals": [interval.data.made_by(MeteredInterval, decode_id) for interval in state.intervals],
            "replaced_interval_start": None if replaced_start is None else replaced_start.data,
            "replaced_interval_end": None if replaced_end is None else replaced_end.data,
            "batch_id": decode_id(state.batch_id.data),
            "actor": state.actor,
            "reason": state.reason,
            "limit_breaches": state.limit_breaches,
            "originator_id": originator_id,
            "originator_version": notification.originator_version,
        }
        event = object.__new__(Meter.ReadingRecorded)
        object.__setattr__(event, "__dict__", values)
        return event
