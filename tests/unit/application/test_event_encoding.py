"""The ledger's faster encoding writes exactly the bytes the library's JSON encoding writes (issue 17).

Stored events are hashed into the audit chain and read by every decoder the ledger has: the fast
path must not change a byte. Compared on random states of every kind the ledger's events hold (and
kinds it leaves to the library), on the events a meter's random history makes, and on failures.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from application.event_encoding import (
    _KEY_TEXTS,
    _KEY_TEXTS_MAXIMUM,
    _STATE_PREFIXES,
    _STATE_PREFIXES_MAXIMUM,
    FastEncodingTranscoder,
)
from application.ledger import HeatLedger
from domain.readings import Attachment, IntervalQuality, MeteredInterval, RememberedReading
from domain.values import ReadingSource
from tests.strategies import MEMORY_ENVIRONMENT, ReadingPlan, new_meter, reading_plans, record


def _transcoder() -> FastEncodingTranscoder:
    transcoder = HeatLedger(env=MEMORY_ENVIRONMENT).mapper.transcoder
    assert isinstance(transcoder, FastEncodingTranscoder)
    return transcoder


TRANSCODER = _transcoder()


def library_bytes(state: Any) -> bytes:
    """What the library's JSONTranscoder writes (the encoding every stored event has had)."""
    return super(FastEncodingTranscoder, TRANSCODER).encode(state)


class Flags(IntEnum):
    ONE = 1


decimals = st.decimals(allow_nan=True, allow_infinity=True) | st.decimals(places=9, max_value=10**9, min_value=-(10**9))
moments = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])) | st.datetimes()
texts = st.text() | st.sampled_from(['"quoted"', "back\\slash", "line\nbreak", "\x00\x1f\x7f", "碧桂园", "\u2028"])
optional_decimals = st.none() | decimals
intervals = st.builds(
    MeteredInterval,
    moments,
    moments,
    decimals,
    optional_decimals,
    st.none() | st.uuids(),
    optional_decimals,
    optional_decimals,
    optional_decimals,
    st.sampled_from(list(IntervalQuality)) | texts,
    texts,
)
remembered = st.builds(
    RememberedReading,
    moments,
    decimals,
    decimals,
    optional_decimals,
    optional_decimals,
    optional_decimals,
    optional_decimals,
    optional_decimals,
    texts,
    st.booleans(),
    st.booleans(),
    optional_decimals,
)
scalars = st.one_of(
    texts,
    st.sampled_from(list(ReadingSource)),
    st.none(),
    st.booleans(),
    st.integers(),
    decimals,
    moments,
    st.dates(),
    st.uuids(),
    intervals,
    remembered,
    st.builds(Attachment, st.uuids(), moments, st.none() | moments),
)
# Kinds the fast path hands to the library's encoder (its bytes are still the library's).
left_to_the_library = st.one_of(st.floats(), st.just(Flags.ONE))
values = st.recursive(
    scalars | left_to_the_library,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(texts, inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),
    max_leaves=15,
)


@given(state=st.dictionaries(texts, values, max_size=8))
def test_any_state_is_written_as_the_library_writes_it(state: dict[str, Any]) -> None:
    assert TRANSCODER.encode(state) == library_bytes(state)


def _stored_state(event: Any) -> dict[str, Any]:
    """The state the mapper encodes of an event (``Mapper.to_stored_event``)."""
    state = dict(vars(event))
    state.pop("originator_id")
    state.pop("originator_version")
    class_version = getattr(type(event), "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    return state


@given(plan=reading_plans())
def test_a_meters_events_are_written_as_the_library_writes_them(plan: ReadingPlan) -> None:
    meter = new_meter(energy_register_width_gj=plan.width_gj)
    meter.attach_to(uuid4(), datetime(2025, 10, 2, tzinfo=UTC), _context())
    for number in range(len(plan.arrivals)):
        record(meter, plan.reading_values(number))
    for event in meter.collect_events():
        state = _stored_state(event)
        assert TRANSCODER.encode(state) == library_bytes(state)


def _context() -> Any:
    from tests.strategies import context

    return context()


def test_an_unregistered_type_fails_as_in_the_library() -> None:
    class Unknown:
        pass

    with pytest.raises(TranscodingNotRegisteredError):
        TRANSCODER.encode({"value": [Unknown()]})
    with pytest.raises(TranscodingNotRegisteredError):
        library_bytes({"value": [Unknown()]})


def test_the_common_kinds_take_the_fast_path() -> None:
    """The fast path is taken, not only equal: a library encoder that fails is never reached."""
    state = {
        "when": datetime(2025, 11, 1, tzinfo=UTC),
        "on": date(2025, 11, 1),
        "energy": Decimal("1.50"),
        "id": UUID(int=7),
        "source": ReadingSource.NBIOT,
        "intervals": [
            MeteredInterval(
                datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 11, 2, tzinfo=UTC), Decimal(1), None, None
            )
        ],
    }
    fast = FastEncodingTranscoder()
    HeatLedger(env=MEMORY_ENVIRONMENT).register_transcodings(fast)
    fast.encoder = None  # type: ignore[assignment]  # the library's encoder is gone
    assert fast.encode(state) == library_bytes(state)


def test_keys_beyond_the_key_cache_are_written_alike() -> None:
    """Dict keys' texts are remembered up to a bound (a state may hold dicts of any keys): past
    it they are written as before, and the cache does not grow."""
    state = {f"key-{number}\u00e9\n": number for number in range(_KEY_TEXTS_MAXIMUM + 500)}
    assert TRANSCODER.encode(state) == library_bytes(state)
    assert TRANSCODER.encode(state) == library_bytes(state)  # the second time from the cache
    assert len(_KEY_TEXTS) <= _KEY_TEXTS_MAXIMUM


@given(
    keys=st.lists(st.integers() | texts | st.booleans() | st.none(), min_size=1, max_size=5),
    value=values,
)
def test_a_state_with_keys_that_are_not_text_is_written_as_the_library_writes_it(keys: list[Any], value: Any) -> None:
    """A state's keys are written from its shape (the sequence of its keys); a key that is not
    text (the library's JSON turns it into text its own way) leaves the state to the library."""
    state = dict.fromkeys(keys, value)
    assert TRANSCODER.encode(state) == library_bytes(state)


def test_shapes_beyond_the_shape_cache_are_written_alike() -> None:
    """States' key sequences are remembered up to a bound: past it they are written as before."""
    states = [{f"field-{number}": number, "same": Decimal("1.5")} for number in range(_STATE_PREFIXES_MAXIMUM + 50)]
    for state in states + states:
        assert TRANSCODER.encode(state) == library_bytes(state)
    assert len(_STATE_PREFIXES) <= _STATE_PREFIXES_MAXIMUM


@given(values=st.lists(values, min_size=1, max_size=6), again=st.lists(values, min_size=1, max_size=6))
def test_states_of_one_shape_with_values_of_other_types_are_written_alike(values: list[Any], again: list[Any]) -> None:
    """The writer made for a shape's value types is not used for values of other types: two
    states with the same keys, each written as the library writes it, twice (from the made writer)."""
    keys = [f"k{number}" for number in range(min(len(values), len(again)))]
    for state in (dict(zip(keys, values, strict=False)), dict(zip(keys, again, strict=False))) * 2:
        assert TRANSCODER.encode(state) == library_bytes(state)
