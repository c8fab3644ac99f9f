"""Reads of the ledger's read models: SQLAlchemy Core selects that give plain records.

Records are frozen dataclasses of primitive values (str, int, Decimal, date, datetime, UUID);
the API turns them into its response models. Every list is bounded by the caller's limit or
by the date range it passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, Select, and_, bindparam, extract, func, select

from domain.values import MeterKind
from projections.tables import (
    ENERGY_SCALE,
    VOLUME_SCALE,
    daily_consumption,
    households,
    meter_intervals,
    meter_readings,
    meter_verifications,
    meters,
    reading_corrections,
)

# Zero with the scale the tables store, so that empty sums look like filled ones.
ZERO_ENERGY_GJ = Decimal(0).scaleb(-ENERGY_SCALE)
ZERO_VOLUME_M3 = Decimal(0).scaleb(-VOLUME_SCALE)
# A bound on any page, whatever the caller asks for.
MAXIMUM_PAGE_SIZE = 1000

RecordType = TypeVar("RecordType")


class Granularity(StrEnum):
    """How consumption is grouped: by business day or by calendar month (Asia/Shanghai)."""

    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True)
class Page(Generic[RecordType]):
    """One page of records, how many there are in all, and whether more follow this page."""

    items: list[RecordType]
    total: int
    has_more: bool = False


@dataclass(frozen=True)
class HouseholdRecord:
    """A household's master data as the read model holds it."""

    household_id: UUID
    account_number: str
    community: str
    building: str
    entrance: str
    floor: int
    flat: str
    connected_area_m2: Decimal
    heated_area_m2: Decimal
    customer_class: str
    vertical_position: str
    horizontal_position: str
    registered_on: date
    heating_suspended: bool
    suspended_since: date | None
    deregistered_on: date | None  # 销户: the first day neither supplied nor billed


@dataclass(frozen=True)
class MeterRecord:
    """A meter, where it sits, the household it serves (if any) and its latest reading."""

    meter_id: UUID
    serial: str
    maker: str
    model: str
    accuracy_class: str
    flow_sensor_side: str
    kind: str
    community: str
    building: str
    commissioned_at: datetime
    household_account_number: str | None
    readings_count: int
    last_measured_at: datetime | None
    last_energy_gj: Decimal | None
    # Lifecycle and condition; defaults keep records built by hand (tests, other read models) valid.
    error_flags: int = 0
    fault_since: datetime | None = None
    decommissioned_at: datetime | None = None
    last_verified_on: date | None = None
    last_verification_passed: bool | None = None


class MeterState(StrEnum):
    """Where a meter stands in its life: in service (attached or not), in service and serving no
    household (a household meter waiting to be fitted), or taken out of service for good."""

    IN_SERVICE = "in_service"
    UNATTACHED = "unattached"
    DECOMMISSIONED = "decommissioned"


@dataclass(frozen=True)
class MeterSearch:
    """Which meters to list: a part of the serial number, the place, the kind and the state."""

    serial: str = ""
    community: str | None = None
    building: str | None = None
    kind: str | None = None
    state: MeterState | None = None


@dataclass(frozen=True)
class VerificationPointRecord:
    """One test point of a verification, with the MPE there and whether the error was within it."""

    flow_rate_m3_h: Decimal
    temperature_difference_k: Decimal
    measured_error_percent: Decimal
    permissible_error_percent: Decimal
    passed: bool


@dataclass(frozen=True)
class VerificationRecord:
    """A verification (JJG 225) of a meter as recorded: its certificate, points and verdict."""

    version: int
    verified_on: date
    recorded_at: datetime
    certificate: str
    passed: bool
    points: list[VerificationPointRecord]
    actor: str
    reason: str


@dataclass(frozen=True)
class CorrectionRecord:
    """A reading a clerk withdrew (voided, or replaced by a correction), with its original values.

    The original's values are None when the reading was no longer in the read models.
    """

    version: int
    measured_at: datetime
    voided_at: datetime
    original_energy_gj: Decimal | None
    original_volume_m3: Decimal | None
    original_source: str | None
    original_actor: str | None
    actor: str
    reason: str
    correlation_id: UUID


@dataclass(frozen=True)
class IntervalRecord:
    """The metered interval ending at a reading, with its k·Δθ·ΔV plausibility check if it had one."""

    start_at: datetime
    energy_gj: Decimal
    volume_m3: Decimal | None
    expected_energy_gj: Decimal | None
    deviation_percent: Decimal | None
    permissible_error_percent: Decimal | None
    plausible: bool | None


