"""Reads of disputes: one dispute with its steps, lists by state, category, community, household
and age, what a household's open disputes hold; and the look-ups the dispute use cases make in
the read models (``SqlDisputeLookups``: bills, payments, recorded verifications, withdrawn
readings).

A dispute's age is the days it has been open: from its opening day to the day it was closed, or
to ``today`` while it is open (business days, Asia/Shanghai).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, and_, bindparam, func, or_, select

from application.disputes import BillRef, PaymentRef, RecordedVerification, WithdrawnReading
from domain import ids
from domain.dispute import OPEN_STATES
from domain.dispute_hold import DisputeHold
from domain.verification import JudgedPoint
from projections.queries import MAXIMUM_PAGE_SIZE, Page
from projections.tables import (
    bills,
    dispute_steps,
    disputes,
    household_disputed_amounts,
    household_protections,
    meter_verifications,
    payments,
    reading_corrections,
)

ZERO_YUAN = Decimal("0.00")
# Ages beyond this are typing errors (ten years).
MAXIMUM_AGE_DAYS = 3650


@dataclass(frozen=True)
class DisputeRecord:
    """A dispute as it stands (the ``disputes`` row)."""

    dispute_id: UUID
    reference: str
    household_id: UUID
    account_number: str
    community: str
    building: str
    subject_kind: str
    season_code: str
    bill_id: UUID | None
    bill_number: str
    meter_serial: str
    measured_at: datetime | None
    payment_id: UUID | None
    payment_reference: str
    category: str
    description: str
    disputed_amount_yuan: Decimal
    channel: str
    state: str
    opened_by: str
    opened_on: date
    opened_at: datetime
    first_response_at: datetime | None
    last_step_at: datetime
    steps: int
    recompute_bill_id: UUID | None
    recompute_bill_number: str | None
    recompute_difference_yuan: Decimal | None
    proposed_outcome: str | None
    proposed_amount_yuan: Decimal | None
    proposed_by: str | None
    proposed_at: datetime | None
    note_amount_yuan: Decimal | None
    note_bill_id: UUID | None
    note_number: str | None
    approved_by: str | None
    closed_by: str | None
    closed_at: datetime | None
    closed_on: date | None
    days_open: int | None
    closing_reason: str | None
    version: int

    def age_days(self, today: date) -> int:
        """Days open: to the closing day, or to ``today`` while open."""
        if self.days_open is not None:
            return self.days_open
        return max((today - self.opened_on).days, 0)


@dataclass(frozen=True)
class DisputeStepRecord:
    """One event of a dispute: its kind, when it was recorded, who, why, and its details."""

    version: int
    kind: str
    recorded_at: datetime
    actor: str
    reason: str
    correlation_id: UUID
    details: dict[str, Any]


@dataclass(frozen=True)
class DisputeFilter:
    """Which disputes a list shows (each criterion optional). ``open_only``: those not yet closed."""

    state: str | None = None
    open_only: bool = False
    category: str | None = None
    community: str | None = None
    household_id: UUID | None = None
    minimum_age_days: int | None = None
    maximum_age_days: int | None = None


class DisputeQueries:
    """Dispute reads from the read models on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def dispute(self, dispute_id: UUID) -> DisputeRecord | None:
        """The dispute with this id, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(disputes).where(disputes.c.dispute_id == dispute_id)).mappings().first()
        return DisputeRecord(**row) if row else None

    def steps(self, dispute_id: UUID) -> list[DisputeStepRecord]:
        """Every event of the dispute, in order (a dispute has at most a few hundred)."""
        statement = (
            select(dispute_steps).where(dispute_steps.c.dispute_id == dispute_id).order_by(dispute_steps.c.version)
        )
        with self.engine.connect() as connection:
            return [
                DisputeStepRecord(
                    version=row.version,
                    kind=row.kind,
                    recorded_at=row.recorded_at,
                    actor=row.actor,
                    reason=row.reason,
                    correlation_id=row.correlation_id,
                    details=json.loads(row.details),
                )
                for row in connection.execute(statement)
            ]

    def disputes(
        self, selection: DisputeFilter, today: date, limit: int = MAXIMUM_PAGE_SIZE, offset: int = 0
    ) -> Page[DisputeRecord]:
        """Disputes matching ``selection`` (ages counted to ``today``), the oldest opened first."""
        conditions = _conditions(selection, today)
        page = (
            select(disputes)
            .where(*conditions)
            .order_by(disputes.c.opened_at, disputes.c.dispute_id)
            .limit(min(max(limit, 1), MAXIMUM_PAGE_SIZE))
            .offset(max(offset, 0))
        )
        total = select(func.count()).select_from(disputes).where(*conditions)
        with self.engine.connect() as connection:
            items = [DisputeRecord(**row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)

    def hold_of(self, household_id: UUID) -> DisputeHold:
        """What the household's open disputes hold (from its own events: also in a view as known)."""
        arguments = {"household_id": household_id}
        with self.engine.connect() as connection:
            open_disputes = connection.execute(_OPEN_DISPUTES_OF_HOUSEHOLD, arguments).scalar_one_or_none()
            amounts = connection.execute(_DISPUTED_AMOUNTS_OF_HOUSEHOLD, arguments).one()
        count = int(open_disputes or 0)
        with_amount, disputed = int(amounts[0] or 0), Decimal(amounts[1] or 0).quantize(ZERO_YUAN)
        # An open dispute without an amount row is an old dispute flag: it holds everything.
        return DisputeHold(count, None if count > with_amount else disputed)


