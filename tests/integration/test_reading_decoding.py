"""The replay's reading decoder gives what the library's mapper gives, for every reading of a
store, on SQLite and PostgreSQL: a season of daily readings with volumes and temperatures (so
with the k·Δθ·ΔV check's figures), estimates, a faulty reading, a late reading that splits an
interval and a voided one; and for stored states of other shapes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from eventsourcing.persistence import MapperDeserialisationError, Notification

from application.authorization import SYSTEM
from domain.readings import ReadingSource
from infrastructure.container import Container
from infrastructure.reading_decoding import READING_TOPIC, ReadingDecoder
from projections.billing_fold import RecordedReading
from tests.integration import test_implausible_heat
from tests.integration.test_implausible_heat import midnight
from tests.strategies import item

D = Decimal
season = test_implausible_heat.season  # daily readings with volumes and temperatures, 38 GJ in five days


def readings(container: Container) -> list[Notification]:
    recorder = container.ledger.recorder
    found = recorder.select_notifications(start=1, limit=100_000, topics=[READING_TOPIC])
    assert found, "the store has readings"
    return found


def by_mapper(container: Container, notification: Notification) -> RecordedReading:
    return RecordedReading.of(container.ledger.mapper.to_domain_event(notification))


@pytest.fixture
def varied(season: Container) -> Container:
    """The season, with estimates, a faulty reading, a late reading and a voided one more."""
    ledger = season.ledger
    first_day, days = test_implausible_heat.SEASON.first_day, test_implausible_heat.SEASON.days
    last = test_implausible_heat.energy_on(days)
    # A faulty reading late, inside a day's interval; two estimates after the last reading.
    faulty = item("M-1", midnight(first_day) + timedelta(hours=3 * 24 + 6), D(100) + D("0.65"), faulty=True)
    estimated = [
        item(
            "M-1",
            midnight(first_day + timedelta(days=days + extra)),
            last + extra * D("0.3"),
            source=ReadingSource.ESTIMATE,
        )
        for extra in (1, 2)
    ]
    ledger.void_reading(SYSTEM, "M-1", midnight(first_day + timedelta(days=days - 1)), "duplicate")
    report = ledger.record_readings(SYSTEM, [faulty, *estimated])
    assert report.accepted == 3, [(outcome.status, outcome.message) for outcome in report.outcomes]
    return season


def test_every_reading_decodes_as_the_mapper_decodes_it(varied: Container) -> None:
    decoder = ReadingDecoder(varied.ledger.mapper)
    assert decoder.fast_versions, "the fast path is on for the ledger's plain JSON"
    stored = readings(varied)
    decoded = [decoder.decode(notification) for notification in stored]
    expected = [by_mapper(varied, notification) for notification in stored]
    assert decoded == expected
    assert repr(decoded) == repr(expected)  # the same digits and the same zones
    assert any(reading.replaced_interval_start is not None for reading in decoded)
    assert {interval.quality for reading in decoded for interval in reading.intervals} >= {
        "measured",
        "estimated",
        "faulty",
    }
    assert any(interval.deviation_percent is not None for reading in decoded for interval in reading.intervals)


def test_a_class_version_1_state_decodes_as_the_mapper_upcasts_it(varied: Container) -> None:
    decoder = ReadingDecoder(varied.ledger.mapper)
    for notification in readings(varied)[:20]:
        state = json.loads(notification.state)
        del state["limit_breaches"], state["class_version"]  # as stored before rated limits existed
        older = replace(notification, state=json.dumps(state, separators=(",", ":")).encode())
        assert decoder._fast(older) is not None
        assert decoder.decode(older) == by_mapper(varied, older)


def test_a_state_of_another_shape_goes_through_the_mapper(varied: Container) -> None:
    decoder = ReadingDecoder(varied.ledger.mapper)
    notification = next(n for n in readings(varied) if json.loads(n.state)["intervals"])
    state = json.loads(notification.state)
    # A value the transcoder keeps as an object (three keys): not a reading's shape, so the
    # mapper decodes it, whatever that gives.
    state["energy_gj"]["note"] = "typed by hand"
    odd = replace(notification, state=json.dumps(state).encode())
    assert decoder._fast(odd) is None
    assert decoder.decode(odd) == by_mapper(varied, odd)
    # An interval with a field MeteredInterval does not have: the mapper refuses it, and so does the decoder.
    state = json.loads(notification.state)
    state["intervals"][0]["_data_"]["colour"] = "blue"
    odd = replace(notification, state=json.dumps(state).encode())
    assert decoder._fast(odd) is None
    with pytest.raises(MapperDeserialisationError, match="colour"):
        decoder.decode(odd)
