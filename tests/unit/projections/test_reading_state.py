"""The stored shape of a reading event both msgspec decoders share (projections/reading_state.py):
a datetime the transcoder wrote parses to what the transcoder's decoding makes of it (or is refused,
and the mapper decodes it), and a transcoder decoding otherwise turns both fast paths off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

from application.transcodings import LedgerTranscoder, register_ledger_transcodings
from projections.reading_state import Time, decodes_as_registered, fast_versions, uuid_decoder


def ledger_transcoder() -> LedgerTranscoder:
    transcoder = LedgerTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):  # the library's, as the ledger's
        transcoder.register(transcoding)
    register_ledger_transcodings(transcoder)
    return transcoder


class PlainMapper:
    def __init__(self, transcoder: Any) -> None:
        self.transcoder, self.cipher, self.compressor = transcoder, None, None


zones = st.one_of(
    st.just(UTC),
    st.integers(-14 * 3600, 14 * 3600).map(lambda seconds: timezone(timedelta(seconds=seconds))),
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
)


@given(st.datetimes(timezones=zones) | st.datetimes())
def test_a_stored_datetime_parses_as_the_transcoder_decodes_it_or_is_refused(moment: datetime) -> None:
    text = moment.isoformat()  # as DatetimeAsISO writes it
    stored = msgspec.json.encode({"_type_": "datetime_iso", "_data_": text})
    expected = datetime.fromisoformat(text)
    try:
        parsed = msgspec.json.decode(stored, type=Time).data
    except msgspec.ValidationError:
        return  # the state goes through the mapper
    assert parsed == expected
    assert repr(parsed) == repr(expected)  # the same zone object and digits


def test_the_ledger_transcoder_decodes_as_the_structs_do() -> None:
    transcoder = ledger_transcoder()
    assert decodes_as_registered(transcoder)
    assert fast_versions(PlainMapper(transcoder))
    decode = uuid_decoder(PlainMapper(transcoder))
    text = "6b5dd7d4831646208f3d896bdf72eefb"
    assert decode(text) is decode(text), "each text parsed once"


class NaiveDatetimeAsISO(DatetimeAsISO):
    """A datetime decoding that drops the zone: not what msgspec makes of the text."""

    def decode(self, data: str) -> datetime:
        return datetime.fromisoformat(data).replace(tzinfo=None)


def test_a_transcoder_decoding_datetimes_otherwise_turns_the_fast_paths_off() -> None:
    transcoder = ledger_transcoder()
    transcoder.register(NaiveDatetimeAsISO())
    assert not decodes_as_registered(transcoder)
    assert fast_versions(PlainMapper(transcoder)) == frozenset()
    assert not fast_versions(PlainMapper(object()))
