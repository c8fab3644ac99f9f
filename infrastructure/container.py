"""The composition root: builds the whole object graph from settings. Nothing is built at import.

Every command-line process imports this module, so what only some of them use is imported where
it is built (the job queue's arq and Redis, the point-in-time reads, the dispute letters, the
analytics reports): a ``heatledger projections rebuild`` pays for none of them (issue 17)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from application.analytics import AnalyticsSettings
from application.arrears import Arrears
from application.billing import Billing
from application.billing_runs import BillingRuns
from application.dunning import Dunning
from application.ledger import HeatLedger
from application.payments import Payments
from application.reminder_messages import ReminderSender
from application.seasons import Seasons
from application.staff_accounts import LoginPolicy, StaffAccounts
from application.valve_arrears import ArrearsRestrictions, RestrictionPolicy
from application.valve_guardrails import ColdWeatherPolicy, ValveGuardrails
from application.valves import RoomControllers
from domain.season import Season
from domain.staff_account import LockoutPolicy
from domain.tariff import CITY_SCOPE
from domain.valve_commands import CommandKind, RetryPolicy
from infrastructure.billing_runs import BillingRunStore
from infrastructure.database import create_database_engine, migrate
from infrastructure.estimation import GapEstimator
from infrastructure.event_selection import scoped_notifications
from infrastructure.event_store import event_store_environment
from infrastructure.intake import ReadingIntake
from infrastructure.legacy_payment_orders import record_legacy_orders
from infrastructure.meter_selection import meter_selection_of
from infrastructure.notifications.contacts import SqlContactBook
from infrastructure.notifications.outbox import SqlOutbox
from infrastructure.passwords import Argon2Passwords
from infrastructure.settings import Settings
from infrastructure.staff_accounts import SqlLoginAttempts, SqlStaffDirectory
from infrastructure.token_store import TokenStore
from infrastructure.weather import WeatherStore
from infrastructure.web_sessions import WebSessionStore
from projections.arrears_queries import ArrearsQueries
from projections.billing_inputs import SqlBillingInputs
from projections.ledger_projection import LedgerProjection
from projections.payment_queries import PaymentQueries
from projections.room_telemetry_queries import RoomTelemetryQueries
from projections.runner import ProjectionRunner
from projections.stored_readings import SqlStoredReadings
from projections.valve_commands import ValveQueries

if TYPE_CHECKING:
    from application.analytics_reports import AnalyticsReports
    from application.dispute_letters import DisputeLetters
    from application.disputes import Disputes
    from application.heat_decisions import HeatDecisions
    from application.scenarios import Scenarios
    from infrastructure.as_known import AsKnownReads
    from infrastructure.jobs import JobQueue
    from infrastructure.scenarios import ScenarioStore

logger = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything a process of Heat Ledger uses, wired once."""

    settings: Settings
    ledger: HeatLedger
    engine: Engine
    runner: ProjectionRunner
    tokens: TokenStore
    intake: ReadingIntake
    estimator: GapEstimator
    weather: WeatherStore
    billing: Billing
    billing_runs: BillingRuns
    run_store: BillingRunStore
    payments: Payments
    arrears: Arrears
    contacts: SqlContactBook
    outbox: SqlOutbox
    dunning: Dunning
    seasons: Seasons
    # Where jobs go (``jobs``): made from the settings on first use (arq and Redis take 0.2 s to
    # import, and most commands enqueue nothing).
    _jobs: JobQueue | None = field(init=False, repr=False, default=None)
    # The web UI's sessions and the staff accounts that log in to it (issue 13), from the settings.
    web_sessions: WebSessionStore = field(init=False, repr=False)
    staff_accounts: StaffAccounts = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.web_sessions = web_session_store(self.settings, self.engine, self.ledger.clock)
        self.staff_accounts = staff_accounts_of(self.settings, self.ledger, self.engine, self.web_sessions)

    @property
    def jobs(self) -> JobQueue:
        """Where jobs go: run in this process ("inline", the embedded default) or enqueued on Redis
        for arq workers (HEATLEDGER_JOB_QUEUE=arq), as the settings say."""
        if self._jobs is None:
            from infrastructure.jobs import job_queue_for  # the jobs module builds on this one

            self._jobs = job_queue_for(self)
        return self._jobs

    def catch_up(self) -> int:
        """Apply new events to the read models."""
        return self.runner.catch_up()

    @property
    def heat_decisions(self) -> HeatDecisions:
        """Clerks' decisions about heat far beyond a meter's permissible error (stateless, cheap)."""
        from application.heat_decisions import HeatDecisions

        return HeatDecisions(self.ledger, self.billing.inputs, self.estimator)

    @property
    def scenarios(self) -> Scenarios:
        """Regulator scenarios over the read models (stateless, cheap; books nothing)."""
        from application.scenarios import Scenarios
        from projections.scenario_inputs import SqlScenarioInputs

        return Scenarios(self.billing, SqlScenarioInputs(self.engine), self.seasons.season_in_force)

    @property
    def scenario_store(self) -> ScenarioStore:
        """The scenarios' own tables: requests, progress, results, totals."""
        from infrastructure.scenarios import ScenarioStore

        return ScenarioStore(self.engine, self.ledger.clock)

    @property
    def disputes(self) -> Disputes:
        """Households' disputes: opening, investigation, resolution; a resolution or rejection
        writes its letter to the outbox (stateless, cheap)."""
        from application.disputes import Disputes
        from infrastructure.dispute_recomputes import DisputeRecomputes  # bill replay: 0.1 s to import
        from projections.dispute_queries import SqlDisputeLookups

        recomputes = DisputeRecomputes(self.ledger, self.engine)
        threshold = self.settings.dispute_second_approval_yuan
        return Disputes(self.ledger, SqlDisputeLookups(self.engine), recomputes, threshold, self.dispute_letters)

    @property
    def dispute_letters(self) -> DisputeLetters:
        """Resolution letters of disputes as PDF, and their outbox messages (stateless, cheap)."""
        # reportlab takes about 0.1 s to import: only a process that makes a letter pays for it.
        from application.dispute_letters import DisputeLetters
        from infrastructure.dispute_letter_pdf import ReportLabLetters

        sender = ReminderSender(self.settings.utility_name, self.settings.utility_service_phone)
        return DisputeLetters(
            self.ledger, self.contacts, self.outbox, ReportLabLetters(), sender, self.settings.dispute_letter_url
        )

    @property
    def room_controllers(self) -> RoomControllers:
        """Room controllers and their valve commands, with the guardrails of the settings (issue 14;
        stateless, cheap)."""
        return room_controllers_of(self.settings, self.ledger, self.engine, self.weather)

    @property
    def analytics_settings(self) -> AnalyticsSettings:
        """Season baselines and substations for the analytics reports (issue 15; stateless, cheap)."""
        return AnalyticsSettings(self.ledger)

    @property
    def analytics_reports(self) -> AnalyticsReports:
        """The analytics reports over the read models (issue 15; stateless, cheap). A season's days
        are the city's (its decree, else 1 November – 31 March)."""
        from application.analytics_reports import AnalyticsReports
        from projections.analytics_queries import SqlAnalyticsReads

        seasons = self.seasons

        def city_season(code: str) -> Season:
            return seasons.season_in_force(code, CITY_SCOPE)

        return AnalyticsReports(SqlAnalyticsReads(self.engine), self.analytics_settings.baseline_or_none, city_season)

    @property
    def arrears_restrictions(self) -> ArrearsRestrictions:
        """The process manager turning approved arrears flags into valve restrictions and lifting
        them when paid (issue 14; stateless, cheap)."""
        policy = RestrictionPolicy(self.settings.valve_arrears_restriction, self.settings.valve_arrears_gear)
        return ArrearsRestrictions(
            self.ledger,
            self.room_controllers,
            self.arrears.withdraw,
            ArrearsQueries(self.engine),
            ArrearsQueries(self.engine),
            ValveQueries(self.engine),
            policy,
        )

    @property
    def as_known(self) -> AsKnownReads:
        """Reads as the ledger knew them at a moment, over point-in-time views (stateless, cheap)."""
        from infrastructure.as_known import AsKnownReads  # its decoders: 0.13 s to import

        return AsKnownReads(self.ledger, self.engine, self.runner.position)

    def close(self) -> None:
        self.ledger.close()
        self.engine.dispose()


