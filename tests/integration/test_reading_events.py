"""The catch-up's reading decoder (projections/reading_events.py) builds the very events the
library's mapper builds, for every event of a varied store, on SQLite and PostgreSQL; states of
other shapes go through the mapper; and a projection caught up with it equals one caught up
through the mapper alone."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from eventsourcing.persistence import MapperDeserialisationError, Notification

from infrastructure.container import Container
from projections.ledger_projection import LedgerProjection
from projections.reading_events import READING_TOPIC, ReadingEventDecoder
from projections.runner import LARGE_BATCH_SIZE, ProjectionRunner
from tests.integration.test_implausible_heat import season  # noqa: F401  (the fixture `varied` builds on)
from tests.integration.test_reading_decoding import readings, varied  # noqa: F401
from tests.strategies import projection_rows


def every_event(container: Container) -> list[Notification]:
    return container.ledger.recorder.select_notifications(start=1, limit=100_000)


def same_event(made: Any, expected: Any) -> bool:
    """The same class and the same attributes, to the digits and the zones (repr; the order of
    ``__dict__`` aside: an upcaster appends its field, and no handler reads the order)."""
    return (
        type(made) is type(expected)
        and made.__dict__ == expected.__dict__
        and repr(sorted(made.__dict__.items())) == repr(sorted(expected.__dict__.items()))
    )


def test_every_event_decodes_as_the_mapper_decodes_it(varied: Container) -> None:  # noqa: F811
    mapper = varied.ledger.mapper
    decoder = ReadingEventDecoder(mapper)
    assert decoder.decodes, "the fast path is on for the ledger's plain JSON"
    stored = every_event(varied)
    made = decoder.decode_all(stored)
    expected = [mapper.to_domain_event(notification) for notification in stored]
    assert len(made) == len(expected)
    assert all(same_event(one, other) for one, other in zip(made, expected, strict=True))
    fast = [decoder.decode_reading(n) for n in stored if n.topic == READING_TOPIC]
    assert fast and None not in fast, "every reading of the store takes the fast path"
    assert any(event.replaced_interval_start is not None for event in fast)
    assert {interval.quality for event in fast for interval in event.intervals} >= {"measured", "estimated", "faulty"}
    assert any(event.volume_m3 is not None and event.flow_temperature_c is not None for event in fast)


def test_a_class_version_1_state_decodes_as_the_mapper_upcasts_it(varied: Container) -> None:  # noqa: F811
    mapper = varied.ledger.mapper
    decoder = ReadingEventDecoder(mapper)
    for notification in readings(varied)[:20]:
        state = json.loads(notification.state)
        del state["limit_breaches"], state["class_version"]  # as stored before rated limits existed
        older = replace(notification, state=json.dumps(state, separators=(",", ":")).encode())
        made = decoder.decode_reading(older)
        assert made is not None
        assert same_event(made, mapper.to_domain_event(older))


def test_a_state_of_another_shape_goes_through_the_mapper(varied: Container) -> None:  # noqa: F811
    mapper = varied.ledger.mapper
    decoder = ReadingEventDecoder(mapper)
    notification = next(n for n in readings(varied) if json.loads(n.state)["intervals"])
    state = json.loads(notification.state)
    state["energy_gj"]["note"] = "typed by hand"  # the transcoder keeps an object of three keys as it is
    odd = replace(notification, state=json.dumps(state).encode())
    assert decoder.decode_reading(odd) is None
    assert same_event(decoder.decode_all([odd])[0], mapper.to_domain_event(odd))
    state = json.loads(notification.state)
    state["intervals"][0]["_data_"]["colour"] = "blue"  # a field MeteredInterval does not have
    odd = replace(notification, state=json.dumps(state).encode())
    assert decoder.decode_reading(odd) is None
    with pytest.raises(MapperDeserialisationError, match="colour"):
        decoder.decode_all([odd])
    state = json.loads(notification.state)
    state["energy_gj"]["_data_"] = 12.5  # a number where the transcoder writes text
    odd = replace(notification, state=json.dumps(state).encode())
    assert decoder.decode_reading(odd) is None


def test_a_mapper_with_a_cipher_or_another_transcoder_is_left_to_itself(varied: Container) -> None:  # noqa: F811
    mapper = varied.ledger.mapper
    assert not ReadingEventDecoder(replace_attribute(mapper, "cipher", object())).decodes
    assert not ReadingEventDecoder(replace_attribute(mapper, "compressor", object())).decodes
    assert not ReadingEventDecoder(replace_attribute(mapper, "transcoder", object())).decodes


def test_a_catch_up_with_the_decoder_equals_one_through_the_mapper(varied: Container) -> None:  # noqa: F811
    runner = ProjectionRunner(varied.ledger, varied.engine, LedgerProjection())
    runner.rebuild()
    with_decoder = projection_rows(varied.engine)
    runner._decoder.decodes = frozenset()  # every event through the mapper
    runner.rebuild()
    assert projection_rows(varied.engine) == with_decoder
    assert with_decoder["meter_intervals"], "the store's readings were projected"


class replace_attribute:
    """``mapper`` with one attribute replaced (the others read through)."""

    def __init__(self, mapper: Any, name: str, value: Any) -> None:
        self._mapper, self._name, self._value = mapper, name, value

    def __getattr__(self, name: str) -> Any:
        return self._value if name == self._name else getattr(self._mapper, name)


def test_large_batches_give_the_same_rows_and_leave_the_page_cache_as_it_was(varied: Container) -> None:  # noqa: F811
    small = ProjectionRunner(varied.ledger, varied.engine, LedgerProjection(), batch_size=3)
    small.rebuild()
    in_small_batches = projection_rows(varied.engine)
    large = ProjectionRunner(varied.ledger, varied.engine, LedgerProjection(), batch_size=LARGE_BATCH_SIZE)
    if varied.engine.dialect.name == "sqlite":
        with varied.engine.connect() as connection:
            before = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    large.rebuild()
    assert projection_rows(varied.engine) == in_small_batches
    if varied.engine.dialect.name == "sqlite":
        with varied.engine.connect() as connection:  # the pool's connection the runner used
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar_one() == before
