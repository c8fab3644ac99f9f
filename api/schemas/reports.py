"""Analytics reports over HTTP (issue 15): settings, substations and the season's figures.

Decimals are written as strings with the places the report rounds them to (docs/reports.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from api.schemas.common import KEY_MAX_LENGTH, NAME_MAX_LENGTH, IsoDate, Reason, RequestModel
from application.analytics_reports import (
    CollectionFigures,
    FairnessReport,
    HeatLossReport,
    LossRow,
    PlaceFigures,
    PlacesReport,
)
from domain.analytics import FeeComparison, HeatLoss, Revenue, Saving
from domain.analytics_baseline import MAXIMUM_SOURCE_LENGTH, AnalyticsBaseline, BaselineSetting
from domain.substation import MAXIMUM_FEEDS, Substation

# -- settings ---------------------------------------------------------------------------------------


class SettingInput(RequestModel):
    """A season's setting from a day: the company's average GJ/m², a heat source's purchase price
    (元/GJ; `*` for every source without its own) or the heat-loss threshold (%)."""

    setting: BaselineSetting
    value: Decimal = Field(description="GJ/m², 元/GJ or %")
    effective_on: IsoDate = Field(description="The first day the value applies")
    heat_source: str = Field(default="", max_length=MAXIMUM_SOURCE_LENGTH, description="Purchase prices only")
    reason: Reason


class SettingRecordOutput(BaseModel):
    setting: str
    heat_source: str
    value: Decimal
    effective_on: date
    recorded_by: str
    reason: str


class BaselineOutput(BaseModel):
    """A season's settings: every record, and the values in force on the season's last day."""

    season: str
    records: list[SettingRecordOutput]

    @classmethod
    def of(cls, baseline: AnalyticsBaseline) -> BaselineOutput:
        return cls(
            season=baseline.season_code,
            records=[
                SettingRecordOutput(
                    setting=record.setting,
                    heat_source=record.heat_source,
                    value=record.value,
                    effective_on=record.effective_on,
                    recorded_by=record.actor,
                    reason=record.reason,
                )
                for record in baseline.records
            ],
        )


class FeedInput(BaseModel):
    community: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    building: str = Field(default="", max_length=KEY_MAX_LENGTH, description="Empty: the whole community")


class SubstationConfigurationInput(RequestModel):
    """What a substation is from a day: its heat source, its primary meter, the places it feeds."""

    effective_on: IsoDate
    heat_source: str = Field(default="*", max_length=MAXIMUM_SOURCE_LENGTH)
    meter_serial: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    feeds: list[FeedInput] = Field(min_length=1, max_length=MAXIMUM_FEEDS)
    reason: Reason


class SubstationInput(SubstationConfigurationInput):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)


class ConfigurationOutput(BaseModel):
    effective_on: date
    heat_source: str
    meter_serial: str
    feeds: list[FeedInput]
    recorded_by: str
    reason: str


class SubstationOutput(BaseModel):
    name: str
    configurations: list[ConfigurationOutput]

    @classmethod
    def of(cls, substation: Substation) -> SubstationOutput:
        return cls(
            name=substation.name,
            configurations=[
                ConfigurationOutput(
                    effective_on=item.effective_on,
                    heat_source=item.heat_source,
                    meter_serial=item.meter_serial,
                    feeds=[FeedInput(community=feed.community, building=feed.building) for feed in item.feeds],
                    recorded_by=item.actor,
                    reason=item.reason,
                )
                for item in substation.configurations
            ],
        )


# -- places --------------------------------------------------------------------------------------


class SavingOutput(BaseModel):
    area_based_energy_gj: Decimal
    saved_gj: Decimal
    connectable_area_m2: Decimal | None

    @classmethod
    def of(cls, saving: Saving | None) -> SavingOutput | None:
        return None if saving is None else cls.model_validate(saving, from_attributes=True)


class RevenueOutput(BaseModel):
    receivable_yuan: Decimal
    purchased_energy_gj: Decimal
    purchase_cost_yuan: Decimal
    profit_yuan: Decimal
    margin_percent: Decimal | None

    @classmethod
    def of(cls, revenue: Revenue | None) -> RevenueOutput | None:
        return None if revenue is None else cls.model_validate(revenue, from_attributes=True)


class FeesOutput(BaseModel):
    households: int
    paying_less: int
    paying_more: int
    paying_the_same: int
    paying_less_percent: Decimal | None
    paying_more_percent: Decimal | None
    saved_yuan: Decimal
    extra_yuan: Decimal
    metered_fee_yuan: Decimal
    area_fee_yuan: Decimal

    @classmethod
    def of(cls, fees: FeeComparison) -> FeesOutput:
        return cls.model_validate(fees, from_attributes=True)


class PlaceOutput(BaseModel):
    """One place's season: unit consumption, saving, revenue both ways, who pays more or less."""

    key: list[str] = Field(description="[community], [community, building] or [customer class]; ['*'] for the city")
    households: int
    connected_area_m2: Decimal
    heated_area_m2: Decimal
    energy_gj: Decimal
    unit_consumption_connected_gj_per_m2: Decimal | None
    unit_consumption_heated_gj_per_m2: Decimal | None
    average_gj_per_m2: Decimal | None
    saving: SavingOutput | None
    metered: RevenueOutput | None
    area_based: RevenueOutput | None
    fees: FeesOutput

    @classmethod
    def of(cls, row: PlaceFigures) -> PlaceOutput:
        return cls(
            key=list(row.key),
            households=row.households,
            connected_area_m2=row.connected_area_m2,
            heated_area_m2=row.heated_area_m2,
            energy_gj=row.energy_gj,
            unit_consumption_connected_gj_per_m2=row.unit_consumption_connected_gj_per_m2,
            unit_consumption_heated_gj_per_m2=row.unit_consumption_heated_gj_per_m2,
            average_gj_per_m2=row.average_gj_per_m2,
            saving=SavingOutput.of(row.saving),
            metered=RevenueOutput.of(row.metered),
            area_based=RevenueOutput.of(row.area_based),
            fees=FeesOutput.of(row.fees),
        )


