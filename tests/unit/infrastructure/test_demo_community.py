"""The demo community generator: layout, areas, determinism, and physics the ledger will accept."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from domain.heat_physics import check_interval
from domain.readings import ReadingValues
from domain.values import FlowSensorSide, HorizontalPosition, MeterKind, VerticalPosition
from infrastructure.demo.community import demo_period, generate_community
from infrastructure.demo.model import DemoCommunity, Occupancy

# Out of season: the whole 2024-2025 season is generated.
SUMMER_DAY = date(2025, 6, 1)
FLATS_PER_BUILDING = 48


@pytest.fixture(scope="module")
def whole_season() -> DemoCommunity:
    return generate_community(today=SUMMER_DAY, buildings=1)


def readings_by_meter(community: DemoCommunity) -> dict[str, list[ReadingValues]]:
    series: dict[str, list[ReadingValues]] = defaultdict(list)
    for upload in community.uploads:
        for item in upload.items:
            series[item.meter_serial].append(item.values)
    return series


def season_energy_gj(readings: list[ReadingValues]) -> Decimal:
    return readings[-1].energy_gj - readings[0].energy_gj


def test_each_building_has_two_entrances_of_six_floors_of_four_flats() -> None:
    community = generate_community(today=SUMMER_DAY, buildings=3, days=0)
    assert [building.name for building in community.buildings] == ["1", "2", "3"]
    assert len(community.households) == 3 * FLATS_PER_BUILDING
    places = {
        (h.address.building, h.address.entrance, h.address.floor, h.address.flat[-2:]) for h in community.households
    }
    assert len(places) == 3 * FLATS_PER_BUILDING
    assert {h.address.floor for h in community.households} == {1, 2, 3, 4, 5, 6}
    assert {h.address.entrance for h in community.households} == {"1", "2"}
    assert {h.address.community for h in community.households} == {"碧桂园"}
    household = next(h for h in community.households if h.account_number == "BGY-2-1-0601")
    assert (household.address.building, household.address.entrance, household.address.flat) == ("2", "1", "601")


@pytest.mark.parametrize(
    ("floor", "flat", "vertical", "horizontal"),
    [
        (6, "01", VerticalPosition.TOP, HorizontalPosition.WEST_END),
        (6, "04", VerticalPosition.TOP, HorizontalPosition.EAST_END),
        (3, "02", VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE),
        (5, "03", VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE),
        (1, "01", VerticalPosition.BOTTOM, HorizontalPosition.WEST_END),
        (1, "04", VerticalPosition.BOTTOM, HorizontalPosition.EAST_END),
    ],
)
def test_positions_follow_floor_and_flat(
    whole_season: DemoCommunity, floor: int, flat: str, vertical: VerticalPosition, horizontal: HorizontalPosition
) -> None:
    household = next(h for h in whole_season.households if h.account_number == f"BGY-1-2-{floor:02d}{flat}")
    assert (household.position.vertical, household.position.horizontal) == (vertical, horizontal)


def test_areas_are_80_to_120_m2_to_the_hundredth_and_heated_within_connected(whole_season: DemoCommunity) -> None:
    for household in whole_season.households:
        connected, heated = household.areas.connected_area_m2, household.areas.heated_area_m2
        assert Decimal(80) <= connected <= Decimal(120)
        assert connected == connected.quantize(Decimal("0.01")) and heated == heated.quantize(Decimal("0.01"))
        assert Decimal(0) < heated <= connected


def test_every_flat_has_a_household_meter_commissioned_before_the_season(whole_season: DemoCommunity) -> None:
    season_start = datetime(2024, 10, 31, 16, tzinfo=UTC)  # 1 November, midnight in Asia/Shanghai
    building = whole_season.buildings[0]
    for flat in building.flats:
        assert flat.meter.kind is MeterKind.HOUSEHOLD
        assert flat.meter.account_number == flat.household.account_number
        assert flat.household.meter_serial == flat.meter.serial
        assert flat.meter.commissioned_at < season_start
    assert len({flat.meter.serial for flat in building.flats}) == FLATS_PER_BUILDING
    sides = Counter(flat.meter.flow_sensor_side for flat in building.flats)
    assert sides[FlowSensorSide.RETURN] > sides[FlowSensorSide.FLOW]
    assert {flat.meter.accuracy_class.value for flat in building.flats} <= {"2", "3"}
    assert building.meter.kind is MeterKind.BUILDING
    assert (building.meter.community, building.meter.building) == ("碧桂园", "1")
    assert building.meter.commissioned_at < season_start


def test_some_flats_are_vacant_and_some_suspended_before_the_season(whole_season: DemoCommunity) -> None:
    occupancies = Counter(household.occupancy for household in whole_season.households)
    assert occupancies[Occupancy.VACANT] > 0 and occupancies[Occupancy.SUSPENDED] > 0
    assert occupancies[Occupancy.OCCUPIED] > FLATS_PER_BUILDING * 3 // 4
    for household in whole_season.households:
        suspended = household.occupancy is Occupancy.SUSPENDED
        assert (household.suspended_on is not None) == suspended
        if household.suspended_on is not None:
            assert household.suspended_on < whole_season.season.first_day


def test_the_same_seed_gives_the_same_community_and_another_seed_another() -> None:
    first = generate_community(today=SUMMER_DAY, buildings=1, days=5, seed=7)
    assert first == generate_community(today=SUMMER_DAY, buildings=1, days=5, seed=7)
    assert first != generate_community(today=SUMMER_DAY, buildings=1, days=5, seed=8)


def test_fewer_days_give_a_prefix_of_the_same_season(whole_season: DemoCommunity) -> None:
    short = generate_community(today=SUMMER_DAY, buildings=1, days=10)
    assert short.buildings == whole_season.buildings
    assert short.uploads == whole_season.uploads[:10]


def test_one_upload_per_building_per_day_the_first_with_the_opening_readings() -> None:
    community = generate_community(today=SUMMER_DAY, buildings=2, days=3)
    assert [(upload.day, upload.building) for upload in community.uploads] == [
        (date(2024, 11, day), building) for day in (1, 2, 3) for building in ("1", "2")
    ]
    meters_per_building = FLATS_PER_BUILDING + 1
    assert [len(upload.items) for upload in community.uploads] == [2 * meters_per_building] * 2 + [
        meters_per_building
    ] * 4
    closing = [item.values.measured_at for item in community.uploads[-1].items]
    assert set(closing) == {datetime(2024, 11, 3, 16, tzinfo=UTC)}  # midnight closing 3 November, local time


@pytest.mark.parametrize(
    ("today", "season_code", "days"),
    [
        (date(2025, 6, 1), "2024-2025", 151),
        (date(2025, 11, 1), "2025-2026", 0),
        (date(2025, 11, 30), "2025-2026", 29),
        (date(2026, 3, 31), "2025-2026", 150),
        (date(2026, 4, 1), "2025-2026", 151),
    ],
)
def test_the_period_is_the_season_so_far_or_the_last_whole_season(today: date, season_code: str, days: int) -> None:
    season, used = demo_period(today)
    assert (season.code, used) == (season_code, days)


def test_on_the_first_day_of_a_season_only_the_opening_readings_exist() -> None:
    community = generate_community(today=date(2025, 11, 1), buildings=1)
    assert len(community.uploads) == 1
    assert {item.values.measured_at for item in community.uploads[0].items} == {datetime(2025, 10, 31, 16, tzinfo=UTC)}


def test_registers_are_quantised_like_a_meter_s_display(whole_season: DemoCommunity) -> None:
    for upload in whole_season.uploads[:5]:
        for item in upload.items:
            values = item.values
            assert values.energy_gj == values.energy_gj.quantize(Decimal("0.001"))
            assert values.volume_m3 == values.volume_m3.quantize(Decimal("0.01"))  # type: ignore[union-attr]
            for temperature in (values.flow_temperature_c, values.return_temperature_c):
                assert temperature == temperature.quantize(Decimal("0.1"))  # type: ignore[union-attr]


def test_a_typical_occupied_90_m2_flat_uses_20_to_35_gj_a_season(whole_season: DemoCommunity) -> None:
    series = readings_by_meter(whole_season)
    per_90_m2 = {}
    for flat in whole_season.buildings[0].flats:
        if flat.household.occupancy is Occupancy.OCCUPIED:
            energy = season_energy_gj(series[flat.meter.serial])
            per_90_m2[flat.household.account_number] = energy * 90 / flat.household.areas.connected_area_m2
    mean = sum(per_90_m2.values()) / len(per_90_m2)
    assert Decimal(20) <= mean <= Decimal(35)
    # Flats at an average position (gable ends of middle floors, coefficients 0.92–0.97) all fall in the band.
    typical = [
        energy
        for account, energy in per_90_m2.items()
        if account[-4:-2] in {"02", "03", "04", "05"} and account[-2:] in {"01", "04"}
    ]
    assert typical and all(Decimal(20) <= energy <= Decimal(35) for energy in typical)


def test_position_vacancy_and_suspension_show_in_the_heat(whole_season: DemoCommunity) -> None:
    series = readings_by_meter(whole_season)
    by_kind: dict[str, list[Decimal]] = defaultdict(list)
    for flat in whole_season.buildings[0].flats:
        energy_per_m2 = season_energy_gj(series[flat.meter.serial]) / flat.household.areas.heated_area_m2
        position = flat.household.position
        if flat.household.occupancy is not Occupancy.OCCUPIED:
            by_kind[flat.household.occupancy.value].append(energy_per_m2)
        elif position.vertical is VerticalPosition.TOP and position.horizontal is not HorizontalPosition.MIDDLE:
            by_kind["top corner"].append(energy_per_m2)
        elif position.vertical is VerticalPosition.MIDDLE and position.horizontal is HorizontalPosition.MIDDLE:
            by_kind["inner"].append(energy_per_m2)
    assert min(by_kind["top corner"]) > max(by_kind["inner"])
    assert max(by_kind["vacant"]) < min(by_kind["inner"])
    assert set(by_kind["suspended"]) == {Decimal(0)}


def test_the_building_meter_reads_its_flats_plus_3_to_6_percent_each_day(whole_season: DemoCommunity) -> None:
    series = readings_by_meter(whole_season)
    building = whole_season.buildings[0]
    flats = [series[flat.meter.serial] for flat in building.flats]
    building_readings = series[building.meter.serial]
    for day in range(whole_season.days):
        flats_gj = sum((readings[day + 1].energy_gj - readings[day].energy_gj for readings in flats), Decimal(0))
        building_gj = building_readings[day + 1].energy_gj - building_readings[day].energy_gj
        assert flats_gj * Decimal("1.03") <= building_gj <= flats_gj * Decimal("1.06") + Decimal("0.001")


def test_every_interval_passes_the_ledger_s_plausibility_check(whole_season: DemoCommunity) -> None:
    meters = {meter.serial: meter for meter in whole_season.meters}
    checked = unchecked = 0
    for serial, readings in readings_by_meter(whole_season).items():
        meter = meters[serial]
        for start, end in pairwise(readings):
            check = check_interval(
                end.energy_gj - start.energy_gj,
                end.volume_m3 - start.volume_m3,  # type: ignore[operator]
                Decimal((end.measured_at - start.measured_at) / timedelta(hours=1)),
                (start.flow_temperature_c + end.flow_temperature_c) / 2,  # type: ignore[operator]
                (start.return_temperature_c + end.return_temperature_c) / 2,  # type: ignore[operator]
                meter.flow_sensor_side,
                meter.accuracy_class,
                meter.permanent_flow_m3_h,
            )
            if check is None:
                unchecked += 1  # a sealed valve: no flow to check
                continue
            checked += 1
            assert check.plausible, (serial, start.measured_at, check)
    suspended = sum(1 for household in whole_season.households if household.occupancy is Occupancy.SUSPENDED)
    assert unchecked == suspended * whole_season.days
    assert checked > 40 * whole_season.days


def test_registers_grow_from_a_realistic_starting_value(whole_season: DemoCommunity) -> None:
    for serial, readings in readings_by_meter(whole_season).items():
        assert readings[0].energy_gj > 0 and readings[0].volume_m3 > 0, serial  # type: ignore[operator]
        assert all(later.energy_gj >= earlier.energy_gj for earlier, later in pairwise(readings))
        hours = [reading.operating_hours for reading in readings]
        assert all(later - earlier == 24 for earlier, later in pairwise(hours))  # type: ignore[operator]


def test_the_generator_refuses_impossible_sizes() -> None:
    with pytest.raises(ValueError, match="buildings"):
        generate_community(today=SUMMER_DAY, buildings=0)
    with pytest.raises(ValueError, match="negative"):
        generate_community(today=SUMMER_DAY, days=-1)
