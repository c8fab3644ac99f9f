"""Meter lifecycle and reading corrections: swap a household's meter, decommission a meter,
record and list verifications, withdraw and correct readings, and list the withdrawn ones.

Every write needs ``manage_meters`` (checked by the application) and a reason, except a
verification, whose reason defaults. The routes are documented under the resource they act on:
the swap under households, the rest under meters.
"""

from __future__ import annotations

from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Query

from api.auth import Caller, Reader
from api.dependencies import Ledger, Queries
from api.problems import problem_responses
from api.routers import ExactJSONRoute
from api.routers.households import AccountNumberPath, reason_argument
from api.routers.meters import MAXIMUM_OFFSET, SerialPath, require_meter
from api.schemas.common import CommandReceipt
from api.schemas.lifecycle import (
    CorrectionOutput,
    CorrectionPage,
    JudgedPointOutput,
    MeterDecommissioning,
    MeterReplacement,
    MeterVerificationInput,
    ReadingCorrection,
    ReadingVoid,
    VerificationOutput,
    VerificationPage,
    VerificationRecorded,
)
from domain.verification import TestPoint, judge_points
from projections.queries import MAXIMUM_PAGE_SIZE

router = APIRouter(route_class=ExactJSONRoute)

DEFAULT_HISTORY_PAGE = 50

PageLimit = Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE, description="Entries per page, at most 1000")]
PageOffset = Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET, description="Entries to skip")]


