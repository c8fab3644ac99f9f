"""The ledger's transcoder, encoding faster: the same bytes as the library's JSON encoding.

The library encodes an event's state with ``json.JSONEncoder`` (compact separators, no ASCII
escaping) and a ``default`` hook: for every Decimal, datetime, UUID and dataclass the C encoder
calls back into Python, the hook looks the transcoding up, builds a ``{"_type_", "_data_"}`` dict,
and the C encoder encodes that dict. A reading event holds about forty such values (its intervals
are dataclasses holding more), so half of its encoding was those round trips (31 µs an event).

``FastEncodingTranscoder.encode`` writes the same text directly for the types the ledger's events
are made of: str (and str subclasses such as our StrEnums, which JSON writes as their text), None,
bools, ints, lists, tuples, dicts with text keys, and exactly the library's Decimal, datetime and
UUID transcodings and the ledger's dataclass transcodings; any other registered transcoding is
written as the library writes it (its name and its encoded data). Anything else (a float, an int
or list subclass, a dict with other keys, an unregistered type) makes it encode the whole state
with the library's encoder instead, so the bytes are always the library's (a hypothesis property
in tests/unit/application/test_event_encoding.py compares them).

An event's state and a dataclass are written by a function made once per sequence of keys and of
value types (``_compiled``: one f-string, as dataclasses make their ``__init__``), since an event
class's states come in a handful of such shapes; a reading event's encoding 0.74-0.76 of the
previous writer's CPU, which wrote value after value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from json.encoder import encode_basestring
from operator import attrgetter
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, Transcoding, UUIDAsHex

from application.transcodings import DataclassAsDict, LedgerTranscoder

Parts = list[str]
# What JSON writes by itself (before asking the default hook), subclasses included.
_JSON_NATIVE = (str, int, float, list, tuple, dict, type(None))


# The text of a dict key as JSON writes it, with its colon, by key (field names, mostly): bounded,
# since a state may also hold dicts with keys of any kind.
_KEY_TEXTS: dict[str, str] = {}
_KEY_TEXTS_MAXIMUM = 4096


def _key_text(key: str) -> str:
    text = encode_basestring(key) + ":"
    if len(_KEY_TEXTS) < _KEY_TEXTS_MAXIMUM:
        _KEY_TEXTS[key] = text
    return text


class _LibraryEncodes(Exception):
    """A value the fast path does not write itself: the library's encoder writes the whole state."""


# The data of the library's transcodings whose data is text JSON does not escape (digits, letters
# and punctuation: a Decimal's str, a UUID's hex, a datetime's ISO text).
_TEXT_OF: dict[type[Transcoding], Callable[[Any], str]] = {
    DecimalAsStr: str,
    UUIDAsHex: lambda value: value.hex,
    DatetimeAsISO: datetime.isoformat,
}


def _opening(name: str) -> str:
    return '{"_type_":' + encode_basestring(name) + ',"_data_":'


