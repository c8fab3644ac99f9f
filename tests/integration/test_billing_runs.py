"""Billing runs end to end through the application, on SQLite and PostgreSQL: tariffs, the
prepayment, statements and the settlement, read from the real read models.

The season is 2025-2026 (1 Nov – 31 Mar, 151 days). Each household meter is read at every
Asia/Shanghai midnight, so day d of the season gets exactly the GJ between readings d and d + 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from application import billing_runs
from application.authorization import SYSTEM, Principal, Role
from application.billing_runs import RunRequest
from domain.allocation import AllocationMethod, FlatInput
from domain.billing import BillKind
from domain.errors import InvalidInputError, PermissionDeniedError
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import TariffTerms
from domain.values import CustomerClass, MeterKind
from infrastructure.container import Container
from projections.tables import balances, bills
from tests.strategies import commission_meter, household_with_meter, item, register_household

D = Decimal
SEASON = Season.default_starting(2025)
SHANGHAI = ZoneInfo("Asia/Shanghai")
AFTER_SEASON = datetime(2026, 4, 15, 2, tzinfo=UTC)
CLERK = Principal("clerk-wang", Role.CLERK)
# Xuchang-like prices (domain.md §6) on a 151-day season: 21.6 元/m², base 30 %, 43.9 元/GJ.
TERMS = TariffTerms(
    TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.BOTH_WAYS, position_correction=PositionCorrection.NONE)
)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)


def read_daily(container: Container, serial: str, daily_gj: Decimal, days: int = SEASON.days + 1) -> None:
    """Midnight readings from the season's first day on, ``daily_gj`` apart, starting at 100 GJ."""
    items = [
        item(serial, midnight(SEASON.first_day + timedelta(days=day)), D(100) + daily_gj * day) for day in range(days)
    ]
    report = container.ledger.record_readings(SYSTEM, items)
    assert report.accepted == len(items)


def publish(container: Container, terms: TariffTerms = TERMS) -> None:
    container.billing.publish_tariff(
        SYSTEM,
        CustomerClass.RESIDENTIAL,
        "*",
        terms,
        date(2025, 10, 1),
        None,
        "许发改价格〔2025〕7号",
        date(2025, 9, 20),
    )


@pytest.fixture
def billed(container: Container) -> Container:
    """Two metered households in building 1 (0.2 and 0.1 GJ a day), the tariff, and the clock
    standing after the season."""
    container.ledger.clock = lambda: AFTER_SEASON
    household_with_meter(container.ledger, "A-1", "M-1")
    register_household(container.ledger, "A-2")
    commission_meter(container.ledger, "M-2")
    container.ledger.attach_meter(SYSTEM, "A-2", "M-2", datetime(2025, 10, 1, tzinfo=UTC))
    read_daily(container, "M-1", D("0.2"))
    read_daily(container, "M-2", D("0.1"))
    publish(container)
    return container


def run(container: Container, kind: BillKind, month: str | None = None, principal: Principal = CLERK):  # type: ignore[no-untyped-def]
    summary = container.billing_runs.run(principal, RunRequest(kind, SEASON, month))
    container.catch_up()
    return summary


