"""Consumption per day or month: of a household, a building, a community.

Days are business days in Asia/Shanghai, as the daily_consumption read model keeps them; a
month is the sum of its days. The range defaults to the current season to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from api.as_known import HouseholdConsumptionReads, KnownAtQuery, known_responses
from api.auth import Reader
from api.dependencies import BusinessToday, ContainerDependency, Queries
from api.problems import RequestRuleError, problem_responses
from api.routers import resource_router
from api.routers.households import AccountNumberPath, no_household, require_household
from api.routers.meters import SerialPath, require_meter
from api.schemas.common import KEY_MAX_LENGTH, NAME_MAX_LENGTH, IsoDate
from api.schemas.consumption import (
    HouseholdComparison,
    HouseholdConsumption,
    MeterConsumption,
    PlaceConsumption,
    compared_periods,
    household_periods,
    place_periods,
    place_totals,
    total_volume,
)
from application.authorization import Principal
from domain.errors import NotFoundError
from domain.season import current_or_last_season
from domain.values import MeterKind
from infrastructure.as_known import KnownReads
from projections.household_search import building_heat_per_area
from projections.queries import ZERO_ENERGY_GJ, Granularity, LedgerQueries, PeriodConsumption

router = resource_router("", "consumption")

# The longest range one query covers: a season and a margin by day, ten years by month.
MAXIMUM_RANGE_DAYS = {Granularity.DAY: 400, Granularity.MONTH: 3660}

CommunityPath = Annotated[str, Path(max_length=NAME_MAX_LENGTH, description="The community (小区)")]
BuildingPath = Annotated[str, Path(max_length=KEY_MAX_LENGTH, description="The building (楼号) in the community")]


@dataclass(frozen=True)
class DayRange:
    """The business days a consumption query covers, both inclusive, and how they are grouped."""

    granularity: Granularity
    first_day: date
    last_day: date


GranularityQuery = Annotated[Granularity, Query(description="`day` or `month`")]
FromQuery = Annotated[
    IsoDate | None, Query(alias="from", description="First business day; default: the season's first day")
]
ToQuery = Annotated[
    IsoDate | None, Query(alias="to", description="Last business day; default: today or the season's end")
]


def consumption_range(
    today: BusinessToday,
    granularity: GranularityQuery = Granularity.DAY,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
) -> DayRange:
    """The range asked for, completed from the current season to date; 422 if reversed or too long."""
    return day_range_of(today, granularity, from_day, to_day)


async def household_consumption_range(
    container: ContainerDependency,
    today: BusinessToday,
    known_at: KnownAtQuery = None,
    granularity: GranularityQuery = Granularity.DAY,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
) -> DayRange:
    """``consumption_range`` where, with `known_at`, "today" is the day of `known_at`.

    Async although it awaits nothing: it only reads the clock, and a plain def dependency costs a
    hand-over to the threadpool and back on every request (issue 17)."""
    return day_range_of(container.as_known.today(known_at, today), granularity, from_day, to_day)


def day_range_of(today: date, granularity: Granularity, from_day: date | None, to_day: date | None) -> DayRange:
    """The range from ``from_day`` to ``to_day``, completed from the season of ``today`` to date;
    422 if reversed or too long."""
    season = current_or_last_season(today)
    first_day = from_day if from_day is not None else season.first_day
    last_day = to_day if to_day is not None else min(season.last_day, today)
    if first_day > last_day:
        raise RequestRuleError(
            "range_reversed",
            "the start date lies after the end date",
            field="from",
            from_day=first_day.isoformat(),
            to_day=last_day.isoformat(),
        )
    days = (last_day - first_day).days + 1
    limit = MAXIMUM_RANGE_DAYS[granularity]
    if days > limit:
        raise RequestRuleError(
            "range_too_long",
            f"a query by {granularity.value} covers at most {limit} days",
            field="to",
            granularity=granularity.value,
            limit=limit,
            days=days,
        )
    return DayRange(granularity, first_day, last_day)


ConsumptionRange = Annotated[DayRange, Depends(consumption_range)]
HouseholdConsumptionRange = Annotated[DayRange, Depends(household_consumption_range)]


@router.get(
    "/households/{account_number}/consumption",
    operation_id="get_household_consumption",
    name="get_household_consumption",
    response_model=HouseholdConsumption,
    responses=known_responses(401, 403, 404, 422),
)
async def get_household_consumption_route(
    account_number: AccountNumberPath,
    reader: Reader,
    day_range: HouseholdConsumptionRange,
    reads: HouseholdConsumptionReads,
) -> HouseholdConsumption:
    """A household's metered energy and volume per business day or month, and their sums.

    Days without a metered interval are left out (unknown is not zero). At most 400 days by
    day and 3,660 by month. With `known_at`: from the readings, corrections, voids, estimates
    and meter changes the ledger had recorded by then; the default range is the season to date
    of that moment's day.
    """
    # The reads in the threadpool, the answer validated on the event loop: one hand-over (issue 17).
    return await run_in_threadpool(get_household_consumption, account_number, reader, day_range, reads)


def get_household_consumption(
    account_number: str, reader: Principal, day_range: DayRange, reads: KnownReads
) -> HouseholdConsumption:
    """The answer of ``GET /households/{account_number}/consumption``."""
    found = _household_consumption(account_number, day_range, reads)
    periods = household_periods(found, day_range.granularity, day_range.first_day, day_range.last_day)
    return HouseholdConsumption(
        account_number=account_number,
        granularity=day_range.granularity,
        from_day=day_range.first_day,
        to_day=day_range.last_day,
        periods=periods,
        energy_gj=sum((period.energy_gj for period in periods), ZERO_ENERGY_GJ),
        volume_m3=total_volume(period.volume_m3 for period in periods),
    )


def _household_consumption(account_number: str, day_range: DayRange, reads: KnownReads) -> list[PeriodConsumption]:
    """The household's consumption in the range, or the 404 problem without such a household: by
    day in one statement with the household's look-up (one round trip less, issue 17)."""
    queries = reads.queries
    if Granularity(day_range.granularity) is Granularity.DAY:
        found = queries.household_by_day_of_account(account_number, day_range.first_day, day_range.last_day)
        if found is None:
            raise no_household(account_number)
        return found[1]
    household = require_household(queries, account_number)
    return queries.household_consumption(
        household.household_id, day_range.first_day, day_range.last_day, day_range.granularity
    )


