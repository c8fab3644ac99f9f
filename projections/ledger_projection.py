"""The ledger projection: households, meters, readings, metered intervals and daily consumption;
suspensions and owner changes; tariffs, billing periods, bills and balances.

Each handler applies one event inside the runner's transaction. Handlers are idempotent only
together with the tracking table: the runner applies every event exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, case, delete, insert, or_, select, update

from domain.billing_period import BillingPeriod
from domain.day_split import split_across_days
from domain.household import Household
from domain.meter import Meter
from domain.tariff import Tariff
from projections.reading_batch import ReadingBatchWriter
from projections.tables import (
    LEDGER_TABLES,
    balances,
    billing_periods,
    bills,
    faulty_interval_estimates,
    household_owner_changes,
    household_suspensions,
    households,
    meter_intervals,
    meter_readings,
    meter_verifications,
    meters,
    reading_corrections,
    tariff_versions,
    tariffs,
)

Handler = Callable[[Connection, Any], None]


class LedgerProjection:
    """Builds the ledger's read models from Household, Meter, Tariff and BillingPeriod events."""

    name = "ledger"
    tables: tuple[Table, ...] = LEDGER_TABLES

    def __init__(self) -> None:
        self._handlers: dict[type[Any], Handler] = {
            Household.Registered: self._household_registered,
            Household.AreaCorrected: self._area_corrected,
            Household.HeatingSuspended: self._heating_suspended,
            Household.HeatingResumed: self._heating_resumed,
            Household.MeterAttached: self._touch_household,
            Household.MeterDetached: self._touch_household,
            Household.OwnerChanged: self._owner_changed,
            Meter.Commissioned: self._meter_commissioned,
            Meter.AttachedToHousehold: self._meter_attached,
            Meter.DetachedFromHousehold: self._meter_detached,
            Meter.FaultReported: self._fault_reported,
            Meter.FaultCleared: self._fault_cleared,
            Meter.Decommissioned: self._decommissioned,
            Meter.VerificationRecorded: self._verification_recorded,
            Meter.ReadingVoided: self._reading_voided,
            Meter.FaultyIntervalEstimated: self._faulty_interval_estimated,
            Tariff.Opened: self._tariff_opened,
            Tariff.VersionPublished: self._tariff_version_published,
            BillingPeriod.Opened: self._billing_period_opened,
            BillingPeriod.BillIssued: self._bill_issued,
        }

    def apply(self, connection: Connection, domain_event: Any) -> None:
        """Apply one event; events this projection does not know (snapshots, later kinds) are skipped."""
        self.apply_batch(connection, [domain_event])

    def apply_batch(self, connection: Connection, domain_events: Sequence[Any]) -> None:
        """Apply events in order. Readings are buffered and written together; any other event
        first flushes them and then drops the writer's cached meters and households."""
        readings = ReadingBatchWriter(connection)
        readings.preload(domain_events)
        for domain_event in domain_events:
            if isinstance(domain_event, Meter.ReadingRecorded):
                readings.add(domain_event)
                continue
            handler = self._handlers.get(type(domain_event))
            if handler is not None:
                readings.flush()
                handler(connection, domain_event)
                readings.forget_lookups()
        readings.flush()

    # -- households ---------------------------------------------------------------------------

    def _household_registered(self, connection: Connection, event: Household.Registered) -> None:
        connection.execute(
            insert(households).values(
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
                version=event.originator_version,
            )
        )

    def _update_household(self, connection: Connection, event: Any, **values: Any) -> None:
        connection.execute(
            update(households)
            .where(households.c.household_id == event.originator_id)
            .values(version=event.originator_version, **values)
        )

    def _area_corrected(self, connection: Connection, event: Household.AreaCorrected) -> None:
        self._update_household(
            connection, event, connected_area_m2=event.connected_area_m2, heated_area_m2=event.heated_area_m2
        )

    # household_suspensions keeps one row per span: ``started_on`` is the first suspended day and
    # ``ended_on`` the day heating was resumed, i.e. the FIRST day heated again (None while the
    # household is still suspended); the last suspended day is ``ended_on`` - 1 day. A span resumed
    # on the day it started suspended no day: its row is dropped, so that a suspension starting
    # again that day finds its key free.

    def _heating_suspended(self, connection: Connection, event: Household.HeatingSuspended) -> None:
        self._update_household(connection, event, heating_suspended=True, suspended_since=event.effective_on)
        connection.execute(
            insert(household_suspensions).values(
                household_id=event.originator_id, started_on=event.effective_on, ended_on=None
            )
        )

    def _heating_resumed(self, connection: Connection, event: Household.HeatingResumed) -> None:
        self._update_household(connection, event, heating_suspended=False, suspended_since=None)
        spans = household_suspensions.c
        open_span = (spans.household_id == event.originator_id, spans.ended_on.is_(None))
        connection.execute(delete(household_suspensions).where(*open_span, spans.started_on == event.effective_on))
        connection.execute(update(household_suspensions).where(*open_span).values(ended_on=event.effective_on))

    def _owner_changed(self, connection: Connection, event: Household.OwnerChanged) -> None:
        self._update_household(connection, event)
        connection.execute(
            insert(household_owner_changes).values(
                household_id=event.originator_id,
                effective_on=event.effective_on,
                actor=event.actor,
                recorded_at=event.timestamp,
            )
        )

    def _touch_household(self, connection: Connection, event: Any) -> None:
        self._update_household(connection, event)

    # -- meters -------------------------------------------------------------------------------

    def _meter_commissioned(self, connection: Connection, event: Meter.Commissioned) -> None:
        connection.execute(
            insert(meters).values(
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
                version=event.originator_version,
            )
        )

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
        self._update_meter(
            connection, event, household_id=event.household_id, community=place.community, building=place.building
        )

    def _meter_detached(self, connection: Connection, event: Meter.DetachedFromHousehold) -> None:
        self._update_meter(connection, event, household_id=None)

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
            insert(meter_verifications).values(
                meter_id=event.originator_id,
                version=event.originator_version,
                verified_on=event.verified_on,
                recorded_at=event.timestamp,
                certificate=event.certificate,
                passed=event.passed,
                points=json.dumps(points),
                actor=event.actor,
                reason=event.reason,
            )
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
            insert(reading_corrections).values(
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
            )
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

    def _faulty_interval_estimated(self, connection: Connection, event: Meter.FaultyIntervalEstimated) -> None:
        """Share the estimate across the interval's days, replacing an earlier estimate of it."""
        meter_id = event.originator_id
        key = (
            faulty_interval_estimates.c.meter_id == meter_id,
            faulty_interval_estimates.c.interval_start_at == event.interval_start,
        )
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
        self._update_meter(connection, event)

    # -- tariffs and billing ------------------------------------------------------------------

    def _tariff_opened(self, connection: Connection, event: Tariff.Opened) -> None:
        connection.execute(
            insert(tariffs).values(
                tariff_id=event.originator_id, customer_class=event.customer_class, scope=event.scope
            )
        )

    def _tariff_version_published(self, connection: Connection, event: Tariff.VersionPublished) -> None:
        tariff = connection.execute(
            select(tariffs.c.customer_class, tariffs.c.scope).where(tariffs.c.tariff_id == event.originator_id)
        ).one()
        connection.execute(
            insert(tariff_versions).values(
                tariff_id=event.originator_id,
                version=event.number,
                customer_class=tariff.customer_class,
                scope=tariff.scope,
                effective_from=event.effective_from,
                effective_until=event.effective_until,
                document_number=event.document_number,
                approved_on=event.approved_on,
                terms=json_text(event.terms),
                published_at=event.timestamp,
                actor=event.actor,
                reason=event.reason,
            )
        )

    def _billing_period_opened(self, connection: Connection, event: BillingPeriod.Opened) -> None:
        connection.execute(
            insert(billing_periods).values(
                period_id=event.originator_id,
                household_id=event.household_id,
                account_number=event.account_number,
                community=event.community,
                building=event.building,
                season_code=event.season_code,
                first_day=event.first_day,
                last_day=event.last_day,
                tariff_scope=event.tariff_scope,
                tariff_version=event.tariff_version,
                billed_area_m2=event.billed_area_m2,
                position_coefficient=event.position_coefficient,
                opened_at=event.timestamp,
            )
        )

    def _bill_issued(self, connection: Connection, event: BillingPeriod.BillIssued) -> None:
        """Record the bill and charge it to the household's balance (select, then insert or update:
        portable, and safe inside the runner's transaction)."""
        period = connection.execute(
            select(
                billing_periods.c.household_id,
                billing_periods.c.account_number,
                billing_periods.c.community,
                billing_periods.c.building,
                billing_periods.c.season_code,
            ).where(billing_periods.c.period_id == event.originator_id)
        ).one()
        connection.execute(
            insert(bills).values(
                bill_id=event.bill_id,
                period_id=event.originator_id,
                household_id=period.household_id,
                account_number=period.account_number,
                community=period.community,
                building=period.building,
                season_code=period.season_code,
                kind=event.kind,
                label=event.label,
                number=event.number,
                issued_on=event.issued_on,
                first_day=event.first_day,
                last_day=event.last_day,
                amount_yuan=event.amount_yuan,
                basis=event.basis,
                lines=json_text(event.lines),
                issued_at=event.timestamp,
                actor=event.actor,
                reason=event.reason,
                correlation_id=event.correlation_id,
            )
        )
        balance = connection.execute(
            select(balances.c.charged_yuan, balances.c.paid_yuan).where(balances.c.household_id == period.household_id)
        ).one_or_none()
        place = {"account_number": period.account_number, "community": period.community, "building": period.building}
        if balance is None:
            amount = Decimal(event.amount_yuan)
            connection.execute(
                insert(balances).values(
                    household_id=period.household_id,
                    charged_yuan=amount,
                    paid_yuan=Decimal(0),
                    balance_yuan=amount,
                    last_bill_at=event.timestamp,
                    **place,
                )
            )
            return
        charged = balance.charged_yuan + event.amount_yuan
        connection.execute(
            update(balances)
            .where(balances.c.household_id == period.household_id)
            .values(
                charged_yuan=charged,
                balance_yuan=charged - balance.paid_yuan,
                last_bill_at=event.timestamp,
                **place,
            )
        )


def json_text(value: Any) -> str:
    """Event payload (dicts, lists, strings, Decimals) as JSON text, Decimals written as strings."""
    return json.dumps(value, default=_decimal_as_text, ensure_ascii=False, sort_keys=True)


def _decimal_as_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form in the read models")
