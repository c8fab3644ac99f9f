"""Billing runs: the prepayment, a month's statements or the settlement, over a community or the
whole city, in chunks with progress.

A run is idempotent: each billing period issues each bill once, so running again issues only
what is missing. Before anything is booked the run checks what would stop it as a whole (a season
without a tariff lists the households). Problems of single households (a season its readings do
not cover) are exceptions in the summary; the others are billed.
"""

from __future__ import annotations

import calendar
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError, StoredEvent

from application.authorization import Permission, Principal
from application.billing import Billing, TariffInForce
from application.billing_inputs import BillingInputs, HouseholdFacts, HouseholdSeasonRecord, SuspensionSpan
from application.bulk_loads import StoredEventsOf, load_many
from domain import ids
from domain.billing import BillKind, MeterEvidence, MonthInputs, SegmentInputs, SettlementInputs
from domain.billing_period import BillingPeriod, IssuedBill
from domain.building_allocation import BuildingAllocation
from domain.day_split import business_day
from domain.errors import ConflictError, InvalidInputError, LedgerError
from domain.implausible_heat import ImplausibleHeatError, ImplausibleInterval
from domain.season import Season
from domain.values import CommandContext

# Households saved per atomic save: big enough to amortise the save, small enough to retry.
CHUNK_SIZE = 250
# Households read per page of the scope (twice: checked, then billed): a run holds a page's facts,
# not a city's (3.8 MB for 10,000 households read up front, measured: 38 MB at 100,000).
PAGE_SIZE = 5_000
MAXIMUM_SAVE_ATTEMPTS = 3
# A city has 100,000–300,000 households (domain.md §10); a run refuses more than this.
MAXIMUM_HOUSEHOLDS_PER_RUN = 1_000_000
# How many households a refusal names; the count says how many there are in all.
LISTED_HOUSEHOLDS = 50
ZERO = Decimal(0)

# (households done, households in all)
RunProgress = Callable[[int, int], None]
# (season code, community) → the season's days in force there
SeasonInForce = Callable[[str, str], Season]


def default_season(code: str, community: str) -> Season:
    """The default season (1 November – 31 March) where no season records are wired."""
    return Season.from_code(code)


def share_of(community: str, building: str, count: int) -> int:
    """The share (0 … count - 1) a building's households are billed in when a run is split over
    ``count`` processes: a CRC-32 of the community and building, the same in every process and
    every run (Python's ``hash`` of a string is salted per process)."""
    return zlib.crc32(f"{community}\x00{building}".encode()) % count


