"""Alembic environment: migrates the read-model tables of the database Heat Ledger is configured for.

A caller may hand over a live connection in ``config.attributes["connection"]`` (the composition
root and the tests do); otherwise the URL comes from the settings.
"""

from __future__ import annotations

from sqlalchemy import create_engine

from alembic import context
from infrastructure.access_log import metadata as access_log_metadata
from infrastructure.billing_runs import metadata as billing_run_metadata
from infrastructure.intake import metadata as intake_metadata
from infrastructure.job_leases import metadata as job_lease_metadata
from infrastructure.legacy_payment_orders import metadata as legacy_payment_order_metadata
from infrastructure.nbiot import metadata as nbiot_metadata
from infrastructure.notifications.tables import metadata as notification_metadata
from infrastructure.scenarios import metadata as scenario_metadata
from infrastructure.staff_accounts import metadata as staff_account_metadata
from infrastructure.tariff_corrections import metadata as tariff_correction_metadata
from infrastructure.token_store import metadata as token_metadata
from infrastructure.uploads import metadata as upload_metadata
from infrastructure.weather import metadata as weather_metadata
from infrastructure.web_sessions import metadata as web_session_metadata
from projections.tables import metadata as projection_metadata

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=[
            projection_metadata,
            token_metadata,
            intake_metadata,
            nbiot_metadata,
            upload_metadata,
            weather_metadata,
            billing_run_metadata,
            legacy_payment_order_metadata,
            notification_metadata,
            access_log_metadata,
            scenario_metadata,
            tariff_correction_metadata,
            staff_account_metadata,
            web_session_metadata,
            job_lease_metadata,
        ],
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from infrastructure.settings import Settings

    engine = create_engine(config.get_main_option("sqlalchemy.url") or Settings().database_url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
