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

MonthKey = tuple[UUID, date]
PlaceKey = tuple[date, str, str, str, UUID]
Change = list[Any]  # [energy_gj, day_rows]


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

    def add(self, rows: Iterable[Sequence[Any]], sign: int) -> None:
        for row in rows:
            energy, kind = row[_ENERGY] * sign, row[_KIND]
            if kind == HOUSEHOLD_KIND and row[_HOUSEHOLD] is not None:
                _count(self.months, (row[_HOUSEHOLD], month_of(row[_DAY])), energy, sign)
            key = (row[_DAY], kind, row[_COMMUNITY], row[_BUILDING], place_meter(kind, row[_METER]))
            _count(self.places, key, energy, sign)


def _count(changes: dict[Any, Change], key: Any, energy: Decimal, rows: int) -> None:
    found = changes.get(key)
    if found is None:
        changes[key] = [energy, rows]
    else:
        found[0] += energy
        found[1] += rows


def apply_day_changes(
    connection: Connection, added: Iterable[Sequence[Any]] = (), removed: Iterable[Sequence[Any]] = ()
) -> None:
    """Bring the summaries up to daily rows ``added`` and ``removed`` (tuples in
    ``daily_consumption``'s column order), in the caller's transaction."""
    changes = _Changes()
    changes.add(removed, -1)
    changes.add(added, 1)
    _upsert(connection, household_heat_months, ("household_id", "month"), changes.months)
    _upsert(connection, place_heat_days, ("day", "meter_kind", "community", "building", "meter_id"), changes.places)


def _upsert(connection: Connection, table: Table, key_names: tuple[str, ...], changes: dict[Any, Change]) -> None:
    """Add each bucket's change to its row (a new row when none), then drop rows left without days."""
    effective = sorted((key, change) for key, change in changes.items() if change[1] or change[0])
    if not effective:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(key_names),
        set_={
            "energy_gj": table.c.energy_gj + statement.excluded.energy_gj,
            "day_rows": table.c.day_rows + statement.excluded.day_rows,
        },
    )
    connection.execute(
        statement,
        [
            {**dict(zip(key_names, key, strict=True)), "energy_gj": energy, "day_rows": rows}
            for key, (energy, rows) in effective
        ],
    )
    emptied = [key for key, (_, rows) in effective if rows < 0]
    if emptied:
        conditions = [table.c[name] == bindparam(f"key_{name}") for name in key_names]
        connection.execute(
            delete(table).where(and_(*conditions), table.c.day_rows <= 0),
            [{f"key_{name}": value for name, value in zip(key_names, key, strict=True)} for key in emptied],
        )


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
