"""Loads the demo community into a ledger through the same commands a clerk and a concentrator use.

Idempotent: what already exists (a household, a meter, an attachment, a suspension) is skipped,
and readings sent again come back as duplicates, so an interrupted load can simply run again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from application.authorization import Principal, Role
from application.ledger import HeatLedger
from domain.errors import ConflictError, NotFoundError
from domain.values import CustomerClass
from infrastructure.demo.model import DemoCommunity, DemoFlat, DemoMeter, DemoUpload

SUSPENSION_REASON = "报停 at the household's request"
# (what is being done, steps done, steps in all)
LoadProgress = Callable[[str, int, int], None]


@dataclass
class LoadReport:
    """What a load did: new master data, and the outcome of every reading sent."""

    households_registered: int = 0
    meters_commissioned: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejection_reasons: Counter[str] = field(default_factory=Counter)


def concentrator(community: DemoCommunity, building: str) -> Principal:
    """The device principal of a building's concentrator: the actor on its readings."""
    return Principal(name=f"concentrator:{community.code}-{building}", role=Role.DEVICE)


def is_loaded(ledger: HeatLedger, community: DemoCommunity) -> bool:
    """True when the last household exists and the last building meter holds the last reading."""
    last_building = community.buildings[-1]
    last_reading = community.uploads[-1].items[-1].values.measured_at
    try:
        ledger.household(last_building.flats[-1].household.account_number)
        latest = ledger.meter(last_building.meter.serial).latest_reading
    except NotFoundError:
        return False
    return latest is not None and latest.measured_at >= last_reading


def load_community(
    ledger: HeatLedger, community: DemoCommunity, operator: Principal, progress: LoadProgress | None = None
) -> LoadReport:
    """Register, commission, attach and suspend as a clerk would, then send every upload."""
    report = LoadReport()
    flats = [flat for building in community.buildings for flat in building.flats]
    total = len(flats) + len(community.buildings) + len(community.uploads)
    done = 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(what, done, total)

    for flat in flats:
        _set_up_flat(ledger, flat, operator, report)
        step("households and meters")
    for building in community.buildings:
        _commission(ledger, building.meter, operator, report)
        step("building meters")
    for upload in community.uploads:
        _send(ledger, community, upload, operator, report)
        step(f"readings of {upload.day.isoformat()}")
    return report


def _set_up_flat(ledger: HeatLedger, flat: DemoFlat, operator: Principal, report: LoadReport) -> None:
    household = flat.household
    try:
        ledger.register_household(
            operator,
            household.account_number,
            household.address,
            household.areas,
            CustomerClass.RESIDENTIAL,
            household.position,
            household.registered_on,
            reason="demo community",
        )
        report.households_registered += 1
    except ConflictError:
        pass
    _commission(ledger, flat.meter, operator, report)
    with suppress(ConflictError):  # already attached
        ledger.attach_meter(operator, household.account_number, flat.meter.serial, flat.meter.commissioned_at)
    if household.suspended_on is not None:
        with suppress(ConflictError):  # already suspended
            ledger.suspend_heating(operator, household.account_number, household.suspended_on, SUSPENSION_REASON)


def _commission(ledger: HeatLedger, meter: DemoMeter, operator: Principal, report: LoadReport) -> None:
    try:
        ledger.commission_meter(
            operator,
            meter.serial,
            meter.maker,
            meter.model,
            meter.accuracy_class,
            meter.flow_sensor_side,
            meter.kind,
            meter.commissioned_at,
            community=meter.community,
            building=meter.building,
            permanent_flow_m3_h=meter.permanent_flow_m3_h,
            reason="demo community",
        )
        report.meters_commissioned += 1
    except ConflictError:
        pass


def _send(
    ledger: HeatLedger, community: DemoCommunity, upload: DemoUpload, operator: Principal, report: LoadReport
) -> None:
    batch = ledger.record_readings(
        concentrator(community, upload.building), upload.items, reason=f"demo upload started by {operator.name}"
    )
    report.accepted += batch.accepted
    report.duplicates += batch.duplicates
    report.rejected += batch.rejected
    report.rejection_reasons.update(outcome.reason or "" for outcome in batch.outcomes if outcome.reason)
