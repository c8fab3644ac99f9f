"""A stored ``Meter.ReadingRecorded`` decoded straight into what billing reads of it.

A replay decodes a season of a household's readings on every request (4,368 for an hourly
meter). The library's mapper parses each event's JSON with the standard library's parser, decodes
every transcoded value in it (a reading carries about fifteen: its timestamp, batch, unwrapped
registers and each interval's times, energy and household) and builds the event object. Billing
reads only the reading's time and register, the interval it replaces and its intervals, so
``ReadingDecoder`` has msgspec parse the JSON against the shape of just those fields (skipping
the others without building them), datetimes parsed by msgspec itself, decimals by ``Decimal``
from their text and UUIDs by the transcoder's decoding (which parses each text once): what the
ledger's transcoder's registered decodings give (checked on samples when the decoder is made), the
same values from the same bytes, at a fifth of the cost. The stored shape of a reading's values,
the class versions decoded and those checks are ``projections/reading_state.py``'s, shared with
the projection catch-up's decoder.

It does so only when the stored state is the mapper's plain JSON (no cipher, no compression) and
the stored class version's upcasters change nothing read here; a state of any other shape (an
unknown field in an interval, a value of another type, a transcoded value with more keys, a
datetime msgspec does not read) fails msgspec's check and goes through the mapper too.
``tests/integration/test_reading_decoding.py`` checks that both give the same for every reading
of a store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Notification

from projections.billing_fold import IntervalFacts, RecordedReading
from projections.reading_state import (
    READING_TOPIC,
    Amount,
    Interval,
    Time,
    fast_versions,
    uuid_decoder,
)

__all__ = ["READING_TOPIC", "ReadingDecoder"]


class _ReadingState(msgspec.Struct, gc=False):
    """The fields billing reads of a reading event's state (the others are skipped)."""

    measured_at: Time
    energy_gj: Amount
    replaced_interval_start: Time | None
    intervals: list[Interval]
    class_version: int = 1


_STATE = msgspec.json.Decoder(_ReadingState)


class ReadingDecoder:
    """Decodes reading events for the billing fold: fast where it may, else by ``mapper``."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        self.fast_versions: frozenset[int] = fast_versions(mapper)
        self._id: Callable[[str], UUID] = uuid_decoder(mapper) if self.fast_versions else UUID

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
        replaced, decode_id = state.replaced_interval_start, self._id
        meter_id = notification.originator_id
        assert isinstance(meter_id, UUID), "the ledger's ids are UUIDs"
        return RecordedReading(
            meter_id,
            state.measured_at.data,
            Decimal(state.energy_gj.data),
            None if replaced is None else replaced.data,
            tuple([interval.data.made_by(IntervalFacts, decode_id) for interval in state.intervals]),
        )
