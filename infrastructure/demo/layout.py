"""The community's buildings, flats, households and meters, drawn deterministically from a seed.

Each building has two unit entrances, six floors and four flats a floor: 01 at the west end,
02 and 03 in the middle, 04 at the east end (domain.md §7). Account numbers read
``BGY-<building>-<entrance>-<floor><flat>`` (``BGY-1-1-0601``: building 1, entrance 1, flat 601).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time
from decimal import ROUND_DOWN, Decimal

from domain.day_split import BUSINESS_TIME_ZONE
from domain.season import Season
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
    FlowSensorSide,
    HorizontalPosition,
    MeterKind,
    Position,
    VerticalPosition,
)
from infrastructure.demo.model import DemoBuilding, DemoFlat, DemoHousehold, DemoMeter, FlatBehaviour, Occupancy
from infrastructure.demo.physics import POSITION_COEFFICIENTS

COMMUNITY_NAME = "碧桂园"
COMMUNITY_CODE = "BGY"
ENTRANCES = 2
FLOORS = 6
FLATS_PER_FLOOR = 4
VACANT_FLATS_PER_BUILDING = 4
SUSPENDED_FLATS_PER_BUILDING = 2
# A typical season's heat of an occupied flat, to give older meters realistic starting registers.
TYPICAL_SEASON_GJ = 27.0
HOUSEHOLD_METERS = (
    ("Kamstrup", "MULTICAL 403", AccuracyClass.CLASS_2),
    ("Landis+Gyr", "T550 UH50", AccuracyClass.CLASS_2),
    ("汇中仪表", "HT-20 超声波热量表", AccuracyClass.CLASS_3),
    ("Zenner", "zelsius C5-IUF", AccuracyClass.CLASS_3),
)
HOUSEHOLD_PERMANENT_FLOW_M3_H = Decimal("2.5")  # DN20
BUILDING_PERMANENT_FLOW_M3_H = Decimal(15)  # DN50
RETURN_SIDE_SHARE = 0.85  # most household meters sit in the return pipe
AREA_RESOLUTION = Decimal("0.01")


def vertical_position(floor: int) -> VerticalPosition:
    if floor == FLOORS:
        return VerticalPosition.TOP
    return VerticalPosition.BOTTOM if floor == 1 else VerticalPosition.MIDDLE


def horizontal_position(flat_number: int) -> HorizontalPosition:
    if flat_number == 1:
        return HorizontalPosition.WEST_END
    return HorizontalPosition.EAST_END if flat_number == FLATS_PER_FLOOR else HorizontalPosition.MIDDLE


def account_number(building: int, entrance: int, floor: int, flat_number: int) -> str:
    return f"{COMMUNITY_CODE}-{building}-{entrance}-{floor:02d}{flat_number:02d}"


def household_meter_serial(building: int, entrance: int, floor: int, flat_number: int) -> str:
    """An eight-digit M-Bus style identification number, unique in the community."""
    return f"6{building:02d}{entrance}{floor:02d}{flat_number:02d}"


def building_meter_serial(building: int) -> str:
    return f"{COMMUNITY_CODE}-B{building:02d}"


def _local_instant(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), BUSINESS_TIME_ZONE).astimezone(UTC)


def _decimal(value: float, resolution: Decimal) -> Decimal:
    return Decimal(repr(value)).quantize(resolution)


def _stack_areas(generator: random.Random, flat_number: int) -> Areas:
    """One floor plan per stack of flats: end flats are larger (100–120 m²) than middle ones (80–100)."""
    end_flat = flat_number in (1, FLATS_PER_FLOOR)
    connected = _decimal(generator.uniform(100, 120) if end_flat else generator.uniform(80, 100), AREA_RESOLUTION)
    heated = (connected * _decimal(generator.uniform(0.88, 0.97), Decimal("0.001"))).quantize(
        AREA_RESOLUTION, ROUND_DOWN
    )
    return Areas(connected, heated)


def _occupancies(generator: random.Random) -> list[Occupancy]:
    flats = ENTRANCES * FLOORS * FLATS_PER_FLOOR
    chosen = generator.sample(range(flats), VACANT_FLATS_PER_BUILDING + SUSPENDED_FLATS_PER_BUILDING)
    occupancies = [Occupancy.OCCUPIED] * flats
    for rank, index in enumerate(chosen):
        occupancies[index] = Occupancy.VACANT if rank < VACANT_FLATS_PER_BUILDING else Occupancy.SUSPENDED
    return occupancies


def _occupancy_factor(generator: random.Random, occupancy: Occupancy) -> float:
    if occupancy is Occupancy.SUSPENDED:
        return 0.0
    if occupancy is Occupancy.VACANT:
        return generator.uniform(0.25, 0.4)
    return generator.uniform(0.85, 1.2)  # habits: set temperature, open windows, hours at home


def _household_meter(generator: random.Random, serial: str, account: str, building: int, since: datetime) -> DemoMeter:
    maker, model, accuracy_class = generator.choice(HOUSEHOLD_METERS)
    side = FlowSensorSide.RETURN if generator.random() < RETURN_SIDE_SHARE else FlowSensorSide.FLOW
    return DemoMeter(
        serial,
        maker,
        model,
        accuracy_class,
        side,
        MeterKind.HOUSEHOLD,
        COMMUNITY_NAME,
        str(building),
        since,
        HOUSEHOLD_PERMANENT_FLOW_M3_H,
        account,
    )


def _flat(
    seed: int,
    season: Season,
    building: int,
    entrance: int,
    floor: int,
    flat_number: int,
    areas: Areas,
    occupancy: Occupancy,
) -> DemoFlat:
    generator = random.Random(f"flat:{seed}:{building}:{entrance}:{floor}:{flat_number}")
    account = account_number(building, entrance, floor, flat_number)
    serial = household_meter_serial(building, entrance, floor, flat_number)
    seasons_in_service = generator.randint(1, 4)
    first_year = season.first_day.year - seasons_in_service
    commissioned_at = _local_instant(date(first_year, 9, generator.randint(1, 28)), 10)
    position = Position(vertical_position(floor), horizontal_position(flat_number))
    address = Address(COMMUNITY_NAME, str(building), str(entrance), floor, f"{floor}{flat_number:02d}")
    suspended_on = (
        date(season.first_day.year, 10, generator.randint(10, 28)) if occupancy is Occupancy.SUSPENDED else None
    )
    household = DemoHousehold(
        account, address, areas, position, date(first_year, 8, 1), occupancy, suspended_on, serial
    )
    opening_energy = seasons_in_service * TYPICAL_SEASON_GJ * generator.uniform(0.7, 1.3)
    behaviour = FlatBehaviour(
        position_coefficient=POSITION_COEFFICIENTS[(position.vertical, position.horizontal)],
        occupancy_factor=_occupancy_factor(generator, occupancy),
        temperature_drop_k=generator.uniform(15, 18) if occupancy is Occupancy.VACANT else generator.uniform(10, 15),
        supply_loss_k=generator.uniform(0.0, 1.0),
        opening_energy_gj=_decimal(opening_energy, Decimal("0.001")),
        opening_volume_m3=_decimal(opening_energy * generator.uniform(17, 22), Decimal("0.01")),
    )
    return DemoFlat(household, _household_meter(generator, serial, account, building, commissioned_at), behaviour)


def layout_building(seed: int, season: Season, building: int) -> DemoBuilding:
    """A six-floor, two-entrance building of 48 flats and its building meter."""
    generator = random.Random(f"building:{seed}:{building}")
    occupancies = _occupancies(generator)
    flats: list[DemoFlat] = []
    for entrance in range(1, ENTRANCES + 1):
        stack_areas = {
            flat_number: _stack_areas(generator, flat_number) for flat_number in range(1, FLATS_PER_FLOOR + 1)
        }
        for floor in range(FLOORS, 0, -1):
            for flat_number in range(1, FLATS_PER_FLOOR + 1):
                occupancy = occupancies[len(flats)]
                flats.append(
                    _flat(seed, season, building, entrance, floor, flat_number, stack_areas[flat_number], occupancy)
                )
    seasons_in_service = generator.randint(2, 5)
    commissioned_at = _local_instant(date(season.first_day.year - seasons_in_service, 9, 1), 10)
    meter = DemoMeter(
        building_meter_serial(building),
        "Kamstrup",
        "MULTICAL 603",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.BUILDING,
        COMMUNITY_NAME,
        str(building),
        commissioned_at,
        BUILDING_PERMANENT_FLOW_M3_H,
        None,
    )
    opening_energy = seasons_in_service * len(flats) * TYPICAL_SEASON_GJ * generator.uniform(0.95, 1.1)
    return DemoBuilding(
        name=str(building),
        flats=tuple(flats),
        meter=meter,
        network_loss_share=generator.uniform(0.035, 0.055),
        opening_energy_gj=_decimal(opening_energy, Decimal("0.001")),
        opening_volume_m3=_decimal(opening_energy * generator.uniform(17, 22), Decimal("0.01")),
    )
