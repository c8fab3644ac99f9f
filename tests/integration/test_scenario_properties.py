"""Property, on SQLite and PostgreSQL: for random tariffs and random histories, a scenario whose
variant is the tariff the season was settled under reproduces every issued settlement bill to
the fen, whether the variant starts from the actual tariff or names every price field itself.

A history (tests/integration/test_bill_replay_properties.py): metered flats read at midnights
with random daily heat and gaps, random suspensions, owner changes and area corrections, and a
flat without a meter billed by its building's allocation; a random tariff (prices, base share,
policy and cap, suspension share, position correction, minimum charge, rounding) is published,
and the prepayment and the settlement are issued by billing runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.authorization import Principal, Role
from application.scenarios import ActualSource, HouseholdOutcome, ScenarioRequest
from domain.billing import BillKind
from domain.scenario import TariffVariant
from domain.settlement import PositionCorrection, Rounding, RoundingMode, SettlementPolicy, TwoPartPrice
from domain.tariff import TariffTerms
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Settings
from tests.conftest import postgres_settings, sqlite_settings
from tests.integration.test_bill_replay_properties import FlatPlan, allocated_flat, flat_plans, metered_flat
from tests.integration.test_billing_runs import AFTER_SEASON, SEASON, publish, run
from tests.services import fresh_postgres_database

D = Decimal
REGULATOR = Principal("price-bureau", Role.REGULATOR)


@st.composite
def prices(draw: st.DrawFn) -> TwoPartPrice:
    policy = draw(st.sampled_from(list(SettlementPolicy)))
    return TwoPartPrice(
        area_price_yuan_per_m2=draw(st.decimals(min_value=D(10), max_value=D(40), places=2)),
        base_share_percent=draw(st.decimals(min_value=D(0), max_value=D(100), places=1)),
        energy_price_yuan_per_gj=draw(st.decimals(min_value=D(0), max_value=D(90), places=2)),
        policy=policy,
        cap_percent=draw(st.decimals(min_value=D(100), max_value=D(150), places=1))
        if policy is SettlementPolicy.CAPPED
        else None,
        suspension_share_percent=draw(st.decimals(min_value=D(0), max_value=D(50), places=0)),
        position_correction=draw(st.sampled_from(list(PositionCorrection))),
        minimum_charge_yuan=draw(st.sampled_from([D(0), D(500), D("2500.50")])),
        rounding=Rounding(
            draw(st.sampled_from(list(RoundingMode))), draw(st.sampled_from([D("0.01"), D("0.1"), D(1)]))
        ),
    )


def every_field(price: TwoPartPrice) -> TariffVariant:
    """A variant naming every price field of ``price`` itself (not starting from the actual tariff)."""
    fields = {
        "area_price_yuan_per_m2": str(price.area_price_yuan_per_m2),
        "base_share_percent": str(price.base_share_percent),
        "energy_price_yuan_per_gj": str(price.energy_price_yuan_per_gj),
        "policy": price.policy.value,
        "cap_percent": None if price.cap_percent is None else str(price.cap_percent),
        "suspension_share_percent": str(price.suspension_share_percent),
        "position_correction": price.position_correction.value,
        "minimum_charge_yuan": str(price.minimum_charge_yuan),
        "rounding_mode": price.rounding.mode.value,
        "rounding_quantum_yuan": str(price.rounding.quantum_yuan),
    }
    return TariffVariant("every field", fields, from_actual=False)


@contextmanager
def empty_store(backend: Backend) -> Iterator[Container]:
    """A fresh store of the backend for one example."""
    if backend is Backend.SQLITE:
        with tempfile.TemporaryDirectory(prefix="scenario-property-") as folder:
            yield from _opened(sqlite_settings(Path(folder)))
        return
    with fresh_postgres_database() as database:
        yield from _opened(postgres_settings(database))


def _opened(store: Settings) -> Iterator[Container]:
    container = bootstrap(store)
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        yield container
    finally:
        container.close()


@pytest.mark.parametrize("backend", [Backend.SQLITE, Backend.POSTGRES], ids=["sqlite", "postgres"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(price=prices(), flats=st.lists(flat_plans, min_size=1, max_size=2), allocated=st.booleans())
def test_a_scenario_under_the_issued_tariff_reproduces_every_settlement_bill(
    backend: Backend, price: TwoPartPrice, flats: list[FlatPlan], allocated: bool
) -> None:
    with empty_store(backend) as container:
        publish(container, TariffTerms(price))
        for index, plan in enumerate(flats):
            metered_flat(container, f"A-{index}", f"M-{index}", plan)
        if allocated:
            allocated_flat(container)
        container.catch_up()
        for kind in (BillKind.PREPAYMENT, BillKind.SETTLEMENT):
            run(container, kind)
        outcomes: list[HouseholdOutcome] = []
        request = ScenarioRequest(SEASON.code, (TariffVariant("as issued"), every_field(price)))
        container.scenarios.run(REGULATOR, request, sink=outcomes.extend)

        by_account = {outcome.household.account_number: outcome for outcome in outcomes}
        settled = 0
        for account in [f"A-{index}" for index in range(len(flats))] + (["C-1"] if allocated else []):
            period = container.billing.period(account, SEASON)
            issued = tuple(bill.amount_yuan for bill in period.issued(BillKind.SETTLEMENT))
            if not issued:
                continue  # the run could not settle it (an exception of the run): nothing to reproduce
            settled += 1
            outcome = by_account[account]
            assert outcome.actual_source is ActualSource.ISSUED
            # Recomputed by the scenario's reads and the same settlement code: every bill, every line.
            assert outcome.matches_issued, account
            for column in outcome.columns:
                assert column.figures.bill_amounts_yuan == issued, (account, column.variant)
                assert column.figures.due_yuan == period.prepaid_yuan + sum(issued, D(0))
                assert column.change_yuan == 0
        assert settled, "every history settles at least one household"
