"""The analytics reports (issue 15) through the application on the real container, both backends.

Property: for any city hypothesis draws (communities of buildings of households with their areas,
positions and season's heat, billed and settled by the real billing runs, the company average and a
purchase price recorded as settings), the place report's buildings add up to their community and
its communities to the city: every exact figure (households, areas, GJ, saving, receivables, fees,
counts) exactly; every rounded figure (GJ/m², purchase cost, profit, margin, connectable area) is
the stated rounding of the summed exact figures, so the rounded parts differ from the rounded whole
by no more than half a unit of the last place per part. The figures also match what was drawn.

Each example is a city of its own communities in one store; the city total covers every example's
communities (they are all in the report), priced at the settings the example recorded.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from application.analytics_reports import PlaceFigures, PlacesReport
from application.authorization import SYSTEM, Principal, Role
from application.billing_runs import RunRequest
from domain import ids
from domain.analytics_baseline import BaselineSetting
from domain.billing import BillKind
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.substation import Feed
from domain.tariff import CITY_SCOPE, SOURCE_COEFFICIENT_TABLE, Tariff, TariffTerms
from domain.values import Address, Areas, CustomerClass, HorizontalPosition, MeterKind, Position, VerticalPosition
from infrastructure.container import Container
from projections.tables import SUBSTATION_TABLES
from tests.strategies import commission_meter, item, projection_rows

D = Decimal
SEASON = Season.default_starting(2025)
SHANGHAI = ZoneInfo("Asia/Shanghai")
AFTER_SEASON = datetime(2026, 4, 15, 2, tzinfo=UTC)
ADMIN = Principal("admin-analytics", Role.ADMIN)
REGULATOR = Principal("regulator-analytics", Role.REGULATOR)
TERMS = TariffTerms(
    TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.BOTH_WAYS, position_correction=PositionCorrection.NONE)
)
EXAMPLES = itertools.count(1)


# -- what hypothesis draws ------------------------------------------------------------------------


@dataclass(frozen=True)
class Flat:
    building: int
    connected_area_m2: Decimal
    heated_area_m2: Decimal
    energy_gj: Decimal
    floor: int
    vertical: VerticalPosition


@st.composite
def flats(draw: st.DrawFn) -> Flat:
    connected_cents = draw(st.integers(3_000, 20_000))
    heated_cents = draw(st.integers(connected_cents * 6 // 10, connected_cents))
    return Flat(
        draw(st.integers(1, 3)),
        D(connected_cents) / 100,
        D(heated_cents) / 100,
        D(draw(st.integers(0, 60_000))) / 1000,
        draw(st.integers(1, 6)),
        draw(st.sampled_from((VerticalPosition.TOP, VerticalPosition.MIDDLE, VerticalPosition.BOTTOM))),
    )


cities = st.lists(st.lists(flats(), min_size=1, max_size=5), min_size=1, max_size=3)
averages = st.integers(250, 600).map(lambda thousandths: D(thousandths) / 1000)
prices = st.integers(1500, 3500).map(lambda cents: D(cents) / 100)


# -- building the city through the application ----------------------------------------------------


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)


def publish_tariff_once(container: Container) -> None:
    if container.ledger.load_or_none(Tariff, ids.tariff_id(CustomerClass.RESIDENTIAL, CITY_SCOPE)) is None:
        container.billing.publish_tariff(
            SYSTEM,
            CustomerClass.RESIDENTIAL,
            "*",
            TERMS,
            date(2025, 10, 1),
            None,
            "许发改价格〔2025〕7号",
            date(2025, 9, 20),
        )


def build_community(container: Container, name: str, members: list[Flat]) -> None:
    """Households with a meter each, read at the season's first and last midnight, billed and settled."""
    publish_tariff_once(container)
    readings = []
    for index, flat in enumerate(members):
        account, serial = f"{name}-{index}", f"{name}-M{index}"
        container.ledger.register_household(
            SYSTEM,
            account,
            Address(name, str(flat.building), "1", flat.floor, f"{flat.floor}0{index}"),
            Areas(flat.connected_area_m2, flat.heated_area_m2),
            CustomerClass.RESIDENTIAL,
            Position(flat.vertical, HorizontalPosition.MIDDLE),
            date(2025, 10, 1),
        )
        commission_meter(container.ledger, serial)
        container.ledger.attach_meter(SYSTEM, account, serial, datetime(2025, 10, 1, tzinfo=UTC))
        readings += [
            item(serial, midnight(SEASON.first_day), D(100)),
            item(serial, midnight(SEASON.last_day + timedelta(days=1)), D(100) + flat.energy_gj),
        ]
    assert container.ledger.record_readings(SYSTEM, readings).accepted == len(readings)
    for kind in (BillKind.PREPAYMENT, BillKind.SETTLEMENT):
        container.billing_runs.run(SYSTEM, RunRequest(kind, SEASON, None, name))
    container.catch_up()


