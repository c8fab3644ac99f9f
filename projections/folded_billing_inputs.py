"""``BillingInputs`` answered over a ``BillingFold``: what ``SqlBillingInputs`` answers over the
read models, for a replay's few households without a database.

Each method follows its SQL counterpart in ``projections/billing_inputs.py`` (and
``implausible_heat_queries.py``) clause by clause; the comments name the clause. Values come back
as the columns give them back (``ScaledDecimal`` quantities to their scale, times in UTC), so a
bill computed from either prints the same figures. ``tests/integration/test_billing_fold.py``
asks both the same questions over random histories, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, Inexact, localcontext
from typing import Any
from uuid import UUID

from sqlalchemy import Column, TypeDecorator
from sqlalchemy.dialects import sqlite

from application.billing_inputs import (
    BillingInputs,
    HouseholdFacts,
    HouseholdSeasonRecord,
    MonthEnergy,
    SuspensionSpan,
)
from domain.billing import MeterEvidence
from domain.implausible_heat import DecisionTaken, HeatDecision, ImplausibleInterval, IntervalEvidence
from domain.readings import IntervalQuality
from domain.season import Season
from domain.values import MeterKind
from projections.billing_fold import BillingFold, IntervalRow
from projections.billing_inputs import ZERO_ENERGY_GJ, _local_midnight, _reading_text
from projections.tables import households, implausible_heat_decisions, meter_intervals, meter_readings

ONE_DAY = timedelta(days=1)
_HOUSEHOLD = MeterKind.HOUSEHOLD.value
_BUILDING = MeterKind.BUILDING.value
_MEASURED = IntervalQuality.MEASURED.value
_ESTIMATED = IntervalQuality.ESTIMATED.value
_FAULTY = IntervalQuality.FAULTY.value
_FAULTY_ESTIMATE = "faulty_estimate"  # as billing_inputs names the estimates' rows
_EVIDENCE_QUALITIES = frozenset({_MEASURED, _ESTIMATED, _FAULTY})
_BILLABLE_QUALITIES = frozenset({_MEASURED, _ESTIMATED})
# Any dialect does: the ledger's column types convert the same way on both backends.
_DIALECT = sqlite.dialect()
# (household, meter, day, quality, energy): one evidence row, as billing_inputs._evidence selects it.
EvidenceRow = tuple[UUID, UUID, date, str, Decimal]


def as_read(column: Column[Any], value: Any) -> Any:
    """``value`` as the read models give it back from ``column`` (written, then read)."""
    kind = column.type
    if value is None or not isinstance(kind, TypeDecorator):
        return value
    return kind.process_result_value(kind.process_bind_param(value, _DIALECT), _DIALECT)


def _energy(total: Decimal | None) -> Decimal:
    """A sum of energy as SQL's sum of the ScaledDecimal column gives it (None: no rows)."""
    return ZERO_ENERGY_GJ if total is None else as_read(meter_readings.c.energy_gj, total)


def _exact_sum(values: Iterator[Decimal]) -> Decimal | None:
    """The exact sum (SQL sums whole numbers of 10⁻⁹ GJ); None for no values, as SQL's SUM."""
    total: Decimal | None = None
    with localcontext() as context:
        context.traps[Inexact] = True  # never a rounded sum
        for value in values:
            total = value if total is None else total + value
    return total