@router.get(
    "/households/{account_number}/consumption/comparison",
    operation_id="compare_household_consumption",
    response_model=HouseholdComparison,
    responses=problem_responses(401, 403, 404, 422),
)
def compare_household_consumption(
    account_number: AccountNumberPath, reader: Reader, queries: Queries, day_range: ConsumptionRange
) -> HouseholdComparison:
    """A household's heat per m² of connected area beside its building's average per day or
    month: the heat of the building's metered households over their connected area, as the
    monthly statement compares them. A household counts in a period when its meters gave heat
    for it; flats without heat add no area. Periods in which none was metered are left out."""
    household = require_household(queries, account_number)
    own = queries.household_consumption(
        household.household_id, day_range.first_day, day_range.last_day, day_range.granularity
    )
    building = building_heat_per_area(
        queries.engine,
        household.community,
        household.building,
        day_range.first_day,
        day_range.last_day,
        day_range.granularity,
    )
    return HouseholdComparison(
        account_number=household.account_number,
        community=household.community,
        building=household.building,
        connected_area_m2=household.connected_area_m2,
        granularity=day_range.granularity,
        from_day=day_range.first_day,
        to_day=day_range.last_day,
        periods=compared_periods(
            own,
            household.connected_area_m2,
            building,
            day_range.granularity,
            day_range.first_day,
            day_range.last_day,
        ),
    )


@router.get(
    "/meters/{serial}/consumption",
    operation_id="get_meter_consumption",
    response_model=MeterConsumption,
    responses=problem_responses(401, 403, 404, 422),
)
def get_meter_consumption(
    serial: SerialPath, reader: Reader, queries: Queries, day_range: ConsumptionRange
) -> MeterConsumption:
    """A meter's metered energy and volume per business day or month, and their sums, over every
    household it served (a household's figures follow its meters across a swap)."""
    meter = require_meter(queries, serial)
    found = queries.meter_consumption(meter.meter_id, day_range.first_day, day_range.last_day, day_range.granularity)
    periods = household_periods(found, day_range.granularity, day_range.first_day, day_range.last_day)
    return MeterConsumption(
        serial=meter.serial,
        granularity=day_range.granularity,
        from_day=day_range.first_day,
        to_day=day_range.last_day,
        periods=periods,
        energy_gj=sum((period.energy_gj for period in periods), ZERO_ENERGY_GJ),
        volume_m3=total_volume(period.volume_m3 for period in periods),
    )


@router.get(
    "/buildings/{community}/{building}/consumption",
    operation_id="get_building_consumption",
    response_model=PlaceConsumption,
    responses=problem_responses(401, 403, 404, 422),
)
def get_building_consumption(
    community: CommunityPath, building: BuildingPath, reader: Reader, queries: Queries, day_range: ConsumptionRange
) -> PlaceConsumption:
    """A building's consumption: the sum of its household meters and, beside it, its building
    meter(s), per period; the difference is the loss in the building's network.
    """
    if not queries.place_exists(community, building):
        raise NotFoundError(f"no building {community}/{building}", kind="building", key=f"{community} {building}")
    return place_consumption(queries, community, building, day_range)


@router.get(
    "/communities/{community}/consumption",
    operation_id="get_community_consumption",
    response_model=PlaceConsumption,
    responses=problem_responses(401, 403, 404, 422),
)
def get_community_consumption(
    community: CommunityPath, reader: Reader, queries: Queries, day_range: ConsumptionRange
) -> PlaceConsumption:
    """A community's consumption: the sum of all its household meters and of all its building
    meters, per period, and the difference between them.
    """
    if not queries.place_exists(community):
        raise NotFoundError(f"no community {community}", kind="community", key=community)
    return place_consumption(queries, community, None, day_range)


def place_consumption(
    queries: LedgerQueries, community: str, building: str | None, day_range: DayRange
) -> PlaceConsumption:
    """Household-meter and building-meter consumption of a place, merged by period."""
    found = {
        kind: queries.place_consumption(
            community, building, kind, day_range.first_day, day_range.last_day, day_range.granularity
        )
        for kind in (MeterKind.HOUSEHOLD, MeterKind.BUILDING)
    }
    periods = place_periods(
        found[MeterKind.HOUSEHOLD],
        found[MeterKind.BUILDING],
        day_range.granularity,
        day_range.first_day,
        day_range.last_day,
    )
    return PlaceConsumption(
        community=community,
        building=building,
        granularity=day_range.granularity,
        from_day=day_range.first_day,
        to_day=day_range.last_day,
        periods=periods,
        totals=place_totals(periods),
    )
