"""Monitoring: the lists a clerk works through each morning — what did not get in (quarantined
frames, unknown meters, rejected readings) and which meters need a visit (silent, implausible,
faulty). Reads only; every role that may read the ledger may read them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Query, Response

from api.auth import Reader
from api.dependencies import Intake, LedgerNow, Monitoring, PreferredLanguage
from api.messages import Language, render
from api.problems import RequestRuleError, problem_responses
from api.routers import resource_router
from api.schemas.common import KEY_MAX_LENGTH, NAME_MAX_LENGTH, IsoDate
from api.schemas.monitoring import (
    FaultyMeterOutput,
    FaultyMeterPage,
    ImplausibleIntervalOutput,
    ImplausibleIntervalPage,
    LimitBreachOutput,
    LimitBreachPage,
    QuarantinedFrameOutput,
    QuarantinePage,
    RejectedReadingOutput,
    RejectedReadingPage,
    SilentMeterOutput,
    SilentMeterPage,
    UnknownMeterOutput,
    UnknownMeterPage,
)
from domain.day_split import BUSINESS_TIME_ZONE
from infrastructure.intake import Channel
from projections.monitoring_queries import MAXIMUM_MONITORING_PAGE

router = resource_router("/monitoring", "monitoring")

MAXIMUM_OFFSET = 10_000_000
DEFAULT_SILENT_DAYS = 3
MAXIMUM_SILENT_DAYS = 365
REASON_MAX_LENGTH = 64

Limit = Annotated[int, Query(ge=1, le=MAXIMUM_MONITORING_PAGE, description="Items per page, at most 500")]
Offset = Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET, description="Items to skip")]
Community = Annotated[str | None, Query(max_length=NAME_MAX_LENGTH, description="Only meters in this community")]


def describe_rejection(
    reason: str,
    message_key: str | None,
    params: Mapping[str, Any],
    meter_serial: str,
    fallback: str,
    language: Language,
) -> str:
    """A rejected reading's message in the caller's language, as ``POST /readings/batches`` gives it."""
    values = {"meter_serial": meter_serial, **params}
    return render([message_key or reason, reason], values, language, fallback or reason)


def say_language(response: Response, language: Language) -> None:
    """Mark a response whose messages are in ``language`` (and vary with Accept-Language)."""
    response.headers["Content-Language"] = language.value
    response.headers["Vary"] = "Accept-Language"


@router.get(
    "/quarantine",
    operation_id="list_quarantined_frames",
    response_model=QuarantinePage,
    responses=problem_responses(401, 403, 422),
)
def list_quarantined_frames(reader: Reader, intake: Intake, limit: Limit = 50, offset: Offset = 0) -> QuarantinePage:
    """Data that reached the ledger but did not become a reading, newest first.

    Frames from concentrators, NB-IoT pushes or Modbus polls that name no meter the ledger
    knows (`reason` `unknown_meter`), or that could not be decoded. Each keeps when and through
    which channel it came, the identification and manufacturer it states, what the decoder
    found (`detail`) and the data as received. Nothing here is a reading of the ledger: commission
    the meter (or fix the device) and have the data sent again.
    """
    frames, total = intake.quarantined(limit, offset)
    return QuarantinePage(
        items=[QuarantinedFrameOutput.from_frame(frame) for frame in frames], total=total, limit=limit, offset=offset
    )


@router.get(
    "/unknown-meters",
    operation_id="list_unknown_meters",
    response_model=UnknownMeterPage,
    responses=problem_responses(401, 403, 422),
)
def list_unknown_meters(
    reader: Reader, monitoring: Monitoring, limit: Limit = 50, offset: Offset = 0
) -> UnknownMeterPage:
    """The quarantined frames grouped by the meter identification they state, most recently seen
    first: how many frames each sent and when it was first and last heard.

    A meter installed in the field but never commissioned in the ledger shows up here day after
    day; commission it under its serial number and its next frames become readings.
    """
    page = monitoring.unknown_meters(limit, offset)
    items = [UnknownMeterOutput.from_record(record) for record in page.items]
    return UnknownMeterPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/rejected-readings",
    operation_id="list_rejected_readings",
    response_model=RejectedReadingPage,
    responses=problem_responses(401, 403, 422),
)
def list_rejected_readings(
    reader: Reader,
    monitoring: Monitoring,
    language: PreferredLanguage,
    response: Response,
    meter_serial: Annotated[str | None, Query(max_length=KEY_MAX_LENGTH, description="Only this meter")] = None,
    reason: Annotated[
        str | None, Query(max_length=REASON_MAX_LENGTH, description="Only this rule, e.g. register_backwards")
    ] = None,
    channel: Annotated[Channel | None, Query(description="Only readings that came this way")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RejectedReadingPage:
    """Readings the ledger refused, newest first, each with the rule it broke and the message in
    the caller's language — the same judgement `POST /readings/batches` answered with, kept for
    follow-up whichever channel the reading came through (API, CSV, M-Bus, NB-IoT, uploads…).
    """
    page = monitoring.rejected_readings(meter_serial, reason, channel.value if channel else None, limit, offset)
    items = [
        RejectedReadingOutput.from_record(
            record,
            describe_rejection(
                record.reason, record.message_key, record.params, record.meter_serial, record.message, language
            ),
        )
        for record in page.items
    ]
    say_language(response, language)
    return RejectedReadingPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/silent-meters",
    operation_id="list_silent_meters",
    response_model=SilentMeterPage,
    responses=problem_responses(401, 403, 422),
)
def list_silent_meters(
    reader: Reader,
    monitoring: Monitoring,
    now: LedgerNow,
    days: Annotated[
        int, Query(ge=1, le=MAXIMUM_SILENT_DAYS, description="Silent for more than this many days (1…365)")
    ] = DEFAULT_SILENT_DAYS,
    community: Community = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> SilentMeterPage:
    """Meters in service whose newest reading is more than `days` days old, or that never reported
    in the `days` days since their commissioning; the most recently silent first.

    A daily NB-IoT meter three days quiet has lost its radio, its battery or its concentrator;
    many silent meters in one building point at the concentrator. Household meters count only
    while they serve a household; decommissioned meters not at all.
    """
    page = monitoring.silent_meters(now, days, community, limit, offset)
    items = [SilentMeterOutput.from_record(record) for record in page.items]
    return SilentMeterPage(as_of=now, days=days, items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/implausible-intervals",
    operation_id="list_implausible_intervals",
    response_model=ImplausibleIntervalPage,
    responses=problem_responses(401, 403, 422),
)
def list_implausible_intervals(
    reader: Reader,
    monitoring: Monitoring,
    from_day: Annotated[
        IsoDate | None, Query(alias="from", description="First business day (Asia/Shanghai) the intervals touch")
    ] = None,
    to_day: Annotated[IsoDate | None, Query(alias="to", description="Last business day the intervals touch")] = None,
    community: Community = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ImplausibleIntervalPage:
    """Intervals between readings whose registered energy disagrees with k·Δθ·ΔV (from the volume
    and mean temperatures) by more than the meter's maximum permissible error; the latest first.

    A meter that keeps failing the check may have a drifting temperature sensor pair or a
    blocked flow sensor: a candidate for verification (JJG 225). The range keeps intervals that
    overlap the business days `from`…`to` (both inclusive; each optional).
    """
    start, end = _business_range(from_day, to_day)
    page = monitoring.implausible_intervals(start, end, community, limit, offset)
    items = [ImplausibleIntervalOutput.from_record(record) for record in page.items]
    return ImplausibleIntervalPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/limit-breaches",
    operation_id="list_limit_breaches",
    response_model=LimitBreachPage,
    responses=problem_responses(401, 403, 422),
)
def list_limit_breaches(
    reader: Reader,
    monitoring: Monitoring,
    from_day: Annotated[
        IsoDate | None,
        Query(alias="from", description="First business day (Asia/Shanghai) of the readings and intervals"),
    ] = None,
    to_day: Annotated[IsoDate | None, Query(alias="to", description="Last business day")] = None,
    community: Community = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> LimitBreachPage:
    """Readings and intervals beyond their meter model's rated limits (q_p, q_s, θ_min…θ_max,
    Δθ_min, declared at commissioning), each with the rules it breaks; the latest first.

    They are recorded (and billed as measured) like any reading: the list is what a clerk checks,
    a meter that keeps appearing is a candidate for a visit or a verification. The range keeps
    readings on, and intervals overlapping, the business days `from`…`to` (both inclusive).
    """
    start, end = _business_range(from_day, to_day)
    page = monitoring.limit_breaches(start, end, community, limit, offset)
    items = [LimitBreachOutput.from_record(record) for record in page.items]
    return LimitBreachPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/faulty-meters",
    operation_id="list_faulty_meters",
    response_model=FaultyMeterPage,
    responses=problem_responses(401, 403, 422),
)
def list_faulty_meters(
    reader: Reader, monitoring: Monitoring, community: Community = None, limit: Limit = 50, offset: Offset = 0
) -> FaultyMeterPage:
    """Meters in service that report error flags in their newest reading (since `fault_since`),
    or whose newest reading carries a sensor fault value; the most recent fault first.

    Intervals bounded by a faulty reading are not billable, so these meters need a visit before
    the statement run.
    """
    page = monitoring.faulty_meters(community, limit, offset)
    items = [FaultyMeterOutput.from_record(record) for record in page.items]
    return FaultyMeterPage(items=items, total=page.total, limit=limit, offset=offset)


def _business_range(from_day: date | None, to_day: date | None) -> tuple[datetime | None, datetime | None]:
    """The UTC instants from the first business day's midnight to the midnight after the last."""
    if from_day is not None and to_day is not None and from_day > to_day:
        raise RequestRuleError(
            "range_reversed",
            "the start date lies after the end date",
            field="from",
            from_day=from_day.isoformat(),
            to_day=to_day.isoformat(),
        )
    start = datetime.combine(from_day, time(0), BUSINESS_TIME_ZONE) if from_day is not None else None
    end = datetime.combine(to_day + timedelta(days=1), time(0), BUSINESS_TIME_ZONE) if to_day is not None else None
    return start, end
