"""Regulator scenarios as jobs: a ``scenario_runs`` row per scenario with its request, status,
progress and summary; a ``scenario_results`` row per household and column (0 the actual, 1… the
variants); a ``scenario_totals`` row per column and building, community, customer class and the
whole scope.

The API and the CLI submit a scenario (a queued row), and the ``run_scenario`` job carries only
its id; it runs ``Scenarios.run``, writes each chunk's rows as they come and progress after each
chunk, then the totals and the summary. Nothing here touches a bill or a billing period: the
scenario's own tables are all it writes.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    delete,
    insert,
    select,
    update,
)

from application.authorization import Permission, Principal, Role
from application.billing_runs import RunException
from application.scenarios import HouseholdOutcome, ScenarioRequest, Scenarios, ScenarioScope, ScenarioSummary
from domain.errors import LedgerError, NotFoundError
from domain.scenario import (
    NO_PERCENT_BAND,
    PERCENT_BAND_EDGES,
    YUAN_BAND_EDGES,
    TariffVariant,
    Totals,
    band_labels,
    totals_record,
)
from domain.values import CustomerClass
from infrastructure.job_failures import failure_columns
from projections.tables import AREA_SCALE, ENERGY_SCALE, MONEY_SCALE
from projections.types import ScaledDecimal, UtcDateTime

logger = logging.getLogger("heatledger.scenarios")

RUN_SCENARIO = "run_scenario"
MAXIMUM_PAGE = 1000
PERCENT_SCALE = 2

metadata = MetaData()

scenario_runs = Table(
    "scenario_runs",
    metadata,
    Column("scenario_id", Uuid, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("season_code", String(16), nullable=False),
    Column("community", String(128), nullable=True),
    Column("building", String(64), nullable=True),
    Column("customer_class", String(32), nullable=True),
    Column("as_of", Date, nullable=True),
    # The variants as JSON (label, from_actual, overrides).
    Column("variants", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("households_done", Integer, nullable=False),
    Column("households_total", Integer, nullable=False),
    # The summary as JSON once done (totals per column, bands, exceptions); the error when it failed.
    Column("summary", Text, nullable=True),
    Column("error_key", String(64), nullable=True),
    Column("error_params", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Index("ix_scenario_runs_submitted", "submitted_at"),
)

scenario_results = Table(
    "scenario_results",
    metadata,
    Column("scenario_id", Uuid, primary_key=True),
    Column("variant", Integer, primary_key=True),  # 0: the actual column
    Column("account_number", String(64), primary_key=True),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("customer_class", String(32), nullable=False),
    Column("basis", String(32), nullable=False),
    Column("area_m2", ScaledDecimal(AREA_SCALE), nullable=False),
    Column("energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=True),
    Column("area_fee_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("metered_fee_yuan", ScaledDecimal(MONEY_SCALE), nullable=True),
    Column("due_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("prepaid_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("settlement_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("change_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("change_percent", ScaledDecimal(PERCENT_SCALE), nullable=True),
    # The settlement bills' amounts, one per owner segment, separated by ";".
    Column("bill_amounts", String(200), nullable=False),
    Column("actual_source", String(16), nullable=False),
    Column("matches_issued", Boolean, nullable=True),
    Index("ix_scenario_results_place", "scenario_id", "variant", "community", "building"),
)

scenario_totals = Table(
    "scenario_totals",
    metadata,
    Column("scenario_id", Uuid, primary_key=True),
    Column("variant", Integer, primary_key=True),
    Column("level", String(16), primary_key=True),  # all, community, building, class
    Column("group_key", String(200), primary_key=True),  # "", the community, "community/building", the class
    Column("community", String(128), nullable=True),
    Column("building", String(64), nullable=True),
    Column("customer_class", String(32), nullable=True),
    # The Totals as JSON (domain.scenario.totals_record: sums, averages, gainers and losers).
    Column("totals", Text, nullable=False),
)


class ScenarioStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class TotalsLevel(StrEnum):
    """How a scenario's totals are grouped."""

    ALL = "all"
    COMMUNITY = "community"
    BUILDING = "building"
    CLASS = "class"


@dataclass(frozen=True)
class ScenarioRecord:
    """A scenario as ``scenario_runs`` holds it."""

    scenario_id: UUID
    title: str
    request: ScenarioRequest
    status: ScenarioStatus
    actor: str
    role: str
    households_done: int
    households_total: int
    summary: dict[str, Any] | None
    error_key: str | None
    error_params: dict[str, Any]
    error: str | None
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def variant_labels(self) -> list[str]:
        """The columns' labels: the actual, then each variant's."""
        return [ACTUAL_LABEL, *(variant.label for variant in self.request.variants)]


