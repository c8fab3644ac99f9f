"""The ``heatledger season`` commands: the days a city or a community heats, by decree.

Registered on the main ``heatledger`` app by ``api.cli``; it uses that module's plumbing (the
container, the operator, one-line failures).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from api.cli import app, fail, opened_container, operator, out
from domain.heating_season import HeatingSeason
from domain.season import Season
from domain.tariff import CITY_SCOPE
from infrastructure.container import Container
from projections.queries import LedgerQueries

season_app = typer.Typer(help="Heating seasons: the days each scope heats, by decree.", no_args_is_help=True)
app.add_typer(season_app, name="season")

ScopeOption = Annotated[str, typer.Option(help='A community, or "*" for the whole city.')]
SeasonOption = Annotated[str, typer.Option(help="The season, e.g. 2025-2026.")]
DayOption = Annotated[str, typer.Option(help="A day, YYYY-MM-DD.")]
DecreeOption = Annotated[str, typer.Option(help="The government decree's number (文件号).")]
ReasonOption = Annotated[str, typer.Option(help="Why: recorded on the event.")]


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--{name} must be a day like 2025-11-15, not {text!r}")


def _season_code(text: str) -> str:
    try:
        return Season.from_code(text).code
    except ValueError as error:
        fail(str(error))


@season_app.command("declare")
def season_declare(
    season: SeasonOption,
    first_day: DayOption,
    last_day: DayOption,
    decree: DecreeOption,
    scope: ScopeOption = CITY_SCOPE,
    reason: ReasonOption = "the government's decree on the heating season",
) -> None:
    """Declare the days a scope heats in a season (once; a later decree is an extension)."""
    code = _season_code(season)
    first, last = _day(first_day, "first-day"), _day(last_day, "last-day")
    with opened_container() as container:
        record = container.seasons.declare(operator(), scope, code, first, last, decree, reason)
    print_record(record)


@season_app.command("extend")
def season_extend(
    season: SeasonOption,
    first_day: DayOption,
    last_day: DayOption,
    decree: DecreeOption,
    scope: ScopeOption = CITY_SCOPE,
    reason: ReasonOption = "the government's decree extending the heating season",
) -> None:
    """Extend a declared season by decree (start no later, end no earlier)."""
    code = _season_code(season)
    first, last = _day(first_day, "first-day"), _day(last_day, "last-day")
    with opened_container() as container:
        record = container.seasons.extend(operator(), scope, code, first, last, decree, reason)
    print_record(record)


@season_app.command("list")
def season_list(season: SeasonOption) -> None:
    """The records of a season (the city's, then the communities' own) with every decree."""
    code = _season_code(season)
    with opened_container() as container:
        records = container.seasons.records(code, container_communities(container))
    if not records:
        out().print(f"no season {code} was declared: every community heats the default 1 Nov – 31 Mar", markup=False)
    for record in records:
        print_record(record)


def container_communities(container: Container) -> list[str]:
    return LedgerQueries(container.engine).communities()


def print_record(record: HeatingSeason) -> None:
    """A scope's season: the days in force, then each decree."""
    season = record.season
    table = Table(
        title=f"{record.scope} {record.season_code}: {season.first_day} – {season.last_day} ({season.days} days)"
    )
    for column in ("decree", "kind", "first day", "last day", "by", "why"):
        table.add_column(column)
    for decree in record.decrees:
        table.add_row(
            decree.decree_number, decree.kind, str(decree.first_day), str(decree.last_day), decree.actor, decree.reason
        )
    out().print(table)
