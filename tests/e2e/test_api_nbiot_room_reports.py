"""NB-IoT pushes' room fields (issue 14): stored as reports of the room controller installed in the
meter's household, recorded once on redelivery; without a controller they are answered as ignored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from application.authorization import Principal, Role
from infrastructure.container import Container
from projections.room_telemetry_queries import RoomTelemetryQueries
from tests.e2e.conftest import LedgerApi, TestClient
from tests.e2e.test_api_nbiot import CHANNEL, body_of, channels, post, reading

CLERK = Principal("clerk-li", Role.CLERK)


@pytest.fixture
def secret(container: Container) -> str:
    return channels(container).create(CHANNEL, created_by="e2e").secret


@pytest.mark.usefixtures("frozen_now")
def test_room_fields_become_a_report_of_the_households_controller(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    container.room_controllers.install("RC-9", "WZ-0001", 5, CLERK)
    body = body_of(
        "m-room-1",
        reading("HM-1", "2025-12-01T08:00:00+08:00", "12.0", room_temperature_c="17.5", valve_state="open"),
        reading("HM-1", "2025-12-01T20:00:00+08:00", "12.1", valve_state=3),
        reading("HM-1", "2025-12-02T08:00:00+08:00", "12.2"),
    )
    first = post(client, body, secret)
    assert first.status_code == 200, first.text
    assert first.json()["ignored_fields"] == []
    assert post(client, body, secret).json() == first.json()  # redelivered: the kept answer, nothing new
    container.catch_up()
    queries = RoomTelemetryQueries(container.engine)
    [health] = queries.device_health("WZ-0001")
    assert (health.reports, health.last_source, health.valve_gear, health.valve_state) == (2, "nbiot", 3, None)
    [day] = queries.room_temperatures("WZ-0001", date(2025, 12, 1), date(2025, 12, 1))
    assert (day.samples, day.mean_c) == (1, Decimal("17.50"))


@pytest.mark.usefixtures("frozen_now")
def test_room_fields_without_a_controller_or_out_of_range_are_answered_as_ignored(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    api.household_with_meter("WZ-0002", "HM-2")
    container.room_controllers.install("RC-9", "WZ-0001", 5, CLERK)
    body = body_of(
        "m-room-2",
        reading("HM-1", "2025-12-01T08:00:00+08:00", "12.0", valve_state=9),  # the valve has 5 gears
        reading("HM-2", "2025-12-01T08:00:00+08:00", "12.0", room_temperature_c="20.0"),  # no controller
    )
    response = post(client, body, secret)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2  # the meters' readings are booked whatever the room fields
    assert response.json()["ignored_fields"] == ["room_temperature_c", "valve_state"]
