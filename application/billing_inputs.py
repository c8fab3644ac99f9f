"""What a billing run reads besides the aggregates it changes: the households in its scope and the
heat, suspensions and owner changes of each, read in bulk from the read models.

The application names what it needs (``BillingInputs``); the projections layer implements it with
SQL, and the composition root wires the two. Reading in bulk keeps a city's run to a handful of
queries per chunk of households instead of loading every meter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from domain.billing import MeterEvidence
from domain.implausible_heat import ImplausibleInterval, IntervalEvidence
from domain.season import Season


@dataclass(frozen=True)
class HouseholdFacts:
    """A household as a billing run needs it (from the households read model)."""

    household_id: UUID
    account_number: str
    community: str
    building: str
    customer_class: str
    connected_area_m2: Decimal
    heated_area_m2: Decimal
    vertical_position: str
    horizontal_position: str
    suspended_since: date | None
    has_meter: bool  # a household meter was attached to it at some time
    registered_on: date  # the first day supplied
    deregistered_on: date | None  # 销户: the first day neither supplied nor billed (None: still supplied)


@dataclass(frozen=True)
class SuspensionSpan:
    """Days a household's heating was suspended (报停): ``last_day`` None while it still is."""

    first_day: date
    last_day: date | None


@dataclass(frozen=True)
class HouseholdSeasonRecord:
    """What the read models hold of one household in one season."""

    suspensions: tuple[SuspensionSpan, ...]
    owner_changes: tuple[date, ...]  # days a new holder took over, ascending


@dataclass(frozen=True)
class MonthEnergy:
    """A household's metered heat (measured and estimated) per month of a season, in GJ."""

    by_month: dict[str, Decimal]  # "YYYY-MM" → GJ; months without data are absent


class BillingInputs(Protocol):
    """Bulk reads for billing runs. Every method reads committed read-model rows only."""

    def position(self) -> int:
        """The notification position up to which the read models have applied the ledger's
        events (0 before any): what the reads below know. Bills record it for their replay."""
        ...

    def households(self, community: str | None, limit: int, after: str | None = None) -> list[HouseholdFacts]:
        """The households of a community (None: the whole city), ordered by account number, at
        most ``limit``, those whose account number follows ``after`` when given (a keyset page)."""
        ...

    def season_records(self, household_ids: Sequence[UUID], season: Season) -> dict[UUID, HouseholdSeasonRecord]:
        """Suspensions overlapping the season and owner changes inside it, per household."""
        ...

    def meter_evidence(
        self, household_ids: Sequence[UUID], first_day: date, last_day: date
    ) -> dict[UUID, MeterEvidence]:
        """The heat of each household's own meters over the days (both inclusive), by quality:
        measured, estimated (silent-meter estimates and faulty-interval estimates), and the days
        with no data; with the first and last readings used. Households without any household
        meter data in the days are absent from the result."""
        ...

    def monthly_energy(self, household_ids: Sequence[UUID], season: Season) -> dict[UUID, MonthEnergy]:
        """Each household's metered heat per month of the season."""
        ...

    def building_energy_gj(self, community: str, building: str, first_day: date, last_day: date) -> Decimal | None:
        """The heat the building meter measured over the days, or None when the building has none."""
        ...

    def implausible_intervals(
        self, household_ids: Sequence[UUID], first_day: date, last_day: date
    ) -> dict[UUID, tuple[ImplausibleInterval, ...]]:
        """Per household, the intervals of its own meters on the days whose heat is far beyond the
        meter's permissible error, each with the clerk's decision in force (None: undecided)."""
        ...

    def interval_evidence(self, meter_serial: str, interval_start: datetime) -> IntervalEvidence | None:
        """The k·Δθ·ΔV evidence of a meter's interval; None when there is no such checked interval."""
        ...
