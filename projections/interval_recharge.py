"""Re-charging recorded intervals after late paperwork (``Meter.IntervalsRecharged``).

A swap form or an attachment change typed in days after the readings that follow it changes whom
those readings' intervals belong to. The meter's event names the moment the change took effect and
the meter's attachments as they now stand; here every interval of the meter that ends after that
moment is charged again by the domain's rule (``household_charged``), in ``meter_intervals``,
``daily_consumption`` (with the place the day counts in) and ``faulty_interval_estimates``.
Rows whose household does not change are left alone. The result equals what the readings would
have produced had the paperwork been recorded first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, String, Uuid, bindparam, select, update

from domain.readings import Attachment, household_charged
from projections.analytics_summary import apply_day_changes
from projections.evidence_months import interval_keys, refresh
from projections.tables import daily_consumption, faulty_interval_estimates, households, meter_intervals, meters

# An interval's start (its key) and the household it is charged to from now on.
Recharge = tuple[datetime, UUID | None]


def recharge_intervals(
    connection: Connection, meter_id: UUID, since: datetime, attachments: Sequence[Attachment]
) -> int:
    """Charge the meter's intervals ending after ``since`` again; returns how many moved.

    The intervals after a back-dated change are few (a week of hourly readings is 168): one
    executemany per table carries them all."""
    recharges = _intervals_to_move(connection, meter_id, since, attachments)
    if not recharges:
        return 0
    places = _places(connection, meter_id, {household_id for _, household_id in recharges})
    starts = [start for start, _ in recharges]
    evidence_before = interval_keys(connection, meter_id, starts)
    parameters = [
        {
            "target_meter_id": meter_id,
            "target_start_at": start,
            "new_household_id": household_id,
            "new_community": places[household_id][0],
            "new_building": places[household_id][1],
        }
        for start, household_id in recharges
    ]
    without_place = [
        {key: value for key, value in row.items() if "community" not in key and "building" not in key}
        for row in parameters
    ]
    _update(connection, meter_intervals, meter_intervals.c.start_at, without_place, with_place=False)
    moving = _day_rows(connection, meter_id, [start for start, _ in recharges])
    _update(connection, daily_consumption, daily_consumption.c.interval_start_at, parameters, with_place=True)
    apply_day_changes(connection, _day_rows(connection, meter_id, [start for start, _ in recharges]), moving)
    _update(
        connection,
        faulty_interval_estimates,
        faulty_interval_estimates.c.interval_start_at,
        without_place,
        with_place=False,
    )
    refresh(connection, evidence_before | interval_keys(connection, meter_id, starts))
    return len(recharges)


def _intervals_to_move(
    connection: Connection, meter_id: UUID, since: datetime, attachments: Sequence[Attachment]
) -> list[Recharge]:
    columns = meter_intervals.c
    rows = connection.execute(
        select(columns.start_at, columns.end_at, columns.household_id)
        .where(columns.meter_id == meter_id, columns.end_at > since)
        .order_by(columns.start_at)
    )
    recharges = []
    for row in rows:
        household_id = household_charged(attachments, row.start_at, row.end_at)
        if household_id != row.household_id:
            recharges.append((row.start_at, household_id))
    return recharges


def _places(
    connection: Connection, meter_id: UUID, household_ids: set[UUID | None]
) -> dict[UUID | None, tuple[str, str]]:
    """Where a day of each household counts; a day charged to nobody counts where the meter is
    (as when the reading's interval is first recorded, ``ReadingBatchWriter``)."""
    meter_place = connection.execute(
        select(meters.c.community, meters.c.building).where(meters.c.meter_id == meter_id)
    ).one()
    places: dict[UUID | None, tuple[str, str]] = dict.fromkeys(
        household_ids, (meter_place.community, meter_place.building)
    )
    known = {household_id for household_id in household_ids if household_id is not None}
    if known:
        rows = connection.execute(
            select(households.c.household_id, households.c.community, households.c.building).where(
                households.c.household_id.in_(known)
            )
        )
        places |= {row.household_id: (row.community, row.building) for row in rows}
    return places


def _day_rows(connection: Connection, meter_id: UUID, starts: list[datetime]) -> list[Any]:
    """The daily rows of the meter's intervals starting at ``starts`` (for the analytics summaries)."""
    columns = daily_consumption.c
    statement = select(daily_consumption).where(columns.meter_id == meter_id, columns.interval_start_at.in_(starts))
    return list(connection.execute(statement))


def _update(
    connection: Connection, table: Any, start_column: Any, parameters: list[dict[str, Any]], with_place: bool
) -> None:
    values: dict[str, Any] = {"household_id": bindparam("new_household_id", type_=Uuid)}
    if with_place:
        values |= {
            "community": bindparam("new_community", type_=String),
            "building": bindparam("new_building", type_=String),
        }
    statement = (
        update(table)
        .where(table.c.meter_id == bindparam("target_meter_id"), start_column == bindparam("target_start_at"))
        .values(**values)
    )
    connection.execute(statement, parameters)
