"""Community analytics (issue 15): the season's settings, the substations, and the reports the
company shows its board and its price bureau: unit consumption, saving against area-based supply,
revenue both ways, who pays more or less, network heat loss, position fairness, collection.

Every role that reads the ledger reads the reports (auditors and regulators included); settings
are recorded by administrators, substations by those who manage meters.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote
from uuid import uuid4

from fastapi import Path, Query, Response

from api.auth import Caller, Reader
from api.dependencies import ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.billing import SeasonPath, season_of
from api.schemas.common import NAME_MAX_LENGTH
from api.schemas.reports import (
    BaselineOutput,
    CollectionFiguresOutput,
    CollectionOutput,
    CollectionPlaceOutput,
    FairnessOutput,
    HeatLossOutput,
    PlacesOutput,
    SettingInput,
    SubstationConfigurationInput,
    SubstationInput,
    SubstationOutput,
)
from application.analytics_reports import CollectionReport
from application.authorization import Permission
from domain.substation import Feed
from infrastructure.report_export import (
    COLLECTION_COLUMNS,
    LOSS_COLUMNS,
    PLACE_COLUMNS,
    POSITION_COLUMNS,
    Column,
    csv_bytes,
    xlsx_bytes,
)

router = resource_router("/reports", "reports")

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CommunityQuery = Annotated[str | None, Query(max_length=NAME_MAX_LENGTH, description="One community; default: all")]
SubstationPath = Annotated[str, Path(max_length=NAME_MAX_LENGTH, description="The substation's name")]


class Grouping(StrEnum):
    COMMUNITY = "community"
    BUILDING = "building"
    CUSTOMER_CLASS = "customer_class"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


class ReportName(StrEnum):
    PLACES = "places"
    HEAT_LOSS = "heat-loss"
    POSITION_FAIRNESS = "position-fairness"
    COLLECTION = "collection"


# -- settings --------------------------------------------------------------------------------------


@router.post(
    "/settings/{season}",
    operation_id="record_report_setting",
    response_model=BaselineOutput,
    responses=problem_responses(401, 403, 422),
)
def record_report_setting(
    season: SeasonPath, setting: SettingInput, caller: Caller, container: ContainerDependency
) -> BaselineOutput:
    """Record a season's setting from a day (administrators): the company's average unit
    consumption, a heat source's purchase price, or the heat-loss threshold. Records are never
    edited: a new value from its day is a new record."""
    caller.require(Permission.MANAGE_TARIFFS)
    baseline = container.analytics_settings.record_setting(
        caller,
        season_of(season, "path").code,
        setting.setting,
        setting.value,
        setting.effective_on,
        setting.reason,
        heat_source=setting.heat_source,
        correlation_id=uuid4(),
    )
    return BaselineOutput.of(baseline)


@router.get(
    "/settings/{season}",
    operation_id="get_report_settings",
    response_model=BaselineOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_report_settings(season: SeasonPath, reader: Reader, container: ContainerDependency) -> BaselineOutput:
    """A season's settings, every record with who set it and why (404 before the first)."""
    return BaselineOutput.of(container.analytics_settings.baseline(season_of(season, "path").code))


# -- substations -------------------------------------------------------------------------------------


def _feeds(body: SubstationConfigurationInput) -> list[Feed]:
    return [Feed(feed.community, feed.building) for feed in body.feeds]


@router.post(
    "/substations",
    status_code=201,
    operation_id="register_substation",
    response_model=SubstationOutput,
    responses=problem_responses(401, 403, 409, 422),
)
def register_substation(
    body: SubstationInput, caller: Caller, container: ContainerDependency, response: Response
) -> SubstationOutput:
    """Register a substation: its heat source, its primary-side meter and the places it feeds
    (whole communities, or buildings of one) from a day. 409 when the name is taken."""
    caller.require(Permission.MANAGE_METERS)
    substation = container.analytics_settings.register_substation(
        caller, body.name, body.effective_on, body.heat_source, body.meter_serial, _feeds(body), body.reason, uuid4()
    )
    response.headers["Location"] = f"/reports/substations/{quote(substation.name, safe='')}"
    return SubstationOutput.of(substation)


