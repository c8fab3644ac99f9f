"""Sharing a building heat meter's total among its flats (domain.md §2, methods 2–4).

A building with a building heat meter but no household heat meters divides the heat the building
meter measured over the season among its flats. Each flat gets a weight from its own inputs, and
the building total is shared in proportion to the weights:

    Q_i = Q_building · w_i / Σ_j w_j

The three methods differ only in the weight:

- on-off time-area (通断时间面积法): w_i = t_i · F_i, the valve's accumulated open time in the
  season (hours) times the flat's area (m²);
- temperature-area (温度面积法): domain.md §2 leaves the formula to the tariff; ours is
  w_i = F_i · max(θ_room,i − θ_outdoor, 0), the area times how far the flat's mean measured room
  temperature lay above the season's mean outdoor temperature. A flat colder than outdoors gets
  weight 0 (it took no heat worth sharing);
- heat cost allocators (散热器热分配计法, EN 834): w_i = Σ over the flat's radiators of r · K_Q · K_C,
  the allocator reading times the radiator's rating factor and the thermal-contact factor.

The parts come from :func:`domain.apportion.apportion` (largest remainder, ties to the earlier
flat), in the finest unit the building total is written in, so they always sum exactly to the
building total: no unit is lost or created. The module is pure: it knows nothing of storage,
tariffs or prices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from domain.apportion import apportion, quantum_of
from domain.errors import InvalidInputError

MAXIMUM_FLATS = 5000
# As for a household's areas (domain.household, not imported: it pulls in the event-sourcing library).
MAXIMUM_AREA_M2 = Decimal(100000)
# A whole city uses about 10⁷ GJ a season (domain.md §10); a bigger building figure is a typing error.
# The bound and the nine decimals (1 J) keep the largest-remainder arithmetic exact in Decimal's 28 digits.
MAXIMUM_BUILDING_ENERGY_GJ = Decimal(10) ** 9
FINEST_BUILDING_ENERGY_GJ = Decimal("1E-9")
# A valve cannot be open longer than a (leap) year has hours.
MAXIMUM_OPEN_HOURS = Decimal(366 * 24)
MAXIMUM_RADIATORS_PER_FLAT = 100
LOWEST_ROOM_TEMPERATURE_C = Decimal(-30)
HIGHEST_ROOM_TEMPERATURE_C = Decimal(40)
ZERO = Decimal(0)


class AllocationMethod(StrEnum):
    """How a building's measured heat is shared among its flats (domain.md §2)."""

    ON_OFF_TIME_AREA = "on_off_time_area"  # 通断时间面积法
    TEMPERATURE_AREA = "temperature_area"  # 温度面积法
    HEAT_COST_ALLOCATORS = "heat_cost_allocators"  # 散热器热分配计法


@dataclass(frozen=True)
class Radiator:
    """One heat cost allocator on one radiator, with the season's reading and its two factors."""

    reading_units: Decimal  # r, the allocator's reading for the season (>= 0)
    rating_factor_kq: Decimal  # K_Q, the radiator's rated output factor (> 0)
    contact_factor_kc: Decimal  # K_C, the thermal-contact factor between radiator and allocator (> 0)


@dataclass(frozen=True)
class FlatInput:
    """One flat's inputs; only those the chosen method needs are read, the others are ignored."""

    account_number: str
    area_m2: Decimal  # > 0
    open_hours: Decimal | None = None  # on-off: the valve's accumulated open time in the season (>= 0)
    room_temperature_c: Decimal | None = None  # temperature-area: the flat's mean measured room temperature
    radiators: tuple[Radiator, ...] = ()  # heat cost allocators


@dataclass(frozen=True)
class FlatShare:
    """A flat's weight in the formula and its share of the building total."""

    account_number: str
    weight: Decimal  # the flat's weight in the formula (e.g. t_i·F_i)
    energy_gj: Decimal  # its share of the building total


@dataclass(frozen=True)
class Allocation:
    """The result of sharing a building's heat: one share per flat, in the order the flats were given."""

    method: AllocationMethod
    building_energy_gj: Decimal
    outdoor_temperature_c: Decimal | None
    weight_total: Decimal
    shares: tuple[FlatShare, ...]


