"""Reads for the arrears policy: what each household owes past due, and the arrears flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, func, select

from domain.arrears import FlagStatus
from projections.queries import MAXIMUM_PAGE_SIZE, Page
from projections.tables import arrears_flags, household_protections, households, open_charges

ZERO_YUAN = Decimal("0.00")


@dataclass(frozen=True)
class PastDueRecord:
    """A household's open charges due on or before a day: their sum and the oldest due day."""

    household_id: UUID
    account_number: str
    community: str
    building: str
    past_due_yuan: Decimal
    oldest_due_on: date


@dataclass(frozen=True)
class ArrearsFlagRecord:
    """An arrears flag as it stands: ``raised_by`` and ``raised_at`` are of its latest raise
    (``times_raised`` counts them), the approval and withdrawal of the current round only."""

    flag_id: UUID
    household_id: UUID
    account_number: str
    community: str
    building: str
    season_code: str
    status: str
    amount_yuan: Decimal
    days_past_due: int
    raised_by: str
    approved_by: str | None
    withdrawn_by: str | None
    withdrawal_kind: str | None
    raised_at: datetime
    decided_at: datetime | None
    times_raised: int


@dataclass(frozen=True)
class VulnerableHouseholdRecord:
    """A household marked vulnerable (protected from arrears flags), where it is, and how many
    disputes it has open."""

    household_id: UUID
    account_number: str
    community: str
    building: str
    open_disputes: int


class ArrearsQueries:
    """Arrears reads from the read models on ``engine``; the ``PastDueReader`` of the arrears policy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def past_due(self, as_of: date, community: str | None = None) -> list[PastDueRecord]:
        """Every household (of ``community``, or of the city) with charges open and due on or before
        ``as_of`` (issued by then), by community, building and account."""
        conditions: list[ColumnElement[bool]] = [
            open_charges.c.issued_on <= as_of,
            open_charges.c.due_on <= as_of,
            open_charges.c.open_yuan > ZERO_YUAN,
        ]
        if community is not None:
            conditions.append(households.c.community == community)
        place = (households.c.community, households.c.building, households.c.account_number)
        statement = (
            select(
                open_charges.c.household_id,
                *place,
                func.sum(open_charges.c.open_yuan).label("past_due_yuan"),
                func.min(open_charges.c.due_on).label("oldest_due_on"),
            )
            .join(households, households.c.household_id == open_charges.c.household_id)
            .where(*conditions)
            .group_by(open_charges.c.household_id, *place)
            .order_by(*place)
        )
        with self.engine.connect() as connection:
            return [
                PastDueRecord(
                    household_id=row.household_id,
                    account_number=row.account_number,
                    community=row.community,
                    building=row.building,
                    past_due_yuan=Decimal(row.past_due_yuan).quantize(ZERO_YUAN),
                    oldest_due_on=_as_date(row.oldest_due_on),
                )
                for row in connection.execute(statement)
            ]

    def flags(
        self,
        status: str | None = None,
        community: str | None = None,
        limit: int = MAXIMUM_PAGE_SIZE,
        offset: int = 0,
    ) -> list[ArrearsFlagRecord]:
        """Arrears flags (of one status and community, if given), by community, building, account, season."""
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(arrears_flags.c.status == status)
        if community is not None:
            conditions.append(arrears_flags.c.community == community)
        columns = arrears_flags.c
        statement = (
            select(arrears_flags)
            .where(*conditions)
            .order_by(columns.community, columns.building, columns.account_number, columns.season_code)
            .limit(min(limit, MAXIMUM_PAGE_SIZE))
            .offset(offset)
        )
        with self.engine.connect() as connection:
            return [ArrearsFlagRecord(**row) for row in connection.execute(statement).mappings()]

    def flag_counts(self, community: str | None = None) -> dict[str, int]:
        """How many flags there are of each status (of one community if given; zero included)."""
        columns = arrears_flags.c
        statement = select(columns.status, func.count()).group_by(columns.status)
        if community is not None:
            statement = statement.where(columns.community == community)
        counted = {status.value: 0 for status in FlagStatus}
        with self.engine.connect() as connection:
            counted.update({status: int(count) for status, count in connection.execute(statement)})
        return counted

    def vulnerable_households(
        self, community: str | None = None, limit: int = MAXIMUM_PAGE_SIZE, offset: int = 0
    ) -> Page[VulnerableHouseholdRecord]:
        """The households marked vulnerable now (of one community if given), by community,
        building and account."""
        protections = household_protections.c
        conditions: list[ColumnElement[bool]] = [protections.vulnerable.is_(True)]
        if community is not None:
            conditions.append(households.c.community == community)
        place = (households.c.community, households.c.building, households.c.account_number)
        joined = household_protections.join(households, households.c.household_id == protections.household_id)
        page = (
            select(households.c.household_id, *place, protections.open_disputes)
            .select_from(joined)
            .where(*conditions)
            .order_by(*place)
            .limit(min(limit, MAXIMUM_PAGE_SIZE))
            .offset(offset)
        )
        total = select(func.count()).select_from(joined).where(*conditions)
        with self.engine.connect() as connection:
            items = [VulnerableHouseholdRecord(**row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)


def _as_date(value: date | str) -> date:
    """MIN over a date column comes back as text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(value)
