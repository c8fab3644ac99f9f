"""The filter of a read of the notification log, as the library's recorders write it, for the
ledger's own faster reads of the same rows (``select_notifications`` on both backends, issue 17).

Both recorders ask for ``notification_id`` (SQLite: ``rowid``) after or from ``start``, up to
``stop``, of some topics, in order, up to a limit: the conditions here are the library's, in the
same order, with ``%s`` placeholders (PostgreSQL) or ``?`` (SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# A bound on the canonical texts of originator ids a SQLite reader keeps parsed (a catch-up meets
# the same meters batch after batch); past it the memo starts again, so memory stays bounded.
MAXIMUM_REMEMBERED_IDS = 100_000


def notification_conditions(
    start: int | None,
    stop: int | None,
    topics: Sequence[str],
    inclusive_of_start: bool,
    position: str = "notification_id",
    placeholder: str = "%s",
) -> tuple[list[str], list[Any]]:
    """The WHERE conditions (joined by AND) and their parameters of a read of the log."""
    conditions: list[str] = []
    parameters: list[Any] = []
    if start is not None:
        conditions.append(f"{position} {'>=' if inclusive_of_start else '>'} {placeholder}")
        parameters.append(start)
    if stop is not None:
        conditions.append(f"{position} <= {placeholder}")
        parameters.append(stop)
    if topics:
        assert all(isinstance(topic, str) for topic in topics), "topics are strings"
        if placeholder == "%s":
            conditions.append("topic = ANY(%s)")
            parameters.append(list(topics))
        else:
            conditions.append(f"topic IN ({', '.join(placeholder for _ in topics)})")
            parameters.extend(topics)
    return conditions, parameters
