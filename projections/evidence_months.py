"""Each household meter's billing evidence per calendar month, kept up by the catch-up (issue 17).

A settlement reads, for every household, the heat its own meters measured and estimated over the
season, the days measured and usable, and the readings that open and close the season's evidence
(``SqlBillingInputs.meter_evidence``). From the daily rows that is a season's 151 rows a household
with daily readings (3,624 with hourly ones), sorted for the distinct days and joined row by row
to their intervals and readings: at 100,000 households the reads a settlement waits on most.
``household_evidence_months`` holds the same evidence summed per household, meter and month:

- ``measured_gj`` and ``estimated_gj``: the heat of the month's measured rows, and of its estimated
  rows with the faulty intervals' documented estimates (``faulty_interval_estimates``);
- ``measured_days`` and ``usable_days``: the month's days as bits (bit d − 1 for day d): a measured
  row on the day, and a measured, estimated or faulty-estimate row on it. Days are counted by
  ``int.bit_count`` of the masks, and the masks of two meters of one household OR together, so a
  day both covered counts once, as ``COUNT(DISTINCT day)`` counts it;
- ``first_interval_start_at`` and ``last_interval_start_at``: the earliest and latest start of the
  intervals whose days fall in the month (the ends of the household's evidence are looked up from
  these: ``billing_inputs``).

A bucket is there as long as the meter left any row on the household in the month (a faulty row
without an estimate too: the meter was there but broken), as the evidence's rows are.

Kept up in the transaction that writes the rows it sums. Rows added only (a reading batch's new
intervals, the common case) are summed per bucket in Python and written by one upsert (sums added,
masks OR-ed, starts widened); a bucket any of whose rows changed or went (a reading withdrawn or
arriving late, a decision about implausible heat, an interval's estimate, late paperwork moving
intervals to another household) is summed again from its rows (``refresh``), because a bit cannot
be taken back from an OR. ``summarise_evidence`` writes the whole table from the rows, set-based
(the migration that made it, and the oracle of the property tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Integer,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    delete,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from projections.analytics_summary import month_expression, month_of
from projections.tables import ENERGY_SCALE, daily_consumption, faulty_interval_estimates, metadata
from projections.types import ScaledDecimal, UtcDateTime
from projections.unnest_rows import array_type, unnested

MEASURED, ESTIMATED, FAULTY = "measured", "estimated", "faulty"
HOUSEHOLD_KIND = "household"
ZERO_GJ = Decimal(0).scaleb(-ENERGY_SCALE)

household_evidence_months = Table(
    "household_evidence_months",
    metadata,
    Column("household_id", Uuid, primary_key=True),
    Column("meter_id", Uuid, primary_key=True),
    Column("month", Date, primary_key=True),  # the month's first day
    Column("measured_gj", ScaledDecimal(ENERGY_SCALE), nullable=False),
    Column("estimated_gj", ScaledDecimal(ENERGY_SCALE), nullable=False),
    Column("measured_days", BigInteger, nullable=False),
    Column("usable_days", BigInteger, nullable=False),
    # None when the month has only estimates of the meter's faulty intervals, no day rows.
    Column("first_interval_start_at", UtcDateTime, nullable=True),
    Column("last_interval_start_at", UtcDateTime, nullable=True),
)

EVIDENCE_MONTH_TABLES = (household_evidence_months,)
BucketKey = tuple[UUID, UUID, date]  # (household, meter, month's first day)


def day_bit(day: date) -> int:
    return 1 << (day.day - 1)


@dataclass(slots=True)
class Bucket:
    """One household meter's evidence in one month, as summed from its rows."""

    measured_gj: Decimal = ZERO_GJ
    estimated_gj: Decimal = ZERO_GJ
    measured_days: int = 0
    usable_days: int = 0
    first_interval_start_at: datetime | None = None
    last_interval_start_at: datetime | None = None

    def add_day_row(self, quality: str, day: date, energy_gj: Decimal, interval_start_at: datetime) -> None:
        """A ``daily_consumption`` row of the meter; a faulty row's heat is never billed."""
        bit = day_bit(day)
        if quality == MEASURED:
            self.measured_gj += energy_gj
            self.measured_days |= bit
            self.usable_days |= bit
        elif quality == ESTIMATED:
            self.estimated_gj += energy_gj
            self.usable_days |= bit
        if self.first_interval_start_at is None or interval_start_at < self.first_interval_start_at:
            self.first_interval_start_at = interval_start_at
        if self.last_interval_start_at is None or interval_start_at > self.last_interval_start_at:
            self.last_interval_start_at = interval_start_at

    def add_estimate(self, day: date, energy_gj: Decimal) -> None:
        """A ``faulty_interval_estimates`` row: billed for the day instead of the faulty row."""
        self.estimated_gj += energy_gj
        self.usable_days |= day_bit(day)

    def values(self, key: BucketKey) -> dict[str, Any]:
        household_id, meter_id, month = key
        return {
            "household_id": household_id,
            "meter_id": meter_id,
            "month": month,
            "measured_gj": self.measured_gj,
            "estimated_gj": self.estimated_gj,
            "measured_days": self.measured_days,
            "usable_days": self.usable_days,
            "first_interval_start_at": self.first_interval_start_at,
            "last_interval_start_at": self.last_interval_start_at,
        }


