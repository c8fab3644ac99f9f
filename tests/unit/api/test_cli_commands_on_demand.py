"""The ``heatledger`` commands that live in modules of their own are imported when asked for: a fresh
process that imports the command line (as ``projections rebuild`` does) loads none of them nor
what only they use, every command they register is named in ``COMMAND_MODULES`` with the module
that registers it, and each is found by name and listed by the help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from api import cli

ROOT = Path(__file__).resolve().parents[3]

# What a rebuild need not import: the other commands' modules and what only they use.
NOT_AT_START = (
    "alembic",
    "arq",
    "infrastructure.jobs",
    "infrastructure.as_known",
    "infrastructure.bill_replay",
    "api.cli_audit",
    "api.cli_audit_bundles",
    "api.cli_billing",
    "api.cli_gateway",
    "api.cli_scenarios",
    "api.cli_tariff_corrections",
)

# In a fresh interpreter: what importing the command line (and the rebuild's chain guard) loads;
# then, command by command, whether its module registers it.
PROBE = """
import json, sys, importlib, pathlib, typer.main
import api.cli, api.cli_chain
from api.cli import COMMAND_MODULES, app
loaded = [name for name in {not_at_start!r} if name in sys.modules]
def names():
    return set(typer.main.get_command(app).commands)
own = names()
wrong = []
for name, module in COMMAND_MODULES.items():
    if name in names():
        continue
    importlib.import_module(module)
    if name not in names():
        wrong.append(name)
for path in sorted(pathlib.Path("api").glob("cli_*.py")):  # every command module there is
    importlib.import_module(f"api.{{path.stem}}")
print(json.dumps({{"loaded": loaded, "own": sorted(own), "all": sorted(names()), "wrong": wrong}}))
"""


def probe() -> dict[str, list[str]]:
    finished = subprocess.run(
        [sys.executable, "-c", PROBE.format(not_at_start=NOT_AT_START)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, list[str]] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def test_the_command_line_starts_without_the_other_commands_modules() -> None:
    found = probe()
    assert found["loaded"] == []
    assert not set(found["own"]) & set(cli.COMMAND_MODULES)  # none of them registered at start
    assert found["wrong"] == []  # each name's module registers it
    # and no command of any api/cli_*.py module left unnamed
    assert set(found["all"]) == set(found["own"]) | set(cli.COMMAND_MODULES)


def test_every_command_is_found_by_name_and_listed() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["--help"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    for name in cli.COMMAND_MODULES:
        assert f" {name} " in listed.output
        helped = runner.invoke(cli.app, [name, "--help"])
        assert helped.exit_code == 0, (name, helped.output)


def test_a_misspelt_command_is_answered_with_the_near_names_of_every_module() -> None:
    # In a fresh process: here the other tests may have loaded every module already.
    finished = subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", "biling"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert finished.returncode == 2
    assert "Did you mean 'billing'?" in finished.stderr + finished.stdout
