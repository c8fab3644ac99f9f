"""Projection handlers of tariffs, billing periods and bills (bills charge the household's balance).

A billing run issues thousands of bills in a row; ``BillBatchWriter`` writes a run of them set-based
(the periods opened with them inserted first, one look-up of the other periods, one INSERT of the
bills, each household's balance read and written once) where ``billing_period_opened`` and
``bill_issued`` take five statements per household. Both give the same rows: a balance is a sum,
and its place and last bill time are the last bill's.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Connection, insert, select

from domain.billing_period import BillingPeriod
from domain.tariff import Tariff
from projections.analytics_summary import record_settlement_fees
from projections.balance_batch import BalanceChange, rewrite_balances
from projections.balance_rows import BY_UUID_ORDER, add_to_balance, insert_rows, json_text
from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.id_lists import among
from projections.plans import index_scans_preferred
from projections.tables import (
    billing_periods,
    bills,
    tariff_versions,
    tariffs,
)


def tariff_opened(connection: Connection, event: Tariff.Opened) -> None:
    connection.execute(
        insert(tariffs), dict(tariff_id=event.originator_id, customer_class=event.customer_class, scope=event.scope)
    )


def tariff_version_published(connection: Connection, event: Tariff.VersionPublished) -> None:
    tariff = connection.execute(
        select(tariffs.c.customer_class, tariffs.c.scope).where(tariffs.c.tariff_id == event.originator_id)
    ).one()
    connection.execute(
        insert(tariff_versions),
        dict(
            tariff_id=event.originator_id,
            version=event.number,
            customer_class=tariff.customer_class,
            scope=tariff.scope,
            effective_from=event.effective_from,
            effective_until=event.effective_until,
            document_number=event.document_number,
            approved_on=event.approved_on,
            terms=json_text(event.terms),
            published_at=event.timestamp,
            actor=event.actor,
            reason=event.reason,
        ),
    )


def _period_row(event: BillingPeriod.Opened) -> dict[str, Any]:
    return dict(
        period_id=event.originator_id,
        household_id=event.household_id,
        account_number=event.account_number,
        community=event.community,
        building=event.building,
        season_code=event.season_code,
        first_day=event.first_day,
        last_day=event.last_day,
        tariff_scope=event.tariff_scope,
        tariff_version=event.tariff_version,
        billed_area_m2=event.billed_area_m2,
        position_coefficient=event.position_coefficient,
        opened_at=event.timestamp,
    )


def billing_period_opened(connection: Connection, event: BillingPeriod.Opened) -> None:
    connection.execute(insert(billing_periods), _period_row(event))


_PERIOD_COLUMNS = (
    billing_periods.c.household_id,
    billing_periods.c.account_number,
    billing_periods.c.community,
    billing_periods.c.building,
    billing_periods.c.season_code,
)


def _bill_row(event: BillingPeriod.BillIssued, period: Any) -> dict[str, Any]:
    return dict(
        bill_id=event.bill_id,
        period_id=event.originator_id,
        household_id=period.household_id,
        account_number=period.account_number,
        community=period.community,
        building=period.building,
        season_code=period.season_code,
        kind=event.kind,
        label=event.label,
        number=event.number,
        issued_on=event.issued_on,
        first_day=event.first_day,
        last_day=event.last_day,
        amount_yuan=event.amount_yuan,
        basis=event.basis,
        lines=json_text(event.lines),
        issued_at=event.timestamp,
        actor=event.actor,
        reason=event.reason,
        correlation_id=event.correlation_id,
    )


def bill_issued(connection: Connection, event: BillingPeriod.BillIssued) -> UUID | None:
    """Record the bill and charge it to the household's balance (select, then insert or update:
    portable, and safe inside the runner's transaction)."""
    period = connection.execute(
        select(*_PERIOD_COLUMNS).where(billing_periods.c.period_id == event.originator_id)
    ).one()
    row = _bill_row(event, period)
    connection.execute(insert(bills), row)
    record_settlement_fees(connection, [row])
    place = {"account_number": period.account_number, "community": period.community, "building": period.building}
    amount = Decimal(event.amount_yuan)
    add_to_balance(connection, period.household_id, place, charged_yuan=amount, last_bill_at=event.timestamp)
    # A statement charges nothing and settles nothing.
    return period.household_id if amount != 0 else None


