"""Estimates of missing days: run the estimator, and read a household's estimated share."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict

from api.auth import Caller, Reader
from api.dependencies import BusinessToday, ContainerDependency, Queries
from api.problems import RequestRuleError, problem_responses
from api.routers import resource_router
from api.routers.households import AccountNumberPath, require_household
from api.schemas.common import EnergyText
from application.authorization import Permission
from domain.season import Season, current_or_last_season

router = resource_router("", "estimates")


class EstimationRun(BaseModel):
    """What one run of the estimator did."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "meters_silent": 3,
                    "readings_estimated": 7,
                    "readings_accepted": 7,
                    "faulty_intervals_estimated": 1,
                    "skipped": [],
                }
            ]
        }
    )

    meters_silent: int
    readings_estimated: int
    readings_accepted: int
    faulty_intervals_estimated: int
    skipped: list[dict[str, str]]


class EstimatedShare(BaseModel):
    """How much of a household's season so far rests on estimates."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_number": "BGY-1-1-0601",
                    "season": "2025-2026",
                    "first_day": "2025-11-01",
                    "last_day": "2025-12-10",
                    "estimated_energy_gj": "2.400000",
                    "energy_gj": "12.800000",
                    "estimated_percent": "18.75",
                }
            ]
        }
    )

    account_number: str
    season: str
    first_day: date
    last_day: date
    estimated_energy_gj: EnergyText
    energy_gj: EnergyText
    estimated_percent: Decimal | None


def _season(code: str) -> Season:
    try:
        return Season.from_code(code)
    except ValueError:
        raise RequestRuleError(
            "season_invalid", "a season code looks like 2025-2026", field="season", value=code
        ) from None


@router.post(
    "/estimates/runs",
    operation_id="run_gap_estimation",
    response_model=EstimationRun,
    responses=problem_responses(401, 403),
)
def run_gap_estimation(caller: Caller, container: ContainerDependency) -> EstimationRun:
    """Estimate the missing days of every household meter silent for a whole day or more, and the
    energy of every faulty interval (bounded by a faulty reading) not yet estimated.

    Each missing day gets the meter's own mean over its last 14 measured days, scaled by its
    building's measured heat that day against the same 14 days (the building stands in for the
    degree-days); a meter without history gets the building's heat per m² × its heated area ×
    its position coefficient. The readings are recorded as estimates; the next real reading
    replaces them. Running twice adds nothing. Normally a nightly job runs this.
    """
    caller.require(Permission.SUBMIT_READINGS)
    caller.require(Permission.MANAGE_METERS)
    report = container.estimator.run(caller, container.ledger.clock())
    return EstimationRun(
        meters_silent=report.meters_silent,
        readings_estimated=report.readings_estimated,
        readings_accepted=report.readings_accepted,
        faulty_intervals_estimated=report.faulty_intervals_estimated,
        skipped=[{"meter_serial": serial, "reason": reason} for serial, reason in report.skipped],
    )


@router.get(
    "/households/{account_number}/estimated-share",
    operation_id="get_household_estimated_share",
    response_model=EstimatedShare,
    responses=problem_responses(401, 403, 404, 422),
)
def get_household_estimated_share(
    account_number: AccountNumberPath,
    reader: Reader,
    queries: Queries,
    container: ContainerDependency,
    today: BusinessToday,
    season: Annotated[str | None, Query(description="Season code such as 2025-2026; default: the current")] = None,
) -> EstimatedShare:
    """The household's estimated energy against all its energy in the season so far."""
    household = require_household(queries, account_number)
    chosen = _season(season) if season else current_or_last_season(today)
    last_day = min(chosen.last_day, today)
    estimated, total = container.estimator.estimated_share(household.household_id, chosen.first_day, last_day)
    percent = (estimated / total * 100).quantize(Decimal("0.01"), ROUND_HALF_UP) if total else None
    return EstimatedShare(
        account_number=household.account_number,
        season=chosen.code,
        first_day=chosen.first_day,
        last_day=last_day,
        estimated_energy_gj=estimated,
        energy_gj=total,
        estimated_percent=percent,
    )
