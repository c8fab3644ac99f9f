"""Building blocks shared by the schemas: exact decimals as JSON strings, receipts, limits."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from domain.errors import InvalidInputError
from domain.values import ACCOUNT_NUMBER_PATTERN, MAXIMUM_CODE_LENGTH, valid_account_number

# Bounds on free text; the read models store names in columns of these widths.
REASON_MAX_LENGTH = 500
KEY_MAX_LENGTH = 64
NAME_MAX_LENGTH = 128

# Fewest decimals shown per quantity; more are shown when the value has them, never fewer.
ENERGY_PLACES = 6
VOLUME_PLACES = 6
AREA_PLACES = 2
INSTANT_PLACES = 3
PERCENT_PLACES = 2


def decimal_text(value: Decimal, minimum_places: int) -> str:
    """A decimal as fixed-point text with at least ``minimum_places`` decimals, exactly.

    ``Decimal("1.25")`` → ``"1.250000"`` for six places; ``Decimal("0.000000001")`` keeps all nine.
    """
    assert value.is_finite(), "only finite decimals leave the API"
    # Every stored digit as fixed-point text, then trailing zeros trimmed down to the places asked:
    # string work on one formatting, 1.0 µs for a read model's 9-decimal value where normalizing
    # and formatting again took 2.5 µs, and a consumption answer writes about 300 of them (issue 17).
    integer, _, fraction = f"{value:f}".partition(".")
    if len(fraction) < minimum_places:
        fraction = fraction.ljust(minimum_places, "0")
    elif len(fraction) > minimum_places:
        fraction = fraction[:minimum_places] + fraction[minimum_places:].rstrip("0")
    return f"{integer}.{fraction}" if fraction else integer


def _exact(minimum_places: int) -> PlainSerializer:
    return PlainSerializer(lambda value: decimal_text(value, minimum_places), return_type=str, when_used="json")


EnergyText = Annotated[Decimal, _exact(ENERGY_PLACES)]
VolumeText = Annotated[Decimal, _exact(VOLUME_PLACES)]
AreaText = Annotated[Decimal, _exact(AREA_PLACES)]
InstantText = Annotated[Decimal, _exact(INSTANT_PLACES)]
PercentText = Annotated[Decimal, _exact(PERCENT_PLACES)]


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _iso_datetime_text(value: Any) -> Any:
    if isinstance(value, str | datetime):
        return value
    raise PydanticCustomError("datetime_type", "Input should be an ISO 8601 time such as 2025-11-01T08:00:00+08:00")


# A moment is ISO 8601 text too: pydantic alone read the number 0 as 1970-01-01T00:00:00Z.
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_datetime_text)]
# A whole number sent as a JSON number: not "5", 5.0 or true, which pydantic alone would take.
WholeNumber = Annotated[int, Strict()]


# A time that must carry its zone; the ledger stores it in UTC.
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime_text), AfterValidator(_in_utc)]

# A business date is written as an ISO 8601 calendar date and nothing else: pydantic alone would
# also read 0 or "86400" as a Unix time (1970-01-01, 1970-01-02), so `as_of=0` was a date.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_text(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # already a date: a default, or a caller in Python
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise PydanticCustomError("iso_date", "Input should be an ISO 8601 date such as 2025-11-01")


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]


# A season code is the year it starts and the next: 2025-2026. The pattern cannot say "the next".
SEASON_CODE_PATTERN = r"^[0-9]{4}-[0-9]{4}$"


def _consecutive_years(code: str) -> str:
    first, _, second = code.partition("-")
    if int(second) != int(first) + 1:
        raise PydanticCustomError(
            "season_code", "A season code is a year and the next, such as 2025-2026", {"value": code}
        )
    return code


SeasonCode = Annotated[str, StringConstraints(pattern=SEASON_CODE_PATTERN), AfterValidator(_consecutive_years)]


def _account_number_text(value: str) -> str:
    try:
        return valid_account_number(value)
    except InvalidInputError:
        raise PydanticCustomError(
            "account_number", "Input should be letters, digits, CJK characters, '-', '_' or '.'", {"value": value}
        ) from None


AccountNumber = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAXIMUM_CODE_LENGTH,
        json_schema_extra={"pattern": ACCOUNT_NUMBER_PATTERN},
        description="The household's account number (户号): ASCII letters and digits, CJK characters, "
        "`-`, `_` and `.`, starting with a letter, digit or CJK character",
        examples=["WZ-0001"],
    ),
    AfterValidator(_account_number_text),
]

Reason = Annotated[str, Field(min_length=1, max_length=REASON_MAX_LENGTH, description="Why: recorded on the event")]
OptionalReason = Annotated[
    str | None,
    Field(default=None, min_length=1, max_length=REASON_MAX_LENGTH, description="Why (a default is used if absent)"),
]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused, so a misspelt optional field is not silently lost."""

    model_config = ConfigDict(extra="forbid")


class CommandReceipt(BaseModel):
    """A command the ledger recorded; the correlation id is on every event it caused."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"correlation_id": "0b7f3c1e-5d7a-4a51-9f0e-2f1f0a6f4c11"}]}
    )

    correlation_id: UUID
