"""Settlement under each policy, with the arithmetic written out (domain.md §6: the Xuchang case,
area fee 0.18 元/m²/day × 120 days = 21.6 元/m², base 30 % of the area fee, 43.9 元/GJ)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInputError
from domain.settlement import (
    PositionCorrection,
    Rounding,
    RoundingMode,
    SeasonUse,
    SettlementPolicy,
    TwoPartPrice,
    settle,
)

D = Decimal
XUCHANG = {"area_price_yuan_per_m2": D("21.6"), "base_share_percent": D(30), "energy_price_yuan_per_gj": D("43.9")}


def price(policy: SettlementPolicy, **changes: object) -> TwoPartPrice:
    return TwoPartPrice(**(XUCHANG | {"policy": policy} | changes))  # type: ignore[arg-type]


def use(energy_gj: str, **changes: object) -> SeasonUse:
    return SeasonUse(**({"area_m2": D(100), "energy_gj": D(energy_gj), "season_days": 120} | changes))  # type: ignore[arg-type]


def test_a_frugal_household_is_refunded_under_every_policy() -> None:
    # Area fee 100 × 21.6 = 2160.00; base 30 % = 648.00; energy 30 × 43.9 = 1317.00; metered 1965.00.
    for policy in SettlementPolicy:
        extra = {"cap_percent": D(115)} if policy is SettlementPolicy.CAPPED else {}
        settlement = settle(price(policy, **extra), use("30"))
        assert (settlement.area_fee_yuan, settlement.base_part_yuan, settlement.energy_part_yuan) == (
            D("2160.00"),
            D("648.00"),
            D("1317.00"),
        )
        assert (settlement.due_yuan, settlement.balance_yuan) == (D("1965.00"), D("-195.00")), policy


def test_a_heavy_user_pays_more_only_where_the_policy_says() -> None:
    # 45 GJ: energy 45 × 43.9 = 1975.50; metered 648.00 + 1975.50 = 2623.50 against 2160.00 prepaid.
    refund_only = settle(price(SettlementPolicy.REFUND_ONLY), use("45"))
    both_ways = settle(price(SettlementPolicy.BOTH_WAYS), use("45"))
    capped = settle(price(SettlementPolicy.CAPPED, cap_percent=D(115)), use("45"))
    assert refund_only.balance_yuan == D("0.00")  # 少不补: never more than the area fee
    assert both_ways.balance_yuan == D("463.50")  # 少补: 2623.50 − 2160.00
    assert (capped.due_yuan, capped.balance_yuan) == (D("2484.00"), D("324.00"))  # cap 2160 × 115 % = 2484.00


def test_suspended_days_pay_the_suspension_share_of_the_area_fee() -> None:
    # 90 heated days + 30 suspended at 20 %: 100 × 21.6 × (90 + 30 × 0.2) / 120 = 1728.00.
    settlement = settle(price(SettlementPolicy.BOTH_WAYS, suspension_share_percent=D(20)), use("20", suspended_days=30))
    assert settlement.area_fee_yuan == D("1728.00")
    # The suspended days pay 2160 × 30 × 0.2 / 120 = 108.00 and nothing else; the heated days'
    # part 1728.00 − 108.00 = 1620.00 (= 2160 × 90 / 120) settles as metered: base 30 % of it
    # = 486.00, energy 20 × 43.9 = 878.00, metered 1364.00; due 108.00 + 1364.00 = 1472.00.
    assert (settlement.base_part_yuan, settlement.energy_part_yuan) == (D("486.00"), D("878.00"))
    assert (settlement.due_yuan, settlement.balance_yuan) == (D("1472.00"), D("-256.00"))
    by_code = {line.code: line.amount_yuan for line in settlement.lines}
    assert (by_code["suspension_charge"], by_code["heated_area_fee"]) == (D("108.00"), D("1620.00"))


@pytest.mark.parametrize("policy", list(SettlementPolicy))
@pytest.mark.parametrize(("share", "due"), [(D(25), D("450.00")), (D(30), D("540.00")), (D(0), D("0.00"))])
def test_a_flat_suspended_all_season_pays_exactly_the_suspension_share(
    policy: SettlementPolicy, share: Decimal, due: Decimal
) -> None:
    # Area fee 100 m² × 18 元/m² = 1800.00; suspended all 120 days: 25 % → 450.00, 30 % → 540.00.
    # No base part is taken from it and no policy refunds any of it.
    extra = {"cap_percent": D(115)} if policy is SettlementPolicy.CAPPED else {}
    terms = price(policy, area_price_yuan_per_m2=D(18), suspension_share_percent=share, **extra)
    settlement = settle(terms, use("0", suspended_days=120))
    assert (settlement.area_fee_yuan, settlement.due_yuan, settlement.balance_yuan) == (due, due, D("0.00"))
    assert (settlement.base_part_yuan, settlement.metered_fee_yuan) == (D("0.00"), D("0.00"))


def test_a_minimum_charge_does_not_apply_to_a_season_spent_suspended() -> None:
    terms = price(SettlementPolicy.BOTH_WAYS, suspension_share_percent=D(25), minimum_charge_yuan=D(300))
    settlement = settle(terms, use("0", suspended_days=120))
    assert settlement.due_yuan == D("540.00")  # 2160.00 × 25 %


@given(
    suspended_days=st.integers(min_value=0, max_value=120),
    share=st.decimals(min_value=0, max_value=100, places=1),
    energy=st.decimals(min_value=0, max_value=80, places=3),
    policy=st.sampled_from(list(SettlementPolicy)),
)
def test_suspended_days_are_charged_their_share_whatever_the_heat(
    suspended_days: int, share: Decimal, energy: Decimal, policy: SettlementPolicy
) -> None:
    extra = {"cap_percent": D(115)} if policy is SettlementPolicy.CAPPED else {}
    terms = price(policy, suspension_share_percent=share, **extra)
    settlement = settle(terms, use(str(energy), suspended_days=suspended_days))
    lines = {line.code: line.amount_yuan for line in settlement.lines}
    suspension = lines.get("suspension_charge", D("0.00"))
    heated = lines.get("heated_area_fee", settlement.area_fee_yuan)
    assert suspension + heated == settlement.area_fee_yuan  # the split loses no fen
    # The suspension charge is the share of the full area fee for those days (to the fen).
    exact = D(100) * D("21.6") * suspended_days * share / D(100) / D(120)
    assert abs(suspension - exact) <= D("0.01")
    assert settlement.due_yuan >= suspension
    if suspended_days == 120:
        assert settlement.due_yuan == suspension or policy in (
            SettlementPolicy.BOTH_WAYS,
            SettlementPolicy.METERED_ONLY,
        )


@pytest.mark.parametrize(
    ("correction", "base", "energy"),
    [
        (PositionCorrection.NONE, D("648.00"), D("1317.00")),
        (PositionCorrection.ENERGY, D("648.00"), D("867.59")),  # 30 / 1.518 × 43.9 = 867.588…
        (PositionCorrection.BASE, D("426.88"), D("1317.00")),  # 648 / 1.518 = 426.877…
        (PositionCorrection.BOTH, D("426.88"), D("867.59")),
    ],
)
def test_the_position_coefficient_divides_what_the_tariff_says(
    correction: PositionCorrection, base: Decimal, energy: Decimal
) -> None:
    settlement = settle(
        price(SettlementPolicy.BOTH_WAYS, position_correction=correction),
        use("30", position_coefficient=D("1.518")),  # the top floor's west end flat
    )
    assert (settlement.base_part_yuan, settlement.energy_part_yuan) == (base, energy)
    assert [line.code for line in settlement.lines][:3] == ["area_fee", "base_part", "energy_part"]
    corrected = {"base": correction in (PositionCorrection.BASE, PositionCorrection.BOTH)}
    assert settlement.lines[1].figures["coefficient"] == ("1.518" if corrected["base"] else "1")


def test_a_minimum_charge_applies_to_the_metered_fee() -> None:
    settlement = settle(price(SettlementPolicy.METERED_ONLY, minimum_charge_yuan=D("1000")), use("0"))
    assert (settlement.metered_fee_yuan, settlement.due_yuan) == (D("1000"), D("1000"))


@pytest.mark.parametrize(
    "changes",
    [
        {"energy_price_yuan_per_gj": D(-1)},
        {"area_price_yuan_per_m2": D("-0.01")},
        {"base_share_percent": D(101)},
        {"base_share_percent": D(-1)},
        {"policy": SettlementPolicy.CAPPED},  # no cap
        {"policy": SettlementPolicy.CAPPED, "cap_percent": D(90)},  # a cap below the area fee
    ],
)
def test_impossible_prices_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        TwoPartPrice(**(XUCHANG | {"policy": SettlementPolicy.BOTH_WAYS} | changes))  # type: ignore[arg-type]


@given(
    energy=st.decimals(min_value=0, max_value=500, places=3), cap=st.decimals(min_value=100, max_value=200, places=1)
)
def test_refund_only_never_charges_more_than_the_area_fee_and_the_cap_holds(energy: Decimal, cap: Decimal) -> None:
    refund_only = settle(price(SettlementPolicy.REFUND_ONLY), use(str(energy)))
    capped = settle(price(SettlementPolicy.CAPPED, cap_percent=cap), use(str(energy)))
    both_ways = settle(price(SettlementPolicy.BOTH_WAYS), use(str(energy)))
    assert refund_only.due_yuan <= refund_only.area_fee_yuan
    assert capped.due_yuan <= (capped.area_fee_yuan * cap / 100).quantize(D("0.01"))
    assert refund_only.due_yuan <= capped.due_yuan <= both_ways.due_yuan


@pytest.mark.parametrize(
    ("mode", "quantum", "expected"),
    [
        # 30.5 GJ × 43.9 = 1338.95 元 exactly; the rule decides what is billed.
        (RoundingMode.HALF_UP, D("0.01"), D("1338.95")),
        (RoundingMode.HALF_UP, D("0.1"), D("1339.00")),  # 1338.95 → 1339.0 (half up)
        (RoundingMode.HALF_EVEN, D("0.1"), D("1339.00")),  # 1338.95 → 1339.0 (9 is odd, so up to even 0)
        (RoundingMode.DOWN, D("1"), D("1338.00")),  # 抹零: the 0.95 元 is dropped
    ],
)
def test_the_tariffs_rounding_rule_is_applied(mode: RoundingMode, quantum: Decimal, expected: Decimal) -> None:
    rounding = Rounding(mode, quantum)
    settlement = settle(price(SettlementPolicy.BOTH_WAYS, rounding=rounding), use("30.5"))
    assert settlement.energy_part_yuan == expected
    assert settlement.energy_part_yuan.as_tuple().exponent == -2


def test_a_rounding_quantum_other_than_fen_jiao_or_yuan_is_refused() -> None:
    with pytest.raises(InvalidInputError) as refused:
        Rounding(RoundingMode.HALF_UP, D("0.05"))
    assert refused.value.message_key == "rounding_quantum_invalid"


def test_a_given_area_fee_share_replaces_the_computed_one() -> None:
    # An owner change gave this part of the season 1000.00 元 of the area fee: base 30 % = 300.00.
    settlement = settle(price(SettlementPolicy.BOTH_WAYS), use("10"), area_fee_yuan=D("1000.00"))
    assert (settlement.area_fee_yuan, settlement.base_part_yuan, settlement.balance_yuan) == (
        D("1000.00"),
        D("300.00"),
        D("739.00") - D("1000.00"),  # metered 300.00 + 10 × 43.9 = 739.00
    )
