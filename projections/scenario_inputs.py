"""``ScenarioInputs`` read from the billing read models in bulk: each household's billing period of
a season with what it prepaid and its settlement bills, and published tariff versions.

Two queries per chunk of at most ``CHUNK_SIZE`` households (the periods, their prepayment and
settlement bills), whatever the season holds; a settlement bill's lines are read back as the
``BillLine`` values the billing period issued.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, select

from application.scenarios import IssuedBillRecord, PeriodRecord
from domain import ids
from domain.billing import BillKind
from domain.settlement import BillLine
from domain.tariff import TariffTerms, TariffVersion
from projections.tables import billing_periods, bills, tariff_versions

CHUNK_SIZE = 500
ZERO = Decimal(0)
_PREPAYMENT = BillKind.PREPAYMENT.value
_SETTLEMENT = BillKind.SETTLEMENT.value


class SqlScenarioInputs:
    """Bulk reads for scenarios from the read models on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def periods(self, household_ids: Sequence[UUID], season_code: str) -> dict[UUID, PeriodRecord]:
        """Each household's period of the season (households without one are absent)."""
        found: dict[UUID, PeriodRecord] = {}
        period = billing_periods.c
        bill = bills.c
        with self.engine.connect() as connection:
            for chunk in _chunks(household_ids):
                prepaid: dict[UUID, Decimal] = defaultdict(lambda: ZERO)
                settled: dict[UUID, list[IssuedBillRecord]] = defaultdict(list)
                bill_rows = connection.execute(
                    select(
                        bill.household_id,
                        bill.kind,
                        bill.label,
                        bill.first_day,
                        bill.last_day,
                        bill.amount_yuan,
                        bill.basis,
                        bill.lines,
                    )
                    .where(
                        bill.household_id.in_(chunk),
                        bill.season_code == season_code,
                        bill.kind.in_((_PREPAYMENT, _SETTLEMENT)),
                    )
                    .order_by(bill.household_id, bill.first_day)
                )
                for row in bill_rows:
                    if row.kind == _PREPAYMENT:
                        prepaid[row.household_id] += row.amount_yuan
                    else:
                        settled[row.household_id].append(_issued_bill(row))
                period_rows = connection.execute(
                    select(
                        period.household_id,
                        period.tariff_scope,
                        period.tariff_version,
                        period.billed_area_m2,
                        period.position_coefficient,
                    ).where(period.household_id.in_(chunk), period.season_code == season_code)
                )
                for period_row in period_rows:
                    household_id = period_row.household_id
                    found[household_id] = PeriodRecord(
                        period_row.tariff_scope,
                        period_row.tariff_version,
                        period_row.billed_area_m2,
                        period_row.position_coefficient,
                        prepaid[household_id],
                        tuple(settled.get(household_id, ())),
                    )
        return found

    def tariff_version(self, customer_class: str, scope: str, version: int) -> TariffVersion | None:
        """A published version of the class's tariff in the scope, or None."""
        versions = tariff_versions.c
        with self.engine.connect() as connection:
            row = connection.execute(
                select(tariff_versions).where(
                    versions.tariff_id == ids.tariff_id(customer_class, scope), versions.version == version
                )
            ).first()
        if row is None:
            return None
        terms = TariffTerms.from_record(json.loads(row.terms))
        return TariffVersion(
            row.version, row.effective_from, row.effective_until, terms, row.document_number, row.approved_on
        )


def _issued_bill(row: Any) -> IssuedBillRecord:
    lines = tuple(BillLine.from_record(line) for line in json.loads(row.lines))
    return IssuedBillRecord(row.label, row.first_day, row.last_day, row.amount_yuan, row.basis, lines)


def _chunks(household_ids: Sequence[UUID]) -> Iterator[list[UUID]]:
    unique = list(dict.fromkeys(household_ids))
    for start in range(0, len(unique), CHUNK_SIZE):
        yield unique[start : start + CHUNK_SIZE]
