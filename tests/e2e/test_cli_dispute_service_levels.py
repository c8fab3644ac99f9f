"""``heatledger disputes overdue|service-levels`` against a temporary SQLite store, with the clock
under freezegun: one dispute answered in 10 hours and upheld in 3 days (January), one waiting
since 1 February 00:30 (Beijing time)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from domain.dispute import DisputeCategory, DisputeChannel
from tests.e2e.test_cli import data_dir, env, opened, run  # noqa: F401  (data_dir and env are fixtures)
from tests.integration.test_dispute_service_levels import SERVICE, Desk
from tests.strategies import register_household

BEIJING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 2, 20, 12, 0, tzinfo=BEIJING)


@pytest.fixture
def store(data_dir: Path) -> Path:  # noqa: F811
    with opened(data_dir) as container, freeze_time(datetime(2026, 1, 2, tzinfo=BEIJING)) as clock:
        register_household(container.ledger, "CS-1")
        register_household(container.ledger, "CS-2", community="金地")
        desk = Desk(container, clock)
        paid = desk.at(datetime(2026, 1, 31, 23, 30, tzinfo=BEIJING)).open(
            "KF-1", DisputeCategory.PAYMENT_NOT_CREDITED, "CS-1"
        )
        desk.at(datetime(2026, 2, 1, 0, 30, tzinfo=BEIJING)).open("KF-2", DisputeCategory.POOR_HEATING, "CS-2")
        desk.at(datetime(2026, 2, 1, 9, 30, tzinfo=BEIJING))
        container.disputes.inform_household(SERVICE, paid, "checking with the bank", DisputeChannel.PHONE)
        desk.at(datetime(2026, 2, 3, 23, 30, tzinfo=BEIJING))
        container.disputes.resolve(SERVICE, paid, "upheld", "the transfer was credited")
    return data_dir


def test_overdue_lists_the_waiting_dispute(env: dict[str, str], store: Path) -> None:  # noqa: F811
    with freeze_time(NOW):
        first = run(env, "disputes", "overdue", "first_response")
        resolution = run(env, "disputes", "overdue", "resolution", "--community", "碧桂园")
    assert first.exit_code == 0, first.output
    assert "KF-2" in first.output and "KF-1" not in first.output
    assert "443.50" in first.output and "2026-02-02 00:30" in first.output and "(1 in all)" in first.output
    assert resolution.exit_code == 0 and "(0 in all)" in resolution.output
    assert run(env, "disputes", "overdue", "someday").exit_code == 2


def test_service_levels_by_month_and_category(env: dict[str, str], store: Path) -> None:  # noqa: F811
    with freeze_time(NOW):
        shown = run(env, "disputes", "service-levels", "--from", "2026-01-01", "--to", "2026-02-28")
    assert shown.exit_code == 0, shown.output
    rows = {
        line.split("│")[1].strip() + " " + line.split("│")[2].strip(): line
        for line in shown.output.splitlines()
        if line.count("│") > 5
    }
    assert "10.00" in rows["2026-01 payment_not_credited"] and "100.0 % (1/1)" in rows["2026-01 payment_not_credited"]
    assert "0.0 % (0/1)" in rows["2026-02 poor_heating"]
    assert "50.0 % (1/2)" in rows["all all"] and "3.00" in rows["all all"]
    assert "targets: first response 24 h, resolution 15 d" in shown.output
    assert run(env, "disputes", "service-levels", "--from", "01/01/2026").exit_code == 2
    backwards = run(env, "disputes", "service-levels", "--from", "2026-03-01", "--to", "2026-02-01")
    assert backwards.exit_code == 2 and "ends before it starts" in backwards.output
