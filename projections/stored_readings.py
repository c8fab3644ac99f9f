"""The stored readings of a meter around a moment, for late readings older than its window.

Implements ``application.reading_history.StoredReadings`` over ``meter_readings``: a few indexed
queries on its primary key (meter, measured_at) per late reading.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Connection, Engine, Select, bindparam, select

from domain.readings import RememberedReading, readings_around
from domain.values import ReadingSource
from projections.tables import meter_readings, meters
from projections.types import UtcDateTime

# Rows fetched per query while looking for a neighbour the overlay does not replace, and a bound
# on how many such pages one look-up reads (the overlay replaces a batch's readings at most).
PAGE_SIZE = 16
MAXIMUM_PAGES = 1000

_has_volume = meter_readings.c.volume_m3.is_not(None)
_has_hours = meter_readings.c.operating_hours.is_not(None)


def _nearest_statement(before: bool, *conditions: ColumnElement[bool]) -> Select[Any]:
    """The rows of a meter just before (or after) a boundary, nearest first. Built once: building
    a statement costs more than running it on the primary key's index."""
    column = meter_readings.c.measured_at
    boundary = bindparam("boundary", type_=UtcDateTime)
    return (
        select(meter_readings)
        .where(meter_readings.c.meter_id == bindparam("meter_id"), column < boundary if before else column > boundary)
        .where(*conditions)
        .order_by(column.desc() if before else column.asc())
        .limit(PAGE_SIZE)
    )


_NEAREST = {
    (before, kind): _nearest_statement(before, *conditions)
    for before in (True, False)
    for kind, conditions in (("any", ()), ("volume", (_has_volume,)), ("hours", (_has_hours,)))
}
_AT = select(meter_readings).where(
    meter_readings.c.meter_id == bindparam("meter_id"), meter_readings.c.measured_at == bindparam("moment")
)


class SqlStoredReadings:
    """The read model of meter readings, as late readings need it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def projected_version(self, meter_id: UUID) -> int:
        """The version of the meter's newest event the read model has applied (0 before any)."""
        with self.engine.connect() as connection:
            version = connection.execute(select(meters.c.version).where(meters.c.meter_id == meter_id)).scalar()
        return int(version or 0)

    def readings_around(
        self, meter_id: UUID, measured_at: datetime, skipped: Container[datetime]
    ) -> list[RememberedReading] | None:
        """The stored readings around ``measured_at`` (see ``ReadingHistory.readings_around``),
        leaving out those at ``skipped`` moments; None if one of them lacks its unwrapped registers."""
        with self.engine.connect() as connection:
            found = Neighbours(connection, meter_id, measured_at, skipped)
            rows = found.at()  # a reading at the moment makes the new one a duplicate or a conflict
            for before in (True, False) if not rows else ():
                nearest = found.nearest(before)
                rows.extend(nearest)
                if nearest and nearest[0].volume_m3 is None:
                    rows.extend(found.nearest(before, "volume"))
                if nearest and nearest[0].operating_hours is None:
                    rows.extend(found.nearest(before, "hours"))
        readings = [_remembered(row) for row in rows]
        if any(reading is None for reading in readings):
            return None
        return readings_around((reading for reading in readings if reading is not None), measured_at)


class Neighbours:
    """Queries for one look-up: the row at the moment and the nearest rows on either side."""

    def __init__(self, connection: Connection, meter_id: UUID, measured_at: datetime, skipped: Container[datetime]):
        self.connection = connection
        self.meter_id = meter_id
        self.measured_at = measured_at
        self.skipped = skipped

    def at(self) -> list[Any]:
        if self.measured_at in self.skipped:
            return []
        return list(self.connection.execute(_AT, {"meter_id": self.meter_id, "moment": self.measured_at}))

    def nearest(self, before: bool, kind: str = "any") -> list[Any]:
        """The nearest row before (or after) the moment of ``kind`` (any, with volume, with
        hours), not at a skipped moment: [] when there is none."""
        statement = _NEAREST[before, kind]
        boundary = self.measured_at
        for _ in range(MAXIMUM_PAGES):
            page = list(self.connection.execute(statement, {"meter_id": self.meter_id, "boundary": boundary}))
            kept = [row for row in page if row.measured_at not in self.skipped]
            if kept:
                return kept[:1]
            if len(page) < PAGE_SIZE:
                return []
            boundary = page[-1].measured_at
        raise RuntimeError(f"more than {MAXIMUM_PAGES * PAGE_SIZE} stored readings in a row are replaced")


def _remembered(row: Any) -> RememberedReading | None:
    """The row as a meter remembers a reading; None when it was projected without the unwrapped
    registers and fingerprint (before revision 0015 and no rebuild since)."""
    lacks_volume = row.volume_m3 is not None and row.volume_unwrapped_m3 is None
    if row.energy_unwrapped_gj is None or row.fingerprint is None or lacks_volume:
        return None
    return RememberedReading(
        measured_at=row.measured_at,
        energy_register_gj=row.energy_gj,
        energy_unwrapped_gj=row.energy_unwrapped_gj,
        volume_register_m3=row.volume_m3,
        volume_unwrapped_m3=row.volume_unwrapped_m3,
        operating_hours=row.operating_hours,
        flow_temperature_c=row.flow_temperature_c,
        return_temperature_c=row.return_temperature_c,
        fingerprint=row.fingerprint,
        faulty=row.faulty,
        estimated=row.source == ReadingSource.ESTIMATE,
    )