# daily_consumption's columns, in its order, as the writers hold a day row.
_DAY_INDEX = {name: index for index, name in enumerate(daily_consumption.c.keys())}
_METER, _START, _DAY = _DAY_INDEX["meter_id"], _DAY_INDEX["interval_start_at"], _DAY_INDEX["day"]
_ENERGY, _HOUSEHOLD = _DAY_INDEX["energy_gj"], _DAY_INDEX["household_id"]
_KIND, _QUALITY = _DAY_INDEX["meter_kind"], _DAY_INDEX["quality"]


def bucket_key(row: Sequence[Any]) -> BucketKey | None:
    """The bucket a day row (in ``daily_consumption``'s column order) counts in; None: none (a
    building's or substation's meter, or a meter on no household)."""
    if row[_KIND] != HOUSEHOLD_KIND or row[_HOUSEHOLD] is None:
        return None
    return (row[_HOUSEHOLD], row[_METER], month_of(row[_DAY]))


def buckets_of(
    day_rows: Iterable[Sequence[Any]], estimate_rows: Iterable[Sequence[Any]] = ()
) -> dict[BucketKey, Bucket]:
    """The buckets ``day_rows`` (``daily_consumption``'s column order) and ``estimate_rows``
    ((household_id, meter_id, day, estimated_energy_gj)) sum to."""
    buckets: dict[BucketKey, Bucket] = {}
    for row in day_rows:
        key = bucket_key(row)
        if key is not None:
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = Bucket()
            bucket.add_day_row(row[_QUALITY], row[_DAY], row[_ENERGY], row[_START])
    for household_id, meter_id, day, energy_gj in estimate_rows:
        if household_id is not None:
            key = (household_id, meter_id, month_of(day))
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = Bucket()
            bucket.add_estimate(day, energy_gj)
    return buckets


def apply_added_days(connection: Connection, added: Sequence[Sequence[Any]], changed: Iterable[BucketKey] = ()) -> None:
    """Bring the table up to day rows ``added`` (in ``daily_consumption``'s column order, already
    written) and to the buckets ``changed`` otherwise (rows removed, moved or requalified, estimates
    written or removed), in the caller's transaction: the first by one upsert, the second summed
    again from their rows."""
    stale = set(changed)
    stale_ids = {(household_id.int, meter_id.int, month) for household_id, meter_id, month in stale}
    fresh = [row for key, row in sorted(added_rows(added).items()) if key not in stale_ids]
    if fresh:
        _add(connection, fresh)
    if stale:
        refresh(connection, stale)


# A bucket's key as ``added_rows`` sums: the UUIDs as their ints (hashed and compared in C, where a
# UUID's __hash__, __eq__ and __lt__ are Python calls), which order as the UUIDs do.
IdKey = tuple[int, int, date]
# A bucket's row as ``added_rows`` sums it, in the table's column order.
_MEASURED_GJ, _ESTIMATED_GJ, _MEASURED_DAYS, _USABLE_DAYS, _FIRST_START, _LAST_START = range(3, 9)