@dataclass(frozen=True)
class ReadingRecord:
    """A recorded reading, who recorded it and when, and the interval that ends at it."""

    measured_at: datetime
    energy_gj: Decimal
    volume_m3: Decimal | None
    operating_hours: Decimal | None
    flow_temperature_c: Decimal | None
    return_temperature_c: Decimal | None
    flow_rate_m3_h: Decimal | None
    power_kw: Decimal | None
    error_flags: int
    source: str
    batch_id: UUID
    recorded_at: datetime
    actor: str
    interval: IntervalRecord | None


@dataclass(frozen=True)
class PeriodConsumption:
    """Energy and volume of one period (a day, or the month starting on ``first_day``)."""

    first_day: date
    energy_gj: Decimal
    volume_m3: Decimal


@dataclass(frozen=True)
class ConsumptionTotal:
    """Energy and volume summed over a range of days."""

    energy_gj: Decimal
    volume_m3: Decimal


_HOUSEHOLD_COLUMNS = (
    households.c.household_id,
    households.c.account_number,
    households.c.community,
    households.c.building,
    households.c.entrance,
    households.c.floor,
    households.c.flat,
    households.c.connected_area_m2,
    households.c.heated_area_m2,
    households.c.customer_class,
    households.c.vertical_position,
    households.c.horizontal_position,
    households.c.registered_on,
    households.c.heating_suspended,
    households.c.suspended_since,
    households.c.deregistered_on,
)
_METER_COLUMNS = (
    meters.c.meter_id,
    meters.c.serial,
    meters.c.maker,
    meters.c.model,
    meters.c.accuracy_class,
    meters.c.flow_sensor_side,
    meters.c.kind,
    meters.c.community,
    meters.c.building,
    meters.c.commissioned_at,
    households.c.account_number.label("household_account_number"),
    meters.c.readings_count,
    meters.c.last_measured_at,
    meters.c.last_energy_gj,
    meters.c.error_flags,
    meters.c.fault_since,
    meters.c.decommissioned_at,
    meters.c.last_verified_on,
    meters.c.last_verification_passed,
)
_INTERVAL_COLUMNS = (
    meter_intervals.c.start_at.label("interval_start_at"),
    meter_intervals.c.energy_gj.label("interval_energy_gj"),
    meter_intervals.c.volume_m3.label("interval_volume_m3"),
    meter_intervals.c.expected_energy_gj,
    meter_intervals.c.deviation_percent,
    meter_intervals.c.permissible_error_percent,
    meter_intervals.c.plausible,
)
# Sums of ScaledDecimal columns come back as exact Decimals on both backends. A volume sum is None
# when no meter in it reports a volume register (unknown is not zero).
_SUMS = (
    func.sum(daily_consumption.c.energy_gj).label("energy_gj"),
    func.sum(daily_consumption.c.volume_m3).label("volume_m3"),
)
_READING_FIELDS = (
    "measured_at",
    "energy_gj",
    "volume_m3",
    "operating_hours",
    "flow_temperature_c",
    "return_temperature_c",
    "flow_rate_m3_h",
    "power_kw",
    "error_flags",
    "source",
    "batch_id",
    "recorded_at",
    "actor",
)


