"""Many billing periods loaded with one read of the event store (application/bulk_loads.py) are
the aggregates the library's own load makes, on both backends: a period cached at the stored
version is handed out as it is, one the store has moved past is rebuilt, a missing one is absent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from application.billing_runs import RunRequest
from application.bulk_loads import load_many
from domain import ids
from domain.billing import BillKind
from domain.billing_period import BillingPeriod
from infrastructure.container import Container
from infrastructure.event_selection import scoped_notifications
from tests.integration.test_billing_runs import CLERK, SEASON, publish
from tests.strategies import register_household

ACCOUNTS = ("BL-1", "BL-2", "BL-3")


@pytest.fixture
def prepaid(container: Container) -> Container:
    """Three households whose prepayment was issued: a period each, with two events."""
    container.ledger.clock = lambda: datetime(2025, 10, 20, 2, tzinfo=UTC)
    for account in ACCOUNTS:
        register_household(container.ledger, account)
    publish(container)
    container.catch_up()
    summary = container.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON))
    assert summary.bills_issued == len(ACCOUNTS)
    return container


def _period_ids(*accounts: str) -> list:  # type: ignore[type-arg]
    return [ids.billing_period_id(account, SEASON.code) for account in accounts]


def _loaded(container: Container, period_ids: list) -> dict:  # type: ignore[type-arg]
    ledger = container.ledger
    return load_many(ledger, BillingPeriod, lambda wanted: scoped_notifications(ledger.recorder, wanted), period_ids)


def test_bulk_loaded_periods_are_what_the_library_rebuilds(prepaid: Container) -> None:
    ledger = prepaid.ledger
    ledger.repository.cache.cache.clear()  # type: ignore[union-attr]
    period_ids = _period_ids(*ACCOUNTS)

    loaded = _loaded(prepaid, [*period_ids, ids.billing_period_id("BL-NONE", SEASON.code)])

    assert set(loaded) == set(period_ids)  # the missing period is absent
    for period_id in period_ids:
        rebuilt = ledger.repository.get(period_id, version=loaded[period_id].version)  # from the store
        assert vars(loaded[period_id]) == vars(rebuilt)
        assert loaded[period_id] is ledger.repository.get(period_id, deepcopy_from_cache=False)  # cached


def test_a_cached_period_is_kept_at_the_stored_version_and_rebuilt_behind_it(prepaid: Container) -> None:
    ledger = prepaid.ledger
    current_id, stale_id = _period_ids("BL-1", "BL-2")
    current = ledger.repository.get(current_id, deepcopy_from_cache=False)
    stale = ledger.repository.get(stale_id, version=1)  # before its prepayment was issued
    ledger.repository.cache.put(stale_id, stale)  # type: ignore[union-attr]

    loaded = _loaded(prepaid, [current_id, stale_id])

    assert loaded[current_id] is current
    assert loaded[stale_id] is not stale
    assert loaded[stale_id].version > stale.version
    assert vars(loaded[stale_id]) == vars(ledger.repository.get(stale_id, version=loaded[stale_id].version))
    assert loaded[stale_id] is ledger.repository.get(stale_id, deepcopy_from_cache=False)  # the cache's now