class FoldedBillingInputs(BillingInputs):
    """Bulk reads for a billing run over the rows of ``fold``, at ``position`` of the log."""

    def __init__(self, fold: BillingFold, position: int = 0) -> None:
        self.fold = fold
        self.at_position = position

    def position(self) -> int:
        return self.at_position

    # -- households ---------------------------------------------------------------------------

    def households(self, community: str | None, limit: int) -> list[HouseholdFacts]:
        """``SqlBillingInputs.households``: ``has_meter`` when a meter is attached now or a
        household meter left a day row."""
        attached = {meter.household_id for meter in self.fold.meters.values()}
        metered_once = {
            row.household_id
            for meter in self.fold.meters.values()
            for row in meter.intervals.values()
            if row.meter_kind == _HOUSEHOLD
        }
        rows = sorted(
            (row for row in self.fold.households.values() if community is None or row.community == community),
            key=lambda row: row.account_number,
        )
        return [
            HouseholdFacts(
                household_id=row.household_id,
                account_number=row.account_number,
                community=row.community,
                building=row.building,
                customer_class=row.customer_class,
                connected_area_m2=as_read(households.c.connected_area_m2, row.connected_area_m2),
                heated_area_m2=as_read(households.c.heated_area_m2, row.heated_area_m2),
                vertical_position=row.vertical_position,
                horizontal_position=row.horizontal_position,
                suspended_since=row.suspended_since,
                has_meter=row.household_id in attached or row.household_id in metered_once,
                registered_on=row.registered_on,
                deregistered_on=row.deregistered_on,
            )
            for row in rows[: max(limit, 0)]
        ]

    def season_records(self, household_ids: Sequence[UUID], season: Season) -> dict[UUID, HouseholdSeasonRecord]:
        """``SqlBillingInputs.season_records``: spans started by the season's last day and not
        resumed by its first, owner changes within it, each in order of its day."""
        records: dict[UUID, HouseholdSeasonRecord] = {}
        for household_id in dict.fromkeys(household_ids):
            spans = sorted(
                (
                    span
                    for span in self.fold.suspensions.get(household_id, ())
                    if span.started_on <= season.last_day
                    and (span.ended_on is None or span.ended_on > season.first_day)
                ),
                key=lambda span: span.started_on,
            )
            changes = sorted(
                day
                for day in self.fold.owner_changes.get(household_id, ())
                if season.first_day <= day <= season.last_day
            )
            records[household_id] = HouseholdSeasonRecord(
                tuple(SuspensionSpan(span.started_on, _day_before(span.ended_on)) for span in spans), tuple(changes)
            )
        return records

    # -- heat ---------------------------------------------------------------------------------

    def meter_evidence(
        self, household_ids: Sequence[UUID], first_day: date, last_day: date
    ) -> dict[UUID, MeterEvidence]:
        """``SqlBillingInputs.meter_evidence``: the totals by quality, the days by quality, the
        meters' serials and the first and last readings bounding the household's intervals."""
        wanted = set(household_ids)
        measured: dict[UUID, list[Decimal]] = defaultdict(list)
        estimated: dict[UUID, list[Decimal]] = defaultdict(list)
        days_measured: dict[UUID, set[date]] = defaultdict(set)
        days_usable: dict[UUID, set[date]] = defaultdict(set)
        serials: dict[UUID, set[str]] = defaultdict(set)
        for household_id, meter_id, day, quality, energy_gj in self._evidence(wanted, first_day, last_day, True):
            serials[household_id].add(self.fold.meters[meter_id].serial)
            if quality == _MEASURED:
                measured[household_id].append(energy_gj)
                days_measured[household_id].add(day)
            elif quality != _FAULTY:
                estimated[household_id].append(energy_gj)
            if quality != _FAULTY:
                days_usable[household_id].add(day)
        total_days = (last_day - first_day).days + 1
        first_readings, last_readings = self._end_readings(wanted, first_day, last_day)
        return {
            household_id: MeterEvidence(
                measured_gj=_energy(_exact_sum(iter(measured.get(household_id, ())))),
                estimated_gj=_energy(_exact_sum(iter(estimated.get(household_id, ())))),
                days_measured=len(days_measured[household_id]),
                days_estimated=len(days_usable[household_id]) - len(days_measured[household_id]),
                days_without_data=total_days - len(days_usable[household_id]),
                meter_serials=tuple(sorted(serials[household_id])),
                first_reading=first_readings.get(household_id, ""),
                last_reading=last_readings.get(household_id, ""),
            )
            for household_id in sorted(serials, key=lambda found: found.hex)
        }

    def _evidence(
        self, wanted: set[UUID], first_day: date, last_day: date, include_faulty: bool
    ) -> Iterator[EvidenceRow]:
        """``billing_inputs._evidence``: the households' own meters' day rows in the days (faulty
        ones only when asked for) and the estimates of faulty intervals."""
        qualities = _EVIDENCE_QUALITIES if include_faulty else _BILLABLE_QUALITIES
        for household_id, interval in self._household_intervals(wanted):
            if interval.quality in qualities:
                for share in interval.days:
                    if first_day <= share.day <= last_day:
                        yield household_id, interval.meter_id, share.day, interval.quality, share.energy_gj
        for meter in self.fold.meters.values():
            for estimate in meter.estimates.values():
                charged = estimate.household_id
                if charged is not None and charged in wanted:
                    for share in estimate.shares:
                        if first_day <= share.day <= last_day:
                            yield charged, meter.meter_id, share.day, _FAULTY_ESTIMATE, share.energy_gj

    def _household_intervals(self, wanted: set[UUID]) -> Iterator[tuple[UUID, IntervalRow]]:
        """Intervals charged to the households by household meters (``daily_consumption``'s
        ``household_id in chunk and meter_kind = 'household'``), with their household."""
        for meter in self.fold.meters.values():
            # A meter's intervals mostly name one household (the same object): asked once a run.
            last: UUID | None = None
            wanted_last = False
            for interval in meter.intervals.values():
                household_id = interval.household_id
                if household_id is not last:
                    last, wanted_last = household_id, household_id is not None and household_id in wanted
                if wanted_last and interval.meter_kind == _HOUSEHOLD:
                    yield household_id, interval  # type: ignore[misc]  # wanted: not None

    def _intervals_on_days(
        self, wanted: set[UUID], first_day: date, last_day: date
    ) -> Iterator[tuple[UUID, IntervalRow]]:
        """The households' intervals with a day row in the days (any quality)."""
        for household_id, interval in self._household_intervals(wanted):
            for share in interval.days:
                if first_day <= share.day <= last_day:
                    yield household_id, interval
                    break

    def _end_readings(
        self, wanted: set[UUID], first_day: date, last_day: date
    ) -> tuple[dict[UUID, str], dict[UUID, str]]:
        """``SqlBillingInputs._end_readings``: among the readings that bound the households'
        intervals on the days, the earliest at or after the first day's midnight and the latest at
        or before the midnight after the last day (ties: the lower serial)."""
        window_start, window_end = _local_midnight(first_day), _local_midnight(last_day + ONE_DAY)
        bounds: dict[tuple[UUID, UUID], list[datetime]] = {}  # (household, meter) → interval ends
        for household_id, interval in self._intervals_on_days(wanted, first_day, last_day):
            ends = bounds.setdefault((household_id, interval.meter_id), [])
            ends += (interval.start, interval.end)
        first: dict[UUID, tuple[datetime, str, Decimal]] = {}
        last: dict[UUID, tuple[datetime, str, Decimal]] = {}
        for (household_id, meter_id), ends in bounds.items():
            meter = self.fold.meters[meter_id]
            ends.sort()
            # The first end from each side with a reading (not voided since) inside the window.
            usable = (at for at in ends if window_start <= at <= window_end and at in meter.readings)
            earliest = next(usable, None)
            if earliest is None:
                continue
            latest = next(at for at in reversed(ends) if window_start <= at <= window_end and at in meter.readings)
            found = first.get(household_id)
            if found is None or (earliest, meter.serial) < found[:2]:
                first[household_id] = (earliest, meter.serial, meter.readings[earliest])
            found = last.get(household_id)
            if found is None or latest > found[0] or (latest == found[0] and meter.serial < found[1]):
                last[household_id] = (latest, meter.serial, meter.readings[latest])
        return _texts(first), _texts(last)

    def monthly_energy(self, household_ids: Sequence[UUID], season: Season) -> dict[UUID, MonthEnergy]:
        """``SqlBillingInputs.monthly_energy``: billable heat per calendar month of the season."""
        by_month: dict[UUID, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
        evidence = self._evidence(set(household_ids), season.first_day, season.last_day, False)
        for household_id, _, day, _, energy_gj in evidence:
            by_month[household_id][f"{day.year:04d}-{day.month:02d}"].append(energy_gj)
        return {
            household_id: MonthEnergy({month: _energy(_exact_sum(iter(months[month]))) for month in sorted(months)})
            for household_id, months in by_month.items()
        }

    def building_energy_gj(self, community: str, building: str, first_day: date, last_day: date) -> Decimal | None:
        """``SqlBillingInputs.building_energy_gj``: the building meters' billable day rows and
        estimates in the days; None when the building has no building meter."""
        building_meters = {
            meter.meter_id
            for meter in self.fold.meters.values()
            if meter.kind == _BUILDING and (meter.community, meter.building) == (community, building)
        }
        if not building_meters:
            return None
        values = [
            share.energy_gj
            for meter in self.fold.meters.values()
            for interval in meter.intervals.values()
            if interval.meter_kind == _BUILDING
            and interval.place == (community, building)
            and interval.quality in _BILLABLE_QUALITIES
            for share in interval.days
            if first_day <= share.day <= last_day
        ]
        values += [
            share.energy_gj
            for meter_id in building_meters
            for estimate in self.fold.meters[meter_id].estimates.values()
            for share in estimate.shares
            if first_day <= share.day <= last_day
        ]
        return _energy(_exact_sum(iter(values)))

    # -- heat far beyond the permissible error ----------------------------------------------------

    def implausible_intervals(
        self, household_ids: Sequence[UUID], first_day: date, last_day: date
    ) -> dict[UUID, tuple[ImplausibleInterval, ...]]:
        """``implausible_heat_queries.implausible_intervals``: the households' intervals on the
        days that failed the check, far beyond the MPE, oldest first, with the decision in force."""
        found: dict[UUID, list[tuple[datetime, str, ImplausibleInterval]]] = defaultdict(list)
        for household_id, interval in self._intervals_on_days(set(household_ids), first_day, last_day):
            if interval.metered.plausible is not False:
                continue
            implausible = self._implausible(interval)
            if implausible.evidence.far_beyond:
                found[household_id].append((interval.start, implausible.evidence.meter_serial, implausible))
        return {
            household_id: tuple(item[2] for item in sorted(items, key=lambda item: item[:2]))
            for household_id, items in found.items()
        }

    def interval_evidence(self, meter_serial: str, interval_start: datetime) -> IntervalEvidence | None:
        """``implausible_heat_queries.interval_evidence``: the checked interval of the meter, if any."""
        for meter in self.fold.meters.values():
            if meter.serial == meter_serial:
                interval = meter.intervals.get(interval_start)
                if interval is not None and interval.metered.plausible is not None:
                    return self._implausible(interval).evidence
        return None

    def _implausible(self, interval: IntervalRow) -> ImplausibleInterval:
        metered = interval.metered
        columns = meter_intervals.c
        meter = self.fold.meters[interval.meter_id]
        evidence = IntervalEvidence(
            meter_serial=meter.serial,
            start=as_read(columns.start_at, metered.start),
            end=as_read(columns.end_at, metered.end),
            recorded_gj=as_read(columns.energy_gj, metered.energy_gj),
            expected_gj=as_read(columns.expected_energy_gj, metered.expected_energy_gj),
            deviation_percent=as_read(columns.deviation_percent, metered.deviation_percent),
            permissible_error_percent=as_read(columns.permissible_error_percent, metered.permissible_error_percent),
        )
        decision = meter.decisions.get(metered.start)
        if decision is None or decision.end != metered.end:  # a decision is about the interval with its end
            return ImplausibleInterval(evidence)
        estimated = as_read(implausible_heat_decisions.c.estimated_energy_gj, decision.estimated_energy_gj)
        taken = DecisionTaken(
            HeatDecision(decision.decision), decision.actor, decision.reason, estimated, decision.method
        )
        return ImplausibleInterval(evidence, taken)


def _texts(readings: dict[UUID, tuple[datetime, str, Decimal]]) -> dict[UUID, str]:
    """Each household's reading as the bill quotes it, its register as the read model holds it."""
    return {
        household_id: _reading_text(serial, at, as_read(meter_readings.c.energy_gj, energy_gj))
        for household_id, (at, serial, energy_gj) in readings.items()
    }


def _day_before(day: date | None) -> date | None:
    return None if day is None else day - ONE_DAY
