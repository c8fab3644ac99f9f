"""Settlement of a household's season under a two-part heat price (domain.md §6).

Pure arithmetic, the heart of billing: the area fee prepaid before the season, the metered fee
after it (base part + energy part, with the tariff's position correction), and what the
settlement policy makes of their difference. Every amount is 元, rounded by the tariff's rule
(half up to 0.01 unless it says otherwise) at exactly the points named below; each step is a
``BillLine`` that names its formula and the figures put into it, so a bill can be explained.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
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


class RoundingMode(StrEnum):
    """How an amount is rounded to the tariff's quantum."""

    HALF_UP = "half_up"  # 四舍五入, the default
    HALF_EVEN = "half_even"  # banker's rounding
    DOWN = "down"  # 抹零: towards zero, in the household's favour


_DECIMAL_ROUNDING = {
    RoundingMode.HALF_UP: ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: ROUND_HALF_EVEN,
    RoundingMode.DOWN: ROUND_DOWN,
}
ALLOWED_QUANTA_YUAN = (Decimal("0.01"), Decimal("0.1"), Decimal(1))


@dataclass(frozen=True)
class Rounding:
    """The tariff's rounding rule: a mode and a quantum of 0.01 (分), 0.1 (角) or 1 元.

    Amounts always keep two decimals, whatever the quantum."""

    mode: RoundingMode = RoundingMode.HALF_UP
    quantum_yuan: Decimal = CENT

    def __post_init__(self) -> None:
        canonical = next((allowed for allowed in ALLOWED_QUANTA_YUAN if allowed == self.quantum_yuan), None)
        if canonical is None:
            raise InvalidInputError(
                "the rounding quantum must be 0.01, 0.1 or 1 元",
                message_key="rounding_quantum_invalid",
                field="rounding_quantum_yuan",
                value=str(self.quantum_yuan),
            )
        # 1.00 and 1 are the same quantum, but quantize() follows the exponent: keep the canonical one.
        object.__setattr__(self, "quantum_yuan", canonical)

    def apply(self, value: Decimal) -> Decimal:
        """``value`` rounded to the quantum by the mode, written with two decimals."""
        rounded = value.quantize(self.quantum_yuan, rounding=_DECIMAL_ROUNDING[RoundingMode(self.mode)])
        return rounded.quantize(CENT)

    def describe(self) -> str:
        return f"{RoundingMode(self.mode).value} to {self.quantum_yuan} 元"


@dataclass(frozen=True)
class BillLine:
    """One step of a bill: the formula's name (``code``, the key its explanation is rendered
    by), the amount it gives (None for a line that states a fact) and the figures put in."""

    code: str
    amount_yuan: Decimal | None
    figures: dict[str, str] = field(default_factory=dict)

    def to_record(self) -> dict[str, object]:
        """The line as event payload (strings and Decimals only)."""
        return {"code": self.code, "amount_yuan": self.amount_yuan, "figures": dict(self.figures)}

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> BillLine:
        amount = record.get("amount_yuan")
        figures = record.get("figures") or {}
        assert isinstance(figures, dict)
        return cls(str(record["code"]), Decimal(str(amount)) if amount is not None else None, dict(figures))


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
    rounding: Rounding = field(default_factory=Rounding)

    def __post_init__(self) -> None:
        for name in ("area_price_yuan_per_m2", "energy_price_yuan_per_gj", "minimum_charge_yuan"):
            value = getattr(self, name)
            if not value.is_finite() or value < 0:
                raise InvalidInputError(f"{name} must not be negative", message_key="price_negative", field=name)
        for name in ("base_share_percent", "suspension_share_percent"):
            value = getattr(self, name)
            if not value.is_finite() or not Decimal(0) <= value <= HUNDRED:
                raise InvalidInputError(f"{name} must lie in 0…100 %", message_key="share_out_of_range", field=name)
        if SettlementPolicy(self.policy) is SettlementPolicy.CAPPED and (
            self.cap_percent is None or self.cap_percent < HUNDRED
        ):
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
    # The household's days of the season (registered late, deregistered early); None: all of them.
    billed_days: int | None = None

    def __post_init__(self) -> None:
        if self.area_m2 <= 0 or self.energy_gj < 0 or self.position_coefficient <= 0:
            raise InvalidInputError("area, heat and position coefficient must be positive", message_key="use_invalid")
        if self.season_days <= 0 or not 0 <= self.suspended_days <= self.days <= self.season_days:
            raise InvalidInputError("suspended days must lie within the season", message_key="use_invalid")

    @property
    def days(self) -> int:
        """The days billed: the season's, or the household's part of it."""
        return self.season_days if self.billed_days is None else self.billed_days

    @property
    def heated_days(self) -> int:
        return self.days - self.suspended_days


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
    lines: tuple[BillLine, ...]


def area_fee_weight(use: SeasonUse, price: TwoPartPrice) -> Decimal:
    """Heated days count whole, suspended days at the suspension share (the area fee's day weight)."""
    return Decimal(use.heated_days) + Decimal(use.suspended_days) * price.suspension_share_percent / HUNDRED


def area_fee(price: TwoPartPrice, use: SeasonUse) -> tuple[Decimal, BillLine]:
    """The area fee: A × P × (heated days + suspended days × σ) / D, rounded by the tariff."""
    fee = price.rounding.apply(
        use.area_m2 * price.area_price_yuan_per_m2 * area_fee_weight(use, price) / Decimal(use.season_days)
    )
    line = BillLine(
        "area_fee",
        fee,
        {
            "area_m2": str(use.area_m2),
            "area_price_yuan_per_m2": str(price.area_price_yuan_per_m2),
            "heated_days": str(use.heated_days),
            "suspended_days": str(use.suspended_days),
            "suspension_share_percent": str(price.suspension_share_percent),
            "season_days": str(use.season_days),
            "rounding": price.rounding.describe(),
        },
    )
    return fee, line


