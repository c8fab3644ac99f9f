"""When the ledger recorded a stored event, read from the front of its state, equals the decoded
event's timestamp; a store that compresses its events is read by decoding them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from freezegun import freeze_time

from application.authorization import SYSTEM
from application.ledger import HeatLedger
from infrastructure.point_in_time import _RECORDED_AT, position_known_among, recorded_at
from tests.strategies import MEMORY_ENVIRONMENT, RECEIVED_LATER, household_with_meter, item

START = datetime(2025, 11, 1, tzinfo=UTC)
COMPRESSED = {**MEMORY_ENVIRONMENT, "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}


@pytest.mark.parametrize("environment", [MEMORY_ENVIRONMENT, COMPRESSED], ids=["plain", "compressed"])
def test_the_moment_an_event_was_recorded_is_its_timestamp(environment: dict[str, str]) -> None:
    ledger = HeatLedger(env=dict(environment), clock=lambda: RECEIVED_LATER)
    with freeze_time("2025-10-05T10:00:00+08:00"):
        household_with_meter(ledger, "A-1", "M-1")
    with freeze_time("2025-11-02T09:30:00.123456+08:00"):
        ledger.record_readings(SYSTEM, [item("M-1", START + timedelta(hours=hour), Decimal(hour)) for hour in range(3)])
    notifications = ledger.recorder.select_notifications(start=1, limit=100)

    moments = [recorded_at(ledger, notification) for notification in notifications]

    decoded: list[Any] = [ledger.mapper.to_domain_event(notification) for notification in notifications]
    assert moments == [event.timestamp for event in decoded]
    assert moments[-1] == datetime(2025, 11, 2, 1, 30, 0, 123456, tzinfo=UTC)
    assert all(moment.tzinfo is not None for moment in moments)
    # The plain store's states are read at their front, the compressed store's decoded.
    fronts = [_RECORDED_AT.match(notification.state) is not None for notification in notifications]
    assert fronts == [environment is MEMORY_ENVIRONMENT] * len(notifications)
    last_setup = max(n.id for n, moment in zip(notifications, moments, strict=True) if moment.month == 10)
    assert position_known_among(ledger, notifications, datetime(2025, 11, 1, tzinfo=UTC)) == last_setup
    assert position_known_among(ledger, notifications, moments[-1]) == notifications[-1].id
    assert position_known_among(ledger, notifications, moments[0] - timedelta(microseconds=1)) == 0
