"""Projection handlers of arrears flags and of what protects a household from one (marked
vulnerable, disputes open). None of them moves money, so none returns a household to reallocate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, delete, insert, select, update

from domain.arrears import ArrearsFlag, FlagStatus
from domain.household import Household
from projections.tables import arrears_flags, household_disputed_amounts, household_protections, households


def flag_raised(connection: Connection, event: ArrearsFlag.Raised) -> None:
    connection.execute(
        insert(arrears_flags).values(
            flag_id=event.originator_id,
            household_id=event.household_id,
            account_number=event.account_number,
            community=event.community,
            building=event.building,
            season_code=event.season_code,
            status=FlagStatus.RAISED.value,
            amount_yuan=event.amount_yuan,
            days_past_due=event.days_past_due,
            raised_by=event.actor,
            approved_by=None,
            withdrawn_by=None,
            withdrawal_kind=None,
            raised_at=event.timestamp,
            decided_at=None,
            times_raised=1,
        )
    )


def flag_raised_again(connection: Connection, event: ArrearsFlag.RaisedAgain) -> None:
    """The row shows the flag as it stands now: raised by the new raiser, with this run's figures;
    the earlier approval and withdrawal are in the flag's history (its events)."""
    connection.execute(
        update(arrears_flags)
        .where(arrears_flags.c.flag_id == event.originator_id)
        .values(
            status=FlagStatus.RAISED.value,
            amount_yuan=event.amount_yuan,
            days_past_due=event.days_past_due,
            raised_by=event.actor,
            approved_by=None,
            withdrawn_by=None,
            withdrawal_kind=None,
            raised_at=event.timestamp,
            decided_at=None,
            times_raised=arrears_flags.c.times_raised + 1,
        )
    )


def _update_flag(connection: Connection, event: Any, **values: Any) -> None:
    connection.execute(
        update(arrears_flags)
        .where(arrears_flags.c.flag_id == event.originator_id)
        .values(decided_at=event.timestamp, **values)
    )


def flag_approved(connection: Connection, event: ArrearsFlag.Approved) -> None:
    _update_flag(connection, event, status=FlagStatus.APPROVED.value, approved_by=event.actor)


def flag_withdrawn(connection: Connection, event: ArrearsFlag.Withdrawn) -> None:
    _update_flag(
        connection, event, status=FlagStatus.WITHDRAWN.value, withdrawn_by=event.actor, withdrawal_kind=event.kind
    )


def _change_protection(connection: Connection, event: Any, **change: Any) -> None:
    """Apply ``change`` (a value or a function of the old value, per column) to the household's row,
    and keep the household's version up to date."""
    household_id: UUID = event.originator_id
    connection.execute(
        update(households).where(households.c.household_id == household_id).values(version=event.originator_version)
    )
    columns = household_protections.c
    row = connection.execute(
        select(columns.vulnerable, columns.open_disputes).where(columns.household_id == household_id)
    ).one_or_none()
    current = {"vulnerable": False, "open_disputes": 0} if row is None else dict(row._mapping)
    values = {name: value(current[name]) if callable(value) else value for name, value in change.items()}
    if row is None:
        connection.execute(insert(household_protections).values(household_id=household_id, **(current | values)))
    else:
        connection.execute(update(household_protections).where(columns.household_id == household_id).values(**values))


def marked_vulnerable(connection: Connection, event: Household.MarkedVulnerable) -> None:
    _change_protection(connection, event, vulnerable=True)


def vulnerability_cleared(connection: Connection, event: Household.VulnerabilityCleared) -> None:
    _change_protection(connection, event, vulnerable=False)


def dispute_opened(connection: Connection, event: Household.DisputeOpened) -> None:
    """Count the dispute; hold its amount (an old flag without an amount has no amount row)."""
    _change_protection(connection, event, open_disputes=lambda count: count + 1)
    if event.dispute_id is not None and event.disputed_amount_yuan is not None:
        connection.execute(
            insert(household_disputed_amounts).values(
                dispute_id=event.dispute_id,
                household_id=event.originator_id,
                disputed_yuan=event.disputed_amount_yuan,
            )
        )


def dispute_closed(connection: Connection, event: Household.DisputeClosed) -> None:
    _change_protection(connection, event, open_disputes=lambda count: count - 1)
    if event.dispute_id is not None:
        connection.execute(
            delete(household_disputed_amounts).where(household_disputed_amounts.c.dispute_id == event.dispute_id)
        )


ARREARS_HANDLERS: dict[type[Any], Callable[[Connection, Any], UUID | None]] = {
    ArrearsFlag.Raised: flag_raised,
    ArrearsFlag.RaisedAgain: flag_raised_again,
    ArrearsFlag.Approved: flag_approved,
    ArrearsFlag.Withdrawn: flag_withdrawn,
    Household.MarkedVulnerable: marked_vulnerable,
    Household.VulnerabilityCleared: vulnerability_cleared,
    Household.DisputeOpened: dispute_opened,
    Household.DisputeClosed: dispute_closed,
}
