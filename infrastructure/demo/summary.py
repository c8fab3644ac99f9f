"""What the read models hold of a community: households, meters, readings and heat so far."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, func, select

from domain.values import MeterKind
from projections.tables import daily_consumption, households, meters


@dataclass(frozen=True)
class CommunitySummary:
    households: int
    meters: int
    readings: int
    household_energy_gj: Decimal
    building_energy_gj: Decimal

    @property
    def network_loss_percent(self) -> Decimal | None:
        """The share of the building meters' heat that never reached a household meter."""
        if self.building_energy_gj == 0:
            return None
        loss = (self.building_energy_gj - self.household_energy_gj) / self.building_energy_gj * 100
        return loss.quantize(Decimal("0.01"))


def _energy_gj(engine: Engine, community: str, kind: MeterKind) -> Decimal:
    query = select(func.coalesce(func.sum(daily_consumption.c.energy_gj), 0)).where(
        daily_consumption.c.community == community, daily_consumption.c.meter_kind == kind.value
    )
    with engine.connect() as connection:
        return Decimal(connection.execute(query).scalar_one())


def summarise_community(engine: Engine, community: str) -> CommunitySummary:
    """Counts and heat of one community, from the read models (catch up first)."""
    with engine.connect() as connection:
        household_count = connection.execute(
            select(func.count()).select_from(households).where(households.c.community == community)
        ).scalar_one()
        meter_count, reading_count = connection.execute(
            select(func.count(), func.coalesce(func.sum(meters.c.readings_count), 0)).where(
                meters.c.community == community
            )
        ).one()
    return CommunitySummary(
        households=int(household_count),
        meters=int(meter_count),
        readings=int(reading_count),
        household_energy_gj=_energy_gj(engine, community, MeterKind.HOUSEHOLD),
        building_energy_gj=_energy_gj(engine, community, MeterKind.BUILDING),
    )
