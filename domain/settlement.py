"""Settlement of a household's season under a two-part heat price (domain.md §6).

Pure arithmetic, the heart of the billing issue: the area fee prepaid before the season, the
metered fee after it (base part + energy part, with the tariff's position correction), and what
the settlement policy makes of their difference. Every amount is 元, rounded half up to 0.01 at
the points named below; the lines say how each was reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from domain.errors import InvalidInputError

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class SettlementPolicy(StrEnum):
    """What happens when the metered fee differs from the prepaid area fee."""

    REFUND_ONLY = "refund_only"  # 多退少不补 (Beijing, Yinchuan): the household never pays more than the area fee
    BOTH_WAYS = "both_ways"  # 多退少补 (Xuchang): the metered fee, whichever way
    CAPPED = "capped"  # 多退, 少补 up to a cap such as 115 % of the area fee
    METERED_ONLY = "metered_only"  # non-residential customers pay the metered fee


class PositionCorrection(StrEnum):
    """Where a flat's position coefficient applies (domain.md §7): nowhere, to its heat, to the
    base part, or to both (each divided by the coefficient)."""

    NONE = "none"
    ENERGY = "energy"
    BASE = "base"
    BOTH = "both"


@dataclass(frozen=True)
class TwoPartPrice:
    """The prices and rules a season is settled by (one tariff version)."""

    area_price_yuan_per_m2: Decimal  # per season
    base_share_percent: Decimal  # the base part as a share of the area fee (30 % in 57 of 70 cities)
    energy_price_yuan_per_gj: Decimal
    policy: SettlementPolicy
    cap_percent: Decimal | None = None  # for CAPPED: the most the household pays, as % of the area fee
    suspension_share_percent: Decimal = Decimal(0)  # 报停: the share of the area fee paid while suspended
    position_correction: PositionCorrection = PositionCorrection.NONE
    minimum_charge_yuan: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("area_price_yuan_per_m2", "energy_price_yuan_per_gj", "minimum_charge_yuan"):
            if getattr(self, name) < 0:
                raise InvalidInputError(f"{name} must not be negative", message_key="price_negative", field=name)
        for name in ("base_share_percent", "suspension_share_percent"):
            if not Decimal(0) <= getattr(self, name) <= HUNDRED:
                raise InvalidInputError(f"{name} must lie in 0…100 %", message_key="share_out_of_range", field=name)
        if self.policy is SettlementPolicy.CAPPED and (self.cap_percent is None or self.cap_percent < HUNDRED):
            raise InvalidInputError(
                "a capped settlement needs a cap of at least 100 % of the area fee",
                message_key="cap_missing",
                field="cap_percent",
            )


@dataclass(frozen=True)
class SeasonUse:
    """What a household had of the season: its billed area, its heat, its position, its suspension."""

    area_m2: Decimal
    energy_gj: Decimal
    season_days: int
    suspended_days: int = 0
    position_coefficient: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if self.area_m2 <= 0 or self.energy_gj < 0 or self.position_coefficient <= 0:
            raise InvalidInputError("area, heat and position coefficient must be positive", message_key="use_invalid")
        if not 0 <= self.suspended_days <= self.season_days or self.season_days <= 0:
            raise InvalidInputError("suspended days must lie within the season", message_key="use_invalid")


@dataclass(frozen=True)
class Settlement:
    """The season's settlement: both fees, what is due, and the balance against the prepayment.

    ``balance_yuan`` > 0 is a supplement the household pays; < 0 a refund or credit (多退)."""

    area_fee_yuan: Decimal
    base_part_yuan: Decimal
    energy_part_yuan: Decimal
    metered_fee_yuan: Decimal
    due_yuan: Decimal
    balance_yuan: Decimal
    lines: tuple[str, ...]


def _yuan(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _area_fee(price: TwoPartPrice, use: SeasonUse) -> tuple[Decimal, str]:
    """The area fee, heated days at the full price and suspended days at the suspension share."""
    heated_days = use.season_days - use.suspended_days
    share = (Decimal(heated_days) + Decimal(use.suspended_days) * price.suspension_share_percent / HUNDRED) / Decimal(
        use.season_days
    )
    fee = _yuan(use.area_m2 * price.area_price_yuan_per_m2 * share)
    line = (
        f"area fee = {use.area_m2} m² × {price.area_price_yuan_per_m2} 元/m² × ({heated_days} heated days"
        f" + {use.suspended_days} suspended days × {price.suspension_share_percent} %) / {use.season_days} days"
        f" = {fee} 元 (rounded half up to 0.01)"
    )
    return fee, line


def settle(price: TwoPartPrice, use: SeasonUse) -> Settlement:
    """Settle a season: prepaid area fee against the metered fee, under the tariff's policy."""
    area_fee, area_line = _area_fee(price, use)
    divide_base = price.position_correction in (PositionCorrection.BASE, PositionCorrection.BOTH)
    divide_energy = price.position_correction in (PositionCorrection.ENERGY, PositionCorrection.BOTH)
    base_coefficient = use.position_coefficient if divide_base else Decimal(1)
    energy_coefficient = use.position_coefficient if divide_energy else Decimal(1)
    base_part = _yuan(area_fee * price.base_share_percent / HUNDRED / base_coefficient)
    energy_part = _yuan(use.energy_gj / energy_coefficient * price.energy_price_yuan_per_gj)
    metered = max(base_part + energy_part, price.minimum_charge_yuan)
    due = _due(price, area_fee, metered)
    lines = (
        area_line,
        f"base part = {area_fee} 元 × {price.base_share_percent} % ÷ position {base_coefficient} = {base_part} 元",
        f"energy part = {use.energy_gj} GJ ÷ position {energy_coefficient} × {price.energy_price_yuan_per_gj} 元/GJ"
        f" = {energy_part} 元",
        f"metered fee = {base_part} + {energy_part} (at least {price.minimum_charge_yuan}) = {metered} 元",
        f"due under {price.policy.value} = {due} 元; balance against the prepaid area fee = {due - area_fee} 元",
    )
    return Settlement(area_fee, base_part, energy_part, metered, due, due - area_fee, lines)


def _due(price: TwoPartPrice, area_fee: Decimal, metered: Decimal) -> Decimal:
    if price.policy is SettlementPolicy.REFUND_ONLY:
        return min(metered, area_fee)
    if price.policy is SettlementPolicy.CAPPED:
        assert price.cap_percent is not None, "validated in TwoPartPrice"
        return min(metered, _yuan(area_fee * price.cap_percent / HUNDRED))
    return metered
