"""The ``heatledger`` command line against a temporary SQLite store, as an operator would use it."""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from api import cli
from api.serving import WORKER_START_TIMEOUT_SECONDS
from application.authorization import Role
from infrastructure.container import Container, bootstrap
from projections.tables import LEDGER_TABLES, bills, meter_readings
from tests.conftest import sqlite_settings

DEMO_METER = "60110601"  # building 1, entrance 1, flat 601


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def env(data_dir: Path) -> dict[str, str]:
    return {
        "HEATLEDGER_DATA_DIR": str(data_dir),
        "HEATLEDGER_BACKEND": "sqlite",
        "HEATLEDGER_ENVIRONMENT": "test",
        "COLUMNS": "250",  # wide enough that rich never folds a table cell the tests look for
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args), env=env)


@contextmanager
def opened(data_dir: Path) -> Iterator[Container]:
    container = bootstrap(sqlite_settings(data_dir))
    try:
        yield container
    finally:
        container.close()


def events_in_store(data_dir: Path) -> int:
    with opened(data_dir) as container:
        return container.runner.max_notification_id()


def table_rows(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    rows = {}
    with container.engine.connect() as connection:
        for table in LEDGER_TABLES:
            order = [column for column in table.primary_key.columns]
            rows[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
    return rows


@pytest.fixture
def demo_store(env: dict[str, str], data_dir: Path) -> Path:
    """A store holding a small demo: one building, three days."""
    result = run(env, "demo", "--buildings", "1", "--days", "3")
    assert result.exit_code == 0, result.output
    return data_dir


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text(
        "meter_serial,measured_at,energy_gj,volume_m3\n" + "".join(row + "\n" for row in rows), encoding="utf-8"
    )
    return path


def next_reading_row(data_dir: Path, energy_increase_gj: str = "0.010") -> tuple[str, datetime, Decimal]:
    """A valid CSV row for the demo meter: between its latest reading and now, a little more energy."""
    with opened(data_dir) as container:
        latest = container.ledger.meter(DEMO_METER).latest_reading
    assert latest is not None
    measured_at = latest.measured_at + (datetime.now(UTC) - latest.measured_at) / 2
    energy = latest.energy_register_gj + Decimal(energy_increase_gj)
    return f"{DEMO_METER},{measured_at.isoformat()},{energy},", measured_at.replace(microsecond=0), energy


# -- tokens -----------------------------------------------------------------------------------


def test_token_create_prints_a_token_the_store_accepts(env: dict[str, str], data_dir: Path) -> None:
    result = run(env, "token", "create", "--role", "clerk", "--name", "Li Wei")
    assert result.exit_code == 0, result.output
    secrets = [word for word in result.stdout.split() if word.startswith("hl_")]
    assert len(secrets) == 1
    with opened(data_dir) as container:
        principal = container.tokens.authenticate(secrets[0])
        assert principal is not None
        assert (principal.name, principal.role) == ("Li Wei", Role.CLERK)
        assert container.tokens.authenticate(secrets[0] + "x") is None


def test_an_unknown_role_is_refused_with_exit_code_2(env: dict[str, str], data_dir: Path) -> None:
    result = run(env, "token", "create", "--role", "boss", "--name", "Li Wei")
    assert result.exit_code == 2
    assert "unknown role 'boss'" in result.stderr
    assert "clerk" in result.stderr
    assert "Traceback" not in result.output
    assert not data_dir.exists()  # refused before the store was even opened


def test_a_blank_token_name_is_refused_with_exit_code_2(env: dict[str, str]) -> None:
    result = run(env, "token", "create", "--role", "auditor", "--name", "  ")
    assert result.exit_code == 2
    assert "a token needs a name" in result.stderr


def test_unsafe_settings_are_refused_in_one_line(env: dict[str, str]) -> None:
    result = run(env | {"HEATLEDGER_ENVIRONMENT": "production"}, "token", "create", "--role", "clerk", "--name", "x")
    assert result.exit_code == 2
    assert "bad HEATLEDGER_* settings" in result.stderr
    assert result.stderr.count("\n") == 1


# -- demo -------------------------------------------------------------------------------------


def test_the_demo_loads_once_and_a_second_run_changes_nothing(env: dict[str, str], demo_store: Path) -> None:
    events = events_in_store(demo_store)
    with opened(demo_store) as container:
        assert container.ledger.household("BGY-1-1-0601").account_number == "BGY-1-1-0601"
        building_meter = container.ledger.meter("BGY-B01")
        assert building_meter.readings_count == 4  # the opening reading and three closing ones
        with container.engine.connect() as connection:
            actors = set(connection.execute(select(meter_readings.c.actor)).scalars())
    assert actors == {"concentrator:BGY-1"}  # readings come in as the building's concentrator uploads
    again = run(env, "demo", "--buildings", "1", "--days", "3")
    assert again.exit_code == 0, again.output
    assert "already loaded" in again.stdout
    assert events_in_store(demo_store) == events


def test_the_demo_prints_a_summary(env: dict[str, str]) -> None:
    result = run(env, "demo", "--buildings", "1", "--days", "2")
    assert result.exit_code == 0, result.output
    lines = {" ".join(line.replace("│", " ").split()) for line in result.stdout.splitlines()}
    assert "households 48" in lines
    assert "meters 49" in lines
    assert "readings accepted 147" in lines  # 49 meters × (opening + two days)
    assert "readings rejected 0" in lines
    assert any(line.startswith("GJ so far (household meters) ") for line in lines)


# -- readings import --------------------------------------------------------------------------


def test_a_dry_run_lists_every_row_and_records_nothing(env: dict[str, str], demo_store: Path, tmp_path: Path) -> None:
    good_row, _, _ = next_reading_row(demo_store)
    csv_file = write_csv(
        tmp_path / "readings.csv", good_row, "NO-SUCH-METER,2025-11-02T00:00:00+08:00,1,", f"{DEMO_METER},soon,1,"
    )
    events = events_in_store(demo_store)
    result = run(env, "readings", "import", str(csv_file), "--dry-run")
    assert result.exit_code == 1, result.output
    assert "'soon' is not an ISO 8601" in result.stdout
    rows = [" ".join(line.replace("│", " ").split()) for line in result.stdout.splitlines()]
    assert any(row.startswith(f"2 {DEMO_METER} ") and " accepted" in row for row in rows)
    assert any(row.startswith("3 NO-SUCH-METER ") and "unknown_meter" in row for row in rows)
    assert "Dry run, nothing recorded: rows 3, unreadable 1, accepted 1, duplicate 0, rejected 1." in result.stdout
    assert events_in_store(demo_store) == events


def test_an_import_records_the_good_rows_and_reports_the_rest(
    env: dict[str, str], demo_store: Path, tmp_path: Path
) -> None:
    good_row, measured_at, energy = next_reading_row(demo_store)
    csv_file = write_csv(tmp_path / "readings.csv", good_row, "NO-SUCH-METER,2025-11-02T00:00:00+08:00,1,")
    result = run(env, "readings", "import", str(csv_file), "--reason", "counter entry")
    assert result.exit_code == 1, result.output
    assert "Rejected rows" in result.stdout
    assert "unknown_meter" in result.stdout
    assert "Imported: rows 2, unreadable 0, accepted 1, duplicate 0, rejected 1." in result.stdout
    with opened(demo_store) as container:
        latest = container.ledger.meter(DEMO_METER).latest_reading
        assert latest is not None
        assert latest.energy_register_gj == energy
        with container.engine.connect() as connection:
            actor = connection.execute(
                select(meter_readings.c.actor).where(meter_readings.c.measured_at == latest.measured_at)
            ).scalar_one()
    assert latest.measured_at.replace(microsecond=0) == measured_at
    assert actor == f"cli:{getpass.getuser()}"
    again = run(env, "readings", "import", str(csv_file.with_name("good.csv").absolute()))
    assert again.exit_code == 2  # that file does not exist


def test_an_import_of_good_rows_only_exits_0_and_is_idempotent(
    env: dict[str, str], demo_store: Path, tmp_path: Path
) -> None:
    good_row, _, _ = next_reading_row(demo_store)
    csv_file = write_csv(tmp_path / "readings.csv", good_row)
    assert run(env, "readings", "import", str(csv_file)).exit_code == 0
    events = events_in_store(demo_store)
    again = run(env, "readings", "import", str(csv_file))
    assert again.exit_code == 0
    assert "accepted 0, duplicate 1, rejected 0" in again.stdout
    assert events_in_store(demo_store) == events


def test_a_large_import_goes_in_batches_and_keeps_each_row_s_number(
    env: dict[str, str], demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "MAXIMUM_BATCH_SIZE", 2)
    with opened(demo_store) as container:
        latest = container.ledger.meter(DEMO_METER).latest_reading
    assert latest is not None
    step = (datetime.now(UTC) - latest.measured_at) / 4
    # Tiny increases, so the rows stay plausible however little time has passed since the last reading.
    rows = [
        (latest.measured_at + step * number, latest.energy_register_gj + Decimal("0.001") * number)
        for number in (1, 2, 3)
    ]
    good = [f"{DEMO_METER},{measured_at.isoformat()},{energy}," for measured_at, energy in rows]
    unknown = "NO-SUCH-METER,2025-11-02T00:00:00+08:00,1,"
    csv_file = write_csv(tmp_path / "readings.csv", good[0], unknown, good[1], unknown, good[2])
    result = run(env, "readings", "import", str(csv_file))
    assert result.exit_code == 1, result.output
    assert "accepted 3, duplicate 0, rejected 2." in result.stdout
    rejected_rows = [
        line.replace("│", " ").split()[0] for line in result.stdout.splitlines() if "unknown_meter" in line
    ]
    assert rejected_rows == ["3", "5"]
    with opened(demo_store) as container:
        newest = container.ledger.meter(DEMO_METER).latest_reading
    assert newest is not None and newest.energy_register_gj == rows[-1][1]


def test_cells_are_shown_as_written_not_as_markup(env: dict[str, str], tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "readings.csv", "[b]M-1,2025-11-02T00:00:00+08:00,[red]1,")
    result = run(env, "readings", "import", str(csv_file), "--dry-run")
    assert result.exit_code == 1
    assert "'[red]1' is not a number" in result.stdout


def test_a_missing_file_is_refused_with_exit_code_2(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "readings", "import", str(tmp_path / "nowhere.csv"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.output


def test_a_bad_header_is_refused_with_exit_code_2(env: dict[str, str], tmp_path: Path) -> None:
    csv_file = tmp_path / "readings.csv"
    csv_file.write_text("serial,when,gj\nM-1,2025-11-02T00:00:00+08:00,1\n", encoding="utf-8")
    result = run(env, "readings", "import", str(csv_file))
    assert result.exit_code == 2
    assert "the header lacks meter_serial, measured_at, energy_gj" in result.stderr


def test_a_file_that_is_not_utf8_is_refused_with_exit_code_2(env: dict[str, str], tmp_path: Path) -> None:
    csv_file = tmp_path / "readings.csv"
    csv_file.write_bytes("meter_serial,measured_at,energy_gj\n碧,x,1\n".encode("gb18030"))
    result = run(env, "readings", "import", str(csv_file))
    assert result.exit_code == 2
    assert "is not UTF-8 text" in result.stderr


# -- projections ------------------------------------------------------------------------------


def test_a_rebuild_gives_the_same_rows_as_before(env: dict[str, str], demo_store: Path) -> None:
    with opened(demo_store) as container:
        before = table_rows(container)
        events = container.runner.max_notification_id()
    assert len(before["daily_consumption"]) > 0
    result = run(env, "projections", "rebuild")
    assert result.exit_code == 0, result.output
    assert f"Read models rebuilt: {events} events applied." in result.stdout
    with opened(demo_store) as container:
        assert table_rows(container) == before


# -- serve ------------------------------------------------------------------------------------


def test_serve_prints_a_clerk_token_and_runs_the_app(
    env: dict[str, str], demo_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("api.app")
    import uvicorn

    served: dict[str, Any] = {}

    def fake_run(app: Any, host: str, port: int, **options: Any) -> None:
        served.update(app=app, host=host, port=port, options=options)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = run(env, "serve", "--demo", "--port", "8123", "--workers", "1")
    assert result.exit_code == 0, result.output
    # The app itself, in this process; an access log line per request unless --no-access-log.
    assert served["options"] == {"access_log": True} and not isinstance(served["app"], str)
    assert "already holds 48 households" in result.stdout
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    assert "http://127.0.0.1:8123/docs" in result.stdout
    [secret] = {word.strip("'") for word in result.stdout.split() if word.strip("'").startswith("hl_")}
    with opened(demo_store) as container:
        principal = container.tokens.authenticate(secret)
    assert principal is not None and principal.role is Role.CLERK


def test_serve_with_workers_starts_processes_that_fast_forward_their_caches(
    env: dict[str, str], demo_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("api.app")
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    # Registered so that the variable the command sets for its workers is undone after the test.
    monkeypatch.setenv("HEATLEDGER_AGGREGATE_CACHE_FASTFORWARD", "false")
    result = run(env, "serve", "--port", "8124", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert served == {
        "app": "api.serving:app_from_environment",
        "factory": True,
        "workers": 2,
        "host": "127.0.0.1",
        "port": 8124,
        "timeout_worker_healthcheck": WORKER_START_TIMEOUT_SECONDS,  # not killed while starting
        "access_log": True,
    }
    assert os.environ["HEATLEDGER_AGGREGATE_CACHE_FASTFORWARD"] == "true"
    assert run(env, "serve", "--port", "8124", "--workers", "2", "--no-access-log").exit_code == 0
    assert served["access_log"] is False  # behind a proxy that logs every request (issue 17)
    assert run(env, "serve", "--workers", "0").exit_code == 2  # a usage error: at least one process


def test_the_worker_reads_what_the_server_saved_into_its_cached_aggregates(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import infrastructure.worker

    started: list[Any] = []
    monkeypatch.setattr(infrastructure.worker, "run_worker", lambda settings, options: started.append(settings))
    monkeypatch.setenv("HEATLEDGER_AGGREGATE_CACHE_FASTFORWARD", "false")  # undone after the test
    result = run(env, "worker")
    assert result.exit_code == 0, result.output
    # A billing run in the worker must price with the tariff an administrator just changed in the server.
    assert [settings.aggregate_cache_fastforward for settings in started] == [True]


# -- estimates --------------------------------------------------------------------------------


def test_estimate_fills_the_silent_meters_once(env: dict[str, str], demo_store: Path) -> None:
    # The small demo reads its first three days only, so by now every heated flat has been silent.
    first = run(env, "estimate")
    again = run(env, "estimate")
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    silent, estimated, recorded = (int(number) for number in re.findall(r"\d+", first.stdout)[:3])
    assert silent > 0 and estimated == recorded > 0
    assert "readings estimated 0, recorded 0; faulty intervals estimated 0." in again.stdout  # adds nothing


# -- weather ----------------------------------------------------------------------------------


def test_weather_import_records_degree_days_and_refuses_a_bad_row(
    env: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    good = tmp_path / "weather.csv"
    good.write_text("day,mean_temperature_c\n2025-11-01,4.5\n2025-11-02,-3.25\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("day,mean_temperature_c\n2025-11-03,warm\n", encoding="utf-8")

    recorded = run(env, "weather", "import", str(good))
    refused = run(env, "weather", "import", str(bad))

    assert recorded.exit_code == 0 and "2 days" in recorded.stdout, recorded.output
    assert refused.exit_code == 2 and "line 2" in refused.output
    with opened(data_dir) as container:
        # 18 − 4.5 = 13.5 and 18 − (−3.25) = 21.25 degree-days; the refused file added nothing.
        assert container.weather.degree_days([date(2025, 11, day) for day in (1, 2, 3)]) == {
            date(2025, 11, 1): Decimal("13.5"),
            date(2025, 11, 2): Decimal("21.25"),
        }


# -- dunning ------------------------------------------------------------------------------------


def test_dunning_writes_reminders_once_and_lists_the_outbox(env: dict[str, str], demo_store: Path) -> None:
    from freezegun import freeze_time

    # The demo's prepayment falls due on its issue day; 20 days on, the unpaid are at the 15-day stage.
    with opened(demo_store) as container:
        issued_on = container.ledger.clock().date()
        pending_before = container.outbox.counts()["pending"]  # the demo's bill notices
    later = datetime.combine(issued_on + timedelta(days=20), time(4), UTC)
    with freeze_time(later):
        first = run(env, "dunning", "run", "--no-deliver")
        again = run(env, "dunning", "run", "--no-deliver")
    assert first.exit_code == 0, first.output
    written = int(re.search(r"reminders written\s*│\s*(\d+)", first.stdout).group(1))  # type: ignore[union-attr]
    assert written > 0
    assert re.search(r"reminders written\s*│\s*0\b", again.stdout)
    assert "dunning_already_sent" in again.stdout
    listed = run(env, "notifications", "list", "--status", "pending")
    assert listed.exit_code == 0, listed.output
    assert f"pending {pending_before + written}" in listed.stdout


# -- bill notices -------------------------------------------------------------------------------


def demo_season(data_dir: Path) -> str:
    with opened(data_dir) as container, container.engine.connect() as connection:
        return str(connection.execute(select(bills.c.season_code)).scalars().first())


def figure(output: str, name: str) -> int:
    found = re.search(rf"{re.escape(name)}\s*│\s*(\d+)", output)
    assert found is not None, output
    return int(found.group(1))


def test_the_demo_writes_its_bill_notices_and_a_pass_or_a_rerun_writes_none_again(
    env: dict[str, str], demo_store: Path
) -> None:
    with opened(demo_store) as container:
        written = [message for message in container.outbox.messages(limit=1000) if message.kind != "reminder"]
        with container.engine.connect() as connection:
            issued = connection.execute(select(func.count()).select_from(bills)).scalar_one()
    assert written and {message.kind for message in written} <= {"prepayment", "statement"}
    season = demo_season(demo_store)
    again = run(env, "notifications", "bills", "--season", season, "--no-deliver")
    assert again.exit_code == 0, again.output
    assert (figure(again.stdout, "bills"), figure(again.stdout, "notices written")) == (issued, 0)
    assert figure(again.stdout, "written before") == len(written)
    skipped = figure(again.stdout, "skipped: no contact")
    assert skipped == issued - len(written) > 0
    assert "bill_notice_no_contact" in again.stdout
    rerun = run(env, "billing", "run", "prepayment", "--season", season)
    assert rerun.exit_code == 0, rerun.output
    assert figure(rerun.stdout, "notices written") == 0
    with opened(demo_store) as container:
        assert len(container.outbox.messages(limit=1000)) == len(written)


def test_a_bill_notice_pass_refuses_a_bad_season(env: dict[str, str], demo_store: Path) -> None:
    refused = run(env, "notifications", "bills", "--season", "2025-2027")
    assert refused.exit_code == 2
    assert "2025-2026" in refused.output


def test_a_bad_dunning_policy_is_refused_with_exit_code_2(env: dict[str, str], demo_store: Path) -> None:
    reversed_stages = run(env, "dunning", "run", "--stages", "45,15")
    assert reversed_stages.exit_code == 2
    assert "strictly ascending" in reversed_stages.output
    not_numbers = run(env, "dunning", "run", "--stages", "fifteen")
    assert not_numbers.exit_code == 2
    assert "15,45,90" in not_numbers.output


# -- seasons -----------------------------------------------------------------------------------


def test_a_season_is_declared_extended_and_listed(env: dict[str, str], data_dir: Path) -> None:
    declared = run(
        env,
        "season",
        "declare",
        "--season",
        "2025-2026",
        "--first-day",
        "2025-11-15",
        "--last-day",
        "2026-03-15",
        "--decree",
        "哈政办发〔2025〕31号",
    )
    assert declared.exit_code == 0, declared.output
    assert "2025-11-15 – 2026-03-15 (121 days)" in declared.output
    extended = run(
        env, "season", "extend", "--season", "2025-2026", "--first-day", "2025-11-15", "--last-day", "2026-03-25",
        "--decree", "哈政办发〔2026〕4号", "--reason", "寒潮",
    )  # fmt: skip
    assert extended.exit_code == 0, extended.output
    listed = run(env, "season", "list", "--season", "2025-2026")
    assert "(131 days)" in listed.output and "哈政办发〔2026〕4号" in listed.output and "寒潮" in listed.output
    with opened(data_dir) as container:
        assert container.seasons.season_in_force("2025-2026", "碧桂园").days == 131


def test_a_shortened_season_or_a_bad_day_is_refused_in_one_line(env: dict[str, str]) -> None:
    declare = ("season", "declare", "--season", "2025-2026", "--first-day", "2025-11-15", "--decree", "D")
    assert run(env, *declare, "--last-day", "2026-03-15").exit_code == 0
    shorter = run(
        env, "season", "extend", "--season", "2025-2026", "--first-day", "2025-11-20", "--last-day", "2026-03-15",
        "--decree", "D2",
    )  # fmt: skip
    assert shorter.exit_code == 2 and "never shortened" in shorter.output
    bad_day = run(env, *declare, "--last-day", "2026-02-30")
    assert bad_day.exit_code != 0 and "--last-day must be a day" in bad_day.output