def test_a_season_is_invoiced_stated_and_settled_once(billed: Container) -> None:
    # Area fee: 90 m² × 21.6 = 1944.00 元 each. A-1 used 151 × 0.2 = 30.2 GJ: base 30 % = 583.20,
    # energy 30.2 × 43.9 = 1325.78, metered 1908.98, so 35.02 元 back. A-2: 15.1 GJ → 662.89,
    # metered 1246.09, so 697.91 back.
    prepayment = run(billed, BillKind.PREPAYMENT)
    assert (prepayment.bills_issued, prepayment.charged_yuan) == (2, D("3888.00"))
    statement = run(billed, BillKind.STATEMENT, "2025-12")
    assert statement.bills_issued == 2 and statement.charged_yuan == 0
    settlement = run(billed, BillKind.SETTLEMENT)
    assert settlement.exceptions == []
    assert (settlement.bills_issued, settlement.credited_yuan) == (2, D("-35.02") + D("-697.91"))
    period = billed.billing.period("A-1", SEASON)
    (bill,) = period.issued(BillKind.SETTLEMENT)
    assert bill.amount_yuan == D("-35.02") and bill.basis == "metered"
    energy_line = next(line for line in bill.lines if line.code == "energy_metered")
    assert D(energy_line.figures["measured_gj"]) == D("30.2")
    assert energy_line.figures["meters"] == "M-1"

    again = [run(billed, kind) for kind in (BillKind.PREPAYMENT, BillKind.SETTLEMENT)]
    assert [(summary.bills_issued, summary.already_issued) for summary in again] == [(0, 2), (0, 2)]
    with billed.engine.connect() as connection:
        kinds = sorted(row.kind for row in connection.execute(select(bills.c.kind)))
        charged = {row.account_number: row.charged_yuan for row in connection.execute(select(balances))}
    assert kinds == ["prepayment", "prepayment", "settlement", "settlement", "statement", "statement"]
    assert charged == {"A-1": D("1908.98"), "A-2": D("1246.09")}  # prepaid + settlement = what is due


def test_a_statement_compares_with_last_month_and_the_building(billed: Container) -> None:
    run(billed, BillKind.PREPAYMENT)
    run(billed, BillKind.STATEMENT, "2025-12")
    (statement,) = billed.billing.period("A-1", SEASON).issued(BillKind.STATEMENT)
    figures = next(line for line in statement.lines if line.code == "month_energy").figures
    # December: 31 days × 0.2 = 6.2 GJ; November 30 × 0.2 = 6.0 (+3.3 %); season so far 12.2 GJ.
    assert (figures["month_energy_gj"], figures["previous_month_energy_gj"]) == ("6.200", "6.000")
    assert (figures["change_percent"], figures["season_energy_gj"]) == ("3.3", "12.200")
    # The building: (6.2 + 3.1) GJ over 180 m² = 0.0517 GJ/m²; A-1 has 6.2 / 90 = 0.0689 (+33.3 %).
    assert (figures["gj_per_m2"], figures["building_gj_per_m2"]) == ("0.0689", "0.0517")
    fee = next(line for line in statement.lines if line.code == "metered_fee_to_date")
    # Base for 61 of 151 days: 1944 × 30 % × 61 / 151 = 235.60; heat 12.2 × 43.9 = 535.58.
    assert fee.amount_yuan == D("235.60") + D("535.58")


def test_a_season_without_a_tariff_names_the_households_and_books_nothing(container: Container) -> None:
    container.ledger.clock = lambda: AFTER_SEASON
    household_with_meter(container.ledger, "B-7", "M-7")
    with pytest.raises(InvalidInputError) as refused:
        run(container, BillKind.PREPAYMENT)
    assert refused.value.message_key == "season_without_tariff"
    assert "B-7" in refused.value.params["households"]
    with container.engine.connect() as connection:
        assert connection.execute(select(bills)).first() is None


def test_runs_are_refused_to_roles_without_billing(billed: Container) -> None:
    with pytest.raises(PermissionDeniedError):
        run(billed, BillKind.PREPAYMENT, principal=Principal("auditor-sun", Role.AUDITOR))


def test_a_settlement_before_the_season_ends_is_refused(billed: Container) -> None:
    billed.ledger.clock = lambda: datetime(2026, 3, 31, 10, tzinfo=UTC)
    with pytest.raises(InvalidInputError) as refused:
        run(billed, BillKind.SETTLEMENT)
    assert refused.value.message_key == "season_not_ended"


