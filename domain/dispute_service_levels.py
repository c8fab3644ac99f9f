"""Service levels of disputes (客服时效): how fast customer service answers a household and how
fast it settles the dispute, against targets the utility sets.

Two clocks run from the moment the ledger recorded the opening (``opened_at``):

- **first response**: stops at the first investigation step, note to the household or resolution
  (``first_response_at``, kept by the aggregate and the read model); its target is in hours;
- **resolution**: stops when the dispute is resolved (upheld, in part) or rejected
  (``closed_at``); its target is in days of 24 hours (elapsed time, not business days).

A clock is judged against its target once it can be: **met** when it stopped within the target
(exactly at the target counts as within); **missed** when it stopped later, or has not stopped and
the target has passed (an overdue dispute counts against the share from the moment it is
overdue, so waiting never improves the figure); **pending** while it runs inside its target. A
withdrawn dispute stops neither clock: the household ended it. It counts as missed when it was
withdrawn after the target had passed, and not at all otherwise.

Figures group disputes by the month they were opened in (Asia/Shanghai business days) and by
category; times are medians and 90th percentiles over the clocks that stopped, interpolated
between the closest ranks as PostgreSQL's ``percentile_cont`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TypeVar

from domain.dispute import DisputeCategory, DisputeState
from domain.errors import InvalidInputError

# Targets beyond these are typing errors: a month to answer, a year to settle.
MAXIMUM_FIRST_RESPONSE_HOURS = 720
MAXIMUM_RESOLUTION_DAYS = 365
# A report covers at most this many days of openings (two years and a day for a leap year).
MAXIMUM_REPORT_DAYS = 732
HOUR_PLACES = Decimal("0.01")
DAY_PLACES = Decimal("0.01")
PERCENT_PLACES = Decimal("0.1")
_MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)
_MICROSECONDS_PER_DAY = Decimal(86_400_000_000)
# A dispute the utility settled (a withdrawn one the household ended).
RESOLVED_STATES = frozenset({DisputeState.RESOLVED_UPHELD, DisputeState.RESOLVED_PARTLY, DisputeState.REJECTED})
# Microseconds into a figure's unit (hours, days).
_Unit = Callable[[Decimal | None], Decimal | None]
Key = TypeVar("Key", str, tuple[str, str])


class ServiceClock(StrEnum):
    """Which service level: the first response or the resolution."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class Judgement(StrEnum):
    """A clock against its target."""

    MET = "met"
    MISSED = "missed"
    PENDING = "pending"  # still running, inside its target
    NOT_COUNTED = "not_counted"  # withdrawn before its target passed


# The enums as tuples: iterating an Enum class costs a generator each time, in the report's loop.
_CLOCKS = tuple(ServiceClock)
_JUDGEMENTS = tuple(Judgement)


@dataclass(frozen=True)
class ServiceTarget:
    """The targets of one category: hours to the first response, days to the resolution."""

    first_response_hours: int
    resolution_days: int

    def __post_init__(self) -> None:
        if not 1 <= self.first_response_hours <= MAXIMUM_FIRST_RESPONSE_HOURS:
            raise InvalidInputError(
                f"a first-response target lies between 1 and {MAXIMUM_FIRST_RESPONSE_HOURS} hours",
                message_key="dispute_target_out_of_range",
                field="first_response_hours",
                value=str(self.first_response_hours),
            )
        if not 1 <= self.resolution_days <= MAXIMUM_RESOLUTION_DAYS:
            raise InvalidInputError(
                f"a resolution target lies between 1 and {MAXIMUM_RESOLUTION_DAYS} days",
                message_key="dispute_target_out_of_range",
                field="resolution_days",
                value=str(self.resolution_days),
            )

    def of(self, clock: ServiceClock) -> timedelta:
        """The target of ``clock`` as elapsed time."""
        if clock is ServiceClock.FIRST_RESPONSE:
            return timedelta(hours=self.first_response_hours)
        return timedelta(days=self.resolution_days)


@dataclass(frozen=True)
class ServiceTargets:
    """The utility's targets: one for every category, some categories with their own."""

    default: ServiceTarget
    by_category: Mapping[DisputeCategory, ServiceTarget] = field(default_factory=dict)

    def of(self, category: str) -> ServiceTarget:
        """The target of ``category`` (its own, or the default)."""
        try:
            return self.by_category.get(DisputeCategory(category), self.default)
        except ValueError:
            return self.default

    def grouped(self, clock: ServiceClock) -> dict[timedelta, list[DisputeCategory]]:
        """The categories sharing each target of ``clock`` (a list sorted by overdue-ness needs
        one ordered read per distinct target)."""
        groups: dict[timedelta, list[DisputeCategory]] = {}
        for category in DisputeCategory:
            groups.setdefault(self.of(category).of(clock), []).append(category)
        return groups


