"""What the meters pages show (/ui/meters): the search, one meter with its facts, heat by day and its
energy register, its readings, the withdrawn readings, its verifications, and the intervals of its
household whose heat is far beyond the permissible error.

Every read is the API's own: the page calls the same endpoint functions (``api.routers.meters``,
``lifecycle``, ``consumption``, ``heat_decisions``) with the signed-in user as the reader, so a
page shows what ``GET /meters/…`` answers, laid out for a person, and refuses what the API
refuses (an unknown serial is a 404). Charts are ECharts options built here as plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from api.i18n import Language, translate
from api.routers import consumption as consumption_routes
from api.routers import heat_decisions as heat_decision_routes
from api.routers import lifecycle as lifecycle_routes
from api.routers import meters as meter_routes
from api.schemas.consumption import MeterConsumption
from api.schemas.heat_decisions import ImplausibleIntervalOutput
from api.schemas.lifecycle import CorrectionOutput, VerificationOutput
from api.schemas.meters import MeterDetail, MeterFilter
from api.schemas.readings import ReadingOutput
from api.web.pages.casework_common import FormRefusal
from api.web.pages.disputes_data import Paging
from application.authorization import Principal
from domain.day_split import BUSINESS_TIME_ZONE
from domain.errors import NotFoundError
from domain.season import current_or_last_season
from domain.values import MeterKind
from infrastructure.container import Container
from projections.page_queries import RequestLedgerQueries
from projections.queries import Granularity, LedgerQueries, MeterState

PAGE_SIZE = 50
SEARCH_FIELDS = ("search", "community", "building", "kind", "state")
# The register line of a meter's chart: its newest readings in the season, at most one API page
# (a daily meter's season is 151 readings; an hourly meter shows its last six weeks).
REGISTER_READINGS_DRAWN = 1000
ONE_MICROSECOND = timedelta(microseconds=1)


def queries_of(container: Container) -> LedgerQueries:
    """The read models, as the API's ``Queries`` dependency makes them, for one page's reads: the
    endpoint functions it calls find the meter (or household) once between them, not once each
    (a meter's page called four; ``projections.page_queries``). Make one per page, after any
    command: it remembers what it looked up."""
    return RequestLedgerQueries(LedgerQueries(container.engine))


def filled(values: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """The named fields that hold text, trimmed (a form sends blank fields, a query leaves them out)."""
    found = {name: str(values.get(name, "")).strip() for name in names}
    return {name: value for name, value in found.items() if value}


def meter_state(meter: MeterDetail) -> str:
    """How the page names where a meter stands: ``decommissioned``, ``faulty`` (error flags or a
    fault now), ``attached`` (serving a household or placed in a building) or ``unattached``."""
    if meter.decommissioned_at is not None:
        return "decommissioned"
    if meter.error_flags or meter.fault_since is not None:
        return "faulty"
    if meter.household_account_number is not None or meter.kind != MeterKind.HOUSEHOLD.value:
        return "attached"
    return "unattached"


# -- the search -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    """A page of meters found, the filters as typed, and why the filters were refused, if they were."""

    values: dict[str, str]
    rows: list[MeterDetail]
    paging: Paging
    refusal: FormRefusal


def search(
    container: Container, reader: Principal, values: Mapping[str, str], page: int, language: Language
) -> SearchResult:
    """The meters matching the search form (``GET /meters`` with the same filters); filters the
    schema refuses find nothing and say why beside their field."""
    typed = filled(values, SEARCH_FIELDS)
    try:
        filters = MeterFilter.model_validate(typed)
    except ValidationError as error:
        return SearchResult(typed, [], Paging(1, 0), FormRefusal.of(error, language))
    paging = Paging(page, 0)
    found = meter_routes.list_meters(reader, queries_of(container), filters, PAGE_SIZE, paging.offset)
    return SearchResult(typed, found.items, Paging(page, found.total), FormRefusal(status=200))


def search_choices() -> dict[str, list[str]]:
    """The kinds and states the search offers."""
    return {"kinds": [kind.value for kind in MeterKind], "states": [state.value for state in MeterState]}


# -- one meter ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterView:
    """A meter's page: the meter, a page of its readings, its heat by day and its register."""

    meter: MeterDetail
    readings: list[ReadingOutput]
    paging: Paging
    consumption: MeterConsumption
    chart: dict[str, Any]
    intervals: list[ImplausibleIntervalOutput]

    @property
    def state(self) -> str:
        return meter_state(self.meter)

    @property
    def serves_household(self) -> bool:
        return self.meter.household_account_number is not None

    @property
    def in_service(self) -> bool:
        return self.meter.decommissioned_at is None

    @property
    def awaits_household(self) -> bool:
        """A household meter in service serving no household: it may be attached (fitted)."""
        return self.in_service and not self.serves_household and self.meter.kind == MeterKind.HOUSEHOLD.value


def meter_detail(container: Container, reader: Principal, serial: str) -> MeterDetail:
    """``GET /meters/{serial}`` (a 404 page for an unknown serial)."""
    return meter_routes.get_meter(serial, reader, queries_of(container))


def meter_view(
    container: Container, reader: Principal, serial: str, page: int, today: date, language: Language
) -> MeterView:
    """Everything the meter's page shows, each part the answer of the API's own endpoint."""
    queries = queries_of(container)
    meter = meter_routes.get_meter(serial, reader, queries)
    paging = Paging(page, 0)
    readings = meter_routes.list_meter_readings(serial, reader, queries, PAGE_SIZE, paging.offset, None)
    day_range = consumption_routes.consumption_range(today, Granularity.DAY, None, None)
    consumption = consumption_routes.get_meter_consumption(serial, reader, queries, day_range)
    register = register_readings(queries, meter, day_range.first_day, day_range.last_day)
    return MeterView(
        meter=meter,
        readings=readings.items,
        paging=Paging(page, readings.total),
        consumption=consumption,
        chart=meter_chart(consumption, register, language),
        intervals=far_beyond_error(container, reader, meter, today),
    )


def register_readings(
    queries: LedgerQueries, meter: MeterDetail, first_day: date, last_day: date
) -> list[ReadingOutput]:
    """The meter's readings on the business days ``first_day``…``last_day``, oldest first (the
    newest ``REGISTER_READINGS_DRAWN`` of them), through the readings endpoint's own query."""
    record = meter_routes.require_meter(queries, meter.serial)
    start = business_midnight(first_day)
    page = queries.readings(
        record.meter_id, REGISTER_READINGS_DRAWN, 0, business_midnight(last_day + timedelta(days=1))
    )
    kept = [ReadingOutput.from_record(reading) for reading in page.items if reading.measured_at >= start]
    return list(reversed(kept))


def business_midnight(day: date) -> datetime:
    """The first moment of a business day in Asia/Shanghai."""
    return datetime(day.year, day.month, day.day, tzinfo=BUSINESS_TIME_ZONE)


def far_beyond_error(
    container: Container, reader: Principal, meter: MeterDetail, today: date
) -> list[ImplausibleIntervalOutput]:
    """The intervals of this meter, in its household's season to date, whose heat is far beyond the
    permissible error (``GET /households/{account}/implausible-intervals``), with the decision in
    force; none for a meter serving no household."""
    account = meter.household_account_number
    if account is None:
        return []
    season = current_or_last_season(today).code
    found = heat_decision_routes.list_household_implausible_intervals(
        account, season, reader, container.ledger, container
    )
    return [interval for interval in found.items if interval.evidence.meter_serial == meter.serial]


def reading_at(container: Container, reader: Principal, serial: str, measured_at: datetime) -> ReadingOutput:
    """The meter's reading measured exactly at ``measured_at`` (the readings endpoint's keyset
    query continued just after it); a 404 page when there is none."""
    queries = queries_of(container)
    meter_routes.get_meter(serial, reader, queries)  # the reader may read meters, and this one exists
    record = meter_routes.require_meter(queries, serial)
    page = queries.readings(record.meter_id, 1, 0, measured_at + ONE_MICROSECOND)
    if not page.items or page.items[0].measured_at != measured_at:
        raise NotFoundError(
            f"no reading of meter {serial} at {measured_at.isoformat()}",
            kind="reading",
            key=f"{serial} {measured_at.isoformat()}",
        )
    return ReadingOutput.from_record(page.items[0])


def corrections_page(
    container: Container, reader: Principal, serial: str, page: int
) -> tuple[list[CorrectionOutput], Paging]:
    """A page of the readings withdrawn from the meter (``GET /meters/{serial}/corrections``)."""
    paging = Paging(page, 0)
    found = lifecycle_routes.list_meter_corrections(serial, reader, queries_of(container), PAGE_SIZE, paging.offset)
    return found.items, Paging(page, found.total)


def verifications_page(
    container: Container, reader: Principal, serial: str, page: int
) -> tuple[list[VerificationOutput], Paging]:
    """A page of the meter's verifications (``GET /meters/{serial}/verifications``)."""
    paging = Paging(page, 0)
    found = lifecycle_routes.list_meter_verifications(serial, reader, queries_of(container), PAGE_SIZE, paging.offset)
    return found.items, Paging(page, found.total)


# -- the chart --------------------------------------------------------------------------------------


def meter_chart(consumption: MeterConsumption, register: list[ReadingOutput], language: Language) -> dict[str, Any]:
    """An ECharts option: heat per business day as bars (left axis) and the energy register as a
    line (right axis) on one time axis.

    The chart draws; it does not count: its values are floats of the API's exact figures, which
    the tables show as they are. Times are milliseconds since the epoch (a day's bar at its
    midnight in Asia/Shanghai), so the browser places both series alike."""
    daily = translate("web.meters.chart.daily", language)
    registered = translate("web.meters.chart.register", language)
    bars = [[_epoch_ms(business_midnight(period.first_day)), float(period.energy_gj)] for period in consumption.periods]
    line = [[_epoch_ms(reading.measured_at), float(reading.energy_gj)] for reading in register]
    return {
        "aria": {"enabled": True},
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [daily, registered], "top": 0},
        "grid": {"left": 64, "right": 72, "top": 40, "bottom": 32},
        "xAxis": {"type": "time"},
        "yAxis": [
            {"type": "value", "name": translate("web.meters.chart.daily_unit", language)},
            {"type": "value", "name": translate("web.meters.chart.register_unit", language), "scale": True},
        ],
        "series": [
            {"name": daily, "type": "bar", "data": bars, "yAxisIndex": 0},
            {"name": registered, "type": "line", "data": line, "yAxisIndex": 1, "showSymbol": False, "step": False},
        ],
    }


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
