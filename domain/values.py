"""Value objects and enumerations shared by the aggregates.

Event payloads carry the enumerations as their plain string values (the event store gives a
``StrEnum`` back as ``str``); aggregates turn them back into members when they apply an event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from domain.errors import InvalidInputError


class CustomerClass(StrEnum):
    """Who the household is, for the tariff: residential or not."""

    RESIDENTIAL = "residential"
    NON_RESIDENTIAL = "non_residential"


class VerticalPosition(StrEnum):
    """Where a flat sits in the height of its building (domain.md §7)."""

    TOP = "top"
    MIDDLE = "middle"
    BOTTOM = "bottom"


class HorizontalPosition(StrEnum):
    """Where a flat sits along its floor. End flats lose heat through the gable wall.

    West and east ends are kept apart because the source's coefficients differ between them.
    """

    WEST_END = "west_end"
    MIDDLE = "middle"
    EAST_END = "east_end"


class FlowSensorSide(StrEnum):
    """The pipe the flow sensor sits in; it decides which specific volume the heat coefficient uses."""

    FLOW = "flow"
    RETURN = "return"


class MeterKind(StrEnum):
    """What a meter measures: one flat, a whole building, or a substation's primary side."""

    HOUSEHOLD = "household"
    BUILDING = "building"
    SUBSTATION_PRIMARY = "substation_primary"


class ReadingSource(StrEnum):
    """How a reading reached the ledger."""

    MBUS = "mbus"
    NBIOT = "nbiot"
    MODBUS = "modbus"
    MANUAL = "manual"
    ESTIMATE = "estimate"


class AccuracyClass(StrEnum):
    """Heat-meter accuracy class per EN 1434 / GB/T 32224."""

    CLASS_1 = "1"
    CLASS_2 = "2"
    CLASS_3 = "3"


# Longest names the ledger keeps (the read models' column widths follow them).
MAXIMUM_NAME_LENGTH = 128
MAXIMUM_CODE_LENGTH = 64


def bounded_text(value: str, field: str, maximum: int, required: bool = True) -> str:
    """``value`` stripped; InvalidInputError when it is blank (if required) or longer than ``maximum``."""
    text = value.strip()
    if (required and not text) or len(text) > maximum:
        lower = 1 if required else 0
        raise InvalidInputError(
            f"{field} must have {lower} to {maximum} characters",
            message_key="text_length",
            field=field,
            minimum=lower,
            maximum=maximum,
        )
    return text


# An account number (户号) is a key that travels in URL paths, file names and SMS: ASCII letters
# and digits, CJK ideographs (U+3400–U+4DBF, U+4E00–U+9FFF), "-", "_" and "."; it starts with a
# letter, digit or ideograph, so it is never "." or "..". No "/", spaces, control characters or emoji.
ACCOUNT_NUMBER_PATTERN = r"^[0-9A-Za-z\u3400-\u4DBF\u4E00-\u9FFF][0-9A-Za-z\u3400-\u4DBF\u4E00-\u9FFF._-]*$"
_ACCOUNT_NUMBER = re.compile(ACCOUNT_NUMBER_PATTERN)


def valid_account_number(value: str) -> str:
    """``value`` if it is an account number the ledger takes (``ACCOUNT_NUMBER_PATTERN``, 1 to 64
    characters); InvalidInputError ``account_number_invalid`` otherwise."""
    if len(value) > MAXIMUM_CODE_LENGTH or not _ACCOUNT_NUMBER.fullmatch(value):
        raise InvalidInputError(
            "an account number has 1 to 64 letters, digits, CJK characters, '-', '_' or '.'",
            message_key="account_number_invalid",
            field="account_number",
            value=value,
        )
    return value


@dataclass(frozen=True)
class Address:
    """A flat's place in the network: community, building, unit entrance, floor, flat."""

    community: str
    building: str
    entrance: str
    floor: int
    flat: str


@dataclass(frozen=True)
class Position:
    """A flat's position in its building, which drives its position coefficient."""

    vertical: VerticalPosition
    horizontal: HorizontalPosition


@dataclass(frozen=True)
class CommandContext:
    """Who asked for a change, why, and the correlation id tying it to its request or batch."""

    actor: str
    reason: str
    correlation_id: UUID


@dataclass(frozen=True)
class Areas:
    """A household's connected (contracted) and actually heated floor area."""

    connected_area_m2: Decimal
    heated_area_m2: Decimal
