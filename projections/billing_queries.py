"""Reads of the billing read models: bills, balances, tariffs and season totals.

Like ``projections.queries``: SQLAlchemy Core selects that give frozen dataclass records of plain
values; sums of the ScaledDecimal money columns are taken in SQL and stay exact on both backends.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, Integer, Select, bindparam, case, func, or_, select

from domain.billing import BillKind
from projections.queries import MAXIMUM_PAGE_SIZE, Page
from projections.season_charges import season_charges_settled
from projections.tables import MONEY_SCALE, balances, bills, households, tariff_versions

# Zero with the scale the tables store, so that empty sums look like filled ones.
ZERO_YUAN = Decimal(0).scaleb(-MONEY_SCALE)


@dataclass(frozen=True)
class BillLineRecord:
    """One step of a bill: the formula's code, the amount it gives (None for a stated fact) and
    the figures put in (as text)."""

    code: str
    amount_yuan: Decimal | None
    figures: dict[str, str]


@dataclass(frozen=True)
class BillRecord:
    """An issued bill, with the household and season it belongs to and its lines."""

    bill_id: UUID
    period_id: UUID
    household_id: UUID
    account_number: str
    community: str
    building: str
    season_code: str
    kind: str
    label: str
    number: str
    issued_on: date
    first_day: date
    last_day: date
    amount_yuan: Decimal
    basis: str
    lines: list[BillLineRecord]
    issued_at: datetime
    actor: str
    reason: str
    correlation_id: UUID


@dataclass(frozen=True)
class BillHeadRecord:
    """An issued bill without its lines, for lists of bills (which show none: the lines are about
    1 kB of JSON a bill, read and parsed for nothing)."""

    bill_id: UUID
    period_id: UUID
    household_id: UUID
    account_number: str
    community: str
    building: str
    season_code: str
    kind: str
    label: str
    number: str
    issued_on: date
    first_day: date
    last_day: date
    amount_yuan: Decimal
    basis: str
    issued_at: datetime
    actor: str
    reason: str
    correlation_id: UUID


@dataclass(frozen=True)
class BalanceRecord:
    """What a household was charged and has paid over all seasons; ``balance_yuan`` is still owed
    (negative: owed to the household)."""

    household_id: UUID
    account_number: str
    community: str
    building: str
    charged_yuan: Decimal
    paid_yuan: Decimal
    balance_yuan: Decimal
    last_bill_at: datetime | None  # None when the household has paid but was never billed


@dataclass(frozen=True)
class CommunityBalanceRecord:
    """The balances of a community's households summed.

    Over all seasons: what they were charged (bills net of credit notes, refunds paid out), have
    paid (payments net of reversals) and still owe (charged − paid; credit held counts negative).
    Of one season: what the season's bills charged (the prepayments and supplements), how much of
    it payments settled (``paid_yuan``) and credit notes settled (``from_credit_notes_yuan``), and
    what is still open of it (``balance_yuan``): charged = paid + from credit notes + balance, as
    the households' accounts allocate them. ``from_credit_notes_yuan`` is None over all seasons,
    where credit notes are netted in ``charged_yuan``."""

    community: str
    households: int
    charged_yuan: Decimal
    paid_yuan: Decimal
    balance_yuan: Decimal
    from_credit_notes_yuan: Decimal | None = None


@dataclass(frozen=True)
class TariffVersionRecord:
    """A published tariff version. ``terms`` is the payload of ``TariffTerms.to_record`` with its
    Decimals as strings: ``TariffTerms.from_record(record.terms)`` reads it back."""

    tariff_id: UUID
    customer_class: str
    scope: str
    version: int
    effective_from: date
    effective_until: date | None
    document_number: str
    approved_on: date
    terms: dict[str, Any]
    published_at: datetime
    actor: str
    reason: str


@dataclass(frozen=True)
class SeasonProgressRecord:
    """How far a community's season is billed: its households supplied in the season, and how many
    of them have the season's prepayment (area fee) bill and its settlement bill."""

    community: str
    households: int
    prepaid: int
    settled: int


class KindTotal(NamedTuple):
    """How many bills of one kind a season has and what they add up to."""

    bills: int
    amount_yuan: Decimal


