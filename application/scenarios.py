"""Regulator scenarios (物价局测算): what a season would have cost each household under other
tariffs, beside what it did cost. A scenario books nothing: it opens no billing period, issues no
bill and saves no aggregate; it reads the read models and hands its results to a sink.

Each household in scope is settled by the billing run's own code: its ``SettlementInputs`` are
built by the run's ``SettlementInputReader`` from the same bulk reads, per chunk, and each variant
is ``settlement_bills`` on the household's period facts with the variant's price. The *actual*
column is the settlement issued for the season when there is one (read from the bills read
model), else the actual tariff computed the same way (a season not settled yet, or the current
season to date). A variant that equals the actual tariff therefore reproduces the issued
settlement to the fen, unless the ledger learned something since the bill was issued; every
issued settlement is recomputed under its own tariff to say so (``matches_issued``).

The current season is computed to date: every household as if its period ended on the last day
counted (``as_of``, by default the day before today), its area fee and base part for those days.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, TypeVar
from uuid import UUID, uuid4

from application.authorization import Permission, Principal
from application.billing import Billing, TariffInForce
from application.billing_inputs import HouseholdFacts, HouseholdSeasonRecord
from application.billing_runs import (
    RunException,
    SeasonInForce,
    SettlementInputReader,
    default_season,
    run_exceptions,
    supply_days,
)
from domain.billing import ComputedBill, PeriodFacts, SettlementInputs, settlement_bills
from domain.building_allocation import BuildingAllocation
from domain.day_split import business_day
from domain.errors import InvalidInputError, LedgerError
from domain.scenario import (
    MAXIMUM_VARIANTS,
    Distribution,
    SeasonFigures,
    SettlementBillFigures,
    TariffVariant,
    Totals,
    change_percent,
    season_figures,
)
from domain.season import Season, season_start_year
from domain.settlement import BillLine
from domain.tariff import TariffTerms, TariffVersion
from domain.values import CommandContext, CustomerClass

# Households computed per chunk: one bulk read of each input per chunk (projections read 500 ids
# per IN list).
CHUNK_SIZE = 500
MAXIMUM_HOUSEHOLDS_PER_SCENARIO = 1_000_000
# Chunks read ahead, each in its own thread, while one is computed: a chunk's reads take about as
# long as its computation on PostgreSQL (bench/scenario.py), two ahead keep the computation fed.
READS_AHEAD = 2
MAXIMUM_TITLE_LENGTH = 200
ZERO = Decimal(0)
# The context of the periods a scenario builds in memory to take their facts: never saved.
_NEVER_SAVED = CommandContext("scenario", "scenario: computed, never saved", UUID(int=0))

# (households done, households in all)
ScenarioProgress = Callable[[int, int], None]
Key = TypeVar("Key")
Value = TypeVar("Value")


class ActualSource(StrEnum):
    """Where a household's actual column comes from."""

    ISSUED = "issued"  # the settlement bills issued for the season
    COMPUTED = "computed"  # the actual tariff computed like a variant (not settled yet, or to date)


@dataclass(frozen=True)
class ScenarioScope:
    """Which households: all (nothing named), a community, a building of one, a customer class,
    or a class within a community or building."""

    community: str | None = None
    building: str | None = None
    customer_class: CustomerClass | None = None

    def __post_init__(self) -> None:
        if self.building is not None and self.community is None:
            raise InvalidInputError(
                "a building is named within its community", message_key="scenario_building_without_community"
            )

    def holds(self, household: HouseholdFacts) -> bool:
        return (self.building is None or household.building == self.building) and (
            self.customer_class is None or household.customer_class == CustomerClass(self.customer_class).value
        )


