"""The read-model queries of the analytics reports (issue 15): set-based selects over a season.

Each report reads a handful of statements whatever the city's size: one aggregate over the
season's daily consumption grouped by household (heat per price period), one over the settlement
bills, one over the meters' daily heat per place. Python then sums exact Decimals.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, case, func, literal, or_, select

from application.analytics_reports import (
    CollectionRow,
    HouseholdFees,
    HouseholdSeason,
    PlaceDay,
    SubstationConfiguration,
)
from domain.billing import BillKind
from domain.season import Season
from domain.tariff import CITY_SCOPE, SOURCE_COEFFICIENT_TABLE, TariffTerms
from projections.analytics_summary import HOUSEHOLD_METERS, household_heat_months, place_heat_days
from projections.season_charges import season_charges_settled
from projections.tables import (
    bills,
    daily_consumption,
    households,
    substation_configurations,
    substation_feeds,
    tariff_versions,
)

ZERO = Decimal(0)
HOUSEHOLD_KIND = "household"
# The lines of a settlement bill the fees are read from (domain/settlement.py, domain/billing.py).
AREA_FEE_LINES = ("area_fee", "area_fee_share")
METERED_FEE_LINES = ("metered_fee", "suspension_charge")


class SqlAnalyticsReads:
    """``application.analytics_reports.AnalyticsReads`` over the ledger's read models."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def household_seasons(self, season: Season, period_starts: Sequence[date]) -> list[HouseholdSeason]:
        """Every household supplied in the season (registered by its last day, not deregistered
        before its first), with its household meters' heat of the season's days per price period:
        whole months from ``household_heat_months``, the days of a month a period starts or ends
        within from ``daily_consumption``."""
        starts = sorted(set(period_starts)) or [season.first_day]
        months, partial_days = _months_and_days(season, starts)
        summed = household_heat_months.c
        statements = []
        if months:
            period = _period_index(summed.month, starts)
            statements.append(
                select(summed.household_id, period.label("period"), func.sum(summed.energy_gj).label("energy_gj"))
                .where(summed.month.in_(months))
                .group_by(summed.household_id, period)
            )
        if partial_days:
            daily = daily_consumption.c
            period = _period_index(daily.day, starts)
            statements.append(
                select(daily.household_id, period.label("period"), func.sum(daily.energy_gj).label("energy_gj"))
                .where(
                    daily.meter_kind == HOUSEHOLD_KIND,
                    daily.household_id.is_not(None),
                    or_(*(daily.day.between(first, last) for first, last in partial_days)),
                )
                .group_by(daily.household_id, period)
            )
        columns = households.c
        supplied = select(households).where(
            columns.registered_on <= season.last_day,
            or_(columns.deregistered_on.is_(None), columns.deregistered_on > season.first_day),
        )
        with self.engine.connect() as connection:
            by_household: dict[Any, list[Decimal]] = {}
            for statement in statements:
                for row in connection.execute(statement):
                    parts = by_household.setdefault(row.household_id, [ZERO] * len(starts))
                    parts[int(row.period)] += Decimal(row.energy_gj)
            return [
                _household_season(row, by_household.get(row.household_id, [ZERO] * len(starts)))
                for row in connection.execute(supplied)
            ]

    def settlement_fees(self, season_code: str) -> list[HouseholdFees]:
        """Per household, its settlement bills' area fee, metered fee and what was due."""
        statement = select(bills.c.household_id, bills.c.lines).where(
            bills.c.season_code == season_code, bills.c.kind == BillKind.SETTLEMENT.value
        )
        sums: dict[Any, list[Decimal]] = {}
        with self.engine.connect() as connection:
            for row in connection.execute(statement):
                figures = sums.setdefault(row.household_id, [ZERO, ZERO, ZERO])
                for index, value in enumerate(_fees_of_bill(json.loads(row.lines))):
                    figures[index] += value
        return [HouseholdFees(household_id, *figures) for household_id, figures in sums.items()]

    def place_days(self, season: Season) -> list[PlaceDay]:
        """Heat per day and place: household meters summed per building, building and substation
        meters each on their own (``place_heat_days``, kept summed by the projection)."""
        summed = place_heat_days.c
        statement = select(
            summed.meter_kind, summed.community, summed.building, summed.day, summed.meter_id, summed.energy_gj
        ).where(summed.day.between(season.first_day, season.last_day))
        with self.engine.connect() as connection:
            return [
                PlaceDay(
                    row.meter_kind,
                    row.community,
                    row.building,
                    row.day,
                    row.energy_gj,
                    None if row.meter_id == HOUSEHOLD_METERS else row.meter_id,
                )
                for row in connection.execute(statement)
            ]

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


def _household_season(row: Any, energies: list[Decimal]) -> HouseholdSeason:
    return HouseholdSeason(
        row.household_id,
        row.community,
        row.building,
        row.customer_class,
        int(row.floor),
        row.vertical_position,
        row.horizontal_position,
        Decimal(row.connected_area_m2),
        Decimal(row.heated_area_m2),
        tuple(energies),
    )


def _fees_of_bill(lines: list[dict[str, Any]]) -> tuple[Decimal, Decimal, Decimal]:
    """(metered fee, area fee, due) of one settlement bill; billed by area, the metered fee is the
    area fee (the household paid the same either way)."""
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


def _yuan(value: Decimal | None) -> Decimal:
    return ZERO if value is None else Decimal(value)


__all__ = ["SqlAnalyticsReads"]