def test_an_owner_change_splits_the_settlement_at_the_change_day(billed: Container) -> None:
    # A-1 passes to a new holder on 16 January: 76 days before (1 Nov – 15 Jan), 75 after.
    billed.ledger.change_owner(SYSTEM, "A-1", date(2026, 1, 16), "过户 with the sale of the flat")
    run(billed, BillKind.PREPAYMENT)
    run(billed, BillKind.SETTLEMENT)
    first, second = billed.billing.period("A-1", SEASON).issued(BillKind.SETTLEMENT)
    assert (first.first_day, first.last_day, second.first_day) == (
        date(2025, 11, 1),
        date(2026, 1, 15),
        date(2026, 1, 16),
    )
    energy = [
        D(next(line for line in bill.lines if line.code == "energy_metered").figures["measured_gj"])
        for bill in (first, second)
    ]
    assert energy == [D("15.2"), D("15.0")]  # 76 × 0.2 and 75 × 0.2
    # The area fee 1944.00 splits by days: 1944 × 76/151 = 978.44 (978.437…), 965.56 the rest.
    fees = [next(line for line in bill.lines if line.code == "area_fee_share").amount_yuan for bill in (first, second)]
    assert fees == [D("978.44"), D("965.56")]
    # Base 30 % of each share: 293.53 (293.532) and 289.67 (289.668); heat 15.2 × 43.9 = 667.28 and
    # 15 × 43.9 = 658.50. Each part's amount is its due less its share of the prepayment.
    assert (first.amount_yuan, second.amount_yuan) == (
        D("293.53") + D("667.28") - D("978.44"),
        D("289.67") + D("658.50") - D("965.56"),
    )


def test_a_broken_meter_beyond_the_tariffs_share_is_billed_by_area(billed: Container) -> None:
    # M-3 reads only the first 100 days: 51 of 151 days (33.8 %) have no data, more than 10 %.
    register_household(billed.ledger, "A-3")
    commission_meter(billed.ledger, "M-3")
    billed.ledger.attach_meter(SYSTEM, "A-3", "M-3", datetime(2025, 10, 1, tzinfo=UTC))
    read_daily(billed, "M-3", D("0.1"), days=101)
    run(billed, BillKind.PREPAYMENT)
    summary = run(billed, BillKind.SETTLEMENT)
    (bill,) = billed.billing.period("A-3", SEASON).issued(BillKind.SETTLEMENT)
    assert bill.basis == "area_broken_meter" and bill.amount_yuan == D("0.00")
    assert summary.by_basis["area_broken_meter"] == 1


def test_a_building_without_household_meters_is_billed_by_its_allocation(container: Container) -> None:
    # Building 9 has a building meter (1.5 GJ a day → 226.5 GJ) and two flats without meters,
    # valves open 2000 h and 1000 h on 90 m² each: shares 2/3 and 1/3 = 151.0 and 75.5 GJ.
    container.ledger.clock = lambda: AFTER_SEASON
    register_household(container.ledger, "C-1", building="9")
    register_household(container.ledger, "C-2", building="9")
    commission_meter(container.ledger, "B-9", kind=MeterKind.BUILDING, community="碧桂园", building="9")
    read_daily(container, "B-9", D("1.5"))
    publish(container)
    container.catch_up()
    flats = [FlatInput("C-1", D(90), open_hours=D(2000)), FlatInput("C-2", D(90), open_hours=D(1000))]
    revision, allocation = container.billing.record_allocation(
        CLERK, "碧桂园", "9", SEASON, AllocationMethod.ON_OFF_TIME_AREA, flats, None
    )
    assert revision == 1 and [share.energy_gj for share in allocation.shares] == [D("151.000000000"), D("75.500000000")]
    run(container, BillKind.PREPAYMENT)
    run(container, BillKind.SETTLEMENT)
    (bill,) = container.billing.period("C-1", SEASON).issued(BillKind.SETTLEMENT)
    assert bill.basis == "allocated"
    # 151 GJ × 43.9 = 6628.90 + base 583.20 = 7212.10 due against 1944.00 prepaid.
    assert bill.amount_yuan == D("7212.10") - D("1944.00")


