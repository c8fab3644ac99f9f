"""The composition root: builds the whole object graph from settings. Nothing is built at import."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from application.ledger import HeatLedger
from infrastructure.database import create_database_engine, migrate
from infrastructure.event_store import event_store_environment
from infrastructure.settings import Settings
from infrastructure.token_store import TokenStore
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner


@dataclass
class Container:
    """Everything a process of Heat Ledger uses, wired once."""

    settings: Settings
    ledger: HeatLedger
    engine: Engine
    runner: ProjectionRunner
    tokens: TokenStore

    def catch_up(self) -> int:
        """Apply new events to the read models."""
        return self.runner.catch_up()

    def close(self) -> None:
        self.ledger.close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None) -> Container:
    """Build the ledger, the read-model engine (migrated), the projection runner and the tokens."""
    settings = settings or Settings()
    ledger = HeatLedger(env=event_store_environment(settings))
    engine = create_database_engine(settings)
    migrate(engine)
    runner = ProjectionRunner(ledger, engine, LedgerProjection())
    if settings.catch_up_after_command:
        ledger.add_after_save_hook(runner.catch_up)
    return Container(settings, ledger, engine, runner, TokenStore(engine, settings.secret_key))
