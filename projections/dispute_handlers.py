"""Projection handlers of disputes: the ``disputes`` row as each dispute stands, and one
``dispute_steps`` row per event (its kind, when it was recorded, who, why, and its details).

The first response is the first step's recording time after the opening (any investigation step,
a note to the household, a resolution); ``opened_on`` and ``closed_on`` are the business days the
events carry (the ledger's clock, Asia/Shanghai), ``days_open`` the days from one to the other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, case, insert, select, update

from domain.dispute import Dispute, DisputeState, ResolutionOutcome
from projections.tables import dispute_steps, disputes

# Event fields every step has as columns, not details.
_COMMON_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "reason", "correlation_id"}
)


def step_kind(event: Any) -> str:
    """``ResolutionProposed`` → ``resolution_proposed``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


def _plain(value: Any) -> Any:
    """A payload value as JSON-ready data: text for decimals, ids, dates and times."""
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def details_of(event: Any) -> dict[str, Any]:
    """The event's own fields (beside who, why, when) as JSON-ready data."""
    return {name: _plain(value) for name, value in vars(event).items() if name not in _COMMON_FIELDS}


def _add_step(connection: Connection, event: Any) -> None:
    connection.execute(
        insert(dispute_steps).values(
            dispute_id=event.originator_id,
            version=event.originator_version,
            kind=step_kind(event),
            recorded_at=event.timestamp,
            actor=event.actor,
            reason=event.reason,
            correlation_id=event.correlation_id,
            details=json.dumps(details_of(event), ensure_ascii=False, sort_keys=True),
        )
    )


def _update(connection: Connection, event: Any, **values: Any) -> None:
    """Apply ``values`` to the dispute's row with the step's bookkeeping (the first response when
    the event is one, the step count, the last step's time, the version)."""
    columns = disputes.c
    if event.RESPONDS:
        values["first_response_at"] = case(
            (columns.first_response_at.is_(None), event.timestamp), else_=columns.first_response_at
        )
    connection.execute(
        update(disputes)
        .where(columns.dispute_id == event.originator_id)
        .values(
            steps=columns.steps + 1,
            last_step_at=event.timestamp,
            version=event.originator_version,
            **values,
        )
    )
    _add_step(connection, event)


def _closed(connection: Connection, event: Any, state: str, **values: Any) -> None:
    opened_on = connection.execute(
        select(disputes.c.opened_on).where(disputes.c.dispute_id == event.originator_id)
    ).scalar_one()
    closed_on: date = event.closed_on
    _update(
        connection,
        event,
        state=state,
        closed_by=event.actor,
        closed_at=event.timestamp,
        closed_on=closed_on,
        days_open=(closed_on - _as_date(opened_on)).days,
        closing_reason=event.reason,
        **values,
    )


def opened(connection: Connection, event: Dispute.Opened) -> None:
    connection.execute(
        insert(disputes).values(
            dispute_id=event.originator_id,
            reference=event.reference,
            household_id=event.household_id,
            account_number=event.account_number,
            community=event.community,
            building=event.building,
            subject_kind=event.subject_kind,
            season_code=event.season_code,
            bill_id=event.bill_id,
            bill_number=event.bill_number,
            meter_serial=event.meter_serial,
            measured_at=event.measured_at,
            payment_id=event.payment_id,
            payment_reference=event.payment_reference,
            category=event.category,
            description=event.description,
            disputed_amount_yuan=event.disputed_amount_yuan,
            channel=event.channel,
            state=DisputeState.OPEN.value,
            opened_by=event.actor,
            opened_on=event.opened_on,
            opened_at=event.timestamp,
            first_response_at=None,
            last_step_at=event.timestamp,
            steps=0,
            version=event.originator_version,
        )
    )
    _add_step(connection, event)


def investigated(connection: Connection, event: Any) -> None:
    """Any investigation step or note: the dispute is being investigated (once past ``open``)."""
    columns = disputes.c
    state = case((columns.state == DisputeState.OPEN.value, DisputeState.INVESTIGATING.value), else_=columns.state)
    _update(connection, event, state=state)


def recompute_attached(connection: Connection, event: Dispute.RecomputeAttached) -> None:
    _update(
        connection,
        event,
        state=DisputeState.INVESTIGATING.value,
        recompute_bill_id=event.bill_id,
        recompute_bill_number=event.bill_number,
        recompute_difference_yuan=event.difference_yuan,
    )


def resolution_proposed(connection: Connection, event: Dispute.ResolutionProposed) -> None:
    _update(
        connection,
        event,
        state=DisputeState.RESOLUTION_PROPOSED.value,
        proposed_outcome=event.outcome,
        proposed_amount_yuan=event.note_amount_yuan,
        proposed_by=event.actor,
        proposed_at=event.timestamp,
    )


def resolution_refused(connection: Connection, event: Dispute.ResolutionRefused) -> None:
    _update(
        connection,
        event,
        state=DisputeState.INVESTIGATING.value,
        proposed_outcome=None,
        proposed_amount_yuan=None,
        proposed_by=None,
        proposed_at=None,
    )


def resolved(connection: Connection, event: Dispute.Resolved) -> None:
    _closed(
        connection,
        event,
        _resolved_state(event.outcome),
        note_amount_yuan=event.note_amount_yuan,
        note_bill_id=event.note_bill_id,
        note_number=event.note_number or None,
    )


def resolution_approved(connection: Connection, event: Dispute.ResolutionApproved) -> None:
    outcome = connection.execute(
        select(disputes.c.proposed_outcome).where(disputes.c.dispute_id == event.originator_id)
    ).scalar_one()
    _closed(
        connection,
        event,
        _resolved_state(outcome),
        approved_by=event.actor,
        note_amount_yuan=event.note_amount_yuan,
        note_bill_id=event.note_bill_id,
        note_number=event.note_number or None,
    )


def rejected(connection: Connection, event: Dispute.Rejected) -> None:
    _closed(connection, event, DisputeState.REJECTED.value)


def withdrawn(connection: Connection, event: Dispute.Withdrawn) -> None:
    _closed(connection, event, DisputeState.WITHDRAWN.value)


def _resolved_state(outcome: str) -> str:
    upheld = outcome == ResolutionOutcome.UPHELD.value
    return (DisputeState.RESOLVED_UPHELD if upheld else DisputeState.RESOLVED_PARTLY).value


def _as_date(value: date | str) -> date:
    """A Date column read back inside the batch's transaction (text on SQLite in some reads)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


DISPUTE_HANDLERS: dict[type[Any], Callable[[Connection, Any], UUID | None]] = {
    Dispute.Opened: opened,
    Dispute.VerificationRequested: investigated,
    Dispute.VerificationResultRecorded: investigated,
    Dispute.SiteVisited: investigated,
    Dispute.ReadingCorrected: investigated,
    Dispute.EstimateReplaced: investigated,
    Dispute.HouseholdInformed: investigated,
    Dispute.RecomputeAttached: recompute_attached,
    Dispute.ResolutionProposed: resolution_proposed,
    Dispute.ResolutionRefused: resolution_refused,
    Dispute.ResolutionApproved: resolution_approved,
    Dispute.Resolved: resolved,
    Dispute.Rejected: rejected,
    Dispute.Withdrawn: withdrawn,
}
