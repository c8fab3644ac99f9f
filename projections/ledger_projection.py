"""The ledger projection: households, meters, readings, metered intervals and daily consumption.

Each handler applies one event inside the runner's transaction. Handlers are idempotent only
together with the tracking table: the runner applies every event exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Table, delete, insert, select, update

from domain.day_split import split_across_days
from domain.household import Household
from domain.meter import Meter
from domain.readings import MeteredInterval
from projections.tables import LEDGER_TABLES, daily_consumption, households, meter_intervals, meter_readings, meters

Handler = Callable[[Connection, Any], None]


class LedgerProjection:
    """Builds the ledger's read models from Household and Meter events."""

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
            Meter.Commissioned: self._meter_commissioned,
            Meter.AttachedToHousehold: self._meter_attached,
            Meter.DetachedFromHousehold: self._meter_detached,
            Meter.ReadingRecorded: self._reading_recorded,
        }

    def apply(self, connection: Connection, domain_event: Any) -> None:
        """Apply one event; events this projection does not know (snapshots, later kinds) are skipped."""
        handler = self._handlers.get(type(domain_event))
        if handler is not None:
            handler(connection, domain_event)

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

    def _heating_suspended(self, connection: Connection, event: Household.HeatingSuspended) -> None:
        self._update_household(connection, event, heating_suspended=True, suspended_since=event.effective_on)

    def _heating_resumed(self, connection: Connection, event: Household.HeatingResumed) -> None:
        self._update_household(connection, event, heating_suspended=False, suspended_since=None)

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

    # -- readings -----------------------------------------------------------------------------

    def _reading_recorded(self, connection: Connection, event: Meter.ReadingRecorded) -> None:
        meter_id = event.originator_id
        connection.execute(
            insert(meter_readings).values(
                meter_id=meter_id,
                measured_at=event.measured_at,
                energy_gj=event.energy_gj,
                volume_m3=event.volume_m3,
                operating_hours=event.operating_hours,
                flow_temperature_c=event.flow_temperature_c,
                return_temperature_c=event.return_temperature_c,
                flow_rate_m3_h=event.flow_rate_m3_h,
                power_kw=event.power_kw,
                error_flags=event.error_flags,
                source=event.source,
                batch_id=event.batch_id,
                recorded_at=event.timestamp,
                actor=event.actor,
            )
        )
        meter = connection.execute(
            select(meters.c.kind, meters.c.community, meters.c.building, meters.c.last_measured_at).where(
                meters.c.meter_id == meter_id
            )
        ).one()
        if event.replaced_interval_start is not None:
            self._remove_interval(connection, meter_id, event.replaced_interval_start)
        for interval in event.intervals:
            self._add_interval(connection, meter_id, interval, meter)
        latest = meter.last_measured_at is None or event.measured_at > meter.last_measured_at
        newest = {"last_measured_at": event.measured_at, "last_energy_gj": event.energy_gj} if latest else {}
        self._update_meter(connection, event, readings_count=meters.c.readings_count + 1, **newest)

    @staticmethod
    def _remove_interval(connection: Connection, meter_id: UUID, start: Any) -> None:
        connection.execute(
            delete(daily_consumption).where(
                daily_consumption.c.meter_id == meter_id, daily_consumption.c.interval_start_at == start
            )
        )
        connection.execute(
            delete(meter_intervals).where(meter_intervals.c.meter_id == meter_id, meter_intervals.c.start_at == start)
        )

    @staticmethod
    def _add_interval(connection: Connection, meter_id: UUID, interval: MeteredInterval, meter: Any) -> None:
        connection.execute(
            insert(meter_intervals).values(
                meter_id=meter_id,
                start_at=interval.start,
                end_at=interval.end,
                energy_gj=interval.energy_gj,
                volume_m3=interval.volume_m3,
                household_id=interval.household_id,
                expected_energy_gj=interval.expected_energy_gj,
                deviation_percent=interval.deviation_percent,
                permissible_error_percent=interval.permissible_error_percent,
                plausible=interval.plausible,
            )
        )
        community, building = meter.community, meter.building
        if interval.household_id is not None:
            place = connection.execute(
                select(households.c.community, households.c.building).where(
                    households.c.household_id == interval.household_id
                )
            ).one_or_none()
            if place is not None:
                community, building = place.community, place.building
        shares = split_across_days(interval.start, interval.end, interval.energy_gj, interval.volume_m3 or Decimal(0))
        connection.execute(
            insert(daily_consumption),
            [
                {
                    "meter_id": meter_id,
                    "interval_start_at": interval.start,
                    "day": share.day,
                    "energy_gj": share.energy_gj,
                    "volume_m3": share.volume_m3 if interval.volume_m3 is not None else None,
                    "household_id": interval.household_id,
                    "meter_kind": meter.kind,
                    "community": community,
                    "building": building,
                }
                for share in shares
            ],
        )
