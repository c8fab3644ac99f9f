"""A whole season of the demo community (one building, 48 flats), billed as the demo does it:
the demo tariff, the prepayment, five monthly statements and the settlement.

The figures are not written down in advance (the community is generated); the test checks what
must hold of any season: every household billed once per document, money conserved between
bills and balances, refund-only never charging more than the area fee, suspended flats paying
their share, and a second billing issuing nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select

from application.authorization import SYSTEM
from domain.billing import BillKind
from infrastructure.container import Container
from infrastructure.demo.billing import DEMO_SEASON_DECREE, bill_demo_season, declare_demo_season, ended_months
from infrastructure.demo.community import generate_community
from infrastructure.demo.loader import load_community
from infrastructure.demo.tariff import DEMO_TERMS
from projections.tables import balances, bills

AFTER_SEASON = date(2026, 4, 20)


def test_a_whole_demo_season_is_billed_and_money_is_conserved(sqlite_container: Container) -> None:
    container = sqlite_container
    community = generate_community(today=AFTER_SEASON, buildings=1)
    assert community.season.code == "2025-2026" and community.days == community.season.days
    container.ledger.clock = lambda: datetime(2026, 4, 20, 2, tzinfo=UTC)
    load_community(container.ledger, community, SYSTEM)
    container.catch_up()
    assert declare_demo_season(container.seasons, SYSTEM, community.season) is True
    assert declare_demo_season(container.seasons, SYSTEM, community.season) is False  # once

    summaries = bill_demo_season(
        container.billing, container.billing_runs, SYSTEM, community.season, community.name, AFTER_SEASON
    )
    container.catch_up()
    households = len(community.households)
    assert [summary.kind for summary in summaries] == [BillKind.PREPAYMENT] + [BillKind.STATEMENT] * 5 + [
        BillKind.SETTLEMENT
    ]
    assert ended_months(community.season, AFTER_SEASON) == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert all(summary.bills_issued == households for summary in summaries)
    assert all(summary.exceptions == [] for summary in summaries)

    settlement = summaries[-1]
    # Refund only (多退少不补): no household is charged more after the season.
    assert settlement.charged_yuan == 0 and settlement.credited_yuan < 0
    area_price = DEMO_TERMS.price.area_price_yuan_per_m2
    suspended = [flat for flat in community.households if flat.suspended_on is not None]
    assert suspended, "the demo has suspended flats"
    for flat in suspended:
        (prepayment,) = container.billing.period(flat.account_number, community.season).issued(BillKind.PREPAYMENT)
        # Suspended before the season: 20 % of the area fee for every day.
        assert prepayment.amount_yuan == (flat.areas.connected_area_m2 * area_price * Decimal("0.2")).quantize(
            Decimal("0.01")
        )
        settled = container.billing.period(flat.account_number, community.season).issued(BillKind.SETTLEMENT)
        if flat.suspended_on <= community.season.first_day:  # the demo never resumes a suspended flat
            # Suspended all season: the suspension share is all it pays, nothing is refunded (报停 once).
            assert [bill.amount_yuan for bill in settled] == [Decimal("0.00")]
        season_line = next(line for line in settled[0].lines if line.code == "season_days")
        assert season_line.figures["decree_number"] == DEMO_SEASON_DECREE

    with container.engine.connect() as connection:
        billed_total = connection.execute(select(func.sum(bills.c.amount_yuan))).scalar_one()
        charged_total = connection.execute(select(func.sum(balances.c.charged_yuan))).scalar_one()
        balance_rows = connection.execute(select(func.count()).select_from(balances)).scalar_one()
    prepaid = summaries[0].charged_yuan
    assert Decimal(billed_total) == Decimal(charged_total) == prepaid + settlement.credited_yuan
    assert balance_rows == households

    again = bill_demo_season(
        container.billing, container.billing_runs, SYSTEM, community.season, community.name, AFTER_SEASON
    )
    assert [summary.bills_issued for summary in again] == [0] * len(again)
