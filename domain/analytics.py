"""Community analytics (issue 15): the arithmetic of the figures a heating company shows its board
and its price bureau (domain.md §8), pure and exact.

Every figure is computed from exact Decimals and rounded once, where it is shown, by the rule named
beside it (ROUND_HALF_UP throughout):

- unit consumption GJ/m²: 3 decimals (the source writes 0.244 and 0.363);
- heat saved against area-based supply GJ: exact (a product of the average and an area less a sum
  of GJ: no division);
- area the saving could connect m²: 2 decimals;
- money 元 (purchase cost, receivable, profit): 2 decimals (分);
- margins, losses and shares of households %: margin and loss 1 decimal (the source's 66.5 %,
  4.7 %), shares 2 decimals (the source's 68.25 %);
- suggested position coefficients and their spread: 3 decimals, like the tariff's table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

UNIT_CONSUMPTION_QUANTUM = Decimal("0.001")  # GJ/m²
AREA_QUANTUM = Decimal("0.01")  # m²
MONEY_QUANTUM = Decimal("0.01")  # 元
MARGIN_QUANTUM = Decimal("0.1")  # %
SHARE_QUANTUM = Decimal("0.01")  # %
COEFFICIENT_QUANTUM = Decimal("0.001")
HUNDRED = Decimal(100)
ZERO = Decimal(0)


def rounded(value: Decimal, quantum: Decimal) -> Decimal:
    """``value`` rounded half up to ``quantum``."""
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def unit_consumption_gj_per_m2(energy_gj: Decimal, area_m2: Decimal) -> Decimal | None:
    """Heat per m² (3 decimals, half up); None over no area."""
    if area_m2 <= 0:
        return None
    return rounded(energy_gj / area_m2, UNIT_CONSUMPTION_QUANTUM)


def share_percent(part: Decimal | int, whole: Decimal | int, quantum: Decimal = SHARE_QUANTUM) -> Decimal | None:
    """``part`` as a share of ``whole`` in % (half up to ``quantum``); None of nothing."""
    if whole == 0:
        return None
    return rounded(Decimal(part) * HUNDRED / Decimal(whole), quantum)


# -- saving against area-based supply ----------------------------------------------------------


@dataclass(frozen=True)
class Saving:
    """What a community used against what area-based supply at the company's average would have
    sent it: ``area_based_energy_gj`` = average × connected area (exact); ``saved_gj`` = that less
    the heat used (exact; negative when the community used more than the average); and the area
    the saving could heat at the average (2 decimals; None without an average)."""

    area_based_energy_gj: Decimal
    saved_gj: Decimal
    connectable_area_m2: Decimal | None


def saving(average_gj_per_m2: Decimal, connected_area_m2: Decimal, energy_gj: Decimal) -> Saving:
    """0.4 × 34,326.97 − 8,391 = 5,339.788 GJ saved, 5,339.788 / 0.4 = 13,349.47 m² connectable."""
    area_based = average_gj_per_m2 * connected_area_m2
    saved = area_based - energy_gj
    connectable = rounded(saved / average_gj_per_m2, AREA_QUANTUM) if average_gj_per_m2 > 0 else None
    return Saving(area_based, saved, connectable)


# -- revenue both ways ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Revenue:
    """One way of charging: what it makes receivable, the heat bought for it, profit and margin.

    ``purchase_cost_yuan`` is rounded to 分 (the area-based 288,346.548 of the source shows as
    288,346.55); profit = receivable − cost; margin = profit / receivable in % (1 decimal; None
    when nothing is receivable)."""

    receivable_yuan: Decimal
    purchased_energy_gj: Decimal
    purchase_cost_yuan: Decimal
    profit_yuan: Decimal
    margin_percent: Decimal | None


def revenue(receivable_yuan: Decimal, purchased_energy_gj: Decimal, exact_cost_yuan: Decimal) -> Revenue:
    """Profit and margin of one way of charging, from its exact purchase cost (rounded here)."""
    cost = rounded(exact_cost_yuan, MONEY_QUANTUM)
    profit = receivable_yuan - cost
    return Revenue(
        receivable_yuan, purchased_energy_gj, cost, profit, share_percent(profit, receivable_yuan, MARGIN_QUANTUM)
    )


@dataclass(frozen=True)
class PricePeriod:
    """The purchase price in force from ``first_day`` to ``last_day`` (both included)."""

    first_day: date
    last_day: date
    price_yuan_per_gj: Decimal


def price_periods(changes: Sequence[tuple[date, Decimal]], first_day: date, last_day: date) -> list[PricePeriod]:
    """Split a season's days at the price changes (effective day, price; in the order recorded).

    The earliest price also covers the season's days before it (a season's price is set for the
    whole season; a later change applies from its day). Of two changes on one day the later
    recorded wins. No change at all: no period (the cost is then unknown, not zero)."""
    by_day: dict[date, Decimal] = {}
    for effective_on, price in changes:
        by_day[max(effective_on, first_day)] = price
    starts = sorted(day for day in by_day if day <= last_day)
    if not starts:
        return []
    periods = []
    for index, start in enumerate(starts):
        end = last_day if index + 1 == len(starts) else starts[index + 1] - timedelta(days=1)
        periods.append(PricePeriod(first_day if index == 0 else start, end, by_day[start]))
    return periods


def purchase_cost_yuan(energy_by_period_gj: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """The exact cost of heat bought at several prices: Σ GJ × 元/GJ (rounded by the caller)."""
    return sum((energy * price for energy, price in energy_by_period_gj), ZERO)


# -- who pays more, who pays less -----------------------------------------------------------------


@dataclass(frozen=True)
class FeeComparison:
    """Households whose metered fee is below (``paying_less``), above (``paying_more``) or equal to
    their area fee, with their shares of the households compared (%, 2 decimals) and the sums of
    the differences (元: what those paying less save, what those paying more pay on top)."""

    households: int
    paying_less: int
    paying_more: int
    paying_the_same: int
    paying_less_percent: Decimal | None
    paying_more_percent: Decimal | None
    saved_yuan: Decimal
    extra_yuan: Decimal
    metered_fee_yuan: Decimal
    area_fee_yuan: Decimal


def compare_fees(fees: Iterable[tuple[Decimal, Decimal]]) -> FeeComparison:
    """Compare each household's (metered fee, area fee)."""
    less = more = same = 0
    saved = extra = metered_total = area_total = ZERO
    for metered, area in fees:
        metered_total += metered
        area_total += area
        if metered < area:
            less, saved = less + 1, saved + (area - metered)
        elif metered > area:
            more, extra = more + 1, extra + (metered - area)
        else:
            same += 1
    count = less + more + same
    return FeeComparison(
        count,
        less,
        more,
        same,
        share_percent(less, count),
        share_percent(more, count),
        saved,
        extra,
        metered_total,
        area_total,
    )


