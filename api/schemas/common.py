"""Building blocks shared by the schemas: exact decimals as JSON strings, receipts, limits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

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
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    places = max(minimum_places, -exponent)
    return f"{value:.{places}f}"


def _exact(minimum_places: int) -> PlainSerializer:
    return PlainSerializer(lambda value: decimal_text(value, minimum_places), return_type=str, when_used="json")


EnergyText = Annotated[Decimal, _exact(ENERGY_PLACES)]
VolumeText = Annotated[Decimal, _exact(VOLUME_PLACES)]
AreaText = Annotated[Decimal, _exact(AREA_PLACES)]
InstantText = Annotated[Decimal, _exact(INSTANT_PLACES)]
PercentText = Annotated[Decimal, _exact(PERCENT_PLACES)]


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# A time that must carry its zone; the ledger stores it in UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]

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
