"""``heatledger scenarios run|list|show|export`` on a settled season (SQLite; the computation's
backends are covered by tests/integration/test_scenarios.py)."""

from __future__ import annotations

import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from domain.billing import BillKind
from tests.e2e.test_cli import data_dir, env, opened, run  # noqa: F401  (data_dir and env are fixtures)
from tests.integration.test_billing_runs import AFTER_SEASON, publish, read_daily
from tests.integration.test_billing_runs import run as bill
from tests.strategies import household_with_meter

UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def settled(data_dir: Path) -> Path:  # noqa: F811
    """A store whose 2025-2026 season is settled: A-1 used 30.2 GJ (test_billing_runs' figures)."""
    with opened(data_dir) as container:
        container.ledger.clock = lambda: AFTER_SEASON
        household_with_meter(container.ledger, "A-1", "M-1")
        read_daily(container, "M-1", Decimal("0.2"))
        publish(container)
        for kind in (BillKind.PREPAYMENT, BillKind.SETTLEMENT):
            bill(container, kind)
    return data_dir


def test_run_list_show_and_export(env: dict[str, str], settled: Path, tmp_path: Path) -> None:  # noqa: F811
    variants = tmp_path / "variants.json"
    variants.write_text(json.dumps([{"label": "基本 40 %", "base_share_percent": "40"}]), encoding="utf-8")

    result = run(
        env,
        "scenarios",
        "run",
        "--season",
        "2025-2026",
        "--variant",
        "能量价 50: energy_price_yuan_per_gj=50",
        "--variants",
        str(variants),
        "--title",
        "测算一",
    )

    assert result.exit_code == 0, result.output
    # 30.2 GJ × 6.1 = 184.22 元 more at 50 元/GJ; a base of 40 % adds 10 % of 1944.00 = 194.40.
    assert "184.22" in result.output and "194.40" in result.output
    scenario_id = UUID_PATTERN.search(result.output).group(0)  # type: ignore[union-attr]
    listed = run(env, "scenarios", "list")
    assert listed.exit_code == 0 and scenario_id in listed.output and "测算一" not in listed.output
    shown = run(env, "scenarios", "show", scenario_id, "--households", "1")
    assert shown.exit_code == 0 and "A-1" in shown.output and "+184.22" in shown.output

    csv_file, xlsx_file = tmp_path / "out.csv", tmp_path / "out.xlsx"
    assert run(env, "scenarios", "export", scenario_id, str(csv_file)).exit_code == 0
    assert run(env, "scenarios", "export", scenario_id, str(xlsx_file)).exit_code == 0
    lines = csv_file.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("户号,") and lines[1].startswith("A-1,") and len(lines) == 2
    with zipfile.ZipFile(xlsx_file) as archive:
        assert 'name="汇总"' in archive.read("xl/workbook.xml").decode("utf-8")


def test_bad_variants_are_refused_with_exit_code_2(env: dict[str, str], settled: Path) -> None:  # noqa: F811
    unknown = run(env, "scenarios", "run", "--season", "2025-2026", "--variant", "x: billed_area=heated")
    assert unknown.exit_code == 2 and "price fields" in unknown.output
    none = run(env, "scenarios", "run", "--season", "2025-2026")
    assert none.exit_code == 2 and "at least one variant" in none.output
    not_begun = run(env, "scenarios", "run", "--season", "2099-2100", "--variant", "x: energy_price_yuan_per_gj=1")
    assert not_begun.exit_code == 2 and "not begun" in not_begun.output