class _PeriodPlace(NamedTuple):
    """What a bill's row takes from its billing period (``_PERIOD_COLUMNS``)."""

    household_id: UUID
    account_number: str
    community: str
    building: str
    season_code: str


class BillBatchWriter:
    """Buffers ``BillIssued`` events and the ``Opened`` events of their periods; ``flush`` writes
    them (call it before any other write that reads periods, bills or balances). It gives the
    households whose allocation must be recomputed.

    A prepayment run saves each household's new period and its first bill together: its events
    alternate ``Opened``, ``BillIssued``. Written by their handlers, each ``Opened`` would flush a
    buffer of one bill (four statements a bill, and a server round trip each on PostgreSQL); here
    the periods are inserted first in one statement and their bills take the period from them."""

    # Bounds one look-up's list of ids (SQLite allows 32,766 parameters); a runner batch is smaller.
    LOOKUP_CHUNK = 5_000

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._events: list[BillingPeriod.BillIssued] = []
        self._period_rows: list[dict[str, Any]] = []

    def add(self, event: BillingPeriod.BillIssued) -> None:
        self._events.append(event)

    def add_period(self, event: BillingPeriod.Opened) -> None:
        self._period_rows.append(_period_row(event))

    def flush(self) -> set[UUID]:
        """Write every buffered period, then every buffered bill and the balances they charge."""
        period_rows, self._period_rows = self._period_rows, []
        converted = ConvertedValues()  # dates, times and amounts repeat across a run's rows
        insert_rows(self.connection, _PERIODS, period_rows, converted)
        events, self._events = self._events, []
        if not events:
            return set()
        opened = {
            row["period_id"]: _PeriodPlace(*(row[column.key] for column in _PERIOD_COLUMNS)) for row in period_rows
        }
        periods = opened | self._periods({event.originator_id for event in events} - opened.keys())
        rows: list[dict[str, Any]] = []
        charges: dict[UUID, BalanceChange] = {}
        to_reallocate: set[UUID] = set()
        for event in events:
            period = periods.get(event.originator_id)
            if period is None:  # as bill_issued's .one() refuses it
                raise LookupError(f"bill {event.number}: no billing period {event.originator_id} in the read model")
            rows.append(_bill_row(event, period))
            place = {
                "account_number": period.account_number,
                "community": period.community,
                "building": period.building,
            }
            amount = Decimal(event.amount_yuan)
            found = charges.get(period.household_id)
            if found is None:
                charges[period.household_id] = BalanceChange(place, charged_yuan=amount, last_bill_at=event.timestamp)
            else:
                found.place, found.charged_yuan, found.last_bill_at = (
                    place,
                    found.charged_yuan + amount,
                    event.timestamp,
                )
            if amount != 0:  # a statement charges nothing and settles nothing
                to_reallocate.add(period.household_id)
        insert_rows(self.connection, _BILLS, rows, converted)
        record_settlement_fees(self.connection, rows, [event.lines for event in events])
        # Each household's balance once (an UPDATE per household was one statement a row: a
        # tenth of a settlement's catch-up on PostgreSQL in server round trips).
        rewrite_balances(self.connection, charges, converted)
        return to_reallocate

    def _periods(self, period_ids: set[UUID]) -> dict[UUID, Any]:
        found: dict[UUID, Any] = {}
        ordered = sorted(period_ids, key=BY_UUID_ORDER)
        with index_scans_preferred(self.connection):  # a batch's periods by key, not a scan of them all
            for start in range(0, len(ordered), self.LOOKUP_CHUNK):
                chunk = ordered[start : start + self.LOOKUP_CHUNK]
                statement = select(billing_periods.c.period_id, *_PERIOD_COLUMNS).where(
                    among(self.connection, billing_periods.c.period_id, chunk)
                )
                found |= {row.period_id: row for row in self.connection.execute(statement)}
        return found


# Rows by one statement each, their values converted column by column (COPY on PostgreSQL).
_PERIODS = RowsInserter(billing_periods)
_BILLS = RowsInserter(bills)

# A handler of a money event returns the household whose allocation must be recomputed.
BILLING_HANDLERS: dict[type[Any], Callable[[Connection, Any], UUID | None]] = {
    Tariff.Opened: tariff_opened,
    Tariff.VersionPublished: tariff_version_published,
    BillingPeriod.Opened: billing_period_opened,
    BillingPeriod.BillIssued: bill_issued,
}