def added_rows(day_rows: Iterable[Sequence[Any]]) -> dict[IdKey, list[Any]]:
    """The rows (in the table's column order) of the buckets ``day_rows`` sum to, as ``buckets_of``
    sums them (a property test), in one loop inlined: a reading batch adds thousands of rows, and a
    call per row for its key, its month and ``Bucket.add_day_row`` was most of the time."""
    buckets: dict[IdKey, list[Any]] = {}
    first_days: dict[date, date] = {}  # each day's month, computed once per day
    for row in day_rows:
        household_id = row[_HOUSEHOLD]
        if row[_KIND] != HOUSEHOLD_KIND or household_id is None:
            continue
        meter_id, day, start = row[_METER], row[_DAY], row[_START]
        month = first_days.get(day) or first_days.setdefault(day, day.replace(day=1))
        bucket = buckets.get((household_id.int, meter_id.int, month))
        if bucket is None:
            bucket = [household_id, meter_id, month, ZERO_GJ, ZERO_GJ, 0, 0, start, start]
            buckets[(household_id.int, meter_id.int, month)] = bucket
        elif start < bucket[_FIRST_START]:
            bucket[_FIRST_START] = start
        elif start > bucket[_LAST_START]:
            bucket[_LAST_START] = start
        quality = row[_QUALITY]
        if quality == MEASURED:
            bit = 1 << (day.day - 1)
            bucket[_MEASURED_GJ] += row[_ENERGY]
            bucket[_MEASURED_DAYS] |= bit
            bucket[_USABLE_DAYS] |= bit
        elif quality == ESTIMATED:
            bucket[_ESTIMATED_GJ] += row[_ENERGY]
            bucket[_USABLE_DAYS] |= 1 << (day.day - 1)
    return buckets


_KEY = ["household_id", "meter_id", "month"]


def _merged(new: Any) -> dict[str, Any]:
    """A bucket's row with ``new`` (the upsert's ``excluded``) added: sums added, days OR-ed,
    starts widened."""
    table = household_evidence_months
    first, last = table.c.first_interval_start_at, table.c.last_interval_start_at
    return {
        "measured_gj": table.c.measured_gj + new.measured_gj,
        "estimated_gj": table.c.estimated_gj + new.estimated_gj,
        "measured_days": table.c.measured_days.op("|")(new.measured_days),
        "usable_days": table.c.usable_days.op("|")(new.usable_days),
        "first_interval_start_at": case(
            (or_(first.is_(None), new.first_interval_start_at < first), new.first_interval_start_at), else_=first
        ),
        "last_interval_start_at": case(
            (or_(last.is_(None), new.last_interval_start_at > last), new.last_interval_start_at), else_=last
        ),
    }


def _add(connection: Connection, rows: list[list[Any]]) -> None:
    """Add each bucket's sums, days and starts (``rows`` in the table's column order, in key order,
    so two workers lock rows in the same order) to its row (a new row when none)."""
    table = household_evidence_months
    names = [column.name for column in table.c]
    if connection.dialect.name != "postgresql":
        statement = sqlite.insert(table)
        statement = statement.on_conflict_do_update(index_elements=_KEY, set_=_merged(statement.excluded))
        connection.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])
        return
    # On PostgreSQL one statement over binary arrays, a column each (unnest_rows): an executemany
    # ran the upsert once per bucket, and a reading batch adds about a bucket per reading.
    columns: list[Any] = [list(column) for column in zip(*rows, strict=True)]
    to_units, dialect = _ENERGY_UNITS.process_bind_param, connection.dialect
    for index in (_MEASURED_GJ, _ESTIMATED_GJ):
        columns[index] = [to_units(energy, dialect) for energy in columns[index]]
    source = unnested(connection, names, columns, [array_type(column.type) for column in table.c])
    upsert = postgresql.insert(table).from_select(names, select(*source.c))
    connection.execute(upsert.on_conflict_do_update(index_elements=_KEY, set_=_merged(upsert.excluded)))


_ENERGY_UNITS = ScaledDecimal(ENERGY_SCALE)


def refresh(connection: Connection, keys: Iterable[BucketKey]) -> None:
    """Sum the buckets ``keys`` again from their rows (a bucket left without rows goes)."""
    wanted = set(keys)
    if not wanted:
        return
    meter_ids = sorted({meter_id for _, meter_id, _ in wanted})
    first_month = min(month for _, _, month in wanted)
    end = next_month(max(month for _, _, month in wanted))
    dc, fie = daily_consumption.c, faulty_interval_estimates.c
    day_rows = connection.execute(
        select(daily_consumption).where(
            dc.meter_id.in_(meter_ids), dc.day >= first_month, dc.day < end, dc.household_id.is_not(None)
        )
    ).all()
    estimate_rows = connection.execute(
        select(fie.household_id, fie.meter_id, fie.day, fie.estimated_energy_gj).where(
            fie.meter_id.in_(meter_ids), fie.day >= first_month, fie.day < end, fie.household_id.is_not(None)
        )
    ).all()
    buckets = {key: bucket for key, bucket in buckets_of(day_rows, estimate_rows).items() if key in wanted}
    table = household_evidence_months
    connection.execute(
        delete(table).where(
            table.c.household_id == bindparam("key_household"),
            table.c.meter_id == bindparam("key_meter"),
            table.c.month == bindparam("key_month"),
        ),
        [{"key_household": h, "key_meter": m, "key_month": month} for h, m, month in sorted(wanted)],
    )
    if buckets:
        connection.execute(insert(table), [buckets[key].values(key) for key in sorted(buckets)])


