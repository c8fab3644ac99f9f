"""Transcodings for payload and state types the event store does not know by itself.

Enumerations need none: every one of ours is a StrEnum, which JSON writes as the string it is
and gives back as a plain str; events carry values and aggregates turn them back into members.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.readings import Attachment, MeteredInterval, RememberedReading
from domain.values import (
    Address,
    Areas,
    Position,
)
from domain.verification import JudgedPoint


class DateAsISO(Transcoding):
    """A calendar date as its ISO text."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """A frozen dataclass as a dict of its fields, named after its class.

    Renaming a dataclass or a field changes stored data: add an upcaster when that happens.
    """

    def __init__(self, dataclass_type: type[Any]) -> None:
        self.type = dataclass_type
        self.name = f"dc_{dataclass_type.__name__}"
        self.field_names = [field.name for field in fields(dataclass_type)]

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self.field_names}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


DATACLASSES: tuple[type[Any], ...] = (
    Address,
    Areas,
    Attachment,
    JudgedPoint,
    MeteredInterval,
    Position,
    RememberedReading,
)


# Transcodings added by the process before the ledger starts (the tests add freezegun's FakeDatetime).
_extra_transcodings: list[Transcoding] = []


def add_transcoding(transcoding: Transcoding) -> None:
    """Have every ledger built from now on register ``transcoding`` too."""
    _extra_transcodings.append(transcoding)


def register_ledger_transcodings(transcoder: JSONTranscoder) -> None:
    """Register every type the ledger's events and snapshots carry."""
    transcoder.register(DateAsISO())
    for transcoding in _extra_transcodings:
        transcoder.register(transcoding)
    for dataclass_type in DATACLASSES:
        transcoder.register(DataclassAsDict(dataclass_type))
