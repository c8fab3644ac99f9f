"""The read-model queries of the analytics reports (issue 15): set-based selects over a season.

Each report reads a handful of statements whatever the city's size: one aggregate over the
season's daily consumption grouped by household (heat per price period), one over the settlement
bills, one over the meters' daily heat per place. Python then sums exact Decimals.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
)

from application.analytics_reports import (
    BuildingMeterSeason,
    CollectionRow,
    HouseholdSeason,
    PlaceDay,
    SubstationConfiguration,
)
from domain.billing import BillKind
from domain.season import Season
from domain.tariff import CITY_SCOPE, SOURCE_COEFFICIENT_TABLE, TariffTerms
from projections.analytics_summary import (
    HOUSEHOLD_METERS,
    fees_of_bill,
    household_heat_months,
    place_heat_days,
    settlement_bill_fees,
)
from projections.season_charges import season_charges_settled
from projections.tables import (
    AREA_SCALE,
    ENERGY_SCALE,
    bills,
    daily_consumption,
    households,
    substation_configurations,
    substation_feeds,
    tariff_versions,
)

ZERO = Decimal(0)
HOUSEHOLD_KIND = "household"
BUILDING_KIND = "building"


class SqlAnalyticsReads:
    """``application.analytics_reports.AnalyticsReads`` over the ledger's read models."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def household_seasons(
        self, season: Season, period_starts: Sequence[date], with_fees: bool = False
    ) -> list[HouseholdSeason]:
        """Every household supplied in the season (registered by its last day, not deregistered
        before its first), with its household meters' heat of the season's days per price period
        (whole months from ``household_heat_months``, the days of a month a period starts or ends
        within from ``daily_consumption``) and, ``with_fees``, its settlement bills' fees.

        One statement joins them (a city's 100,000 households looked up by id in dicts cost more
        than reading them); its rows come in household order, one per settlement bill."""
        starts = sorted(set(period_starts)) or [season.first_day]
        energy = _energy_by_period(season, starts)
        columns = households.c
        selected: list[Any] = [
            columns.household_id,
            columns.community,
            columns.building,
            columns.customer_class,
            columns.floor,
            columns.vertical_position,
            columns.horizontal_position,
            _units(columns.connected_area_m2),
            _units(columns.heated_area_m2),
            *(energy.c[f"period_{index}"] for index in range(len(starts))),
        ]
        joined = households.outerjoin(energy, energy.c.household_id == columns.household_id)
        fees = settlement_bill_fees.c
        if with_fees:
            selected += [fees.metered_fee_yuan, fees.area_fee_yuan, fees.due_yuan]
            joined = joined.outerjoin(
                settlement_bill_fees, and_(fees.household_id == columns.household_id, fees.season_code == season.code)
            )
        statement = (
            select(*selected)
            .select_from(joined)
            .where(
                columns.registered_on <= season.last_day,
                or_(columns.deregistered_on.is_(None), columns.deregistered_on > season.first_day),
            )
            .order_by(columns.household_id)
        )
        periods = len(starts)
        found: list[HouseholdSeason] = []
        with self.engine.connect() as connection:
            _roomy_sorts(connection)
            unrecorded = self._unrecorded_fees(connection, season.code) if with_fees else {}
            for row in connection.execute(statement).all():
                energies = tuple(ZERO if value is None else _gj(value) for value in row[9 : 9 + periods])
                bill = _bill_fees(row[9 + periods :]) if with_fees else None
                if found and found[-1].household_id == row[0]:  # another settlement bill of the same household
                    found[-1] = found[-1].with_fees(bill)
                    continue
                household_id, community, building, customer_class, floor, vertical, horizontal, connected, heated = row[
                    :9
                ]
                if unrecorded and row[0] in unrecorded:
                    bill = _summed(bill, unrecorded[row[0]])
                found.append(
                    HouseholdSeason(
                        household_id,
                        community,
                        building,
                        customer_class,
                        floor,
                        vertical,
                        horizontal,
                        Decimal(connected).scaleb(-AREA_SCALE),
                        Decimal(heated).scaleb(-AREA_SCALE),
                        energies,
                        bill,
                    )
                )
        return found

    def _unrecorded_fees(self, connection: Connection, season_code: str) -> dict[Any, tuple[Decimal, ...]]:
        """The fees of settlement bills without a ``settlement_bill_fees`` row (issued before that
        table existed), from their lines, per household."""
        fees = settlement_bill_fees.c
        statement = select(bills.c.household_id, bills.c.lines).where(
            bills.c.season_code == season_code,
            bills.c.kind == BillKind.SETTLEMENT.value,
            ~select(fees.bill_id).where(fees.bill_id == bills.c.bill_id).exists(),
        )
        sums: dict[Any, list[Decimal]] = {}
        for household_id, lines in connection.execute(statement).all():
            _add_fees(sums, household_id, fees_of_bill(json.loads(lines)))
        return {household_id: tuple(figures) for household_id, figures in sums.items()}

    def place_days(self, season: Season) -> list[PlaceDay]:
        """Heat per day and place: household meters summed per building, building and substation
        meters each on their own (``place_heat_days``, kept summed by the projection)."""
        summed = place_heat_days.c
        statement = select(
            summed.meter_kind, summed.community, summed.building, summed.day, summed.meter_id, summed.energy_gj
        ).where(summed.day.between(season.first_day, season.last_day))
        with self.engine.connect() as connection:
            return [
                PlaceDay(kind, community, building, day, energy, None if meter_id == HOUSEHOLD_METERS else meter_id)
                for kind, community, building, day, meter_id, energy in connection.execute(statement).all()
            ]

    def building_meters(self, season: Season) -> list[BuildingMeterSeason]:
        """Each building meter's heat per day, beside its building's household meters' heat. On
        PostgreSQL a meter's days come as one row of arrays (a city's 300,000 meter-days as rows
        cost most of the heat-loss report's time)."""
        fed, delivered = place_heat_days.alias("fed"), place_heat_days.alias("delivered")
        joined = fed.outerjoin(
            delivered,
            and_(
                delivered.c.day == fed.c.day,
                delivered.c.meter_kind == HOUSEHOLD_KIND,
                delivered.c.community == fed.c.community,
                delivered.c.building == fed.c.building,
                delivered.c.meter_id == HOUSEHOLD_METERS,
            ),
        )
        delivered_units = func.coalesce(_units(delivered.c.energy_gj), 0)
        conditions = (fed.c.meter_kind == BUILDING_KIND, fed.c.day.between(season.first_day, season.last_day))
        with self.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                _roomy_sorts(connection)
                place = (fed.c.meter_id, fed.c.community, fed.c.building)
                statement = (
                    select(
                        *place,
                        func.array_agg(fed.c.day),
                        func.array_agg(_units(fed.c.energy_gj)),
                        func.array_agg(delivered_units),
                    )
                    .select_from(joined)
                    .where(*conditions)
                    .group_by(*place)
                )
                rows: Sequence[Any] = connection.execute(statement).all()
            else:
                statement = (
                    select(
                        fed.c.meter_id,
                        fed.c.community,
                        fed.c.building,
                        fed.c.day,
                        _units(fed.c.energy_gj),
                        delivered_units,
                    )
                    .select_from(joined)
                    .where(*conditions)
                )
                rows = _as_series(connection.execute(statement).all())
        return [
            BuildingMeterSeason(
                meter_id,
                community,
                building,
                dict(zip(days, map(_gj, fed_units), strict=True)),
                dict(zip(days, map(_gj, delivered_units_), strict=True)),
            )
            for meter_id, community, building, days, fed_units, delivered_units_ in rows
        ]

    def household_heat_by_day(
        self, season: Season, communities: Collection[str], buildings: Collection[tuple[str, str]]
    ) -> tuple[dict[str, dict[date, Decimal]], dict[tuple[str, str], dict[date, Decimal]]]:
        """The household meters' heat per day of each of ``communities`` and of ``buildings``."""
        summed = place_heat_days.c
        households_of_season = (
            summed.meter_kind == HOUSEHOLD_KIND,
            summed.meter_id == HOUSEHOLD_METERS,
            summed.day.between(season.first_day, season.last_day),
        )
        by_community: dict[str, dict[date, Decimal]] = {}
        by_building: dict[tuple[str, str], dict[date, Decimal]] = {}
        with self.engine.connect() as connection:
            if communities:
                statement = (
                    select(summed.community, summed.day, _units(func.sum(summed.energy_gj)))
                    .where(*households_of_season, summed.community.in_(sorted(communities)))
                    .group_by(summed.community, summed.day)
                )
                for community, day, energy in connection.execute(statement).all():
                    by_community.setdefault(community, {})[day] = _gj(energy)
            if buildings:
                named = select(summed.community, summed.building, summed.day, _units(summed.energy_gj)).where(
                    *households_of_season, tuple_(summed.community, summed.building).in_(sorted(buildings))
                )
                for community, building, day, energy in connection.execute(named).all():
                    by_building.setdefault((community, building), {})[day] = _gj(energy)
        return by_community, by_building

    def meter_heat_by_day(self, season: Season, meter_ids: Collection[UUID]) -> dict[UUID, dict[date, Decimal]]:
        """Each of ``meter_ids``' heat per day (wherever it measured)."""
        if not meter_ids:
            return {}
        summed = place_heat_days.c
        statement = (
            select(summed.meter_id, summed.day, _units(func.sum(summed.energy_gj)))
            .where(summed.meter_id.in_(sorted(meter_ids)), summed.day.between(season.first_day, season.last_day))
            .group_by(summed.meter_id, summed.day)
        )
        found: dict[UUID, dict[date, Decimal]] = {}
        with self.engine.connect() as connection:
            for meter_id, day, energy in connection.execute(statement).all():
                found.setdefault(meter_id, {})[day] = _gj(energy)
        return found

    def substation_configurations(self) -> list[SubstationConfiguration]:
        """Every configuration of every substation, with the places it feeds."""
        configurations = substation_configurations.c
        feeds = substation_feeds.c
        with self.engine.connect() as connection:
            places: dict[tuple[Any, date], list[tuple[str, str]]] = {}
            for row in connection.execute(select(substation_feeds).order_by(feeds.community, feeds.building)):
                places.setdefault((row.substation_id, row.effective_on), []).append((row.community, row.building))
            rows = connection.execute(
                select(substation_configurations).order_by(configurations.name, configurations.effective_on)
            )
            return [
                SubstationConfiguration(
                    row.name,
                    row.effective_on,
                    row.heat_source,
                    row.meter_serial,
                    row.meter_id,
                    tuple(places.get((row.substation_id, row.effective_on), [])),
                )
                for row in rows
            ]

    def position_table(self, season: Season) -> dict[str, Decimal]:
        """The coefficient table of the city's residential tariff in force on the season's first
        day (the source's table when none is)."""
        columns = tariff_versions.c
        statement = (
            select(columns.terms)
            .where(
                columns.customer_class == "residential",
                columns.scope == CITY_SCOPE,
                columns.effective_from <= season.first_day,
                or_(columns.effective_until.is_(None), columns.effective_until >= season.first_day),
            )
            .order_by(columns.version.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            terms = connection.execute(statement).scalar_one_or_none()
        if terms is None:
            return dict(SOURCE_COEFFICIENT_TABLE)
        return dict(TariffTerms.from_record(json.loads(terms)).position_coefficients)

    def collection(self, season_code: str) -> list[CollectionRow]:
        """Per community and building: the season's bills that charge money, and what payments
        and credit notes settled of them (``season_charges_settled``, as the collection-rate read)."""
        conditions = [bills.c.season_code == season_code, bills.c.amount_yuan > ZERO]
        statement = season_charges_settled(conditions, [bills.c.community, bills.c.building])
        with self.engine.connect() as connection:
            return [
                CollectionRow(
                    season_code,
                    row.community,
                    row.building,
                    int(row.households),
                    _yuan(row.charged_yuan),
                    _yuan(row.paid_yuan) + _yuan(row.from_credit_notes_yuan),
                )
                for row in connection.execute(statement)
            ]


def _energy_by_period(season: Season, starts: Sequence[date]) -> Any:
    """Per household, the heat of each price period (columns ``period_0`` …) of the season's days."""
    months, partial_days = _months_and_days(season, starts)
    parts = []
    if months:
        summed = household_heat_months.c
        parts.append(
            select(summed.household_id, _period_index(summed.month, starts).label("period"), summed.energy_gj).where(
                summed.month.in_(months)
            )
        )
    if partial_days:
        daily = daily_consumption.c
        parts.append(
            select(daily.household_id, _period_index(daily.day, starts).label("period"), daily.energy_gj).where(
                daily.meter_kind == HOUSEHOLD_KIND,
                daily.household_id.is_not(None),
                or_(*(daily.day.between(first, last) for first, last in partial_days)),
            )
        )
    heat = union_all(*parts).subquery("heat") if len(parts) > 1 else parts[0].subquery("heat")
    return (
        select(
            heat.c.household_id,
            *(
                _units(func.sum(case((heat.c.period == index, heat.c.energy_gj), else_=literal(0)))).label(
                    f"period_{index}"
                )
                for index in range(len(starts))
            ),
        )
        .group_by(heat.c.household_id)
        .subquery("energy")
    )


def _as_series(rows: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of (meter, community, building, day, fed, delivered) as one row per meter and place
    with lists of days, fed and delivered (as PostgreSQL's array_agg gives them)."""
    series: dict[tuple[Any, ...], tuple[list[Any], list[Any], list[Any]]] = {}
    for meter_id, community, building, day, fed, delivered in rows:
        days, feds, delivereds = series.setdefault((meter_id, community, building), ([], [], []))
        days.append(day)
        feds.append(fed)
        delivereds.append(delivered)
    return [(*key, *lists) for key, lists in series.items()]


def _units(column: Any) -> Any:
    """A scaled quantity as the whole number the column holds (converted by ``_gj``: the column
    type's own conversion, per value, cost a city's heat-loss report a third of its time)."""
    return type_coerce(column, BigInteger)


def _gj(units: int | Decimal) -> Decimal:
    """Whole 10⁻⁹ GJ units as GJ (as ``ScaledDecimal(ENERGY_SCALE)`` gives them)."""
    return Decimal(units).scaleb(-ENERGY_SCALE)


def _roomy_sorts(connection: Connection) -> None:
    """On PostgreSQL, room for the season's aggregates to sort and hash in memory (the default
    4 MB spilled a city's 100,000 households to disk), for this transaction only."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL work_mem = '64MB'"))


def _bill_fees(values: Sequence[Any]) -> tuple[Decimal, ...] | None:
    """A settlement bill's (metered fee, area fee, due) from its row's text, None for no bill."""
    if values[0] is None:
        return None
    metered, area, due = values
    return Decimal(metered), Decimal(area), Decimal(due)


def _summed(fees: tuple[Decimal, ...] | None, more: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    return more if fees is None else tuple(mine + theirs for mine, theirs in zip(fees, more, strict=True))


def _period_index(day: Any, starts: Sequence[date]) -> Any:
    """0 for days before the second start, 1 before the third, …"""
    if len(starts) == 1:
        return literal(0)
    return case(*((day < start, index) for index, start in enumerate(starts[1:])), else_=len(starts) - 1)


def _months_and_days(season: Season, starts: Sequence[date]) -> tuple[list[date], list[tuple[date, date]]]:
    """The season's days as whole months that lie within one price period, and the ranges of
    days (first, last) left over at the edges of the season and of its price periods."""
    cuts = sorted(
        {season.first_day, season.last_day + timedelta(days=1)}
        | {start for start in starts[1:] if season.first_day < start <= season.last_day}
    )
    months: list[date] = []
    days: list[tuple[date, date]] = []
    for first, end in itertools.pairwise(cuts):  # each [first, end) lies within one period
        month = first if first.day == 1 else _next_month(first)
        if _next_month(month) > end:  # no whole month within
            days.append((first, end - timedelta(days=1)))
            continue
        if month > first:
            days.append((first, month - timedelta(days=1)))
        while _next_month(month) <= end:
            months.append(month)
            month = _next_month(month)
        if month < end:
            days.append((month, end - timedelta(days=1)))
    return months, days


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _add_fees(sums: dict[Any, list[Decimal]], household_id: Any, fees: tuple[Decimal, Decimal, Decimal]) -> None:
    found = sums.get(household_id)
    if found is None:
        sums[household_id] = list(fees)
    else:
        found[0] += fees[0]
        found[1] += fees[1]
        found[2] += fees[2]


def _yuan(value: Decimal | None) -> Decimal:
    return ZERO if value is None else Decimal(value)


__all__ = ["SqlAnalyticsReads"]