# -- network heat loss ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatLoss:
    """A feeding meter against the meters it feeds: the heat lost between them (GJ, exact), as a
    share of the fed heat (%, 1 decimal; None when the feeding meter measured nothing), and whether
    that share is above the threshold."""

    fed_energy_gj: Decimal
    delivered_energy_gj: Decimal
    loss_gj: Decimal
    loss_percent: Decimal | None
    flagged: bool


def heat_loss(fed_energy_gj: Decimal, delivered_energy_gj: Decimal, threshold_percent: Decimal) -> HeatLoss:
    """11,301.7 GJ at the substation, 10,770.7 GJ at the households: 531 GJ, 4.7 %."""
    loss = fed_energy_gj - delivered_energy_gj
    percent = share_percent(loss, fed_energy_gj, MARGIN_QUANTUM) if fed_energy_gj > 0 else None
    # Flag on the exact share, not the rounded one: 4.96 % is above a 4.95 % threshold.
    flagged = fed_energy_gj > 0 and loss * HUNDRED > threshold_percent * fed_energy_gj
    return HeatLoss(fed_energy_gj, delivered_energy_gj, loss, percent, flagged)


def heat_losses(energies_gj: Iterable[tuple[Decimal, Decimal]], threshold_percent: Decimal) -> list[HeatLoss]:
    """``heat_loss`` of each (fed, delivered) pair, the same figures at a fraction of the calls (a
    city's heat-loss report has one per building and day: 317,000 at 100,000 households)."""
    found: list[HeatLoss] = []
    append, quantize = found.append, Decimal.quantize
    for fed, delivered in energies_gj:
        loss = fed - delivered
        if fed > 0:
            append(
                HeatLoss(
                    fed,
                    delivered,
                    loss,
                    quantize(loss * HUNDRED / fed, MARGIN_QUANTUM, rounding=ROUND_HALF_UP),
                    loss * HUNDRED > threshold_percent * fed,
                )
            )
        else:
            append(HeatLoss(fed, delivered, loss, None, False))
    return found


