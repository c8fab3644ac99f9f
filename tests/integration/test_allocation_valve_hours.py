"""The on-off time-area allocation takes a flat's valve-open hours from its room controller's
reports when the clerk types none (issue 14), on each backend.

Building 9 of 碧桂园, season 2025-2026, 300 GJ given, three unmetered flats of 90 m²: C-1's
controller counts 0 h at 31 Oct 2025 00:00 (Asia/Shanghai), 20 h a day later, 1,020 h on 31
Dec: 1,000 h within the season (the first 20 fell on 31 October, before it). C-2's hours are typed
(2,000). C-3 has neither.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from application.authorization import Principal, Role
from domain.allocation import AllocationMethod, FlatInput
from domain.errors import InvalidInputError
from domain.season import Season
from domain.valve import DeviceReport
from infrastructure.container import Container
from tests.strategies import register_household

D = Decimal
SEASON = Season.default_starting(2025)
SHANGHAI = ZoneInfo("Asia/Shanghai")
CLERK = Principal("clerk-wang", Role.CLERK)
GATEWAY = Principal("gateway:test", Role.DEVICE)
COMMUNITY, BUILDING = "碧桂园", "9"


@pytest.fixture
def reported(container: Container) -> Container:
    container.ledger.clock = lambda: datetime(2026, 4, 15, 2, tzinfo=UTC)
    for account in ("C-1", "C-2", "C-3"):
        register_household(container.ledger, account, building=BUILDING)
    valves = container.room_controllers
    valves.install("RC-C1", "C-1", 5, CLERK)
    for number, (moment, total) in enumerate(
        (((2025, 10, 31), "0"), ((2025, 11, 1), "20"), ((2025, 12, 31), "1020")), start=1
    ):
        measured_at = datetime(*moment, tzinfo=SHANGHAI).astimezone(UTC)
        report = DeviceReport(f"R-{number}", measured_at, valve_open_hours_total=D(total))
        assert valves.record_report("RC-C1", report, "mqtt", GATEWAY)
    container.catch_up()
    return container


def allocate(container: Container, flats: list[FlatInput]):  # type: ignore[no-untyped-def]
    return container.billing.record_allocation(
        CLERK, COMMUNITY, BUILDING, SEASON, AllocationMethod.ON_OFF_TIME_AREA, flats, None, D(300)
    )


def test_a_flat_without_typed_hours_takes_its_season_hours_from_the_reports(reported: Container) -> None:
    flats = [FlatInput("C-1", D(90)), FlatInput("C-2", D(90), open_hours=D(2000))]
    revision, allocation = allocate(reported, flats)
    assert revision == 1
    assert [(share.account_number, share.energy_gj) for share in allocation.shares] == [
        ("C-1", D(100)),
        ("C-2", D(200)),
    ]
    recorded = reported.billing.allocation(COMMUNITY, BUILDING, SEASON)
    assert recorded is not None
    assert [(flat.account_number, flat.open_hours) for flat in recorded.flats] == [
        ("C-1", D("1000.000")),  # what was used is recorded with the revision
        ("C-2", D(2000)),
    ]


def test_typed_hours_win_over_the_reports(reported: Container) -> None:
    _, allocation = allocate(reported, [FlatInput("C-1", D(90), open_hours=D(500)), FlatInput("C-2", D(90), D(1000))])
    assert [share.energy_gj for share in allocation.shares] == [D(100), D(200)]


def test_a_flat_with_neither_typed_hours_nor_reports_is_named(reported: Container) -> None:
    with pytest.raises(InvalidInputError) as refused:
        allocate(reported, [FlatInput("C-1", D(90)), FlatInput("C-3", D(90))])
    assert (refused.value.message_key, refused.value.params["account_number"]) == ("allocation_input_missing", "C-3")
    assert reported.billing.allocation(COMMUNITY, BUILDING, SEASON) is None


def test_other_methods_read_no_hours(reported: Container) -> None:
    flats = [FlatInput("C-1", D(90), room_temperature_c=D(20)), FlatInput("C-2", D(90), room_temperature_c=D(20))]
    _, allocation = reported.billing.record_allocation(
        CLERK, COMMUNITY, BUILDING, SEASON, AllocationMethod.TEMPERATURE_AREA, flats, D(0), D(300)
    )
    recorded = reported.billing.allocation(COMMUNITY, BUILDING, SEASON)
    assert recorded is not None and [flat.open_hours for flat in recorded.flats] == [None, None]
    assert [share.energy_gj for share in allocation.shares] == [D(150), D(150)]