@dataclass(frozen=True)
class RunShare:
    """One of ``count`` disjoint parts of a run, by building: the households whose building's
    ``share_of`` is ``index`` (a building is billed whole in one part: a statement compares a flat
    with its building)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"share {self.index} of {self.count}")

    def holds(self, household: HouseholdFacts) -> bool:
        return share_of(household.community, household.building, self.count) == self.index


@dataclass(frozen=True)
class RunRequest:
    """What to bill: the kind, the season, the month (statements), the community (None: the city),
    and the share of its households (None: all of them) when the run is split over processes."""

    kind: BillKind
    season: Season
    month: str | None = None
    community: str | None = None
    share: RunShare | None = None


@dataclass(frozen=True)
class RunException:
    """A household the run could not bill, and why (a message key and its parameters)."""

    account_number: str
    message_key: str
    message: str
    params: dict[str, Any]


@dataclass
class RunSummary:
    """What a run did: households seen, bills issued and skipped, totals, exceptions."""

    run_id: UUID
    kind: BillKind
    season_code: str
    month: str | None
    community: str | None
    households: int = 0
    bills_issued: int = 0
    already_issued: int = 0
    charged_yuan: Decimal = ZERO  # the sum of positive amounts (invoices, supplements)
    credited_yuan: Decimal = ZERO  # the sum of negative amounts (refunds and credits), as a negative
    by_basis: Counter[str] = field(default_factory=Counter)
    exceptions: list[RunException] = field(default_factory=list)
    # Households the season does not bill at all (registered after it, deregistered before it):
    # not a failure of the run.
    skipped: list[RunException] = field(default_factory=list)

    def count(self, bill: IssuedBill) -> None:
        self.bills_issued += 1
        self.by_basis[bill.basis] += 1
        if bill.amount_yuan >= 0:
            self.charged_yuan += bill.amount_yuan
        else:
            self.credited_yuan += bill.amount_yuan


def merged_summary(whole: RunSummary, parts: Iterable[RunSummary]) -> RunSummary:
    """The summary of a run split into ``parts`` (its shares' summaries): ``whole``'s id, kind,
    season, month and community with the parts' figures added up, their exceptions and skipped
    households in account order."""
    merged = RunSummary(whole.run_id, whole.kind, whole.season_code, whole.month, whole.community)
    for part in parts:
        merged.households += part.households
        merged.bills_issued += part.bills_issued
        merged.already_issued += part.already_issued
        merged.charged_yuan += part.charged_yuan
        merged.credited_yuan += part.credited_yuan
        merged.by_basis.update(part.by_basis)
        merged.exceptions.extend(part.exceptions)
        merged.skipped.extend(part.skipped)
    merged.exceptions.sort(key=lambda exception: exception.account_number)
    merged.skipped.sort(key=lambda skipped: skipped.account_number)
    return merged


class BillingRuns:
    """Runs billing over many households, a chunk per atomic save."""

    def __init__(
        self,
        billing: Billing,
        season_in_force: SeasonInForce = default_season,
        stored_events_of: StoredEventsOf | None = None,
    ) -> None:
        """``stored_events_of`` selects many aggregates' events in one read: a chunk's billing
        periods are then loaded together (without it, one by one)."""
        self.billing = billing
        self.ledger = billing.ledger
        self.inputs = billing.inputs
        self.season_in_force = season_in_force
        self.stored_events_of = stored_events_of

    def run(
        self,
        principal: Principal,
        request: RunRequest,
        progress: RunProgress | None = None,
        run_id: UUID | None = None,
        reason: str = "billing run",
    ) -> RunSummary:
        """Run billing; returns the summary. Raises before booking anything when the run as a
        whole cannot proceed (no households, a month outside the season, missing tariffs)."""
        principal.require(Permission.RUN_BILLING)
        today = business_day(self.ledger.clock())
        summary = RunSummary(run_id or uuid4(), request.kind, request.season.code, request.month, request.community)
        context = CommandContext(principal.name, reason, summary.run_id)
        # Every group's checks come before anything is booked: a run proceeds whole or not at all.
        jobs = self._checked_jobs(request, today, context, summary)
        done = 0
        # The next chunk's bulk reads are made in a thread while this one is computed and saved:
        # the database works while Python computes. The read models catch up once when the run
        # ends, not after each chunk's save (where the ledger catches up after saves): the chunks'
        # inputs are other households' rows, which the run's own bills do not change.
        with (
            self.ledger.after_save_hooks_deferred(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="billing-reads") as reader,
        ):
            chunks = self._chunks(request, jobs)
            upcoming = next(chunks, None)
            pending = reader.submit(upcoming[0].read, upcoming[1]) if upcoming is not None else None
            while upcoming is not None:
                job, chunk = upcoming
                assert pending is not None
                reads = pending.result()
                upcoming = next(chunks, None)
                if upcoming is not None:
                    pending = reader.submit(upcoming[0].read, upcoming[1])
                job.bill_chunk(chunk, reads)
                done += len(chunk)
                if progress is not None:
                    progress(done, summary.households)
        return summary

    def check(self, principal: Principal, request: RunRequest, run_id: UUID | None = None) -> RunSummary:
        """The checks ``run`` makes before booking anything, alone (a split run makes them over the
        whole request before any of its processes books): raises as ``run`` would; returns the
        households counted and those skipped, nothing billed."""
        principal.require(Permission.RUN_BILLING)
        today = business_day(self.ledger.clock())
        summary = RunSummary(run_id or uuid4(), request.kind, request.season.code, request.month, request.community)
        self._checked_jobs(
            request, today, CommandContext(principal.name, "billing run checks", summary.run_id), summary
        )
        return summary

    def _pages(self, community: str | None, share: RunShare | None = None) -> Iterator[list[HouseholdFacts]]:
        """The scope's households in pages of ``PAGE_SIZE`` by account number (a keyset read: each
        page starts after the last account of the one before), at most ``MAXIMUM_HOUSEHOLDS_PER_RUN``;
        with a ``share``, only its households (every page is read: the keyset needs its last account)."""
        after: str | None = None
        left = MAXIMUM_HOUSEHOLDS_PER_RUN
        while left > 0:
            size = min(PAGE_SIZE, left)
            page = self.inputs.households(community, size, after=after)
            held = page if share is None else [household for household in page if share.holds(household)]
            if held:
                yield held
            if len(page) < size:
                return
            left -= len(page)
            after = page[-1].account_number

    def _season_of(self, household: HouseholdFacts, request: RunRequest, seasons: dict[str, Season]) -> Season:
        """The season in force in the household's community (``seasons`` caches it per community)."""
        if household.community not in seasons:
            seasons[household.community] = self.season_in_force(request.season.code, household.community)
        return seasons[household.community]

    def _checked_jobs(
        self, request: RunRequest, today: date, context: CommandContext, summary: RunSummary
    ) -> dict[Season, _RunJob]:
        """A job per season in force among the scope's households (one unless communities heat on
        different days), each checked (the season's days, the month, a tariff for every household
        it bills) before anything is booked, with the households the season cannot bill
        (registered after it, deregistered before it) listed as skipped. A first pass over the
        households, page by page: it keeps the tariffs per class and community and, for a
        statement (which compares a flat with its building), the households by building; a
        settlement's or prepayment's run holds a page of households, not the city's (issue 17)."""
        seasons: dict[str, Season] = {}
        jobs: dict[Season, _RunJob] = {}
        for page in self._pages(request.community, request.share):
            summary.households += len(page)
            for household in page:
                season = self._season_of(household, request, seasons)
                job = jobs.get(season)
                if job is None:
                    season_request = replace(request, season=season)
                    month = check_request(season_request, today)
                    job = jobs[season] = _RunJob(self, season_request, month, today, context, summary)
                billable, skipped = outside_supply([household], season)
                summary.skipped.extend(skipped)
                if billable:
                    job.check(household)
        # A share without households is no refusal: the whole run was checked before it was split.
        if not summary.households and request.share is None:
            raise InvalidInputError(
                "there are no households to bill in this scope",
                message_key="no_households_in_scope",
                community=request.community or "*",
            )
        for job in jobs.values():
            job.refuse_without_tariffs()
        return jobs

    def _chunks(
        self, request: RunRequest, jobs: dict[Season, _RunJob]
    ) -> Iterator[tuple[_RunJob, list[HouseholdFacts]]]:
        """The billable households in chunks of ``CHUNK_SIZE`` of one season each, in account order
        within a season, read page by page again: the second pass."""
        seasons: dict[str, Season] = {}
        filling: dict[Season, list[HouseholdFacts]] = {}
        for page in self._pages(request.community, request.share):
            for household in page:
                season = self._season_of(household, request, seasons)
                job = jobs.get(season)
                # A household in a community registered since the checks, under a season no other
                # household heats on, was not checked: the next run bills it.
                if job is None or not outside_supply([household], season)[0]:
                    continue
                chunk = filling.setdefault(season, [])
                chunk.append(household)
                if len(chunk) == CHUNK_SIZE:
                    yield job, chunk
                    filling[season] = []
        for season, chunk in filling.items():
            if chunk:
                yield jobs[season], chunk


