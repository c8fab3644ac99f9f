"""Position coefficients (户间传热): relative heat demand of a flat by its place in the building.

The source's model for a six-floor block with four flats a floor (domain.md §7): top and bottom
floors and gable ends need more heat than inner flats.
"""

from __future__ import annotations

from decimal import Decimal

from domain.values import HorizontalPosition, Position, VerticalPosition

SOURCE_COEFFICIENTS: dict[tuple[VerticalPosition, HorizontalPosition], Decimal] = {
    (VerticalPosition.TOP, HorizontalPosition.WEST_END): Decimal("1.518"),
    (VerticalPosition.TOP, HorizontalPosition.MIDDLE): Decimal("1.028"),
    (VerticalPosition.TOP, HorizontalPosition.EAST_END): Decimal("1.446"),
    (VerticalPosition.MIDDLE, HorizontalPosition.WEST_END): Decimal("0.970"),
    (VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE): Decimal("0.687"),
    (VerticalPosition.MIDDLE, HorizontalPosition.EAST_END): Decimal("0.924"),
    (VerticalPosition.BOTTOM, HorizontalPosition.WEST_END): Decimal("1.150"),
    (VerticalPosition.BOTTOM, HorizontalPosition.MIDDLE): Decimal("0.816"),
    (VerticalPosition.BOTTOM, HorizontalPosition.EAST_END): Decimal("1.096"),
}


def position_coefficient(position: Position) -> Decimal:
    """The source's coefficient for a flat's position."""
    return SOURCE_COEFFICIENTS[(VerticalPosition(position.vertical), HorizontalPosition(position.horizontal))]
