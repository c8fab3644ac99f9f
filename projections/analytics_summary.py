"""Pre-summed heat the analytics reports read instead of the season's daily rows (issue 15).

A season's report over a city of 100,000 households would otherwise sum 15 million rows of
``daily_consumption`` (one per meter, interval and day: 24 times that with hourly readings). Two
read models hold the same heat summed the way the reports group it:

- ``household_heat_months``: per household and calendar month (its first day), the heat of the
  household meters' days charged to it (``meter_kind`` household, ``household_id`` set). A season
  or a price period is whole months of it, plus the daily rows of a month it starts or ends within.
- ``place_heat_days``: per day and place, the household meters' heat summed per building
  (``meter_id`` the nil UUID) and every other meter's (building, substation) on its own.

Both are kept up in the transaction that writes the daily rows they sum (so the tracking table
covers them too): the writers hand the rows they add and remove to ``apply_day_changes``, which sums
the changes per key in Python and writes one upsert per table (keys in sorted order, so two
workers lock rows in the same order), then drops the buckets left without rows. A bucket also
counts its daily rows, so a bucket whose rows were all removed goes away and a rebuild, or
``summarise_daily`` over the same daily rows, gives exactly the same rows (a property test).
The writers: ``ReadingBatchWriter.flush`` (new intervals' days in, stale intervals' days out) and
``recharge_intervals`` (days moving to another household and place). A quality change (faulty,
measured) leaves the heat and the place alone, so it does not touch them, as the reports sum every
daily row whatever its quality, as they did before.

Database triggers would have caught every writer without touching them, but cost a statement per
daily row on the projection's hot path (and a row lock per building and day held by every
household's row): summing a batch's changes first writes one row per bucket instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Index,
    Integer,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from projections.balance_rows import insert_rows
from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.tables import ENERGY_SCALE, daily_consumption, metadata
from projections.types import ScaledDecimal
from projections.unnest_rows import array_type, unnested

ZERO = Decimal(0)
HOUSEHOLD_KIND = "household"
# The meter id of a building's household meters summed together (a key column cannot be NULL).
HOUSEHOLD_METERS = UUID(int=0)
# daily_consumption's columns, in its order, as the writers hold a day row.
DAY_INDEX = {name: index for index, name in enumerate(daily_consumption.c.keys())}
_METER, _DAY, _ENERGY = DAY_INDEX["meter_id"], DAY_INDEX["day"], DAY_INDEX["energy_gj"]
_HOUSEHOLD, _KIND = DAY_INDEX["household_id"], DAY_INDEX["meter_kind"]
_COMMUNITY, _BUILDING = DAY_INDEX["community"], DAY_INDEX["building"]

household_heat_months = Table(
    "household_heat_months",
    metadata,
    Column("household_id", Uuid, primary_key=True),
    Column("month", Date, primary_key=True),  # the month's first day
    Column("energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=False),
    Column("day_rows", Integer, nullable=False),  # daily rows summed here (a bucket has at least one)
)

place_heat_days = Table(
    "place_heat_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("meter_kind", String(32), primary_key=True),
    Column("community", String(128), primary_key=True),
    Column("building", String(64), primary_key=True),
    Column("meter_id", Uuid, primary_key=True),  # HOUSEHOLD_METERS for a building's household meters
    Column("energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=False),
    Column("day_rows", Integer, nullable=False),
)

# Each settlement bill's fees as the reports compare them (``fees_of_bill``), written beside the
# bill: a city's 100,000 bills' lines parsed at every report took seconds. Bills are never edited,
# so a bill's row never changes. The amounts are kept as exact decimal text (lines may carry any
# number of decimals; a scaled integer would refuse some) and summed by the reader.
settlement_bill_fees = Table(
    "settlement_bill_fees",
    metadata,
    Column("bill_id", Uuid, primary_key=True),
    Column("household_id", Uuid, nullable=False),
    Column("season_code", String(16), nullable=False),
    Column("metered_fee_yuan", String(40), nullable=False),
    Column("area_fee_yuan", String(40), nullable=False),
    Column("due_yuan", String(40), nullable=False),
    Index("ix_settlement_bill_fees_season", "season_code"),
)

ANALYTICS_SUMMARY_TABLES = (household_heat_months, place_heat_days, settlement_bill_fees)
SETTLEMENT = "settlement"
# The lines of a settlement bill the fees are read from (domain/settlement.py, domain/billing.py).
AREA_FEE_LINES = ("area_fee", "area_fee_share")
METERED_FEE_LINES = ("metered_fee", "suspension_charge")

# Keys as the sums are gathered: the UUIDs as their ints (hashed and compared in C, where a UUID's
# __hash__, __eq__ and __lt__ are Python calls: a third of the summing went to them). A UUID's
# int orders as the UUID does (and as PostgreSQL orders uuids: big-endian bytes).
MonthKey = tuple[int, date]  # (household's int, the month's first day)
PlaceKey = tuple[date, str, str, str, int]  # (day, meter kind, community, building, place meter's int)
# A bucket's change as summed: [energy_gj, day_rows, its UUID (household or place meter)].
Change = list[Any]


def month_of(day: date) -> date:
    return day.replace(day=1)


def place_meter(meter_kind: str, meter_id: UUID) -> UUID:
    """The meter a day row counts under in ``place_heat_days``."""
    return HOUSEHOLD_METERS if meter_kind == HOUSEHOLD_KIND else meter_id


class _Changes:
    """Heat and row counts added (or, negative, removed) per bucket."""

    def __init__(self) -> None:
        self.months: dict[MonthKey, Change] = {}
        self.places: dict[PlaceKey, Change] = {}

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        """Count ``rows`` in: one loop, inlined (a call per row for the month, the key and each
        count was most of its time)."""
        months, places = self.months, self.places
        first_days: dict[date, date] = {}  # each day's month, computed once per day
        for row in rows:
            energy, kind, day = row[_ENERGY], row[_KIND], row[_DAY]
            if kind == HOUSEHOLD_KIND:
                meter = HOUSEHOLD_METERS
                household = row[_HOUSEHOLD]
                if household is not None:
                    month = first_days.get(day) or first_days.setdefault(day, day.replace(day=1))
                    found = months.get((household.int, month))
                    if found is None:
                        months[(household.int, month)] = [energy, 1, household]
                    else:
                        found[0] += energy
                        found[1] += 1
            else:
                meter = row[_METER]
            place = (day, kind, row[_COMMUNITY], row[_BUILDING], meter.int)
            found = places.get(place)
            if found is None:
                places[place] = [energy, 1, meter]
            else:
                found[0] += energy
                found[1] += 1

    def remove(self, rows: Iterable[Sequence[Any]]) -> None:
        """Count ``rows`` out: summed as ``add`` sums them, then taken from these sums."""
        removed = _Changes()
        removed.add(rows)
        _subtract(self.months, removed.months)
        _subtract(self.places, removed.places)


def _subtract(changes: dict[Any, Change], removed: dict[Any, Change]) -> None:
    for key, (energy, rows, uuid) in removed.items():
        found = changes.get(key)
        if found is None:
            changes[key] = [-energy, -rows, uuid]
        else:
            found[0] -= energy
            found[1] -= rows


def apply_day_changes(
    connection: Connection, added: Iterable[Sequence[Any]] = (), removed: Iterable[Sequence[Any]] = ()
) -> None:
    """Bring the summaries up to daily rows ``added`` and ``removed`` (tuples in
    ``daily_consumption``'s column order), in the caller's transaction."""
    changes = _Changes()
    changes.add(added)
    changes.remove(removed)
    _HEAT_MONTHS.write(
        connection, [(uuid, month, energy, rows) for (_, month), (energy, rows, uuid) in _effective(changes.months)]
    )
    _PLACE_DAYS.write(
        connection,
        [
            (day, kind, community, building, uuid, energy, rows)
            for (day, kind, community, building, _), (energy, rows, uuid) in _effective(changes.places)
        ],
    )


def _effective(changes: dict[Any, Change]) -> list[tuple[Any, Change]]:
    """The changes that change a row (heat or rows), in key order: two workers lock rows in the
    same order."""
    return sorted((key, change) for key, change in changes.items() if change[1] or change[0])


class _SummaryWriter:
    """Adds bucket changes to one summary table: rows in its column order (the key's columns, then
    ``energy_gj`` and ``day_rows``), in key order; a bucket left without daily rows goes."""

    def __init__(self, table: Table, key_names: tuple[str, ...]) -> None:
        self.table = table
        self.key_names = key_names
        self.column_names = tuple(column.name for column in table.c)
        assert self.column_names == (*key_names, "energy_gj", "day_rows"), f"{table.name}'s columns"

    def write(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Add each row's heat and day rows to its bucket's (a new bucket when none), then drop
        the buckets left without rows, in the caller's transaction."""
        if not rows:
            return
        key_width = len(self.key_names)
        emptied = [row[:key_width] for row in rows if row[-1] < 0]  # only a removal can empty one
        if connection.dialect.name == "postgresql":
            self._upsert_arrays(connection, rows)
            if emptied:
                self._delete_emptied_arrays(connection, emptied)
            return
        self._upsert_each(connection, rows)
        if emptied:
            self._delete_emptied_each(connection, emptied)

    def _upsert(self, statement: Any) -> Any:
        """``statement`` (an INSERT) adding to the bucket's row when there is one."""
        return statement.on_conflict_do_update(
            index_elements=list(self.key_names),
            set_={
                "energy_gj": self.table.c.energy_gj + statement.excluded.energy_gj,
                "day_rows": self.table.c.day_rows + statement.excluded.day_rows,
            },
        )

    def _upsert_each(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """SQLite: an executemany of the upsert (in process: no traffic to save)."""
        names = self.column_names
        connection.execute(
            self._upsert(sqlite.insert(self.table)), [dict(zip(names, row, strict=True)) for row in rows]
        )

    def _delete_emptied_each(self, connection: Connection, keys: list[tuple[Any, ...]]) -> None:
        table, names = self.table, self.key_names
        conditions = [table.c[name] == bindparam(f"key_{name}") for name in names]
        connection.execute(
            delete(table).where(and_(*conditions), table.c.day_rows <= 0),
            [{f"key_{name}": value for name, value in zip(names, key, strict=True)} for key in keys],
        )

    def _upsert_arrays(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """PostgreSQL: one upsert of every row, a column each as one binary array (``unnest_rows``)."""
        table, dialect = self.table, connection.dialect
        columns: list[Any] = [list(column) for column in zip(*rows, strict=True)]
        to_units = _ENERGY_UNITS.process_bind_param
        columns[-2] = [to_units(energy, dialect) for energy in columns[-2]]
        source = unnested(connection, self.column_names, columns, [array_type(column.type) for column in table.c])
        connection.execute(
            self._upsert(postgresql.insert(table).from_select(list(self.column_names), select(*source.c)))
        )

    def _delete_emptied_arrays(self, connection: Connection, keys: list[tuple[Any, ...]]) -> None:
        """PostgreSQL: one DELETE of the emptied buckets, their keys as arrays (their rows are
        locked already, by the upsert, in key order)."""
        table, names = self.table, self.key_names
        columns = [list(column) for column in zip(*keys, strict=True)]
        emptied = unnested(connection, names, columns, [table.c[name].type for name in names])
        connection.execute(
            delete(table).where(*(table.c[name] == emptied.c[name] for name in names), table.c.day_rows <= 0)
        )


_ENERGY_UNITS = ScaledDecimal(ENERGY_SCALE)  # energy_gj's type in both tables
_HEAT_MONTHS = _SummaryWriter(household_heat_months, ("household_id", "month"))
_PLACE_DAYS = _SummaryWriter(place_heat_days, ("day", "meter_kind", "community", "building", "meter_id"))


def fees_of_bill(lines: list[dict[str, Any]]) -> tuple[Decimal, Decimal, Decimal]:
    """(metered fee, area fee, due) of one settlement bill; billed by area, the metered fee is the
    area fee (the household paid the same either way). Of two lines of one code the last counts."""
    amounts: dict[str, Decimal] = {}
    for line in lines:
        if line.get("amount_yuan") is not None:
            amounts[str(line["code"])] = Decimal(str(line["amount_yuan"]))
    area = sum((amounts[code] for code in AREA_FEE_LINES if code in amounts), ZERO)
    metered = (
        sum((amounts[code] for code in METERED_FEE_LINES if code in amounts), ZERO)
        if "metered_fee" in amounts
        else area
    )
    due = amounts.get("prepaid", ZERO) + amounts.get("settlement_amount", ZERO)
    return metered, area, due


def record_settlement_fees(
    connection: Connection,
    bill_rows: Sequence[dict[str, Any]],
    bill_lines: Sequence[list[dict[str, Any]]] | None = None,
) -> None:
    """Write the fees of the settlement bills among ``bill_rows`` (``bills`` rows as inserted, their
    lines as JSON text), in the caller's transaction. ``bill_lines``, when given, are each row's
    lines as its event carries them: read as they are instead of parsing the text back (a tenth of
    a settlement's catch-up). The same fees: the text is ``json_text`` of those lines, which writes
    a Decimal as its ``str`` and ``fees_of_bill`` reads every amount through ``str`` (a property
    test, tests/unit/projections/test_settlement_fee_lines.py)."""
    if bill_lines is None:
        bill_lines = [json.loads(row["lines"]) if row["kind"] == SETTLEMENT else [] for row in bill_rows]
    rows = [
        {
            "bill_id": row["bill_id"],
            "household_id": row["household_id"],
            "season_code": row["season_code"],
            **dict(zip(FEE_COLUMNS, map(str, fees_of_bill(lines)), strict=True)),
        }
        for row, lines in zip(bill_rows, bill_lines, strict=True)
        if row["kind"] == SETTLEMENT
    ]
    # One COPY on PostgreSQL (bulk_insert): an executemany sent a prepared INSERT per bill, a sixth
    # of a settlement's catch-up.
    insert_rows(connection, _SETTLEMENT_FEES, rows, ConvertedValues())


FEE_COLUMNS = ("metered_fee_yuan", "area_fee_yuan", "due_yuan")
_SETTLEMENT_FEES = RowsInserter(settlement_bill_fees)


def summarise_daily(connection: Connection) -> None:
    """Write both summaries afresh from every daily row, set-based (for bulk loads that write
    ``daily_consumption`` directly, and to compare with the live ones)."""
    connection.execute(delete(household_heat_months))
    connection.execute(delete(place_heat_days))
    daily = daily_consumption.c
    month = month_expression(connection, daily.day)
    connection.execute(
        insert(household_heat_months).from_select(
            ["household_id", "month", "energy_gj", "day_rows"],
            select(daily.household_id, month, func.sum(daily.energy_gj), func.count())
            .where(daily.meter_kind == HOUSEHOLD_KIND, daily.household_id.is_not(None))
            .group_by(daily.household_id, month),
        )
    )
    meter = _place_meter_expression(daily.meter_kind, daily.meter_id)
    connection.execute(
        insert(place_heat_days).from_select(
            ["day", "meter_kind", "community", "building", "meter_id", "energy_gj", "day_rows"],
            select(
                daily.day,
                daily.meter_kind,
                daily.community,
                daily.building,
                meter,
                func.sum(daily.energy_gj),
                func.count(),
            ).group_by(daily.day, daily.meter_kind, daily.community, daily.building, meter),
        )
    )


def month_expression(connection: Connection, day: Any) -> Any:
    """The first day of ``day``'s month, in SQL."""
    if connection.dialect.name == "postgresql":
        return func.date_trunc("month", day).cast(Date)
    return func.date(day, "start of month")


def _place_meter_expression(kind: Any, meter_id: Any) -> Any:
    return case((kind == HOUSEHOLD_KIND, literal(HOUSEHOLD_METERS, Uuid)), else_=meter_id)


__all__ = [
    "ANALYTICS_SUMMARY_TABLES",
    "HOUSEHOLD_METERS",
    "apply_day_changes",
    "fees_of_bill",
    "household_heat_months",
    "month_expression",
    "month_of",
    "place_heat_days",
    "record_settlement_fees",
    "settlement_bill_fees",
    "summarise_daily",
]