def test_an_allocation_refuses_flats_outside_the_building_and_flats_with_their_own_meter(billed: Container) -> None:
    # A-1 has meter M-1 in building 1; X-9 is no household at all.
    commission_meter(billed.ledger, "B-1", kind=MeterKind.BUILDING, community="碧桂园", building="1")
    for flat, key in (("X-9", "allocation_flat_not_in_building"), ("A-1", "allocation_flat_metered")):
        with pytest.raises(InvalidInputError) as refused:
            billed.billing.record_allocation(
                CLERK,
                "碧桂园",
                "1",
                SEASON,
                AllocationMethod.ON_OFF_TIME_AREA,
                [FlatInput(flat, D(90), D(10))],
                None,
                D(5),
            )
        assert (refused.value.message_key, refused.value.params["account_number"]) == (key, flat)
    assert billed.billing.allocation("碧桂园", "1", SEASON) is None  # nothing recorded


# -- the household's days of the season (issue 10, item 1) ------------------------------------------


def test_a_household_registered_after_the_season_is_skipped_with_the_reason(billed: Container) -> None:
    register_household(billed.ledger, "A-3", registered_on=date(2026, 4, 10))
    summary = run(billed, BillKind.PREPAYMENT)
    assert summary.bills_issued == 2 and summary.exceptions == []
    assert [(item.account_number, item.message_key) for item in summary.skipped] == [("A-3", "registered_after_season")]
    assert summary.skipped[0].params == {"registered_on": "2026-04-10", "season": "2025-2026"}
    with billed.engine.connect() as connection:
        accounts = set(connection.scalars(select(bills.c.account_number)))
    assert accounts == {"A-1", "A-2"}  # nothing billed before it existed
    settlement = run(billed, BillKind.SETTLEMENT)
    assert [item.account_number for item in settlement.skipped] == ["A-3"]
    assert settlement.exceptions == []


def test_a_household_registered_within_the_season_is_billed_from_its_registration(billed: Container) -> None:
    # Registered 1 January 2026: 31 + 28 + 31 = 90 of 151 days. No meter: billed by area.
    # Area fee 90 m² × 21.6 × 90 / 151 = 1944 × 90 / 151 = 1158.675… → 1158.68.
    register_household(billed.ledger, "A-4", registered_on=date(2026, 1, 1))
    run(billed, BillKind.PREPAYMENT)
    settlement = run(billed, BillKind.SETTLEMENT)
    assert settlement.exceptions == [] and settlement.skipped == []
    with billed.engine.connect() as connection:
        rows = connection.execute(
            select(bills.c.kind, bills.c.first_day, bills.c.amount_yuan).where(bills.c.account_number == "A-4")
        ).all()
    assert sorted((row.kind, row.first_day, row.amount_yuan) for row in rows) == [
        ("prepayment", date(2026, 1, 1), D("1158.68")),
        ("settlement", date(2026, 1, 1), D("0.00")),  # by area: the area fee, all prepaid
    ]


def test_a_household_deregistered_within_the_season_is_billed_to_the_day_before(billed: Container) -> None:
    # Deregistered from 1 February 2026: billed 1 Nov – 31 Jan, 30 + 31 + 31 = 92 of 151 days.
    # Prepayment 1944 × 92 / 151 = 1184.423… → 1184.42. A-1 used 92 × 0.2 = 18.4 GJ: base 30 % of
    # 1184.42 = 355.326 → 355.33, energy 18.4 × 43.9 = 807.76, metered 1163.09; 1163.09 − 1184.42 = −21.33.
    billed.ledger.deregister_household(SYSTEM, "A-1", date(2026, 2, 1), "拆网")
    prepayment = run(billed, BillKind.PREPAYMENT)
    (invoice,) = billed.billing.period("A-1", SEASON).issued(BillKind.PREPAYMENT)
    assert (invoice.first_day, invoice.last_day, invoice.amount_yuan) == (
        SEASON.first_day,
        date(2026, 1, 31),
        D("1184.42"),
    )
    assert prepayment.charged_yuan == D("1184.42") + D("1944.00")
    february = run(billed, BillKind.STATEMENT, "2026-02")
    assert [(item.account_number, item.message_key) for item in february.exceptions] == [
        ("A-1", "month_outside_period")
    ]
    settlement = run(billed, BillKind.SETTLEMENT)
    (bill,) = billed.billing.period("A-1", SEASON).issued(BillKind.SETTLEMENT)
    assert (bill.last_day, bill.amount_yuan) == (date(2026, 1, 31), D("-21.33"))
    assert settlement.exceptions == []