class LedgerQueries:
    """Households, meters, readings and consumption from the read models on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- households ---------------------------------------------------------------------------

    def household(self, account_number: str) -> HouseholdRecord | None:
        """The household with this account number, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(_HOUSEHOLD_BY_ACCOUNT, {"account_number": account_number}).mappings().first()
        return HouseholdRecord(**row) if row else None

    def households(
        self, community: str | None = None, building: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[HouseholdRecord]:
        """Households ordered by account number, optionally in one community or building."""
        conditions = _place_conditions(households.c.community, households.c.building, community, building)
        page = (
            select(*_HOUSEHOLD_COLUMNS)
            .where(*conditions)
            .order_by(households.c.account_number)
            .limit(_bounded(limit))
            .offset(offset)
        )
        total = select(func.count()).select_from(households).where(*conditions)
        with self.engine.connect() as connection:
            items = [HouseholdRecord(**row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)

    # -- meters -------------------------------------------------------------------------------

    def meter(self, serial: str) -> MeterRecord | None:
        """The meter with this serial number, or None."""
        row = self._first(_meters_select().where(meters.c.serial == serial))
        return MeterRecord(**row) if row else None

    def meters(self, search: MeterSearch, limit: int = 50, offset: int = 0) -> Page[MeterRecord]:
        """Meters by serial number whose serial contains ``search.serial`` (any case), optionally of
        one community, building, kind and state."""
        conditions = _meter_conditions(search)
        page = _meters_select().where(*conditions).order_by(meters.c.serial).limit(_bounded(limit)).offset(offset)
        total = select(func.count()).select_from(meters).where(*conditions)
        with self.engine.connect() as connection:
            items = [MeterRecord(**row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)

    def meters_of_household(self, household_id: UUID) -> list[MeterRecord]:
        """The meters attached to a household now, by serial number."""
        with self.engine.connect() as connection:
            rows = connection.execute(_METERS_OF_HOUSEHOLD, {"household_id": household_id}).mappings()
            return [MeterRecord(**row) for row in rows]

    def place_exists(self, community: str, building: str | None = None) -> bool:
        """Whether any household or meter sits in this community (and building)."""
        household_at = select(households.c.household_id).where(
            *_place_conditions(households.c.community, households.c.building, community, building)
        )
        meter_at = select(meters.c.meter_id).where(
            *_place_conditions(meters.c.community, meters.c.building, community, building)
        )
        with self.engine.connect() as connection:
            return any(connection.execute(statement.limit(1)).first() for statement in (household_at, meter_at))

    def communities(self, limit: int = 10_000) -> list[str]:
        """The communities households are registered in, by name (a city has hundreds at most)."""
        statement = select(households.c.community).distinct().order_by(households.c.community).limit(limit)
        with self.engine.connect() as connection:
            return list(connection.scalars(statement))

    # -- readings -----------------------------------------------------------------------------

    def readings(
        self, meter_id: UUID, limit: int, offset: int = 0, before: datetime | None = None
    ) -> Page[ReadingRecord]:
        """A meter's readings, newest first, each with the interval that ends at it.

        ``before`` continues after the last reading of a previous page (keyset paging): it stays
        exact while new readings arrive, which ``offset`` does not.
        """
        conditions: list[ColumnElement[bool]] = [meter_readings.c.meter_id == meter_id]
        if before is not None:
            conditions.append(meter_readings.c.measured_at < before)
        interval_join = and_(
            meter_intervals.c.meter_id == meter_readings.c.meter_id,
            meter_intervals.c.end_at == meter_readings.c.measured_at,
        )
        page = (
            select(*(meter_readings.c[name] for name in _READING_FIELDS), *_INTERVAL_COLUMNS)
            .select_from(meter_readings.outerjoin(meter_intervals, interval_join))
            .where(*conditions)
            .order_by(meter_readings.c.measured_at.desc())
            .limit(_bounded(limit) + 1)
            .offset(offset)
        )
        total = select(func.count()).select_from(meter_readings).where(meter_readings.c.meter_id == meter_id)
        with self.engine.connect() as connection:
            items = [_reading_record(row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items[: _bounded(limit)], count, has_more=len(items) > _bounded(limit))

    # -- lifecycle and corrections ------------------------------------------------------------

    def verifications(self, meter_id: UUID, limit: int, offset: int = 0) -> Page[VerificationRecord]:
        """A meter's verifications, the latest verified first (the later recorded first on one day)."""
        page = (
            select(meter_verifications)
            .where(meter_verifications.c.meter_id == meter_id)
            .order_by(meter_verifications.c.verified_on.desc(), meter_verifications.c.version.desc())
            .limit(_bounded(limit))
            .offset(offset)
        )
        total = select(func.count()).select_from(meter_verifications).where(meter_verifications.c.meter_id == meter_id)
        with self.engine.connect() as connection:
            items = [_verification_record(row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)

    def corrections(self, meter_id: UUID, limit: int, offset: int = 0) -> Page[CorrectionRecord]:
        """The readings withdrawn from a meter, with their original values, the latest withdrawn first."""
        columns = reading_corrections.c
        page = (
            select(
                columns.version,
                columns.measured_at,
                columns.voided_at,
                columns.energy_gj.label("original_energy_gj"),
                columns.volume_m3.label("original_volume_m3"),
                columns.source.label("original_source"),
                columns.original_actor,
                columns.actor,
                columns.reason,
                columns.correlation_id,
            )
            .where(columns.meter_id == meter_id)
            .order_by(columns.version.desc())
            .limit(_bounded(limit))
            .offset(offset)
        )
        total = select(func.count()).select_from(reading_corrections).where(columns.meter_id == meter_id)
        with self.engine.connect() as connection:
            items = [CorrectionRecord(**row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)

    # -- consumption --------------------------------------------------------------------------

    def household_consumption(
        self, household_id: UUID, first_day: date, last_day: date, granularity: Granularity
    ) -> list[PeriodConsumption]:
        """A household's metered consumption per day or month, oldest first."""
        if Granularity(granularity) is Granularity.DAY:
            arguments = {"household_id": household_id, "first_day": first_day, "last_day": last_day}
            with self.engine.connect() as connection:
                rows = connection.execute(_HOUSEHOLD_BY_DAY, arguments)
                return [PeriodConsumption(row.day, row.energy_gj, row.volume_m3) for row in rows]
        return self._consumption([daily_consumption.c.household_id == household_id], first_day, last_day, granularity)

    def meter_consumption(
        self, meter_id: UUID, first_day: date, last_day: date, granularity: Granularity
    ) -> list[PeriodConsumption]:
        """A meter's metered consumption per day or month, oldest first."""
        return self._consumption([daily_consumption.c.meter_id == meter_id], first_day, last_day, granularity)

    def household_by_day_of_account(
        self, account_number: str, first_day: date, last_day: date
    ) -> tuple[UUID, list[PeriodConsumption]] | None:
        """The household with this account number and its metered consumption per day over
        ``first_day``…``last_day``, oldest first, in one statement, or None without such a
        household: what ``household`` and ``household_consumption`` by day answer in two round
        trips (the API's consumption read, issue 17)."""
        arguments = {"account_number": account_number, "first_day": first_day, "last_day": last_day}
        with self.engine.connect() as connection:
            rows = connection.execute(_HOUSEHOLD_BY_DAY_OF_ACCOUNT, arguments).all()
        if not rows:
            return None
        # A household without a metered day in the range joins no day: one row with no day.
        days = [PeriodConsumption(row.day, row.energy_gj, row.volume_m3) for row in rows if row.day is not None]
        return rows[0].household_id, days

    def household_with_total(
        self, account_number: str, first_day: date, last_day: date
    ) -> tuple[HouseholdRecord, ConsumptionTotal] | None:
        """The household with this account number and its metered consumption summed over
        ``first_day``…``last_day`` in one statement, or None: what ``household`` and
        ``household_total`` answer in two round trips (the API's household read, issue 17)."""
        arguments = {"account_number": account_number, "first_day": first_day, "last_day": last_day}
        with self.engine.connect() as connection:
            row = connection.execute(_HOUSEHOLD_WITH_TOTAL, arguments).mappings().first()
        if row is None:
            return None
        values = dict(row)
        total = _total(values.pop(_TOTAL_ENERGY_GJ), values.pop(_TOTAL_VOLUME_M3))
        return HouseholdRecord(**values), total

    def household_with_total_and_meters(
        self, account_number: str, first_day: date, last_day: date
    ) -> tuple[HouseholdRecord, ConsumptionTotal, list[MeterRecord]] | None:
        """``household_with_total`` and the household's ``meters_of_household`` in one statement
        (the household outer-joined to its meters, one row a meter), or None: the API's
        household read, one round trip instead of two (issue 17)."""
        arguments = {"account_number": account_number, "first_day": first_day, "last_day": last_day}
        with self.engine.connect() as connection:
            rows = connection.execute(_HOUSEHOLD_WITH_TOTAL_AND_METERS, arguments).all()
        if not rows:
            return None
        first = rows[0]
        household = HouseholdRecord(*first[: len(_HOUSEHOLD_COLUMNS)])
        total = _total(first[len(_HOUSEHOLD_COLUMNS)], first[len(_HOUSEHOLD_COLUMNS) + 1])
        meter_at = len(_HOUSEHOLD_COLUMNS) + 2
        # An outer join: a household without meters has one row, whose meter columns are NULL.
        meters_found = [MeterRecord(*row[meter_at:]) for row in rows if row[meter_at] is not None]
        return household, total, meters_found

    def household_total(self, household_id: UUID, first_day: date, last_day: date) -> ConsumptionTotal:
        """A household's metered consumption summed over ``first_day``…``last_day``."""
        arguments = {"household_id": household_id, "first_day": first_day, "last_day": last_day}
        with self.engine.connect() as connection:
            energy, volume = connection.execute(_HOUSEHOLD_TOTAL, arguments).one()
        return _total(energy, volume)

    def place_consumption(
        self,
        community: str,
        building: str | None,
        meter_kind: MeterKind,
        first_day: date,
        last_day: date,
        granularity: Granularity,
    ) -> list[PeriodConsumption]:
        """Consumption per period in a community (or one building) by meters of one kind.

        Household meters count only while they serve a household, so a meter lying in the store
        after its removal adds nothing to the building.
        """
        conditions = [
            *_place_conditions(daily_consumption.c.community, daily_consumption.c.building, community, building),
            daily_consumption.c.meter_kind == MeterKind(meter_kind).value,
        ]
        if MeterKind(meter_kind) is MeterKind.HOUSEHOLD:
            conditions.append(daily_consumption.c.household_id.is_not(None))
        return self._consumption(conditions, first_day, last_day, granularity)

    def _consumption(
        self, conditions: list[ColumnElement[bool]], first_day: date, last_day: date, granularity: Granularity
    ) -> list[PeriodConsumption]:
        in_range = [*conditions, daily_consumption.c.day.between(first_day, last_day)]
        if Granularity(granularity) is Granularity.DAY:
            return self._by_day(in_range)
        return self._by_month(in_range)

    def _by_day(self, conditions: list[ColumnElement[bool]]) -> list[PeriodConsumption]:
        day = daily_consumption.c.day
        statement = select(day, *_SUMS).where(*conditions).group_by(day).order_by(day)
        with self.engine.connect() as connection:
            return [PeriodConsumption(row.day, row.energy_gj, row.volume_m3) for row in connection.execute(statement)]

    def _by_month(self, conditions: list[ColumnElement[bool]]) -> list[PeriodConsumption]:
        # extract() compiles to EXTRACT on PostgreSQL and to STRFTIME on SQLite.
        year = extract("year", daily_consumption.c.day).label("year")
        month = extract("month", daily_consumption.c.day).label("month")
        statement = select(year, month, *_SUMS).where(*conditions).group_by(year, month).order_by(year, month)
        with self.engine.connect() as connection:
            return [
                PeriodConsumption(date(int(row.year), int(row.month), 1), row.energy_gj, row.volume_m3)
                for row in connection.execute(statement)
            ]

    # -- helpers ------------------------------------------------------------------------------

    def _first(self, statement: Select[Any]) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(statement).mappings().first()
        return dict(row) if row else None


def _total(energy_gj: Decimal | None, volume_m3: Decimal | None) -> ConsumptionTotal:
    """A sum over days, zero where no day was metered (SQL's sum of nothing is NULL)."""
    return ConsumptionTotal(
        energy_gj if energy_gj is not None else ZERO_ENERGY_GJ, volume_m3 if volume_m3 is not None else ZERO_VOLUME_M3
    )


def _meters_select() -> Select[Any]:
    return select(*_METER_COLUMNS).select_from(
        meters.outerjoin(households, meters.c.household_id == households.c.household_id)
    )


# The statements of a household's reads (issue 17), built once with bound parameters: a statement
# built per call is traversed for its cache key on every execution (about 40-80 µs each), one
# built once is keyed once. The API's household, consumption, bills and account reads use them.
_HOUSEHOLD_BY_ACCOUNT = select(*_HOUSEHOLD_COLUMNS).where(households.c.account_number == bindparam("account_number"))
_METERS_OF_HOUSEHOLD = (
    _meters_select().where(meters.c.household_id == bindparam("household_id")).order_by(meters.c.serial)
)
_HOUSEHOLD_DAYS = and_(
    daily_consumption.c.household_id == bindparam("household_id"),
    daily_consumption.c.day.between(bindparam("first_day"), bindparam("last_day")),
)
_HOUSEHOLD_TOTAL = select(func.sum(daily_consumption.c.energy_gj), func.sum(daily_consumption.c.volume_m3)).where(
    _HOUSEHOLD_DAYS
)
_HOUSEHOLD_BY_DAY = (
    select(daily_consumption.c.day, *_SUMS)
    .where(_HOUSEHOLD_DAYS)
    .group_by(daily_consumption.c.day)
    .order_by(daily_consumption.c.day)
)
# One statement a read on PostgreSQL is one round trip (each costs a wait for the server and the
# server's own work, on the same cores): the household's look-up joined to what it reads.
_TOTAL_ENERGY_GJ, _TOTAL_VOLUME_M3 = "total_energy_gj", "total_volume_m3"
_DAYS_OF_LOOKED_UP = and_(
    daily_consumption.c.household_id == households.c.household_id,
    daily_consumption.c.day.between(bindparam("first_day"), bindparam("last_day")),
)
_HOUSEHOLD_WITH_TOTAL = select(
    *_HOUSEHOLD_COLUMNS,
    select(func.sum(daily_consumption.c.energy_gj)).where(_DAYS_OF_LOOKED_UP).scalar_subquery().label(_TOTAL_ENERGY_GJ),
    select(func.sum(daily_consumption.c.volume_m3)).where(_DAYS_OF_LOOKED_UP).scalar_subquery().label(_TOTAL_VOLUME_M3),
).where(households.c.account_number == bindparam("account_number"))
_HOUSEHOLD_WITH_TOTAL_AND_METERS = (
    _HOUSEHOLD_WITH_TOTAL.add_columns(*_METER_COLUMNS)
    .select_from(households.outerjoin(meters, meters.c.household_id == households.c.household_id))
    .order_by(meters.c.serial)
)
_HOUSEHOLD_BY_DAY_OF_ACCOUNT = (
    select(households.c.household_id, daily_consumption.c.day, *_SUMS)
    .select_from(households.outerjoin(daily_consumption, _DAYS_OF_LOOKED_UP))
    .where(households.c.account_number == bindparam("account_number"))
    .group_by(households.c.household_id, daily_consumption.c.day)
    .order_by(daily_consumption.c.day)
)


def _meter_conditions(search: MeterSearch) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a meter search (on the meters table alone, so the count needs no join)."""
    conditions = _place_conditions(meters.c.community, meters.c.building, search.community, search.building)
    if search.serial:
        conditions.append(meters.c.serial.icontains(search.serial, autoescape=True))
    if search.kind is not None:
        conditions.append(meters.c.kind == search.kind)
    if search.state is MeterState.IN_SERVICE:
        conditions.append(meters.c.decommissioned_at.is_(None))
    elif search.state is MeterState.UNATTACHED:
        conditions += [meters.c.decommissioned_at.is_(None), meters.c.household_id.is_(None)]
    elif search.state is MeterState.DECOMMISSIONED:
        conditions.append(meters.c.decommissioned_at.is_not(None))
    return conditions


def _place_conditions(
    community_column: Any, building_column: Any, community: str | None, building: str | None
) -> list[ColumnElement[bool]]:
    conditions = []
    if community is not None:
        conditions.append(community_column == community)
    if building is not None:
        conditions.append(building_column == building)
    return conditions


def _bounded(limit: int) -> int:
    assert limit > 0, "a page holds at least one record"
    return min(limit, MAXIMUM_PAGE_SIZE)


def _reading_record(row: Any) -> ReadingRecord:
    interval = None
    if row["interval_start_at"] is not None:
        interval = IntervalRecord(
            start_at=row["interval_start_at"],
            energy_gj=row["interval_energy_gj"],
            volume_m3=row["interval_volume_m3"],
            expected_energy_gj=row["expected_energy_gj"],
            deviation_percent=row["deviation_percent"],
            permissible_error_percent=row["permissible_error_percent"],
            plausible=row["plausible"],
        )
    return ReadingRecord(**{name: row[name] for name in _READING_FIELDS}, interval=interval)


def _verification_record(row: Any) -> VerificationRecord:
    points = [
        VerificationPointRecord(
            flow_rate_m3_h=Decimal(point["flow_rate_m3_h"]),
            temperature_difference_k=Decimal(point["temperature_difference_k"]),
            measured_error_percent=Decimal(point["measured_error_percent"]),
            permissible_error_percent=Decimal(point["permissible_error_percent"]),
            passed=bool(point["passed"]),
        )
        for point in json.loads(row["points"])
    ]
    return VerificationRecord(
        version=row["version"],
        verified_on=row["verified_on"],
        recorded_at=row["recorded_at"],
        certificate=row["certificate"],
        passed=row["passed"],
        points=points,
        actor=row["actor"],
        reason=row["reason"],
    )