def check_request(request: RunRequest, today: date) -> MonthInputs | None:
    """Refuse a run that cannot proceed on ``today`` (a settlement before the season's end, a
    statement month missing, invalid, outside the season or not over); for a statement, the
    month's days inside the season (a skeleton: the figures come per household)."""
    season = request.season
    if request.kind is BillKind.ADJUSTMENT:
        raise InvalidInputError(
            "credit and debit notes are booked from a dispute or a tariff correction, not by a run",
            message_key="adjustment_not_a_run",
            field="kind",
        )
    if request.kind is BillKind.SETTLEMENT and today <= season.last_day:
        raise InvalidInputError(
            "a season is settled after its last day", message_key="season_not_ended", field="season", season=season.code
        )
    if request.kind is not BillKind.STATEMENT:
        if request.month is not None:
            raise InvalidInputError(
                "only a statement run has a month",
                message_key="month_only_for_statements",
                field="month",
                month=request.month,
            )
        return None
    if request.month is None:
        raise InvalidInputError("a statement run needs its month", message_key="statement_month_missing", field="month")
    first_day, last_day = _month_days(request.month, season)
    if today <= last_day:
        raise InvalidInputError(
            "a month's statement is issued after the month has ended",
            message_key="month_not_ended",
            field="month",
            month=request.month,
        )
    return MonthInputs(request.month, first_day, last_day, None, None, None, None)


def _month_days(month: str | None, season: Season) -> tuple[date, date]:
    """The days of ``YYYY-MM`` that lie inside the season, or InvalidInputError."""
    try:
        year_text, month_text = (month or "").split("-")
        year, number = int(year_text), int(month_text)
        first = date(year, number, 1)
    except ValueError:
        raise InvalidInputError(
            "a statement month looks like 2025-12", message_key="month_invalid", field="month", month=month or ""
        ) from None
    last = date(year, number, calendar.monthrange(year, number)[1])
    first_day, last_day = max(first, season.first_day), min(last, season.last_day)
    if first_day > last_day:
        raise InvalidInputError(
            "the month lies outside the season", message_key="month_outside_season", field="month", month=month
        )
    return first_day, last_day


