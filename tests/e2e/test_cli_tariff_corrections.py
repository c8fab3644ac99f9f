"""``heatledger tariff-corrections`` against a temporary SQLite store: propose from a JSON file,
preview with a progress bar, approve as another login, run, show; running again books nothing."""

from __future__ import annotations

import getpass
import json
from decimal import Decimal
from pathlib import Path

import pytest

from application.billing_runs import RunRequest
from domain.billing import BillKind
from tests.e2e.test_cli import data_dir, env, opened, run
from tests.integration.test_billing_runs import AFTER_SEASON, CLERK, SEASON, publish, read_daily
from tests.strategies import household_with_meter

__all__ = ["data_dir", "env"]  # the fixtures, imported for these tests

D = Decimal
PROPOSAL = {
    "scope": "*",
    "version": 1,
    "document_number": "许发改价格〔2026〕12号",
    "approved_on": "2026-04-10",
    "seasons": ["2025-2026"],
    "reason": "物价局核减计量热价",
    "energy_price_yuan_per_gj": "40",
}


@pytest.fixture
def settled_store(data_dir: Path) -> Path:
    """A store with A-1 (30.2 GJ) billed and settled for 2025-2026 under 43.9 元/GJ."""
    with opened(data_dir) as container:
        container.ledger.clock = lambda: AFTER_SEASON
        household_with_meter(container.ledger, "A-1", "M-1")
        read_daily(container, "M-1", D("0.2"))
        publish(container)
        for kind in (BillKind.PREPAYMENT, BillKind.SETTLEMENT):
            container.billing_runs.run(CLERK, RunRequest(kind, SEASON))
        container.catch_up()
    return data_dir


def test_a_correction_from_proposal_to_its_notes(
    settled_store: Path, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "correction.json"
    file.write_text(json.dumps(PROPOSAL, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(getpass, "getuser", lambda: "zhao")

    proposed = run(env, "tariff-corrections", "propose", str(file))
    assert proposed.exit_code == 0, proposed.output
    correction_id = proposed.output.split("correction ")[1].split(" ")[0]
    assert "Found (proposed before)" in run(env, "tariff-corrections", "propose", str(file)).output

    previewed = run(env, "tariff-corrections", "preview", correction_id)
    assert previewed.exit_code == 0, previewed.output
    assert "-117.78" in previewed.output and "previewed" in previewed.output

    own = run(env, "tariff-corrections", "approve", correction_id, "--reason", "mine")
    assert own.exit_code == 2 and "second person" in own.output
    early = run(env, "tariff-corrections", "run", correction_id)
    assert early.exit_code == 2

    monkeypatch.setattr(getpass, "getuser", lambda: "qian")
    approved = run(env, "tariff-corrections", "approve", correction_id, "--reason", "checked")
    assert approved.exit_code == 0, approved.output
    assert "cli:qian" in approved.output

    booked = run(env, "tariff-corrections", "run", correction_id)
    assert booked.exit_code == 0, booked.output
    assert "-117.78" in booked.output
    again = run(env, "tariff-corrections", "run", correction_id)
    assert again.exit_code == 0, again.output
    assert "booked before" in again.output

    listed = run(env, "tariff-corrections", "show")
    assert correction_id in listed.output and "completed" in listed.output
    shown = run(env, "tariff-corrections", "show", correction_id)
    assert "notes booked" in shown.output and "1 (-117.78 元)" in shown.output
    with opened(settled_store) as container:
        (note,) = container.billing.period("A-1", SEASON).issued(BillKind.ADJUSTMENT)
    assert note.amount_yuan == D("-117.78")


def test_a_bad_file_or_id_is_one_line_and_exit_2(settled_store: Path, env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_text(json.dumps({**PROPOSAL, "version": 0}), encoding="utf-8")
    refused = run(env, "tariff-corrections", "propose", str(file))
    assert refused.exit_code == 2 and "version" in refused.output
    assert run(env, "tariff-corrections", "show", "not-an-id").exit_code == 2
