"""``heatledger billing run KIND --processes N``: the run split over processes by building, its
summary the whole run's, and running it again issues nothing (issue 17)."""

import re
from pathlib import Path

from tests.e2e.test_cli import data_dir, env, opened, run  # noqa: F401 (data_dir and env are fixtures)
from tests.integration.test_billing_run_split import build_city


def figure(output: str, name: str) -> int:
    found = re.search(rf"{re.escape(name)}\s*│\s*(\d+)", output)
    assert found is not None, output
    return int(found.group(1))


def test_a_prepayment_in_two_processes_bills_every_household_once(env: dict[str, str], data_dir: Path) -> None:  # noqa: F811
    with opened(data_dir) as container:
        build_city(container)
    first = run(env, "billing", "run", "prepayment", "--season", "2025-2026", "--processes", "2")
    assert first.exit_code == 0, first.output
    assert (figure(first.stdout, "households"), figure(first.stdout, "bills issued")) == (25, 24)
    assert figure(first.stdout, "skipped (not supplied in the season)") == 1
    again = run(env, "billing", "run", "prepayment", "--season", "2025-2026", "--processes", "2")
    assert again.exit_code == 0, again.output
    assert (figure(again.stdout, "bills issued"), figure(again.stdout, "already issued")) == (0, 24)
    one = run(env, "billing", "run", "prepayment", "--season", "2025-2026")
    assert (figure(one.stdout, "bills issued"), figure(one.stdout, "already issued")) == (0, 24)


def test_a_split_run_refused_as_a_whole_says_why(env: dict[str, str], data_dir: Path) -> None:  # noqa: F811
    with opened(data_dir) as container:
        build_city(container)
    refused = run(env, "billing", "run", "statement", "--season", "2025-2026", "--processes", "2")
    assert refused.exit_code != 0
    assert "month" in refused.output