@dataclass
class _RunJob:
    """One run's state while it goes through the chunks."""

    runs: BillingRuns
    request: RunRequest
    month: MonthInputs | None
    today: date
    context: CommandContext
    summary: RunSummary
    # The tariff in force on the season's first day per customer class and community (None: none).
    tariffs: dict[tuple[str, str], TariffInForce | None] = field(default_factory=dict)
    without_tariff: list[str] = field(default_factory=list)  # accounts, as the checks found them
    without_tariff_count: int = 0
    building_gj_per_m2: dict[tuple[str, str], Decimal | None] = field(default_factory=dict)
    buildings: dict[tuple[str, str], list[HouseholdFacts]] = field(default_factory=dict)
    allocations: dict[tuple[str, str], BuildingAllocation | None] = field(default_factory=dict)

    def check(self, household: HouseholdFacts) -> None:
        """Check a household the run will bill (a tariff in force), and for a statement remember it
        by building: a statement compares a flat with its building's average, read with the
        chunk's other inputs."""
        if self.tariff_of(household) is None:
            self.without_tariff_count += 1
            if len(self.without_tariff) < LISTED_HOUSEHOLDS:
                self.without_tariff.append(household.account_number)
        if self.month is not None:
            self.buildings.setdefault((household.community, household.building), []).append(household)

    def tariff_of(self, household: HouseholdFacts) -> TariffInForce | None:
        """The tariff in force on the season's first day for the household's class and community."""
        key = (household.customer_class, household.community)
        if key not in self.tariffs:
            first_day = self.request.season.first_day
            self.tariffs[key] = self.runs.billing.tariff_in_force(
                household.customer_class, household.community, first_day
            )
        return self.tariffs[key]

    def refuse_without_tariffs(self) -> None:
        """An error naming the households without a tariff in force (nothing is booked), if any."""
        if not self.without_tariff_count:
            return
        season, count = self.request.season, self.without_tariff_count
        listed = ", ".join(self.without_tariff) + (" …" if count > LISTED_HOUSEHOLDS else "")
        raise InvalidInputError(
            f"{count} households have no tariff in force on {season.first_day}",
            message_key="season_without_tariff",
            season=season.code,
            count=count,
            households=listed,
        )

    def read(self, households: Sequence[HouseholdFacts]) -> _ChunkReads | None:
        """A chunk's bulk reads made ahead (suspensions and owner changes; for a settlement the
        meter evidence and implausible intervals), all at one position of the read models, and
        its billing periods' stored events: None when the position moved while they were made
        (the chunk then reads as it is billed), and for a statement, whose monthly heat and
        building averages are read as it is billed."""
        if self.month is not None:
            return None
        inputs = self.runs.inputs
        position = inputs.position()
        household_ids = [household.household_id for household in households]
        records = inputs.season_records(household_ids, self.request.season)
        readers = _ChunkReaders(self, household_ids)
        if self.request.kind is BillKind.SETTLEMENT:
            readers.read_chunk(households, records)
        if inputs.position() != position:
            return None
        return _ChunkReads(position, records, readers, self._period_events(households))

    def _period_ids(self, households: Sequence[HouseholdFacts]) -> list[UUID]:
        code = self.request.season.code
        return [ids.billing_period_id(household.account_number, code) for household in households]

    def _period_events(self, households: Sequence[HouseholdFacts]) -> list[StoredEvent] | None:
        """The stored events of the chunk's billing periods, selected ahead in the reader thread
        (None when no bulk selection is wired). The main thread waited for this selection a
        quarter of its period loads (py-spy, PostgreSQL, issue 17); a period another writer
        changed since is caught by the save's version check, and the chunk is billed again from
        a fresh load, as when it changes between a load and the save."""
        if self.runs.stored_events_of is None:
            return None
        return list(self.runs.stored_events_of(self._period_ids(households)))

    def bill_chunk(self, households: Sequence[HouseholdFacts], reads: _ChunkReads | None = None) -> None:
        """Bill a chunk in one atomic save, retried from fresh state when another writer interferes.

        Every input of a chunk is read at one position of the notification log, recorded on its
        bills: when the read models moved on while the chunk read them (a worker caught up
        meanwhile), the chunk is read again, so a bill names exactly what it was computed from.
        ``reads`` made ahead at one position are used as they are unless the chunk needed a read
        they did not make (then the position must not have moved since, as for its own reads)."""
        ledger = self.runs.ledger
        for attempt in range(1, MAXIMUM_SAVE_ATTEMPTS + 1):
            with ledger.command_lock:
                periods: list[BillingPeriod] = []
                outcome = _ChunkOutcome()
                ahead = reads if attempt == 1 else None
                try:
                    position = ahead.position if ahead is not None else self.runs.inputs.position()
                    if self.month is not None:
                        self.building_gj_per_m2 = _building_averages(self, self._buildings_of(households))
                    read_now = self._bill_each(households, periods, outcome, position, ahead)
                    moved = read_now and self.runs.inputs.position() != position
                    if moved and attempt < MAXIMUM_SAVE_ATTEMPTS:
                        ledger.evict(periods)
                        continue
                    if outcome.changed:
                        ledger.save(*outcome.changed)
                except IntegrityError:
                    ledger.evict(periods)
                    if attempt == MAXIMUM_SAVE_ATTEMPTS:
                        raise ConflictError(
                            "the billing periods kept changing while the run saved them; run it again",
                            message_key="run_contended",
                        ) from None
                    continue
                except BaseException:
                    ledger.evict(periods)
                    raise
                # Saved (or unchanged): the run needs none of them again, and a city's periods
                # left in the aggregate cache held up to 27 MB per 1,000 households until the
                # cache was full (issue 17: memory bounded by the chunk, not the city). A later
                # load rebuilds them from their few events.
                ledger.evict(periods)
            outcome.add_to(self.summary)
            return

    def _buildings_of(self, households: Sequence[HouseholdFacts]) -> list[HouseholdFacts]:
        """Every household of the scope in the buildings of ``households``."""
        places = dict.fromkeys((household.community, household.building) for household in households)
        return [member for place in places for member in self.buildings.get(place, ())]

    def _bill_each(
        self,
        households: Sequence[HouseholdFacts],
        periods: list[BillingPeriod],
        outcome: _ChunkOutcome,
        position: int,
        ahead: _ChunkReads | None,
    ) -> bool:
        """Issue the chunk's bills into ``outcome``; True when it read the read models itself
        (rather than only through ``ahead``)."""
        if ahead is None:
            household_ids = [household.household_id for household in households]
            records = self.runs.inputs.season_records(household_ids, self.request.season)
            readers = _ChunkReaders(self, household_ids)
            if self.request.kind is BillKind.SETTLEMENT:
                readers.read_chunk(households, records)
        else:
            records, readers = ahead.records, ahead.readers
        loaded = self._periods(households, ahead.period_events if ahead is not None else None)
        for household in households:
            period: BillingPeriod | None = None
            try:
                period = self._period(household, loaded)
                periods.append(period)
                bills = self._issue(period, household, records.get(household.household_id), readers, position)
            except LedgerError as error:
                # One household's problem (a period it cannot open, a season its readings do not
                # cover) is an exception of the run; the others are billed.
                outcome.exceptions.extend(run_exceptions(household.account_number, error))
                if period is not None:
                    outcome.unchanged(period)
                continue
            outcome.record(period, bills, period.issued_under(self.context.correlation_id))
        return ahead is None or readers.read_lazily

    def _periods(
        self, households: Sequence[HouseholdFacts], selected: Sequence[StoredEvent] | None = None
    ) -> dict[UUID, BillingPeriod] | None:
        """The chunk's billing periods that exist, loaded in one read of the event store, or from
        their events ``selected`` ahead (None when no bulk selection is wired: ``_period`` then
        loads each)."""
        if self.runs.stored_events_of is None:
            return None
        stored_events_of = self.runs.stored_events_of if selected is None else lambda _: selected
        return load_many(self.runs.ledger, BillingPeriod, stored_events_of, self._period_ids(households))

    def _load(self, period_id: UUID) -> BillingPeriod | None:
        return self.runs.ledger.load_or_none(BillingPeriod, period_id)

    def _period(self, household: HouseholdFacts, loaded: dict[UUID, BillingPeriod] | None) -> BillingPeriod:
        season = self.request.season
        days = supply_days(household, season)
        period_id = ids.billing_period_id(household.account_number, season.code)
        existing = loaded.get(period_id) if loaded is not None else self._load(period_id)
        if existing is not None:
            existing.follow_season(season, days, self.context)  # a decree extended it since
            return existing
        tariff = self.tariff_of(household)
        if tariff is None:  # registered since the run's checks, where no tariff is in force
            raise InvalidInputError(
                f"the household has no tariff in force on {season.first_day}",
                message_key="season_without_tariff",
                season=season.code,
                count=1,
                households=household.account_number,
            )
        return self.runs.billing.open_period(household, season, tariff, self.context, days)

    def _issue(
        self,
        period: BillingPeriod,
        household: HouseholdFacts,
        record: HouseholdSeasonRecord | None,
        readers: _ChunkReaders,
        position: int,
    ) -> list[IssuedBill] | None:
        """Issue the run's bill(s) for one period; None when they were issued already."""
        record = record or HouseholdSeasonRecord((), ())
        kind = self.request.kind
        first_day, last_day = period.days
        if kind is BillKind.PREPAYMENT:
            suspended = _suspended_on(record.suspensions, first_day)
            bill = period.invoice_prepayment(suspended, self.today, self.context, position)
            return [bill] if bill is not None else None
        if kind is BillKind.STATEMENT:
            month = readers.month_inputs(household, period)
            # The month's days the household was supplied (registered or deregistered within it).
            month = replace(month, first_day=max(month.first_day, first_day), last_day=min(month.last_day, last_day))
            if month.first_day > month.last_day:
                raise InvalidInputError(
                    "the household was not supplied in this month",
                    message_key="month_outside_period",
                    month=month.month,
                    account_number=household.account_number,
                )
            bill = period.issue_statement(month, self.today, self.context, position)
            return [bill] if bill is not None else None
        if period.is_settled:
            return None
        inputs = readers.settlement_inputs(household, period, record)
        return period.settle(inputs, self.today, self.context, position)

    def allocation(self, community: str, building: str) -> BuildingAllocation | None:
        key = (community, building)
        if key not in self.allocations:
            self.allocations[key] = self.runs.billing.allocation(community, building, self.request.season)
        return self.allocations[key]