def web_session_store(settings: Settings, engine: Engine, clock: Callable[[], datetime]) -> WebSessionStore:
    """The web sessions, with the idle timeout and lifetime of the settings."""
    idle, lifetime = (
        timedelta(minutes=settings.session_idle_timeout_minutes),
        timedelta(hours=settings.session_lifetime_hours),
    )
    return WebSessionStore(engine, settings.secret_key, clock, idle, lifetime)


def staff_accounts_of(
    settings: Settings, ledger: HeatLedger, engine: Engine, sessions: WebSessionStore
) -> StaffAccounts:
    """Staff accounts over the ledger, argon2 passwords and the login attempts table."""
    lockout = LockoutPolicy(
        settings.login_max_failures,
        timedelta(minutes=settings.login_failure_window_minutes),
        timedelta(minutes=settings.login_lockout_minutes),
    )
    policy = LoginPolicy(lockout, settings.login_address_max_failures)
    return StaffAccounts(
        ledger, SqlStaffDirectory(engine), SqlLoginAttempts(engine), Argon2Passwords(), sessions, policy
    )


def room_controllers_of(
    settings: Settings, ledger: HeatLedger, engine: Engine, weather: WeatherStore
) -> RoomControllers:
    """The valve commands' service: retry policy, approval kinds and guardrails from the settings."""
    cold = ColdWeatherPolicy.of(settings.valve_cold_weather_windows, settings.valve_cold_weather_below_c)
    guardrails = ValveGuardrails(ledger, cold, weather, settings.valve_commands_per_hour)
    retry = RetryPolicy(settings.valve_maximum_attempts, settings.valve_acknowledgement_timeout_seconds)
    approval = frozenset(CommandKind(kind) for kind in settings.valve_approval_kinds)
    return RoomControllers(ledger, ValveQueries(engine), guardrails, retry, approval)


