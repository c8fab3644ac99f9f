"""The rows of households and meters as their registration events make them, and a writer that
applies a run of those events set-based.

A city's registration (a migration, ``bench.city``'s first step) saves thousands of households
and meters at a time: registered, commissioned, attached to each other, some suspended or passed to
a new holder. Their handlers in ``ledger_projection`` take one to three statements an event (a
server round trip each on PostgreSQL): 330 events/s caught up in ``bench.city`` under load.
``RegistrationBatchWriter`` takes a run of them and writes it with a few statements per table: the
rows the run changes but does not create are read once (one SELECT per table), every event is
applied to them in memory in the order given, and the changed rows are written afresh (the old ones
deleted by key, every changed row inserted by one ``RowsInserter`` statement, COPY on PostgreSQL),
as ``BillBatchWriter`` writes balances. The handlers and the writer take their values from the same
functions below, so both give the same rows (tests/integration/test_registration_batch.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Table, delete, select

from domain.household import Household
from domain.meter import Meter
from projections.balance_rows import BY_UUID_ORDER, insert_rows
from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.tables import household_owner_changes, household_suspensions, households, meters

Row = dict[str, Any]

# Events of a household that change its row (besides ``Registered``, which makes it).
HOUSEHOLD_CHANGES = (
    Household.AreaCorrected,
    Household.HeatingSuspended,
    Household.MeterAttached,
    Household.MeterDetached,
    Household.OwnerChanged,
    Household.Deregistered,
)
METER_CHANGES = (Meter.AttachedToHousehold, Meter.DetachedFromHousehold)
# Every kind the writer takes. Resuming heating (which ends or drops a suspension span) and the
# meters' faults, verifications and corrections stay with their handlers: rare, and reading rows.
KINDS: frozenset[type[Any]] = frozenset({Household.Registered, Meter.Commissioned, *HOUSEHOLD_CHANGES, *METER_CHANGES})


def household_row(event: Household.Registered) -> Row:
    """The households row a registration makes."""
    return dict(
        household_id=event.originator_id,
        account_number=event.account_number,
        community=event.community,
        building=event.building,
        entrance=event.entrance,
        floor=event.floor,
        flat=event.flat,
        connected_area_m2=event.connected_area_m2,
        heated_area_m2=event.heated_area_m2,
        customer_class=event.customer_class,
        vertical_position=event.vertical_position,
        horizontal_position=event.horizontal_position,
        registered_on=event.registered_on,
        heating_suspended=False,
        suspended_since=None,
        deregistered_on=None,
        version=event.originator_version,
    )


def household_changes(event: Any) -> Row:
    """The values one of ``HOUSEHOLD_CHANGES`` (or ``HeatingResumed``) sets in its household's row
    (its version always)."""
    values: Row = {"version": event.originator_version}
    if isinstance(event, Household.AreaCorrected):
        values |= {"connected_area_m2": event.connected_area_m2, "heated_area_m2": event.heated_area_m2}
    elif isinstance(event, Household.HeatingSuspended):
        values |= {"heating_suspended": True, "suspended_since": event.effective_on}
    elif isinstance(event, Household.HeatingResumed):
        values |= {"heating_suspended": False, "suspended_since": None}
    elif isinstance(event, Household.Deregistered):
        values |= {"deregistered_on": event.effective_on}
    return values


def suspension_row(event: Household.HeatingSuspended) -> Row:
    """The open span a suspension starts (``ended_on`` None until heating is resumed)."""
    return dict(household_id=event.originator_id, started_on=event.effective_on, ended_on=None)


def owner_change_row(event: Household.OwnerChanged) -> Row:
    return dict(
        household_id=event.originator_id,
        effective_on=event.effective_on,
        actor=event.actor,
        recorded_at=event.timestamp,
    )


def meter_row(event: Meter.Commissioned) -> Row:
    """The meters row a commissioning makes: no household, no readings, no fault, no verification."""
    return dict(
        meter_id=event.originator_id,
        serial=event.serial,
        maker=event.maker,
        model=event.model,
        accuracy_class=event.accuracy_class,
        flow_sensor_side=event.flow_sensor_side,
        kind=event.kind,
        community=event.community,
        building=event.building,
        commissioned_at=event.commissioned_at,
        household_id=None,
        readings_count=0,
        last_measured_at=None,
        last_energy_gj=None,
        error_flags=0,  # the column's server default, which the handler's INSERT leaves to the database
        fault_since=None,
        decommissioned_at=None,
        last_verified_on=None,
        last_verification_passed=None,
        version=event.originator_version,
        permanent_flow_m3_h=event.permanent_flow_m3_h,
        maximum_flow_m3_h=event.maximum_flow_m3_h,
        minimum_temperature_c=event.minimum_temperature_c,
        maximum_temperature_c=event.maximum_temperature_c,
        minimum_temperature_difference_k=event.minimum_temperature_difference_k,
    )


def meter_changes(event: Any, place: tuple[str, str] | None) -> Row:
    """The values one of ``METER_CHANGES`` sets in its meter's row; ``place`` is the community and
    building of the household a meter is attached to (a meter takes its household's address)."""
    values: Row = {"version": event.originator_version}
    if isinstance(event, Meter.AttachedToHousehold):
        assert place is not None, "an attached meter takes its household's place"
        community, building = place
        values |= {"household_id": event.household_id, "community": community, "building": building}
    else:
        values |= {"household_id": None}
    return values


class TableRows:
    """Rows of one table by key, as a run of events leaves them: those read from the database and
    those the run creates; ``write`` puts back the changed ones (the stored ones deleted by key,
    every changed row inserted in one statement). The payments' writer keeps its rows so too."""

    def __init__(self, table: Table, key: str, lookup_chunk: int) -> None:
        self.table = table
        self.key = key
        self.lookup_chunk = lookup_chunk
        self.rows: dict[UUID, Row] = {}
        self.stored: set[UUID] = set()  # read from the database (to be replaced if changed)
        self.changed: dict[UUID, None] = {}  # created or changed, in first-touched order

    def load(self, connection: Connection, keys: Iterable[UUID]) -> None:
        """Read the rows of ``keys`` not held yet (one SELECT per chunk of keys)."""
        wanted = sorted(set(keys) - self.rows.keys(), key=BY_UUID_ORDER)
        column = self.table.c[self.key]
        for start in range(0, len(wanted), self.lookup_chunk):
            chunk = wanted[start : start + self.lookup_chunk]
            for row in connection.execute(select(self.table).where(column.in_(chunk))).mappings():
                self.rows[row[self.key]] = dict(row)
                self.stored.add(row[self.key])

    def create(self, row: Row) -> None:
        key = row[self.key]
        assert key not in self.rows, f"{self.table.name} {key} made twice"  # an aggregate is created once
        self.rows[key] = row
        self.changed[key] = None

    def change(self, key: UUID, values: Row) -> None:
        """Set ``values`` in the row of ``key``; none there, nothing changes (as an UPDATE that
        matches no row)."""
        row = self.rows.get(key)
        if row is not None:
            row.update(values)
            self.changed[key] = None

    def write(self, connection: Connection, inserter: RowsInserter, converted: ConvertedValues) -> None:
        replaced = sorted(self.stored.intersection(self.changed), key=BY_UUID_ORDER)
        column = self.table.c[self.key]
        for start in range(0, len(replaced), self.lookup_chunk):
            chunk = replaced[start : start + self.lookup_chunk]
            connection.execute(delete(self.table).where(column.in_(chunk)))
        insert_rows(connection, inserter, [self.rows[key] for key in self.changed], converted)


class RegistrationBatchWriter:
    """Buffers events of ``KINDS``; ``flush`` writes them (call it before any other write that reads
    or writes households, meters, their suspensions or owner changes, and before readings: they
    read the meters and households)."""

    # Bounds one look-up's list of keys (SQLite allows 32,766 parameters); a runner batch is smaller.
    LOOKUP_CHUNK = 5_000

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._events: list[Any] = []

    def add(self, event: Any) -> None:
        assert type(event) in KINDS, f"{type(event).__qualname__} is not written here"
        self._events.append(event)

    def has_pending(self) -> bool:
        return bool(self._events)

    def flush(self) -> None:
        """Write every buffered event's rows: households and meters each read once and written once."""
        events, self._events = self._events, []
        if not events:
            return
        household_rows = TableRows(households, "household_id", self.LOOKUP_CHUNK)
        meter_rows = TableRows(meters, "meter_id", self.LOOKUP_CHUNK)
        household_rows.load(self.connection, _households_named(events))
        meter_rows.load(self.connection, _meters_named(events))
        suspensions: list[Row] = []
        owner_changes: list[Row] = []
        for event in events:
            if isinstance(event, Household.Registered):
                household_rows.create(household_row(event))
            elif isinstance(event, Meter.Commissioned):
                meter_rows.create(meter_row(event))
            elif isinstance(event, HOUSEHOLD_CHANGES):
                household_rows.change(event.originator_id, household_changes(event))
                if isinstance(event, Household.HeatingSuspended):
                    suspensions.append(suspension_row(event))
                elif isinstance(event, Household.OwnerChanged):
                    owner_changes.append(owner_change_row(event))
            else:
                meter_rows.change(event.originator_id, meter_changes(event, _place(household_rows, event)))
        converted = ConvertedValues()  # a run's dates and times repeat across its rows
        household_rows.write(self.connection, _HOUSEHOLDS, converted)
        meter_rows.write(self.connection, _METERS, converted)
        insert_rows(self.connection, _SUSPENSIONS, suspensions, converted)
        insert_rows(self.connection, _OWNER_CHANGES, owner_changes, converted)


def _households_named(events: Sequence[Any]) -> set[UUID]:
    """The households a run changes, or whose place a meter takes, and does not create."""
    created = {event.originator_id for event in events if isinstance(event, Household.Registered)}
    changed = {event.originator_id for event in events if isinstance(event, HOUSEHOLD_CHANGES)}
    attached = {event.household_id for event in events if isinstance(event, Meter.AttachedToHousehold)}
    return (changed | attached) - created


def _meters_named(events: Sequence[Any]) -> set[UUID]:
    created = {event.originator_id for event in events if isinstance(event, Meter.Commissioned)}
    return {event.originator_id for event in events if isinstance(event, METER_CHANGES)} - created


def _place(household_rows: TableRows, event: Any) -> tuple[str, str] | None:
    """The community and building of the household a meter is attached to, as the run left it."""
    if not isinstance(event, Meter.AttachedToHousehold):
        return None
    row = household_rows.rows.get(event.household_id)
    if row is None:  # as the handler's look-up (.one()) refuses it
        raise LookupError(f"meter {event.originator_id}: no household {event.household_id} in the read model")
    return row["community"], row["building"]


# Rows by one statement each, their values converted column by column (COPY on PostgreSQL).
_HOUSEHOLDS = RowsInserter(households)
_METERS = RowsInserter(meters)
_SUSPENSIONS = RowsInserter(household_suspensions)
_OWNER_CHANGES = RowsInserter(household_owner_changes)