@dataclass(frozen=True)
class _ChunkReads:
    """A chunk's bulk reads, all made at ``position`` of the read models, and the stored events
    of its billing periods (None: no bulk selection wired)."""

    position: int
    records: dict[UUID, HouseholdSeasonRecord]
    readers: _ChunkReaders
    period_events: list[StoredEvent] | None = None


@dataclass
class _ChunkOutcome:
    """What a chunk did, added to the summary only once its save succeeded."""

    changed: list[BillingPeriod] = field(default_factory=list)
    issued: list[IssuedBill] = field(default_factory=list)
    already_issued: int = 0
    exceptions: list[RunException] = field(default_factory=list)

    def record(self, period: BillingPeriod, bills: list[IssuedBill] | None, this_run: list[IssuedBill]) -> None:
        """A period's bills: ``bills`` issued now, or None when they were issued before, by
        another run or by this one (``this_run``: the bills under the run's id, counted as the
        run's own, so a run resumed after a crash reports all it issued)."""
        if bills is None:
            if this_run:
                self.issued.extend(this_run)
            else:
                self.already_issued += 1
            if period.pending_events:
                self.changed.append(period)
            return
        self.changed.append(period)
        self.issued.extend(bills)

    def unchanged(self, period: BillingPeriod) -> None:
        # A period opened for a household that then failed is still worth keeping: it records
        # the tariff the season runs under. One that existed has no new events.
        if period.pending_events:
            self.changed.append(period)

    def add_to(self, summary: RunSummary) -> None:
        for bill in self.issued:
            summary.count(bill)
        summary.already_issued += self.already_issued
        summary.exceptions.extend(self.exceptions)


