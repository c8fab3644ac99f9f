"""``heatledger disputes list|show`` against a temporary SQLite store, as customer service uses them."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from application.authorization import Principal, Role
from domain.dispute import DisputeChannel
from tests.e2e.test_cli import data_dir, env, opened, run  # noqa: F401  (data_dir and env are fixtures)
from tests.integration.test_disputes import open_bill_dispute
from tests.integration.test_payment_read_models import bill_id, prepaid_period
from tests.strategies import register_household

SERVICE = Principal("service-chen", Role.CUSTOMER_SERVICE)


@pytest.fixture
def disputed(data_dir: Path) -> tuple[UUID, UUID]:  # noqa: F811
    """Two prepaid households of 碧桂园, each disputing its prepayment; the second withdrawn."""
    with opened(data_dir) as container:
        for account in ("CS-1", "CS-2"):
            register_household(container.ledger, account)
            container.ledger.save(prepaid_period(container, account))
        first = open_bill_dispute(container, "CS-1", bill_id("CS-1"), "300.00", "KF-1")
        container.disputes.inform_household(SERVICE, first, "we will read the meter", DisputeChannel.PHONE)
        second = open_bill_dispute(container, "CS-2", bill_id("CS-2"), "12.50", "KF-2")
        container.disputes.withdraw(SERVICE, second, "the household paid after all")
    return first, second


def test_list_shows_the_disputes_and_filters_them(env: dict[str, str], disputed: tuple[UUID, UUID]) -> None:  # noqa: F811
    first, second = disputed
    everything = run(env, "disputes", "list")
    assert everything.exit_code == 0, everything.output
    assert str(first) in everything.output and str(second) in everything.output
    assert "300.00" in everything.output and "withdrawn" in everything.output
    still_open = run(env, "disputes", "list", "--open")
    assert str(first) in still_open.output and str(second) not in still_open.output
    by_state = run(env, "disputes", "list", "--state", "withdrawn", "--account", "CS-2")
    assert str(second) in by_state.output and str(first) not in by_state.output
    assert run(env, "disputes", "list", "--state", "lost").exit_code == 2


def test_show_prints_the_dispute_and_its_steps(env: dict[str, str], disputed: tuple[UUID, UUID]) -> None:  # noqa: F811
    first, _ = disputed
    shown = run(env, "disputes", "show", str(first))
    assert shown.exit_code == 0, shown.output
    for text in ("KF-1", "CS-1", "area_wrong", "300.00 元", "investigating", "household_informed", "service-chen"):
        assert text in shown.output
    by_reference = run(env, "disputes", "show", "KF-1", "--account", "CS-1")
    assert by_reference.exit_code == 0 and str(first) in by_reference.output
    missing = run(env, "disputes", "show", "KF-404", "--account", "CS-1")
    assert missing.exit_code == 2 and "no dispute" in missing.output
    assert run(env, "disputes", "show", "not-an-id").exit_code == 2