@dataclass(frozen=True)
class DisputeTimes:
    """A dispute's service-level facts, as the read model keeps them."""

    category: str
    state: str
    opened_on: date
    opened_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None

    @property
    def month(self) -> str:
        """The month of the opening day (``2026-02``), Asia/Shanghai."""
        return f"{self.opened_on.year:04d}-{self.opened_on.month:02d}"

    @property
    def resolved(self) -> bool:
        return self.state in RESOLVED_STATES

    @property
    def withdrawn(self) -> bool:
        return self.state == DisputeState.WITHDRAWN.value

    def stopped_at(self, clock: ServiceClock) -> datetime | None:
        """When ``clock`` stopped (None: it still runs, or the dispute was withdrawn first)."""
        if clock is ServiceClock.FIRST_RESPONSE:
            return self.first_response_at
        return self.closed_at if self.resolved else None

    def elapsed(self, clock: ServiceClock) -> timedelta | None:
        """The time ``clock`` ran before it stopped, or None."""
        stopped = self.stopped_at(clock)
        return None if stopped is None else stopped - self.opened_at

    def judge(self, clock: ServiceClock, target: timedelta, now: datetime) -> Judgement:
        """``clock`` against ``target`` as of ``now`` (see the module's docstring)."""
        elapsed = self.elapsed(clock)
        if elapsed is not None:
            return Judgement.MET if elapsed <= target else Judgement.MISSED
        if self.withdrawn:
            assert self.closed_at is not None, "a withdrawn dispute has its closing time"
            return Judgement.MISSED if self.closed_at - self.opened_at > target else Judgement.NOT_COUNTED
        return Judgement.MISSED if now - self.opened_at > target else Judgement.PENDING


def percentile(values: Iterable[int], fraction: Decimal) -> Decimal | None:
    """The ``fraction`` percentile of ``values`` (None when there are none), interpolated linearly
    between the closest ranks: PostgreSQL's ``percentile_cont``, numpy's default."""
    assert 0 <= fraction <= 1, "a percentile is a fraction of the ranks"
    ordered = sorted(values)
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return Decimal(ordered[lower]) + (Decimal(ordered[upper]) - Decimal(ordered[lower])) * weight