def test_an_extension_by_decree_is_settled_on_the_days_in_force(container: Container) -> None:
    # The city declares 1 Nov – 31 Mar, the prepayment is invoiced (1944.00), then a cold spell's
    # decree extends the season to 10 April: 161 days. A-1 used 161 × 0.2 = 32.2 GJ: base 583.20,
    # energy 32.2 × 43.9 = 1413.58, metered 1996.78; 1996.78 − 1944.00 = 52.78 to pay.
    container.ledger.clock = lambda: AFTER_SEASON
    household_with_meter(container.ledger, "A-1", "M-1")
    read_daily(container, "M-1", D("0.2"), days=162)
    publish(container)
    container.seasons.declare(
        SYSTEM, "*", SEASON.code, SEASON.first_day, SEASON.last_day, "宁政办发〔2025〕88号", "the city's decree"
    )
    run(container, BillKind.PREPAYMENT)
    container.seasons.extend(
        SYSTEM, "*", SEASON.code, SEASON.first_day, date(2026, 4, 10), "宁政办发〔2026〕5号", "cold spell"
    )
    settlement = run(container, BillKind.SETTLEMENT)
    assert settlement.exceptions == []
    period = container.billing.period("A-1", SEASON)
    (bill,) = period.issued(BillKind.SETTLEMENT)
    assert (bill.last_day, bill.amount_yuan) == (date(2026, 4, 10), D("52.78"))
    season_line = next(line for line in bill.lines if line.code == "season_days")
    assert (season_line.figures["season_days"], season_line.figures["decree_number"]) == ("161", "宁政办发〔2026〕5号")
    (invoice,) = period.issued(BillKind.PREPAYMENT)
    assert invoice.last_day == SEASON.last_day  # issued before the extension: it stays as it was


def test_a_city_run_bills_each_community_on_its_own_season(billed: Container) -> None:
    # 阅水秦韵 heats 15 Nov – 15 Mar by its own decree (121 days); the others keep the default.
    register_household(billed.ledger, "B-1", community="阅水秦韵")
    billed.seasons.declare(
        SYSTEM, "阅水秦韵", SEASON.code, date(2025, 11, 15), date(2026, 3, 15), "阅政〔2025〕2号", "its own decree"
    )
    prepayment = run(billed, BillKind.PREPAYMENT)
    assert prepayment.bills_issued == 3 and prepayment.exceptions == []
    own = billed.billing.period("B-1", SEASON)
    assert (own.season.first_day, own.season.last_day, own.season.days) == (date(2025, 11, 15), date(2026, 3, 15), 121)
    assert billed.billing.period("A-1", SEASON).season == SEASON
    november = run(billed, BillKind.STATEMENT, "2025-11")
    (statement,) = billed.billing.period("B-1", SEASON).issued(BillKind.STATEMENT)
    assert (statement.first_day, statement.last_day) == (date(2025, 11, 15), date(2025, 11, 30))
    assert november.bills_issued == 3


def test_a_run_of_many_chunks_catches_the_read_models_up_once_when_it_ends(
    billed: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(billing_runs, "CHUNK_SIZE", 1)  # two households: two chunks, two saves
    positions: list[int] = []
    billed.ledger.add_after_save_hook(lambda: positions.append(billed.runner.position()))

    summary = billed.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON, None))

    assert summary.bills_issued == 2
    assert positions == [billed.runner.max_notification_id()]  # one catch-up, after the last save
    with billed.engine.connect() as connection:  # both chunks' bills are read without a catch-up here
        assert sorted(row.account_number for row in connection.execute(select(bills.c.account_number))) == [
            "A-1",
            "A-2",
        ]