@dataclass(frozen=True)
class ScenarioRequest:
    """A season, a scope and the tariff variants to compare with the actual column."""

    season_code: str
    variants: tuple[TariffVariant, ...]
    scope: ScenarioScope = field(default_factory=ScenarioScope)
    as_of: date | None = None  # the current season: the last day counted (default: yesterday)
    title: str = ""

    def __post_init__(self) -> None:
        try:
            season_start_year(self.season_code)
        except ValueError:
            raise InvalidInputError(
                f"a season code looks like 2025-2026, not {self.season_code}",
                message_key="season_invalid",
                field="season",
                value=self.season_code,
            ) from None
        if not 1 <= len(self.variants) <= MAXIMUM_VARIANTS:
            raise InvalidInputError(
                f"a scenario compares 1 to {MAXIMUM_VARIANTS} variants",
                message_key="scenario_variant_count",
                field="variants",
                limit=MAXIMUM_VARIANTS,
            )
        labels = [variant.label for variant in self.variants]
        if len(set(labels)) != len(labels):
            raise InvalidInputError(
                "every variant needs its own label", message_key="scenario_variant_labels_repeat", field="variants"
            )
        if len(self.title) > MAXIMUM_TITLE_LENGTH:
            raise InvalidInputError(
                f"a title has at most {MAXIMUM_TITLE_LENGTH} characters", message_key="scenario_title", field="title"
            )


# -- what the read models hold of a household's season (projections/scenario_inputs.py) -----------


@dataclass(frozen=True)
class IssuedBillRecord:
    """An issued settlement bill as the bills read model holds it."""

    label: str
    first_day: date
    last_day: date
    amount_yuan: Decimal
    basis: str
    lines: tuple[BillLine, ...]

    def figures(self) -> SettlementBillFigures:
        return SettlementBillFigures(self.amount_yuan, self.basis, self.lines)

    def matches(self, bill: ComputedBill) -> bool:
        """Whether a computed bill says exactly what this one says (days, amount, basis, every line)."""
        return (self.label, self.first_day, self.last_day, self.amount_yuan, self.basis, self.lines) == (
            bill.label,
            bill.first_day,
            bill.last_day,
            bill.amount_yuan,
            bill.basis,
            bill.lines,
        )


@dataclass(frozen=True)
class PeriodRecord:
    """A household's billing period of the season as the read models hold it: the tariff version
    it was opened under, its billed area and position, what it prepaid, its settlement bills."""

    tariff_scope: str
    tariff_version: int
    billed_area_m2: Decimal
    position_coefficient: Decimal
    prepaid_yuan: Decimal
    settlement: tuple[IssuedBillRecord, ...]  # empty: not settled


class ScenarioInputs(Protocol):
    """Bulk reads a scenario makes beside the billing run's ``BillingInputs``."""

    def periods(self, household_ids: Sequence[UUID], season_code: str) -> dict[UUID, PeriodRecord]:
        """Each household's billing period of the season, with its prepayment and settlement."""
        ...

    def tariff_version(self, customer_class: str, scope: str, version: int) -> TariffVersion | None:
        """A published tariff version, or None."""
        ...


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdColumn:
    """One household under one column: the actual (0) or a variant (1…)."""

    variant: int
    figures: SeasonFigures
    change_yuan: Decimal  # against the actual due
    change_percent: Decimal | None


@dataclass(frozen=True)
class HouseholdOutcome:
    """A household's actual column and each variant's."""

    household: HouseholdFacts
    area_m2: Decimal
    actual_source: ActualSource
    # Whether the issued settlement recomputed under its own tariff from the read models today
    # gives the very same bills (None: nothing issued).
    matches_issued: bool | None
    columns: tuple[HouseholdColumn, ...]
    # What the columns were computed from: the period as read (None: no period), its facts and the
    # settlement inputs (a tariff correction's preview settles the household again from them).
    period: PeriodRecord | None = None
    facts: PeriodFacts | None = None
    inputs: SettlementInputs | None = None