@router.post(
    "/substations/{name}/configurations",
    operation_id="reconfigure_substation",
    response_model=SubstationOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def reconfigure_substation(
    name: SubstationPath, body: SubstationConfigurationInput, caller: Caller, container: ContainerDependency
) -> SubstationOutput:
    """A substation's new configuration from a day after its latest one (409 otherwise)."""
    caller.require(Permission.MANAGE_METERS)
    substation = container.analytics_settings.reconfigure_substation(
        caller, name, body.effective_on, body.heat_source, body.meter_serial, _feeds(body), body.reason, uuid4()
    )
    return SubstationOutput.of(substation)


@router.get(
    "/substations/{name}",
    operation_id="get_substation",
    response_model=SubstationOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_substation(name: SubstationPath, reader: Reader, container: ContainerDependency) -> SubstationOutput:
    """A substation with every configuration it had."""
    return SubstationOutput.of(container.analytics_settings.substation(name))


# -- reports ----------------------------------------------------------------------------------------


@router.get(
    "/places/{season}",
    operation_id="get_place_report",
    response_model=PlacesOutput,
    responses=problem_responses(401, 403, 422),
)
def get_place_report(
    season: SeasonPath,
    reader: Reader,
    container: ContainerDependency,
    grouping: Annotated[Grouping, Query(description="community, building or customer_class")] = Grouping.COMMUNITY,
    community: CommunityQuery = None,
) -> PlacesOutput:
    """Per community (building, customer class) and for the city: heat per m² of connected and of
    heated area against the company's average, the heat saved against area-based supply and the
    area it could connect, receivable, purchase cost, profit and margin metered and by area, and
    the households paying less or more under metering than by area."""
    return PlacesOutput.of(_places(container, reader, season, grouping, community))


@router.get(
    "/heat-loss/{season}",
    operation_id="get_heat_loss_report",
    response_model=HeatLossOutput,
    responses=problem_responses(401, 403, 422),
)
def get_heat_loss_report(
    season: SeasonPath,
    reader: Reader,
    container: ContainerDependency,
    daily: Annotated[bool, Query(description="Also each day of the season")] = False,
) -> HeatLossOutput:
    """Each substation's meter against the household meters of the places it fed (day by day, on
    the configuration in force), and each building meter against its building's household meters:
    GJ lost, % of the fed heat (1 decimal), flagged above the season's threshold."""
    report = container.analytics_reports.heat_loss(reader, season_of(season, "path").code, daily)
    return HeatLossOutput.of(report)


@router.get(
    "/position-fairness/{season}",
    operation_id="get_position_fairness_report",
    response_model=FairnessOutput,
    responses=problem_responses(401, 403, 422),
)
def get_position_fairness_report(
    season: SeasonPath, reader: Reader, container: ContainerDependency, community: CommunityQuery = None
) -> FairnessOutput:
    """Heat per m² by position and by floor against the city tariff's coefficient table: the
    coefficients the data suggests (in the table's scale), their spread and the flats behind each."""
    report = container.analytics_reports.position_fairness(reader, season_of(season, "path").code, community)
    return FairnessOutput.of(report)


@router.get(
    "/collection/{season}",
    operation_id="get_collection_report",
    response_model=CollectionOutput,
    responses=problem_responses(401, 403, 422),
)
def get_collection_report(season: SeasonPath, reader: Reader, container: ContainerDependency) -> CollectionOutput:
    """Collection rate and arrears per community and building, beside the season before."""
    return _collection_output(container.analytics_reports.collection(reader, season_of(season, "path").code))


@router.get(
    "/{report}/{season}/export",
    operation_id="export_report",
    responses={
        200: {"content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}}, "description": "The file"},
        **problem_responses(401, 403, 422),
    },
    response_class=Response,
)
def export_report(
    report: ReportName,
    season: SeasonPath,
    reader: Reader,
    container: ContainerDependency,
    file_format: Annotated[ExportFormat, Query(alias="format", description="csv or xlsx")] = ExportFormat.CSV,
    grouping: Annotated[Grouping, Query(description="For places only")] = Grouping.COMMUNITY,
) -> Response:
    """A report as CSV (UTF-8 with a byte-order mark) or XLSX, with Chinese headers."""
    columns, rows = _export_rows(container, reader, report, season, grouping)
    name = f"{report.value}-{season}"
    if file_format is ExportFormat.XLSX:
        return Response(
            xlsx_bytes(name[:31], columns, rows),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(
        csv_bytes(columns, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


# -- helpers ----------------------------------------------------------------------------------------


def _places(container: ContainerDependency, reader: Any, season: str, grouping: Grouping, community: str | None) -> Any:
    return container.analytics_reports.places(reader, season_of(season, "path").code, grouping.value, community)


def _collection_output(report: CollectionReport) -> CollectionOutput:
    def places(pairs: Any) -> list[CollectionPlaceOutput]:
        return [
            CollectionPlaceOutput(
                community=(current or previous).key[0],
                building=(current or previous).key[1],
                season=CollectionFiguresOutput.of(current),
                previous_season=CollectionFiguresOutput.of(previous),
            )
            for current, previous in pairs
        ]

    return CollectionOutput(
        season=report.season_code,
        previous_season=report.previous_season_code,
        communities=places(report.communities),
        buildings=places(report.buildings),
    )


def _export_rows(
    container: ContainerDependency, reader: Any, report: ReportName, season: str, grouping: Grouping
) -> tuple[list[Column], list[dict[str, Any]]]:
    code = season_of(season, "path").code
    reports = container.analytics_reports
    if report is ReportName.PLACES:
        places = PlacesOutput.of(reports.places(reader, code, grouping.value)).model_dump(mode="json")
        return PLACE_COLUMNS, [*places["items"], places["total"]]
    if report is ReportName.HEAT_LOSS:
        return LOSS_COLUMNS, HeatLossOutput.of(reports.heat_loss(reader, code)).model_dump(mode="json")["items"]
    if report is ReportName.POSITION_FAIRNESS:
        fairness = FairnessOutput.of(reports.position_fairness(reader, code)).model_dump(mode="json")
        return POSITION_COLUMNS, fairness["positions"]
    collection = _collection_output(reports.collection(reader, code)).model_dump(mode="json")
    return COLLECTION_COLUMNS, [*collection["communities"], *collection["buildings"]]