# Built once with a bound parameter: every GET /households/{account}/account asks them (issue 17),
# and a statement built per call is traversed for its cache key on every execution.
_OPEN_DISPUTES_OF_HOUSEHOLD = select(household_protections.c.open_disputes).where(
    household_protections.c.household_id == bindparam("household_id")
)
_DISPUTED_AMOUNTS_OF_HOUSEHOLD = select(func.count(), func.sum(household_disputed_amounts.c.disputed_yuan)).where(
    household_disputed_amounts.c.household_id == bindparam("household_id")
)


def _conditions(selection: DisputeFilter, today: date) -> list[ColumnElement[bool]]:
    columns = disputes.c
    conditions: list[ColumnElement[bool]] = []
    if selection.state is not None:
        conditions.append(columns.state == selection.state)
    if selection.open_only:
        conditions.append(columns.state.in_(sorted(state.value for state in OPEN_STATES)))
    if selection.category is not None:
        conditions.append(columns.category == selection.category)
    if selection.community is not None:
        conditions.append(columns.community == selection.community)
    if selection.household_id is not None:
        conditions.append(columns.household_id == selection.household_id)
    if selection.minimum_age_days is not None:
        days = min(selection.minimum_age_days, MAXIMUM_AGE_DAYS)
        conditions.append(
            or_(
                and_(columns.days_open.is_(None), columns.opened_on <= today - timedelta(days=days)),
                columns.days_open >= days,
            )
        )
    if selection.maximum_age_days is not None:
        days = min(selection.maximum_age_days, MAXIMUM_AGE_DAYS)
        conditions.append(
            or_(
                and_(columns.days_open.is_(None), columns.opened_on >= today - timedelta(days=days)),
                columns.days_open <= days,
            )
        )
    return conditions


class SqlDisputeLookups:
    """The read-model look-ups of the dispute use cases (``application.disputes.DisputeLookups``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def bill(self, bill_id: UUID) -> BillRef | None:
        columns = bills.c
        statement = select(columns.bill_id, columns.household_id, columns.season_code, columns.number, columns.kind)
        with self.engine.connect() as connection:
            row = connection.execute(statement.where(columns.bill_id == bill_id)).first()
        return BillRef(row.bill_id, row.household_id, row.season_code, row.number, row.kind) if row else None

    def payment(self, payment_id: UUID) -> PaymentRef | None:
        columns = payments.c
        statement = select(columns.payment_id, columns.household_id, columns.received_on)
        with self.engine.connect() as connection:
            row = connection.execute(statement.where(columns.payment_id == payment_id)).first()
        return PaymentRef(row.payment_id, row.household_id, row.received_on) if row else None

    def verification(self, meter_serial: str, verified_on: date, certificate: str) -> RecordedVerification | None:
        """The meter's verification of that day and certificate (the latest recorded, if several)."""
        columns = meter_verifications.c
        statement = (
            select(meter_verifications)
            .where(
                columns.meter_id == ids.meter_id(meter_serial),
                columns.verified_on == verified_on,
                columns.certificate == certificate,
            )
            .order_by(columns.version.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(statement).mappings().first()
        if row is None:
            return None
        points = tuple(
            JudgedPoint(
                Decimal(point["flow_rate_m3_h"]),
                Decimal(point["temperature_difference_k"]),
                Decimal(point["measured_error_percent"]),
                Decimal(point["permissible_error_percent"]),
                bool(point["passed"]),
            )
            for point in json.loads(row["points"])
        )
        return RecordedVerification(row["version"], row["verified_on"], row["certificate"], row["passed"], points)

    def withdrawn_readings(self, meter_serial: str, measured_at: datetime) -> list[WithdrawnReading]:
        """The readings of the meter at exactly ``measured_at`` withdrawn so far, in order."""
        columns = reading_corrections.c
        statement = (
            select(columns.measured_at, columns.source, columns.correlation_id)
            .where(columns.meter_id == ids.meter_id(meter_serial), columns.measured_at == measured_at)
            .order_by(columns.version)
        )
        with self.engine.connect() as connection:
            return [
                WithdrawnReading(row.measured_at, row.source, row.correlation_id)
                for row in connection.execute(statement)
            ]
