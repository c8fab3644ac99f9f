"""``heatledger audit`` and the rebuild's guard, as an auditor and an operator use them, on both
backends: verify a clean store (exit 0), take and export checkpoints, name an edit made with SQL
(exit 3), catch a deleted tail with a checkpoints file kept elsewhere, refuse to rebuild the read
models from a broken chain unless told to go on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from api import cli
from api.cli_audit import CHAIN_BROKEN
from infrastructure.container import Container
from infrastructure.settings import Backend, Settings
from projections.tables import households
from tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER
from tests.strategies import household_with_meter, register_household
from tests.tamper import RawStore

BAD_INPUT = 2


def cli_environment(settings: Settings) -> dict[str, str]:
    """The HEATLEDGER_* variables that point the command line at the test's store."""
    environment = {"HEATLEDGER_ENVIRONMENT": "test", "COLUMNS": "250", "HEATLEDGER_BACKEND": settings.backend.value}
    if settings.backend is Backend.SQLITE:
        return environment | {"HEATLEDGER_DATA_DIR": str(settings.data_dir)}
    return environment | {
        "HEATLEDGER_POSTGRES_HOST": POSTGRES_HOST,
        "HEATLEDGER_POSTGRES_PORT": str(POSTGRES_PORT),
        "HEATLEDGER_POSTGRES_USER": POSTGRES_USER,
        "HEATLEDGER_POSTGRES_DBNAME": settings.postgres_dbname,
    }


@pytest.fixture
def env(container: Container) -> dict[str, str]:
    household_with_meter(container.ledger)
    for number in range(2, 5):
        register_household(container.ledger, f"WZ-{number:04d}")
    return cli_environment(container.settings)


@pytest.fixture
def raw(container: Container) -> RawStore:
    return RawStore(container.settings, container.ledger.recorder)


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args), env=env)


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_an_intact_store_verifies_with_exit_0(env: dict[str, str], raw: RawStore) -> None:
    result = run(env, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert f"The hash chain is intact: {len(raw.positions())} events up to position {raw.positions()[-1]}" in one_line(
        result.output
    )


def test_a_changed_byte_is_named_with_exit_3(env: dict[str, str], raw: RawStore) -> None:
    target = raw.positions()[3]
    originator_id, version = raw.identity(target)
    raw.change_one_byte(target)
    result = run(env, "audit", "verify")
    assert result.exit_code == CHAIN_BROKEN, result.output
    assert f"First: position {target} ({originator_id} v{version}): altered" in one_line(result.output)


def test_a_forged_event_is_named_as_inserted(env: dict[str, str], raw: RawStore) -> None:
    forged = raw.insert_forged_event(like=raw.positions()[0])
    result = run(env, "audit", "verify")
    assert result.exit_code == CHAIN_BROKEN
    assert f"First: position {raw.positions()[-1]} ({forged} v1): inserted" in one_line(result.output)


def test_checkpoints_are_taken_exported_and_catch_a_deleted_tail(
    env: dict[str, str], raw: RawStore, tmp_path: Path
) -> None:
    taken = run(env, "audit", "checkpoint")
    assert taken.exit_code == 0, taken.output
    last = raw.positions()[-1]
    assert f"Checkpoint at position {last} taken." in taken.output
    kept = tmp_path / "checkpoints.jsonl"
    exported = run(env, "audit", "checkpoints", "--export", str(kept))
    assert exported.exit_code == 0 and "Wrote 1 checkpoint to" in exported.output
    line = json.loads(kept.read_text(encoding="utf-8"))
    assert line["position"] == last and len(bytes.fromhex(line["record_hash"])) == 32
    # Someone deletes the last event, its chain record and the stored checkpoints.
    raw.delete_event(last)
    raw.delete_chain_record(last)
    raw.delete_checkpoints()
    assert run(env, "audit", "verify").exit_code == 0  # the store alone cannot tell
    result = run(env, "audit", "verify", "--checkpoints", str(kept))
    assert result.exit_code == CHAIN_BROKEN
    assert f"First: position {last} (no event): truncated" in one_line(result.output)


def test_a_broken_chain_gets_no_checkpoint(env: dict[str, str], raw: RawStore) -> None:
    raw.delete_event(raw.positions()[1])
    result = run(env, "audit", "checkpoint")
    assert result.exit_code == CHAIN_BROKEN
    assert "No checkpoint taken" in result.output
    assert "No checkpoints yet" in run(env, "audit", "checkpoints").output


def test_an_unreadable_checkpoints_file_is_bad_input(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"position": 3}\n', encoding="utf-8")
    result = run(env, "audit", "verify", "--checkpoints", str(bad))
    assert result.exit_code == BAD_INPUT
    assert "line 1: not a checkpoint" in one_line(result.output)


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_rebuild_refuses_a_broken_chain_unless_told_to_go_on(
    env: dict[str, str], raw: RawStore, container: Container, processes: str
) -> None:
    """In one process, and split (on PostgreSQL its plan is made while the server verifies the
    chain: a broken chain still stops it before any write)."""
    registered = raw.positions()[0]  # WZ-0001's registration: 90.00 m² connected
    state = raw.state(registered)
    assert b'"90.00"' in state
    raw.set_state(registered, state.replace(b'"90.00"', b'"19.00"', 1))

    refused = run(env, "projections", "rebuild", "--processes", processes)
    assert refused.exit_code == CHAIN_BROKEN
    assert f"the events' hash chain is broken (1 problem; the first: position {registered}" in one_line(refused.output)
    assert "--ignore-broken-chain rebuilds anyway" in one_line(refused.output)
    assert _connected_area(container) == "90.00"  # the read models were left alone

    forced = run(env, "projections", "rebuild", "--ignore-broken-chain", "--processes", processes)
    assert forced.exit_code == 0, forced.output
    assert "warning: the events' hash chain is broken" in one_line(forced.output)
    assert "Read models rebuilt" in forced.output
    assert _connected_area(container) == "19.00"  # what the refusal protects against


def test_a_rebuild_of_an_intact_store_goes_ahead(env: dict[str, str]) -> None:
    result = run(env, "projections", "rebuild")
    assert result.exit_code == 0, result.output
    assert "Read models rebuilt" in result.output


def _connected_area(container: Container) -> str:
    with container.engine.connect() as connection:
        area = connection.execute(
            select(households.c.connected_area_m2).where(households.c.account_number == "WZ-0001")
        ).scalar_one()
    return f"{area:.2f}"