@dataclass
class ScenarioSummary:
    """A scenario's figures: per column (0 the actual), the totals overall, by community, building
    and class, the distribution of changes; the households it could not compute and why."""

    scenario_id: UUID
    households: int = 0
    computed: int = 0
    issued: int = 0
    issued_differ: list[str] = field(default_factory=list)
    last_days_counted: list[date] = field(default_factory=list)
    exceptions: list[RunException] = field(default_factory=list)
    skipped: list[RunException] = field(default_factory=list)
    totals: dict[int, Totals] = field(default_factory=dict)
    by_community: dict[tuple[int, str], Totals] = field(default_factory=dict)
    by_building: dict[tuple[int, str, str], Totals] = field(default_factory=dict)
    by_class: dict[tuple[int, str], Totals] = field(default_factory=dict)
    distributions: dict[int, Distribution] = field(default_factory=dict)

    def add(self, outcome: HouseholdOutcome) -> None:
        """Count one household in every total of every column."""
        self.computed += 1
        if outcome.actual_source is ActualSource.ISSUED:
            self.issued += 1
            if not outcome.matches_issued:
                self.issued_differ.append(outcome.household.account_number)
        household = outcome.household
        actual_due = outcome.columns[0].figures.due_yuan
        for column in outcome.columns:
            index = column.variant
            for totals in (
                _entry(self.totals, index, Totals),
                _entry(self.by_community, (index, household.community), Totals),
                _entry(self.by_building, (index, household.community, household.building), Totals),
                _entry(self.by_class, (index, household.customer_class), Totals),
            ):
                totals.add(outcome.area_m2, column.figures, actual_due)
            _entry(self.distributions, index, Distribution).add(column.change_yuan, actual_due)


def _entry(found: dict[Key, Value], key: Key, make: Callable[[], Value]) -> Value:
    """``found[key]``, made first when missing (setdefault would make one on every call)."""
    value = found.get(key)
    if value is None:
        value = found[key] = make()
    return value


# -- the service ---------------------------------------------------------------------------------


class Scenarios:
    """Computes scenarios from the read models, a chunk at a time; saves nothing."""

    def __init__(self, billing: Billing, periods: ScenarioInputs, season_in_force: SeasonInForce = default_season):
        self.billing = billing
        self.inputs = billing.inputs
        self.periods = periods
        self.season_in_force = season_in_force

    def run(
        self,
        principal: Principal,
        request: ScenarioRequest,
        sink: Callable[[Sequence[HouseholdOutcome]], None] | None = None,
        progress: ScenarioProgress | None = None,
        scenario_id: UUID | None = None,
        opened_under: tuple[str, int] | None = None,
    ) -> ScenarioSummary:
        """Compute the scenario: each household's outcomes go to ``sink`` a chunk at a time, the
        totals come back. Raises before computing anything when the scenario as a whole cannot
        be computed (no household in scope, a season not begun, a day counted outside it).

        ``opened_under`` (a tariff scope and version number): only the households whose period of
        the season was opened under that version are computed, the others are skipped (a tariff
        correction's preview, application/tariff_corrections.py)."""
        principal.require(Permission.RUN_SCENARIOS)
        today = business_day(self.billing.ledger.clock())
        households = self._households(request.scope)
        summary = ScenarioSummary(scenario_id or uuid4(), households=len(households))
        jobs = [
            replace(self._job(request, season, members, today, summary), opened_under=opened_under)
            for season, members in self._groups(request, households)
        ]
        total, done = sum(len(job.members) for job in jobs), 0
        for job in jobs:
            for chunk, reads in job.chunks():
                outcomes = job.compute(chunk, reads)
                for outcome in outcomes:
                    summary.add(outcome)
                if sink is not None:
                    sink(outcomes)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        return summary

    def _households(self, scope: ScenarioScope) -> list[HouseholdFacts]:
        found = self.inputs.households(scope.community, MAXIMUM_HOUSEHOLDS_PER_SCENARIO)
        households = [household for household in found if scope.holds(household)]
        if not households:
            raise InvalidInputError(
                "there are no households in this scope",
                message_key="no_households_in_scope",
                community=scope.community or "*",
            )
        return households

    def _groups(
        self, request: ScenarioRequest, households: Sequence[HouseholdFacts]
    ) -> list[tuple[Season, list[HouseholdFacts]]]:
        """The households by the season in force in their community, as a billing run groups them."""
        seasons: dict[str, Season] = {}
        groups: dict[Season, list[HouseholdFacts]] = {}
        for household in households:
            if household.community not in seasons:
                seasons[household.community] = self.season_in_force(request.season_code, household.community)
            groups.setdefault(seasons[household.community], []).append(household)
        return list(groups.items())

    def _job(
        self,
        request: ScenarioRequest,
        season: Season,
        members: list[HouseholdFacts],
        today: date,
        summary: ScenarioSummary,
    ) -> _ScenarioJob:
        last_day = last_day_counted(season, request.as_of, today)
        summary.last_days_counted.append(last_day)
        counted = Season(season.first_day, last_day, season.decree_number)
        billable: list[HouseholdFacts] = []
        for household in members:
            first_day, supplied_until = supply_days(household, season)
            if first_day <= min(supplied_until, last_day):
                billable.append(household)
            else:
                summary.skipped.append(_not_supplied(household, counted))
        return _ScenarioJob(self, request, season, last_day, billable, summary)


