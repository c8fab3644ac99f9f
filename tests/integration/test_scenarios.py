"""Regulator scenarios through the application and the job, on SQLite and PostgreSQL: a variant
equal to the actual tariff reproduces the issued settlement to the fen, other variants are
computed by the same settlement code, the Xuchang figures (domain.md §6) by hand, the current
season to date, and a scenario books nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from application.authorization import SYSTEM, Principal, Role
from application.scenarios import ActualSource, HouseholdOutcome, ScenarioRequest, ScenarioScope
from domain.billing import BillKind
from domain.errors import InvalidInputError, PermissionDeniedError
from domain.scenario import TariffVariant
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import CITY_SCOPE, TariffTerms
from domain.values import CustomerClass
from infrastructure.container import Container
from infrastructure.scenarios import ScenarioStatus, TotalsLevel, execute_scenario, metadata
from projections.tables import billing_periods, bills
from tests.integration.test_billing_runs import AFTER_SEASON, SEASON, billed, midnight, publish, read_daily, run
from tests.strategies import commission_meter, register_household

__all__ = ["billed"]  # the fixture, imported for these tests

D = Decimal
REGULATOR = Principal("price-bureau-zhao", Role.REGULATOR)
SAME = TariffVariant("same as issued")
SAME_EXPLICIT = TariffVariant(
    "same, every field named",
    {
        "area_price_yuan_per_m2": "21.6",
        "base_share_percent": "30",
        "energy_price_yuan_per_gj": "43.9",
        "policy": "both_ways",
    },
    from_actual=False,
)
DEARER_HEAT = TariffVariant("50 元/GJ", {"energy_price_yuan_per_gj": "50"})


def settle_season(container: Container) -> None:
    for kind in (BillKind.PREPAYMENT, BillKind.SETTLEMENT):
        summary = run(container, kind)
        assert summary.exceptions == []


def compute(container: Container, request: ScenarioRequest) -> tuple[list[HouseholdOutcome], object]:
    outcomes: list[HouseholdOutcome] = []
    summary = container.scenarios.run(REGULATOR, request, sink=outcomes.extend)
    return outcomes, summary


def test_a_variant_equal_to_the_actual_tariff_reproduces_every_issued_settlement(billed: Container) -> None:
    settle_season(billed)
    request = ScenarioRequest(SEASON.code, (SAME, SAME_EXPLICIT, DEARER_HEAT))

    outcomes, summary = compute(billed, request)

    assert {outcome.household.account_number for outcome in outcomes} == {"A-1", "A-2"}
    for outcome in outcomes:
        period = billed.billing.period(outcome.household.account_number, SEASON)
        issued = period.issued(BillKind.SETTLEMENT)
        actual, same, explicit, dearer = outcome.columns
        assert outcome.actual_source is ActualSource.ISSUED and outcome.matches_issued is True
        for column in (actual, same, explicit):
            assert column.figures.bill_amounts_yuan == tuple(bill.amount_yuan for bill in issued)
            assert column.figures.due_yuan == period.prepaid_yuan + sum(bill.amount_yuan for bill in issued)
            assert column.change_yuan == 0
        assert dearer.change_yuan > 0
    # 30.2 GJ × (50 − 43.9) = 184.22 元 more; A-2: 15.1 GJ × 6.1 = 92.11 元.
    changes = {outcome.household.account_number: outcome.columns[3].change_yuan for outcome in outcomes}
    assert changes == {"A-1": D("184.22"), "A-2": D("92.11")}
    assert summary.totals[1].unchanged == 2 and summary.totals[1].change_yuan == 0  # type: ignore[attr-defined]
    assert summary.totals[3].losers == 2 and summary.totals[3].change_yuan == D("276.33")  # type: ignore[attr-defined]


def test_a_scenario_books_nothing_and_its_job_stores_rows_totals_and_summary(billed: Container) -> None:
    settle_season(billed)
    before = _ledger_state(billed)
    request = ScenarioRequest(SEASON.code, (SAME, DEARER_HEAT), title="能量价 50 元/GJ")
    scenario_id = billed.scenario_store.submit(REGULATOR, request)

    record = execute_scenario(billed.scenario_store, billed.scenarios, scenario_id)

    assert _ledger_state(billed) == before
    assert record.status is ScenarioStatus.DONE and record.households_done == record.households_total == 2
    assert record.summary is not None and record.summary["issued_differ"] == 0
    dearer = record.summary["columns"][2]
    assert dearer["label"] == "50 元/GJ" and D(dearer["totals"]["change_yuan"]) == D("276.33")
    assert dearer["bands_yuan"]["50…100"] == 1 and dearer["bands_yuan"]["100…200"] == 1
    rows = billed.scenario_store.results(scenario_id, variant=2)
    assert [(row.account_number, row.change_yuan) for row in rows] == [("A-1", D("184.22")), ("A-2", D("92.11"))]
    buildings = billed.scenario_store.totals(scenario_id, TotalsLevel.BUILDING)
    assert {(row.variant, row.building) for row in buildings} == {(0, "1"), (1, "1"), (2, "1")}
    # Reopened: the same request comes back from the store.
    assert billed.scenario_store.get(scenario_id).request == request


def test_a_scope_narrows_the_households(billed: Container) -> None:
    register_household(billed.ledger, "B-1", building="2")
    commission_meter(billed.ledger, "M-B1")
    billed.ledger.attach_meter(SYSTEM, "B-1", "M-B1", datetime(2025, 10, 1, tzinfo=UTC))
    read_daily(billed, "M-B1", D("0.15"))
    settle_season(billed)

    one_building = ScenarioScope(community="碧桂园", building="2")
    outcomes, _ = compute(billed, ScenarioRequest(SEASON.code, (DEARER_HEAT,), one_building))
    assert [outcome.household.account_number for outcome in outcomes] == ["B-1"]
    with pytest.raises(InvalidInputError) as refused:
        compute(billed, ScenarioRequest(SEASON.code, (DEARER_HEAT,), ScenarioScope(community="无此小区")))
    assert refused.value.message_key == "no_households_in_scope"
    other_class = ScenarioScope(customer_class=CustomerClass.NON_RESIDENTIAL)
    with pytest.raises(InvalidInputError):
        compute(billed, ScenarioRequest(SEASON.code, (DEARER_HEAT,), other_class))


def test_a_season_not_settled_is_computed_under_the_actual_tariff(billed: Container) -> None:
    run(billed, BillKind.PREPAYMENT)  # no settlement yet
    outcomes, _ = compute(billed, ScenarioRequest(SEASON.code, (SAME,)))
    by_account = {outcome.household.account_number: outcome for outcome in outcomes}
    assert by_account["A-1"].actual_source is ActualSource.COMPUTED and by_account["A-1"].matches_issued is None
    # The settlement a run would issue: 1944.00 prepaid, 1908.98 due (test_billing_runs).
    assert by_account["A-1"].columns[0].figures.due_yuan == D("1908.98")
    assert by_account["A-1"].columns[0].figures.settlement_yuan == D("-35.02")


def test_the_current_season_is_computed_to_the_day_before_today(billed: Container) -> None:
    # 16 December: November and 15 days of December are over (45 of 151 days).
    billed.ledger.clock = lambda: datetime(2025, 12, 16, 4, tzinfo=UTC)
    outcomes, summary = compute(billed, ScenarioRequest(SEASON.code, (DEARER_HEAT,)))
    assert summary.last_days_counted == [date(2025, 12, 15)]  # type: ignore[attr-defined]
    a1 = next(outcome for outcome in outcomes if outcome.household.account_number == "A-1")
    actual, dearer = a1.columns
    # Area fee to date: 90 m² × 21.6 × 45 / 151 = 579.34; base 30 % = 173.80; 45 × 0.2 = 9 GJ.
    assert actual.figures.area_fee_yuan == D("579.34") and actual.figures.energy_gj == D(9)
    assert actual.figures.due_yuan == D("173.80") + D("395.10")  # 9 × 43.9
    assert dearer.change_yuan == D("54.90")  # 9 × 6.1
    with pytest.raises(InvalidInputError) as refused:
        compute(billed, ScenarioRequest(SEASON.code, (SAME,), as_of=date(2025, 12, 16)))
    assert refused.value.message_key == "scenario_as_of_invalid"
    with pytest.raises(InvalidInputError) as refused:
        compute(billed, ScenarioRequest("2026-2027", (SAME,)))
    assert refused.value.message_key == "scenario_season_not_begun"


def test_only_roles_allowed_to_run_scenarios_may(billed: Container) -> None:
    settle_season(billed)
    for role in (Role.CLERK, Role.AUDITOR, Role.CUSTOMER_SERVICE):
        with pytest.raises(PermissionDeniedError):
            billed.scenarios.run(Principal("someone", role), ScenarioRequest(SEASON.code, (SAME,)))
        with pytest.raises(PermissionDeniedError):
            billed.scenario_store.submit(Principal("someone", role), ScenarioRequest(SEASON.code, (SAME,)))
    billed.scenarios.run(Principal("admin-li", Role.ADMIN), ScenarioRequest(SEASON.code, (SAME,)))


# -- the Xuchang figures (domain.md §6): metered against area charging for the same flats ---------

XUCHANG = Season(date(2025, 11, 15), date(2026, 3, 14), "许政〔2025〕88号")  # 120 days
AREA_CHARGING = TariffTerms(
    TwoPartPrice(D("21.6"), D(100), D(0), SettlementPolicy.BOTH_WAYS, position_correction=PositionCorrection.NONE)
)
XUCHANG_METERED = TariffVariant("许昌两部制", {"base_share_percent": "30", "energy_price_yuan_per_gj": "43.9"})
# (account, area m², GJ a day): 30, 36 and 18 GJ over the 120 days.
XUCHANG_FLATS = (("X-1", "100.00", D("0.25")), ("X-2", "80.00", D("0.3")), ("X-3", "120.00", D("0.15")))


def test_the_xuchang_figures_by_hand(container: Container) -> None:
    """0.18 元/m²/day × 120 days = 21.6 元/m² billed by area (base 100 %, no energy price), against
    Xuchang's two-part price (base 30 % of the area fee, 43.9 元/GJ, 多退少补) for the same flats."""
    container.ledger.clock = lambda: AFTER_SEASON
    assert XUCHANG.days == 120
    container.seasons.declare(
        SYSTEM, CITY_SCOPE, XUCHANG.code, XUCHANG.first_day, XUCHANG.last_day, XUCHANG.decree_number, "许昌供热期"
    )
    for account, area, daily_gj in XUCHANG_FLATS:
        register_household(container.ledger, account, connected_area_m2=area)
        commission_meter(container.ledger, f"M-{account}")
        container.ledger.attach_meter(SYSTEM, account, f"M-{account}", datetime(2025, 10, 1, tzinfo=UTC))
        _read_xuchang(container, f"M-{account}", daily_gj)
    publish(container, AREA_CHARGING)
    settle_season(container)

    outcomes, summary = compute(container, ScenarioRequest(XUCHANG.code, (XUCHANG_METERED,)))

    by_account = {outcome.household.account_number: outcome.columns for outcome in outcomes}
    # By area: 100 × 21.6 = 2160.00; 80 × 21.6 = 1728.00; 120 × 21.6 = 2592.00 (6480.00 in all).
    # Metered: X-1 648.00 + 30 × 43.9 = 1317.00 → 1965.00 (−195.00);
    #          X-2 518.40 + 36 × 43.9 = 1580.40 → 2098.80 (+370.80);
    #          X-3 777.60 + 18 × 43.9 =  790.20 → 1567.80 (−1024.20).
    expected = {
        "X-1": (D("2160.00"), D("1965.00"), D("-195.00"), D("-9.03")),
        "X-2": (D("1728.00"), D("2098.80"), D("370.80"), D("21.46")),
        "X-3": (D("2592.00"), D("1567.80"), D("-1024.20"), D("-39.51")),
    }
    for account, (area_due, metered_due, change, percent) in expected.items():
        actual, metered = by_account[account]
        assert (actual.figures.due_yuan, metered.figures.due_yuan) == (area_due, metered_due)
        assert (metered.change_yuan, metered.change_percent) == (change, percent)
    totals = summary.totals  # type: ignore[attr-defined]
    assert (totals[0].due_yuan, totals[1].due_yuan, totals[1].change_yuan) == (
        D("6480.00"),
        D("5631.60"),
        D("-848.40"),
    )
    assert totals[1].revenue_change_percent == D("-13.09")
    assert (totals[1].gainers, totals[1].losers, totals[1].share_percent(totals[1].gainers)) == (2, 1, D("66.67"))
    assert (totals[1].gain_yuan, totals[1].loss_yuan) == (D("-1219.20"), D("370.80"))
    # 元/m²: 6480 / 300 = 21.60 and 5631.60 / 300 = 18.77; 元/GJ over 84 GJ: 77.14 and 67.04.
    assert (totals[0].yuan_per_m2, totals[1].yuan_per_m2) == (D("21.60"), D("18.77"))
    assert (totals[0].yuan_per_gj, totals[1].yuan_per_gj) == (D("77.14"), D("67.04"))
    bands = summary.distributions[1]  # type: ignore[attr-defined]
    assert {band: count for band, count in bands.by_yuan.items() if count} == {
        "< -500": 1,
        "-200…-100": 1,
        "200…500": 1,
    }
    assert {band: count for band, count in bands.by_percent.items() if count} == {
        "-50…-30": 1,
        "-10…-5": 1,
        "20…30": 1,
    }


def _read_xuchang(container: Container, serial: str, daily_gj: Decimal) -> None:
    from tests.strategies import item

    items = [
        item(serial, midnight(XUCHANG.first_day + timedelta(days=day)), D(100) + daily_gj * day)
        for day in range(XUCHANG.days + 1)
    ]
    assert container.ledger.record_readings(SYSTEM, items).accepted == len(items)


def _ledger_state(container: Container) -> tuple[int, int, int]:
    """The event store's last notification id, the bills and the billing periods read models."""
    with container.engine.connect() as connection:
        bill_count = connection.execute(select(func.count()).select_from(bills)).scalar_one()
        period_count = connection.execute(select(func.count()).select_from(billing_periods)).scalar_one()
    return container.runner.max_notification_id(), bill_count, period_count


def test_the_migration_creates_the_scenario_tables_as_declared(container: Container) -> None:
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    names = set(metadata.tables)

    def concerns_scenarios(difference: object) -> bool:
        flat = difference if isinstance(difference, tuple) else difference[0]  # type: ignore[index]
        return any(
            getattr(part, "name", part) in names or getattr(getattr(part, "table", None), "name", None) in names
            for part in flat
        )

    assert [difference for difference in differences if concerns_scenarios(difference)] == []
