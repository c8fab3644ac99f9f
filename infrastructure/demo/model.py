"""The demo community as plain data: households, meters, the flats' hidden behaviour, uploads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from application.ingestion import ReadingItem
from domain.season import Season
from domain.values import AccuracyClass, Address, Areas, FlowSensorSide, MeterKind, Position


class Occupancy(StrEnum):
    """How a flat is used this season."""

    OCCUPIED = "occupied"
    VACANT = "vacant"  # nobody lives there; the valve is left on a low gear
    SUSPENDED = "suspended"  # 报停: heating suspended before the season, the valve sealed


@dataclass(frozen=True)
class DemoHousehold:
    """A household account as a clerk would register it."""

    account_number: str
    address: Address
    areas: Areas
    position: Position
    registered_on: date
    occupancy: Occupancy
    suspended_on: date | None
    meter_serial: str


@dataclass(frozen=True)
class DemoMeter:
    """A heat meter as it is commissioned; a household meter names the account it is attached to."""

    serial: str
    maker: str
    model: str
    accuracy_class: AccuracyClass
    flow_sensor_side: FlowSensorSide
    kind: MeterKind
    community: str
    building: str
    commissioned_at: datetime
    permanent_flow_m3_h: Decimal
    account_number: str | None


@dataclass(frozen=True)
class FlatBehaviour:
    """What the ledger never sees: how the flat takes heat, and its meter's registers at the start."""

    position_coefficient: float
    occupancy_factor: float
    temperature_drop_k: float
    supply_loss_k: float
    opening_energy_gj: Decimal
    opening_volume_m3: Decimal


@dataclass(frozen=True)
class DemoFlat:
    household: DemoHousehold
    meter: DemoMeter
    behaviour: FlatBehaviour


@dataclass(frozen=True)
class DemoBuilding:
    """One building: its flats and its building meter (with its network loss share)."""

    name: str
    flats: tuple[DemoFlat, ...]
    meter: DemoMeter
    network_loss_share: float
    opening_energy_gj: Decimal
    opening_volume_m3: Decimal


@dataclass(frozen=True)
class DemoUpload:
    """One concentrator upload: a building's readings closing one business day."""

    building: str
    day: date
    items: tuple[ReadingItem, ...]


@dataclass(frozen=True)
class DemoCommunity:
    """Everything the loader needs, in the order it must happen."""

    name: str
    code: str
    season: Season
    days: int
    buildings: tuple[DemoBuilding, ...]
    uploads: tuple[DemoUpload, ...]

    @property
    def households(self) -> list[DemoHousehold]:
        return [flat.household for building in self.buildings for flat in building.flats]

    @property
    def meters(self) -> list[DemoMeter]:
        flat_meters = [flat.meter for building in self.buildings for flat in building.flats]
        return flat_meters + [building.meter for building in self.buildings]

    @property
    def readings_count(self) -> int:
        return sum(len(upload.items) for upload in self.uploads)