class FastEncodingTranscoder(LedgerTranscoder):
    """``LedgerTranscoder`` (the library's stored form, faster decoding) with the faster encoding
    described in the module's docstring."""

    def __init__(self) -> None:
        # type → how to write a value of it (registered transcodings only; exact types).
        self._writers: dict[type, Callable[[Any, Parts], None]] = {}
        # Whether a Decimal is the library's DecimalAsStr (written inline: the commonest value).
        self._decimal_as_text = False
        # type → (the text before its data, its data's text) for the library's transcodings whose
        # data is unescaped text (Decimal, UUID, datetime): written with their key in one piece.
        self._texts: dict[type, tuple[str, Callable[[Any], str]]] = {}
        # (prefixes, the values' types) → a writer of such values made for them (``_compiled``).
        self._compiled: dict[tuple[tuple[str, ...], tuple[type, ...]], Callable[..., str]] = {}
        super().__init__()

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self._compiled.clear()  # the writers made so far may write this type otherwise
        if transcoding.type is Decimal:
            self._decimal_as_text = type(transcoding) is DecimalAsStr
        if not issubclass(transcoding.type, _JSON_NATIVE):  # JSON writes those itself, unasked
            self._writers[transcoding.type] = self._writer_of(transcoding)
            self._texts.pop(transcoding.type, None)
            if type(transcoding) in _TEXT_OF:
                self._texts[transcoding.type] = (_opening(transcoding.name) + '"', _TEXT_OF[type(transcoding)])

    def encode(self, obj: Any) -> bytes:
        parts: Parts = []
        try:
            if type(obj) is dict and obj:
                self._write_state(obj, parts)
            else:
                self._write(obj, parts)
        except _LibraryEncodes:
            return super().encode(obj)
        return "".join(parts).encode("utf8")

    def _write_state(self, state: dict[Any, Any], parts: Parts) -> None:
        """An event's state (a dict): its keys' texts, with the separator before each, are made
        once per distinct sequence of keys (an event class's fields: a few dozen in all), and the
        values are written after them by a writer made for their types (``_written``)."""
        shape = tuple(state)
        prefixes = _STATE_PREFIXES.get(shape)
        if prefixes is None:
            prefixes = _state_prefixes(shape)
        parts.append(self._written(prefixes, tuple(state.values())))
        parts.append("}")

    def _written(self, prefixes: tuple[str, ...], values: tuple[Any, ...]) -> str:
        """The prefixes, each followed by its value's JSON text, by a writer made for values of
        these types after these prefixes (an event class's states are alike: a handful in all)."""
        key = (prefixes, tuple(map(type, values)))
        writer = self._compiled.get(key)
        if writer is None:
            writer = _compiled(key[0], key[1], self._texts, self._write_text)
            if len(self._compiled) < _COMPILED_MAXIMUM:
                self._compiled[key] = writer
        return writer(*values)

    def _write_text(self, value: Any) -> str:
        """A value's JSON text, written by ``_write_value``."""
        parts: Parts = []
        _write_value(value, parts, self._writers, self._decimal_as_text)
        return "".join(parts)

    def _writer_of(self, transcoding: Transcoding) -> Callable[[Any, Parts], None]:
        """How a value of ``transcoding``'s type is written: as ``{"_type_": name, "_data_": data}``."""
        kind, opening = type(transcoding), _opening(transcoding.name)
        if kind is DecimalAsStr or kind is UUIDAsHex or kind is DatetimeAsISO:
            text_of = _TEXT_OF[kind]
            quoted = opening + '"'

            def write_text(value: Any, parts: Parts) -> None:
                parts.append(quoted + text_of(value) + '"}')

            return write_text
        if kind is DataclassAsDict:
            assert isinstance(transcoding, DataclassAsDict)
            names = transcoding.field_names
            if not names:
                return lambda value, parts: parts.append(opening + "{}}")
            # The first field's key opens the object; each later one follows a comma.
            prefixes = (opening + "{" + _key_text(names[0]), *("," + _key_text(name) for name in names[1:]))
            read = attrgetter(*names) if len(names) > 1 else lambda value: (getattr(value, names[0]),)

            def write_dataclass(value: Any, parts: Parts) -> None:
                parts.append(self._written(prefixes, read(value)))
                parts.append("}}")

            return write_dataclass

        def write_transcoded(value: Any, parts: Parts) -> None:
            parts.append(opening)
            self._write(transcoding.encode(value), parts)
            parts.append("}")

        return write_transcoded

    def _write(self, value: Any, parts: Parts) -> None:
        """Append the JSON text of ``value`` as the library's encoder writes it."""
        _write_value(value, parts, self._writers, self._decimal_as_text)


# The prefixes of states by their keys (see ``_write_state``): bounded, like the key texts.
_STATE_PREFIXES: dict[tuple[Any, ...], tuple[str, ...]] = {}
_STATE_PREFIXES_MAXIMUM = 1024


def _state_prefixes(shape: tuple[Any, ...]) -> tuple[str, ...]:
    """``{"key":`` for the first key, ``,"key":`` for the others; a key that is not text leaves
    the state to the library's encoder (JSON turns other keys into text its own way)."""
    if any(type(key) is not str for key in shape):
        raise _LibraryEncodes
    prefixes = ("{" + _key_text(shape[0]), *("," + _key_text(key) for key in shape[1:]))
    if len(_STATE_PREFIXES) < _STATE_PREFIXES_MAXIMUM:
        _STATE_PREFIXES[shape] = prefixes
    return prefixes


