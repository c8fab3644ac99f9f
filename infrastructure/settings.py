"""Settings from the environment (prefix ``HEATLEDGER_``), failing fast on unsafe production values."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.dispute import DisputeCategory
from domain.dispute_service_levels import (
    MAXIMUM_FIRST_RESPONSE_HOURS,
    MAXIMUM_RESOLUTION_DAYS,
    ServiceTarget,
    ServiceTargets,
)

DEVELOPMENT_SECRET = "development-only-secret-change-me"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Backend(StrEnum):
    """Where events and read models live: an embedded SQLite file, or a PostgreSQL server."""

    SQLITE = "sqlite"
    POSTGRES = "postgres"


class JobQueueKind(StrEnum):
    """Where jobs run: in the serving process (the embedded default) or by arq workers on Redis."""

    INLINE = "inline"
    ARQ = "arq"


class DisputeTargetSetting(BaseModel):
    """A category's own service-level targets; one left out is the general target."""

    first_response_hours: int | None = Field(default=None, ge=1, le=MAXIMUM_FIRST_RESPONSE_HOURS)
    resolution_days: int | None = Field(default=None, ge=1, le=MAXIMUM_RESOLUTION_DAYS)


class Settings(BaseSettings):
    """Every setting of Heat Ledger; see docs/operations.md for each one."""

    model_config = SettingsConfigDict(env_prefix="HEATLEDGER_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    backend: Backend = Backend.SQLITE
    data_dir: Path = Field(default=Path("data"), description="Folder of the embedded SQLite database")
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_dbname: str = "heatledger"
    postgres_user: str = "postgres"
    postgres_password: str = ""
    postgres_schema: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Tokens are stored as HMAC-SHA256 under this key; rotating it invalidates every token.
    secret_key: str = DEVELOPMENT_SECRET
    # The Ed25519 private key that signs audit bundles (`heatledger audit keygen` creates it); unset:
    # data_dir/audit-signing-key.pem, which production refuses to sign with (docs/audit.md, "Bundles").
    audit_signing_key_file: Path | None = None
    # The embedded default applies new events to the read models right after each command;
    # production sets this false and runs `heatledger worker` instead.
    catch_up_after_command: bool = True
    aggregate_cache_size: int = 20000
    # Several processes over one store (`heatledger serve --workers N` with N > 1): each cached
    # aggregate is brought up to date with the events other processes saved (one read per get),
    # so no process reads a stale season, tariff or account. One process alone needs no read.
    aggregate_cache_fastforward: bool = False
    # Every command alone in its process, as before issue 16 (readings and payments otherwise run
    # side by side, one thread per aggregate): for measuring (bench/api_writes.py) or a fallback.
    exclusive_commands: bool = False
    # -- timeouts: nothing waits on the database forever (docs/operations.md, "Database timeouts") --
    # PostgreSQL cancels any one statement of the event store or the read models after this long.
    database_statement_timeout_seconds: float = Field(default=60.0, ge=0.1, le=3600)
    # PostgreSQL gives up waiting for a lock (another writer's hold on the events table) after this.
    database_lock_timeout_seconds: float = Field(default=10.0, ge=0.1, le=600)
    # SQLite waits this long for another connection's write lock before "database is locked"
    # (whole seconds: the eventsourcing library's SQLITE_LOCK_TIMEOUT takes an integer).
    sqlite_busy_timeout_seconds: int = Field(default=30, ge=1, le=600)
    # Opening a PostgreSQL connection gives up after this long (libpq connect_timeout: a server
    # that is down or unreachable is reported, not waited for) (issue 16).
    database_connect_timeout_seconds: int = Field(default=5, ge=1, le=120)
    # A request waits this long for a pooled connection (both pools) before it is answered 503:
    # while the database is down, no connection comes back to the pool (issue 16).
    database_pool_timeout_seconds: float = Field(default=5.0, ge=0.5, le=120)
    # "inline": jobs (queued reading uploads) run in the serving process, in a background thread;
    # "arq": they are enqueued on Redis (redis_url) for `heatledger worker`.
    job_queue: JobQueueKind = JobQueueKind.INLINE
    # -- jobs that survive Redis loss, worker deaths and restarts (docs/operations.md, "Jobs") --
    # A running job's lease in the database lasts this long and is renewed every third of it: a
    # killed worker's job is taken over by another (or the restarted) worker within about this
    # plus job_recovery_interval_seconds.
    job_lease_seconds: float = Field(default=15.0, ge=1, le=600)
    # How often `heatledger worker` compares the job records (queued, running) with Redis and
    # enqueues again what Redis lost or a dead worker left behind (also once at start).
    job_recovery_interval_seconds: float = Field(default=5.0, ge=0.5, le=3600)
    # `heatledger worker` reconnects to a lost Redis with backoff and exits (status 75, for
    # systemd's Restart=on-failure) only after Redis has been unreachable this long.
    worker_redis_outage_limit_seconds: float = Field(default=300.0, ge=1, le=86400)
    # The longest a job may run in `heatledger worker` before arq cancels it (arq's own default,
    # 300 s, is shorter than a billing run for 100,000 households or a big upload). A killed
    # worker's job does not wait for it: its lease runs out and the recovery pass frees it.
    job_timeout_seconds: float = Field(default=14_400.0, ge=60, le=7 * 86_400)

    # -- dunning and notifications (docs/payments.md, "Dunning") --
    # Reminder stages: a reminder goes out when the oldest open charge is this many days past due.
    dunning_stages_days: list[int] = Field(default_factory=lambda: [15, 45, 90])
    # No reminder for less than this past due (元).
    dunning_minimum_amount_yuan: Decimal = Decimal("50.00")
    # The hour (Beijing time) at which `heatledger worker` runs dunning daily; unset: reminders are
    # written only when a clerk starts a run (POST /dunning/runs, `heatledger dunning run`).
    dunning_daily_hour: int | None = Field(default=None, ge=0, le=23)
    # Who signs reminders (the 【】 signature Chinese SMS gateways require) and the number to call.
    utility_name: str = Field(default="热力公司", min_length=1, max_length=40)
    utility_service_phone: str = Field(default="", max_length=40)
    # The utility's messaging gateway (SMS, WeChat) takes reminders as signed JSON POSTs here;
    # unset: messages to webhook contacts wait in the outbox, marked undeliverable until it is set.
    notification_webhook_url: str | None = None
    # The HMAC-SHA256 key of the webhook's X-HeatLedger-Signature; empty: derived from secret_key.
    notification_webhook_secret: str = ""
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "heatledger@localhost"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # A message is retried after 1, 2, 4, ... times this, at most notification_backoff_max_seconds
    # apart, and dead-lettered after notification_max_attempts failed attempts.
    notification_max_attempts: int = Field(default=6, ge=1, le=50)
    notification_backoff_seconds: int = Field(default=60, ge=1)
    notification_backoff_max_seconds: int = Field(default=6 * 3600, ge=1)
    notification_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    # -- disputes (docs/disputes.md) --
    # A credit or debit note of a resolved dispute above this (元, in magnitude) is booked only when a
    # second person approves it.
    dispute_second_approval_yuan: Decimal = Field(default=Decimal("500.00"), ge=0, le=Decimal(1_000_000))
    # Service levels (docs/disputes.md, "Service levels"): hours from the opening to the first
    # response, days of 24 hours to the resolution; a category may have its own, as JSON, e.g.
    # HEATLEDGER_DISPUTE_TARGETS_BY_CATEGORY='{"poor_heating": {"first_response_hours": 4, "resolution_days": 3}}'.
    dispute_first_response_target_hours: int = Field(default=24, ge=1, le=MAXIMUM_FIRST_RESPONSE_HOURS)
    dispute_resolution_target_days: int = Field(default=15, ge=1, le=MAXIMUM_RESOLUTION_DAYS)
    dispute_targets_by_category: dict[DisputeCategory, DisputeTargetSetting] = Field(default_factory=dict)
    # Where a household reads its resolution letter online (the utility's WeChat or web portal), with
    # "{dispute_id}" standing for the dispute; given in SMS/WeChat messages, which carry no PDF.
    dispute_letter_url: str = Field(default="", max_length=200)

    # -- valve commands (issue 14; docs/valves.md, "Commands" and "Guardrails") --
    # A command is sent at most valve_maximum_attempts times, each waiting this long for the
    # device's acknowledgement, then it times out.
    valve_acknowledgement_timeout_seconds: int = Field(default=60, ge=1, le=86_400)
    valve_maximum_attempts: int = Field(default=3, ge=1, le=20)
    # Commands one device may be sent requests for in any hour.
    valve_commands_per_hour: int = Field(default=6, ge=1, le=100)
    # Kinds that wait for a second person's approval besides force_close (which always does).
    valve_approval_kinds: list[str] = Field(default_factory=lambda: ["force_close"])
    # No forced close inside these month-day windows (MM-DD/MM-DD, may run over the new year) nor
    # when the latest recorded daily mean outdoor temperature is below valve_cold_weather_below_c.
    valve_cold_weather_windows: list[str] = Field(default_factory=lambda: ["12-15/02-15"])
    valve_cold_weather_below_c: Decimal | None = Field(default=Decimal(-10), ge=-60, le=30)
    # What an approved arrears flag becomes: a gear (the valve throttled to valve_arrears_gear) or,
    # where the policy allows it, a forced close (which a second person approves like any).
    valve_arrears_restriction: str = Field(default="gear", pattern="^(gear|close)$")
    valve_arrears_gear: int = Field(default=1, ge=1, le=100)

    # -- the web UI's logins and sessions (docs/ui.md, docs/operations.md "Web UI") --
    # A session ends after this long without a request, and after session_lifetime_hours in any case.
    session_idle_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_lifetime_hours: int = Field(default=12, ge=1, le=7 * 24)
    # The session cookie's Secure flag (sent over HTTPS only); unset: on everywhere but development.
    session_cookie_secure: bool | None = None
    # login_max_failures failed logins of one username within login_failure_window_minutes lock it
    # for login_lockout_minutes (an administrator may unlock it sooner); login_address_max_failures
    # failed logins from one client address within the window refuse that address's logins.
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_failure_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    login_address_max_failures: int = Field(default=20, ge=1, le=10_000)

    # -- room controllers over MQTT (issue 14; docs/valves.md, "Transport") --
    # The broker `heatledger gateway` and `heatledger simulate-devices` connect to. Each gateway
    # needs its own client id: the broker keeps that id's session (subscriptions and reports not yet
    # acknowledged) for mqtt_session_expiry_seconds while the gateway is away.
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_topic_prefix: str = Field(default="heatledger/v1", min_length=1, max_length=100)
    mqtt_client_id: str = Field(default="heatledger-gateway-1", min_length=1, max_length=64)
    mqtt_username: str = ""
    mqtt_password: str = ""
    # TLS to the broker; the CA file verifies the broker's certificate (unset: the system's CAs); a
    # client certificate and key when the broker asks for one. Production refuses a broker that is
    # not on this machine without TLS.
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    mqtt_keepalive_seconds: int = Field(default=30, ge=5, le=3600)
    mqtt_session_expiry_seconds: int = Field(default=7 * 24 * 3600, ge=0, le=4_294_967_295)
    # How often the gateway looks for commands to send (and commands past their last retry).
    gateway_dispatch_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    # Reports recorded in one save: more is faster per report, and holds the broker's acks longer.
    gateway_report_batch_size: int = Field(default=500, ge=1, le=5000)
    # Threads recording reports side by side, each for its own share of the devices (a power of
    # two: docs/valves.md, "Transport: the gateway").
    gateway_recorders: Annotated[Literal[1, 2, 4, 8], BeforeValidator(int)] = 2
    # How often the gateway runs the arrears restrictions (restrict flagged households' valves, lift
    # the paid ones'); 0: never (POST /valve-commands/arrears-reconciliation still runs them).
    gateway_arrears_interval_seconds: int = Field(default=300, ge=0, le=86_400)
    # A household is under-heated when its room stays below 18 °C (the national minimum) this long.
    under_heated_minimum_hours: int = Field(default=24, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            if self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32:
                raise ValueError("production needs HEATLEDGER_SECRET_KEY: 32 or more characters, not the default")
            if self.backend is Backend.SQLITE:
                raise ValueError("production runs on PostgreSQL: set HEATLEDGER_BACKEND=postgres")
            if self.session_cookie_secure is False:
                raise ValueError(
                    "production sends the session cookie over HTTPS only: HEATLEDGER_SESSION_COOKIE_SECURE"
                )
            if self.notification_webhook_url and not self.notification_webhook_url.startswith("https://"):
                raise ValueError(
                    "production sends reminders (personal data) over https only: HEATLEDGER_NOTIFICATION_WEBHOOK_URL"
                )
        return self

    def dispute_service_targets(self) -> ServiceTargets:
        """The disputes' service-level targets: the general ones and each category's own."""
        general = ServiceTarget(self.dispute_first_response_target_hours, self.dispute_resolution_target_days)
        own = {
            category: ServiceTarget(
                target.first_response_hours or general.first_response_hours,
                target.resolution_days or general.resolution_days,
            )
            for category, target in self.dispute_targets_by_category.items()
        }
        return ServiceTargets(general, own)

    @property
    def session_cookie_is_secure(self) -> bool:
        """Whether the session cookie carries Secure: as set, or everywhere but development."""
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return self.environment is not Environment.DEVELOPMENT

    @property
    def statement_timeout_ms(self) -> int:
        return round(self.database_statement_timeout_seconds * 1000)

    @property
    def lock_timeout_ms(self) -> int:
        return round(self.database_lock_timeout_seconds * 1000)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "heatledger.sqlite"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the read models (the same database as the events)."""
        if self.backend is Backend.SQLITE:
            return f"sqlite:///{self.sqlite_path}"
        password = f":{self.postgres_password}" if self.postgres_password else ""
        return (
            f"postgresql+psycopg://{self.postgres_user}{password}@{self.postgres_host}:"
            f"{self.postgres_port}/{self.postgres_dbname}"
        )