ACTUAL_LABEL = "actual"


@dataclass(frozen=True)
class ResultRow:
    """One household under one column, as stored."""

    variant: int
    account_number: str
    community: str
    building: str
    customer_class: str
    basis: str
    area_m2: Decimal
    energy_gj: Decimal | None
    area_fee_yuan: Decimal
    metered_fee_yuan: Decimal | None
    due_yuan: Decimal
    prepaid_yuan: Decimal
    settlement_yuan: Decimal
    change_yuan: Decimal
    change_percent: Decimal | None
    bill_amounts: str
    actual_source: str
    matches_issued: bool | None


@dataclass(frozen=True)
class TotalsRow:
    """One group's totals under one column."""

    variant: int
    level: TotalsLevel
    community: str | None
    building: str | None
    customer_class: str | None
    totals: dict[str, Any]


def request_from_row(row: Any) -> ScenarioRequest:
    variants = tuple(TariffVariant.from_record(record) for record in json.loads(row["variants"]))
    scope = ScenarioScope(
        row["community"], row["building"], CustomerClass(row["customer_class"]) if row["customer_class"] else None
    )
    return ScenarioRequest(row["season_code"], variants, scope, row["as_of"], row["title"])


class ScenarioStore:
    """The scenario tables: submit, progress, rows, finish, read."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def submit(self, principal: Principal, request: ScenarioRequest) -> UUID:
        """Record a queued scenario (after checking the caller may run scenarios); returns its id."""
        principal.require(Permission.RUN_SCENARIOS)
        scenario_id = uuid4()
        scope = request.scope
        with self.engine.begin() as connection:
            connection.execute(
                insert(scenario_runs).values(
                    scenario_id=scenario_id,
                    title=request.title,
                    season_code=request.season_code,
                    community=scope.community,
                    building=scope.building,
                    customer_class=CustomerClass(scope.customer_class).value if scope.customer_class else None,
                    as_of=request.as_of,
                    variants=json.dumps([variant.to_record() for variant in request.variants], ensure_ascii=False),
                    status=ScenarioStatus.QUEUED.value,
                    actor=principal.name,
                    role=principal.role.value,
                    households_done=0,
                    households_total=0,
                    submitted_at=self.clock(),
                )
            )
        return scenario_id

    def get(self, scenario_id: UUID) -> ScenarioRecord:
        """The scenario, or NotFoundError."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(select(scenario_runs).where(scenario_runs.c.scenario_id == scenario_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"no scenario {scenario_id}", kind="scenario", key=str(scenario_id))
        return _record(row)

    def recent(self, limit: int) -> list[ScenarioRecord]:
        """The latest scenarios, newest first."""
        statement = select(scenario_runs).order_by(scenario_runs.c.submitted_at.desc()).limit(max(1, min(limit, 200)))
        with self.engine.connect() as connection:
            return [_record(row) for row in connection.execute(statement).mappings()]

    def _update(self, scenario_id: UUID, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(scenario_runs).where(scenario_runs.c.scenario_id == scenario_id).values(**values))

    def started(self, scenario_id: UUID) -> None:
        # A job run again (arq's retry) starts over: the rows of the attempt before go.
        with self.engine.begin() as connection:
            for table in (scenario_results, scenario_totals):
                connection.execute(delete(table).where(table.c.scenario_id == scenario_id))
        self._update(scenario_id, status=ScenarioStatus.RUNNING.value, started_at=self.clock())

    def write_outcomes(self, scenario_id: UUID, outcomes: Sequence[HouseholdOutcome]) -> None:
        """A chunk's rows, in one transaction."""
        rows = [row for outcome in outcomes for row in _result_rows(scenario_id, outcome)]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(insert(scenario_results), rows)

    def progressed(self, scenario_id: UUID, done: int, total: int) -> None:
        self._update(scenario_id, households_done=done, households_total=total)

    def finished(self, scenario_id: UUID, summary: ScenarioSummary, labels: list[str]) -> None:
        with self.engine.begin() as connection:
            rows = list(_totals_rows(scenario_id, summary))
            if rows:
                connection.execute(insert(scenario_totals), rows)
            connection.execute(
                update(scenario_runs)
                .where(scenario_runs.c.scenario_id == scenario_id)
                .values(
                    status=ScenarioStatus.DONE.value,
                    households_done=summary.computed + len(summary.exceptions) + len(summary.skipped),
                    households_total=summary.households,
                    summary=json.dumps(summary_to_payload(summary, labels), ensure_ascii=False),
                    finished_at=self.clock(),
                )
            )

    def failed(self, scenario_id: UUID, error: BaseException) -> None:
        self._update(
            scenario_id,
            status=ScenarioStatus.FAILED.value,
            finished_at=self.clock(),
            **failure_columns(error, "scenario_failed"),
        )

    # -- reading results --------------------------------------------------------------------

    def results(
        self,
        scenario_id: UUID,
        variant: int | None = None,
        community: str | None = None,
        building: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ResultRow]:
        """Result rows by account number and column, optionally of one column and place (paged)."""
        statement = _results_query(scenario_id, variant, community, building)
        statement = statement.limit(max(1, min(limit, MAXIMUM_PAGE))).offset(max(0, offset))
        with self.engine.connect() as connection:
            return [ResultRow(**row) for row in connection.execute(statement).mappings()]

    def all_results(self, scenario_id: UUID, batch: int = 5000) -> Iterator[ResultRow]:
        """Every result row, by account number and column, read in batches (for exports)."""
        statement = _results_query(scenario_id, None, None, None)
        with self.engine.connect() as connection:
            result = connection.execution_options(yield_per=batch).execute(statement).mappings()
            for row in result:
                yield ResultRow(**row)

    def totals(self, scenario_id: UUID, level: TotalsLevel | None = None) -> list[TotalsRow]:
        """The stored totals, of one level or every level, by column and group."""
        table = scenario_totals.c
        statement = select(scenario_totals).where(table.scenario_id == scenario_id)
        if level is not None:
            statement = statement.where(table.level == level.value)
        statement = statement.order_by(table.level, table.group_key, table.variant)
        with self.engine.connect() as connection:
            return [
                TotalsRow(
                    row["variant"],
                    TotalsLevel(row["level"]),
                    row["community"],
                    row["building"],
                    row["customer_class"],
                    json.loads(row["totals"]),
                )
                for row in connection.execute(statement).mappings()
            ]


