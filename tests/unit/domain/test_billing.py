"""What the bills say: the prepayment, the settlement by owner segment and energy basis, and the
monthly statement, with the arithmetic written out (domain.md §6, §7).

Unless a test says otherwise: season 1 Nov 2025 – 31 Mar 2026 (151 days), a 100 m² flat, the
Xuchang prices 21.6 元/m² a season, base 30 % of the area fee and 43.9 元/GJ, position coefficient 1.
So the area fee is 100 × 21.6 = 2160.00 and the base part 30 % × 2160.00 = 648.00.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.billing import (
    AllocatedHeat,
    BillingInputError,
    BillKind,
    ComputedBill,
    EnergyBasis,
    MeterEvidence,
    MonthInputs,
    PeriodFacts,
    SegmentInputs,
    SettlementInputs,
    monthly_statement,
    prepayment_invoice,
    readable_gj,
    settlement_bills,
)
from domain.season import Season
from domain.settlement import BillLine, PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import BrokenMeterMethod, TariffTerms

D = Decimal
SEASON = Season.default_starting(2025)  # 1 Nov 2025 – 31 Mar 2026
AREA_FEE = D("2160.00")  # 100 m² × 21.6 元/m²
XUCHANG: dict[str, Any] = {
    "area_price_yuan_per_m2": D("21.6"),
    "base_share_percent": D(30),
    "energy_price_yuan_per_gj": D("43.9"),
}


def terms(
    policy: SettlementPolicy = SettlementPolicy.BOTH_WAYS, terms_changes: Any = None, **changes: Any
) -> TariffTerms:
    extra = {"cap_percent": D(115)} if policy is SettlementPolicy.CAPPED else {}
    price = TwoPartPrice(**(XUCHANG | {"policy": policy} | extra | changes))
    return TariffTerms(price=price, **(terms_changes or {}))


def facts(version_terms: TariffTerms | None = None, area: str = "100", coefficient: str = "1") -> PeriodFacts:
    return PeriodFacts(
        account_number="0101",
        season_code=SEASON.code,
        first_day=SEASON.first_day,
        last_day=SEASON.last_day,
        tariff_scope="碧桂园",
        tariff_version=1,
        document_number="宁价〔2025〕1号",
        approved_on=date(2025, 10, 1),
        terms=version_terms or terms(),
        billed_area_m2=D(area),
        position_coefficient=D(coefficient),
    )


def meter(
    measured: str, estimated: str = "0", days: int = 151, days_estimated: int = 0, days_without_data: int = 0
) -> MeterEvidence:
    return MeterEvidence(
        measured_gj=D(measured),
        estimated_gj=D(estimated),
        days_measured=days - days_estimated - days_without_data,
        days_estimated=days_estimated,
        days_without_data=days_without_data,
        meter_serials=("HM-0001",),
        first_reading="HM-0001 at 2025-11-01 00:00: 100.000 GJ",
        last_reading="HM-0001 at 2026-03-31 24:00: 130.000 GJ",
    )


def segment(
    first: date = SEASON.first_day,
    last: date = SEASON.last_day,
    evidence: MeterEvidence | None = None,
    suspended: int = 0,
) -> SegmentInputs:
    return SegmentInputs(first, last, suspended, evidence)


def settle_one(
    energy_gj: str,
    version_terms: TariffTerms | None = None,
    coefficient: str = "1",
    prepaid: Decimal = AREA_FEE,
) -> ComputedBill:
    """The settlement of a whole season under one owner, metered ``energy_gj``, prepaid the area fee."""
    inputs = SettlementInputs((segment(evidence=meter(energy_gj)),), None, prepaid)
    (bill,) = settlement_bills(facts(version_terms, coefficient=coefficient), inputs)
    return bill


def codes(bill: ComputedBill) -> list[str]:
    return [line.code for line in bill.lines]


def line(bill: ComputedBill, code: str) -> BillLine:
    (found,) = [candidate for candidate in bill.lines if candidate.code == code]
    return found


def amount(bill: ComputedBill, code: str) -> Decimal | None:
    return line(bill, code).amount_yuan


def due(bill: ComputedBill) -> Decimal:
    return D(line(bill, "settlement_amount").figures["due_yuan"])


# -- the prepayment ----------------------------------------------------------------------------


def test_the_prepayment_is_the_area_fee_for_the_season() -> None:
    # 100 m² × 21.6 元/m² × 151 / 151 days = 2160.00.
    bill = prepayment_invoice(facts(), suspended_at_start=False)
    assert (bill.kind, bill.label, bill.basis, bill.amount_yuan) == (BillKind.PREPAYMENT, "season", "area", AREA_FEE)
    assert (bill.first_day, bill.last_day) == (date(2025, 11, 1), date(2026, 3, 31))
    assert codes(bill) == ["tariff", "season_days", "area_fee"]
    assert line(bill, "area_fee").figures["heated_days"] == "151"
    tariff = line(bill, "tariff").figures
    assert (tariff["version"], tariff["document_number"], tariff["policy"]) == ("1", "宁价〔2025〕1号", "both_ways")


def test_a_flat_suspended_at_the_start_prepays_the_suspension_share() -> None:
    # Every day suspended at 20 %: 100 × 21.6 × (0 + 151 × 0.2) / 151 = 2160 × 30.2 / 151 = 432.00.
    bill = prepayment_invoice(facts(terms(suspension_share_percent=D(20))), suspended_at_start=True)
    assert bill.amount_yuan == D("432.00")
    assert line(bill, "area_fee").figures["suspended_days"] == "151"


def test_the_prepayment_of_an_odd_area_is_rounded_half_up_to_the_fen() -> None:
    # 87.65 m² × 21.6 = 1893.24 exactly; at 21.65 元/m²: 87.65 × 21.65 = 1897.6225 → 1897.62.
    assert prepayment_invoice(facts(area="87.65"), False).amount_yuan == D("1893.24")
    dearer = facts(terms(area_price_yuan_per_m2=D("21.65")), area="87.65")
    assert prepayment_invoice(dearer, False).amount_yuan == D("1897.62")


# -- the settlement, one owner, metered --------------------------------------------------------

METERED_CODES = [
    "tariff",
    "season_days",
    "energy_metered",
    "position_coefficient",
    "area_fee_share",
    "base_part",
    "energy_part",
    "metered_fee",
]


@pytest.mark.parametrize(
    ("policy", "energy", "expected_due", "expected_amount"),
    [
        # 30 GJ: energy 30 × 43.9 = 1317.00; metered 648.00 + 1317.00 = 1965.00 < 2160.00: refunded.
        (SettlementPolicy.REFUND_ONLY, "30", D("1965.00"), D("-195.00")),
        # 45 GJ: energy 45 × 43.9 = 1975.50; metered 2623.50; 少不补: due stays 2160.00.
        (SettlementPolicy.REFUND_ONLY, "45", D("2160.00"), D("0.00")),
        # 少补: 2623.50 − 2160.00 = 463.50 more.
        (SettlementPolicy.BOTH_WAYS, "45", D("2623.50"), D("463.50")),
        (SettlementPolicy.BOTH_WAYS, "30", D("1965.00"), D("-195.00")),
        # Cap 115 % × 2160.00 = 2484.00 < 2623.50: 2484.00 − 2160.00 = 324.00.
        (SettlementPolicy.CAPPED, "45", D("2484.00"), D("324.00")),
        # 40 GJ: 648.00 + 40 × 43.9 = 648.00 + 1756.00 = 2404.00, under the cap: 244.00 more.
        (SettlementPolicy.CAPPED, "40", D("2404.00"), D("244.00")),
        # 20 GJ: 648.00 + 878.00 = 1526.00; 1526.00 − 2160.00 = −634.00.
        (SettlementPolicy.METERED_ONLY, "20", D("1526.00"), D("-634.00")),
    ],
)
def test_a_metered_settlement_is_due_under_the_policy_less_the_prepayment(
    policy: SettlementPolicy, energy: str, expected_due: Decimal, expected_amount: Decimal
) -> None:
    bill = settle_one(energy, terms(policy))
    assert (bill.kind, bill.label, bill.basis) == (BillKind.SETTLEMENT, "1", EnergyBasis.METERED.value)
    assert (bill.first_day, bill.last_day) == (SEASON.first_day, SEASON.last_day)
    assert bill.amount_yuan == expected_amount
    assert due(bill) == expected_due
    assert codes(bill) == [*METERED_CODES, f"due_{policy.value}", "prepaid", "settlement_amount"]
    assert (amount(bill, "area_fee_share"), amount(bill, "base_part")) == (AREA_FEE, D("648.00"))
    assert amount(bill, f"due_{policy.value}") == expected_due
    assert (amount(bill, "prepaid"), amount(bill, "settlement_amount")) == (AREA_FEE, expected_amount)
    assert "balance" not in codes(bill)  # the bill's own amount replaces the settlement's balance


def test_the_metered_bill_shows_the_meters_readings() -> None:
    bill = settle_one("30")
    figures = line(bill, "energy_metered").figures
    assert (figures["measured_gj"], figures["days_measured"], figures["meters"]) == (
        "30.000",
        "151",
        "HM-0001",
    )  # shown to 1 MJ
    assert figures["first_reading"].startswith("HM-0001 at 2025-11-01")


def test_a_minimum_charge_lifts_a_metered_only_bill() -> None:
    # 20 GJ: metered 1526.00 < minimum 1600.00; 1600.00 − 2160.00 = −560.00.
    bill = settle_one("20", terms(SettlementPolicy.METERED_ONLY, minimum_charge_yuan=D(1600)))
    assert (amount(bill, "metered_fee"), bill.amount_yuan) == (D("1600.00"), D("-560.00"))


def test_the_position_coefficient_is_shown_and_divides_the_heat_the_tariff_says() -> None:
    # Top floor west end, 1.518, correction on the heat: 30 / 1.518 × 43.9 = 867.588… → 867.59;
    # metered 648.00 + 867.59 = 1515.59; 1515.59 − 2160.00 = −644.41.
    bill = settle_one("30", terms(position_correction=PositionCorrection.ENERGY), coefficient="1.518")
    assert line(bill, "position_coefficient").figures == {"coefficient": "1.518", "applies_to": "energy"}
    assert (amount(bill, "base_part"), amount(bill, "energy_part")) == (D("648.00"), D("867.59"))
    assert bill.amount_yuan == D("-644.41")


def test_a_coefficient_the_tariff_does_not_apply_is_shown_but_changes_nothing() -> None:
    bill = settle_one("30", terms(), coefficient="1.518")
    assert line(bill, "position_coefficient").figures == {"coefficient": "1.518", "applies_to": "none"}
    assert bill.amount_yuan == D("-195.00")  # as for coefficient 1: 1965.00 − 2160.00


def test_estimates_for_short_gaps_are_billed_with_the_measured_heat() -> None:
    # 10 estimated days of 151 = 6.6 % ≤ 10 %: metered on 27 + 3 = 30 GJ → 1965.00 − 2160.00 = −195.00.
    evidence = meter("27", estimated="3", days_estimated=10)
    (bill,) = settlement_bills(facts(), SettlementInputs((segment(evidence=evidence),), None, AREA_FEE))
    assert (bill.basis, bill.amount_yuan) == (EnergyBasis.METERED.value, D("-195.00"))
    assert "meter_broken" not in codes(bill)


# -- owner change ------------------------------------------------------------------------------

# 1 Nov – 15 Jan: 30 + 31 + 15 = 76 days; 16 Jan – 31 Mar: 16 + 28 + 31 = 75 days; 76 + 75 = 151.
FIRST_OWNER = (date(2025, 11, 1), date(2026, 1, 15))
SECOND_OWNER = (date(2026, 1, 16), date(2026, 3, 31))


def owner_change(first: MeterEvidence | None, second: MeterEvidence | None, **kwargs: Any) -> SettlementInputs:
    segments = (segment(*FIRST_OWNER, evidence=first, **kwargs), segment(*SECOND_OWNER, evidence=second))
    return SettlementInputs(segments, None, AREA_FEE)


def test_an_owner_change_splits_the_settlement_into_two_bills_that_share_the_fees() -> None:
    # Area fee shares by days: 216000 fen × 76/151 = 108715.23, × 75/151 = 107284.77; floors
    # 108715 + 107284 = 215999, the 1 fen left goes to the larger remainder (.77): 1087.15 + 1072.85.
    # The prepayment 2160.00 is shared the same way.
    first, second = settlement_bills(facts(), owner_change(meter("12", days=76), meter("18", days=75)))
    assert [(bill.label, bill.first_day, bill.last_day) for bill in (first, second)] == [
        ("1", *FIRST_OWNER),
        ("2", *SECOND_OWNER),
    ]
    assert (amount(first, "area_fee_share"), amount(second, "area_fee_share")) == (D("1087.15"), D("1072.85"))
    assert (amount(first, "prepaid"), amount(second, "prepaid")) == (D("1087.15"), D("1072.85"))
    assert amount(first, "prepaid") + amount(second, "prepaid") == AREA_FEE  # type: ignore[operator]
    # Each owner is billed on their own heat: 12 × 43.9 = 526.80 and 18 × 43.9 = 790.20.
    assert (amount(first, "energy_part"), amount(second, "energy_part")) == (D("526.80"), D("790.20"))
    # Base 30 %: 1087.15 × 0.3 = 326.145 → 326.15; 1072.85 × 0.3 = 321.855 → 321.86.
    # Metered 326.15 + 526.80 = 852.95 and 321.86 + 790.20 = 1112.06;
    # amounts 852.95 − 1087.15 = −234.20 and 1112.06 − 1072.85 = 39.21.
    assert (first.amount_yuan, second.amount_yuan) == (D("-234.20"), D("39.21"))
    assert line(second, "owner_segment").figures == {
        "segment": "2",
        "first_day": "2026-01-16",
        "last_day": "2026-03-31",
    }


def test_a_suspended_owner_segment_carries_only_the_suspension_share_of_the_area_fee() -> None:
    # The first owner suspended (报停) all 76 days at 20 %: weights 76 × 0.2 = 15.2 and 75.
    # Season fee 100 × 21.6 × (75 + 76 × 0.2) / 151 = 2160 × 90.2 / 151 = 1290.278… → 1290.28;
    # shares 129028 fen × 15.2 / 90.2 = 21743.04 and × 75 / 90.2 = 107284.96; floors 21743 + 107284
    # = 129027, the fen left to .96: 217.43 + 1072.85.
    version_terms = terms(suspension_share_percent=D(20))
    inputs = owner_change(meter("0", days=76), meter("18", days=75), suspended=76)
    first, second = settlement_bills(facts(version_terms), replace(inputs, prepaid_yuan=D("1290.28")))
    assert (amount(first, "area_fee_share"), amount(second, "area_fee_share")) == (D("217.43"), D("1072.85"))
    # The suspended owner pays its share of the area fee, 217.43, and nothing else: 217.43 − 217.43.
    assert first.amount_yuan == D("0.00")
    assert amount(first, "suspension_charge") == D("217.43")


def test_an_allocation_is_shared_between_owners_by_days() -> None:
    # 25.000 GJ allocated: 25000 × 76/151 = 12582.78 and × 75/151 = 12417.22 (in 0.001 GJ); floors
    # 12582 + 12417 = 24999, the unit left to .78: 12.583 + 12.417 GJ.
    allocation = AllocatedHeat("area", D("1000.000"), D(100), D(4000), D("25.000"), 1)
    inputs = replace(owner_change(None, None), allocation=allocation)
    first, second = settlement_bills(facts(), inputs)
    assert (first.basis, second.basis) == (EnergyBasis.ALLOCATED.value, EnergyBasis.ALLOCATED.value)
    assert line(first, "energy_allocated").figures["energy_gj"] == "12.583"
    assert line(second, "energy_allocated").figures["energy_gj"] == "12.417"


# -- other energy bases ------------------------------------------------------------------------


def test_a_household_without_meter_or_allocation_is_billed_by_area() -> None:
    inputs = SettlementInputs((segment(),), None, AREA_FEE)
    (bill,) = settlement_bills(facts(), inputs)
    assert (bill.basis, bill.amount_yuan) == (EnergyBasis.AREA_NO_METER.value, D("0.00"))
    assert codes(bill) == [
        "tariff",
        "season_days",
        "no_meter",
        "area_fee_share",
        "due_by_area",
        "prepaid",
        "settlement_amount",
    ]
    assert amount(bill, "due_by_area") == AREA_FEE


def test_an_allocated_household_is_billed_on_its_share_of_the_building_heat() -> None:
    # 25 GJ: 648.00 + 25 × 43.9 = 648.00 + 1097.50 = 1745.50; 1745.50 − 2160.00 = −414.50.
    allocation = AllocatedHeat(
        "on_off_time_area", D("1000.000"), D(100), D(4000), D("25.000"), 2, "open_hours 1, area_m2 100"
    )
    (bill,) = settlement_bills(facts(), SettlementInputs((segment(),), allocation, AREA_FEE))
    assert (bill.basis, bill.amount_yuan) == (EnergyBasis.ALLOCATED.value, D("-414.50"))
    assert line(bill, "energy_allocated").figures == {
        "method": "on_off_time_area",
        "building_energy_gj": "1000.000",
        "weight": "100",
        "weight_total": "4000",
        "energy_gj": "25.000",
        "revision": "2",
        "flat_inputs": "open_hours 1, area_m2 100",
        "outdoor_temperature_c": "",
    }
    assert "position_coefficient" in codes(bill)


def test_a_meter_unmeasured_on_15_days_of_151_is_not_broken_at_10_percent() -> None:
    # 15 × 100 / 151 = 9.93 % ≤ 10 %: billed on 28 measured + 2 estimated = 30 GJ.
    evidence = meter("28", estimated="2", days_estimated=15)
    (bill,) = settlement_bills(facts(), SettlementInputs((segment(evidence=evidence),), None, AREA_FEE))
    assert (bill.basis, bill.amount_yuan) == (EnergyBasis.METERED.value, D("-195.00"))


def test_a_meter_unmeasured_beyond_the_tariffs_share_is_billed_by_area() -> None:
    # 16 × 100 / 151 = 10.596… % > 10 %: by area (Yinchuan), due 2160.00 = prepaid, nothing to pay.
    evidence = meter("28", estimated="2", days_estimated=10, days_without_data=6)
    (bill,) = settlement_bills(facts(), SettlementInputs((segment(evidence=evidence),), None, AREA_FEE))
    assert (bill.basis, bill.amount_yuan) == (EnergyBasis.AREA_BROKEN_METER.value, D("0.00"))
    assert line(bill, "meter_broken").figures == {
        "unmeasured_days": "16",
        "season_days": "151",
        "share_percent": "10.6",
        "threshold_percent": "10",
        "method": "area",
    }
    assert codes(bill)[2:4] == ["energy_metered", "meter_broken"]
    assert amount(bill, "due_by_area") == AREA_FEE


def test_a_broken_meter_is_billed_on_its_estimates_when_the_tariff_says_so() -> None:
    # 40 estimated days (26.5 %): metered on 25 measured + 5 estimated = 30 GJ → 1965.00;
    # 1965.00 − 2160.00 = −195.00.
    version_terms = terms(terms_changes={"broken_meter_method": BrokenMeterMethod.ESTIMATE})
    evidence = meter("25", estimated="5", days_estimated=40)
    (bill,) = settlement_bills(facts(version_terms), SettlementInputs((segment(evidence=evidence),), None, AREA_FEE))
    assert (bill.basis, bill.amount_yuan) == (EnergyBasis.ESTIMATED_BROKEN_METER.value, D("-195.00"))
    assert line(bill, "meter_broken").figures["method"] == "estimate"
    assert amount(bill, "energy_part") == D("1317.00")  # 30 × 43.9


def test_a_broken_meter_billed_on_estimates_must_have_them_for_every_day() -> None:
    version_terms = terms(terms_changes={"broken_meter_method": BrokenMeterMethod.ESTIMATE})
    evidence = meter("25", estimated="5", days_estimated=30, days_without_data=10)
    with pytest.raises(BillingInputError) as raised:
        settlement_bills(facts(version_terms), SettlementInputs((segment(evidence=evidence),), None, AREA_FEE))
    assert raised.value.message_key == "season_not_covered"


def test_days_with_neither_reading_nor_estimate_stop_a_metered_settlement() -> None:
    # 3 days of 151 = 2.0 %: not broken, so the heat must cover every day.
    evidence = meter("30", days_without_data=3)
    with pytest.raises(BillingInputError) as raised:
        settlement_bills(facts(), SettlementInputs((segment(evidence=evidence),), None, AREA_FEE))
    assert raised.value.message_key == "season_not_covered"
    assert raised.value.params == {"account_number": "0101", "days": 3}


@pytest.mark.parametrize(
    "segments",
    [
        (),
        (segment(first=date(2025, 11, 2)),),  # starts a day late
        (segment(last=date(2026, 3, 30)),),  # ends a day early
        (segment(last=date(2026, 1, 14)), segment(first=date(2026, 1, 16))),  # 15 Jan missing
        (segment(last=date(2026, 1, 15)), segment(first=date(2026, 1, 15))),  # 15 Jan twice
    ],
)
def test_segments_that_do_not_cover_the_season_are_refused(segments: tuple[SegmentInputs, ...]) -> None:
    with pytest.raises(BillingInputError) as raised:
        settlement_bills(facts(), SettlementInputs(segments, None, AREA_FEE))
    assert raised.value.message_key == "segments_do_not_cover_season"


def test_more_suspended_days_than_the_segment_has_are_refused() -> None:
    with pytest.raises(BillingInputError) as raised:
        settlement_bills(facts(), SettlementInputs((segment(suspended=152),), None, AREA_FEE))
    assert raised.value.message_key == "use_invalid"


# -- the monthly statement ---------------------------------------------------------------------


def month(name: str, first: date, last: date, energy: str | None, season: str | None, **changes: Any) -> MonthInputs:
    inputs = MonthInputs(name, first, last, D(energy) if energy else None, D(season) if season else None, None, None)
    return replace(inputs, **changes)


def test_the_first_months_statement_shows_the_heat_and_the_metered_fee_so_far() -> None:
    november = month("2025-11", date(2025, 11, 1), date(2025, 11, 30), "6.5", "6.5", building_gj_per_m2=D("0.06"))
    bill = monthly_statement(facts(), november)
    assert (bill.kind, bill.label, bill.amount_yuan, bill.basis) == (BillKind.STATEMENT, "2025-11", D(0), "metered")
    assert codes(bill) == ["tariff", "season_days", "month_energy", "metered_fee_to_date"]
    energy = line(bill, "month_energy").figures
    # 6.5 GJ / 100 m² = 0.0650 GJ/m²; against the building (0.0650 − 0.06) × 100 / 0.06 = 8.33… → 8.3 %.
    assert (energy["month_energy_gj"], energy["gj_per_m2"], energy["against_building_percent"]) == (
        "6.500",
        "0.0650",
        "8.3",
    )
    assert (energy["previous_month_energy_gj"], energy["change_percent"]) == ("", "")
    # Base for 30 of 151 days: 2160.00 × 30 % × 30 / 151 = 19440 / 151 = 128.741… → 128.74;
    # heat 6.5 × 43.9 = 285.35; to date 128.74 + 285.35 = 414.09.
    fee = line(bill, "metered_fee_to_date")
    assert (fee.figures["base_part_yuan"], fee.figures["energy_part_yuan"], fee.amount_yuan) == (
        "128.74",
        "285.35",
        D("414.09"),
    )
    assert (fee.figures["days_elapsed"], fee.figures["season_area_fee_yuan"]) == ("30", "2160.00")


def test_a_later_statement_compares_with_last_month_and_the_building() -> None:
    december = month(
        "2025-12",
        date(2025, 12, 1),
        date(2025, 12, 31),
        "8.2",
        "14.7",
        previous_month_energy_gj=D("6.5"),
        building_gj_per_m2=D("0.1"),
    )
    bill = monthly_statement(facts(), december)
    energy = line(bill, "month_energy").figures
    # (8.2 − 6.5) × 100 / 6.5 = 26.15… → 26.2 %; 0.0820 GJ/m² against 0.1: (0.082 − 0.1) × 100 / 0.1 = −18.0 %.
    assert (energy["change_percent"], energy["against_building_percent"]) == ("26.2", "-18.0")
    assert (energy["season_energy_gj"], energy["previous_month_energy_gj"]) == ("14.700", "6.500")
    # 61 days elapsed (30 + 31): base 648 × 61 / 151 = 261.774… → 261.77; heat 14.7 × 43.9 = 645.33;
    # to date 261.77 + 645.33 = 907.10.
    fee = line(bill, "metered_fee_to_date")
    assert (fee.figures["days_elapsed"], fee.amount_yuan) == ("61", D("907.10"))


def test_the_fee_to_date_is_position_corrected_as_the_tariff_says() -> None:
    # Correction on both parts, 1.518: base 648 × 61 / 151 / 1.518 = 172.447… → 172.45;
    # heat 14.7 / 1.518 × 43.9 = 425.118… → 425.12; to date 597.57.
    version_terms = terms(position_correction=PositionCorrection.BOTH)
    december = month("2025-12", date(2025, 12, 1), date(2025, 12, 31), "8.2", "14.7")
    fee = line(monthly_statement(facts(version_terms, coefficient="1.518"), december), "metered_fee_to_date")
    assert (fee.figures["base_part_yuan"], fee.figures["energy_part_yuan"]) == ("172.45", "425.12")
    assert fee.amount_yuan == D("597.57")
    assert (fee.figures["base_coefficient"], fee.figures["energy_coefficient"]) == ("1.518", "1.518")


@pytest.mark.parametrize(
    ("correction", "says_position"),
    [(PositionCorrection.NONE, False), (PositionCorrection.ENERGY, True), (PositionCorrection.BASE, True)],
)
def test_a_statement_says_the_position_coefficient_whenever_it_changes_the_fee(
    correction: PositionCorrection, says_position: bool
) -> None:
    december = month("2025-12", date(2025, 12, 1), date(2025, 12, 31), "8.2", "14.7")
    bill = monthly_statement(facts(terms(position_correction=correction), coefficient="1.518"), december)
    codes = [item.code for item in bill.lines]
    assert ("position_coefficient" in codes) is says_position
    if says_position:
        assert line(bill, "position_coefficient").figures == {"coefficient": "1.518", "applies_to": correction.value}
        # It is said before the fee it changes.
        assert codes.index("position_coefficient") < codes.index("metered_fee_to_date")


def test_a_month_after_a_month_without_heat_shows_no_change_percentage() -> None:
    january = month(
        "2026-01", date(2026, 1, 1), date(2026, 1, 31), "5", "5", previous_month_energy_gj=D(0), building_gj_per_m2=None
    )
    energy = line(monthly_statement(facts(), january), "month_energy").figures
    assert (energy["change_percent"], energy["building_gj_per_m2"], energy["against_building_percent"]) == ("", "", "")


def test_a_statement_without_a_meter_says_so_and_charges_nothing() -> None:
    bill = monthly_statement(facts(), month("2025-11", date(2025, 11, 1), date(2025, 11, 30), None, None))
    assert (bill.basis, bill.amount_yuan, codes(bill)) == ("area", D(0), ["tariff", "season_days", "no_meter"])


# -- properties --------------------------------------------------------------------------------

POLICIES = st.sampled_from(SettlementPolicy)
ENERGIES = st.decimals(min_value=0, max_value=80, places=3)
AREAS = st.decimals(min_value=D("20.00"), max_value=D("300.00"), places=2)


@st.composite
def split_seasons(draw: st.DrawFn, max_segments: int = 4) -> list[tuple[date, date, int]]:
    """The season cut at owner changes: (first day, last day, suspended days) per segment."""
    count = draw(st.integers(min_value=1, max_value=max_segments))
    cuts = sorted(
        draw(st.sets(st.integers(min_value=1, max_value=SEASON.days - 1), min_size=count - 1, max_size=count - 1))
    )
    bounds = [0, *cuts, SEASON.days]
    parts = []
    for start, end in itertools.pairwise(bounds):
        days = end - start
        suspended = draw(st.integers(min_value=0, max_value=days))
        first = SEASON.first_day + timedelta(days=start)
        parts.append((first, first + timedelta(days=days - 1), suspended))
    return parts


def metered(parts: list[tuple[date, date, int]], energies: list[Decimal]) -> tuple[SegmentInputs, ...]:
    return tuple(
        SegmentInputs(first, last, suspended, MeterEvidence(energy, D(0), (last - first).days + 1, 0, 0))
        for (first, last, suspended), energy in zip(parts, energies, strict=True)
    )


def drawn_terms(policy: SettlementPolicy, correction: PositionCorrection, suspension: Decimal) -> TariffTerms:
    return terms(policy, position_correction=correction, suspension_share_percent=suspension)


@given(
    parts=split_seasons(),
    data=st.data(),
    area=AREAS,
    correction=st.sampled_from(PositionCorrection),
    coefficient=st.sampled_from(["0.687", "1", "1.518"]),
    suspension=st.decimals(min_value=0, max_value=100, places=0),
)
def test_refund_only_never_charges_more_than_was_prepaid(
    parts: list[tuple[date, date, int]],
    data: st.DataObject,
    area: Decimal,
    correction: PositionCorrection,
    coefficient: str,
    suspension: Decimal,
) -> None:
    version_terms = drawn_terms(SettlementPolicy.REFUND_ONLY, correction, suspension)
    period = facts(version_terms, area=str(area), coefficient=coefficient)
    # Prepaid the season's area fee: the bills' own area fee shares add up to it.
    energies = [data.draw(ENERGIES) for _ in parts]
    first_pass = settlement_bills(period, SettlementInputs(metered(parts, energies), None, D(0)))
    prepaid = sum((amount(bill, "area_fee_share") or D(0) for bill in first_pass), D(0))
    bills = settlement_bills(period, SettlementInputs(metered(parts, energies), None, prepaid))
    for bill in bills:
        assert bill.amount_yuan <= 0, bill
        assert due(bill) <= amount(bill, "area_fee_share")  # type: ignore[operator]


@given(
    parts=split_seasons(),
    data=st.data(),
    policy=POLICIES,
    prepaid=st.decimals(min_value=0, max_value=D("9999.99"), places=2),
    suspension=st.decimals(min_value=0, max_value=100, places=0),
)
def test_money_is_conserved_across_owner_segments(
    parts: list[tuple[date, date, int]],
    data: st.DataObject,
    policy: SettlementPolicy,
    prepaid: Decimal,
    suspension: Decimal,
) -> None:
    energies = [data.draw(ENERGIES) for _ in parts]
    period = facts(drawn_terms(policy, PositionCorrection.NONE, suspension))
    bills = settlement_bills(period, SettlementInputs(metered(parts, energies), None, prepaid))
    assert len(bills) == len(parts)
    prepaid_shares = [amount(bill, "prepaid") or D(0) for bill in bills]
    assert sum(prepaid_shares, D(0)) == prepaid  # no fen lost or made in the sharing
    assert all(share >= 0 and share == share.quantize(D("0.01")) for share in prepaid_shares)
    assert sum((bill.amount_yuan for bill in bills), D(0)) + prepaid == sum((due(bill) for bill in bills), D(0))


@given(parts=split_seasons(), data=st.data(), area=AREAS, policy=POLICIES)
def test_splitting_the_season_keeps_the_area_fee_and_the_heat(
    parts: list[tuple[date, date, int]], data: st.DataObject, area: Decimal, policy: SettlementPolicy
) -> None:
    # No suspension: the segments' shares of the area fee add up to the unsplit area fee, and the
    # owners' heat adds up to the season's, so the energy parts differ only by rounding
    # (each part is rounded once to the fen: at most 0.005 元 off per bill).
    parts = [(first, last, 0) for first, last, _ in parts]
    energies = [data.draw(ENERGIES) for _ in parts]
    period = facts(terms(policy), area=str(area))
    split = settlement_bills(period, SettlementInputs(metered(parts, energies), None, D(0)))
    whole_season = [(SEASON.first_day, SEASON.last_day, 0)]
    (whole,) = settlement_bills(period, SettlementInputs(metered(whole_season, [sum(energies, D(0))]), None, D(0)))
    fee_shares = [amount(bill, "area_fee_share") or D(0) for bill in split]
    assert sum(fee_shares, D(0)) == amount(whole, "area_fee_share")
    assert amount(whole, "area_fee_share") == prepayment_invoice(period, False).amount_yuan
    energy_parts = sum((amount(bill, "energy_part") or D(0) for bill in split), D(0))
    assert abs(energy_parts - (amount(whole, "energy_part") or D(0))) <= D("0.005") * (len(split) + 1)


@pytest.mark.parametrize(
    ("energy_gj", "shown"),
    [("18.000000000", "18.000"), ("0E-9", "0.000"), ("12.5", "12.500"), ("3.123456789", "3.123456789")],
)
def test_energy_figures_read_to_a_megajoule_unless_finer_digits_matter(energy_gj: str, shown: str) -> None:
    assert readable_gj(D(energy_gj)) == shown
