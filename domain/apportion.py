"""Exact-sum apportioning by the largest-remainder rule.

Whenever an amount is shared (energy across days, a building's heat across flats, money across
charges) the parts must add up to the whole: no unit lost, none created.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal


def quantum_of(amount: Decimal) -> Decimal:
    """The smallest unit ``amount`` is expressed in (0.001 for 1.234, 1 for 12)."""
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int), "amount must be finite"
    return Decimal(1).scaleb(min(exponent, 0))


def apportion(total: Decimal, weights: Sequence[Decimal], quantum: Decimal | None = None) -> list[Decimal]:
    """Share ``total`` in proportion to ``weights`` in whole multiples of ``quantum``.

    Each part gets the floor of its exact share; the units left over go one each to the parts
    with the largest remainders (ties to the earlier part). The parts always sum to ``total``.
    ``quantum`` defaults to the finest unit ``total`` is written in, which always divides it.
    Negative totals are shared as the negation of the positive share.
    """
    if not weights:
        raise ValueError("apportion needs at least one weight")
    if any(weight < 0 for weight in weights):
        raise ValueError("weights must not be negative")
    if total < 0:
        return [-part for part in apportion(-total, weights, quantum)]
    unit = quantum if quantum is not None else quantum_of(total)
    if not unit.is_finite() or unit <= 0:
        raise ValueError(f"the quantum must be positive, not {unit}")
    units_total = total / unit
    if units_total != units_total.to_integral_value():
        raise ValueError(f"total {total} is not a whole multiple of {unit}")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        # Nothing to weigh by: share equally rather than divide by zero.
        return apportion(total, [Decimal(1)] * len(weights), unit)
    exact = [units_total * weight / weight_sum for weight in weights]
    floors = [share.to_integral_value(rounding=ROUND_FLOOR) for share in exact]
    leftover = int(units_total - sum(floors, Decimal(0)))
    by_remainder = sorted(range(len(weights)), key=lambda index: (-(exact[index] - floors[index]), index))
    for index in by_remainder[:leftover]:
        floors[index] += 1
    parts = [units * unit for units in floors]
    assert sum(parts, Decimal(0)) == total, "apportioned parts must sum to the total"
    return parts