def record_settings(container: Container, average: Decimal, price: Decimal) -> None:
    for setting, value, source in (
        (BaselineSetting.AVERAGE_UNIT_CONSUMPTION, average, ""),
        (BaselineSetting.PURCHASE_PRICE, price, "*"),
    ):
        container.analytics_settings.record_setting(
            ADMIN, SEASON.code, setting, value, date(2025, 11, 1), "board figures", heat_source=source
        )


# -- what the figures must be ---------------------------------------------------------------------


def half_up(value: Decimal, quantum: str) -> Decimal:
    return value.quantize(D(quantum), rounding=ROUND_HALF_UP)


EXACT_FIELDS = (
    lambda figures: figures.households,
    lambda figures: figures.connected_area_m2,
    lambda figures: figures.heated_area_m2,
    lambda figures: figures.energy_gj,
    lambda figures: figures.saving.area_based_energy_gj,
    lambda figures: figures.saving.saved_gj,
    lambda figures: figures.metered.receivable_yuan,
    lambda figures: figures.metered.purchased_energy_gj,
    lambda figures: figures.area_based.receivable_yuan,
    lambda figures: figures.area_based.purchased_energy_gj,
    lambda figures: figures.fees.households,
    lambda figures: figures.fees.paying_less,
    lambda figures: figures.fees.paying_more,
    lambda figures: figures.fees.paying_the_same,
    lambda figures: figures.fees.saved_yuan,
    lambda figures: figures.fees.extra_yuan,
    lambda figures: figures.fees.metered_fee_yuan,
    lambda figures: figures.fees.area_fee_yuan,
)


def assert_rounded_from_exact(figures: PlaceFigures, average: Decimal, price: Decimal) -> None:
    """Each rounded figure is the stated rounding of the place's own exact figures."""
    assert figures.saving is not None and figures.metered is not None and figures.area_based is not None
    energy, connected, heated = figures.energy_gj, figures.connected_area_m2, figures.heated_area_m2
    assert figures.unit_consumption_connected_gj_per_m2 == half_up(energy / connected, "0.001")
    assert figures.unit_consumption_heated_gj_per_m2 == half_up(energy / heated, "0.001")
    assert figures.saving.saved_gj == average * connected - energy
    assert figures.saving.connectable_area_m2 == half_up(figures.saving.saved_gj / average, "0.01")
    for revenue, purchased in ((figures.metered, energy), (figures.area_based, average * connected)):
        assert revenue.purchased_energy_gj == purchased
        assert revenue.purchase_cost_yuan == half_up(purchased * price, "0.01")
        assert revenue.profit_yuan == revenue.receivable_yuan - revenue.purchase_cost_yuan
        if revenue.receivable_yuan:
            assert revenue.margin_percent == half_up(revenue.profit_yuan * 100 / revenue.receivable_yuan, "0.1")
    fees = figures.fees
    assert fees.households == fees.paying_less + fees.paying_more + fees.paying_the_same
    if fees.households:
        assert fees.paying_less_percent == half_up(D(fees.paying_less * 100) / fees.households, "0.01")


def assert_parts_add_up(parts: list[PlaceFigures], whole: PlaceFigures) -> None:
    """Exact figures sum exactly; rounded money within half a fen per part."""
    for field in EXACT_FIELDS:
        assert sum((field(part) for part in parts), D(0)) == field(whole)
    for way in ("metered", "area_based"):
        costs = [getattr(part, way).purchase_cost_yuan for part in parts]
        assert abs(sum(costs, D(0)) - getattr(whole, way).purchase_cost_yuan) <= D("0.005") * len(parts)


def rows_of(report: PlacesReport, community: str) -> list[PlaceFigures]:
    return [row for row in report.rows if row.key[0] == community]