class _ChunkReaders:
    """Bulk reads for one chunk, made lazily: statements read monthly heat, settlements evidence."""

    def __init__(self, job: _RunJob, household_ids: list[UUID]) -> None:
        self.job = job
        self.household_ids = household_ids
        self._monthly: dict[UUID, Any] | None = None
        self._settlement_readers: dict[Season, SettlementInputReader] = {}

    @property
    def read_lazily(self) -> bool:
        """Whether any read was made while the chunk was billed, beyond ``read_chunk``'s."""
        return self._monthly is not None or any(reader.lazy_reads for reader in self._settlement_readers.values())

    def read_chunk(self, households: Sequence[HouseholdFacts], records: dict[UUID, HouseholdSeasonRecord]) -> None:
        """A settlement's chunk-wide reads now: the meter evidence over the season, the implausible
        intervals, and ahead, the evidence of the households settled over other days than the
        season's (owner changes, registered or deregistered within it), one read per span of days
        instead of one per household and segment."""
        season = self.job.request.season
        empty = HouseholdSeasonRecord((), ())
        reader = self._settlement_reader(season)
        reader.read_chunk()
        reader.read_ahead(
            [
                (household, supply_days(household, season), records.get(household.household_id, empty))
                for household in households
            ]
        )

    def _settlement_reader(self, season: Season) -> SettlementInputReader:
        reader = self._settlement_readers.get(season)
        if reader is None:
            reader = SettlementInputReader(self.job.runs.inputs, self.household_ids, season, self.job.allocation)
            self._settlement_readers[season] = reader
        return reader

    def month_inputs(self, household: HouseholdFacts, period: BillingPeriod) -> MonthInputs:
        month = self.job.month
        assert month is not None, "statements have a month"
        if self._monthly is None:
            self._monthly = self.job.runs.inputs.monthly_energy(self.household_ids, self.job.request.season)
        energy = self._monthly.get(household.household_id)
        if energy is None:
            return month
        by_month: dict[str, Decimal] = energy.by_month
        this_month = by_month.get(month.month, ZERO)
        to_date = sum((value for key, value in by_month.items() if key <= month.month), ZERO)
        previous_key = _previous_month(month.month)
        previous = by_month.get(previous_key) if previous_key >= period.season.first_day.strftime("%Y-%m") else None
        average = self.job.building_gj_per_m2.get((household.community, household.building))
        return MonthInputs(month.month, month.first_day, month.last_day, this_month, to_date, previous, average)

    def settlement_inputs(
        self, household: HouseholdFacts, period: BillingPeriod, record: HouseholdSeasonRecord
    ) -> SettlementInputs:
        reader = self._settlement_reader(period.season)
        return reader.settlement_inputs(household, period.days, record, period.prepaid_yuan)


