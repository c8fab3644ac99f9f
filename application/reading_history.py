"""The history of a meter's readings beyond its window, for late readings (a concentrator's backlog).

A meter remembers its newest readings only. A reading older than all of them is judged against
its neighbours from the read model of the meter's readings, overlaid with the meter's events the
read model has not applied yet: those saved but not projected (a worker lags) and those of the
running command, still pending on the aggregate (a batch's own readings that left the window).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.meter import Meter
from domain.readings import NEIGHBOUR_KINDS, RememberedReading, readings_around

# The meter's stored events with a version in (after, up_to]: (meter id, after, up_to) → events.
SavedEvents = Callable[[UUID, int, int], Iterable[Any]]
# Gaps between stored readings a history remembers the store's answer for: a backlog falls into
# one or a few gaps, so its readings cost one look-up of the store per gap, not one each.
REMEMBERED_GAPS = 64


@dataclass(frozen=True)
class _StoredGap:
    """The store's readings around any moment strictly between two consecutive stored readings
    (``after`` and ``before``; None for an open end): the same for every moment in between."""

    after: datetime | None
    before: datetime | None
    readings: list[RememberedReading]

    def holds(self, measured_at: datetime) -> bool:
        return (self.after is None or self.after < measured_at) and (self.before is None or measured_at < self.before)


class StoredReadings(Protocol):
    """The read model of meter readings, as late readings need it (implemented in projections)."""

    def projected_version(self, meter_id: UUID) -> int:
        """The version of the meter's newest event the read model has applied (0 before any)."""
        ...

    def readings_around(
        self, meter_id: UUID, measured_at: datetime, skipped: Container[datetime]
    ) -> list[RememberedReading] | None:
        """``ReadingHistory.readings_around`` over the stored readings of the meter, leaving out
        the readings at ``skipped`` moments (the overlay knows better); None when a stored reading
        lacks its unwrapped registers (projected before they were kept: rebuild the read models)."""
        ...


class MeterHistory:
    """A ``ReadingHistory`` of one meter during one command.

    Built lazily: a batch of readings newer than the window never touches the store. The read
    model's version is read before its rows, so its rows are at least that new; events after that
    version are applied on top by moment, which gives the same result however far the rows are ahead.
    """

    def __init__(self, meter: Meter, stored: StoredReadings | None, saved_events: SavedEvents) -> None:
        self._meter = meter
        self._stored = stored
        self._saved_events = saved_events
        self._overlay: dict[datetime, RememberedReading | None] = {}
        # Moments of the overlay's readings (not of its withdrawals), one sorted list per kind.
        self._moments: tuple[list[datetime], ...] = tuple([] for _ in NEIGHBOUR_KINDS)
        self._pending_applied: int | None = None
        self._gaps: list[_StoredGap] = []

    def readings_around(self, measured_at: datetime) -> list[RememberedReading] | None:
        """The readings around ``measured_at`` the ledger holds (see ``ReadingHistory``)."""
        self._catch_up()
        known = self._overlay.get(measured_at)
        if known is not None:
            return [known]  # the new reading is a duplicate or a conflict: no neighbours needed
        stored = self._stored_around(measured_at)
        if stored is None:
            return None
        return readings_around([*stored, *self._overlay_around(measured_at)], measured_at)

    def _stored_around(self, measured_at: datetime) -> list[RememberedReading] | None:
        if self._stored is None:
            return []
        for gap in self._gaps:
            # A gap stays valid while the overlay replaces none of its readings.
            if gap.holds(measured_at) and not any(reading.measured_at in self._overlay for reading in gap.readings):
                return gap.readings
        stored = self._stored.readings_around(self._meter.id, measured_at, self._overlay.keys())
        if stored is not None and all(reading.measured_at != measured_at for reading in stored):
            self._remember_gap(measured_at, stored)
        return stored

    def _remember_gap(self, measured_at: datetime, stored: list[RememberedReading]) -> None:
        after = max((reading.measured_at for reading in stored if reading.measured_at < measured_at), default=None)
        before = min((reading.measured_at for reading in stored if reading.measured_at > measured_at), default=None)
        self._gaps = [_StoredGap(after, before, stored), *self._gaps[: REMEMBERED_GAPS - 1]]

    def _catch_up(self) -> None:
        pending = self._meter.pending_events
        if self._pending_applied is None:
            projected = self._stored.projected_version(self._meter.id) if self._stored is not None else 0
            saved = self._meter.version - len(pending)
            for event in self._saved_events(self._meter.id, projected, saved):
                self._apply(event)
            self._pending_applied = 0
        for event in pending[self._pending_applied :]:
            self._apply(event)
        self._pending_applied = len(pending)

    def _apply(self, event: Any) -> None:
        if isinstance(event, Meter.ReadingRecorded):
            self._forget(event.measured_at)
            reading = event.remembered()
            self._overlay[reading.measured_at] = reading
            for has, moments in zip(NEIGHBOUR_KINDS, self._moments, strict=True):
                if has(reading):
                    bisect.insort(moments, reading.measured_at)
        elif isinstance(event, Meter.ReadingVoided):
            self._forget(event.measured_at)
            self._overlay[event.measured_at] = None

    def _forget(self, measured_at: datetime) -> None:
        if self._overlay.get(measured_at) is None:
            return
        for moments in self._moments:
            position = bisect.bisect_left(moments, measured_at)
            if position < len(moments) and moments[position] == measured_at:
                del moments[position]

    def _overlay_around(self, measured_at: datetime) -> list[RememberedReading]:
        """The overlay's readings at ``measured_at`` and nearest to it on each side, of each kind."""
        found = []
        for moments in self._moments:
            position = bisect.bisect_left(moments, measured_at)
            found.extend(moments[max(position - 1, 0) : position + 2])
        readings = (self._overlay[moment] for moment in set(found))
        return [reading for reading in readings if reading is not None]