class PricePeriodOutput(BaseModel):
    heat_source: str
    first_day: date
    last_day: date
    price_yuan_per_gj: Decimal


class PlacesOutput(BaseModel):
    season: str
    first_day: date
    last_day: date
    grouping: str
    average_gj_per_m2: Decimal | None
    price_periods: list[PricePeriodOutput]
    items: list[PlaceOutput]
    total: PlaceOutput

    @classmethod
    def of(cls, report: PlacesReport) -> PlacesOutput:
        return cls(
            season=report.season_code,
            first_day=report.first_day,
            last_day=report.last_day,
            grouping=report.grouping,
            average_gj_per_m2=report.average_gj_per_m2,
            price_periods=[
                PricePeriodOutput(
                    heat_source=source,
                    first_day=period.first_day,
                    last_day=period.last_day,
                    price_yuan_per_gj=period.price_yuan_per_gj,
                )
                for source, periods in sorted(report.price_periods.items())
                for period in periods
            ],
            items=[PlaceOutput.of(row) for row in report.rows],
            total=PlaceOutput.of(report.total),
        )


# -- heat loss, fairness, collection ---------------------------------------------------------------


class LossOutput(BaseModel):
    fed_energy_gj: Decimal
    delivered_energy_gj: Decimal
    loss_gj: Decimal
    loss_percent: Decimal | None
    flagged: bool

    @classmethod
    def of(cls, loss: HeatLoss) -> LossOutput:
        return cls.model_validate(loss, from_attributes=True)


class LossDayOutput(LossOutput):
    day: date


class LossRowOutput(BaseModel):
    kind: str = Field(description="substation or building")
    name: str
    feeds: list[FeedInput]
    season: LossOutput
    days: list[LossDayOutput]

    @classmethod
    def of(cls, row: LossRow) -> LossRowOutput:
        return cls(
            kind=row.kind,
            name=row.name,
            feeds=[FeedInput(community=community, building=building) for community, building in row.feeds],
            season=LossOutput.of(row.season),
            days=[LossDayOutput(day=day, **LossOutput.of(loss).model_dump()) for day, loss in row.days],
        )


class HeatLossOutput(BaseModel):
    season: str
    threshold_percent: Decimal
    items: list[LossRowOutput]

    @classmethod
    def of(cls, report: HeatLossReport) -> HeatLossOutput:
        return cls(
            season=report.season_code,
            threshold_percent=report.threshold_percent,
            items=[LossRowOutput.of(row) for row in report.rows],
        )


class PositionOutput(BaseModel):
    position: str = Field(description="vertical/horizontal, e.g. top/west_end")
    flats: int
    energy_gj: Decimal
    area_m2: Decimal
    unit_consumption_gj_per_m2: Decimal | None
    table_coefficient: Decimal
    suggested_coefficient: Decimal | None
    spread: Decimal | None


class FloorOutput(BaseModel):
    floor: int
    flats: int
    energy_gj: Decimal
    area_m2: Decimal
    unit_consumption_gj_per_m2: Decimal | None


class FairnessOutput(BaseModel):
    season: str
    community: str | None
    positions: list[PositionOutput]
    floors: list[FloorOutput]

    @classmethod
    def of(cls, report: FairnessReport) -> FairnessOutput:
        return cls(
            season=report.season_code,
            community=report.community,
            positions=[PositionOutput.model_validate(row, from_attributes=True) for row in report.positions],
            floors=[FloorOutput.model_validate(row, from_attributes=True) for row in report.floors],
        )


class CollectionFiguresOutput(BaseModel):
    households: int
    charged_yuan: Decimal
    collected_yuan: Decimal
    arrears_yuan: Decimal
    rate_percent: Decimal | None

    @classmethod
    def of(cls, figures: CollectionFigures | None) -> CollectionFiguresOutput | None:
        return None if figures is None else cls.model_validate(figures, from_attributes=True)


class CollectionPlaceOutput(BaseModel):
    community: str
    building: str = Field(description="Empty on a community's row")
    season: CollectionFiguresOutput | None
    previous_season: CollectionFiguresOutput | None


class CollectionOutput(BaseModel):
    season: str
    previous_season: str
    communities: list[CollectionPlaceOutput]
    buildings: list[CollectionPlaceOutput]
