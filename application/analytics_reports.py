"""Community analytics reports (issue 15), computed from the read models.

The read models give each household's season (its areas, position and heat per purchase-price
period), each household's settlement fees, the meters' daily heat per place and the substations'
configurations (the ``AnalyticsReads`` port, ``projections/analytics_queries.py``). The arithmetic
is ``domain.analytics``; the settings are the season's ``AnalyticsBaseline``. Totals of every
grouping are sums over the same household rows, so buildings add up to their community and
communities to the city exactly (a property test holds this).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
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

    @property
    def energy_gj(self) -> Decimal:
        return sum(self.energy_by_period_gj, ZERO)


@dataclass(frozen=True)
class HouseholdFees:
    """A household's settlement of the season, summed over its settlement bills: the area fee, the
    metered fee (with the suspension charge; the area fee where it was billed by area) and what
    was due under the tariff (what metering makes receivable)."""

    household_id: UUID
    metered_fee_yuan: Decimal
    area_fee_yuan: Decimal
    due_yuan: Decimal


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

    def household_seasons(self, season: Season, period_starts: Sequence[date]) -> list[HouseholdSeason]: ...

    def settlement_fees(self, season_code: str) -> list[HouseholdFees]: ...

    def place_days(self, season: Season) -> list[PlaceDay]: ...

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
        households = self.reads.household_seasons(season, starts)
        if community is not None:
            households = [household for household in households if household.community == community]
        fees = {fee.household_id: fee for fee in self.reads.settlement_fees(season.code)}
        pricing = _Pricing(average, periods, starts, sources, season)
        key_of = GROUPINGS[grouping]
        groups: dict[tuple[str, ...], list[HouseholdSeason]] = {}
        for household in households:
            groups.setdefault(key_of(household), []).append(household)
        rows = [pricing.figures(key, members, fees) for key, members in sorted(groups.items())]
        total = pricing.figures((community or CITY,), households, fees)
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
        households: dict[tuple[str, str], dict[date, Decimal]] = {}
        by_meter: dict[UUID, dict[date, Decimal]] = {}
        building_meters: dict[UUID, tuple[str, str]] = {}
        for row in self.reads.place_days(season):
            if row.meter_id is None:
                _add(households.setdefault((row.community, row.building), {}), row.day, row.energy_gj)
                continue
            _add(by_meter.setdefault(row.meter_id, {}), row.day, row.energy_gj)
            if row.meter_kind == "building":
                building_meters[row.meter_id] = (row.community, row.building)
        rows = self._substation_losses(season, households, by_meter, threshold, daily)
        for meter_id, place in sorted(building_meters.items(), key=lambda item: item[1]):
            fed = by_meter[meter_id]
            delivered = {day: households.get(place, {}).get(day, ZERO) for day in fed}
            rows.append(_loss_row("building", " ".join(place), (place,), fed, delivered, threshold, daily))
        return HeatLossReport(season.code, threshold, rows)

    def _substation_losses(
        self,
        season: Season,
        households: dict[tuple[str, str], dict[date, Decimal]],
        by_meter: dict[UUID, dict[date, Decimal]],
        threshold: Decimal,
        daily: bool,
    ) -> list[LossRow]:
        configurations = self.reads.substation_configurations()
        names = sorted({configuration.name for configuration in configurations})
        rows = []
        for name in names:
            own = sorted((c for c in configurations if c.name == name), key=lambda c: c.effective_on)
            places = {c.effective_on: _fed_places(households, c.feeds) for c in own}
            fed: dict[date, Decimal] = {}
            delivered: dict[date, Decimal] = {}
            for day in _days(season):
                configuration = _configuration_on(own, day)
                if configuration is None:
                    continue
                fed[day] = by_meter.get(configuration.meter_id, {}).get(day, ZERO)
                delivered[day] = sum(
                    (households[place].get(day, ZERO) for place in places[configuration.effective_on]), ZERO
                )
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

    def source_of(self, household: HouseholdSeason) -> str:
        return self.sources.get(
            (household.community, household.building), self.sources.get((household.community, ""), EVERY_SOURCE)
        )

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

    def metered_cost(self, household: HouseholdSeason) -> Decimal | None:
        """The exact cost of the household's heat: each price period's GJ at that period's price."""
        source = self.source_of(household)
        costs = []
        for start, energy in zip(self.starts, household.energy_by_period_gj, strict=True):
            price = self.price_on(source, start)
            if price is None:
                if energy:
                    return None
                continue
            costs.append((energy, price))
        return analytics.purchase_cost_yuan(costs)

    def area_cost(self, household: HouseholdSeason) -> tuple[Decimal, Decimal] | None:
        """(heat, exact cost) area-based supply would have bought: average × connected area, at the
        season's day-weighted price."""
        price = self.day_weighted_price(self.source_of(household))
        if self.average is None or price is None:
            return None
        energy = self.average * household.connected_area_m2
        return energy, energy * price

    def figures(
        self, key: tuple[str, ...], members: Sequence[HouseholdSeason], fees: dict[UUID, HouseholdFees]
    ) -> PlaceFigures:
        connected = sum((household.connected_area_m2 for household in members), ZERO)
        heated = sum((household.heated_area_m2 for household in members), ZERO)
        energy = sum((household.energy_gj for household in members), ZERO)
        settled = [fees[household.household_id] for household in members if household.household_id in fees]
        comparison = analytics.compare_fees((fee.metered_fee_yuan, fee.area_fee_yuan) for fee in settled)
        return PlaceFigures(
            key,
            len(members),
            connected,
            heated,
            energy,
            analytics.unit_consumption_gj_per_m2(energy, connected),
            analytics.unit_consumption_gj_per_m2(energy, heated),
            self.average,
            analytics.saving(self.average, connected, energy) if self.average is not None else None,
            self._metered(members, energy, settled),
            self._area_based(members, comparison.area_fee_yuan),
            comparison,
        )

    def _metered(
        self, members: Sequence[HouseholdSeason], energy: Decimal, settled: list[HouseholdFees]
    ) -> Revenue | None:
        costs = [self.metered_cost(household) for household in members]
        if any(cost is None for cost in costs):
            return None
        receivable = sum((fee.due_yuan for fee in settled), ZERO)
        return analytics.revenue(receivable, energy, sum((cost for cost in costs if cost is not None), ZERO))

    def _area_based(self, members: Sequence[HouseholdSeason], area_fees_yuan: Decimal) -> Revenue | None:
        parts = [self.area_cost(household) for household in members]
        if any(part is None for part in parts):
            return None
        present = [part for part in parts if part is not None]
        energy = sum((part[0] for part in present), ZERO)
        cost = sum((part[1] for part in present), ZERO)
        return analytics.revenue(area_fees_yuan, energy, cost)


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


def _add(days: dict[date, Decimal], day: date, energy_gj: Decimal) -> None:
    days[day] = days.get(day, ZERO) + energy_gj


def _fed_places(
    households: dict[tuple[str, str], dict[date, Decimal]], feeds: tuple[tuple[str, str], ...]
) -> list[tuple[str, str]]:
    """The buildings with household meters among the places fed (a whole community: all of its)."""
    whole = {community for community, building in feeds if not building}
    named = {(community, building) for community, building in feeds if building}
    return [place for place in households if place[0] in whole or place in named]


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
    days = (
        [(day, analytics.heat_loss(fed[day], delivered.get(day, ZERO), threshold)) for day in sorted(fed)]
        if daily
        else []
    )
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