# -- position fairness ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FlatUse:
    """One flat's season: its position (a key such as ``top/west_end``), heat, area, and the
    coefficient the tariff's table gives its position."""

    position: str
    energy_gj: Decimal
    area_m2: Decimal
    table_coefficient: Decimal


@dataclass(frozen=True)
class PositionFairness:
    """A position's heat per m² against the tariff's coefficient: the coefficient the data suggests
    (3 decimals), the spread of its flats' own coefficients (population standard deviation,
    3 decimals; 0 for one flat) and the number of flats behind it."""

    position: str
    flats: int
    energy_gj: Decimal
    area_m2: Decimal
    unit_consumption_gj_per_m2: Decimal | None
    table_coefficient: Decimal
    suggested_coefficient: Decimal | None
    spread: Decimal | None


def position_fairness(flats: Sequence[FlatUse]) -> list[PositionFairness]:
    """The coefficients the data suggests per position, in the table's scale.

    A position's suggested coefficient is its heat per m² times a factor that keeps the
    area-weighted mean coefficient of these flats what the table gives them:
    factor = Σ(area × table coefficient) / Σ heat. So a city whose positions use heat exactly in
    the table's proportions gets the table back, whatever its overall level of consumption."""
    total_energy = sum((flat.energy_gj for flat in flats), ZERO)
    weighted_table = sum((flat.area_m2 * flat.table_coefficient for flat in flats), ZERO)
    factor = weighted_table / total_energy if total_energy > 0 else None
    groups: dict[str, list[FlatUse]] = {}
    for flat in flats:
        groups.setdefault(flat.position, []).append(flat)
    return [_position_row(position, members, factor) for position, members in sorted(groups.items())]


def _position_row(position: str, members: list[FlatUse], factor: Decimal | None) -> PositionFairness:
    energy = sum((flat.energy_gj for flat in members), ZERO)
    area = sum((flat.area_m2 for flat in members), ZERO)
    suggested = spread = None
    if factor is not None and area > 0:
        suggested = rounded(energy / area * factor, COEFFICIENT_QUANTUM)
        own = [flat.energy_gj / flat.area_m2 * factor for flat in members if flat.area_m2 > 0]
        spread = rounded(standard_deviation(own), COEFFICIENT_QUANTUM)
    return PositionFairness(
        position,
        len(members),
        energy,
        area,
        unit_consumption_gj_per_m2(energy, area),
        members[0].table_coefficient,
        suggested,
        spread,
    )


def standard_deviation(values: Sequence[Decimal]) -> Decimal:
    """The population standard deviation (0 for fewer than two values)."""
    if len(values) < 2:
        return ZERO
    mean = sum(values, ZERO) / len(values)
    return (sum(((value - mean) ** 2 for value in values), ZERO) / len(values)).sqrt()