@settings(max_examples=10)
@given(city=cities, average=averages, price=prices)
def test_buildings_add_up_to_their_community_and_communities_to_the_city(
    container: Container, city: list[list[Flat]], average: Decimal, price: Decimal
) -> None:
    number = next(EXAMPLES)
    container.ledger.clock = lambda: AFTER_SEASON
    names = [f"PA{number}-{index}" for index in range(len(city))]
    for name, members in zip(names, city, strict=True):
        build_community(container, name, members)
    record_settings(container, average, price)

    reports = container.analytics_reports
    communities = reports.places(REGULATOR, SEASON.code, "community")
    buildings = reports.places(REGULATOR, SEASON.code, "building")
    for figures in [*communities.rows, *buildings.rows, communities.total]:
        assert_rounded_from_exact(figures, average, price)
    assert_parts_add_up(communities.rows, communities.total)
    assert buildings.total == communities.total
    for row in communities.rows:
        assert_parts_add_up(rows_of(buildings, row.key[0]), row)
    for name, members in zip(names, city, strict=True):
        [row] = rows_of(communities, name)
        assert row.households == len(members)
        assert row.energy_gj == sum((flat.energy_gj for flat in members), D(0))
        assert row.connected_area_m2 == sum((flat.connected_area_m2 for flat in members), D(0))
        assert row.heated_area_m2 == sum((flat.heated_area_m2 for flat in members), D(0))
        assert row.fees.households == len(members)
        by_building = {part.key[1]: part.households for part in rows_of(buildings, name)}
        assert by_building == {
            str(building): sum(1 for flat in members if flat.building == building)
            for building in {flat.building for flat in members}
        }


def test_the_substation_read_model_rebuilt_equals_the_live_one(container: Container) -> None:
    """Two substations, one reconfigured twice (a community, then two buildings of it and another
    community): the configurations and their feeds rebuilt from the events equal the live rows,
    and so does the heat-loss report read from them."""
    container.ledger.clock = lambda: AFTER_SEASON
    build_community(container, "RB-1", [Flat(1, D(90), D(80), D(30), 3, VerticalPosition.MIDDLE)] * 3)
    build_community(container, "RB-2", [Flat(2, D(70), D(70), D(25), 1, VerticalPosition.BOTTOM)] * 2)
    for serial in ("S-RB-1", "S-RB-2"):
        commission_meter(container.ledger, serial, MeterKind.SUBSTATION_PRIMARY, "RB-1", "站")
        ends = [midnight(SEASON.first_day), midnight(SEASON.last_day + timedelta(days=1))]
        container.ledger.record_readings(SYSTEM, [item(serial, ends[0], D(0)), item(serial, ends[1], D(200))])
    stations = container.analytics_settings
    stations.register_substation(ADMIN, "一站", date(2025, 10, 1), "热源甲", "S-RB-1", [Feed("RB-1", "")], "map")
    stations.reconfigure_substation(
        ADMIN, "一站", date(2025, 12, 1), "热源甲", "S-RB-1", [Feed("RB-1", "1"), Feed("RB-2", "")], "new pipe"
    )
    stations.reconfigure_substation(ADMIN, "一站", date(2026, 1, 15), "热源乙", "S-RB-1", [Feed("RB-2", "")], "split")
    stations.register_substation(ADMIN, "二站", date(2026, 1, 15), "热源甲", "S-RB-2", [Feed("RB-1", "")], "split")
    container.catch_up()
    live = projection_rows(container.engine)
    live_report = container.analytics_reports.heat_loss(REGULATOR, SEASON.code, daily=True)
    assert len(live["substation_configurations"]) == 4 and len(live["substation_feeds"]) == 5
    assert [row.name for row in live_report.rows if row.kind == "substation"] == ["一站", "二站"]

    assert container.runner.rebuild() == container.runner.max_notification_id()
    rebuilt = projection_rows(container.engine)
    for table in SUBSTATION_TABLES:
        assert rebuilt[table.name] == live[table.name]
    assert rebuilt == live
    assert container.analytics_reports.heat_loss(REGULATOR, SEASON.code, daily=True) == live_report


def test_position_fairness_without_a_city_tariff_reads_the_sources_table(container: Container) -> None:
    """No residential city tariff in force: the coefficients are the source's table (was a TypeError)."""
    assert container.analytics_reports.reads.position_table(SEASON) == dict(SOURCE_COEFFICIENT_TABLE)
    assert container.analytics_reports.position_fairness(REGULATOR, SEASON.code).positions == []
