"""Households: registration, corrections, suspension, meter attachment, and what a clerk reads back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import (
    KEY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    AccountNumber,
    AreaText,
    EnergyText,
    IsoDate,
    OptionalReason,
    Reason,
    RequestModel,
    UtcDatetime,
    VolumeText,
    WholeNumber,
)
from domain.season import Season
from domain.values import Address, Areas, CustomerClass, HorizontalPosition, Position, VerticalPosition
from projections.household_search import MAXIMUM_SEARCH_TEXT_LENGTH
from projections.queries import ConsumptionTotal, HouseholdRecord, MeterRecord

# Energy per heated m² is rounded half up to this unit (1 kJ/m²).
ENERGY_PER_AREA_QUANTUM = Decimal("0.000001")

AreaInput = Annotated[Decimal, Field(description="m², positive, at most two decimals", examples=["90.00"])]


class AddressModel(BaseModel):
    """Where the flat is: community (小区), building (楼号), entrance (单元), floor, flat (房号)."""

    model_config = ConfigDict(extra="forbid")

    community: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, examples=["碧桂园"])
    building: str = Field(min_length=1, max_length=KEY_MAX_LENGTH, examples=["1"])
    entrance: str = Field(default="", max_length=KEY_MAX_LENGTH, examples=["2"])
    floor: WholeNumber = Field(examples=[6])
    flat: str = Field(min_length=1, max_length=KEY_MAX_LENGTH, examples=["601"])

    def to_domain(self) -> Address:
        return Address(self.community, self.building, self.entrance, self.floor, self.flat)


class PositionModel(BaseModel):
    """The flat's position in its building, which drives its position coefficient."""

    model_config = ConfigDict(extra="forbid")

    vertical: VerticalPosition
    horizontal: HorizontalPosition


class HouseholdRegistration(RequestModel):
    """A new household account (热用户)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_number": "WZ-0001",
                    "address": {"community": "碧桂园", "building": "1", "entrance": "1", "floor": 6, "flat": "601"},
                    "connected_area_m2": "98.50",
                    "heated_area_m2": "90.00",
                    "customer_class": "residential",
                    "position": {"vertical": "top", "horizontal": "west_end"},
                    "registered_on": "2025-10-01",
                    "reason": "new contract",
                }
            ]
        }
    )

    account_number: AccountNumber
    address: AddressModel
    connected_area_m2: AreaInput
    heated_area_m2: AreaInput
    customer_class: CustomerClass
    position: PositionModel
    registered_on: IsoDate
    reason: OptionalReason = None

    def areas(self) -> Areas:
        return Areas(self.connected_area_m2, self.heated_area_m2)

    def position_value(self) -> Position:
        return Position(self.position.vertical, self.position.horizontal)


class AreaCorrection(RequestModel):
    """Corrected areas from a date on (a survey, a typing error in the master data)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "connected_area_m2": "98.50",
                    "heated_area_m2": "88.20",
                    "effective_on": "2025-12-01",
                    "reason": "survey",
                }
            ]
        }
    )

    connected_area_m2: AreaInput
    heated_area_m2: AreaInput
    effective_on: IsoDate
    reason: Reason

    def areas(self) -> Areas:
        return Areas(self.connected_area_m2, self.heated_area_m2)


class HeatingChange(RequestModel):
    """Suspending (报停) or resuming heating from a date on."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"effective_on": "2025-12-01", "reason": "flat empty this winter"}]}
    )

    effective_on: IsoDate = Field(
        description="On or after the registration, at most a year after today (Asia/Shanghai)"
    )
    reason: Reason


class HouseholdDeregistration(RequestModel):
    """销户/拆网: the household leaves the network from a date on."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"effective_on": "2026-04-01", "reason": "flat demolished (拆网)"}]}
    )

    effective_on: IsoDate = Field(
        description="The first day the household is neither supplied nor billed (the last billed day is the "
        "day before): after the registration and every owner change, at most a year after today (Asia/Shanghai)"
    )
    reason: Reason


class MeterAttachment(RequestModel):
    """A household meter now measuring this household's heat."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"serial": "KM-100234", "attached_at": "2025-10-15T09:30:00+08:00", "reason": "installation"}]
        }
    )

    serial: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    attached_at: UtcDatetime
    reason: OptionalReason = None


class HouseholdRegistered(BaseModel):
    """A registered household; read it at the Location given."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"account_number": "WZ-0001", "correlation_id": "0b7f3c1e-5d7a-4a51-9f0e-2f1f0a6f4c11"}]
        }
    )

    account_number: str
    correlation_id: UUID


class LastReading(BaseModel):
    """A meter's newest reading."""

    measured_at: datetime
    energy_gj: EnergyText


class AttachedMeter(BaseModel):
    """A meter serving the household now."""

    serial: str
    kind: str
    maker: str
    model: str
    readings_count: int
    last_reading: LastReading | None

    @classmethod
    def from_record(cls, record: MeterRecord) -> AttachedMeter:
        return cls(
            serial=record.serial,
            kind=record.kind,
            maker=record.maker,
            model=record.model,
            readings_count=record.readings_count,
            last_reading=last_reading_of(record),
        )