def _results_query(scenario_id: UUID, variant: int | None, community: str | None, building: str | None) -> Any:
    table = scenario_results.c
    columns = [column for column in scenario_results.c if column.name != "scenario_id"]
    statement = select(*columns).where(table.scenario_id == scenario_id)
    if variant is not None:
        statement = statement.where(table.variant == variant)
    if community is not None:
        statement = statement.where(table.community == community)
    if building is not None:
        statement = statement.where(table.building == building)
    return statement.order_by(table.account_number, table.variant)


def _result_rows(scenario_id: UUID, outcome: HouseholdOutcome) -> Iterator[dict[str, Any]]:
    household = outcome.household
    for column in outcome.columns:
        figures = column.figures
        yield {
            "scenario_id": scenario_id,
            "variant": column.variant,
            "account_number": household.account_number,
            "community": household.community,
            "building": household.building,
            "customer_class": household.customer_class,
            "basis": figures.basis,
            "area_m2": outcome.area_m2,
            "energy_gj": figures.energy_gj,
            "area_fee_yuan": figures.area_fee_yuan,
            "metered_fee_yuan": figures.metered_fee_yuan,
            "due_yuan": figures.due_yuan,
            "prepaid_yuan": figures.prepaid_yuan,
            "settlement_yuan": figures.settlement_yuan,
            "change_yuan": column.change_yuan,
            "change_percent": column.change_percent,
            "bill_amounts": ";".join(str(amount) for amount in figures.bill_amounts_yuan),
            "actual_source": outcome.actual_source.value,
            "matches_issued": outcome.matches_issued,
        }


def _totals_rows(scenario_id: UUID, summary: ScenarioSummary) -> Iterator[dict[str, Any]]:
    def row(variant: int, level: TotalsLevel, key: str, totals: Totals, **place: str | None) -> dict[str, Any]:
        return {
            "scenario_id": scenario_id,
            "variant": variant,
            "level": level.value,
            "group_key": key,
            "community": place.get("community"),
            "building": place.get("building"),
            "customer_class": place.get("customer_class"),
            "totals": json.dumps(totals_record(totals)),
        }

    for variant, totals in summary.totals.items():
        yield row(variant, TotalsLevel.ALL, "", totals)
    for (variant, community), totals in summary.by_community.items():
        yield row(variant, TotalsLevel.COMMUNITY, community, totals, community=community)
    for (variant, community, building), totals in summary.by_building.items():
        yield row(
            variant, TotalsLevel.BUILDING, f"{community}/{building}", totals, community=community, building=building
        )
    for (variant, customer_class), totals in summary.by_class.items():
        yield row(variant, TotalsLevel.CLASS, customer_class, totals, customer_class=customer_class)


