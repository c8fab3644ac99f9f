"""A history's events said in words, and a history page as CSV.

Each event class of the aggregates with a history (``application.history.AGGREGATES``) has a
one-line summary in Chinese and in English (the message catalogue's history.po), filled from the
event's details as the reader may see them: a masked field reads ``***`` in the summary too, so
masking never leaks through the words.
For example

    开户：碧桂园1号楼***单元***层***室，建筑面积 98.50 m²，供热面积 90.00 m²，居民，2025-10-01 起

Times are said in Asia/Shanghai to the minute, dates as ISO dates, amounts and quantities exactly
as the event carries them. A summary that cannot be filled (an event class changed and its template
not yet) falls back to the event type: a history never fails on its words.
"""

from __future__ import annotations

import csv
import io
import json
import string
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from api import i18n
from api.i18n import Language, Message
from application.history import MASK, HistoryEntry, plain
from domain.day_split import BUSINESS_TIME_ZONE

# Placeholders a template may use beside the event's own fields: the household an event's
# ``household_id`` names, said by its account number when the caller knows it.
DERIVED_PLACEHOLDERS = frozenset({"household"})

# One line per event class, by its key (``Household.Registered``): history.po's history.event.<key>.
SUMMARIES = i18n.Section("history.event.")
NOTHING = "—"


def summary_placeholders(key: str) -> set[str]:
    """The names the summaries of event class ``key`` fill, in either language."""
    template = SUMMARIES[key]
    return {
        name
        for text in (template.zh, template.en)
        for _, name, _, _ in string.Formatter().parse(text)
        if name is not None
    }


def summarize(entry: HistoryEntry, language: Language, accounts: Mapping[UUID, str] | None = None) -> str:
    """The entry in one line, in ``language``; ``accounts`` says households by their account number."""
    template = SUMMARIES.get(entry.event_key)
    if template is None:
        return entry.event_type
    values = {name: said(name, value, language) for name, value in entry.details.items()}
    household_id = entry.details.get("household_id")
    if isinstance(household_id, UUID):
        values["household"] = (accounts or {}).get(household_id, str(household_id))
    try:
        return template.text(language).format_map(values)
    except (KeyError, ValueError, IndexError):
        return entry.event_type


def said(name: str, value: Any, language: Language) -> str:
    """A detail's value as a summary says it."""
    if isinstance(value, str) and value == MASK:
        return MASK
    label = i18n.text(f"history.value.{name}.{_value_key(value)}", language) if _hashable(value) else None
    if label is not None:
        return label
    if value is None:
        return NOTHING
    if isinstance(value, Mapping):  # a command's parameters: "gear 2", "lower_c 16, upper_c 24"
        return ", ".join(f"{key} {said(str(key), item, language)}" for key, item in value.items()) or NOTHING
    if isinstance(value, datetime):
        return value.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | bool) or value is None


def _value_key(value: str | int | bool | None) -> str:
    """How a value is named in its key: history.value.passed.true, history.value.effective_until.none."""
    if value is None or isinstance(value, bool):
        return str(value).lower()
    return str(value)


# -- CSV --------------------------------------------------------------------------------------

CSV_MEDIA_TYPE = "text/csv"
# The columns of a history in CSV, with their headers (history.po's history.csv.<column>).
CSV_COLUMNS: tuple[tuple[str, Message], ...] = (
    ("version", Message("history.csv.version")),
    ("event_type", Message("history.csv.event_type")),
    ("recorded_at", Message("history.csv.recorded_at")),
    ("happened_at", Message("history.csv.happened_at")),
    ("effective_on", Message("history.csv.effective_on")),
    ("actor", Message("history.csv.actor")),
    ("reason", Message("history.csv.reason")),
    ("correlation_id", Message("history.csv.correlation_id")),
    ("summary", Message("history.csv.summary")),
    ("details", Message("history.csv.details")),
    ("masked_fields", Message("history.csv.masked_fields")),
)
# A cell starting with one of these is a formula to a spreadsheet: it is written with a leading
# apostrophe, so a reason typed as "=HYPERLINK(…)" stays text (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_row(entry: HistoryEntry, summary: str) -> dict[str, str]:
    """The cells of an entry's CSV row, by column name."""
    return {
        "version": str(entry.version),
        "event_type": entry.event_type,
        "recorded_at": entry.recorded_at.isoformat(),
        "happened_at": entry.happened_at.isoformat() if entry.happened_at else "",
        "effective_on": entry.effective_on.isoformat() if entry.effective_on else "",
        "actor": entry.actor,
        "reason": entry.reason,
        "correlation_id": str(entry.correlation_id) if entry.correlation_id else "",
        "summary": summary,
        "details": json.dumps(plain(entry.details), ensure_ascii=False, separators=(",", ":")),
        "masked_fields": " ".join(entry.masked_fields),
    }


def history_csv(rows: Iterable[Mapping[str, str]], language: Language) -> str:
    """The rows as CSV with headers in ``language``, starting with a byte-order mark so that
    spreadsheet programs read the Chinese as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header.text(language) for _, header in CSV_COLUMNS])
    for row in rows:
        writer.writerow([_inert(row[name]) for name, _ in CSV_COLUMNS])
    return "\ufeff" + buffer.getvalue()


def _inert(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell
