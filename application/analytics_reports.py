"""Community analytics reports (issue 15), computed from the read models.

The read models give each household's season (its areas, position and heat per purchase-price
period), each household's settlement fees, the meters' daily heat per place and the substations'
configurations (the ``AnalyticsReads`` port, ``projections/analytics_queries.py``). The arithmetic
is ``domain.analytics``; the settings are the season's ``AnalyticsBaseline``. Totals of every
grouping are sums over the same household rows, so buildings add up to their community and
communities to the city exactly (a property test holds this).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from application.authorization import Permission, Principal
from domain import analytics
from domain.analytics import FeeComparison, FlatUse, HeatLoss, PositionFairness, PricePeriod, Revenue, Saving
from domain.analytics_baseline import EVERY_SOURCE, AnalyticsBaseline, BaselineSetting
from domain.season import Season

ZERO = Decimal(0)
CITY = "*"
# Without a recorded threshold a loss above 10 % is flagged (secondary networks lose 5–8 %).
DEFAULT_LOSS_THRESHOLD_PERCENT = Decimal(10)


# -- what the read models give -------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdSeason:
    """A household supplied in the season: where it is, its areas and position, its heat in each
    price period (by the period's index; the household meters' daily heat of the season's days)."""

    household_id: UUID
    community: str
    building: str
    customer_class: str
    floor: int
    vertical_position: str
    horizontal_position: str
    connected_area_m2: Decimal
    heated_area_m2: Decimal
    energy_by_period_gj: tuple[Decimal, ...]
    # (metered fee, area fee, due) summed over its settlement bills: None without any (or not read).
    fees: tuple[Decimal, ...] | None = None

    @property
    def energy_gj(self) -> Decimal:
        return sum(self.energy_by_period_gj, ZERO)

    def with_fees(self, fees: tuple[Decimal, ...] | None) -> HouseholdSeason:
        """The household with the fees of one more settlement bill added (None: none)."""
        if fees is None:
            return self
        if self.fees is None:
            return replace(self, fees=fees)
        return replace(self, fees=tuple(mine + theirs for mine, theirs in zip(self.fees, fees, strict=True)))


@dataclass(frozen=True)
class PlaceDay:
    """Heat measured on one day at one place by one kind of meter (``meter_id`` for building and
    substation meters, None for the sum of household meters)."""

    meter_kind: str
    community: str
    building: str
    day: date
    energy_gj: Decimal
    meter_id: UUID | None


@dataclass(frozen=True)
class BuildingMeterSeason:
    """A building meter's heat of each day it measured at its place, beside the place's household
    meters' heat of that day (0 when they measured none)."""

    meter_id: UUID
    community: str
    building: str
    fed_by_day: dict[date, Decimal]
    delivered_by_day: dict[date, Decimal]


@dataclass(frozen=True)
class SubstationConfiguration:
    """A substation's configuration in force from ``effective_on``: feeds (community, building)
    with an empty building for a whole community."""

    name: str
    effective_on: date
    heat_source: str
    meter_serial: str
    meter_id: UUID
    feeds: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CollectionRow:
    """What a building's bills of a season charged and what is collected of it."""

    season_code: str
    community: str
    building: str
    households: int
    charged_yuan: Decimal
    collected_yuan: Decimal


class AnalyticsReads(Protocol):
    """The read-model queries the reports stand on."""

    def household_seasons(
        self, season: Season, period_starts: Sequence[date], with_fees: bool = False
    ) -> list[HouseholdSeason]: ...

    def building_meters(self, season: Season) -> list[BuildingMeterSeason]: ...

    def household_heat_by_day(
        self, season: Season, communities: Collection[str], buildings: Collection[tuple[str, str]]
    ) -> tuple[dict[str, dict[date, Decimal]], dict[tuple[str, str], dict[date, Decimal]]]: ...

    def meter_heat_by_day(self, season: Season, meter_ids: Collection[UUID]) -> dict[UUID, dict[date, Decimal]]: ...

    def substation_configurations(self) -> list[SubstationConfiguration]: ...

    def position_table(self, season: Season) -> dict[str, Decimal]: ...

    def collection(self, season_code: str) -> list[CollectionRow]: ...


# -- the reports' figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceFigures:
    """Everything the source's table shows of one place (a community, a building, a class, the city)."""

    key: tuple[str, ...]
    households: int
    connected_area_m2: Decimal
    heated_area_m2: Decimal
    energy_gj: Decimal
    unit_consumption_connected_gj_per_m2: Decimal | None
    unit_consumption_heated_gj_per_m2: Decimal | None
    average_gj_per_m2: Decimal | None
    saving: Saving | None
    metered: Revenue | None
    area_based: Revenue | None
    fees: FeeComparison


@dataclass(frozen=True)
class PlacesReport:
    """A season's figures per place and for the city, with the settings they were measured by."""

    season_code: str
    first_day: date
    last_day: date
    grouping: str
    average_gj_per_m2: Decimal | None
    price_periods: dict[str, list[PricePeriod]]
    rows: list[PlaceFigures]
    total: PlaceFigures


@dataclass(frozen=True)
class LossRow:
    """A feeding meter (a substation's or a building's) against the household meters it feeds."""

    kind: str  # substation or building
    name: str
    feeds: tuple[tuple[str, str], ...]
    season: HeatLoss
    days: list[tuple[date, HeatLoss]] = field(default_factory=list)


@dataclass(frozen=True)
class HeatLossReport:
    season_code: str
    threshold_percent: Decimal
    rows: list[LossRow]


@dataclass(frozen=True)
class FloorRow:
    floor: int
    flats: int
    energy_gj: Decimal
    area_m2: Decimal
    unit_consumption_gj_per_m2: Decimal | None


@dataclass(frozen=True)
class FairnessReport:
    season_code: str
    community: str | None
    positions: list[PositionFairness]
    floors: list[FloorRow]


@dataclass(frozen=True)
class CollectionFigures:
    key: tuple[str, str]
    households: int
    charged_yuan: Decimal
    collected_yuan: Decimal
    arrears_yuan: Decimal
    rate_percent: Decimal | None


@dataclass(frozen=True)
class CollectionReport:
    """Collection of a season beside the season before, per community and per building."""

    season_code: str
    previous_season_code: str
    communities: list[tuple[CollectionFigures | None, CollectionFigures | None]]
    buildings: list[tuple[CollectionFigures | None, CollectionFigures | None]]


GROUPINGS: dict[str, Callable[[HouseholdSeason], tuple[str, ...]]] = {
    "community": lambda household: (household.community,),
    "building": lambda household: (household.community, household.building),
    "customer_class": lambda household: (household.customer_class,),
}


class AnalyticsReports:
    """The season's reports, read by any role that reads the ledger (auditors and regulators too)."""

    def __init__(
        self,
        reads: AnalyticsReads,
        baseline_of: Callable[[str], AnalyticsBaseline | None],
        season_of: Callable[[str], Season],
    ) -> None:
        self.reads = reads
        self.baseline_of = baseline_of
        self.season_of = season_of

    # -- unit consumption, saving, revenue both ways, who pays more --------------------------------

    def places(
        self, principal: Principal, season_code: str, grouping: str = "community", community: str | None = None
    ) -> PlacesReport:
        """Per community, building or customer class (``grouping``), and the city."""
        principal.require(Permission.READ_LEDGER)
        season = self.season_of(season_code)
        baseline = self.baseline_of(season_code)
        average = _setting_at_end(baseline, BaselineSetting.AVERAGE_UNIT_CONSUMPTION, season)
        sources = self._sources_by_place(season)
        periods = _periods_by_source(baseline, season, set(sources.values()) | {EVERY_SOURCE})
        starts = sorted({period.first_day for periods_ in periods.values() for period in periods_}) or [
            season.first_day
        ]
        households = self.reads.household_seasons(season, starts, with_fees=True)
        pricing = _Pricing(average, periods, starts, sources, season)
        key_of = GROUPINGS[grouping]
        groups: dict[tuple[str, ...], _PlaceSums] = {}
        for household in households:
            if community is not None and household.community != community:
                continue
            key = key_of(household)
            sums = groups.get(key)
            if sums is None:
                sums = groups[key] = _PlaceSums(len(starts))
            sums.add(household, pricing.source_of(household))
        rows = [pricing.figures(key, sums) for key, sums in sorted(groups.items())]
        total = pricing.figures((community or CITY,), _PlaceSums.merged(groups.values(), len(starts)))
        return PlacesReport(season.code, season.first_day, season.last_day, grouping, average, periods, rows, total)

    def _sources_by_place(self, season: Season) -> dict[tuple[str, str], str]:
        """The heat source of each fed place (community, building or ''), on the season's last day."""
        sources: dict[tuple[str, str], str] = {}
        for configuration in _in_force(self.reads.substation_configurations(), season.last_day):
            for place in configuration.feeds:
                sources[place] = configuration.heat_source
        return sources

    # -- network heat loss ---------------------------------------------------------------------------

    def heat_loss(self, principal: Principal, season_code: str, daily: bool = False) -> HeatLossReport:
        """Each substation's meter against the household meters of the places it feeds, and each
        building meter against its building's household meters: per season, and per day."""
        principal.require(Permission.READ_LEDGER)
        season = self.season_of(season_code)
        baseline = self.baseline_of(season_code)
        threshold = _setting_at_end(baseline, BaselineSetting.LOSS_THRESHOLD, season) or DEFAULT_LOSS_THRESHOLD_PERCENT
        rows = self._substation_losses(season, threshold, daily)
        for meter in sorted(self.reads.building_meters(season), key=lambda m: (m.community, m.building, m.meter_id)):
            place = (meter.community, meter.building)
            rows.append(
                _loss_row(
                    "building", " ".join(place), (place,), meter.fed_by_day, meter.delivered_by_day, threshold, daily
                )
            )
        return HeatLossReport(season.code, threshold, rows)

    def _substation_losses(self, season: Season, threshold: Decimal, daily: bool) -> list[LossRow]:
        """Each substation's meter, day by day, against the households of the places fed by the
        configuration in force that day (a whole community: every building of it)."""
        configurations = self.reads.substation_configurations()
        whole = {community for c in configurations for community, building in c.feeds if not building}
        named = {(community, building) for c in configurations for community, building in c.feeds if building}
        by_community, by_building = self.reads.household_heat_by_day(season, whole, named)
        by_meter = self.reads.meter_heat_by_day(season, {c.meter_id for c in configurations})
        names = sorted({configuration.name for configuration in configurations})
        rows = []
        for name in names:
            own = sorted((c for c in configurations if c.name == name), key=lambda c: c.effective_on)
            fed: dict[date, Decimal] = {}
            delivered: dict[date, Decimal] = {}
            for day in _days(season):
                configuration = _configuration_on(own, day)
                if configuration is None:
                    continue
                fed[day] = by_meter.get(configuration.meter_id, {}).get(day, ZERO)
                delivered[day] = _delivered_on(day, configuration.feeds, by_community, by_building)
            if fed:
                latest = _configuration_on(own, season.last_day) or own[-1]
                rows.append(_loss_row("substation", name, latest.feeds, fed, delivered, threshold, daily))
        return rows

    # -- position fairness ---------------------------------------------------------------------------

    def position_fairness(self, principal: Principal, season_code: str, community: str | None = None) -> FairnessReport:
        """Heat per m² of connected area by position and by floor, against the tariff's table."""
        principal.require(Permission.READ_LEDGER)
        season = self.season_of(season_code)
        table = self.reads.position_table(season)
        households = [
            household
            for household in self.reads.household_seasons(season, [season.first_day])
            if (community is None or household.community == community) and household.connected_area_m2 > 0
        ]
        flats = [
            FlatUse(
                key := f"{household.vertical_position}/{household.horizontal_position}",
                household.energy_gj,
                household.connected_area_m2,
                table.get(key, Decimal(1)),
            )
            for household in households
        ]
        return FairnessReport(season.code, community, analytics.position_fairness(flats), _floors(households))

    # -- collection ----------------------------------------------------------------------------------

    def collection(self, principal: Principal, season_code: str) -> CollectionReport:
        """Collection rate and arrears per community and building, beside the season before."""
        principal.require(Permission.READ_LEDGER)
        season = self.season_of(season_code)
        previous = Season.default_starting(season.first_day.year - 1).code
        current_rows = self.reads.collection(season.code)
        previous_rows = self.reads.collection(previous)
        return CollectionReport(
            season.code,
            previous,
            _side_by_side(
                _collect(current_rows, lambda row: (row.community, "")),
                _collect(previous_rows, lambda row: (row.community, "")),
            ),
            _side_by_side(
                _collect(current_rows, lambda row: (row.community, row.building)),
                _collect(previous_rows, lambda row: (row.community, row.building)),
            ),
        )


# -- helpers -------------------------------------------------------------------------------------------


class _Pricing:
    """Prices the heat of a group of households: the metered and the area-based way."""

    def __init__(
        self,
        average: Decimal | None,
        periods: dict[str, list[PricePeriod]],
        starts: list[date],
        sources: dict[tuple[str, str], str],
        season: Season,
    ) -> None:
        self.average = average
        self.periods = periods
        self.starts = starts
        self.sources = sources
        self.season_days = Decimal(season.days)
        self._source_by_place: dict[tuple[str, str], str] = {}

    def source_of(self, household: HouseholdSeason) -> str:
        place = (household.community, household.building)
        found = self._source_by_place.get(place)
        if found is None:
            found = self._source_by_place[place] = self.sources.get(
                place, self.sources.get((household.community, ""), EVERY_SOURCE)
            )
        return found

    def price_on(self, source: str, day: date) -> Decimal | None:
        """The price of ``source`` (else every source's) on ``day``."""
        periods = self.periods.get(source) or self.periods.get(EVERY_SOURCE) or []
        return next(
            (period.price_yuan_per_gj for period in periods if period.first_day <= day <= period.last_day), None
        )

    def day_weighted_price(self, source: str) -> Decimal | None:
        periods = self.periods.get(source) or self.periods.get(EVERY_SOURCE) or []
        if not periods:
            return None
        weighted = sum((Decimal((p.last_day - p.first_day).days + 1) * p.price_yuan_per_gj for p in periods), ZERO)
        return weighted / self.season_days

    def metered_cost(self, sums: _PlaceSums) -> Decimal | None:
        """The exact cost of the place's heat: each source's GJ of each price period at that period's
        price; unknown (None) when some household's heat of a period has no price."""
        costs = []
        for source, energies in sums.energy_by_source.items():
            with_heat = sums.heat_by_source[source]
            for index, (start, energy) in enumerate(zip(self.starts, energies, strict=True)):
                price = self.price_on(source, start)
                if price is None:
                    if with_heat[index]:
                        return None
                    continue
                costs.append((energy, price))
        return analytics.purchase_cost_yuan(costs)

    def area_cost(self, sums: _PlaceSums) -> tuple[Decimal, Decimal] | None:
        """(heat, exact cost) area-based supply would have bought: average × connected area, at the
        season's day-weighted price of each household's source."""
        if self.average is None:
            return None
        energy = cost = ZERO
        for source, connected in sums.connected_by_source.items():
            price = self.day_weighted_price(source)
            if price is None:
                return None
            source_energy = self.average * connected
            energy += source_energy
            cost += source_energy * price
        return energy, cost

    def figures(self, key: tuple[str, ...], sums: _PlaceSums) -> PlaceFigures:
        energy = sums.energy_gj
        connected, heated = sums.connected_area_m2, sums.heated_area_m2
        return PlaceFigures(
            key,
            sums.households,
            connected,
            heated,
            energy,
            analytics.unit_consumption_gj_per_m2(energy, connected),
            analytics.unit_consumption_gj_per_m2(energy, heated),
            self.average,
            analytics.saving(self.average, connected, energy) if self.average is not None else None,
            self._metered(sums, energy),
            self._area_based(sums),
            sums.fee_comparison(),
        )

    def _metered(self, sums: _PlaceSums, energy: Decimal) -> Revenue | None:
        cost = self.metered_cost(sums)
        if cost is None:
            return None
        return analytics.revenue(sums.due_yuan, energy, cost)

    def _area_based(self, sums: _PlaceSums) -> Revenue | None:
        bought = self.area_cost(sums)
        if bought is None:
            return None
        return analytics.revenue(sums.area_fee_yuan, *bought)


class _PlaceSums:
    """What a place's figures are computed from, summed over its households: exact sums only, so
    the sums of two places merged are the sums of their households together (a city's total is its
    places' sums merged). Heat is kept per heat source and price period, connected area per source
    (each source has its own prices); fees as ``compare_fees`` counts and sums them."""

    def __init__(self, periods: int) -> None:
        self.periods = periods
        self.households = 0
        self.connected_area_m2 = ZERO
        self.heated_area_m2 = ZERO
        self.energy_by_source: dict[str, list[Decimal]] = {}
        self.heat_by_source: dict[str, list[bool]] = {}  # some household's heat of the period is not 0
        self.connected_by_source: dict[str, Decimal] = {}
        self.due_yuan = ZERO
        # households compared, paying less, more, the same; saved, extra, metered fees, area fees
        self.compared = self.less = self.more = self.same = 0
        self.saved_yuan = self.extra_yuan = self.metered_fee_yuan = self.area_fee_yuan = ZERO

    @property
    def energy_gj(self) -> Decimal:
        return sum((sum(energies, ZERO) for energies in self.energy_by_source.values()), ZERO)

    def add(self, household: HouseholdSeason, source: str) -> None:
        self.households += 1
        self.connected_area_m2 += household.connected_area_m2
        self.heated_area_m2 += household.heated_area_m2
        energies = self.energy_by_source.get(source)
        if energies is None:
            energies = self.energy_by_source[source] = [ZERO] * self.periods
            self.heat_by_source[source] = [False] * self.periods
            self.connected_by_source[source] = ZERO
        with_heat = self.heat_by_source[source]
        for index, energy in enumerate(household.energy_by_period_gj):
            energies[index] += energy
            if energy:
                with_heat[index] = True
        self.connected_by_source[source] += household.connected_area_m2
        if household.fees is not None:
            self._add_fees(*household.fees)

    def _add_fees(self, metered: Decimal, area: Decimal, due: Decimal) -> None:
        self.due_yuan += due
        self.metered_fee_yuan += metered
        self.area_fee_yuan += area
        if metered < area:
            self.less += 1
            self.saved_yuan += area - metered
        elif metered > area:
            self.more += 1
            self.extra_yuan += metered - area
        else:
            self.same += 1

    @classmethod
    def merged(cls, parts: Iterable[_PlaceSums], periods: int) -> _PlaceSums:
        whole = cls(periods)
        for part in parts:
            whole.households += part.households
            whole.connected_area_m2 += part.connected_area_m2
            whole.heated_area_m2 += part.heated_area_m2
            for source, energies in part.energy_by_source.items():
                if source not in whole.energy_by_source:
                    whole.energy_by_source[source] = [ZERO] * periods
                    whole.heat_by_source[source] = [False] * periods
                    whole.connected_by_source[source] = ZERO
                whole.energy_by_source[source] = [
                    a + b for a, b in zip(whole.energy_by_source[source], energies, strict=True)
                ]
                whole.heat_by_source[source] = [
                    a or b for a, b in zip(whole.heat_by_source[source], part.heat_by_source[source], strict=True)
                ]
                whole.connected_by_source[source] += part.connected_by_source[source]
            whole.due_yuan += part.due_yuan
            whole.less, whole.more, whole.same = whole.less + part.less, whole.more + part.more, whole.same + part.same
            whole.saved_yuan += part.saved_yuan
            whole.extra_yuan += part.extra_yuan
            whole.metered_fee_yuan += part.metered_fee_yuan
            whole.area_fee_yuan += part.area_fee_yuan
        return whole

    def fee_comparison(self) -> FeeComparison:
        count = self.less + self.more + self.same
        return FeeComparison(
            count,
            self.less,
            self.more,
            self.same,
            analytics.share_percent(self.less, count),
            analytics.share_percent(self.more, count),
            self.saved_yuan,
            self.extra_yuan,
            self.metered_fee_yuan,
            self.area_fee_yuan,
        )


def _setting_at_end(baseline: AnalyticsBaseline | None, setting: BaselineSetting, season: Season) -> Decimal | None:
    return baseline.in_force(setting, season.last_day) if baseline is not None else None


def _periods_by_source(
    baseline: AnalyticsBaseline | None, season: Season, sources: Iterable[str]
) -> dict[str, list[PricePeriod]]:
    """Each heat source's price periods over the season (a source without its own price takes
    every source's); sources without any price are left out."""
    if baseline is None:
        return {}
    found = {}
    for source in sorted(sources):
        periods = analytics.price_periods(
            baseline.changes(BaselineSetting.PURCHASE_PRICE, source), season.first_day, season.last_day
        )
        if periods:
            found[source] = periods
    return found


def _in_force(configurations: list[SubstationConfiguration], day: date) -> list[SubstationConfiguration]:
    by_name: dict[str, list[SubstationConfiguration]] = {}
    for configuration in configurations:
        by_name.setdefault(configuration.name, []).append(configuration)
    found = []
    for own in by_name.values():
        in_force = _configuration_on(sorted(own, key=lambda c: c.effective_on), day)
        if in_force is not None:
            found.append(in_force)
    return found


def _configuration_on(own: list[SubstationConfiguration], day: date) -> SubstationConfiguration | None:
    found = None
    for configuration in own:
        if configuration.effective_on <= day:
            found = configuration
    return found


def _days(season: Season) -> list[date]:
    return [season.first_day + timedelta(days=offset) for offset in range(season.days)]


def _delivered_on(
    day: date,
    feeds: tuple[tuple[str, str], ...],
    by_community: dict[str, dict[date, Decimal]],
    by_building: dict[tuple[str, str], dict[date, Decimal]],
) -> Decimal:
    """The household meters' heat of the places fed on ``day``: whole communities, and the buildings
    named of other communities (a building of a community fed whole counts once)."""
    whole = {community for community, building in feeds if not building}
    delivered = sum((by_community.get(community, {}).get(day, ZERO) for community in sorted(whole)), ZERO)
    for community, building in feeds:
        if building and community not in whole:
            delivered += by_building.get((community, building), {}).get(day, ZERO)
    return delivered


def _loss_row(
    kind: str,
    name: str,
    feeds: tuple[tuple[str, str], ...],
    fed: dict[date, Decimal],
    delivered: dict[date, Decimal],
    threshold: Decimal,
    daily: bool,
) -> LossRow:
    season_loss = analytics.heat_loss(sum(fed.values(), ZERO), sum(delivered.values(), ZERO), threshold)
    ordered = sorted(fed) if daily else []
    losses = analytics.heat_losses(((fed[day], delivered.get(day, ZERO)) for day in ordered), threshold)
    days = list(zip(ordered, losses, strict=True))
    return LossRow(kind, name, feeds, season_loss, days)


def _floors(households: Sequence[HouseholdSeason]) -> list[FloorRow]:
    by_floor: dict[int, list[HouseholdSeason]] = {}
    for household in households:
        by_floor.setdefault(household.floor, []).append(household)
    rows = []
    for floor, members in sorted(by_floor.items()):
        energy = sum((household.energy_gj for household in members), ZERO)
        area = sum((household.connected_area_m2 for household in members), ZERO)
        rows.append(FloorRow(floor, len(members), energy, area, analytics.unit_consumption_gj_per_m2(energy, area)))
    return rows


def _collect(
    rows: Sequence[CollectionRow], key_of: Callable[[CollectionRow], tuple[str, str]]
) -> dict[tuple[str, str], CollectionFigures]:
    sums: dict[tuple[str, str], list[Decimal]] = {}
    for row in rows:
        figures = sums.setdefault(key_of(row), [ZERO, ZERO, ZERO])
        figures[0] += row.households
        figures[1] += row.charged_yuan
        figures[2] += row.collected_yuan
    return {
        key: CollectionFigures(
            key, int(households), charged, collected, charged - collected, analytics.share_percent(collected, charged)
        )
        for key, (households, charged, collected) in sums.items()
    }


def _side_by_side(
    current: dict[tuple[str, str], CollectionFigures], previous: dict[tuple[str, str], CollectionFigures]
) -> list[tuple[CollectionFigures | None, CollectionFigures | None]]:
    return [(current.get(key), previous.get(key)) for key in sorted(set(current) | set(previous))]
