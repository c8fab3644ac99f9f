"""The ledger projection: households, meters, readings, metered intervals and daily consumption;
suspensions and owner changes; tariffs, billing periods, bills and balances; payments, refund
payouts and the allocation of every household's credits to its charges.

The handlers of households and meters are here; those of tariffs and bills are in
``billing_handlers``, of payments and refunds in ``payment_handlers``, of arrears flags and
household protections in ``arrears_handlers``, and the allocation rows in
``allocation_rows``. Each handler applies one event inside the runner's transaction. Handlers are idempotent only
together with the tracking table: the runner applies every event exactly once.

Runs of readings, issued bills, registration events (households and meters) and payments received
are written set-based by their writers (``reading_batch``, ``billing_handlers``,
``registration_rows``, ``payment_handlers``): a few statements per table for a run instead of one
or more an event, the same rows as the handlers one event at a time (the integration tests compare
them, every table, in any batches).

Allocation is not kept up event by event: every money event (a bill that charges or credits, a
payment received or reversed, a refund paid out) marks its household, and at the end of the batch
each marked household's allocation is computed once from its rows by
``domain.payment_allocation.allocate``. A billing run of 10,000 bills therefore costs one
allocation per household per batch, and the result never depends on how events were batched.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Table, case, delete, insert, or_, select, update

from domain.day_split import split_across_days
from domain.household import Household
from domain.meter import Meter
from domain.payment import Payment
from domain.valve import RoomController
from projections import registration_rows
from projections.allocation_rows import reallocate
from projections.analytics_handlers import ANALYTICS_HANDLERS
from projections.analytics_summary import ANALYTICS_SUMMARY_TABLES, summarise_daily
from projections.arrears_handlers import ARREARS_HANDLERS
from projections.billing_handlers import BILLING_HANDLERS, BillBatchWriter, bill_issued, billing_period_opened
from projections.dispute_handlers import DISPUTE_HANDLERS
from projections.evidence_months import EVIDENCE_MONTH_TABLES, interval_keys, refresh, summarise_evidence
from projections.heat_decision_handlers import HEAT_DECISION_HANDLERS
from projections.interval_recharge import recharge_intervals
from projections.payment_handlers import PAYMENT_HANDLERS, PaymentBatchWriter
from projections.payment_orders import PAYMENT_ORDER_HANDLERS, PAYMENT_ORDER_TABLES
from projections.reading_batch import ReadingBatchWriter
from projections.registration_rows import (
    RegistrationBatchWriter,
    household_changes,
    household_row,
    meter_changes,
    meter_row,
    owner_change_row,
    suspension_row,
)
from projections.room_telemetry import ROOM_TELEMETRY_HANDLERS, ROOM_TELEMETRY_TABLES, RoomTelemetryWriter
from projections.tables import (
    LEDGER_TABLES,
    faulty_interval_estimates,
    household_owner_changes,
    household_suspensions,
    households,
    meter_intervals,
    meter_readings,
    meter_verifications,
    meters,
    reading_corrections,
)
from projections.tariff_corrections import TARIFF_CORRECTION_HANDLERS, TARIFF_CORRECTION_TABLES
from projections.valve_commands import VALVE_HANDLERS, VALVE_TABLES

# A handler applies one event; a handler of a money event returns the household whose allocation
# must be recomputed at the end of the batch (others return None).
Handler = Callable[[Connection, Any], UUID | None]


class LedgerProjection:
    """Builds the ledger's read models from Household, Meter, Tariff and BillingPeriod events."""

    name = "ledger"
    tables: tuple[Table, ...] = (
        *LEDGER_TABLES,
        *TARIFF_CORRECTION_TABLES,
        *VALVE_TABLES,
        *ROOM_TELEMETRY_TABLES,
        *PAYMENT_ORDER_TABLES,
        *ANALYTICS_SUMMARY_TABLES,
        *EVIDENCE_MONTH_TABLES,
    )

    def __init__(self) -> None:
        self._handlers: dict[type[Any], Handler] = (
            BILLING_HANDLERS
            | ANALYTICS_HANDLERS
            | PAYMENT_HANDLERS
            | PAYMENT_ORDER_HANDLERS
            | ARREARS_HANDLERS
            | HEAT_DECISION_HANDLERS
            | DISPUTE_HANDLERS
            | TARIFF_CORRECTION_HANDLERS
            | VALVE_HANDLERS
            | ROOM_TELEMETRY_HANDLERS
            | {
                Household.Registered: self._household_registered,
                Household.AreaCorrected: self._update_household,
                Household.HeatingSuspended: self._heating_suspended,
                Household.HeatingResumed: self._heating_resumed,
                Household.MeterAttached: self._update_household,
                Household.MeterDetached: self._update_household,
                Household.OwnerChanged: self._owner_changed,
                Household.Deregistered: self._update_household,
                Meter.Commissioned: self._meter_commissioned,
                Meter.AttachedToHousehold: self._meter_attached,
                Meter.DetachedFromHousehold: self._meter_detached,
                Meter.FaultReported: self._fault_reported,
                Meter.FaultCleared: self._fault_cleared,
                Meter.Decommissioned: self._decommissioned,
                Meter.VerificationRecorded: self._verification_recorded,
                Meter.ReadingVoided: self._reading_voided,
                Meter.FaultyIntervalEstimated: self._faulty_interval_estimated,
                Meter.IntervalsRecharged: self._intervals_recharged,
            }
        )

    def apply(self, connection: Connection, domain_event: Any) -> None:
        """Apply one event; events this projection does not know (snapshots, later kinds) are skipped."""
        self.apply_batch(connection, [domain_event])

    def apply_batch(self, connection: Connection, domain_events: Sequence[Any], *, keep_summaries: bool = True) -> None:
        """Apply events in order. Runs of events are buffered by set-based writers and written
        together: readings with issued bills and the billing periods opened with them (they touch
        tables of their own: one need not wait for the other), registration events (households and
        meters: ``registration_rows``), payments received. An event for another writer flushes
        the others first; any other event flushes every writer and goes to its handler. After
        households or meters were written the reading writer's cached meters and households are
        dropped, and loaded again for the readings that follow. Room reports are buffered and
        written together at the end (their tables are theirs alone).

        ``keep_summaries`` False (a rebuild's batches): the readings' rows leave the summaries of
        the daily rows alone; ``summarise`` writes them from the rows once the rebuild is done."""
        writers = _BatchWriters(connection, keep_summaries)
        reports = RoomTelemetryWriter(connection)
        writers.readings.preload(domain_events)
        for index, domain_event in enumerate(domain_events):
            if isinstance(domain_event, Meter.ReadingRecorded):
                writers.switch_to_readings(domain_events, index)
                writers.readings.add(domain_event)
                continue
            if isinstance(domain_event, RoomController.ReportRecorded):
                reports.add(domain_event)
                continue
            kind = type(domain_event)
            handler = self._handlers.get(kind)
            if handler is None:
                continue
            if handler is bill_issued:
                writers.switch_to_bills()
                writers.bills.add(domain_event)
            elif handler is billing_period_opened:
                writers.switch_to_bills()
                writers.bills.add_period(domain_event)
            elif kind in REGISTRATION_KINDS:
                writers.switch_to_registration()
                writers.registration.add(domain_event)
            elif kind in PAYMENT_KINDS:
                writers.switch_to_payments()
                writers.payments.add(domain_event)
            else:
                writers.flush()
                writers.reallocate(handler(connection, domain_event))
                writers.lookups_stale = True
        writers.flush()
        reports.flush()
        reallocate(connection, writers.to_reallocate)

    def summarise(self, connection: Connection) -> None:
        """Write the summaries of the daily rows afresh from the rows (``summarise_daily``,
        ``summarise_evidence``): what keeping them up batch by batch gives (the property tests of
        both compare them), set-based, for a rebuild to do once at its end."""
        summarise_daily(connection)
        summarise_evidence(connection)

    # -- households ---------------------------------------------------------------------------

    def _household_registered(self, connection: Connection, event: Household.Registered) -> None:
        connection.execute(insert(households), household_row(event))

    def _update_household(self, connection: Connection, event: Any) -> None:
        connection.execute(
            update(households).where(households.c.household_id == event.originator_id).values(household_changes(event))
        )

    # household_suspensions keeps one row per span: ``started_on`` is the first suspended day and
    # ``ended_on`` the day heating was resumed, i.e. the FIRST day heated again (None while the
    # household is still suspended); the last suspended day is ``ended_on`` - 1 day. A span resumed
    # on the day it started suspended no day: its row is dropped, so that a suspension starting
    # again that day finds its key free.

    def _heating_suspended(self, connection: Connection, event: Household.HeatingSuspended) -> None:
        self._update_household(connection, event)
        connection.execute(insert(household_suspensions), suspension_row(event))

    def _heating_resumed(self, connection: Connection, event: Household.HeatingResumed) -> None:
        self._update_household(connection, event)
        spans = household_suspensions.c
        open_span = (spans.household_id == event.originator_id, spans.ended_on.is_(None))
        connection.execute(delete(household_suspensions).where(*open_span, spans.started_on == event.effective_on))
        connection.execute(update(household_suspensions).where(*open_span).values(ended_on=event.effective_on))

    def _owner_changed(self, connection: Connection, event: Household.OwnerChanged) -> None:
        self._update_household(connection, event)
        connection.execute(insert(household_owner_changes), owner_change_row(event))

    # -- meters -------------------------------------------------------------------------------

    def _meter_commissioned(self, connection: Connection, event: Meter.Commissioned) -> None:
        connection.execute(insert(meters), meter_row(event))

    def _update_meter(self, connection: Connection, event: Any, **values: Any) -> None:
        connection.execute(
            update(meters)
            .where(meters.c.meter_id == event.originator_id)
            .values(version=event.originator_version, **values)
        )

    def _meter_attached(self, connection: Connection, event: Meter.AttachedToHousehold) -> None:
        place = connection.execute(
            select(households.c.community, households.c.building).where(households.c.household_id == event.household_id)
        ).one()
        self._change_meter(connection, event, meter_changes(event, (place.community, place.building)))

    def _meter_detached(self, connection: Connection, event: Meter.DetachedFromHousehold) -> None:
        self._change_meter(connection, event, meter_changes(event, None))

    def _change_meter(self, connection: Connection, event: Any, values: dict[str, Any]) -> None:
        connection.execute(update(meters).where(meters.c.meter_id == event.originator_id).values(values))

    def _fault_reported(self, connection: Connection, event: Meter.FaultReported) -> None:
        # A fault that changes its flags keeps the moment it began.
        since = event.measured_at if event.previous_error_flags == 0 else meters.c.fault_since
        self._update_meter(connection, event, error_flags=event.error_flags, fault_since=since)

    def _fault_cleared(self, connection: Connection, event: Meter.FaultCleared) -> None:
        self._update_meter(connection, event, error_flags=0, fault_since=None)

    def _decommissioned(self, connection: Connection, event: Meter.Decommissioned) -> None:
        self._update_meter(connection, event, decommissioned_at=event.decommissioned_at)

    def _verification_recorded(self, connection: Connection, event: Meter.VerificationRecorded) -> None:
        points = [
            {
                name: str(getattr(point, name))
                for name in (
                    "flow_rate_m3_h",
                    "temperature_difference_k",
                    "measured_error_percent",
                    "permissible_error_percent",
                )
            }
            | {"passed": point.passed}
            for point in event.points
        ]
        connection.execute(
            insert(meter_verifications),
            dict(
                meter_id=event.originator_id,
                version=event.originator_version,
                verified_on=event.verified_on,
                recorded_at=event.timestamp,
                certificate=event.certificate,
                passed=event.passed,
                points=json.dumps(points),
                actor=event.actor,
                reason=event.reason,
            ),
        )
        # The meter shows its latest verification by date: an older certificate entered late is
        # only history. On the same date, the one recorded last counts.
        latest = or_(meters.c.last_verified_on.is_(None), meters.c.last_verified_on <= event.verified_on)
        self._update_meter(
            connection,
            event,
            last_verified_on=case((latest, event.verified_on), else_=meters.c.last_verified_on),
            last_verification_passed=case((latest, event.passed), else_=meters.c.last_verification_passed),
        )

    def _reading_voided(self, connection: Connection, event: Meter.ReadingVoided) -> None:
        """Move the reading to the corrections history, redo its intervals, and refresh the meter."""
        meter_id = event.originator_id
        reading_key = (meter_readings.c.meter_id == meter_id, meter_readings.c.measured_at == event.measured_at)
        original = connection.execute(select(meter_readings).where(*reading_key)).mappings().one_or_none()
        connection.execute(
            insert(reading_corrections),
            dict(
                meter_id=meter_id,
                version=event.originator_version,
                measured_at=event.measured_at,
                voided_at=event.timestamp,
                energy_gj=original["energy_gj"] if original else None,
                volume_m3=original["volume_m3"] if original else None,
                source=original["source"] if original else None,
                original_actor=original["actor"] if original else None,
                actor=event.actor,
                reason=event.reason,
                correlation_id=event.correlation_id,
            ),
        )
        connection.execute(delete(meter_readings).where(*reading_key))
        writer = ReadingBatchWriter(connection)
        merged = [event.merged_interval] if event.merged_interval is not None else []
        writer.replace_intervals(meter_id, event.removed_interval_starts, merged)
        writer.flush()
        newest = connection.execute(
            select(meter_readings.c.measured_at, meter_readings.c.energy_gj)
            .where(meter_readings.c.meter_id == meter_id)
            .order_by(meter_readings.c.measured_at.desc())
            .limit(1)
        ).one_or_none()
        self._update_meter(
            connection,
            event,
            readings_count=meters.c.readings_count - 1,
            last_measured_at=newest.measured_at if newest else None,
            last_energy_gj=newest.energy_gj if newest else None,
        )

    def _intervals_recharged(self, connection: Connection, event: Meter.IntervalsRecharged) -> None:
        """Late paperwork: charge the meter's intervals after the change again (interval_recharge)."""
        recharge_intervals(connection, event.originator_id, event.since, event.attachments)
        self._update_meter(connection, event)

    def _faulty_interval_estimated(self, connection: Connection, event: Meter.FaultyIntervalEstimated) -> None:
        """Share the estimate across the interval's days, replacing an earlier estimate of it."""
        meter_id = event.originator_id
        key = (
            faulty_interval_estimates.c.meter_id == meter_id,
            faulty_interval_estimates.c.interval_start_at == event.interval_start,
        )
        evidence = interval_keys(connection, meter_id, [event.interval_start])
        connection.execute(delete(faulty_interval_estimates).where(*key))
        household_id = connection.execute(
            select(meter_intervals.c.household_id).where(
                meter_intervals.c.meter_id == meter_id, meter_intervals.c.start_at == event.interval_start
            )
        ).scalar_one_or_none()
        shares = split_across_days(event.interval_start, event.interval_end, event.estimated_energy_gj)
        connection.execute(
            insert(faulty_interval_estimates),
            [
                {
                    "meter_id": meter_id,
                    "interval_start_at": event.interval_start,
                    "day": share.day,
                    "estimated_energy_gj": share.energy_gj,
                    "method": event.method,
                    "household_id": household_id,
                }
                for share in shares
            ],
        )
        refresh(connection, evidence | interval_keys(connection, meter_id, [event.interval_start]))
        self._update_meter(connection, event)


