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
from dataclasses import dataclass, field
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
from projections.billing_fold import BillingFold, IntervalRow, MeterRow
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

    def households(self, community: str | None, limit: int, after: str | None = None) -> list[HouseholdFacts]:
        """``SqlBillingInputs.households``: ``has_meter`` when a meter is attached now or a
        household meter left a day row; ``after``, a keyset page's start."""
        attached = {meter.household_id for meter in self.fold.meters.values()}
        metered_once = {
            row.household_id
            for meter in self.fold.meters.values()
            for row in meter.intervals.values()
            if row.meter_kind == _HOUSEHOLD
        }
        rows = sorted(
            (
                row
                for row in self.fold.households.values()
                if (community is None or row.community == community) and (after is None or row.account_number > after)
            ),
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
        tallies: dict[UUID, _Tally] = defaultdict(_Tally)
        tally, tallied = _Tally(), None
        for household_id, meter, interval in self._household_intervals(wanted):
            if household_id is not tallied:  # the same household's intervals follow each other, mostly
                tally, tallied = tallies[household_id], household_id
            on_days = False
            for share in interval.days:
                if first_day <= share.day <= last_day:
                    on_days = True
                    if interval.quality in _EVIDENCE_QUALITIES:
                        tally.add(meter.serial, share.day, interval.quality, share.energy_gj)
            if on_days:  # its ends may be the readings the heat starts from and ends at
                tally.ends.setdefault(meter.meter_id, []).extend((interval.start, interval.end))
        for household_id, meter_id, day, quality, energy_gj in self._estimates(wanted, first_day, last_day):
            tallies[household_id].add(self.fold.meters[meter_id].serial, day, quality, energy_gj)
        total_days = (last_day - first_day).days + 1
        window = (_local_midnight(first_day), _local_midnight(last_day + ONE_DAY))
        return {
            household_id: tally.evidence(total_days, *self._end_readings(tally, *window))
            for household_id, tally in sorted(tallies.items(), key=lambda item: item[0].hex)
            if tally.serials  # households without any evidence row are absent
        }

    def _evidence(
        self, wanted: set[UUID], first_day: date, last_day: date, include_faulty: bool
    ) -> Iterator[EvidenceRow]:
        """``billing_inputs._evidence``: the households' own meters' day rows in the days (faulty
        ones only when asked for) and the estimates of faulty intervals."""
        qualities = _EVIDENCE_QUALITIES if include_faulty else _BILLABLE_QUALITIES
        for household_id, meter, interval in self._household_intervals(wanted):
            if interval.quality in qualities:
                for share in interval.days:
                    if first_day <= share.day <= last_day:
                        yield household_id, meter.meter_id, share.day, interval.quality, share.energy_gj
        yield from self._estimates(wanted, first_day, last_day)

    def _estimates(self, wanted: set[UUID], first_day: date, last_day: date) -> Iterator[EvidenceRow]:
        """``faulty_interval_estimates`` rows of the households in the days (any meter)."""
        for meter in self.fold.meters.values():
            for estimate in meter.estimates.values():
                charged = estimate.household_id
                if charged is not None and charged in wanted:
                    for share in estimate.shares:
                        if first_day <= share.day <= last_day:
                            yield charged, meter.meter_id, share.day, _FAULTY_ESTIMATE, share.energy_gj

    def _household_intervals(self, wanted: set[UUID]) -> Iterator[tuple[UUID, MeterRow, IntervalRow]]:
        """Intervals charged to the households by household meters (``daily_consumption``'s
        ``household_id in chunk and meter_kind = 'household'``), with their household and meter."""
        for meter in self.fold.meters.values():
            # A meter's intervals mostly name one household (the same object): asked once a run.
            last: UUID | None = None
            wanted_last = False
            for interval in meter.intervals.values():
                household_id = interval.household_id
                if household_id is not last:
                    last, wanted_last = household_id, household_id is not None and household_id in wanted
                if wanted_last and interval.meter_kind == _HOUSEHOLD:
                    yield household_id, meter, interval  # type: ignore[misc]  # wanted: not None

    def _end_readings(self, tally: _Tally, window_start: datetime, window_end: datetime) -> tuple[str, str]:
        """``SqlBillingInputs._end_readings``: among the readings that bound the household's
        intervals on the days, the earliest at or after the first day's midnight and the latest at
        or before the midnight after the last day (ties: the lower serial); "" for none."""
        first: tuple[datetime, str, Decimal] | None = None
        last: tuple[datetime, str, Decimal] | None = None
        for meter_id, ends in tally.ends.items():
            meter = self.fold.meters[meter_id]
            ends.sort()
            # The first end from each side with a reading (not voided since) inside the window.
            usable = (at for at in ends if window_start <= at <= window_end and at in meter.readings)
            earliest = next(usable, None)
            if earliest is None:
                continue
            latest = next(at for at in reversed(ends) if window_start <= at <= window_end and at in meter.readings)
            if first is None or (earliest, meter.serial) < first[:2]:
                first = (earliest, meter.serial, meter.readings[earliest])
            if last is None or latest > last[0] or (latest == last[0] and meter.serial < last[1]):
                last = (latest, meter.serial, meter.readings[latest])
        return _text(first), _text(last)

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
        for household_id, _, interval in self._household_intervals(set(household_ids)):
            # Failed the check first (a cheap test that rules out nearly all), then on the days.
            if interval.plausible is not False or not any(
                first_day <= share.day <= last_day for share in interval.days
            ):
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
                if interval is not None and interval.plausible is not None:
                    return self._implausible(interval).evidence
        return None

    def _implausible(self, interval: IntervalRow) -> ImplausibleInterval:
        facts = interval.facts
        columns = meter_intervals.c
        meter = self.fold.meters[interval.meter_id]
        evidence = IntervalEvidence(
            meter_serial=meter.serial,
            start=as_read(columns.start_at, facts.start),
            end=as_read(columns.end_at, facts.end),
            recorded_gj=as_read(columns.energy_gj, facts.energy_gj),
            expected_gj=as_read(columns.expected_energy_gj, facts.expected_energy_gj),
            deviation_percent=as_read(columns.deviation_percent, facts.deviation_percent),
            permissible_error_percent=as_read(columns.permissible_error_percent, facts.permissible_error_percent),
        )
        decision = meter.decisions.get(facts.start)
        if decision is None or decision.end != facts.end:  # a decision is about the interval with its end
            return ImplausibleInterval(evidence)
        estimated = as_read(implausible_heat_decisions.c.estimated_energy_gj, decision.estimated_energy_gj)
        taken = DecisionTaken(
            HeatDecision(decision.decision), decision.actor, decision.reason, estimated, decision.method
        )
        return ImplausibleInterval(evidence, taken)


def _text(reading: tuple[datetime, str, Decimal] | None) -> str:
    """A reading as the bill quotes it, its register as the read model holds it ("" for none)."""
    if reading is None:
        return ""
    at, serial, energy_gj = reading
    return _reading_text(serial, at, as_read(meter_readings.c.energy_gj, energy_gj))


@dataclass
class _Tally:
    """One household's evidence rows as ``meter_evidence``'s SQL totals them, and the ends of
    its intervals on the days by meter."""

    measured_gj: list[Decimal] = field(default_factory=list)
    estimated_gj: list[Decimal] = field(default_factory=list)
    days_measured: set[date] = field(default_factory=set)
    days_usable: set[date] = field(default_factory=set)
    serials: set[str] = field(default_factory=set)
    ends: dict[UUID, list[datetime]] = field(default_factory=dict)

    def add(self, serial: str, day: date, quality: str, energy_gj: Decimal) -> None:
        """One evidence row: measured counts its day as measured, estimated and estimates of
        faulty intervals as estimated; faulty rows count the meter only."""
        self.serials.add(serial)
        if quality == _MEASURED:
            self.measured_gj.append(energy_gj)
            self.days_measured.add(day)
        elif quality != _FAULTY:
            self.estimated_gj.append(energy_gj)
        if quality != _FAULTY:
            self.days_usable.add(day)

    def evidence(self, total_days: int, first_reading: str, last_reading: str) -> MeterEvidence:
        return MeterEvidence(
            measured_gj=_energy(_exact_sum(iter(self.measured_gj))),
            estimated_gj=_energy(_exact_sum(iter(self.estimated_gj))),
            days_measured=len(self.days_measured),
            days_estimated=len(self.days_usable) - len(self.days_measured),
            days_without_data=total_days - len(self.days_usable),
            meter_serials=tuple(sorted(self.serials)),
            first_reading=first_reading,
            last_reading=last_reading,
        )


def _day_before(day: date | None) -> date | None:
    return None if day is None else day - ONE_DAY
