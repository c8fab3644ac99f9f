"""A record's history: its events in order, each with when, who, why and a summary in words."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue
from pydantic_core import PydanticCustomError

from application.history import HistoryEntry, plain

# A moment in a query is ISO 8601 text with a date and a time: pydantic alone reads "0.5" as a
# Unix time (1970-01-01T00:00:00.5Z).
_ISO_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}.*")


def _iso_moment_text(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_MOMENT.fullmatch(value)):
        return value
    raise PydanticCustomError("datetime_type", "Input should be an ISO 8601 time such as 2025-11-01T08:00:00+08:00")


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# A moment with its zone, given as ISO 8601 text in a query, held in UTC.
QueryMoment = Annotated[AwareDatetime, BeforeValidator(_iso_moment_text), AfterValidator(_in_utc)]


class HistoryEvent(BaseModel):
    """One event of the record, as the ledger recorded it."""

    version: int = Field(description="The event's place in the record's stream (1 for the first)")
    event_type: str = Field(description="The event's class, a stable name such as `ReadingRecorded`")
    recorded_at: datetime = Field(description="When the ledger learned it (the event's own timestamp, UTC)")
    happened_at: datetime | None = Field(
        description="When it happened in the world, as the event carries it (a reading's `measured_at`, "
        "an attachment's `attached_at`…); null when it carries no moment"
    )
    effective_on: date | None = Field(
        description="The business day it took effect (`effective_on`, `issued_on`, `received_on`…); "
        "null when it carries no day"
    )
    actor: str = Field(description="Who caused it: the name of the caller's token, or `system`")
    reason: str = Field(description="Why, as the caller gave it; `***` when masked for this reader")
    correlation_id: UUID | None = Field(description="The request or batch that caused it (and its siblings)")
    summary: str = Field(description="The event in one line, in the caller's language")
    details: dict[str, JsonValue] = Field(
        description="The rest of the event's payload: decimals as exact text, times as ISO 8601; "
        "a masked field reads `***`"
    )
    masked_fields: list[str] = Field(description="The fields (in `details` or `reason`) hidden from this reader")

    @classmethod
    def from_entry(cls, entry: HistoryEntry, summary: str) -> HistoryEvent:
        details: dict[str, Any] = plain(entry.details)
        return cls(
            version=entry.version,
            event_type=entry.event_type,
            recorded_at=entry.recorded_at,
            happened_at=entry.happened_at,
            effective_on=entry.effective_on,
            actor=entry.actor,
            reason=entry.reason,
            correlation_id=entry.correlation_id,
            summary=summary,
            details=details,
            masked_fields=list(entry.masked_fields),
        )


class HistoryPage(BaseModel):
    """A page of a record's history, oldest event first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "household",
                    "key": "WZ-0001",
                    "language": "zh",
                    "limit": 100,
                    "next_cursor": None,
                    "items": [
                        {
                            "version": 1,
                            "event_type": "Registered",
                            "recorded_at": "2025-10-01T01:02:03.456789Z",
                            "happened_at": None,
                            "effective_on": "2025-10-01",
                            "actor": "clerk-wang",
                            "reason": "registration",
                            "correlation_id": "0b7e7f7a-9a53-4d8e-8a43-1e0f6a1c2d3e",
                            "summary": "开户：碧桂园1号楼1单元6层601室，建筑面积 98.50 m²，供热面积 90.00 m²，"
                            "居民，2025-10-01 起",
                            "details": {
                                "account_number": "WZ-0001",
                                "community": "碧桂园",
                                "building": "1",
                                "entrance": "1",
                                "floor": 6,
                                "flat": "601",
                                "connected_area_m2": "98.50",
                                "heated_area_m2": "90.00",
                                "customer_class": "residential",
                                "vertical_position": "top",
                                "horizontal_position": "west_end",
                                "registered_on": "2025-10-01",
                            },
                            "masked_fields": [],
                        }
                    ],
                }
            ]
        }
    )

    kind: str = Field(description="`household`, `meter`, `bill`, `tariff` or `payment`")
    key: str = Field(description="The record's key as in the path")
    language: str = Field(description="The language of the summaries: `zh` or `en`")
    limit: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null when no event follows. A page may hold fewer "
        "than `limit` events (filters skipped many): follow the cursor until it is null"
    )
    items: list[HistoryEvent]