def last_day_counted(season: Season, as_of: date | None, today: date) -> date:
    """The last day of the season a scenario counts: its last day once it has ended, else
    ``as_of`` (by default the day before ``today``); refused before the season begins, and for a
    day counted outside the season or not yet over."""
    if today <= season.first_day:
        raise InvalidInputError(
            "the season has not begun: there is nothing to compute yet",
            message_key="scenario_season_not_begun",
            field="season",
            season=season.code,
        )
    if today > season.last_day:
        if as_of is not None and as_of != season.last_day:
            raise InvalidInputError(
                "as_of names the last day counted of the current season; a past season counts every day",
                message_key="scenario_as_of_past_season",
                field="as_of",
                season=season.code,
            )
        return season.last_day
    last_day = as_of if as_of is not None else today - timedelta(days=1)
    if not season.first_day <= last_day < today:
        raise InvalidInputError(
            "the last day counted must lie in the season and be over",
            message_key="scenario_as_of_invalid",
            field="as_of",
            as_of=last_day.isoformat(),
            season=season.code,
        )
    return last_day


def _not_supplied(household: HouseholdFacts, counted: Season) -> RunException:
    return RunException(
        household.account_number,
        "not_supplied_in_days_counted",
        "the household was not supplied on the days counted",
        {"first_day": counted.first_day.isoformat(), "last_day": counted.last_day.isoformat()},
    )


@dataclass(frozen=True)
class _ChunkReads:
    """What a chunk reads in bulk before its households are computed."""

    records: dict[UUID, HouseholdSeasonRecord]
    periods: dict[UUID, PeriodRecord]
    reader: SettlementInputReader


