"""Regulator scenarios (物价局测算): a season recomputed under other tariffs, side by side. Pure.

A *variant* is a tariff to compare: it starts from each household's actual tariff version and
overrides some of its price fields, or names every price field itself. Its settlement is computed
by the same code a billing run settles with (``domain.billing.settlement_bills``); this module
only says how a variant makes a household's terms, reads the figures of a season's settlement
bills (issued or computed alike), and sums, compares and bands them.

Money is 元 (Decimal); a change is what the household pays under the variant less what it pays
under the actual tariff: negative, it gains; positive, it loses; the company's revenue moves by
the sum of the changes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from domain.errors import InvalidInputError
from domain.settlement import (
    CENT,
    HUNDRED,
    BillLine,
    PositionCorrection,
    Rounding,
    RoundingMode,
    SettlementPolicy,
    TwoPartPrice,
)
from domain.tariff import TariffTerms

ZERO = Decimal(0)
MAXIMUM_VARIANTS = 5
MAXIMUM_LABEL_LENGTH = 64
PERCENT_PLACES = Decimal("0.01")

# The price fields a variant may set (TwoPartPrice's, the rounding rule's two as flat fields).
PRICE_FIELDS = (
    "area_price_yuan_per_m2",
    "base_share_percent",
    "energy_price_yuan_per_gj",
    "policy",
    "cap_percent",
    "suspension_share_percent",
    "position_correction",
    "minimum_charge_yuan",
    "rounding_mode",
    "rounding_quantum_yuan",
)
# What a variant that does not start from the actual tariff must name; the others default as a
# published tariff's do (no cap, no suspension share, no position correction, no minimum, half up to 0.01).
REQUIRED_FIELDS = ("area_price_yuan_per_m2", "base_share_percent", "energy_price_yuan_per_gj", "policy")
_DEFAULT_PRICE = TwoPartPrice(Decimal(1), ZERO, ZERO, SettlementPolicy.BOTH_WAYS)


@dataclass(frozen=True)
class TariffVariant:
    """A tariff to compare: ``overrides`` of the price fields, on the household's actual tariff
    version (``from_actual``) or on the defaults (then every required field must be named).

    Terms beside the prices (billed area, the broken-meter rule, the position coefficients) are
    always the household's actual ones: a scenario asks what another price would have cost."""

    label: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    from_actual: bool = True

    def __post_init__(self) -> None:
        label = self.label.strip()
        if not 1 <= len(label) <= MAXIMUM_LABEL_LENGTH:
            raise InvalidInputError(
                f"a variant needs a label of 1 to {MAXIMUM_LABEL_LENGTH} characters",
                message_key="scenario_variant_label",
                field="label",
            )
        unknown = sorted(set(self.overrides) - set(PRICE_FIELDS))
        if unknown:
            raise InvalidInputError(
                "a variant sets only price fields",
                message_key="scenario_variant_field_unknown",
                field=unknown[0],
                known=", ".join(PRICE_FIELDS),
            )
        missing = [name for name in REQUIRED_FIELDS if name not in self.overrides]
        if not self.from_actual and missing:
            raise InvalidInputError(
                "a variant that does not start from the actual tariff names every price",
                message_key="scenario_variant_incomplete",
                field=missing[0],
                variant=label,
            )
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "overrides", dict(self.overrides))
        # Checked once on the defaults: a field of the wrong kind fails here, not per household.
        self.price_on(_DEFAULT_PRICE) if not self.from_actual else _check_kinds(self.overrides)

    def price_on(self, actual: TwoPartPrice) -> TwoPartPrice:
        """The variant's price for a household whose actual price is ``actual`` (validated by
        TwoPartPrice: a capped policy without a cap of at least 100 % is refused)."""
        start = actual if self.from_actual else _DEFAULT_PRICE
        values = _typed(self.overrides)
        rounding = start.rounding
        if "rounding_mode" in values or "rounding_quantum_yuan" in values:
            rounding = Rounding(
                values.pop("rounding_mode", rounding.mode), values.pop("rounding_quantum_yuan", rounding.quantum_yuan)
            )
        if "policy" in values and SettlementPolicy(values["policy"]) is not SettlementPolicy.CAPPED:
            values["cap_percent"] = None  # a variant that leaves the capped policy drops its cap
        return replace(start, **values, rounding=rounding)

    def terms_on(self, actual: TariffTerms) -> TariffTerms:
        """The household's terms under the variant: its actual terms with the variant's price."""
        return replace(actual, price=self.price_on(actual.price))

    def to_record(self) -> dict[str, Any]:
        """The variant as JSON-safe data (Decimals and enums as strings)."""
        return {
            "label": self.label,
            "from_actual": self.from_actual,
            "overrides": {name: _text(value) for name, value in self.overrides.items()},
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TariffVariant:
        return cls(str(record["label"]), dict(record.get("overrides") or {}), bool(record.get("from_actual", True)))


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _typed(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides as TwoPartPrice's types (numbers as Decimal, enums as enums); None keeps a
    cap unset. A value of the wrong kind is an InvalidInputError naming the field."""
    typed: dict[str, Any] = {}
    for name, value in overrides.items():
        try:
            typed[name] = _typed_value(name, value)
        except (ValueError, ArithmeticError):
            raise InvalidInputError(
                f"{name} cannot be {value!r}", message_key="scenario_variant_value", field=name, value=str(value)
            ) from None
    return typed


def _typed_value(name: str, value: Any) -> Any:
    if name == "policy":
        return SettlementPolicy(value)
    if name == "position_correction":
        return PositionCorrection(value)
    if name == "rounding_mode":
        return RoundingMode(value)
    if value is None:
        if name != "cap_percent":
            raise ValueError(name)
        return None
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(name)
    return number


def _check_kinds(overrides: Mapping[str, Any]) -> None:
    _typed(overrides)


# -- a season's figures, from its settlement bills ---------------------------------------------


@dataclass(frozen=True)
class SettlementBillFigures:
    """What one settlement bill shows (an issued bill's or a computed one's): its amount, basis, lines."""

    amount_yuan: Decimal
    basis: str
    lines: tuple[BillLine, ...]


@dataclass(frozen=True)
class SeasonFigures:
    """A household's season under one tariff, read from its settlement bills (one per owner).

    ``due_yuan`` is what the season costs it (the prepayment and the settlement together);
    ``energy_gj`` and ``metered_fee_yuan`` are None when no bill was billed on heat (by area)."""

    basis: str
    area_fee_yuan: Decimal
    metered_fee_yuan: Decimal | None
    energy_gj: Decimal | None
    due_yuan: Decimal
    prepaid_yuan: Decimal
    settlement_yuan: Decimal
    bill_amounts_yuan: tuple[Decimal, ...]


def season_figures(bills: Sequence[SettlementBillFigures]) -> SeasonFigures:
    """Sum a season's settlement bills: the area fee (its share on each bill), the metered fee and
    heat of the bills billed on heat, what is due and what was prepaid (each bill's last lines)."""
    if not bills:
        raise InvalidInputError("a settlement has at least one bill", message_key="scenario_no_bills")
    area_fee = metered = energy = due = prepaid = ZERO
    heat_billed = False
    for bill in bills:
        for line in bill.lines:
            if line.code == "area_fee_share" and line.amount_yuan is not None:
                area_fee += line.amount_yuan
            elif line.code == "metered_fee" and line.amount_yuan is not None:
                metered += line.amount_yuan
                heat_billed = True
            elif line.code == "energy_part":
                energy += Decimal(line.figures["energy_gj"])
            elif line.code == "settlement_amount":
                due += Decimal(line.figures["due_yuan"])
                prepaid += Decimal(line.figures["prepaid_yuan"])
    bases = {bill.basis for bill in bills}
    return SeasonFigures(
        basis=bases.pop() if len(bases) == 1 else "mixed",
        area_fee_yuan=area_fee.quantize(CENT),
        metered_fee_yuan=metered.quantize(CENT) if heat_billed else None,
        energy_gj=energy if heat_billed else None,
        due_yuan=due.quantize(CENT),
        prepaid_yuan=prepaid.quantize(CENT),
        settlement_yuan=sum((bill.amount_yuan for bill in bills), ZERO).quantize(CENT),
        bill_amounts_yuan=tuple(bill.amount_yuan for bill in bills),
    )


def change_percent(change_yuan: Decimal, actual_due_yuan: Decimal) -> Decimal | None:
    """The change as a percentage of the actual due, to 0.01 %; None when nothing was due."""
    if actual_due_yuan == 0:
        return None
    return (change_yuan * HUNDRED / actual_due_yuan).quantize(PERCENT_PLACES)


# -- bands ---------------------------------------------------------------------------------------

# Edges of the change bands (docs/scenarios.md). A change of exactly 0 is its own band; any other
# falls in the band whose size lies in (edge_k, edge_k+1], closed on the side away from zero:
# +10 元 lies in 0…10, +10.01 元 in 10…50, −10 元 in −10…0.
YUAN_BAND_EDGES = (Decimal(10), Decimal(50), Decimal(100), Decimal(200), Decimal(500))
PERCENT_BAND_EDGES = (Decimal(1), Decimal(5), Decimal(10), Decimal(20), Decimal(30), Decimal(50))
NO_PERCENT_BAND = "n/a"


def band_labels(edges: Sequence[Decimal]) -> list[str]:
    """Every band's label, from the largest gain to the largest loss: ``< -500``, ``-500…-200``,
    …, ``-10…0``, ``0``, ``0…10``, …, ``> 500``."""
    labels = [f"< -{edges[-1]}"]
    pairs = list(itertools.pairwise(edges))
    labels += [f"-{upper}…-{lower}" for lower, upper in reversed(pairs)]
    labels += [f"-{edges[0]}…0", "0", f"0…{edges[0]}"]
    labels += [f"{lower}…{upper}" for lower, upper in pairs]
    labels.append(f"> {edges[-1]}")
    return labels


def band_of(change: Decimal, edges: Sequence[Decimal]) -> str:
    """The band a change falls in (see ``band_labels``): exactly 0, or the first band whose edge
    away from zero its size does not exceed."""
    if change == 0:
        return "0"
    size, lower = abs(change), ZERO
    for upper in edges:
        if size <= upper:
            return f"{lower}…{upper}" if change > 0 else (f"-{upper}…-{lower}" if lower else f"-{upper}…0")
        lower = upper
    return f"> {edges[-1]}" if change > 0 else f"< -{edges[-1]}"


# -- totals --------------------------------------------------------------------------------------


@dataclass
class Totals:
    """Sums over households under one variant, and against the actual column: who gains, who loses."""

    households: int = 0
    area_m2: Decimal = ZERO
    energy_gj: Decimal = ZERO
    due_on_heat_yuan: Decimal = ZERO  # what households billed on heat pay (for 元/GJ)
    area_fee_yuan: Decimal = ZERO
    metered_fee_yuan: Decimal = ZERO
    due_yuan: Decimal = ZERO
    settlement_yuan: Decimal = ZERO
    actual_due_yuan: Decimal = ZERO
    change_yuan: Decimal = ZERO
    gainers: int = 0
    gain_yuan: Decimal = ZERO  # the sum of the gainers' changes (negative)
    losers: int = 0
    loss_yuan: Decimal = ZERO  # the sum of the losers' changes (positive)
    unchanged: int = 0

    def add(self, area_m2: Decimal, figures: SeasonFigures, actual_due_yuan: Decimal) -> None:
        """Count one household: its billed area, its figures under the variant, its actual due."""
        self.households += 1
        self.area_m2 += area_m2
        if figures.energy_gj is not None:
            self.energy_gj += figures.energy_gj
            self.due_on_heat_yuan += figures.due_yuan
        self.area_fee_yuan += figures.area_fee_yuan
        self.metered_fee_yuan += figures.metered_fee_yuan or ZERO
        self.due_yuan += figures.due_yuan
        self.settlement_yuan += figures.settlement_yuan
        self.actual_due_yuan += actual_due_yuan
        change = figures.due_yuan - actual_due_yuan
        self.change_yuan += change
        if change < 0:
            self.gainers += 1
            self.gain_yuan += change
        elif change > 0:
            self.losers += 1
            self.loss_yuan += change
        else:
            self.unchanged += 1

    @property
    def yuan_per_m2(self) -> Decimal | None:
        """The average charge per m² billed, to 0.01 元."""
        return (self.due_yuan / self.area_m2).quantize(CENT) if self.area_m2 else None

    @property
    def yuan_per_gj(self) -> Decimal | None:
        """What the households billed on heat paid per GJ they used, to 0.01 元."""
        return (self.due_on_heat_yuan / self.energy_gj).quantize(CENT) if self.energy_gj else None

    @property
    def revenue_change_percent(self) -> Decimal | None:
        return change_percent(self.change_yuan, self.actual_due_yuan)

    def share_percent(self, count: int) -> Decimal:
        """``count`` as a share of the households, to 0.01 %."""
        if not self.households:
            return ZERO
        return (Decimal(count) * HUNDRED / Decimal(self.households)).quantize(PERCENT_PLACES)


@dataclass
class Distribution:
    """How many households fall in each change band, in 元 and in % of the actual due."""

    by_yuan: dict[str, int] = field(default_factory=lambda: dict.fromkeys(band_labels(YUAN_BAND_EDGES), 0))
    by_percent: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys([*band_labels(PERCENT_BAND_EDGES), NO_PERCENT_BAND], 0)
    )

    def add(self, change_yuan: Decimal, actual_due_yuan: Decimal) -> None:
        self.by_yuan[band_of(change_yuan, YUAN_BAND_EDGES)] += 1
        # No change is 0 %, whatever was due; a change from nothing due has no percentage (n/a); any
        # other is banded by its exact percentage (0.001 % is not 0 %, though it shows as 0.00).
        if change_yuan == 0:
            band = "0"
        elif actual_due_yuan == 0:
            band = NO_PERCENT_BAND
        else:
            band = band_of(change_yuan * HUNDRED / actual_due_yuan, PERCENT_BAND_EDGES)
        self.by_percent[band] += 1


def totals_record(totals: Totals) -> dict[str, Any]:
    """Totals as JSON-safe data, with the derived figures (averages, shares)."""
    return {
        **{name: str(value) if isinstance(value, Decimal) else value for name, value in vars(totals).items()},
        "yuan_per_m2": _text(totals.yuan_per_m2),
        "yuan_per_gj": _text(totals.yuan_per_gj),
        "revenue_change_percent": _text(totals.revenue_change_percent),
        "gainers_percent": str(totals.share_percent(totals.gainers)),
        "losers_percent": str(totals.share_percent(totals.losers)),
        "unchanged_percent": str(totals.share_percent(totals.unchanged)),
    }


def sum_totals(parts: Iterable[Totals]) -> Totals:
    """One Totals of several (a community's of its buildings', say)."""
    whole = Totals()
    for part in parts:
        for name, value in vars(part).items():
            setattr(whole, name, getattr(whole, name) + value)
    return whole