def _microseconds(elapsed: timedelta) -> int:
    return (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds


def _in_hours(microseconds: Decimal | None) -> Decimal | None:
    if microseconds is None:
        return None
    return (microseconds / _MICROSECONDS_PER_HOUR).quantize(HOUR_PLACES, ROUND_HALF_UP)


def _in_days(microseconds: Decimal | None) -> Decimal | None:
    if microseconds is None:
        return None
    return (microseconds / _MICROSECONDS_PER_DAY).quantize(DAY_PLACES, ROUND_HALF_UP)


def overdue_hours(elapsed: timedelta) -> Decimal:
    """A duration in hours, two decimals (how long a dispute is overdue)."""
    hours = _in_hours(Decimal(_microseconds(elapsed)))
    assert hours is not None
    return hours


@dataclass(frozen=True)
class ClockFigures:
    """One clock over a group of disputes: its times (median, 90th percentile) over the clocks
    that stopped, and how many were met, missed or still pending."""

    measured: int
    median: Decimal | None
    p90: Decimal | None
    met: int
    missed: int
    pending: int

    @property
    def within_target_percent(self) -> Decimal | None:
        """Met among those judged (met or missed), in percent to 0.1; None when none is judged."""
        judged = self.met + self.missed
        if judged == 0:
            return None
        return (Decimal(100) * self.met / judged).quantize(PERCENT_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class ServiceLevelFigures:
    """The figures of a group of disputes (one month, one category, both, or all)."""

    opened: int
    resolved: int
    withdrawn: int
    still_open: int
    first_response: ClockFigures  # times in hours
    resolution: ClockFigures  # times in days


@dataclass(frozen=True)
class _Judged:
    """One dispute's clocks, judged once and added to each group it belongs to."""

    resolved: bool
    withdrawn: bool
    clocks: dict[ServiceClock, tuple[int | None, Judgement]]

    @classmethod
    def of(cls, times: DisputeTimes, targets: ServiceTargets, now: datetime) -> _Judged:
        target = targets.of(times.category)
        clocks: dict[ServiceClock, tuple[int | None, Judgement]] = {}
        for clock in _CLOCKS:
            elapsed = times.elapsed(clock)
            judgement = times.judge(clock, target.of(clock), now)
            clocks[clock] = (None if elapsed is None else _microseconds(elapsed), judgement)
        return cls(times.resolved, times.withdrawn, clocks)


@dataclass
class _Tally:
    """What a group's figures are made of, gathered dispute by dispute."""

    opened: int = 0
    resolved: int = 0
    withdrawn: int = 0
    elapsed: dict[ServiceClock, list[int]] = field(default_factory=lambda: {clock: [] for clock in _CLOCKS})
    judged: dict[ServiceClock, dict[Judgement, int]] = field(
        default_factory=lambda: {clock: dict.fromkeys(_JUDGEMENTS, 0) for clock in _CLOCKS}
    )

    def add(self, judged: _Judged) -> None:
        self.opened += 1
        self.resolved += judged.resolved
        self.withdrawn += judged.withdrawn
        for clock, (elapsed, judgement) in judged.clocks.items():
            if elapsed is not None:
                self.elapsed[clock].append(elapsed)
            self.judged[clock][judgement] += 1

    def figures(self) -> ServiceLevelFigures:
        return ServiceLevelFigures(
            opened=self.opened,
            resolved=self.resolved,
            withdrawn=self.withdrawn,
            still_open=self.opened - self.resolved - self.withdrawn,
            first_response=self._clock(ServiceClock.FIRST_RESPONSE, _in_hours),
            resolution=self._clock(ServiceClock.RESOLUTION, _in_days),
        )

    def _clock(self, clock: ServiceClock, unit: _Unit) -> ClockFigures:
        values = self.elapsed[clock]
        judged = self.judged[clock]
        return ClockFigures(
            measured=len(values),
            median=unit(percentile(values, Decimal("0.5"))),
            p90=unit(percentile(values, Decimal("0.9"))),
            met=judged[Judgement.MET],
            missed=judged[Judgement.MISSED],
            pending=judged[Judgement.PENDING],
        )


def _tally(tallies: dict[Key, _Tally], key: Key) -> _Tally:
    """The group's tally, made on its first dispute (not on every one, as ``setdefault`` would)."""
    found = tallies.get(key)
    if found is None:
        found = tallies[key] = _Tally()
    return found


@dataclass(frozen=True)
class ServiceLevelReport:
    """Service levels of the disputes opened from ``first_day`` to ``last_day`` as of ``now``:
    by month and category (only the pairs with openings), by month, by category, and in all."""

    first_day: date
    last_day: date
    now: datetime
    by_month_and_category: dict[tuple[str, str], ServiceLevelFigures]
    by_month: dict[str, ServiceLevelFigures]
    by_category: dict[str, ServiceLevelFigures]
    total: ServiceLevelFigures


def report_period(first_day: date, last_day: date) -> None:
    """InvalidInputError unless the period runs forwards over at most ``MAXIMUM_REPORT_DAYS``."""
    if last_day < first_day:
        raise InvalidInputError(
            "the period ends before it starts",
            message_key="dispute_report_period_reversed",
            first_day=first_day.isoformat(),
            last_day=last_day.isoformat(),
        )
    if (last_day - first_day).days + 1 > MAXIMUM_REPORT_DAYS:
        raise InvalidInputError(
            f"a report covers at most {MAXIMUM_REPORT_DAYS} days",
            message_key="dispute_report_period_too_long",
            limit=MAXIMUM_REPORT_DAYS,
        )


def service_levels(
    disputes: Iterable[DisputeTimes], targets: ServiceTargets, first_day: date, last_day: date, now: datetime
) -> ServiceLevelReport:
    """The figures of the disputes opened from ``first_day`` to ``last_day`` (others are left out)."""
    report_period(first_day, last_day)
    cells: dict[tuple[str, str], _Tally] = {}
    months: dict[str, _Tally] = {}
    categories: dict[str, _Tally] = {}
    total = _Tally()
    for times in disputes:
        if not first_day <= times.opened_on <= last_day:
            continue
        judged = _Judged.of(times, targets, now)
        month = times.month
        for tally in (
            _tally(cells, (month, times.category)),
            _tally(months, month),
            _tally(categories, times.category),
            total,
        ):
            tally.add(judged)
    return ServiceLevelReport(
        first_day,
        last_day,
        now,
        {key: cells[key].figures() for key in sorted(cells)},
        {month: months[month].figures() for month in sorted(months)},
        {category: categories[category].figures() for category in sorted(categories)},
        total.figures(),
    )


@dataclass(frozen=True)
class Overdue:
    """When a dispute's clock fell due and how long ago, as of a moment."""

    due_at: datetime
    overdue: timedelta

    @property
    def overdue_hours(self) -> Decimal:
        return overdue_hours(self.overdue)


def overdue_of(opened_at: datetime, target: timedelta, now: datetime) -> Overdue:
    """The due moment of a clock started at ``opened_at`` and how far ``now`` is past it."""
    due_at = opened_at + target
    return Overdue(due_at, now - due_at)
