"""Projection handlers of tariffs, billing periods and bills (bills charge the household's balance)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, insert, select

from domain.billing_period import BillingPeriod
from domain.tariff import Tariff
from projections.balance_rows import add_to_balance, json_text
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


def billing_period_opened(connection: Connection, event: BillingPeriod.Opened) -> None:
    connection.execute(
        insert(billing_periods),
        dict(
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
        ),
    )


def bill_issued(connection: Connection, event: BillingPeriod.BillIssued) -> UUID | None:
    """Record the bill and charge it to the household's balance (select, then insert or update:
    portable, and safe inside the runner's transaction)."""
    period = connection.execute(
        select(
            billing_periods.c.household_id,
            billing_periods.c.account_number,
            billing_periods.c.community,
            billing_periods.c.building,
            billing_periods.c.season_code,
        ).where(billing_periods.c.period_id == event.originator_id)
    ).one()
    connection.execute(
        insert(bills),
        dict(
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
        ),
    )
    place = {"account_number": period.account_number, "community": period.community, "building": period.building}
    amount = Decimal(event.amount_yuan)
    add_to_balance(connection, period.household_id, place, charged_yuan=amount, last_bill_at=event.timestamp)
    # A statement charges nothing and settles nothing.
    return period.household_id if amount != 0 else None


# A handler of a money event returns the household whose allocation must be recomputed.
BILLING_HANDLERS: dict[type[Any], Callable[[Connection, Any], UUID | None]] = {
    Tariff.Opened: tariff_opened,
    Tariff.VersionPublished: tariff_version_published,
    BillingPeriod.Opened: billing_period_opened,
    BillingPeriod.BillIssued: bill_issued,
}
