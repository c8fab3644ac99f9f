"""Heat far beyond a meter's permissible error: a clerk's decision about an interval, and a
household's intervals awaiting one (domain/implausible_heat.py, docs/tariff-rules.md)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import uuid4

from fastapi import Query, Response

from api.auth import Caller, Reader
from api.dependencies import ContainerDependency, Ledger
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.billing import season_of
from api.routers.households import AccountNumberPath
from api.routers.meters import SerialPath
from api.schemas.heat_decisions import (
    HeatDecisionOutput,
    HeatDecisionRequest,
    ImplausibleIntervalList,
    ImplausibleIntervalOutput,
)

router = resource_router("", "billing")

DECISION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The same decision was in force already: nothing was recorded"},
    **problem_responses(401, 403, 404, 409, 422),
}


@router.post(
    "/meters/{serial}/heat-decisions",
    status_code=201,
    operation_id="decide_implausible_heat",
    response_model=HeatDecisionOutput,
    responses=DECISION_RESPONSES,
)
def decide_implausible_heat(
    serial: SerialPath,
    body: HeatDecisionRequest,
    caller: Caller,
    container: ContainerDependency,
    response: Response,
) -> HeatDecisionOutput:
    """Decide about an interval whose heat fails the k·Δθ·ΔV check far beyond the meter class's
    permissible error (clerks and administrators): `bill_as_measured`, `estimate` (the interval
    is billed by an estimate from the meter's own history or its building, like a faulty interval)
    or `hold` (the household stays an exception of settlement runs until decided otherwise).

    Answers 201 with the evidence when the decision is recorded, 200 when the same decision was in
    force already (nothing is recorded twice). An interval not far beyond the permissible error,
    or an empty reason, is a 422; an unknown meter or interval a 404; an interval that cannot be
    estimated (no history, no building figures) a 409. A season settled already is not re-billed.
    """
    outcome = container.heat_decisions.decide(
        caller, serial, body.interval_start, body.decision, body.reason, correlation_id=uuid4()
    )
    if not outcome.recorded:
        response.status_code = 200
    return HeatDecisionOutput.from_outcome(outcome)


@router.get(
    "/households/{account_number}/implausible-intervals",
    operation_id="list_household_implausible_intervals",
    response_model=ImplausibleIntervalList,
    responses=problem_responses(401, 403, 404, 422),
)
def list_household_implausible_intervals(
    account_number: AccountNumberPath,
    season: Annotated[str, Query(pattern=r"^\d{4}-\d{4}$", description="A heating season", examples=["2025-2026"])],
    reader: Reader,
    ledger: Ledger,
    container: ContainerDependency,
) -> ImplausibleIntervalList:
    """The household's intervals in the season whose heat is far beyond the permissible error, oldest
    first, each with the decision in force (none: it stops the household's settlement)."""
    household = ledger.household(account_number)
    found_season = season_of(season, "query")
    intervals = container.billing.inputs.implausible_intervals(
        [household.id], found_season.first_day, found_season.last_day
    )
    return ImplausibleIntervalList(
        items=[ImplausibleIntervalOutput.from_interval(item) for item in intervals.get(household.id, ())]
    )