def allocate(
    method: AllocationMethod | str,
    building_energy_gj: Decimal,
    flats: Sequence[FlatInput],
    outdoor_temperature_c: Decimal | None = None,
) -> Allocation:
    """Share ``building_energy_gj`` among ``flats`` by ``method``.

    Each flat's weight comes from :func:`flat_weight`; the energy is shared in proportion to the
    weights by the largest-remainder rule, in the finest unit ``building_energy_gj`` is written in
    (3 decimals → whole MJ), so the shares sum exactly to the building total. Leftover units go to
    the largest remainders, ties to the flat listed first.

    If every weight is zero (every valve stayed closed, every allocator reads 0, or every flat was
    colder than outdoors) there is nothing to weigh by and the total is shared equally among the
    flats, as :func:`domain.apportion.apportion` does; the building meter did measure that heat.

    ``outdoor_temperature_c`` is the season's mean outdoor temperature; the temperature-area method
    needs it, the other methods ignore it (it is kept in the result as given).

    Raises :class:`InvalidInputError` for no flats or more than ``MAXIMUM_FLATS``, a building total
    that is negative, not finite, above ``MAXIMUM_BUILDING_ENERGY_GJ`` or finer than nine decimals,
    a repeated account number, or any flat input the method rejects.
    """
    chosen = _method(method)
    _check_flat_count(flats)
    _check_building_energy(building_energy_gj)
    _check_outdoor_temperature(chosen, outdoor_temperature_c)
    _check_unique_accounts(flats)
    weights = [flat_weight(chosen, flat, outdoor_temperature_c) for flat in flats]
    quantum = quantum_of(building_energy_gj)
    parts = apportion(building_energy_gj, weights, quantum)
    shares = tuple(
        FlatShare(flat.account_number, weight, part.quantize(quantum))  # every part in the total's unit
        for flat, weight, part in zip(flats, weights, parts, strict=True)
    )
    return Allocation(chosen, building_energy_gj, outdoor_temperature_c, sum(weights, ZERO), shares)


def flat_weight(method: AllocationMethod | str, flat: FlatInput, outdoor_temperature_c: Decimal | None) -> Decimal:
    """A flat's weight under ``method`` (never negative).

    - on-off time-area: ``open_hours · area_m2``;
    - temperature-area: ``area_m2 · max(room_temperature_c − outdoor_temperature_c, 0)``;
    - heat cost allocators: ``Σ reading_units · rating_factor_kq · contact_factor_kc`` over the radiators.

    Raises :class:`InvalidInputError` if the input the method needs is missing or out of range.
    """
    chosen = _method(method)
    area_m2 = _positive(flat.area_m2, "area_m2", flat.account_number)
    if area_m2 > MAXIMUM_AREA_M2:
        raise _invalid(area_m2, "area_m2", flat.account_number, f"at most {MAXIMUM_AREA_M2} m²")
    if chosen is AllocationMethod.ON_OFF_TIME_AREA:
        return _on_off_weight(flat, area_m2)
    if chosen is AllocationMethod.TEMPERATURE_AREA:
        _check_outdoor_temperature(chosen, outdoor_temperature_c)
        assert outdoor_temperature_c is not None
        return _temperature_weight(flat, area_m2, outdoor_temperature_c)
    return _allocator_weight(flat)


def _on_off_weight(flat: FlatInput, area_m2: Decimal) -> Decimal:
    """t_i · F_i."""
    open_hours = _non_negative(_required(flat.open_hours, "open_hours", flat), "open_hours", flat.account_number)
    if open_hours > MAXIMUM_OPEN_HOURS:
        raise _invalid(open_hours, "open_hours", flat.account_number, f"at most {MAXIMUM_OPEN_HOURS} hours (a year)")
    return open_hours * area_m2


def _temperature_weight(flat: FlatInput, area_m2: Decimal, outdoor_temperature_c: Decimal) -> Decimal:
    """F_i · max(θ_room,i − θ_outdoor, 0)."""
    room_c = _required(flat.room_temperature_c, "room_temperature_c", flat)
    _check_room_temperature(room_c, flat.account_number)
    return area_m2 * max(room_c - outdoor_temperature_c, ZERO)


def _allocator_weight(flat: FlatInput) -> Decimal:
    """Σ r · K_Q · K_C over the flat's radiators."""
    if not flat.radiators:
        raise InvalidInputError(
            f"flat {flat.account_number} lists no radiators; the heat cost allocator method needs at least one",
            message_key="allocation_input_missing",
            field="radiators",
            account_number=flat.account_number,
        )
    if len(flat.radiators) > MAXIMUM_RADIATORS_PER_FLAT:
        raise InvalidInputError(
            f"flat {flat.account_number} lists {len(flat.radiators)} radiators, "
            f"more than the {MAXIMUM_RADIATORS_PER_FLAT} a flat may have",
            message_key="allocation_input_invalid",
            field="radiators",
            account_number=flat.account_number,
            limit=MAXIMUM_RADIATORS_PER_FLAT,
            value=len(flat.radiators),
        )
    return sum((_radiator_weight(radiator, flat.account_number) for radiator in flat.radiators), ZERO)


def _radiator_weight(radiator: Radiator, account_number: str) -> Decimal:
    """r · K_Q · K_C for one radiator."""
    reading = _non_negative(radiator.reading_units, "reading_units", account_number)
    rating = _positive(radiator.rating_factor_kq, "rating_factor_kq", account_number)
    contact = _positive(radiator.contact_factor_kc, "contact_factor_kc", account_number)
    return reading * rating * contact


def _method(method: AllocationMethod | str) -> AllocationMethod:
    """The method as a member (event payloads and requests carry it as its plain string)."""
    try:
        return AllocationMethod(method)
    except ValueError:
        known = ", ".join(member.value for member in AllocationMethod)
        raise InvalidInputError(
            f"unknown allocation method {method!r}; use one of {known}",
            message_key="allocation_method_unknown",
            field="method",
            value=str(method),
        ) from None


