"""The read models of room controllers and their commands (issue 14), from the RoomController's
events (domain/valve.py): which controllers a household has, every command as it stands (for the
lists by state, and for the gateway to find devices with work), and their queries.

Reports are not here: the room-telemetry read models (temperatures, valve hours, device health)
are built by ``projections.room_telemetry``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    and_,
    func,
    insert,
    select,
    update,
)

from domain.valve import RoomController
from domain.valve_commands import CommandPolicy, CommandState
from projections.tables import metadata
from projections.types import UtcDateTime

# The most rows one list returns.
MAXIMUM_LISTED = 500

room_controllers = Table(
    "room_controllers",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("controller_id", Uuid, nullable=False, unique=True),
    Column("household_id", Uuid, nullable=False, index=True),
    Column("account_number", String(64), nullable=False, index=True),
    Column("gears", Integer, nullable=False),
    Column("installed_at", UtcDateTime, nullable=False),
    Column("installed_by", String(128), nullable=False),
)

valve_commands = Table(
    "valve_commands",
    metadata,
    Column("command_id", String(64), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("account_number", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("params", Text, nullable=False),  # JSON, numbers as text
    Column("policy", String(32), nullable=False),
    Column("needs_approval", Boolean, nullable=False),
    Column("state", String(16), nullable=False),
    # Waiting in the device's queue: ready to send, or sent and unanswered.
    Column("queued", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("approved_by", String(128), nullable=True),
    Column("last_dispatched_at", UtcDateTime, nullable=True),
    Column("answered_at", UtcDateTime, nullable=True),
    Column("refusal_code", String(64), nullable=True),
    Column("superseded_by", String(64), nullable=True),
    Column("confirmed_by_report", String(64), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_valve_commands_device", "device_id", "requested_at"),
    Index("ix_valve_commands_state", "state", "requested_at"),
    Index("ix_valve_commands_queued", "queued", "requested_at"),
)

VALVE_TABLES = (valve_commands, room_controllers)


# -- handlers -----------------------------------------------------------------------------------


def _installed(connection: Connection, event: RoomController.Installed) -> None:
    connection.execute(
        insert(room_controllers).values(
            device_id=event.device_id,
            controller_id=event.originator_id,
            household_id=event.household_id,
            account_number=event.account_number,
            gears=event.gears,
            installed_at=event.installed_at,
            installed_by=event.actor,
        )
    )


def _device_of(connection: Connection, controller_id: UUID) -> tuple[str, str]:
    row = connection.execute(
        select(room_controllers.c.device_id, room_controllers.c.account_number).where(
            room_controllers.c.controller_id == controller_id
        )
    ).one()
    return row.device_id, row.account_number


def _requested(connection: Connection, event: RoomController.CommandRequested) -> None:
    device_id, account_number = _device_of(connection, event.originator_id)
    connection.execute(
        insert(valve_commands).values(
            command_id=event.command_id,
            device_id=device_id,
            account_number=account_number,
            kind=event.kind,
            params=json.dumps({name: str(value) for name, value in event.params.items()}, sort_keys=True),
            policy=event.policy,
            needs_approval=event.needs_approval,
            state=CommandState.REQUESTED.value,
            queued=not event.needs_approval,
            attempts=0,
            reason=event.reason,
            requested_by=event.actor,
            requested_at=event.requested_at,
            updated_at=event.timestamp,
        )
    )


def _set(connection: Connection, event: Any, **values: Any) -> None:
    connection.execute(
        update(valve_commands)
        .where(valve_commands.c.command_id == event.command_id)
        .values(**values, updated_at=event.timestamp)
    )


def _approved(connection: Connection, event: RoomController.CommandApproved) -> None:
    _set(connection, event, state=CommandState.APPROVED.value, queued=True, approved_by=event.actor)


def _superseded(connection: Connection, event: RoomController.CommandSuperseded) -> None:
    _set(
        connection,
        event,
        state=CommandState.SUPERSEDED.value,
        queued=False,
        superseded_by=event.superseded_by,
        answered_at=event.superseded_at,
    )


def _dispatched(connection: Connection, event: RoomController.CommandDispatched) -> None:
    _set(
        connection,
        event,
        state=CommandState.DISPATCHED.value,
        attempts=event.attempt,
        last_dispatched_at=event.dispatched_at,
    )


def _acknowledged(connection: Connection, event: RoomController.CommandAcknowledged) -> None:
    _set(connection, event, state=CommandState.ACKNOWLEDGED.value, queued=False, answered_at=event.acknowledged_at)


def _refused(connection: Connection, event: RoomController.CommandRefused) -> None:
    _set(
        connection,
        event,
        state=CommandState.REFUSED.value,
        queued=False,
        refusal_code=event.code,
        answered_at=event.refused_at,
    )


def _timed_out(connection: Connection, event: RoomController.CommandTimedOut) -> None:
    _set(connection, event, state=CommandState.TIMED_OUT.value, queued=False, answered_at=event.timed_out_at)


def _confirmed(connection: Connection, event: RoomController.CommandConfirmed) -> None:
    _set(connection, event, state=CommandState.CONFIRMED.value, confirmed_by_report=event.report_id)


VALVE_HANDLERS: dict[type[Any], Callable[[Connection, Any], None]] = {
    RoomController.Installed: _installed,
    RoomController.CommandRequested: _requested,
    RoomController.CommandApproved: _approved,
    RoomController.CommandSuperseded: _superseded,
    RoomController.CommandDispatched: _dispatched,
    RoomController.CommandAcknowledged: _acknowledged,
    RoomController.CommandRefused: _refused,
    RoomController.CommandTimedOut: _timed_out,
    RoomController.CommandConfirmed: _confirmed,
}


# -- queries ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ControllerRow:
    device_id: str
    controller_id: UUID
    household_id: UUID
    account_number: str
    gears: int
    installed_at: datetime
    installed_by: str


@dataclass(frozen=True)
class CommandRow:
    command_id: str
    device_id: str
    account_number: str
    kind: str
    params: dict[str, str]
    policy: str
    needs_approval: bool
    state: str
    attempts: int
    reason: str
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    last_dispatched_at: datetime | None
    answered_at: datetime | None
    refusal_code: str | None
    superseded_by: str | None
    confirmed_by_report: str | None


class ValveQueries:
    """Reads of the controllers and commands read models; also the gateway's ``CommandQueueReader``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def devices_with_queued_commands(self, limit: int) -> Sequence[str]:
        """Devices with a command ready to send or sent and unanswered, the longest waiting first."""
        oldest = func.min(valve_commands.c.requested_at)
        statement = (
            select(valve_commands.c.device_id)
            .where(valve_commands.c.queued.is_(True))
            .group_by(valve_commands.c.device_id)
            .order_by(oldest, valve_commands.c.device_id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(statement).scalars())

    def controllers_of(self, account_number: str) -> list[ControllerRow]:
        """The controllers installed in a household, in the order they were installed."""
        statement = (
            select(room_controllers)
            .where(room_controllers.c.account_number == account_number)
            .order_by(room_controllers.c.installed_at, room_controllers.c.device_id)
            .limit(MAXIMUM_LISTED)
        )
        with self.engine.connect() as connection:
            return [ControllerRow(**row._mapping) for row in connection.execute(statement)]

    def devices_of(self, account_number: str) -> list[str]:
        """The device ids installed in a household."""
        return [row.device_id for row in self.controllers_of(account_number)]

    def arrears_restricted_devices(self) -> list[tuple[str, str]]:
        """(device id, account number) of the controllers whose latest arrears command (restriction
        or lift, by when it was requested) is a restriction."""
        arrears = valve_commands.c.policy.in_(
            [CommandPolicy.ARREARS_RESTRICTION.value, CommandPolicy.ARREARS_LIFT.value]
        )
        latest = (
            select(valve_commands.c.device_id, func.max(valve_commands.c.requested_at).label("requested_at"))
            .where(arrears)
            .group_by(valve_commands.c.device_id)
            .subquery()
        )
        statement = (
            select(valve_commands.c.device_id, valve_commands.c.account_number)
            .join(
                latest,
                and_(
                    latest.c.device_id == valve_commands.c.device_id,
                    latest.c.requested_at == valve_commands.c.requested_at,
                ),
            )
            .where(arrears, valve_commands.c.policy == CommandPolicy.ARREARS_RESTRICTION.value)
            .distinct()
        )
        with self.engine.connect() as connection:
            return [(row.device_id, row.account_number) for row in connection.execute(statement)]

    def commands(
        self,
        device_id: str | None = None,
        states: Sequence[str] = (),
        awaiting_approval: bool = False,
        limit: int = MAXIMUM_LISTED,
    ) -> list[CommandRow]:
        """Commands, newest first: of one device and/or in the given states; ``awaiting_approval``
        keeps the requested ones that wait for a second person."""
        conditions = []
        if device_id is not None:
            conditions.append(valve_commands.c.device_id == device_id)
        if states:
            conditions.append(valve_commands.c.state.in_(list(states)))
        if awaiting_approval:
            conditions.append(
                and_(valve_commands.c.state == CommandState.REQUESTED.value, valve_commands.c.needs_approval.is_(True))
            )
        statement = (
            select(valve_commands)
            .where(*conditions)
            .order_by(valve_commands.c.requested_at.desc(), valve_commands.c.command_id)
            .limit(max(1, min(limit, MAXIMUM_LISTED)))
        )
        with self.engine.connect() as connection:
            return [_command_row(row._mapping) for row in connection.execute(statement)]


def _command_row(mapping: Any) -> CommandRow:
    values = {column: mapping[column] for column in CommandRow.__dataclass_fields__ if column != "params"}
    return CommandRow(params=json.loads(mapping["params"]), **values)