class SeasonConsumption(BaseModel):
    """Metered consumption of the current heating season (or the last one, out of season) to date."""

    season: str = Field(examples=["2025-2026"])
    first_day: date
    last_day: date
    through_day: date = Field(description="The last business day counted (today in Asia/Shanghai, or the season's end)")
    energy_gj: EnergyText
    volume_m3: VolumeText
    energy_per_heated_area_gj_per_m2: EnergyText = Field(
        description="energy_gj ÷ heated_area_m2, rounded half up to 0.000001"
    )

    @classmethod
    def from_total(
        cls, season: Season, through_day: date, total: ConsumptionTotal, heated_area_m2: Decimal
    ) -> SeasonConsumption:
        per_area = (total.energy_gj / heated_area_m2).quantize(ENERGY_PER_AREA_QUANTUM, rounding=ROUND_HALF_UP)
        return cls(
            season=season.code,
            first_day=season.first_day,
            last_day=season.last_day,
            through_day=through_day,
            energy_gj=total.energy_gj,
            volume_m3=total.volume_m3,
            energy_per_heated_area_gj_per_m2=per_area,
        )


class HouseholdSummary(BaseModel):
    """A household's master data and whether its heating is suspended."""

    account_number: str
    address: AddressModel
    connected_area_m2: AreaText
    heated_area_m2: AreaText
    customer_class: str
    position: PositionModel
    registered_on: date
    heating_suspended: bool
    suspended_since: date | None
    deregistered_on: date | None = Field(
        description="销户: the first day the household is neither supplied nor billed; null while it is supplied"
    )

    @classmethod
    def fields_of(cls, record: HouseholdRecord) -> dict[str, object]:
        return {
            "account_number": record.account_number,
            "address": AddressModel(
                community=record.community,
                building=record.building,
                entrance=record.entrance,
                floor=record.floor,
                flat=record.flat,
            ),
            "connected_area_m2": record.connected_area_m2,
            "heated_area_m2": record.heated_area_m2,
            "customer_class": record.customer_class,
            "position": PositionModel(
                vertical=VerticalPosition(record.vertical_position),
                horizontal=HorizontalPosition(record.horizontal_position),
            ),
            "registered_on": record.registered_on,
            "heating_suspended": record.heating_suspended,
            "suspended_since": record.suspended_since,
            "deregistered_on": record.deregistered_on,
        }

    @classmethod
    def from_record(cls, record: HouseholdRecord) -> HouseholdSummary:
        return cls.model_validate(cls.fields_of(record))


class HouseholdDetail(HouseholdSummary):
    """A household with its meters and its consumption this season."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_number": "WZ-0001",
                    "address": {"community": "碧桂园", "building": "1", "entrance": "1", "floor": 6, "flat": "601"},
                    "connected_area_m2": "98.50",
                    "heated_area_m2": "90.00",
                    "customer_class": "residential",
                    "position": {"vertical": "top", "horizontal": "west_end"},
                    "registered_on": "2025-10-01",
                    "heating_suspended": False,
                    "suspended_since": None,
                    "meters": [
                        {
                            "serial": "KM-100234",
                            "kind": "household",
                            "maker": "Kamstrup",
                            "model": "MULTICAL 403",
                            "readings_count": 41,
                            "last_reading": {"measured_at": "2025-12-10T16:00:00Z", "energy_gj": "16.412000"},
                        }
                    ],
                    "season": {
                        "season": "2025-2026",
                        "first_day": "2025-11-01",
                        "last_day": "2026-03-31",
                        "through_day": "2025-12-11",
                        "energy_gj": "16.412000",
                        "volume_m3": "98.577000",
                        "energy_per_heated_area_gj_per_m2": "0.182356",
                    },
                }
            ]
        }
    )

    meters: list[AttachedMeter]
    season: SeasonConsumption


# The read model keeps floors in a 32-bit column: any floor it holds can be asked for.
FLOOR_BOUND = 2**31
SEARCH_DESCRIPTION = (
    "Words a clerk types: each narrows the list. A word with 号楼, 单元, 层 or 室 names that part of "
    "the address (`3号楼2单元5层501室`); a bare word matches part of the account number or of the "
    "community, or a whole building or flat number"
)


class HouseholdFilter(BaseModel):
    """Which households to list (query parameters; the households page's search form too)."""

    community: str | None = Field(None, max_length=NAME_MAX_LENGTH, description="Only this community")
    building: str | None = Field(None, max_length=KEY_MAX_LENGTH, description="Only this building")
    entrance: str | None = Field(None, max_length=KEY_MAX_LENGTH, description="Only this entrance (单元)")
    floor: int | None = Field(None, ge=-FLOOR_BOUND, le=FLOOR_BOUND - 1, description="Only this floor")
    search: str | None = Field(None, max_length=MAXIMUM_SEARCH_TEXT_LENGTH, description=SEARCH_DESCRIPTION)
    phone: str | None = Field(
        None,
        min_length=4,
        max_length=KEY_MAX_LENGTH,
        description="Households whose contact address contains this (a mobile number or its last four "
        "digits); contacts are personal data: needs `manage_households` (403 otherwise)",
    )
    holder: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Households whose contact names a holder containing this (王芳, or 王); contacts are "
        "personal data: needs `manage_households` (403 otherwise)",
    )


class HouseholdPage(BaseModel):
    """One page of households, and how many match in all."""

    items: list[HouseholdSummary]
    total: int
    limit: int
    offset: int


def last_reading_of(record: MeterRecord) -> LastReading | None:
    """A meter record's newest reading, if it has one."""
    if record.last_measured_at is None or record.last_energy_gj is None:
        return None
    return LastReading(measured_at=record.last_measured_at, energy_gj=record.last_energy_gj)
