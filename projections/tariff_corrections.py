"""The ``tariff_corrections`` read model: every tariff correction as it stands, from its events
(domain/tariff_correction.py), for lists by state and tariff; and its queries.

The notes a correction previewed and booked are not here: the preview's notes live with its job
(infrastructure/tariff_corrections.py), the booked ones are bills (kind ``adjustment``) like any.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    insert,
    select,
    update,
)

from domain.tariff_correction import CorrectionState, PreviewTotals, TariffCorrection
from projections.tables import MONEY_SCALE, metadata
from projections.types import ScaledDecimal, UtcDateTime

MAXIMUM_LISTED = 500

tariff_corrections = Table(
    "tariff_corrections",
    metadata,
    Column("correction_id", Uuid, primary_key=True),
    Column("code", String(16), nullable=False),
    Column("tariff_id", Uuid, nullable=False),
    Column("customer_class", String(32), nullable=False),
    Column("scope", String(128), nullable=False),
    Column("tariff_version", Integer, nullable=False),
    Column("document_number", String(64), nullable=False),
    Column("approved_on", Date, nullable=False),  # the bureau's approval of the document
    Column("seasons", String(100), nullable=False),  # "2024-2025,2025-2026"
    Column("overrides", Text, nullable=False),  # the corrected price fields as JSON (text values)
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("proposed_by", String(128), nullable=False),
    Column("proposed_at", UtcDateTime, nullable=False),
    Column("preview_number", Integer, nullable=False),
    Column("scenario_ids", Text, nullable=True),  # JSON list, one scenario per season
    Column("preview_totals", Text, nullable=True),  # JSON (PreviewTotals.to_record)
    Column("approved_by", String(128), nullable=True),
    Column("approved_at", UtcDateTime, nullable=True),
    Column("refused_by", String(128), nullable=True),
    Column("refused_at", UtcDateTime, nullable=True),
    Column("refusal_reason", Text, nullable=True),
    Column("run_started_at", UtcDateTime, nullable=True),
    Column("notes_booked", Integer, nullable=False),
    Column("debit_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("credit_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("completed_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_tariff_corrections_state", "state", "proposed_at"),
    Index("ix_tariff_corrections_tariff", "tariff_id", "tariff_version"),
)

TARIFF_CORRECTION_TABLES = (tariff_corrections,)
ZERO = Decimal(0)


# -- handlers -----------------------------------------------------------------------------------


def _proposed(connection: Connection, event: TariffCorrection.Proposed) -> None:
    connection.execute(
        insert(tariff_corrections).values(
            correction_id=event.originator_id,
            code=event.originator_id.hex[:10],
            tariff_id=event.tariff_id,
            customer_class=event.customer_class,
            scope=event.scope,
            tariff_version=event.tariff_version,
            document_number=event.document_number,
            approved_on=event.approved_on,
            seasons=",".join(event.seasons),
            overrides=json.dumps(event.overrides, ensure_ascii=False, sort_keys=True),
            state=CorrectionState.PROPOSED.value,
            reason=event.reason,
            proposed_by=event.actor,
            proposed_at=event.timestamp,
            preview_number=0,
            notes_booked=0,
            debit_yuan=ZERO,
            credit_yuan=ZERO,
            updated_at=event.timestamp,
            version=event.originator_version,
        )
    )


def _set(connection: Connection, event: Any, **values: Any) -> None:
    connection.execute(
        update(tariff_corrections)
        .where(tariff_corrections.c.correction_id == event.originator_id)
        .values(**values, updated_at=event.timestamp, version=event.originator_version)
    )


def _reproposed(connection: Connection, event: TariffCorrection.Reproposed) -> None:
    _set(
        connection,
        event,
        approved_on=event.approved_on,
        seasons=",".join(event.seasons),
        overrides=json.dumps(event.overrides, ensure_ascii=False, sort_keys=True),
        state=CorrectionState.PROPOSED.value,
        reason=event.reason,
        proposed_by=event.actor,
        proposed_at=event.timestamp,
        scenario_ids=None,
        preview_totals=None,
        refused_by=None,
        refused_at=None,
        refusal_reason=None,
    )


def _preview_started(connection: Connection, event: TariffCorrection.PreviewStarted) -> None:
    _set(
        connection,
        event,
        state=CorrectionState.PREVIEWING.value,
        preview_number=event.preview_number,
        scenario_ids=None,
        preview_totals=None,
    )


def _previewed(connection: Connection, event: TariffCorrection.Previewed) -> None:
    _set(
        connection,
        event,
        state=CorrectionState.PREVIEWED.value,
        scenario_ids=json.dumps(list(event.scenario_ids)),
        preview_totals=json.dumps(event.totals),
    )


def _approved(connection: Connection, event: TariffCorrection.Approved) -> None:
    _set(connection, event, state=CorrectionState.APPROVED.value, approved_by=event.actor, approved_at=event.timestamp)


def _refused(connection: Connection, event: TariffCorrection.Refused) -> None:
    _set(
        connection,
        event,
        state=CorrectionState.REFUSED.value,
        refused_by=event.actor,
        refused_at=event.timestamp,
        refusal_reason=event.reason,
    )


def _run_started(connection: Connection, event: TariffCorrection.RunStarted) -> None:
    _set(connection, event, state=CorrectionState.RUNNING.value, run_started_at=event.timestamp)


def _notes_booked(connection: Connection, event: TariffCorrection.NotesBooked) -> None:
    table = tariff_corrections.c
    _set(
        connection,
        event,
        notes_booked=table.notes_booked + event.notes,
        debit_yuan=table.debit_yuan + event.debit_yuan,
        credit_yuan=table.credit_yuan + event.credit_yuan,
    )


def _completed(connection: Connection, event: TariffCorrection.Completed) -> None:
    _set(connection, event, state=CorrectionState.COMPLETED.value, completed_at=event.timestamp)


TARIFF_CORRECTION_HANDLERS: dict[type[Any], Callable[[Connection, Any], None]] = {
    TariffCorrection.Proposed: _proposed,
    TariffCorrection.Reproposed: _reproposed,
    TariffCorrection.PreviewStarted: _preview_started,
    TariffCorrection.Previewed: _previewed,
    TariffCorrection.Approved: _approved,
    TariffCorrection.Refused: _refused,
    TariffCorrection.RunStarted: _run_started,
    TariffCorrection.NotesBooked: _notes_booked,
    TariffCorrection.Completed: _completed,
}


# -- queries ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorrectionRow:
    """A correction as the read model holds it."""

    correction_id: UUID
    code: str
    customer_class: str
    scope: str
    tariff_version: int
    document_number: str
    approved_on: date
    seasons: tuple[str, ...]
    overrides: dict[str, Any]
    state: CorrectionState
    reason: str
    proposed_by: str
    proposed_at: datetime
    preview_number: int
    scenario_ids: tuple[UUID, ...]
    preview_totals: PreviewTotals | None
    approved_by: str | None
    approved_at: datetime | None
    refused_by: str | None
    refusal_reason: str | None
    notes_booked: int
    debit_yuan: Decimal
    credit_yuan: Decimal
    completed_at: datetime | None


class TariffCorrectionQueries:
    """Reads of the ``tariff_corrections`` read model."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(
        self,
        state: CorrectionState | None = None,
        customer_class: str | None = None,
        scope: str | None = None,
        limit: int = 50,
    ) -> list[CorrectionRow]:
        """Corrections, newest proposal first, optionally in a state or of a tariff."""
        table = tariff_corrections.c
        statement = select(tariff_corrections).order_by(table.proposed_at.desc(), table.correction_id)
        if state is not None:
            statement = statement.where(table.state == CorrectionState(state).value)
        if customer_class is not None:
            statement = statement.where(table.customer_class == customer_class)
        if scope is not None:
            statement = statement.where(table.scope == scope)
        statement = statement.limit(max(1, min(limit, MAXIMUM_LISTED)))
        with self.engine.connect() as connection:
            return [_row(row) for row in connection.execute(statement).mappings()]


def _row(row: Any) -> CorrectionRow:
    return CorrectionRow(
        correction_id=row["correction_id"],
        code=row["code"],
        customer_class=row["customer_class"],
        scope=row["scope"],
        tariff_version=row["tariff_version"],
        document_number=row["document_number"],
        approved_on=row["approved_on"],
        seasons=tuple(season for season in row["seasons"].split(",") if season),
        overrides=json.loads(row["overrides"]),
        state=CorrectionState(row["state"]),
        reason=row["reason"],
        proposed_by=row["proposed_by"],
        proposed_at=row["proposed_at"],
        preview_number=row["preview_number"],
        scenario_ids=tuple(UUID(item) for item in json.loads(row["scenario_ids"] or "[]")),
        preview_totals=PreviewTotals.from_record(json.loads(row["preview_totals"])) if row["preview_totals"] else None,
        approved_by=row["approved_by"],
        approved_at=row["approved_at"],
        refused_by=row["refused_by"],
        refusal_reason=row["refusal_reason"],
        notes_booked=row["notes_booked"],
        debit_yuan=row["debit_yuan"],
        credit_yuan=row["credit_yuan"],
        completed_at=row["completed_at"],
    )
