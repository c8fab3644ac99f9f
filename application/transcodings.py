"""Transcodings for payload and state types the event store does not know by itself.

Enumerations need none: every one of ours is a StrEnum, which JSON writes as the string it is
and gives back as a plain str; events carry values and aggregates turn them back into members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from domain.readings import Attachment, MeteredInterval, RememberedReading
from domain.values import (
    Address,
    Areas,
    Position,
)
from domain.valve import DeviceReport
from domain.valve_commands import ValveCommand
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


class LedgerTranscoder(JSONTranscoder):
    """The library's JSON transcoder, decoding faster: the same stored bytes, the same objects.

    Encoding is the library's own. Decoding calls, for each ``{"_type_", "_data_"}`` object, the
    registered transcoding's decoding directly: for the library's Decimal, datetime and UUID
    transcodings and ours of dates and dataclasses, the constructor their ``decode`` calls, one
    function call instead of three. A UUID's text is parsed once (a meter's readings repeat their
    batch's and household's ids). A reading event holds about ten such objects, so this is most
    of what decoding an event costs.
    """

    # Texts of UUIDs remembered at most (then forgotten all at once): a bound on the memory.
    MAXIMUM_REMEMBERED_UUIDS = 100_000

    def __init__(self) -> None:
        self._decoders: dict[str, Callable[[Any], Any]] = {}
        self._uuids: dict[str, UUID] = {}
        super().__init__()  # binds the decoder to ``_decode_obj`` below

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self._decoders[transcoding.name] = self._decoder_of(transcoding)

    def _decoder_of(self, transcoding: Transcoding) -> Callable[[Any], Any]:
        """What ``transcoding.decode`` does, as one call (exact types only: a subclass may differ)."""
        kind = type(transcoding)
        if kind is DecimalAsStr:
            return Decimal
        if kind is DatetimeAsISO:
            return datetime.fromisoformat
        if kind is DateAsISO:
            return date.fromisoformat
        if kind is UUIDAsHex:
            return self._uuid
        if kind is DataclassAsDict:
            dataclass_type = transcoding.type
            return lambda data: dataclass_type(**data)
        return transcoding.decode

    def _uuid(self, text: str) -> UUID:
        found = self._uuids.get(text)
        if found is None:
            if len(self._uuids) >= self.MAXIMUM_REMEMBERED_UUIDS:
                self._uuids.clear()
            found = self._uuids[text] = UUID(text)
        return found

    def value_decoder(self, name: str) -> Callable[[Any], Any] | None:
        """The function decoding gives a transcoded value of type ``name`` to (its ``_data_``),
        for a reader that parses the JSON itself and decodes only the fields it needs."""
        return self._decoders.get(name)

    def _decode_obj(self, d: dict[str, Any]) -> Any:
        # As the library's: only an object of exactly the two keys "_type_" and "_data_" is a
        # transcoded value; an unknown type name is an error.
        if len(d) != 2 or "_type_" not in d or "_data_" not in d:
            return d
        name = d["_type_"]
        try:
            decode = self._decoders[name]
        except KeyError:
            raise TranscodingNotRegisteredError(
                f"Data serialized with name '{name}' is not deserializable. "
                "Please register a custom transcoding for this type."
            ) from None
        return decode(d["_data_"])


DATACLASSES: tuple[type[Any], ...] = (
    Address,
    Areas,
    Attachment,
    DeviceReport,
    JudgedPoint,
    MeteredInterval,
    Position,
    RememberedReading,
    ValveCommand,
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