# Writers made per sequence of prefixes and of value types, at most (a bound on the memory).
_COMPILED_MAXIMUM = 1024


def _compiled(
    prefixes: tuple[str, ...],
    kinds: tuple[type, ...],
    texts: dict[type, tuple[str, Callable[[Any], str]]],
    write_text: Callable[[Any], str],
) -> Callable[..., str]:
    """A function of values of ``kinds`` returning the prefixes each followed by its value's JSON
    text in one f-string, as dataclasses make their ``__init__``: text, None, bools, ints and the
    decimals, UUIDs and datetimes of ``texts`` are written in it directly (as ``_write_value``
    writes them), anything else by ``write_text`` (which raises ``_LibraryEncodes`` for what the
    library's encoder must write). Only names go into the source; every text is a constant."""
    namespace: dict[str, Any] = {
        "_e": encode_basestring,
        "_r": int.__repr__,
        "_w": write_text,
        "_true": "true",
        "_false": "false",
    }
    pieces = []
    for index, (prefix, kind) in enumerate(zip(prefixes, kinds, strict=True)):
        namespace[f"_p{index}"] = prefix
        value = f"v{index}"
        if kind is str:
            written = f"{{_e({value})}}"
        elif kind is type(None):
            written = "null"
        elif kind is bool:
            written = f"{{_true if {value} else _false}}"
        elif kind is int:
            written = f"{{_r({value})}}"
        elif kind in texts:
            namespace[f"_o{index}"], namespace[f"_t{index}"] = texts[kind]
            written = f'{{_o{index}}}{{_t{index}({value})}}"}}}}'
        else:
            written = f"{{_w({value})}}"
        pieces.append(f"{{_p{index}}}{written}")
    arguments = ", ".join(f"v{index}" for index in range(len(prefixes)))
    source = f"def write({arguments}):\n    return f'{''.join(pieces)}'\n"
    exec(source, namespace)  # names and constants only, see above
    writer: Callable[..., str] = namespace["write"]
    return writer


def _write_value(
    value: Any, parts: Parts, writers: dict[type, Callable[[Any, Parts], None]], decimal_as_text: bool
) -> None:
    """Append the JSON text of ``value`` (one function, recursing into lists and dicts: a method
    per kind cost a fifth more than the library's hook)."""
    kind = type(value)
    if kind is str:
        parts.append(encode_basestring(value))
    elif kind is Decimal and decimal_as_text:
        parts.append('{"_type_":"decimal_str","_data_":"' + str(value) + '"}')
    elif kind is datetime:
        writer = writers.get(kind)
        if writer is None:
            raise _LibraryEncodes
        writer(value, parts)
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif kind is int:
        parts.append(int.__repr__(value))
    elif kind is list or kind is tuple:
        if not value:
            parts.append("[]")
            return
        separator = "["
        for item in value:
            parts.append(separator)
            _write_value(item, parts, writers, decimal_as_text)
            separator = ","
        parts.append("]")
    elif kind is dict:
        if not value:
            parts.append("{}")
            return
        separator = "{"
        for key, item in value.items():
            if type(key) is not str:
                raise _LibraryEncodes  # JSON turns other keys into text its own way
            key_text = _KEY_TEXTS.get(key)
            if key_text is None:
                key_text = _key_text(key)
            parts.append(separator + key_text)
            _write_value(item, parts, writers, decimal_as_text)
            separator = ","
        parts.append("}")
    else:
        writer = writers.get(kind)
        if writer is not None:
            writer(value, parts)
        elif isinstance(value, str):
            parts.append(encode_basestring(value))  # a str subclass (our StrEnums) is its text
        else:
            # Floats, subclasses of int, list, tuple or dict, and unregistered types (the library
            # raises its own error for those) are left to the library's encoder.
            raise _LibraryEncodes
