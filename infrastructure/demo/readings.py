"""Daily readings of the demo's meters, following the physical model.

Each meter is read at local midnight (Asia/Shanghai): an opening reading on the season's first
day, then one reading closing every day. A reading carries cumulative registers (energy, volume,
operating hours) and the instant values the meter showed (flow and return temperature, flow rate,
power). The volume of each day is derived from its energy and the mean of the temperatures at its
two readings, ΔV = ΔE·1000 / (k·Δθ), so the ledger's k·Δθ·ΔV check finds every day plausible
up to the registers' resolution.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal

from domain.day_split import BUSINESS_TIME_ZONE
from domain.readings import ReadingValues
from domain.season import Season
from domain.values import ReadingSource
from infrastructure.demo.model import DemoBuilding, DemoFlat, DemoMeter
from infrastructure.demo.physics import daily_heat_gj, supply_temperature_c, volume_for_energy_m3

ENERGY_RESOLUTION_GJ = Decimal("0.001")
VOLUME_RESOLUTION_M3 = Decimal("0.01")
TEMPERATURE_RESOLUTION_C = Decimal("0.1")
FLOW_RATE_RESOLUTION_M3_H = Decimal("0.001")
POWER_RESOLUTION_KW = Decimal("0.01")
# Water standing behind a sealed valve cools to about the temperature of the flat around it.
STAGNANT_FLOW_C = 18.0
STAGNANT_RETURN_C = 17.0
# A building's share of heat lost between its meter and its flats stays within these bounds.
LOWEST_LOSS_SHARE = 0.03
HIGHEST_LOSS_SHARE = 0.06
HOURS_PER_DAY = 24
KW_PER_GJ_PER_DAY = Decimal(1_000_000) / Decimal(86_400)


@dataclass(frozen=True)
class Temperatures:
    flow_c: Decimal
    return_c: Decimal


@dataclass(frozen=True)
class MeterSeries:
    """A meter's readings (the opening one first) and what it metered on each day."""

    readings: list[ReadingValues]
    daily_energy_gj: list[Decimal]
    daily_volume_m3: list[Decimal]
    temperatures: list[Temperatures]


def reading_instants(season: Season, days: int) -> list[datetime]:
    """Local midnight of the season's first day and of the end of each of ``days`` days, in UTC."""
    first = datetime.combine(season.first_day, time(0), BUSINESS_TIME_ZONE)
    return [(first + timedelta(days=offset)).astimezone(UTC) for offset in range(days + 1)]


