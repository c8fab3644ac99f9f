"""Batch ingestion of meter readings: per-item outcomes, accepted items saved together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from application.collector import collector_paused
from domain.errors import ReadingRejectedError
from domain.meter import Meter, RecordingOutcome
from domain.readings import ReadingHistory, ReadingValues, RememberedReading

# A bound on one batch, so one request cannot hold the event store for minutes.
MAXIMUM_BATCH_SIZE = 10000


class ItemStatus(StrEnum):
    """What became of one reading in a batch."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ReadingItem:
    """A reading addressed to a meter by its serial number."""

    meter_serial: str
    values: ReadingValues


@dataclass(frozen=True)
class ItemOutcome:
    """The outcome of one item: its position in the batch, status and, if rejected, why."""

    index: int
    meter_serial: str
    measured_at: datetime
    status: ItemStatus
    reason: str | None = None
    message: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # The key of the rejection's message in the outer layers' catalogs (see LedgerError).
    message_key: str | None = None


@dataclass(frozen=True)
class BatchReport:
    """Every item's outcome and the totals, for the device, the clerk and the log."""

    batch_id: UUID
    outcomes: list[ItemOutcome]

    def count(self, status: ItemStatus) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status is status)

    @property
    def accepted(self) -> int:
        return self.count(ItemStatus.ACCEPTED)

    @property
    def duplicates(self) -> int:
        return self.count(ItemStatus.DUPLICATE)

    @property
    def rejected(self) -> int:
        return self.count(ItemStatus.REJECTED)


def judge_batch(
    items: Sequence[ReadingItem],
    meter_for: Callable[[str], Meter | None],
    received_at: datetime,
    batch_id: UUID,
    actor: str,
    reason: str,
    history_for: Callable[[Meter], ReadingHistory] | None = None,
) -> tuple[list[ItemOutcome], list[Meter]]:
    """Apply each item to its meter in order; return the outcomes and the meters that changed.

    ``meter_for`` returns the (one, shared) aggregate for a serial or None for an unknown meter,
    so several readings of one meter in a batch are judged against each other. ``history_for``
    gives a meter's readings beyond its window, for late readings older than the window.
    """
    with collector_paused():  # thousands of events and intervals, no cycles among them
        return _judge_items(items, meter_for, received_at, batch_id, actor, reason, history_for)


def _judge_items(
    items: Sequence[ReadingItem],
    meter_for: Callable[[str], Meter | None],
    received_at: datetime,
    batch_id: UUID,
    actor: str,
    reason: str,
    history_for: Callable[[Meter], ReadingHistory] | None,
) -> tuple[list[ItemOutcome], list[Meter]]:
    outcomes: list[ItemOutcome] = []
    changed: dict[str, Meter] = {}
    for index, item in enumerate(items):
        meter = meter_for(item.meter_serial)
        if meter is None:
            unknown = {"meter_serial": item.meter_serial}
            outcomes.append(_rejected(index, item, "unknown_meter", "no meter has this serial number", unknown))
            continue
        try:
            history = _LazyHistory(meter, history_for) if history_for is not None else None
            result = meter.record_reading(item.values, received_at, batch_id, actor, reason, history)
        except ReadingRejectedError as error:
            outcomes.append(_rejected(index, item, error.reason, error.message, error.params, error.message_key))
            continue
        status = ItemStatus.ACCEPTED if result is RecordingOutcome.ACCEPTED else ItemStatus.DUPLICATE
        if status is ItemStatus.ACCEPTED:
            changed[item.meter_serial] = meter
        outcomes.append(ItemOutcome(index, item.meter_serial, item.values.measured_at, status))
    return outcomes, list(changed.values())


class _LazyHistory:
    """A meter's ``ReadingHistory``, asked of ``history_for`` only when the meter needs it.

    The meter reads its history only for a reading older than its window or one that trues up
    estimates; a batch of new readings never does. Built for every item, each meter's history
    (several objects of the application's) outlived the judging by the thousand, and the
    collector's first run after the batch walked them all (about a twentieth of a batch's CPU).
    """

    __slots__ = ("_history_for", "_meter")

    def __init__(self, meter: Meter, history_for: Callable[[Meter], ReadingHistory]) -> None:
        self._meter = meter
        self._history_for = history_for

    def readings_around(self, measured_at: datetime) -> list[RememberedReading] | None:
        """``ReadingHistory.readings_around`` of the meter's history."""
        return self._history_for(self._meter).readings_around(measured_at)


def _rejected(
    index: int,
    item: ReadingItem,
    reason: str,
    message: str,
    params: dict[str, Any],
    message_key: str | None = None,
) -> ItemOutcome:
    return ItemOutcome(
        index,
        item.meter_serial,
        item.values.measured_at,
        ItemStatus.REJECTED,
        reason,
        message,
        dict(params),
        message_key or reason,
    )