# (community, building) → the building's allocation of the season's heat, if one was recorded
AllocationOf = Callable[[str, str], BuildingAllocation | None]


class SettlementInputReader:
    """What the settlements of a chunk of households read, in bulk and lazily: the billing run and
    the regulator's scenarios (application/scenarios.py) build every ``SettlementInputs`` here, so
    a scenario computes exactly what a run would.

    ``bulk_days`` are the days most of the chunk is settled over (the season's, or a scenario's
    season to date): a household settled over exactly those days in one segment takes its meter
    evidence from one read for the whole chunk; any other (owner changes, registered or
    deregistered within the season) reads its own segments."""

    def __init__(
        self,
        inputs: BillingInputs,
        household_ids: list[UUID],
        season: Season,
        allocation_of: AllocationOf,
        bulk_days: tuple[date, date] | None = None,
    ) -> None:
        self.inputs = inputs
        self.household_ids = household_ids
        self.season = season
        self.allocation_of = allocation_of
        self.bulk_days = bulk_days or (season.first_day, season.last_day)
        self._evidence: dict[UUID, MeterEvidence] | None = None
        self._implausible: dict[UUID, tuple[ImplausibleInterval, ...]] | None = None
        # Reads made while computing, beyond read_chunk's and read_ahead's (each at its own moment).
        self.lazy_reads = 0
        # (household, first day, last day) → its meter evidence over those days, read ahead.
        self._read_ahead: dict[tuple[UUID, date, date], MeterEvidence | None] = {}

    def read_chunk(self) -> None:
        """Make the chunk-wide reads now rather than on the first household that needs them (a
        scenario reads the next chunk while it computes this one)."""
        if self._evidence is None:
            self._evidence = self.inputs.meter_evidence(self.household_ids, *self.bulk_days)
        if self._implausible is None:
            self._implausible = self.inputs.implausible_intervals(
                self.household_ids, self.season.first_day, self.season.last_day
            )

    def read_ahead(self, households: Sequence[tuple[HouseholdFacts, tuple[date, date], HouseholdSeasonRecord]]) -> None:
        """Read the meter evidence of the households settled over other days than ``bulk_days``
        (owner changes, a part of the season) ahead, in one read per distinct span of days
        instead of one per segment: the same reads, of more households at a time."""
        wanted: dict[tuple[date, date], list[UUID]] = {}
        for household, (first_day, last_day), record in households:
            spans = _segments(Season(first_day, last_day), record.owner_changes)
            if len(spans) == 1 and (first_day, last_day) == self.bulk_days:
                continue
            for span in spans:
                wanted.setdefault(span, []).append(household.household_id)
        for (first, last), household_ids in wanted.items():
            found = self.inputs.meter_evidence(household_ids, first, last)
            for household_id in household_ids:
                self._read_ahead[(household_id, first, last)] = found.get(household_id)

    def settlement_inputs(
        self,
        household: HouseholdFacts,
        days: tuple[date, date],
        record: HouseholdSeasonRecord,
        prepaid_yuan: Decimal,
    ) -> SettlementInputs:
        """The inputs of one household's settlement over ``days`` (its period's first and last day)."""
        first_day, last_day = days
        spans = _segments(Season(first_day, last_day), record.owner_changes)
        if len(spans) == 1 and (first_day, last_day) == self.bulk_days:
            if self._evidence is None:
                self.lazy_reads += 1
                self._evidence = self.inputs.meter_evidence(self.household_ids, *self.bulk_days)
            evidence = [self._evidence.get(household.household_id)]
        else:
            evidence = [self._evidence_over(household.household_id, first, last) for first, last in spans]
        segments = tuple(
            SegmentInputs(first, last, _suspended_days(record.suspensions, first, last), found)
            for (first, last), found in zip(spans, evidence, strict=True)
        )
        allocation = None
        if all(segment.meter is None for segment in segments):
            building = self.allocation_of(household.community, household.building)
            allocation = building.heat_of(household.account_number) if building is not None else None
        return SettlementInputs(segments, allocation, prepaid_yuan, self._implausible_of(household))

    def _evidence_over(self, household_id: UUID, first: date, last: date) -> MeterEvidence | None:
        key = (household_id, first, last)
        if key in self._read_ahead:
            return self._read_ahead[key]
        self.lazy_reads += 1
        return self.inputs.meter_evidence([household_id], first, last).get(household_id)

    def _implausible_of(self, household: HouseholdFacts) -> tuple[ImplausibleInterval, ...]:
        """The household's intervals far beyond the MPE in the season, read once per chunk."""
        if self._implausible is None:
            self.lazy_reads += 1
            self._implausible = self.inputs.implausible_intervals(
                self.household_ids, self.season.first_day, self.season.last_day
            )
        return self._implausible.get(household.household_id, ())


