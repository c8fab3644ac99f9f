"""Daily mean outdoor temperatures, the reference data behind heating degree-days.

Kept as plain rows, not ledger events: the weather is not a fact of any account; it is an input
the estimator reads. A day recorded again takes the newer figure (a weather service's correction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Column, Date, Engine, MetaData, String, Table, delete, insert, select

from domain.errors import InvalidInputError
from domain.estimation import degree_days
from projections.types import ScaledDecimal, UtcDateTime

LOWEST_PLAUSIBLE_C = Decimal(-60)
HIGHEST_PLAUSIBLE_C = Decimal(60)

metadata = MetaData()

outdoor_temperatures = Table(
    "outdoor_temperatures",
    metadata,
    Column("day", Date, primary_key=True),
    Column("mean_temperature_c", ScaledDecimal(3), nullable=False),
    Column("source", String(128), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)


class WeatherStore:
    """Records daily mean outdoor temperatures and answers degree-days."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, temperatures_c: Mapping[date, Decimal], source: str) -> int:
        """Record (or replace) the mean outdoor temperature of each day; returns how many."""
        for day, temperature in temperatures_c.items():
            if not temperature.is_finite() or not LOWEST_PLAUSIBLE_C <= temperature <= HIGHEST_PLAUSIBLE_C:
                raise InvalidInputError(
                    f"the mean outdoor temperature of {day} must lie in -60…60 °C",
                    message_key="outdoor_temperature_invalid",
                    field="mean_temperature_c",
                    value=str(temperature),
                )
        rows = [
            {
                "day": day,
                "mean_temperature_c": temperature.quantize(Decimal("0.001")),
                "source": source[:128],
                "recorded_at": datetime.now(UTC),
            }
            for day, temperature in temperatures_c.items()
        ]
        if not rows:
            return 0
        with self.engine.begin() as connection:
            connection.execute(delete(outdoor_temperatures).where(outdoor_temperatures.c.day.in_(list(temperatures_c))))
            connection.execute(insert(outdoor_temperatures), rows)
        return len(rows)

    def latest_mean_temperature_c(self, on_or_before: date) -> Decimal | None:
        """The mean outdoor temperature of the latest day recorded on or before ``on_or_before``,
        looking back two days at most (an older figure says nothing of today's cold); None if none.
        The valve guardrails refuse a forced close below a threshold (issue 14)."""
        statement = (
            select(outdoor_temperatures.c.mean_temperature_c)
            .where(outdoor_temperatures.c.day <= on_or_before)
            .where(outdoor_temperatures.c.day >= on_or_before - timedelta(days=2))
            .order_by(outdoor_temperatures.c.day.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            value: Decimal | None = connection.execute(statement).scalar()
        return value

    def degree_days(self, days: Iterable[date]) -> dict[date, Decimal]:
        """Heating degree-days (base 18 °C) of the given days that have a recorded temperature."""
        statement = select(outdoor_temperatures.c.day, outdoor_temperatures.c.mean_temperature_c).where(
            outdoor_temperatures.c.day.in_(list(days))
        )
        with self.engine.connect() as connection:
            return {row.day: degree_days(row.mean_temperature_c) for row in connection.execute(statement)}
