"""A reading recorded through the wired container reaches the read models on each backend."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from freezegun import freeze_time
from sqlalchemy import func, select

from application.authorization import SYSTEM
from application.ingestion import ReadingItem
from domain.readings import ReadingValues
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
    CustomerClass,
    FlowSensorSide,
    HorizontalPosition,
    MeterKind,
    Position,
    VerticalPosition,
)
from infrastructure.container import Container
from projections.tables import daily_consumption


def test_readings_reach_daily_consumption(container: Container) -> None:
    ledger = container.ledger
    start = datetime(2025, 11, 1, 3, tzinfo=UTC)
    ledger.register_household(
        SYSTEM,
        "WZ-0001",
        Address("碧桂园", "1", "1", 6, "601"),
        Areas(Decimal("90.00"), Decimal("85.50")),
        CustomerClass.RESIDENTIAL,
        Position(VerticalPosition.TOP, HorizontalPosition.WEST_END),
        date(2025, 10, 1),
    )
    ledger.commission_meter(
        SYSTEM,
        "M-1",
        "Kamstrup",
        "Multical 603",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.HOUSEHOLD,
        start - timedelta(days=30),
    )
    ledger.attach_meter(SYSTEM, "WZ-0001", "M-1", start - timedelta(days=30))
    with freeze_time("2025-11-10"):
        report = ledger.record_readings(
            SYSTEM,
            [ReadingItem("M-1", ReadingValues(start + timedelta(days=day), Decimal("0.25") * day)) for day in range(4)],
        )
    assert report.accepted == 4
    with container.engine.connect() as connection:
        total = connection.execute(select(func.sum(daily_consumption.c.energy_gj))).scalar()
    assert total == Decimal("0.75")