def _building_averages(job: _RunJob, households: Sequence[HouseholdFacts]) -> dict[tuple[str, str], Decimal | None]:
    """Each building's metered heat per m² in the statement month, over its metered households."""
    month = job.month
    assert month is not None
    energy: dict[tuple[str, str], Decimal] = {}
    area: dict[tuple[str, str], Decimal] = {}
    for start in range(0, len(households), CHUNK_SIZE):
        chunk = households[start : start + CHUNK_SIZE]
        monthly = job.runs.inputs.monthly_energy([h.household_id for h in chunk], job.request.season)
        for household in chunk:
            found = monthly.get(household.household_id)
            if found is None or month.month not in found.by_month:
                continue
            key = (household.community, household.building)
            energy[key] = energy.get(key, ZERO) + found.by_month[month.month]
            area[key] = area.get(key, ZERO) + household.connected_area_m2
    return {key: energy[key] / area[key] for key in energy if area[key] > 0}


def _previous_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def _segments(season: Season, owner_changes: Sequence[date]) -> list[tuple[date, date]]:
    """The season's days split at each owner change inside it (a change on the first day splits nothing)."""
    starts = [season.first_day, *sorted(day for day in owner_changes if season.first_day < day <= season.last_day)]
    ends = [start - timedelta(days=1) for start in starts[1:]] + [season.last_day]
    return list(zip(starts, ends, strict=True))


def _suspended_on(spans: Sequence[SuspensionSpan], day: date) -> bool:
    return any(span.first_day <= day and (span.last_day is None or day <= span.last_day) for span in spans)


def _suspended_days(spans: Sequence[SuspensionSpan], first: date, last: date) -> int:
    """How many of the days first…last (inclusive) heating was suspended."""
    days = 0
    for span in spans:
        start = max(span.first_day, first)
        end = min(span.last_day or last, last)
        if start <= end:
            days += (end - start).days + 1
    return days


def run_exceptions(account_number: str, error: LedgerError) -> list[RunException]:
    """The run's exceptions for one household's error: one per interval of heat awaiting a
    decision (each with its own evidence), else one."""
    if isinstance(error, ImplausibleHeatError):
        return [RunException(account_number, key, error.message, params) for key, params in error.exceptions]
    return [RunException(account_number, error.message_key, error.message, error.params)]


def supply_days(household: HouseholdFacts, season: Season) -> tuple[date, date]:
    """The household's days of the season: from its registration (if later than the season's first
    day) to the day before its deregistration (if earlier than the season's last)."""
    first_day = max(season.first_day, household.registered_on)
    last_day = season.last_day
    if household.deregistered_on is not None:
        last_day = min(last_day, household.deregistered_on - timedelta(days=1))
    return first_day, last_day


def outside_supply(
    households: Sequence[HouseholdFacts], season: Season
) -> tuple[list[HouseholdFacts], list[RunException]]:
    """The households the season bills, and those it does not, skipped with the reason."""
    billable: list[HouseholdFacts] = []
    skipped: list[RunException] = []
    for household in households:
        first_day, last_day = supply_days(household, season)
        if first_day <= last_day:
            billable.append(household)
            continue
        if household.registered_on > season.last_day:
            key, message = "registered_after_season", "the household was registered after the season"
            params = {"registered_on": household.registered_on.isoformat(), "season": season.code}
        else:
            key, message = "deregistered_before_season", "the household was deregistered before the season"
            assert household.deregistered_on is not None
            params = {"deregistered_on": household.deregistered_on.isoformat(), "season": season.code}
        skipped.append(RunException(household.account_number, key, message, params))
    return billable, skipped