@dataclass
class _ScenarioJob:
    """One season group's computation, a chunk at a time."""

    scenarios: Scenarios
    request: ScenarioRequest
    season: Season
    last_day: date
    members: list[HouseholdFacts]
    summary: ScenarioSummary
    tariffs: dict[tuple[str, str], TariffInForce | None] = field(default_factory=dict)
    versions: dict[tuple[str, str, int], TariffVersion | None] = field(default_factory=dict)
    allocations: dict[tuple[str, str], BuildingAllocation | None] = field(default_factory=dict)
    variant_terms: dict[tuple[str, str, int, int], TariffTerms] = field(default_factory=dict)
    opened_under: tuple[str, int] | None = None  # (tariff scope, version): only periods opened under it

    def chunks(self) -> Iterator[tuple[list[HouseholdFacts], _ChunkReads]]:
        """The members a chunk at a time, each with its bulk reads. The next chunks' are read in
        other threads while this one is computed: the database works while Python computes (the
        reads wait on the server, not on the interpreter), and a chunk is never read twice."""
        chunks = [self.members[start : start + CHUNK_SIZE] for start in range(0, len(self.members), CHUNK_SIZE)]
        with ThreadPoolExecutor(max_workers=READS_AHEAD, thread_name_prefix="scenario-reads") as readers:
            pending = deque(readers.submit(self.read, chunk) for chunk in chunks[:READS_AHEAD])
            for index, chunk in enumerate(chunks):
                reads = pending.popleft().result()
                if index + READS_AHEAD < len(chunks):
                    pending.append(readers.submit(self.read, chunks[index + READS_AHEAD]))
                yield chunk, reads

    def read(self, households: Sequence[HouseholdFacts]) -> _ChunkReads:
        """A chunk's bulk reads: suspensions and owner changes, periods and issued bills, and the
        settlement reader with its chunk-wide reads (meter evidence, implausible intervals) made."""
        ids = [household.household_id for household in households]
        scenarios = self.scenarios
        reader = SettlementInputReader(
            scenarios.inputs, ids, self.season, self.allocation, (self.season.first_day, self.last_day)
        )
        reader.read_chunk()
        return _ChunkReads(
            scenarios.inputs.season_records(ids, self.season), scenarios.periods.periods(ids, self.season.code), reader
        )

    def compute(self, households: Sequence[HouseholdFacts], reads: _ChunkReads) -> list[HouseholdOutcome]:
        """The outcomes of a chunk from its reads; a household that cannot be settled is an
        exception of the scenario (as of a billing run), the others are computed."""
        records, periods, reader = reads.records, reads.periods, reads.reader
        planned: list[tuple[HouseholdFacts, PeriodFacts, HouseholdSeasonRecord]] = []
        for household in households:
            if not self._opened_under(periods.get(household.household_id)):
                self.summary.skipped.append(_not_under(household, self.opened_under))
                continue
            try:
                facts = self._facts(household, periods.get(household.household_id))
            except LedgerError as error:
                self.summary.exceptions.extend(run_exceptions(household.account_number, error))
                continue
            record = records.get(household.household_id) or HouseholdSeasonRecord((), ())
            planned.append((household, facts, record))
        # Households settled over other days than the chunk's (owner changes, part of the season)
        # have their segments' evidence read together, a read per distinct span of days.
        reader.read_ahead(
            [(household, (facts.first_day, facts.last_day), record) for household, facts, record in planned]
        )
        outcomes = []
        for household, facts, record in planned:
            try:
                outcomes.append(self._outcome(household, facts, record, periods.get(household.household_id), reader))
            except LedgerError as error:
                self.summary.exceptions.extend(run_exceptions(household.account_number, error))
        return outcomes

    def _outcome(
        self,
        household: HouseholdFacts,
        facts: PeriodFacts,
        record: HouseholdSeasonRecord,
        period: PeriodRecord | None,
        reader: SettlementInputReader,
    ) -> HouseholdOutcome:
        prepaid = period.prepaid_yuan if period is not None else ZERO
        inputs = reader.settlement_inputs(household, (facts.first_day, facts.last_day), record, prepaid)
        recomputed = settlement_bills(facts, inputs)
        issued = period.settlement if period is not None else ()
        if issued:
            actual = season_figures([bill.figures() for bill in issued])
            source, matches = ActualSource.ISSUED, _same_bills(issued, recomputed)
        else:
            actual, source, matches = _figures_of(recomputed), ActualSource.COMPUTED, None
        columns = [HouseholdColumn(0, actual, ZERO, change_percent(ZERO, actual.due_yuan))]
        for index, variant in enumerate(self.request.variants, start=1):
            variant_facts = replace(facts, terms=self._variant_terms(household, facts, index, variant))
            figures = _figures_of(settlement_bills(variant_facts, inputs))
            change = figures.due_yuan - actual.due_yuan
            columns.append(HouseholdColumn(index, figures, change, change_percent(change, actual.due_yuan)))
        return HouseholdOutcome(household, facts.billed_area_m2, source, matches, tuple(columns), period, facts, inputs)

    def _variant_terms(
        self, household: HouseholdFacts, facts: PeriodFacts, index: int, variant: TariffVariant
    ) -> TariffTerms:
        """The variant's terms on the household's tariff version, made once per version: every
        household of a version has the same terms (a class's tariff in a scope, numbered)."""
        key = (household.customer_class, facts.tariff_scope, facts.tariff_version, index)
        terms = self.variant_terms.get(key)
        if terms is None:
            terms = self.variant_terms[key] = variant.terms_on(facts.terms)
        return terms

    def _opened_under(self, period: PeriodRecord | None) -> bool:
        if self.opened_under is None:
            return True
        return period is not None and (period.tariff_scope, period.tariff_version) == self.opened_under

    def _facts(self, household: HouseholdFacts, period: PeriodRecord | None) -> PeriodFacts:
        """The facts a settlement of the household's period would take: the period's own (its
        tariff version, area and position; the days and season its settlement was issued on, else
        the days a run would settle now, to the last day counted); a household without a period,
        the facts a run would open it with under the tariff in force."""
        if period is None:
            tariff = self._tariff_in_force(household)
            days = self._days(household)
            return self.scenarios.billing.open_period(household, self.season, tariff, _NEVER_SAVED, days).facts
        version = self._version(household, period)
        season, (first_day, last_day) = self.season, self._days(household)
        if period.settlement:
            season, first_day, last_day = _settled_days(period.settlement[0])
        return PeriodFacts(
            household.account_number,
            self.season.code,
            first_day,
            last_day,
            period.tariff_scope,
            period.tariff_version,
            version.document_number,
            version.approved_on,
            version.terms,
            period.billed_area_m2,
            period.position_coefficient,
            season.first_day,
            season.last_day,
            season.decree_number,
        )

    def _days(self, household: HouseholdFacts) -> tuple[date, date]:
        first_day, last_day = supply_days(household, self.season)
        return first_day, min(last_day, self.last_day)

    def _tariff_in_force(self, household: HouseholdFacts) -> TariffInForce:
        key = (household.customer_class, household.community)
        if key not in self.tariffs:
            self.tariffs[key] = self.scenarios.billing.tariff_in_force(*key, self.season.first_day)
        found = self.tariffs[key]
        if found is None:
            raise InvalidInputError(
                f"no tariff in force on {self.season.first_day}",
                message_key="season_without_tariff",
                season=self.season.code,
                count=1,
                households=household.account_number,
            )
        return found

    def _version(self, household: HouseholdFacts, period: PeriodRecord) -> TariffVersion:
        key = (household.customer_class, period.tariff_scope, period.tariff_version)
        if key not in self.versions:
            self.versions[key] = self.scenarios.periods.tariff_version(*key)
        found = self.versions[key]
        if found is None:
            raise InvalidInputError(
                "the period's tariff version is not in the read models",
                message_key="scenario_tariff_version_missing",
                scope=period.tariff_scope,
                version=period.tariff_version,
            )
        return found

    def allocation(self, community: str, building: str) -> BuildingAllocation | None:
        key = (community, building)
        if key not in self.allocations:
            self.allocations[key] = self.scenarios.billing.allocation(community, building, self.season)
        return self.allocations[key]


def _not_under(household: HouseholdFacts, opened_under: tuple[str, int] | None) -> RunException:
    scope, version = opened_under or ("", 0)
    return RunException(
        household.account_number,
        "not_under_corrected_version",
        "the household's period of the season was not opened under the tariff version",
        {"scope": scope, "version": str(version)},
    )


def _settled_days(bill: IssuedBillRecord) -> tuple[Season, date, date]:
    """The season and the period's days a settlement was issued on, from its ``season_days`` line."""
    line = next(line for line in bill.lines if line.code == "season_days")
    figures = line.figures
    season = Season(
        date.fromisoformat(figures["season_first_day"]),
        date.fromisoformat(figures["season_last_day"]),
        figures["decree_number"],
    )
    return season, date.fromisoformat(figures["first_day"]), date.fromisoformat(figures["last_day"])


def _figures_of(bills: Sequence[ComputedBill]) -> SeasonFigures:
    return season_figures([SettlementBillFigures(bill.amount_yuan, bill.basis, bill.lines) for bill in bills])


def _same_bills(issued: Sequence[IssuedBillRecord], computed: Sequence[ComputedBill]) -> bool:
    return len(issued) == len(computed) and all(
        record.matches(bill) for record, bill in zip(issued, computed, strict=True)
    )
