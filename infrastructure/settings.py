"""Settings from the environment (prefix ``HEATLEDGER_``), failing fast on unsafe production values."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    # The embedded default applies new events to the read models right after each command;
    # production sets this false and runs `heatledger worker` instead.
    catch_up_after_command: bool = True
    aggregate_cache_size: int = 20000
    # "inline": jobs (queued reading uploads) run in the serving process, in a background thread;
    # "arq": they are enqueued on Redis (redis_url) for `heatledger worker`.
    job_queue: JobQueueKind = JobQueueKind.INLINE

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            if self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32:
                raise ValueError("production needs HEATLEDGER_SECRET_KEY: 32 or more characters, not the default")
            if self.backend is Backend.SQLITE:
                raise ValueError("production runs on PostgreSQL: set HEATLEDGER_BACKEND=postgres")
        return self

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