@router.post(
    "/households/{account_number}/meter-replacements",
    tags=["households"],
    operation_id="replace_household_meter",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def replace_household_meter(
    account_number: AccountNumberPath, replacement: MeterReplacement, caller: Caller, ledger: Ledger
) -> CommandReceipt:
    """Swap the household's meter for a commissioned one (换表), at the moment of the final and
    initial readings (both must carry the same `measured_at`).

    The old meter's final reading, its detachment, the new meter's attachment and its initial
    reading are saved together or not at all, so the household's consumption continues across
    the swap without a gap or a double count: up to the swap it is the old meter's, from it the
    new meter's, whatever the new meter's register starts at. An old meter not serving this
    household, or a new one serving another or decommissioned, is a 409; a final or initial
    reading breaking a reading rule is a 422 naming the rule.
    """
    correlation_id = uuid4()
    ledger.replace_meter(
        caller,
        account_number,
        replacement.old_serial,
        replacement.new_serial,
        replacement.final_reading.to_values(),
        replacement.initial_reading.to_values(),
        replacement.reason,
        correlation_id,
    )
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/meters/{serial}/decommissioning",
    tags=["meters"],
    operation_id="decommission_meter",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def decommission_meter(
    serial: SerialPath, decommissioning: MeterDecommissioning, caller: Caller, ledger: Ledger
) -> CommandReceipt:
    """Take a meter out of service for good (停用) from `decommissioned_at` on.

    The meter must serve no household (detach it first, else 409) and the time may not precede
    its commissioning or its newest reading (422). Readings measured later are rejected with
    `after_decommissioning`; a decommissioned meter cannot be attached again (409).
    """
    correlation_id = uuid4()
    ledger.decommission_meter(caller, serial, decommissioning.decommissioned_at, decommissioning.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/meters/{serial}/verifications",
    status_code=201,
    tags=["meters"],
    operation_id="record_meter_verification",
    response_model=VerificationRecorded,
    responses=problem_responses(401, 403, 404, 422),
)
def record_meter_verification(
    serial: SerialPath, verification: MeterVerificationInput, caller: Caller, ledger: Ledger
) -> VerificationRecorded:
    """Record a verification (检定, JJG 225): the error measured at each test point is judged
    against the maximum permissible error of the meter's accuracy class there (EN 1434: flow
    sensor + calculator + temperature pair, with Δθmin = 3 K and the meter's q_p).

    The meter passes when every point is within its MPE. Answers 201 with each point's MPE and
    verdict. No points, more than 50, or a point without a positive flow rate and temperature
    difference is a 422.
    """
    correlation_id = uuid4()
    points = [
        TestPoint(point.flow_rate_m3_h, point.temperature_difference_k, point.measured_error_percent)
        for point in verification.points
    ]
    passed = ledger.record_verification(
        caller,
        serial,
        verification.verified_on,
        verification.certificate,
        points,
        correlation_id=correlation_id,
        **reason_argument(verification.reason),
    )
    # The recorded event holds these same judged points: judging is a pure function of the points
    # and the meter's class and q_p, which no event changes once the meter is commissioned.
    meter = ledger.meter(serial)
    judged = judge_points(points, meter.accuracy_class, meter.permanent_flow_m3_h)
    return VerificationRecorded(
        serial=meter.serial,
        verified_on=verification.verified_on,
        certificate=verification.certificate.strip(),
        passed=passed,
        points=[JudgedPointOutput.from_point(point) for point in judged],
        correlation_id=correlation_id,
    )


@router.get(
    "/meters/{serial}/verifications",
    tags=["meters"],
    operation_id="list_meter_verifications",
    response_model=VerificationPage,
    responses=problem_responses(401, 403, 404, 422),
)
def list_meter_verifications(
    serial: SerialPath,
    reader: Reader,
    queries: Queries,
    limit: PageLimit = DEFAULT_HISTORY_PAGE,
    offset: PageOffset = 0,
) -> VerificationPage:
    """A meter's verifications, the latest verified first, each with its points and verdict."""
    meter = require_meter(queries, serial)
    page = queries.verifications(meter.meter_id, limit, offset)
    return VerificationPage(
        items=[VerificationOutput.from_record(record) for record in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/meters/{serial}/reading-voids",
    tags=["meters"],
    operation_id="void_meter_reading",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def void_meter_reading(serial: SerialPath, void: ReadingVoid, caller: Caller, ledger: Ledger) -> CommandReceipt:
    """Withdraw a reading (作废), with a reason: a compensating event, never an edit.

    The reading leaves the readings list; the intervals it bounded become one interval between
    its neighbours, so the consumption of those days is shared anew. The original stays in
    `GET /meters/{serial}/corrections`. No reading at exactly `measured_at` is a 404; one older
    than the meter's recent window is a 409.
    """
    correlation_id = uuid4()
    ledger.void_reading(caller, serial, void.measured_at, void.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/meters/{serial}/reading-corrections",
    tags=["meters"],
    operation_id="correct_meter_reading",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def correct_meter_reading(
    serial: SerialPath, correction: ReadingCorrection, caller: Caller, ledger: Ledger
) -> CommandReceipt:
    """Replace a reading by corrected values (更正): the original is withdrawn and the corrected
    reading recorded in one step, judged by the same rules as any reading.

    Corrected values that break a rule are a 422 `reading_rejected` naming the rule in
    `params.reason`, and nothing changes. The original stays in the corrections history.
    """
    correlation_id = uuid4()
    ledger.correct_reading(
        caller, serial, correction.measured_at, correction.corrected.to_values(), correction.reason, correlation_id
    )
    return CommandReceipt(correlation_id=correlation_id)


@router.get(
    "/meters/{serial}/corrections",
    tags=["meters"],
    operation_id="list_meter_corrections",
    response_model=CorrectionPage,
    responses=problem_responses(401, 403, 404, 422),
)
def list_meter_corrections(
    serial: SerialPath,
    reader: Reader,
    queries: Queries,
    limit: PageLimit = DEFAULT_HISTORY_PAGE,
    offset: PageOffset = 0,
) -> CorrectionPage:
    """The readings withdrawn from a meter (voided or corrected), the latest withdrawn first,
    each with its original values, who recorded it, and who withdrew it, when and why."""
    meter = require_meter(queries, serial)
    page = queries.corrections(meter.meter_id, limit, offset)
    return CorrectionPage(
        items=[CorrectionOutput.from_record(record) for record in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )
