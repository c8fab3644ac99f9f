"""What the community analytics pages show (issue 15): the API's own report route functions
(``api.routers.reports``) called with the page's principal, a page of each table, and the ECharts
options of the charts. Figures are laid out for a person here, never computed: every figure is
the API's (``application.analytics_reports``); the charts draw the same figures as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from api.routers import reports as reports_api
from api.schemas.reports import (
    BaselineOutput,
    CollectionOutput,
    FairnessOutput,
    HeatLossOutput,
    LossRowOutput,
    PlaceOutput,
    PlacesOutput,
)
from api.web.pages.arrears_data import PAGE_SIZE, Pages, offset_of
from application.authorization import Principal
from domain.errors import NotFoundError
from infrastructure.container import Container

GROUPINGS = tuple(grouping.value for grouping in reports_api.Grouping)
REPORTS = tuple(report.value for report in reports_api.ReportName)
# Charts compare at most this many places side by side (the table pages through all of them).
MAXIMUM_CHART_PLACES = 30
LESS_COLOUR, SAME_COLOUR, MORE_COLOUR = "#15803d", "#64748b", "#b91c1c"
METERED_COLOUR, AREA_COLOUR = "#1d4ed8", "#d97706"
FLAG_COLOUR, NORMAL_COLOUR = "#b91c1c", "#0f766e"


def page_of(items: list[Any], page: int) -> tuple[list[Any], Pages]:
    """The rows of page ``page`` (50 a page) and where it sits."""
    start = offset_of(page)
    return items[start : start + PAGE_SIZE], Pages(page, start + PAGE_SIZE < len(items), len(items))


def _number(value: Decimal | None) -> float | None:
    # ECharts takes numbers; the tables beside each chart show the exact figures.
    return None if value is None else float(value)


def place_name(row: PlaceOutput) -> str:
    return " ".join(row.key)


# -- places: unit consumption, saving, revenue both ways, who pays more or less --------------------


@dataclass(frozen=True)
class PlacesView:
    report: PlacesOutput
    rows: list[PlaceOutput]
    pages: Pages
    fees_chart: dict[str, Any]
    margins_chart: dict[str, Any]
    unit_chart: dict[str, Any]


def places_view(
    container: Container,
    principal: Principal,
    season: str,
    grouping: str,
    community: str | None,
    page: int,
    names: dict[str, str],
) -> PlacesView:
    """``GET /reports/places/{season}`` with its charts (``names``: the series' names)."""
    report = reports_api.get_place_report(season, principal, container, reports_api.Grouping(grouping), community)
    rows, pages = page_of(report.items, page)
    charted = report.items[:MAXIMUM_CHART_PLACES]
    return PlacesView(
        report,
        rows,
        pages,
        fees_chart(charted, names),
        margins_chart(charted, names),
        unit_chart(charted, report.average_gj_per_m2, names),
    )


def _category_chart(places: list[PlaceOutput], series: list[dict[str, Any]], unit: str) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 70, "right": 20, "top": 36, "bottom": 60},
        "xAxis": {"type": "category", "data": [place_name(row) for row in places], "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value", "name": unit},
        "series": series,
    }


def fees_chart(places: list[PlaceOutput], names: dict[str, str]) -> dict[str, Any]:
    """Who pays less, the same and more under metering than by area: households per place, stacked."""
    series = [
        {
            "name": names[key],
            "type": "bar",
            "stack": "households",
            "barMaxWidth": 60,
            "itemStyle": {"color": colour},
            "data": [getattr(row.fees, key) for row in places],
        }
        for key, colour in (
            ("paying_less", LESS_COLOUR),
            ("paying_the_same", SAME_COLOUR),
            ("paying_more", MORE_COLOUR),
        )
    ]
    return _category_chart(places, series, names["households"])


def margins_chart(places: list[PlaceOutput], names: dict[str, str]) -> dict[str, Any]:
    """Margin % metered against by area, community against community."""
    series = [
        {
            "name": names[way],
            "type": "bar",
            "barMaxWidth": 40,
            "itemStyle": {"color": colour},
            "data": [_number(getattr(row, way).margin_percent) if getattr(row, way) else None for row in places],
        }
        for way, colour in (("metered", METERED_COLOUR), ("area_based", AREA_COLOUR))
    ]
    return _category_chart(places, series, "%")


def unit_chart(places: list[PlaceOutput], average: Decimal | None, names: dict[str, str]) -> dict[str, Any]:
    """GJ/m² of connected area per place, the company's average drawn across."""
    series: dict[str, Any] = {
        "name": names["unit_consumption"],
        "type": "bar",
        "barMaxWidth": 40,
        "itemStyle": {"color": METERED_COLOUR},
        "data": [_number(row.unit_consumption_connected_gj_per_m2) for row in places],
    }
    if average is not None:
        series["markLine"] = {"symbol": "none", "data": [{"yAxis": float(average), "name": names["average"]}]}
    return _category_chart(places, [series], "GJ/m²")


# -- network heat loss --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatLossView:
    report: HeatLossOutput
    rows: list[LossRowOutput]
    pages: Pages
    chosen: LossRowOutput | None
    flagged_days: list[Any]
    chart: dict[str, Any] | None


def heat_loss_view(
    container: Container, principal: Principal, season: str, chosen_name: str | None, page: int, names: dict[str, str]
) -> HeatLossView:
    """``GET /reports/heat-loss/{season}?daily=true``: the season's rows, and one feeding meter's days
    (``chosen_name``, else the first flagged, else the first) as a chart with the flagged days."""
    report = reports_api.get_heat_loss_report(season, principal, container, True)
    rows, pages = page_of(report.items, page)
    chosen = next((row for row in report.items if row.name == chosen_name), None) or next(
        (row for row in report.items if row.season.flagged), report.items[0] if report.items else None
    )
    if chosen is None:
        return HeatLossView(report, rows, pages, None, [], None)
    flagged = [day for day in chosen.days if day.flagged]
    return HeatLossView(report, rows, pages, chosen, flagged, loss_chart(chosen, report.threshold_percent, names))


def loss_chart(row: LossRowOutput, threshold: Decimal, names: dict[str, str]) -> dict[str, Any]:
    """A feeding meter's loss % per day, flagged days in red, the threshold drawn across."""
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 60, "right": 20, "top": 30, "bottom": 50},
        "xAxis": {"type": "category", "data": [day.day.isoformat() for day in row.days]},
        "yAxis": {"type": "value", "name": "%"},
        "dataZoom": [{"type": "inside"}, {"type": "slider", "height": 18, "bottom": 4}],
        "series": [
            {
                "name": names["loss_percent"],
                "type": "bar",
                "data": [
                    {
                        "value": _number(day.loss_percent),
                        "itemStyle": {"color": FLAG_COLOUR if day.flagged else NORMAL_COLOUR},
                    }
                    for day in row.days
                ],
                "markLine": {"symbol": "none", "data": [{"yAxis": float(threshold), "name": names["threshold"]}]},
            }
        ],
    }


# -- position fairness and collection ---------------------------------------------------------------


@dataclass(frozen=True)
class FairnessView:
    report: FairnessOutput
    chart: dict[str, Any]


def fairness_view(
    container: Container, principal: Principal, season: str, community: str | None, names: dict[str, str]
) -> FairnessView:
    """``GET /reports/position-fairness/{season}``: the table's coefficient against the suggested one."""
    report = reports_api.get_position_fairness_report(season, principal, container, community)
    series = [
        {
            "name": names[key],
            "type": "bar",
            "barMaxWidth": 40,
            "itemStyle": {"color": colour},
            "data": [_number(getattr(position, key)) for position in report.positions],
        }
        for key, colour in (("table_coefficient", AREA_COLOUR), ("suggested_coefficient", METERED_COLOUR))
    ]
    chart = {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 60, "right": 20, "top": 36, "bottom": 60},
        "xAxis": {"type": "category", "data": [position.position for position in report.positions]},
        "yAxis": {"type": "value"},
        "series": series,
    }
    return FairnessView(report, chart)


@dataclass(frozen=True)
class CollectionView:
    report: CollectionOutput
    buildings: list[Any]
    pages: Pages
    chart: dict[str, Any]


def collection_view(
    container: Container, principal: Principal, season: str, page: int, names: dict[str, str]
) -> CollectionView:
    """``GET /reports/collection/{season}``: rate per community, this season against the one before."""
    report = reports_api.get_collection_report(season, principal, container)
    buildings, pages = page_of(report.buildings, page)
    communities = report.communities[:MAXIMUM_CHART_PLACES]
    series = [
        {
            "name": names[side],
            "type": "bar",
            "barMaxWidth": 40,
            "itemStyle": {"color": colour},
            "data": [
                _number(getattr(row, side).rate_percent) if getattr(row, side) is not None else None
                for row in communities
            ],
        }
        for side, colour in (("previous_season", AREA_COLOUR), ("season", METERED_COLOUR))
    ]
    chart = {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 60, "right": 20, "top": 36, "bottom": 60},
        "xAxis": {"type": "category", "data": [row.community for row in communities]},
        "yAxis": {"type": "value", "name": "%", "max": 100},
        "series": series,
    }
    return CollectionView(report, buildings, pages, chart)


def settings_of(container: Container, principal: Principal, season: str) -> BaselineOutput | None:
    """The season's settings (``GET /reports/settings/{season}``), None before the first."""
    try:
        return reports_api.get_report_settings(season, principal, container)
    except NotFoundError:
        return None
