"""Sharing a building meter's heat among its flats (domain.md §2), with the arithmetic written out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.allocation import (
    MAXIMUM_FLATS,
    MAXIMUM_RADIATORS_PER_FLAT,
    Allocation,
    AllocationMethod,
    FlatInput,
    FlatShare,
    Radiator,
    allocate,
    flat_weight,
)
from domain.apportion import quantum_of
from domain.errors import InvalidInputError

D = Decimal
ON_OFF = AllocationMethod.ON_OFF_TIME_AREA
TEMPERATURE = AllocationMethod.TEMPERATURE_AREA
ALLOCATORS = AllocationMethod.HEAT_COST_ALLOCATORS


def on_off_flat(account_number: str, area_m2: str, open_hours: str | None) -> FlatInput:
    return FlatInput(account_number, D(area_m2), open_hours=None if open_hours is None else D(open_hours))


def temperature_flat(account_number: str, area_m2: str, room_temperature_c: str | None) -> FlatInput:
    room_c = None if room_temperature_c is None else D(room_temperature_c)
    return FlatInput(account_number, D(area_m2), room_temperature_c=room_c)


def radiator(reading_units: str, rating_factor_kq: str, contact_factor_kc: str) -> Radiator:
    return Radiator(D(reading_units), D(rating_factor_kq), D(contact_factor_kc))


def energies(allocation: Allocation) -> list[tuple[str, Decimal]]:
    return [(share.account_number, share.energy_gj) for share in allocation.shares]


# --- hand-computed cases -------------------------------------------------------------------------


def test_on_off_time_area_shares_by_open_time_times_area_and_a_tie_goes_to_the_earlier_flat() -> None:
    flats = [on_off_flat("A", "90", "1000"), on_off_flat("B", "100", "900"), on_off_flat("C", "60", "1200")]
    allocation = allocate(ON_OFF, D("10.000"), flats)
    # Weights t·F: A 1000 h × 90 m² = 90 000; B 900 × 100 = 90 000; C 1200 × 60 = 72 000; Σ = 252 000.
    # 10.000 GJ is 10 000 MJ (the total's finest unit): A = B = 10 000 × 90/252 = 3571.43 MJ,
    # C = 10 000 × 72/252 = 2857.14 MJ. Floors 3571 + 3571 + 2857 = 9999: one MJ left over.
    # Remainders .43 (A) = .43 (B) > .14 (C): A and B tie and the tie goes to the earlier flat, A.
    assert energies(allocation) == [("A", D("3.572")), ("B", D("3.571")), ("C", D("2.857"))]
    assert [share.weight for share in allocation.shares] == [D(90000), D(90000), D(72000)]
    assert allocation.weight_total == D(252000)
    assert allocation.method is ON_OFF
    assert allocation.building_energy_gj == D("10.000")
    assert allocation.outdoor_temperature_c is None
    assert sum((share.energy_gj for share in allocation.shares), D(0)) == D("10.000")


def test_temperature_area_weights_area_by_degrees_above_outdoors_and_a_colder_flat_gets_nothing() -> None:
    flats = [
        temperature_flat("A", "80", "20.5"),
        temperature_flat("B", "100", "18"),
        temperature_flat("C", "50", "15"),
        temperature_flat("D", "70", "-8"),  # empty and unheated: colder than the −5 °C outdoors
    ]
    allocation = allocate(TEMPERATURE, D("10.00"), flats, outdoor_temperature_c=D("-5"))
    # Weights F·max(θ_room − θ_out, 0) with θ_out = −5 °C: A 80 × 25.5 = 2040; B 100 × 23 = 2300;
    # C 50 × 20 = 1000; D 70 × max(−3, 0) = 0; Σ = 5340.
    # 10.00 GJ is 1000 hundredths: A 1000 × 2040/5340 = 382.02, B 430.71, C 187.27, D 0.
    # Floors 382 + 430 + 187 + 0 = 999: one hundredth left, to the largest remainder .71 (B).
    assert energies(allocation) == [("A", D("3.82")), ("B", D("4.31")), ("C", D("1.87")), ("D", D("0.00"))]
    assert [share.weight for share in allocation.shares] == [D(2040), D(2300), D(1000), D(0)]
    assert allocation.weight_total == D(5340)
    assert allocation.outdoor_temperature_c == D(-5)
    # Every share is written in the total's unit, the zero share too.
    assert [str(share.energy_gj) for share in allocation.shares] == ["3.82", "4.31", "1.87", "0.00"]


def test_heat_cost_allocators_share_by_readings_times_both_factors() -> None:
    flats = [
        FlatInput("A", D(80), radiators=(radiator("120", "1.2", "1.0"), radiator("80", "0.8", "1.05"))),
        FlatInput("B", D(90), radiators=(radiator("200", "1", "1"),)),
        FlatInput("C", D(60), radiators=(radiator("50", "1.5", "0.9"), radiator("0", "1", "1"))),
    ]
    allocation = allocate(ALLOCATORS, D("1.000"), flats)
    # Weights Σ r·K_Q·K_C: A 120 × 1.2 × 1.0 + 80 × 0.8 × 1.05 = 144 + 67.2 = 211.2;
    # B 200 × 1 × 1 = 200; C 50 × 1.5 × 0.9 + 0 = 67.5; Σ = 478.7. The area plays no part.
    # 1.000 GJ is 1000 MJ: A 1000 × 211.2/478.7 = 441.19, B 417.80, C 141.01.
    # Floors 441 + 417 + 141 = 999: one MJ left, to the largest remainder .80 (B).
    assert energies(allocation) == [("A", D("0.441")), ("B", D("0.418")), ("C", D("0.141"))]
    assert [share.weight for share in allocation.shares] == [D("211.2"), D(200), D("67.5")]
    assert allocation.weight_total == D("478.7")


def test_when_every_valve_stayed_closed_the_building_total_is_shared_equally() -> None:
    flats = [on_off_flat("A", "90", "0"), on_off_flat("B", "100", "0"), on_off_flat("C", "60", "0")]
    allocation = allocate(ON_OFF, D("10.000"), flats)
    # Σw = 0: nothing to weigh by, so 10 000 MJ / 3 = 3333.33 each; the leftover MJ goes to the first flat.
    assert energies(allocation) == [("A", D("3.334")), ("B", D("3.333")), ("C", D("3.333"))]
    assert allocation.weight_total == D(0)


def test_a_zero_building_total_gives_zero_shares() -> None:
    allocation = allocate(ON_OFF, D("0.000"), [on_off_flat("A", "90", "10"), on_off_flat("B", "80", "20")])
    assert energies(allocation) == [("A", D("0.000")), ("B", D("0.000"))]


def test_the_method_may_be_given_as_its_plain_string_and_other_methods_inputs_are_ignored() -> None:
    flat = FlatInput("A", D(80), open_hours=D(100), room_temperature_c=D(20), radiators=(radiator("5", "1", "1"),))
    allocation = allocate("on_off_time_area", D("3.5"), [flat], outdoor_temperature_c=D(0))
    assert allocation.method is ON_OFF
    assert allocation.shares == (FlatShare("A", D(8000), D("3.5")),)
    assert allocation.outdoor_temperature_c == D(0)  # kept as given, though this method does not use it


def test_flat_weight_gives_each_method_s_weight() -> None:
    flat = FlatInput(
        "A",
        D("85.5"),
        open_hours=D("1200.5"),
        room_temperature_c=D("19.5"),
        radiators=(radiator("100", "1.1", "0.9"), radiator("40", "2", "1")),
    )
    assert flat_weight(ON_OFF, flat, None) == D("102642.75")  # 1200.5 × 85.5
    assert flat_weight(TEMPERATURE, flat, D("-2.5")) == D("1881.0")  # 85.5 × (19.5 + 2.5) = 85.5 × 22
    assert flat_weight(TEMPERATURE, flat, D("25")) == D(0)  # warmer outdoors than in: weight 0
    assert flat_weight(ALLOCATORS, flat, None) == D("179")  # 100 × 1.1 × 0.9 + 40 × 2 × 1 = 99 + 80


def test_room_temperatures_at_the_ends_of_the_range_are_accepted() -> None:
    flats = [temperature_flat("A", "50", "-30"), temperature_flat("B", "50", "40")]
    allocation = allocate(TEMPERATURE, D(6), flats, outdoor_temperature_c=D(10))
    # A: 50 × max(−40, 0) = 0; B: 50 × 30 = 1500 → B takes everything.
    assert energies(allocation) == [("A", D(0)), ("B", D(6))]


# --- errors --------------------------------------------------------------------------------------


@contextmanager
def raises_key(message_key: str, **params: Any) -> Iterator[None]:
    """Expect an InvalidInputError with this message key, these params and an English message."""
    with pytest.raises(InvalidInputError) as info:
        yield
    error = info.value
    assert error.message_key == message_key, error.message
    for name, value in params.items():
        assert error.params[name] == value, (name, error.params)
    assert error.message


def test_no_flats_is_refused() -> None:
    with raises_key("allocation_without_flats"):
        allocate(ON_OFF, D(10), [])


def test_more_than_the_maximum_number_of_flats_is_refused() -> None:
    flats = [on_off_flat(f"F{index}", "50", "10") for index in range(MAXIMUM_FLATS + 1)]
    with raises_key("allocation_too_many_flats", limit=MAXIMUM_FLATS, value=MAXIMUM_FLATS + 1):
        allocate(ON_OFF, D(10), flats)


def test_the_maximum_number_of_flats_is_accepted() -> None:
    flats = [on_off_flat(f"F{index}", "50", "10") for index in range(MAXIMUM_FLATS)]
    allocation = allocate(ON_OFF, D("5000.000"), flats)
    assert {share.energy_gj for share in allocation.shares} == {D(1)}


def test_a_negative_building_total_is_refused() -> None:
    with raises_key("allocation_energy_negative", field="building_energy_gj"):
        allocate(ON_OFF, D("-0.001"), [on_off_flat("A", "50", "10")])


@pytest.mark.parametrize("energy_gj", [D("NaN"), D("Infinity"), D("1000000000.001"), D("1.0000000001")])
def test_a_building_total_that_is_not_finite_too_large_or_too_fine_is_refused(energy_gj: Decimal) -> None:
    with raises_key("allocation_input_invalid", field="building_energy_gj"):
        allocate(ON_OFF, energy_gj, [on_off_flat("A", "50", "10")])


def test_a_float_building_total_is_refused() -> None:
    with raises_key("allocation_input_invalid", field="building_energy_gj"):
        allocate(ON_OFF, 10.0, [on_off_flat("A", "50", "10")])  # type: ignore[arg-type]


def test_a_repeated_account_number_is_refused() -> None:
    flats = [on_off_flat("A", "50", "10"), on_off_flat("B", "50", "10"), on_off_flat("A", "60", "5")]
    with raises_key("allocation_duplicate_flat", account_number="A"):
        allocate(ON_OFF, D(10), flats)


def test_an_unknown_method_is_refused() -> None:
    with raises_key("allocation_method_unknown", field="method", value="by_guess"):
        allocate("by_guess", D(10), [on_off_flat("A", "50", "10")])


def test_the_temperature_method_needs_the_outdoor_temperature() -> None:
    with raises_key("outdoor_temperature_missing", field="outdoor_temperature_c"):
        allocate(TEMPERATURE, D(10), [temperature_flat("A", "50", "20")])
    with raises_key("outdoor_temperature_missing"):
        flat_weight(TEMPERATURE, temperature_flat("A", "50", "20"), None)


def test_a_non_finite_outdoor_temperature_is_refused() -> None:
    with raises_key("allocation_input_invalid", field="outdoor_temperature_c"):
        allocate(TEMPERATURE, D(10), [temperature_flat("A", "50", "20")], outdoor_temperature_c=D("NaN"))


@pytest.mark.parametrize("room_c", ["-30.1", "40.1", "NaN", "-Infinity"])
def test_a_room_temperature_outside_minus_30_to_40_is_refused(room_c: str) -> None:
    with raises_key("room_temperature_out_of_range", field="room_temperature_c", account_number="B"):
        allocate(
            TEMPERATURE,
            D(10),
            [temperature_flat("A", "50", "20"), temperature_flat("B", "50", room_c)],
            outdoor_temperature_c=D(0),
        )


@pytest.mark.parametrize(
    ("method", "flat", "field"),
    [
        (ON_OFF, on_off_flat("B", "50", None), "open_hours"),
        (TEMPERATURE, temperature_flat("B", "50", None), "room_temperature_c"),
        (ALLOCATORS, FlatInput("B", D(50)), "radiators"),
    ],
)
def test_a_missing_input_for_the_method_is_named(method: AllocationMethod, flat: FlatInput, field: str) -> None:
    complete = FlatInput("A", D(50), open_hours=D(1), room_temperature_c=D(20), radiators=(radiator("1", "1", "1"),))
    with raises_key("allocation_input_missing", field=field, account_number="B"):
        allocate(method, D(10), [complete, flat], outdoor_temperature_c=D(0))


@pytest.mark.parametrize(
    ("method", "flat", "field"),
    [
        (ON_OFF, on_off_flat("B", "0", "10"), "area_m2"),
        (ON_OFF, on_off_flat("B", "-1", "10"), "area_m2"),
        (ON_OFF, on_off_flat("B", "100000.01", "10"), "area_m2"),
        (ON_OFF, on_off_flat("B", "NaN", "10"), "area_m2"),
        (ON_OFF, on_off_flat("B", "50", "-0.1"), "open_hours"),
        (ON_OFF, on_off_flat("B", "50", "8784.1"), "open_hours"),
        (ON_OFF, on_off_flat("B", "50", "Infinity"), "open_hours"),
        (TEMPERATURE, temperature_flat("B", "0", "20"), "area_m2"),
        (ALLOCATORS, FlatInput("B", D(50), radiators=(radiator("-1", "1", "1"),)), "reading_units"),
        (ALLOCATORS, FlatInput("B", D(50), radiators=(radiator("1", "0", "1"),)), "rating_factor_kq"),
        (ALLOCATORS, FlatInput("B", D(50), radiators=(radiator("1", "-2", "1"),)), "rating_factor_kq"),
        (ALLOCATORS, FlatInput("B", D(50), radiators=(radiator("1", "1", "0"),)), "contact_factor_kc"),
        (ALLOCATORS, FlatInput("B", D(50), radiators=(radiator("1", "1", "sNaN"),)), "contact_factor_kc"),
        (ALLOCATORS, FlatInput("B", D(50), radiators=(radiator("1", "1", "1"),) * 101), "radiators"),
        (ALLOCATORS, FlatInput("B", D(0), radiators=(radiator("1", "1", "1"),)), "area_m2"),
    ],
)
def test_an_invalid_input_is_named_with_its_flat(method: AllocationMethod, flat: FlatInput, field: str) -> None:
    complete = FlatInput("A", D(50), open_hours=D(1), room_temperature_c=D(20), radiators=(radiator("1", "1", "1"),))
    with raises_key("allocation_input_invalid", field=field, account_number="B"):
        allocate(method, D(10), [complete, flat], outdoor_temperature_c=D(0))


def test_a_flat_may_have_the_maximum_number_of_radiators() -> None:
    flat = FlatInput("A", D(50), radiators=(radiator("1", "1", "1"),) * MAXIMUM_RADIATORS_PER_FLAT)
    assert flat_weight(ALLOCATORS, flat, None) == D(MAXIMUM_RADIATORS_PER_FLAT)


def test_a_float_input_is_refused() -> None:
    flat = FlatInput("A", D(50), open_hours=12.5)  # type: ignore[arg-type]
    with raises_key("allocation_input_invalid", field="open_hours", account_number="A"):
        allocate(ON_OFF, D(10), [flat])


# --- properties ----------------------------------------------------------------------------------

AREAS = st.decimals(min_value=D("0.01"), max_value=D(1000), places=2)
QUANTA = [D(1), D("0.01"), D("0.001"), D("0.000001")]


@st.composite
def building_totals(draw: st.DrawFn) -> Decimal:
    quantum = draw(st.sampled_from(QUANTA))
    return draw(st.integers(0, 10**7)) * quantum


def flat_lists(inputs: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[FlatInput]]:
    """Between 1 and 40 flats with distinct account numbers and method inputs drawn from ``inputs``."""
    return st.lists(st.tuples(AREAS, inputs), min_size=1, max_size=40).map(
        lambda drawn: [FlatInput(f"F{index}", area_m2, **extra) for index, (area_m2, extra) in enumerate(drawn)]
    )


ON_OFF_INPUTS = st.builds(lambda hours: {"open_hours": hours}, st.decimals(0, 3624, places=1))
TEMPERATURE_INPUTS = st.builds(lambda room_c: {"room_temperature_c": room_c}, st.decimals(-30, 40, places=1))
RADIATORS = st.builds(
    Radiator,
    st.decimals(0, 10000, places=0),
    st.decimals(D("0.01"), 10, places=3),
    st.decimals(D("0.1"), 2, places=2),
)
ALLOCATOR_INPUTS = st.builds(
    lambda radiators: {"radiators": tuple(radiators)}, st.lists(RADIATORS, min_size=1, max_size=8)
)

CASES = st.one_of(
    st.tuples(st.just(ON_OFF), flat_lists(ON_OFF_INPUTS), st.none()),
    st.tuples(st.just(TEMPERATURE), flat_lists(TEMPERATURE_INPUTS), st.decimals(-30, 20, places=1)),
    st.tuples(st.just(ALLOCATORS), flat_lists(ALLOCATOR_INPUTS), st.none()),
)


@settings(max_examples=200)
@given(case=CASES, total=building_totals())
def test_shares_sum_exactly_to_the_total_are_never_negative_and_follow_the_weights(
    case: tuple[AllocationMethod, list[FlatInput], Decimal | None], total: Decimal
) -> None:
    method, flats, outdoor_c = case
    allocation = allocate(method, total, flats, outdoor_temperature_c=outdoor_c)
    shares = allocation.shares
    assert [share.account_number for share in shares] == [flat.account_number for flat in flats]
    assert sum((share.energy_gj for share in shares), D(0)) == total
    assert all(share.energy_gj >= 0 for share in shares)
    assert all(share.weight >= 0 for share in shares)
    assert allocation.weight_total == sum((share.weight for share in shares), D(0))
    quantum = quantum_of(total)
    for larger in shares:
        for smaller in shares:
            if larger.weight > smaller.weight:
                assert larger.energy_gj >= smaller.energy_gj - quantum


@settings(max_examples=100)
@given(case=CASES, total=building_totals())
def test_each_share_is_within_one_quantum_of_its_exact_proportion(
    case: tuple[AllocationMethod, list[FlatInput], Decimal | None], total: Decimal
) -> None:
    method, flats, outdoor_c = case
    allocation = allocate(method, total, flats, outdoor_temperature_c=outdoor_c)
    quantum = quantum_of(total)
    for share in allocation.shares:
        # With every weight zero the total is shared equally.
        fraction = share.weight / allocation.weight_total if allocation.weight_total else D(1) / len(flats)
        exact = total * fraction
        assert abs(share.energy_gj - exact) < quantum