class BillingQueries:
    """Bills, balances and tariffs from the read models on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- bills --------------------------------------------------------------------------------

    def bills_of_household(
        self,
        household_id: UUID,
        season_code: str | None = None,
        limit: int = 50,
        offset: int = 0,
        issued_on_or_before: date | None = None,
    ) -> Page[BillRecord]:
        """A household's bills, optionally of one season and issued on or before a business day,
        the latest issued first."""
        page, total = _bills_of_household_statements(season_code is not None, issued_on_or_before is not None)
        arguments = {
            "household_id": household_id,
            "season_code": season_code,
            "issued_on_or_before": issued_on_or_before,
            "limit": _bounded(limit),
            "offset": offset,
        }
        with self.engine.connect() as connection:
            items = [_bill_record(row) for row in connection.execute(page, arguments).mappings()]
            count = int(connection.execute(total, arguments).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)

    def bill_heads_of_household(
        self,
        household_id: UUID,
        season_code: str | None = None,
        limit: int = 50,
        offset: int = 0,
        issued_on_or_before: date | None = None,
    ) -> Page[BillHeadRecord]:
        """``bills_of_household``'s page without the bills' lines, in one statement: the count
        comes with each row (a window over the household's bills), so it takes a second
        statement only for a page past the last bill (issue 17: GET /households/{account}/bills
        read two statements and parsed every bill's lines, which it does not show)."""
        page, total = _bills_of_household_statements(season_code is not None, issued_on_or_before is not None)
        arguments = {
            "household_id": household_id,
            "season_code": season_code,
            "issued_on_or_before": issued_on_or_before,
            "limit": _bounded(limit),
            "offset": offset,
        }
        with self.engine.connect() as connection:
            rows = connection.execute(_heads_with_count(page), arguments).all()
            if rows:
                count = int(rows[0][-1])
            else:
                count = 0 if offset == 0 else int(connection.execute(total, arguments).scalar_one())
        items = [BillHeadRecord(*row[:-1]) for row in rows]
        return Page(items, count, has_more=offset + len(items) < count)

    def bill(self, bill_id: UUID) -> BillRecord | None:
        """The bill with this id, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(bills).where(bills.c.bill_id == bill_id)).mappings().first()
        return _bill_record(row) if row else None

    # -- balances -----------------------------------------------------------------------------

    def balance(self, household_id: UUID) -> BalanceRecord | None:
        """A household's balance, or None before its first bill."""
        with self.engine.connect() as connection:
            row = connection.execute(select(balances).where(balances.c.household_id == household_id)).mappings().first()
        return BalanceRecord(**row) if row else None

    def community_balances(self, season_code: str | None = None) -> list[CommunityBalanceRecord]:
        """Per community, by name: its households with an account and what they were charged, have
        paid and still owe; with a season, its households with a bill of it, what those bills
        charged, what payments and credit notes have settled of it and what is still open
        (``CommunityBalanceRecord`` says which figure is which)."""
        if season_code is not None:
            return self._season_balances(season_code)
        statement = (
            select(
                balances.c.community,
                func.count().label("households"),
                func.sum(balances.c.charged_yuan).label("charged_yuan"),
                func.sum(balances.c.paid_yuan).label("paid_yuan"),
                func.sum(balances.c.balance_yuan).label("balance_yuan"),
            )
            .group_by(balances.c.community)
            .order_by(balances.c.community)
        )
        with self.engine.connect() as connection:
            return [
                CommunityBalanceRecord(
                    row.community,
                    int(row.households),
                    _yuan(row.charged_yuan),
                    _yuan(row.paid_yuan),
                    _yuan(row.balance_yuan),
                )
                for row in connection.execute(statement)
            ]

    def _season_balances(self, season_code: str) -> list[CommunityBalanceRecord]:
        """A season's figures come from its bills and their allocations (a household's account),
        never from ``balances``, which keeps no season."""
        statement = season_charges_settled([bills.c.season_code == season_code], [bills.c.community])
        with self.engine.connect() as connection:
            return [_season_balance(row) for row in connection.execute(statement)]

    def season_totals(self, season_code: str, community: str | None = None) -> dict[str, KindTotal]:
        """Per bill kind, how many bills a season has (in one community, or the city) and their sum."""
        conditions: list[ColumnElement[bool]] = [bills.c.season_code == season_code]
        if community is not None:
            conditions.append(bills.c.community == community)
        statement = (
            select(bills.c.kind, func.count().label("bills"), func.sum(bills.c.amount_yuan).label("amount_yuan"))
            .where(*conditions)
            .group_by(bills.c.kind)
            .order_by(bills.c.kind)
        )
        with self.engine.connect() as connection:
            return {
                row.kind: KindTotal(int(row.bills), _yuan(row.amount_yuan)) for row in connection.execute(statement)
            }

    def season_progress(self, season_code: str, first_day: date, last_day: date) -> list[SeasonProgressRecord]:
        """Per community (by name), its households supplied in the season (registered by its last
        day, not deregistered by its first) and how many households have a prepayment and a
        settlement bill of the season. A community with bills but no household supplied (all
        deregistered) is listed too, with its bills."""
        supplied = (
            select(households.c.community, func.count().label("households"))
            .where(
                households.c.registered_on <= last_day,
                or_(households.c.deregistered_on.is_(None), households.c.deregistered_on > first_day),
            )
            .group_by(households.c.community)
        )

        def billed(kind: str) -> Any:
            household_of_kind = case((bills.c.kind == kind, bills.c.household_id), else_=None)
            return func.count(household_of_kind.distinct()).label(kind)

        issued = (
            select(bills.c.community, billed(BillKind.PREPAYMENT.value), billed(BillKind.SETTLEMENT.value))
            .where(bills.c.season_code == season_code)
            .group_by(bills.c.community)
        )
        with self.engine.connect() as connection:
            counts = {row.community: int(row.households) for row in connection.execute(supplied)}
            bill_counts = {
                row.community: (int(row.prepayment), int(row.settlement)) for row in connection.execute(issued)
            }
        return [
            SeasonProgressRecord(community, counts.get(community, 0), *bill_counts.get(community, (0, 0)))
            for community in sorted(counts.keys() | bill_counts.keys())
        ]

    # -- tariffs ------------------------------------------------------------------------------

    def tariffs(self, limit: int = MAXIMUM_PAGE_SIZE) -> list[TariffVersionRecord]:
        """Every published version, by customer class, scope and version number."""
        columns = tariff_versions.c
        statement = (
            select(tariff_versions)
            .order_by(columns.customer_class, columns.scope, columns.version)
            .limit(_bounded(limit))
        )
        with self.engine.connect() as connection:
            return [_tariff_version_record(row) for row in connection.execute(statement).mappings()]

    def tariff_versions(self, customer_class: str, scope: str) -> list[TariffVersionRecord]:
        """The versions of one tariff (a customer class in a scope), oldest first."""
        columns = tariff_versions.c
        statement = (
            select(tariff_versions)
            .where(columns.customer_class == customer_class, columns.scope == scope)
            .order_by(columns.version)
            .limit(MAXIMUM_PAGE_SIZE)
        )
        with self.engine.connect() as connection:
            return [_tariff_version_record(row) for row in connection.execute(statement).mappings()]


@functools.cache
def _bills_of_household_statements(by_season: bool, by_issue_day: bool) -> tuple[Select[Any], Select[Any]]:
    """A household's page of bills and their count, with bound parameters, built once per filter
    shape (issue 17: a statement built per call is traversed for its cache key on every execution)."""
    conditions: list[ColumnElement[bool]] = [bills.c.household_id == bindparam("household_id")]
    if by_season:
        conditions.append(bills.c.season_code == bindparam("season_code"))
    if by_issue_day:
        conditions.append(bills.c.issued_on <= bindparam("issued_on_or_before"))
    page = (
        select(bills)
        .where(*conditions)
        .order_by(bills.c.season_code.desc(), bills.c.issued_on.desc(), bills.c.issued_at.desc(), bills.c.number.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return page, select(func.count()).select_from(bills).where(*conditions)


# The columns of a BillHeadRecord, in its fields' order.
_BILL_HEAD_COLUMNS = tuple(bills.c[name] for name in BillHeadRecord.__dataclass_fields__)


@functools.cache
def _heads_with_count(page: Select[Any]) -> Select[Any]:
    """``page`` (of ``_bills_of_household_statements``) giving the bills' heads and, on every row,
    how many bills its conditions find: the window is counted before LIMIT and OFFSET apply."""
    return page.with_only_columns(*_BILL_HEAD_COLUMNS, func.count().over().label("total"))


def _bounded(limit: int) -> int:
    assert limit > 0, "a page holds at least one record"
    return min(limit, MAXIMUM_PAGE_SIZE)


def _yuan(value: Decimal | None) -> Decimal:
    return ZERO_YUAN if value is None else value


def _season_balance(row: Any) -> CommunityBalanceRecord:
    charged, paid, from_credit_notes = (
        _yuan(row.charged_yuan),
        _yuan(row.paid_yuan),
        _yuan(row.from_credit_notes_yuan),
    )
    balance = charged - paid - from_credit_notes
    assert balance >= 0, "nothing is allocated beyond a charge"
    return CommunityBalanceRecord(row.community, int(row.households), charged, paid, balance, from_credit_notes)


def _bill_record(row: Any) -> BillRecord:
    lines = [
        BillLineRecord(
            code=str(line["code"]),
            amount_yuan=None if line.get("amount_yuan") is None else Decimal(str(line["amount_yuan"])),
            figures={str(key): str(value) for key, value in (line.get("figures") or {}).items()},
        )
        for line in json.loads(row["lines"])
    ]
    return BillRecord(**{**row, "lines": lines})


def _tariff_version_record(row: Any) -> TariffVersionRecord:
    return TariffVersionRecord(**{**row, "terms": json.loads(row["terms"])})