def _check_flat_count(flats: Sequence[FlatInput]) -> None:
    if not flats:
        raise InvalidInputError(
            "a building's heat cannot be allocated without at least one flat", message_key="allocation_without_flats"
        )
    if len(flats) > MAXIMUM_FLATS:
        raise InvalidInputError(
            f"a building may have at most {MAXIMUM_FLATS} flats to allocate among, not {len(flats)}",
            message_key="allocation_too_many_flats",
            limit=MAXIMUM_FLATS,
            value=len(flats),
        )


def _check_building_energy(building_energy_gj: Decimal) -> None:
    if not _is_finite_decimal(building_energy_gj):
        raise InvalidInputError(
            f"the building energy must be a finite Decimal, not {building_energy_gj}",
            message_key="allocation_input_invalid",
            field="building_energy_gj",
            value=str(building_energy_gj),
        )
    if building_energy_gj < 0:
        raise InvalidInputError(
            f"the building energy must not be negative, not {building_energy_gj} GJ",
            message_key="allocation_energy_negative",
            field="building_energy_gj",
            value=str(building_energy_gj),
        )
    if building_energy_gj > MAXIMUM_BUILDING_ENERGY_GJ or quantum_of(building_energy_gj) < FINEST_BUILDING_ENERGY_GJ:
        raise InvalidInputError(
            f"the building energy must be at most {MAXIMUM_BUILDING_ENERGY_GJ} GJ with at most nine decimals, "
            f"not {building_energy_gj} GJ",
            message_key="allocation_input_invalid",
            field="building_energy_gj",
            limit=str(MAXIMUM_BUILDING_ENERGY_GJ),
            value=str(building_energy_gj),
        )


def _check_outdoor_temperature(method: AllocationMethod, outdoor_temperature_c: Decimal | None) -> None:
    if outdoor_temperature_c is None:
        if method is AllocationMethod.TEMPERATURE_AREA:
            raise InvalidInputError(
                "the temperature-area method needs the season's mean outdoor temperature",
                message_key="outdoor_temperature_missing",
                field="outdoor_temperature_c",
            )
        return
    if not _is_finite_decimal(outdoor_temperature_c):
        raise InvalidInputError(
            f"the outdoor temperature must be a finite Decimal, not {outdoor_temperature_c}",
            message_key="allocation_input_invalid",
            field="outdoor_temperature_c",
            value=str(outdoor_temperature_c),
        )


def _check_unique_accounts(flats: Sequence[FlatInput]) -> None:
    seen: set[str] = set()
    for flat in flats:
        if flat.account_number in seen:
            raise InvalidInputError(
                f"flat {flat.account_number} is listed more than once",
                message_key="allocation_duplicate_flat",
                account_number=flat.account_number,
            )
        seen.add(flat.account_number)


def _check_room_temperature(room_c: Decimal, account_number: str) -> None:
    finite = _is_finite_decimal(room_c)
    if not finite or not LOWEST_ROOM_TEMPERATURE_C <= room_c <= HIGHEST_ROOM_TEMPERATURE_C:
        raise InvalidInputError(
            f"flat {account_number}: room temperature {room_c} °C must lie in "
            f"{LOWEST_ROOM_TEMPERATURE_C}…{HIGHEST_ROOM_TEMPERATURE_C} °C",
            message_key="room_temperature_out_of_range",
            field="room_temperature_c",
            account_number=account_number,
            minimum=str(LOWEST_ROOM_TEMPERATURE_C),
            maximum=str(HIGHEST_ROOM_TEMPERATURE_C),
            value=str(room_c),
        )


def _required(value: Decimal | None, field: str, flat: FlatInput) -> Decimal:
    if value is None:
        raise InvalidInputError(
            f"flat {flat.account_number} has no {field}, which this allocation method needs",
            message_key="allocation_input_missing",
            field=field,
            account_number=flat.account_number,
        )
    return value


def _non_negative(value: Decimal, field: str, account_number: str) -> Decimal:
    if not _is_finite_decimal(value) or value < 0:
        raise _invalid(value, field, account_number, "a finite Decimal of at least 0")
    return value


def _positive(value: Decimal, field: str, account_number: str) -> Decimal:
    if not _is_finite_decimal(value) or value <= 0:
        raise _invalid(value, field, account_number, "a finite Decimal greater than 0")
    return value


def _invalid(value: object, field: str, account_number: str, rule: str) -> InvalidInputError:
    return InvalidInputError(
        f"flat {account_number}: {field} must be {rule}, not {value}",
        message_key="allocation_input_invalid",
        field=field,
        account_number=account_number,
        value=str(value),
    )


def _is_finite_decimal(value: object) -> bool:
    """A ``Decimal`` that is neither NaN nor infinite (floats are refused: money and energy are exact)."""
    return isinstance(value, Decimal) and value.is_finite()