# Kinds written by their set-based writer in ``apply_batch``; with one emptied (as the tests and
# bench.registration_catch_up do) its events go to their handlers one at a time.
REGISTRATION_KINDS: frozenset[type[Any]] = registration_rows.KINDS
PAYMENT_KINDS: frozenset[type[Any]] = frozenset({Payment.Received, Payment.Reversed})


class _BatchWriters:
    """The set-based writers of one batch, flushed so that each sees the rows of every event
    before it: readings and bills may be buffered together; registration and payments alone."""

    def __init__(self, connection: Connection, keep_summaries: bool = True) -> None:
        self.readings = ReadingBatchWriter(connection, keep_summaries)
        self.bills = BillBatchWriter(connection)
        self.registration = RegistrationBatchWriter(connection)
        self.payments = PaymentBatchWriter(connection)
        self.to_reallocate: set[UUID] = set()  # households whose money changed in this batch
        self.lookups_stale = False  # households or meters written since the readings' look-ups
        # Whether registration or payments hold events: checked for each reading (a season's
        # catch-up is mostly readings), so one test, not two flushes of nothing.
        self._others_pending = False

    def reallocate(self, household_id: UUID | None) -> None:
        if household_id is not None:
            self.to_reallocate.add(household_id)

    def switch_to_readings(self, events: Sequence[Any], index: int) -> None:
        """Flush registration and payments; if households or meters were written since the
        reading writer looked them up, look up again those of the readings from ``index`` on
        (up to the next event of another kind): one query, not one a meter."""
        if self._others_pending:
            self._flush_others()
        if self.lookups_stale:
            self.readings.forget_lookups()
            self.readings.preload(itertools.takewhile(_is_reading, events[index:]))
            self.lookups_stale = False

    def switch_to_bills(self) -> None:
        if self._others_pending:
            self._flush_others()

    def switch_to_registration(self) -> None:
        self._flush_readings_and_bills()
        self.to_reallocate |= self.payments.flush()
        self._others_pending = True

    def switch_to_payments(self) -> None:
        self._flush_readings_and_bills()
        self._flush_registration()
        self._others_pending = True

    def flush(self) -> None:
        """Write everything buffered (readings and bills, or registration, or payments)."""
        self._flush_readings_and_bills()
        self._flush_others()

    def _flush_readings_and_bills(self) -> None:
        self.readings.flush()
        self.to_reallocate |= self.bills.flush()

    def _flush_others(self) -> None:
        self._flush_registration()
        self.to_reallocate |= self.payments.flush()
        self._others_pending = False

    def _flush_registration(self) -> None:
        if self.registration.has_pending():
            self.registration.flush()
            self.lookups_stale = True


def _is_reading(event: Any) -> bool:
    return isinstance(event, Meter.ReadingRecorded)
