"""Finding households the way a counter clerk asks for them, and a building's heat per m².

A clerk types what the customer says: an account number, a community, or an address written the
Chinese way ("碧桂园 3号楼 2单元 5层 501室", also without spaces). ``search_terms`` reads such text
into terms: a word with a suffix names its part of the address (号楼/栋/幢 the building, 单元 the
entrance, 层 the floor, 室 the flat); a bare word matches a part of the account number or of the
community's name, or a whole building or flat. Every term must match (AND), so each word narrows.
Households found elsewhere (the contact book, by phone or holder's name) come in as selects of account
numbers, so the database joins them however many there are.

``building_heat_per_area`` compares a household with its building: per day or month, the heat of
the building's metered households divided by their connected area, as the monthly statement's
"本楼平均每平方米" does (application/billing_runs.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, extract, false, func, or_, select

from domain.values import MeterKind
from projections.queries import MAXIMUM_PAGE_SIZE, Granularity, HouseholdRecord, Page
from projections.tables import daily_consumption, households

# A clerk types a few words; the API bounds the text (a paste of something else is refused).
MAXIMUM_SEARCH_TEXT_LENGTH = 100
MAXIMUM_FLOOR_DIGITS = 9
_WORD_SEPARATORS = re.compile(r"[\s,，;；、/]+")
# A value (digits and latin letters, as buildings and flats are numbered) and the suffix naming it.
_ADDRESS_PART = re.compile(r"([0-9A-Za-z]+)(号楼|栋|幢|单元|楼层|层|室|号)")


class AddressPart(StrEnum):
    """The part of an address a word with a suffix names."""

    BUILDING = "building"
    ENTRANCE = "entrance"
    FLOOR = "floor"
    FLAT = "flat"


_SUFFIXES = {
    "号楼": AddressPart.BUILDING,
    "栋": AddressPart.BUILDING,
    "幢": AddressPart.BUILDING,
    "单元": AddressPart.ENTRANCE,
    "楼层": AddressPart.FLOOR,
    "层": AddressPart.FLOOR,
    "室": AddressPart.FLAT,
    "号": AddressPart.FLAT,
}


@dataclass(frozen=True)
class SearchTerm:
    """One word of a search: ``part`` None for a bare word."""

    value: str
    part: AddressPart | None = None


@dataclass(frozen=True)
class HouseholdSearch:
    """What to look for; every criterion given must hold. ``account_numbers``: selects of account
    numbers (the contact book's answers); a household must be in each of them."""

    terms: tuple[SearchTerm, ...] = ()
    community: str | None = None
    building: str | None = None
    entrance: str | None = None
    floor: int | None = None
    account_numbers: tuple[Select[Any], ...] = ()


def search_terms(text: str) -> tuple[SearchTerm, ...]:
    """The terms of a clerk's search text, in order, without repeats."""
    assert len(text) <= MAXIMUM_SEARCH_TEXT_LENGTH, "the caller bounds the search text"
    terms: list[SearchTerm] = []
    for word in _WORD_SEPARATORS.split(text.strip()):
        if not word:
            continue
        for value, suffix in _ADDRESS_PART.findall(word):
            terms.append(SearchTerm(value, _SUFFIXES[suffix]))
        rest = _ADDRESS_PART.sub(" ", word).split()
        terms.extend(SearchTerm(piece) for piece in rest)
    return tuple(dict.fromkeys(terms))


def _term_condition(term: SearchTerm) -> ColumnElement[bool]:
    columns = households.c
    if term.part is AddressPart.FLOOR:
        # A floor the 32-bit column cannot hold is no floor of any flat (and would fail the query).
        fits = term.value.isdigit() and len(term.value) <= MAXIMUM_FLOOR_DIGITS
        return columns.floor == int(term.value) if fits else false()
    if term.part is not None:
        return columns[term.part.value] == term.value
    return or_(
        columns.account_number.icontains(term.value, autoescape=True),
        columns.community.icontains(term.value, autoescape=True),
        columns.building == term.value,
        columns.flat == term.value,
    )


def _conditions(search: HouseholdSearch) -> list[ColumnElement[bool]]:
    columns = households.c
    conditions = [_term_condition(term) for term in search.terms]
    exact = {
        "community": search.community,
        "building": search.building,
        "entrance": search.entrance,
        "floor": search.floor,
    }
    conditions.extend(columns[name] == value for name, value in exact.items() if value is not None)
    conditions.extend(columns.account_number.in_(accounts) for accounts in search.account_numbers)
    return conditions


_RECORD_COLUMNS = tuple(households.c[field.name] for field in fields(HouseholdRecord))


def search_households(engine: Engine, search: HouseholdSearch, limit: int, offset: int = 0) -> Page[HouseholdRecord]:
    """The households matching ``search`` by account number, a page at a time, and how many match."""
    assert limit > 0, "a page holds at least one household"
    conditions = _conditions(search)
    page = (
        select(*_RECORD_COLUMNS)
        .where(*conditions)
        .order_by(households.c.account_number)
        .limit(min(limit, MAXIMUM_PAGE_SIZE))
        .offset(offset)
    )
    total = select(func.count()).select_from(households).where(*conditions)
    with engine.connect() as connection:
        items = [HouseholdRecord(**row) for row in connection.execute(page).mappings()]
        count = int(connection.execute(total).scalar_one())
    return Page(items, count, has_more=offset + len(items) < count)


# -- a building's heat per m² -------------------------------------------------------------------


@dataclass(frozen=True)
class AreaPeriod:
    """One day or month of a building: the metered heat of its households that had any, their
    connected area, and how many they were."""

    first_day: date
    energy_gj: Decimal
    area_m2: Decimal
    households: int


def building_heat_per_area(
    engine: Engine,
    community: str,
    building: str,
    first_day: date,
    last_day: date,
    granularity: Granularity,
) -> list[AreaPeriod]:
    """Per day or month (oldest first), the heat the household meters of the building's households
    measured and the connected area of the households that were metered in that period.

    A household counts in a period when its meters gave any heat for it; a flat without a meter
    (or whose meter was silent) adds neither heat nor area, so the average is over metered flats.
    """
    dc = daily_consumption.c
    period = _period_columns(dc.day, granularity)
    per_household = (
        select(dc.household_id, *period, func.sum(dc.energy_gj).label("energy_gj"))
        .select_from(daily_consumption.join(households, households.c.household_id == dc.household_id))
        .where(
            households.c.community == community,
            households.c.building == building,
            dc.meter_kind == MeterKind.HOUSEHOLD.value,
            dc.day.between(first_day, last_day),
        )
        .group_by(dc.household_id, *period)
        .subquery("per_household")
    )
    keys = [per_household.c[column.name] for column in period]
    statement = (
        select(
            *keys,
            func.sum(per_household.c.energy_gj).label("energy_gj"),
            func.sum(households.c.connected_area_m2).label("area_m2"),
            func.count().label("households"),
        )
        .select_from(per_household.join(households, households.c.household_id == per_household.c.household_id))
        .group_by(*keys)
        .order_by(*keys)
    )
    with engine.connect() as connection:
        return [_area_period(row, granularity) for row in connection.execute(statement)]


def _period_columns(day: Any, granularity: Granularity) -> list[Any]:
    if Granularity(granularity) is Granularity.DAY:
        return [day.label("day")]
    # extract() compiles to EXTRACT on PostgreSQL and to STRFTIME on SQLite.
    return [extract("year", day).label("year"), extract("month", day).label("month")]


def _area_period(row: Any, granularity: Granularity) -> AreaPeriod:
    first_day = row.day if Granularity(granularity) is Granularity.DAY else date(int(row.year), int(row.month), 1)
    return AreaPeriod(first_day, Decimal(row.energy_gj), Decimal(row.area_m2), int(row.households))