def keys_of(rows: Iterable[Sequence[Any]]) -> set[BucketKey]:
    """The buckets of day rows (``daily_consumption``'s column order)."""
    return {key for key in map(bucket_key, rows) if key is not None}


def estimate_keys(rows: Iterable[Sequence[Any]]) -> set[BucketKey]:
    """The buckets of (household_id, meter_id, day) rows of faulty-interval estimates."""
    return {
        (household_id, meter_id, month_of(day)) for household_id, meter_id, day, *_ in rows if household_id is not None
    }


def interval_keys(connection: Connection, meter_id: UUID, interval_starts: Iterable[datetime]) -> set[BucketKey]:
    """The buckets the day rows and estimates of a meter's intervals now count in."""
    starts = list(interval_starts)
    if not starts:
        return set()
    dc, fie = daily_consumption.c, faulty_interval_estimates.c
    rows = connection.execute(
        union_all(
            select(dc.household_id, dc.meter_id, dc.day).where(
                dc.meter_id == meter_id, dc.interval_start_at.in_(starts), dc.meter_kind == HOUSEHOLD_KIND
            ),
            select(fie.household_id, fie.meter_id, fie.day).where(
                fie.meter_id == meter_id, fie.interval_start_at.in_(starts)
            ),
        )
    ).all()
    return estimate_keys(rows)


def summarise_evidence(connection: Connection) -> None:
    """Write the table afresh from every day row and estimate, set-based (the migration that made
    it, and the oracle the live table is compared with)."""
    connection.execute(delete(household_evidence_months))
    dc, fie = daily_consumption.c, faulty_interval_estimates.c
    rows = union_all(
        select(
            dc.household_id.label("household_id"),
            dc.meter_id.label("meter_id"),
            dc.day.label("day"),
            dc.quality.label("quality"),
            dc.energy_gj.label("energy_gj"),
            dc.interval_start_at.label("interval_start_at"),
        ).where(dc.meter_kind == HOUSEHOLD_KIND, dc.household_id.is_not(None)),
        select(
            fie.household_id,
            fie.meter_id,
            fie.day,
            literal("faulty_estimate").label("quality"),
            fie.estimated_energy_gj,
            literal(None, UtcDateTime).label("interval_start_at"),
        ).where(fie.household_id.is_not(None)),
    ).subquery("evidence")
    month = month_expression(connection, rows.c.day)
    bit = literal(1, BigInteger).op("<<")(cast(extract("day", rows.c.day), Integer) - 1)
    measured = rows.c.quality == MEASURED
    usable = rows.c.quality != FAULTY
    estimated = rows.c.quality != MEASURED
    connection.execute(
        insert(household_evidence_months).from_select(
            [column.name for column in household_evidence_months.c],
            select(
                rows.c.household_id,
                rows.c.meter_id,
                month,
                func.coalesce(func.sum(case((measured, rows.c.energy_gj))), 0),
                func.coalesce(func.sum(case((and_(estimated, usable), rows.c.energy_gj))), 0),
                func.coalesce(func.sum(case((measured, bit)).distinct()), 0),
                func.coalesce(func.sum(case((usable, bit)).distinct()), 0),
                func.min(rows.c.interval_start_at),
                func.max(rows.c.interval_start_at),
            ).group_by(rows.c.household_id, rows.c.meter_id, month),
        )
    )


def next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


__all__ = [
    "EVIDENCE_MONTH_TABLES",
    "Bucket",
    "apply_added_days",
    "buckets_of",
    "estimate_keys",
    "household_evidence_months",
    "interval_keys",
    "keys_of",
    "next_month",
    "refresh",
    "summarise_evidence",
]