def _catch_up_after_save(runner: ProjectionRunner) -> Callable[[], None]:
    """The embedded default's hook: catch up after each save. The command is already saved when
    this runs, so a failure here must not turn it into an error for the caller: it is logged,
    the read models lag, and the next catch-up (or `heatledger projections rebuild`) retries."""

    def catch_up() -> None:
        try:
            runner.catch_up()
        except Exception:
            logger.exception("the read models could not catch up after a command; they lag until the next catch-up")

    return catch_up


def bootstrap(settings: Settings | None = None, *, event_chain: bool = True) -> Container:
    """Build the ledger, the read-model engine (migrated), the projection runner and the tokens.

    ``event_chain=False`` saves events without the tamper-evident hash chain: the ingestion
    benchmark's baseline only (bench/ingest.py), never a store anyone keeps."""
    settings = settings or Settings()
    engine = create_database_engine(settings)
    migrate(engine)
    environment = event_store_environment(settings, event_chain=event_chain)
    ledger = HeatLedger(
        env=environment, stored_readings=SqlStoredReadings(engine), exclusive_commands=settings.exclusive_commands
    )
    # A batch's meters the aggregate cache lacks come back in two reads, not two per meter (issue 17).
    snapshot_recorder = ledger.snapshots.recorder if ledger.snapshots else None
    ledger.stored_meters_of = meter_selection_of(ledger.recorder, snapshot_recorder)
    runner = ProjectionRunner(ledger, engine, LedgerProjection())
    if settings.catch_up_after_command:
        ledger.add_after_save_hook(_catch_up_after_save(runner))
    record_legacy_orders(engine, ledger)  # payment orders kept as rows before migration 0029 (issue 16)
    tokens = TokenStore(engine, settings.secret_key)
    intake = ReadingIntake(ledger, engine)
    weather = WeatherStore(engine)
    estimator = GapEstimator(engine, intake, weather)
    billing = Billing(ledger, SqlBillingInputs(engine), RoomTelemetryQueries(engine))
    seasons = Seasons(ledger)
    run_store = BillingRunStore(engine, ledger.clock)
    payments = Payments(ledger, PaymentQueries(engine))
    arrears_queries = ArrearsQueries(engine)
    arrears = Arrears(ledger, arrears_queries, seasons.season_in_force)
    contacts = SqlContactBook(engine, ledger.clock)
    outbox = SqlOutbox(engine, ledger.clock)
    sender = ReminderSender(settings.utility_name, settings.utility_service_phone)
    dunning = Dunning(ledger, arrears_queries, contacts, outbox, sender)
    return Container(
        settings,
        ledger,
        engine,
        runner,
        tokens,
        intake,
        estimator,
        weather,
        billing,
        BillingRuns(billing, seasons.season_in_force, partial(scoped_notifications, ledger.recorder)),
        run_store,
        payments,
        arrears,
        contacts,
        outbox,
        dunning,
        seasons,
    )