def _tenth(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(TEMPERATURE_RESOLUTION_C)


def _day_of(instant_index: int) -> int:
    """The day whose weather a reading's instant values follow: the day it closes (the first day for the opening)."""
    return max(instant_index - 1, 0)


def _mean_volume(energy_gj: Decimal, start: Temperatures, end: Temperatures, meter: DemoMeter) -> Decimal:
    mean_flow = (start.flow_c + end.flow_c) / 2
    mean_return = (start.return_c + end.return_c) / 2
    return volume_for_energy_m3(energy_gj, mean_flow, mean_return, meter.flow_sensor_side)


def _series(
    meter: DemoMeter,
    opening_energy_gj: Decimal,
    opening_volume_m3: Decimal,
    instants: Sequence[datetime],
    temperatures: list[Temperatures],
    energies: list[Decimal],
) -> MeterSeries:
    volumes = [
        _mean_volume(energies[day], temperatures[day], temperatures[day + 1], meter) for day in range(len(energies))
    ]
    readings = []
    energy, volume = opening_energy_gj, opening_volume_m3
    for index, instant in enumerate(instants):
        if index > 0:
            energy += energies[index - 1]
            volume += volumes[index - 1]
        day = _day_of(index)
        day_energy = energies[day] if energies else Decimal(0)
        day_volume = volumes[day] if volumes else Decimal(0)
        readings.append(
            ReadingValues(
                measured_at=instant,
                energy_gj=energy,
                volume_m3=volume.quantize(VOLUME_RESOLUTION_M3),
                operating_hours=Decimal(int((instant - meter.commissioned_at).total_seconds() // 3600)),
                flow_temperature_c=temperatures[index].flow_c,
                return_temperature_c=temperatures[index].return_c,
                flow_rate_m3_h=(day_volume / HOURS_PER_DAY).quantize(FLOW_RATE_RESOLUTION_M3_H),
                power_kw=(day_energy * KW_PER_GJ_PER_DAY).quantize(POWER_RESOLUTION_KW),
                source=ReadingSource.MBUS,
            )
        )
    return MeterSeries(readings, energies, volumes, temperatures)


def flat_series(flat: DemoFlat, outdoor_c: Sequence[float], instants: Sequence[datetime], seed: int) -> MeterSeries:
    """The household meter's readings: heat by the flat's area, position, use and the weather."""
    generator = random.Random(f"readings:{seed}:{flat.meter.serial}")
    behaviour = flat.behaviour
    heated_area_m2 = float(flat.household.areas.heated_area_m2)
    sealed = behaviour.occupancy_factor == 0
    temperatures, energies = [], []
    for index in range(len(instants)):
        # Three draws per reading whatever the flat, so a day's values never depend on how many days follow.
        flow_jitter = generator.uniform(-0.3, 0.3)
        drop_jitter = generator.uniform(-0.5, 0.5)
        use_jitter = generator.uniform(0.95, 1.05)
        outdoor = outdoor_c[_day_of(index)]
        if sealed:
            stagnant = Temperatures(_tenth(STAGNANT_FLOW_C + flow_jitter), _tenth(STAGNANT_RETURN_C + flow_jitter))
            temperatures.append(stagnant)
        else:
            flow = supply_temperature_c(outdoor) - behaviour.supply_loss_k + flow_jitter
            temperatures.append(Temperatures(_tenth(flow), _tenth(flow - behaviour.temperature_drop_k + drop_jitter)))
        if index > 0:
            occupancy_factor = behaviour.occupancy_factor * use_jitter
            heat = daily_heat_gj(heated_area_m2, outdoor, behaviour.position_coefficient, occupancy_factor)
            energies.append(Decimal(repr(heat)).quantize(ENERGY_RESOLUTION_GJ))
    return _series(
        flat.meter, behaviour.opening_energy_gj, behaviour.opening_volume_m3, instants, temperatures, energies
    )


def _mixed_return_c(flats: Sequence[MeterSeries], index: int) -> Decimal | None:
    """The return temperature of the building: the flats' returns mixed by their flow that day."""
    day = _day_of(index)
    weights = [series.daily_volume_m3[day] if series.daily_volume_m3 else Decimal(0) for series in flats]
    total = sum(weights, Decimal(0))
    if total == 0:
        return None
    mixed = sum(
        (weight * series.temperatures[index].return_c for weight, series in zip(weights, flats, strict=True)),
        Decimal(0),
    )
    return (mixed / total).quantize(TEMPERATURE_RESOLUTION_C)


def building_series(
    building: DemoBuilding,
    flats: Sequence[MeterSeries],
    outdoor_c: Sequence[float],
    instants: Sequence[datetime],
    seed: int,
) -> MeterSeries:
    """The building meter: the flats' heat plus the building's network loss (3–6 %)."""
    generator = random.Random(f"readings:{seed}:{building.meter.serial}")
    temperatures, energies = [], []
    for index in range(len(instants)):
        supply_jitter, loss_jitter = generator.uniform(-0.2, 0.2), generator.uniform(-0.005, 0.005)
        supply = _tenth(supply_temperature_c(outdoor_c[_day_of(index)]) + supply_jitter)
        mixed_return = _mixed_return_c(flats, index)
        temperatures.append(Temperatures(supply, mixed_return if mixed_return is not None else supply - 12))
        if index > 0:
            flats_energy = sum((series.daily_energy_gj[index - 1] for series in flats), Decimal(0))
            loss = min(max(building.network_loss_share + loss_jitter, LOWEST_LOSS_SHARE), HIGHEST_LOSS_SHARE)
            with_loss = flats_energy * (1 + Decimal(repr(loss)))
            energies.append(with_loss.quantize(ENERGY_RESOLUTION_GJ, rounding=ROUND_CEILING))
    return _series(
        building.meter, building.opening_energy_gj, building.opening_volume_m3, instants, temperatures, energies
    )