def split_area_fee(fee_yuan: Decimal, use: SeasonUse, price: TwoPartPrice) -> tuple[Decimal, Decimal]:
    """The area fee split into what the suspended days pay (their share of it, charged as it is)
    and the heated days' part (which settles as metered). The suspension charge is the fee's part
    by day weight, rounded by the tariff; the heated part is the rest, so the two sum to the fee."""
    weight = area_fee_weight(use, price)
    if use.suspended_days == 0 or weight == 0:
        return Decimal(0).quantize(CENT), fee_yuan
    suspended_weight = Decimal(use.suspended_days) * price.suspension_share_percent / HUNDRED
    suspension_charge = price.rounding.apply(fee_yuan * suspended_weight / weight)
    return suspension_charge, fee_yuan - suspension_charge


def settle(price: TwoPartPrice, use: SeasonUse, area_fee_yuan: Decimal | None = None) -> Settlement:
    """Settle a season: prepaid area fee against the metered fee, under the tariff's policy.

    Suspended days (报停) pay the suspension share of the area fee and nothing else; the heated
    days' part of the area fee settles as metered: base part (a share of that part) plus energy
    part, compared with that part under the policy (docs/tariff-rules.md, "Suspension").
    ``area_fee_yuan`` overrides the area fee (a share of the season's, when an owner change splits
    it); by default it is computed from ``use``."""
    if area_fee_yuan is None:
        fee, area_line = area_fee(price, use)
    else:
        # A share given (every settlement bill of a period): the fee of ``use`` is not computed.
        fee = area_fee_yuan
        area_line = BillLine("area_fee_share", area_fee_yuan, {"area_fee_yuan": str(area_fee_yuan)})
    suspension_charge, heated_fee = split_area_fee(fee, use, price)
    correction = PositionCorrection(price.position_correction)
    base_coefficient = (
        use.position_coefficient if correction in (PositionCorrection.BASE, PositionCorrection.BOTH) else Decimal(1)
    )
    energy_coefficient = (
        use.position_coefficient if correction in (PositionCorrection.ENERGY, PositionCorrection.BOTH) else Decimal(1)
    )
    rounding = price.rounding
    base_part = rounding.apply(heated_fee * price.base_share_percent / HUNDRED / base_coefficient)
    energy_part = rounding.apply(use.energy_gj / energy_coefficient * price.energy_price_yuan_per_gj)
    # A season spent wholly suspended has no metered fee to bring up to the minimum charge.
    minimum = price.minimum_charge_yuan.quantize(CENT) if use.heated_days > 0 else Decimal(0).quantize(CENT)
    metered = max(base_part + energy_part, minimum)
    due_heated = _due(price, heated_fee, metered)
    due = suspension_charge + due_heated
    lines = [area_line, *_suspension_lines(fee, suspension_charge, heated_fee, use, price)]
    lines.extend(
        (
            BillLine(
                "base_part",
                base_part,
                {
                    "area_fee_yuan": str(heated_fee),
                    "base_share_percent": str(price.base_share_percent),
                    "coefficient": str(base_coefficient),
                },
            ),
            BillLine(
                "energy_part",
                energy_part,
                {
                    "energy_gj": str(use.energy_gj),
                    "coefficient": str(energy_coefficient),
                    "energy_price_yuan_per_gj": str(price.energy_price_yuan_per_gj),
                },
            ),
            BillLine(
                "metered_fee",
                metered,
                {
                    "base_part_yuan": str(base_part),
                    "energy_part_yuan": str(energy_part),
                    "minimum_charge_yuan": str(minimum),
                },
            ),
            BillLine(
                f"due_{SettlementPolicy(price.policy).value}",
                due_heated,
                {
                    "metered_fee_yuan": str(metered),
                    "area_fee_yuan": str(heated_fee),
                    "cap_percent": str(price.cap_percent or ""),
                },
            ),
        )
    )
    if suspension_charge:
        lines.append(
            BillLine(
                "due_with_suspension",
                due,
                {"suspension_charge_yuan": str(suspension_charge), "heated_due_yuan": str(due_heated)},
            )
        )
    lines.append(BillLine("balance", due - fee, {"due_yuan": str(due), "area_fee_yuan": str(fee)}))
    return Settlement(fee, base_part, energy_part, metered, due, due - fee, tuple(lines))


def _suspension_lines(
    fee: Decimal, suspension_charge: Decimal, heated_fee: Decimal, use: SeasonUse, price: TwoPartPrice
) -> list[BillLine]:
    """The lines that split the area fee at suspension: none when no day was suspended."""
    if use.suspended_days == 0:
        return []
    return [
        BillLine(
            "suspension_charge",
            suspension_charge,
            {
                "area_fee_yuan": str(fee),
                "suspended_days": str(use.suspended_days),
                "heated_days": str(use.heated_days),
                "suspension_share_percent": str(price.suspension_share_percent),
            },
        ),
        BillLine(
            "heated_area_fee",
            heated_fee,
            {"area_fee_yuan": str(fee), "suspension_charge_yuan": str(suspension_charge)},
        ),
    ]


def _due(price: TwoPartPrice, fee: Decimal, metered: Decimal) -> Decimal:
    policy = SettlementPolicy(price.policy)
    if policy is SettlementPolicy.REFUND_ONLY:
        return min(metered, fee)
    if policy is SettlementPolicy.CAPPED:
        assert price.cap_percent is not None, "validated in TwoPartPrice"
        return min(metered, price.rounding.apply(fee * price.cap_percent / HUNDRED))
    return metered
