"""Scenario arithmetic: variants on a household's tariff, a season's figures read from its
settlement bills, change bands, totals (domain/scenario.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.billing import MeterEvidence, PeriodFacts, SegmentInputs, SettlementInputs, settlement_bills
from domain.errors import InvalidInputError
from domain.scenario import (
    PERCENT_BAND_EDGES,
    YUAN_BAND_EDGES,
    Distribution,
    SeasonFigures,
    SettlementBillFigures,
    TariffVariant,
    Totals,
    band_labels,
    band_of,
    change_percent,
    season_figures,
)
from domain.settlement import Rounding, RoundingMode, SettlementPolicy, TwoPartPrice
from domain.tariff import TariffTerms

D = Decimal
CAPPED = TwoPartPrice(
    D("21.6"), D(30), D("43.9"), SettlementPolicy.CAPPED, cap_percent=D(115), suspension_share_percent=D(20)
)


def test_a_variant_from_the_actual_tariff_changes_only_the_fields_it_names() -> None:
    price = TariffVariant("50 元/GJ", {"energy_price_yuan_per_gj": "50"}).price_on(CAPPED)
    assert price == TwoPartPrice(
        D("21.6"), D(30), D(50), SettlementPolicy.CAPPED, cap_percent=D(115), suspension_share_percent=D(20)
    )
    rounded = TariffVariant("抹零", {"rounding_mode": "down", "rounding_quantum_yuan": "1"}).price_on(CAPPED)
    assert rounded.rounding == Rounding(RoundingMode.DOWN, D(1)) and rounded.cap_percent == D(115)


def test_a_variant_that_leaves_the_capped_policy_drops_the_cap_and_one_that_caps_needs_one() -> None:
    assert TariffVariant("少补", {"policy": "both_ways"}).price_on(CAPPED).cap_percent is None
    uncapped = TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.BOTH_WAYS)
    with pytest.raises(InvalidInputError) as refused:
        TariffVariant("封顶", {"policy": "capped"}).price_on(uncapped)
    assert refused.value.message_key == "cap_missing"
    assert TariffVariant("封顶", {"policy": "capped", "cap_percent": "115"}).price_on(uncapped).cap_percent == D(115)


def test_a_variant_of_its_own_names_every_price_and_defaults_the_rest() -> None:
    own = TariffVariant(
        "面积计费",
        {
            "area_price_yuan_per_m2": "21.6",
            "base_share_percent": "100",
            "energy_price_yuan_per_gj": "0",
            "policy": "both_ways",
        },
        from_actual=False,
    )
    assert own.price_on(CAPPED) == TwoPartPrice(D("21.6"), D(100), D(0), SettlementPolicy.BOTH_WAYS)
    with pytest.raises(InvalidInputError) as refused:
        TariffVariant("x", {"energy_price_yuan_per_gj": "50"}, from_actual=False)
    assert (refused.value.message_key, refused.value.params["field"]) == (
        "scenario_variant_incomplete",
        "area_price_yuan_per_m2",
    )


@pytest.mark.parametrize(
    ("overrides", "message_key"),
    [
        ({"billed_area": "heated"}, "scenario_variant_field_unknown"),
        ({"policy": "sometimes"}, "scenario_variant_value"),
        ({"energy_price_yuan_per_gj": "fifty"}, "scenario_variant_value"),
        ({"energy_price_yuan_per_gj": "NaN"}, "scenario_variant_value"),
        ({"minimum_charge_yuan": None}, "scenario_variant_value"),
    ],
)
def test_a_variant_refuses_what_is_not_a_price_field_of_the_right_kind(
    overrides: dict[str, object], message_key: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        TariffVariant("x", overrides)
    assert refused.value.message_key == message_key


def test_a_variant_travels_as_json_and_back() -> None:
    variant = TariffVariant(" 封顶 ", {"policy": "capped", "cap_percent": D(115)})
    assert variant.label == "封顶"
    assert TariffVariant.from_record(variant.to_record()).price_on(CAPPED) == variant.price_on(CAPPED)


def test_a_seasons_figures_are_read_from_its_bills_as_issued() -> None:
    """Two owner segments of a metered flat (the code a run settles with), summed."""
    terms = TariffTerms(TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.BOTH_WAYS))
    facts = PeriodFacts(
        "A-1", "2025-2026", date(2025, 11, 1), date(2026, 3, 31), "*", 1, "doc", date(2025, 9, 1), terms, D(90), D(1)
    )

    def evidence(gj: str, days: int) -> MeterEvidence:
        return MeterEvidence(D(gj), D(0), days, 0, 0, ("M-1",))

    segments = (
        SegmentInputs(date(2025, 11, 1), date(2026, 1, 15), 0, evidence("15.2", 76)),
        SegmentInputs(date(2026, 1, 16), date(2026, 3, 31), 0, evidence("15", 75)),
    )
    bills = settlement_bills(facts, SettlementInputs(segments, None, D("1944.00")))
    figures = season_figures([SettlementBillFigures(bill.amount_yuan, bill.basis, bill.lines) for bill in bills])
    # Area fee 1944.00 split 76:75 → 978.44 + 965.56; heat 30.2 GJ; energy 667.28 + 658.50.
    assert figures.area_fee_yuan == D("1944.00") and figures.energy_gj == D("30.2")
    assert figures.prepaid_yuan == D("1944.00") and figures.basis == "metered"
    assert figures.due_yuan == figures.prepaid_yuan + figures.settlement_yuan
    assert figures.bill_amounts_yuan == tuple(bill.amount_yuan for bill in bills)
    assert figures.metered_fee_yuan == figures.due_yuan  # both ways: the metered fee is due


def test_the_bands_are_closed_away_from_zero() -> None:
    cases = {
        D(0): "0",
        D("0.01"): "0…10",
        D(10): "0…10",
        D("10.01"): "10…50",
        D(-10): "-10…0",
        D("-10.01"): "-50…-10",
        D(-500): "-500…-200",
        D("-500.01"): "< -500",
        D(500): "200…500",
        D("500.01"): "> 500",
    }
    assert {change: band_of(change, YUAN_BAND_EDGES) for change in cases} == cases


@given(st.decimals(min_value=D(-100_000), max_value=D(100_000), places=2))
def test_every_change_falls_in_exactly_one_of_the_listed_bands(change: Decimal) -> None:
    for edges in (YUAN_BAND_EDGES, PERCENT_BAND_EDGES):
        labels = band_labels(edges)
        assert band_of(change, edges) in labels and len(set(labels)) == len(labels)
        # The sign of the band is the sign of the change.
        band = band_of(change, edges)
        assert (band == "0") == (change == 0)
        assert band.startswith(("-", "<")) == (change < 0)


def test_totals_count_gainers_losers_and_the_revenue_change() -> None:
    totals, distribution = Totals(), Distribution()
    rows = [(D(100), D("2000.00"), D("1900.00")), (D(80), D("1500.00"), D("1600.00")), (D(50), D(0), D(0))]
    for area, actual, variant in rows:
        figures = _figures(variant, energy=D(10))
        totals.add(area, figures, actual)
        distribution.add(variant - actual, actual)
    assert (totals.gainers, totals.losers, totals.unchanged) == (1, 1, 1)
    assert (totals.gain_yuan, totals.loss_yuan, totals.change_yuan) == (D(-100), D(100), D(0))
    assert totals.share_percent(totals.gainers) == D("33.33")
    assert (totals.yuan_per_m2, totals.yuan_per_gj) == (D("15.22"), D("116.67"))  # 3500 元 over 230 m² and 30 GJ
    assert distribution.by_percent["n/a"] == 0 and distribution.by_percent["0"] == 1
    assert distribution.by_percent["-5…-1"] == 1 and distribution.by_percent["5…10"] == 1
    assert change_percent(D(5), D(0)) is None


def _figures(due: Decimal, energy: Decimal) -> SeasonFigures:
    return SeasonFigures("metered", due, due, energy, due, D(0), due, (due,))
