"""What the scenario pages show (/ui/scenarios): the latest scenarios, one scenario with its
progress, its columns side by side, the distribution of the changes as a chart, its totals by
community, building and class, and its households page by page.

The scenario is the API's answer (``api.routers.scenarios.scenario_output``: its summary and, in
the reader's language, its exceptions and why it failed); households and totals come from the same
``ScenarioStore`` reads as ``GET /scenarios/{id}/households`` and ``/totals``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from fastapi import BackgroundTasks, Response

from api.messages import Language
from api.routers.scenarios import MAXIMUM_RECENT, scenario_output, submit_scenario
from api.schemas.scenarios import ScenarioGroupOutput, ScenarioHouseholdOutput, ScenarioOutput, ScenarioSubmission
from application.authorization import Principal
from infrastructure.container import Container
from infrastructure.scenarios import ScenarioStatus, TotalsLevel, band_order

PAGE_SIZE = 50
# While a scenario is queued or running, its page asks for its progress this often.
POLL_SECONDS = 2
UNFINISHED = frozenset({ScenarioStatus.QUEUED.value, ScenarioStatus.RUNNING.value})


def recent_scenarios(container: Container, language: Language, limit: int = PAGE_SIZE) -> list[ScenarioOutput]:
    """The latest scenarios, newest first (``GET /scenarios``)."""
    records = container.scenario_store.recent(min(limit, MAXIMUM_RECENT))
    return [scenario_output(record, language) for record in records]


def scenario(container: Container, scenario_id: UUID, language: Language) -> ScenarioOutput:
    """One scenario as ``GET /scenarios/{id}`` answers it; NotFoundError for none."""
    return scenario_output(container.scenario_store.get(scenario_id), language)


def is_unfinished(found: ScenarioOutput) -> bool:
    return found.status in UNFINISHED


def progress_percent(found: ScenarioOutput) -> int:
    """How far the job came, in whole percent (0 before it counted its households)."""
    done, total = found.progress.done, found.progress.total
    return 0 if total == 0 else min(100, done * 100 // total)


@dataclass(frozen=True)
class HouseholdPage:
    """A page of a scenario's household rows, by account number and column."""

    items: list[ScenarioHouseholdOutput]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def households(
    container: Container, scenario_id: UUID, variant: int | None, community: str | None, page: int
) -> HouseholdPage:
    """``GET /scenarios/{id}/households``: one page, asking one row more to know whether another
    page follows (the store counts no total)."""
    store = container.scenario_store
    record = store.get(scenario_id)
    offset = (max(page, 1) - 1) * PAGE_SIZE
    rows = store.results(scenario_id, variant, community, None, PAGE_SIZE + 1, offset)
    items = [ScenarioHouseholdOutput.from_row(row, record.variant_labels) for row in rows[:PAGE_SIZE]]
    return HouseholdPage(items, max(page, 1), len(rows) > PAGE_SIZE)


@dataclass(frozen=True)
class GroupTotals:
    """A community, building or class with its totals under each column, in column order."""

    level: str
    name: str
    columns: list[ScenarioGroupOutput]


def grouped_totals(container: Container, scenario_id: UUID, level: TotalsLevel) -> list[GroupTotals]:
    """``GET /scenarios/{id}/totals?level=…``: one row per group, its columns side by side."""
    store = container.scenario_store
    record = store.get(scenario_id)
    groups: dict[str, list[ScenarioGroupOutput]] = {}
    for row in store.totals(scenario_id, level):
        output = ScenarioGroupOutput.from_row(row, record.variant_labels)
        groups.setdefault(_group_name(output), []).append(output)
    return [GroupTotals(level.value, name, columns) for name, columns in groups.items()]


def _group_name(group: ScenarioGroupOutput) -> str:
    if group.level == TotalsLevel.BUILDING.value:
        return f"{group.community} {group.building}"
    if group.level == TotalsLevel.CLASS.value:
        return group.customer_class or ""
    return group.community or ""


def bands_chart(found: ScenarioOutput, unit: str, title: str) -> dict[str, Any]:
    """An ECharts option: households per band of change (``unit`` "yuan" or "percent"), one bar
    series per variant, the bands from the largest gain to the largest loss."""
    if found.summary is None:
        return {}
    yuan_bands, percent_bands = band_order()
    bands = yuan_bands if unit == "yuan" else percent_bands
    variants = [column for column in found.summary.columns if column.variant > 0]
    series = [
        {
            "name": column.label,
            "type": "bar",
            "data": [(column.bands_yuan if unit == "yuan" else column.bands_percent).get(band, 0) for band in bands],
        }
        for column in variants
    ]
    return {
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "data": [column.label for column in variants]},
        "grid": {"left": 48, "right": 16, "top": 40, "bottom": 64},
        "xAxis": {"type": "category", "data": bands, "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": series,
    }


def submit(
    container: Container,
    principal: Principal,
    submission: ScenarioSubmission,
    today: date,
    language: Language,
    background: BackgroundTasks,
) -> ScenarioOutput:
    """``POST /scenarios`` as the API does it (its route function: the permission, the days
    checked against the season, the job started after the answer is sent)."""
    return submit_scenario(submission, principal, container, today, language, background, Response())
