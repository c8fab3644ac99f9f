"""The demo's physical model: a flat's daily heat, the network's heating curve, and the water
volume a heat meter must count for a given energy (E = k·Δθ·V, EN 1434).

Daily heat of a flat, in GJ:
    Q = U · 86,400 s · A_heated · max(18 °C − θ_outdoor, 2 K) · c_position · f_occupancy
with U the heat loss per m² of heated floor (W/(m²·K)), calibrated so that a 90 m² flat at the
building's average position coefficient uses about 27 GJ in an ordinary Ningxia season.
"""

from __future__ import annotations

from decimal import Decimal

from domain.heat_physics import heat_coefficient_mj_per_m3_k
from domain.values import FlowSensorSide, HorizontalPosition, VerticalPosition

DESIGN_INDOOR_C = 20.0
DEGREE_DAY_BASE_C = 18.0
# Even on a mild day an open radiator takes some heat from the circulating water.
MINIMUM_DRIVING_DIFFERENCE_K = 2.0
HEAT_LOSS_W_PER_M2_K = 1.35
SECONDS_PER_DAY = 86_400
JOULES_PER_GJ = 1e9

# Heating curve of the secondary network: supply 45 °C at +5 °C outdoor, 60 °C at −15 °C.
SUPPLY_AT_MILD_C = 45.0
MILD_OUTDOOR_C = 5.0
SUPPLY_SLOPE_K_PER_K = 0.75
LOWEST_SUPPLY_C = 42.0
HIGHEST_SUPPLY_C = 65.0

# Relative heat demand by position (domain.md §7): floor × flat along the floor. Flats 02 and 03
# share the middle column of the source's table.
POSITION_COEFFICIENTS: dict[tuple[VerticalPosition, HorizontalPosition], float] = {
    (VerticalPosition.TOP, HorizontalPosition.WEST_END): 1.518,
    (VerticalPosition.TOP, HorizontalPosition.MIDDLE): 1.028,
    (VerticalPosition.TOP, HorizontalPosition.EAST_END): 1.446,
    (VerticalPosition.MIDDLE, HorizontalPosition.WEST_END): 0.970,
    (VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE): 0.687,
    (VerticalPosition.MIDDLE, HorizontalPosition.EAST_END): 0.924,
    (VerticalPosition.BOTTOM, HorizontalPosition.WEST_END): 1.150,
    (VerticalPosition.BOTTOM, HorizontalPosition.MIDDLE): 0.816,
    (VerticalPosition.BOTTOM, HorizontalPosition.EAST_END): 1.096,
}


def daily_heat_gj(
    heated_area_m2: float, outdoor_c: float, position_coefficient: float, occupancy_factor: float
) -> float:
    """A flat's heat on a day with mean outdoor temperature ``outdoor_c``."""
    driving_k = max(DEGREE_DAY_BASE_C - outdoor_c, MINIMUM_DRIVING_DIFFERENCE_K)
    watts = HEAT_LOSS_W_PER_M2_K * heated_area_m2 * driving_k * position_coefficient * occupancy_factor
    return watts * SECONDS_PER_DAY / JOULES_PER_GJ


def supply_temperature_c(outdoor_c: float) -> float:
    """The secondary network's supply temperature for a daily mean outdoor temperature."""
    supply = SUPPLY_AT_MILD_C + (MILD_OUTDOOR_C - outdoor_c) * SUPPLY_SLOPE_K_PER_K
    return min(max(supply, LOWEST_SUPPLY_C), HIGHEST_SUPPLY_C)


def volume_for_energy_m3(energy_gj: Decimal, flow_c: Decimal, return_c: Decimal, side: FlowSensorSide) -> Decimal:
    """The volume that carries ``energy_gj`` between these mean temperatures: E·1000 / (k·Δθ)."""
    if energy_gj <= 0:
        return Decimal(0)
    k_mj_per_m3_k = heat_coefficient_mj_per_m3_k(flow_c, return_c, side)
    return energy_gj * 1000 / (k_mj_per_m3_k * (flow_c - return_c))