def summary_to_payload(summary: ScenarioSummary, labels: list[str]) -> dict[str, Any]:
    """The scenario's summary as JSON-safe data: per column its totals and the distribution of the
    changes in bands; the households it could not compute, or skipped, with the reasons."""
    columns = []
    for variant, totals in sorted(summary.totals.items()):
        distribution = summary.distributions[variant]
        columns.append(
            {
                "variant": variant,
                "label": labels[variant],
                "totals": totals_record(totals),
                "bands_yuan": distribution.by_yuan,
                "bands_percent": distribution.by_percent,
            }
        )
    return {
        "households": summary.households,
        "computed": summary.computed,
        "issued": summary.issued,
        "issued_differ": len(summary.issued_differ),
        "issued_differ_accounts": summary.issued_differ[:50],
        "last_days_counted": sorted({day.isoformat() for day in summary.last_days_counted}),
        "columns": columns,
        "band_edges_yuan": [str(edge) for edge in YUAN_BAND_EDGES],
        "band_edges_percent": [str(edge) for edge in PERCENT_BAND_EDGES],
        "exceptions": [_exception_payload(exception) for exception in summary.exceptions],
        "skipped": [_exception_payload(exception) for exception in summary.skipped],
    }


def band_order() -> tuple[list[str], list[str]]:
    """The bands in order, from the largest gain to the largest loss (元, then %)."""
    return band_labels(YUAN_BAND_EDGES), [*band_labels(PERCENT_BAND_EDGES), NO_PERCENT_BAND]


def _exception_payload(exception: RunException) -> dict[str, Any]:
    return {
        "account_number": exception.account_number,
        "message_key": exception.message_key,
        "message": exception.message,
        "params": {key: str(value) for key, value in exception.params.items()},
    }


def _record(row: Any) -> ScenarioRecord:
    return ScenarioRecord(
        scenario_id=row["scenario_id"],
        title=row["title"],
        request=request_from_row(row),
        status=ScenarioStatus(row["status"]),
        actor=row["actor"],
        role=row["role"],
        households_done=row["households_done"],
        households_total=row["households_total"],
        summary=json.loads(row["summary"]) if row["summary"] else None,
        error_key=row["error_key"],
        error_params=json.loads(row["error_params"]) if row["error_params"] else {},
        error=row["error"],
        submitted_at=row["submitted_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def execute_scenario(
    store: ScenarioStore,
    scenarios: Scenarios,
    scenario_id: UUID,
    on_progress: Callable[[int, int], None] | None = None,
) -> ScenarioRecord:
    """Compute a submitted scenario to its end, writing its rows, progress, totals and summary, or
    its error; ``on_progress`` hears of each chunk too (the CLI's progress bar)."""
    record = store.get(scenario_id)
    if record.status is ScenarioStatus.DONE:
        return record  # a redelivered job: the scenario is computed
    principal = Principal(record.actor, Role(record.role))
    store.started(scenario_id)
    try:
        with _RowWriter(store, scenario_id, on_progress) as writer:
            summary = scenarios.run(
                principal, record.request, sink=writer.rows, progress=writer.progress, scenario_id=scenario_id
            )
    except LedgerError as error:
        store.failed(scenario_id, error)
        return store.get(scenario_id)
    except Exception as error:
        logger.exception("scenario %s failed", scenario_id)
        store.failed(scenario_id, error)
        raise
    store.finished(scenario_id, summary, record.variant_labels)
    return store.get(scenario_id)


# Chunks of rows waiting for the writer at most: a bound on the memory rows wait in.
MAXIMUM_PENDING_WRITES = 2


class _RowWriter:
    """Writes a scenario's rows and progress in a thread of their own, in order, while the next
    chunks are computed (the inserts wait on the database, not on the interpreter). Leaving it
    waits for every write; a write that failed raises there, or at the next chunk."""

    def __init__(self, store: ScenarioStore, scenario_id: UUID, on_progress: Callable[[int, int], None] | None):
        self.store, self.scenario_id, self.on_progress = store, scenario_id, on_progress
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scenario-writes")
        self.pending: deque[Future[None]] = deque()

    def __enter__(self) -> _RowWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.executor.shutdown(wait=True)

    def rows(self, outcomes: Sequence[HouseholdOutcome]) -> None:
        self._submit(self.store.write_outcomes, self.scenario_id, outcomes)

    def progress(self, done: int, total: int) -> None:
        # After the chunk's rows (one writer, in order): the progress never runs ahead of them.
        self._submit(self.store.progressed, self.scenario_id, done, total)
        if self.on_progress is not None:
            self.on_progress(done, total)

    def _submit(self, write: Callable[..., None], *arguments: Any) -> None:
        self.pending.append(self.executor.submit(write, *arguments))
        while len(self.pending) > 2 * MAXIMUM_PENDING_WRITES:
            self.pending.popleft().result()
