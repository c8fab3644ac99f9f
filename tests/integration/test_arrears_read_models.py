"""The arrears policy on each backend: bills and payments give what each household owes past due,
the flag run raises flags for the right households only (and says why not for the others), a second
clerk approves, a withdrawn flag is raised again by a later run, the read models hold the flags and
protections, and a rebuild equals the live rows.

The scenario (prepayments of season 2025-2026 issued 25 Oct, due 1 Nov 2025; the run on
10 Jan 2026, 70 days later; policy: 1000.00 元, 30 days, 15 Nov – 15 Mar):

| household | building | prepayment | paid          | protection        | outcome                     |
|-----------|----------|------------|---------------|-------------------|-----------------------------|
| WZ-1      | 1        | 1944.00    | —             | —                 | flagged (1944.00, 70 days)  |
| WZ-2      | 1        | 1296.00    | 1000.00       | —                 | below the amount (296.00)   |
| WZ-3      | 2        | 1944.00    | —             | disputes all of it| open dispute                |
| WZ-4      | 2        | 1944.00    | —             | marked vulnerable | vulnerable                  |
| WZ-5      | 2        | 1944.00    | 1944.00       | —                 | nothing past due: not listed|
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from eventsourcing.persistence import StoredEvent
from sqlalchemy import select

from application.authorization import SYSTEM, Principal, Role
from domain import ids
from domain.arrears import ArrearsPolicy, FlagStatus, WithdrawalKind
from domain.dispute_hold import DisputeHold
from domain.errors import ConflictError, NotFoundError, PermissionDeniedError
from infrastructure.container import Container
from projections.arrears_queries import ArrearsQueries
from projections.dispute_queries import DisputeQueries
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner
from projections.tables import ARREARS_TABLES, household_protections, metadata
from tests.integration.test_disputes import open_bill_dispute
from tests.integration.test_payment_read_models import at, bill_id, pay, prepaid_period
from tests.strategies import COMMUNITY, context, register_household

D = Decimal
TODAY = date(2026, 1, 10)
POLICY = ArrearsPolicy.of(D("1000.00"), 30, "11-15", "03-15")
CLERK_LI = Principal("clerk-li", Role.CLERK)
CLERK_WANG = Principal("clerk-wang", Role.CLERK)
SERVICE = Principal("service-chen", Role.CUSTOMER_SERVICE)


@pytest.fixture
def owing(container: Container) -> Container:
    """The scenario of the module docstring."""
    ledger = container.ledger
    for account, building, area in (
        ("WZ-1", "1", "90.00"),
        ("WZ-2", "1", "60.00"),
        ("WZ-3", "2", "90.00"),
        ("WZ-4", "2", "90.00"),
        ("WZ-5", "2", "90.00"),
    ):
        register_household(ledger, account, building=building, connected_area_m2=area)
        ledger.save(prepaid_period(container, account, building=building, area=area))
    pay(container, "WZ-2", "1000.00", at(date(2025, 11, 5)), "R-0001")
    pay(container, "WZ-5", "1944.00", at(date(2025, 11, 5)), "R-0002")
    open_bill_dispute(container, "WZ-3", bill_id("WZ-3"), "1944.00", "KF-3")
    container.arrears.mark_vulnerable(SERVICE, "WZ-4", "lives alone, 82")
    container.catch_up()
    return container


def test_past_due_amounts_come_from_the_open_charges(owing: Container) -> None:
    records = ArrearsQueries(owing.engine).past_due(TODAY)
    assert [(r.account_number, r.past_due_yuan, r.oldest_due_on) for r in records] == [
        ("WZ-1", D("1944.00"), date(2025, 11, 1)),
        ("WZ-2", D("296.00"), date(2025, 11, 1)),
        ("WZ-3", D("1944.00"), date(2025, 11, 1)),
        ("WZ-4", D("1944.00"), date(2025, 11, 1)),
    ]
    assert ArrearsQueries(owing.engine).past_due(date(2025, 10, 31)) == []  # not yet due


def test_the_run_flags_the_right_households_only(owing: Container) -> None:
    summary = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY)
    assert summary.season_code == "2025-2026"
    assert [(o.account_number, o.flagged, o.reasons) for o in summary.outcomes] == [
        ("WZ-1", True, ()),
        ("WZ-2", False, ("arrears_below_minimum_amount",)),
        ("WZ-3", False, ("arrears_open_dispute",)),
        ("WZ-4", False, ("arrears_vulnerable",)),
    ]
    assert (summary.flagged, summary.skipped) == (1, 3)
    flagged = summary.outcomes[0]
    assert (flagged.flag_id, flagged.amount_yuan, flagged.days_past_due) == (
        ids.arrears_flag_id("WZ-1", "2025-2026"),
        D("1944.00"),
        70,
    )

    again = owing.arrears.flag_candidates(CLERK_WANG, POLICY, TODAY)
    assert again.flagged == 0
    assert again.outcomes[0].reasons == ("arrears_already_flagged",)


def test_a_run_outside_the_window_flags_nobody(owing: Container) -> None:
    summary = owing.arrears.flag_candidates(CLERK_LI, POLICY, date(2026, 3, 20))
    assert summary.flagged == 0
    assert all("arrears_outside_window" in outcome.reasons for outcome in summary.outcomes)


def test_a_day_outside_the_communitys_season_in_force_is_outside_the_window(owing: Container) -> None:
    # The policy's window reaches 15 March; this community's decree ends the season on 5 March.
    owing.seasons.declare(
        SYSTEM, COMMUNITY, "2025-2026", date(2025, 11, 1), date(2026, 3, 5), "某政〔2025〕9号", "decree"
    )
    late = owing.arrears.flag_candidates(CLERK_LI, POLICY, date(2026, 3, 10))
    assert late.flagged == 0
    assert all("arrears_outside_window" in outcome.reasons for outcome in late.outcomes)
    inside = owing.arrears.flag_candidates(CLERK_LI, POLICY, date(2026, 3, 4))
    assert [outcome.account_number for outcome in inside.outcomes if outcome.flagged] == ["WZ-1"]


def test_a_second_clerk_approves_and_the_read_model_follows(owing: Container) -> None:
    flag_id = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY).outcomes[0].flag_id
    assert flag_id is not None
    with pytest.raises(PermissionDeniedError) as same_clerk:
        owing.arrears.approve(CLERK_LI, flag_id, "approved")
    assert same_clerk.value.message_key == "second_person_required"
    with pytest.raises(PermissionDeniedError):
        owing.arrears.approve(SERVICE, flag_id, "approved")  # customer service may not manage arrears
    owing.arrears.approve(CLERK_WANG, flag_id, "checked the account")
    owing.catch_up()

    [row] = ArrearsQueries(owing.engine).flags(status=FlagStatus.APPROVED.value)
    assert (row.account_number, row.building, row.season_code, row.amount_yuan, row.days_past_due) == (
        "WZ-1",
        "1",
        "2025-2026",
        D("1944.00"),
        70,
    )
    assert (row.raised_by, row.approved_by, row.withdrawn_by) == ("clerk-li", "clerk-wang", None)
    assert row.decided_at is not None and row.decided_at >= row.raised_at
    assert ArrearsQueries(owing.engine).flags(status=FlagStatus.RAISED.value) == []


def test_a_household_protected_since_the_run_cannot_be_approved(owing: Container) -> None:
    flag_id = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY).outcomes[0].flag_id
    assert flag_id is not None
    # Disputing 100.00 leaves 1844.00 undisputed: the flag may still be approved then; 1000.00
    # leaves 944.00, below the flag's 1000.00.
    open_bill_dispute(owing, "WZ-1", bill_id("WZ-1"), "1000.00", "KF-1")
    with pytest.raises(ConflictError) as protected:
        owing.arrears.approve(CLERK_WANG, flag_id, "approved")
    assert protected.value.message_key == "arrears_flag_protected"
    owing.arrears.withdraw(CLERK_WANG, flag_id, WithdrawalKind.DISPUTE_OPENED, "disputes the prepayment")
    assert owing.arrears.flag(flag_id).status is FlagStatus.WITHDRAWN


def test_a_withdrawn_flag_is_raised_again_by_a_later_run(owing: Container) -> None:
    flag_id = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY).outcomes[0].flag_id
    assert flag_id is not None
    owing.arrears.approve(CLERK_WANG, flag_id, "checked the account")
    owing.arrears.withdraw(CLERK_WANG, flag_id, WithdrawalKind.PAID, "promised to pay by Friday")
    later = date(2026, 1, 20)

    summary = owing.arrears.flag_candidates(CLERK_WANG, POLICY, later, reason="still not paid")

    [wz_1] = [outcome for outcome in summary.outcomes if outcome.account_number == "WZ-1"]
    assert (wz_1.flagged, wz_1.flag_id, wz_1.raised_again, wz_1.days_past_due, wz_1.reasons) == (
        True,
        flag_id,
        True,
        80,
        (),
    )
    # Raised (or approved) again, it is left as it is by the next run.
    assert owing.arrears.flag_candidates(CLERK_LI, POLICY, later).outcomes[0].reasons == ("arrears_already_flagged",)
    owing.catch_up()
    [row] = ArrearsQueries(owing.engine).flags(status=FlagStatus.RAISED.value)
    assert (row.flag_id, row.raised_by, row.approved_by, row.withdrawn_by, row.withdrawal_kind) == (
        flag_id,
        "clerk-wang",
        None,
        None,
        None,
    )
    assert (row.times_raised, row.days_past_due, row.decided_at) == (2, 80, None)

    # The second person is anyone but the new raiser, the first raiser included.
    with pytest.raises(PermissionDeniedError):
        owing.arrears.approve(CLERK_WANG, flag_id, "approved")
    owing.arrears.approve(CLERK_LI, flag_id, "approved")
    history = owing.arrears.history(flag_id)
    assert [(entry.action, entry.actor) for entry in history] == [
        ("raised", "clerk-li"),
        ("approved", "clerk-wang"),
        ("withdrawn", "clerk-wang"),
        ("raised_again", "clerk-wang"),
        ("approved", "clerk-li"),
    ]
    assert (history[3].on, history[3].amount_yuan, history[3].days_past_due, history[3].reason) == (
        later,
        D("1944.00"),
        80,
        "still not paid",
    )
    assert history[2].withdrawal_kind == "paid"
    with pytest.raises(NotFoundError):
        owing.arrears.history(ids.household_id("WZ-1"))


def test_a_withdrawn_flag_of_a_household_still_protected_is_not_raised_again(owing: Container) -> None:
    flag_id = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY).outcomes[0].flag_id
    assert flag_id is not None
    open_bill_dispute(owing, "WZ-1", bill_id("WZ-1"), "1000.00", "KF-1")
    owing.arrears.withdraw(CLERK_WANG, flag_id, WithdrawalKind.DISPUTE_OPENED, "disputes the prepayment")
    [wz_1, *_] = owing.arrears.flag_candidates(CLERK_WANG, POLICY, TODAY).outcomes
    assert (wz_1.account_number, wz_1.flagged, wz_1.reasons) == ("WZ-1", False, ("arrears_open_dispute",))
    assert owing.arrears.flag(flag_id).status is FlagStatus.WITHDRAWN


def protection_rows(container: Container) -> list[tuple[str, bool, int]]:
    accounts = {ids.household_id(f"WZ-{n}"): f"WZ-{n}" for n in range(1, 6)}
    with container.engine.connect() as connection:
        rows = connection.execute(select(household_protections)).all()
    return sorted((accounts[row.household_id], row.vulnerable, row.open_disputes) for row in rows)


def test_protections_are_in_the_read_model(owing: Container) -> None:
    assert protection_rows(owing) == [("WZ-3", False, 1), ("WZ-4", True, 0)]
    owing.disputes.withdraw(SERVICE, ids.dispute_id("WZ-3", "KF-3"), "area surveyed, the household agrees")
    owing.arrears.clear_vulnerability(SERVICE, "WZ-4", "moved to her son's")
    owing.catch_up()
    assert protection_rows(owing) == [("WZ-3", False, 0), ("WZ-4", False, 0)]


# -- rebuilds and the migration -------------------------------------------------------------------


def arrears_rows(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    with container.engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in ARREARS_TABLES
        }


@pytest.mark.parametrize("batch_size", [None, 1], ids=["default-batches", "one-event-batches"])
def test_rebuilding_gives_the_same_arrears_rows(owing: Container, batch_size: int | None) -> None:
    owing.arrears.clear_vulnerability(SERVICE, "WZ-4", "moved to her son's")
    summary = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY)
    assert [o.account_number for o in summary.outcomes if o.flagged] == ["WZ-1", "WZ-4"]
    wz_1, wz_4 = (o.flag_id for o in summary.outcomes if o.flagged)
    assert wz_1 is not None and wz_4 is not None
    owing.arrears.approve(CLERK_WANG, wz_1, "approved")
    owing.arrears.withdraw(CLERK_WANG, wz_4, WithdrawalKind.PAID, "paid at the counter")
    # The payment bounced: WZ-4 is raised again; WZ-1, approved, is left as it is.
    rerun = owing.arrears.flag_candidates(CLERK_WANG, POLICY, date(2026, 1, 20))
    assert [(o.account_number, o.raised_again) for o in rerun.outcomes if o.flagged] == [("WZ-4", True)]
    owing.catch_up()
    live = arrears_rows(owing)
    assert all(live.values()), "rows to compare in every table"

    runner = owing.runner
    if batch_size is not None:
        runner = ProjectionRunner(owing.ledger, owing.engine, LedgerProjection(), batch_size=batch_size)
    assert runner.rebuild() == owing.runner.max_notification_id()
    assert arrears_rows(owing) == live


def test_the_migration_creates_the_arrears_tables_as_declared(container: Container) -> None:
    names = {table.name for table in ARREARS_TABLES}
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    def concerns_arrears(difference: Any) -> bool:
        flat = difference if isinstance(difference, tuple) else difference[0]
        return any(
            getattr(part, "name", part) in names or getattr(getattr(part, "table", None), "name", None) in names
            for part in flat
        )

    assert [difference for difference in differences if concerns_arrears(difference)] == []


def test_a_dispute_holds_only_what_it_disputes(owing: Container) -> None:
    """WZ-1 disputes 500.00 of its 1944.00: it is flagged for the 1444.00 beyond it. WZ-4's
    neighbour WZ-3 disputes all of it; a dispute of 944.00 or more would leave less than the
    policy's 1000.00."""
    open_bill_dispute(owing, "WZ-1", bill_id("WZ-1"), "500.00", "KF-1")
    summary = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY)
    [wz_1] = [outcome for outcome in summary.outcomes if outcome.account_number == "WZ-1"]
    assert (wz_1.flagged, wz_1.amount_yuan, wz_1.reasons) == (True, D("1944.00"), ())
    assert owing.arrears.flag(ids.arrears_flag_id("WZ-1", "2025-2026")).amount_yuan == D("1444.00")
    # A smaller dispute after the run does not stop the approval: 1744.00 stays undisputed.
    open_bill_dispute(owing, "WZ-1", bill_id("WZ-1"), "200.00", "KF-2")
    assert wz_1.flag_id is not None
    owing.arrears.approve(CLERK_WANG, wz_1.flag_id, "checked the account")
    assert owing.arrears.flag(wz_1.flag_id).status is FlagStatus.APPROVED


def test_an_old_dispute_flag_without_an_amount_holds_everything(owing: Container) -> None:
    """A Household.DisputeOpened of class version 1 (recorded before disputes had amounts) comes
    back without an amount: it holds everything past due until it is closed, as it did."""
    legacy_flag(owing, "WZ-1")
    household = owing.ledger.household("WZ-1")
    assert (household.open_disputes, household.disputed_yuan) == (1, None)
    [wz_1, *_] = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY).outcomes
    assert (wz_1.account_number, wz_1.flagged, wz_1.reasons) == ("WZ-1", False, ("arrears_open_dispute",))
    owing.catch_up()
    assert DisputeQueries(owing.engine).hold_of(ids.household_id("WZ-1")) == DisputeHold(1, None)
    owing.arrears.close_dispute(SERVICE, "WZ-1", "settled on the phone")
    assert owing.ledger.household("WZ-1").open_disputes == 0
    [wz_1, *_] = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY).outcomes
    assert wz_1.flagged
    with pytest.raises(ConflictError) as none_left:
        owing.arrears.close_dispute(SERVICE, "WZ-1", "again")
    assert none_left.value.message_key == "no_open_dispute"


def legacy_flag(container: Container, account_number: str) -> None:
    """Store a dispute flag as the ledger stored it before disputes had amounts (class version 1)."""
    household = container.ledger.household(account_number)
    household.open_dispute(ids.dispute_id(account_number, "OLD"), D("1.00"), context())
    [event] = household.collect_events()
    mapper = container.ledger.mapper
    stored = mapper.to_stored_event(event)
    state = mapper.transcoder.decode(stored.state)
    assert state.pop("class_version") == 2
    del state["dispute_id"], state["disputed_amount_yuan"]
    old = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, mapper.transcoder.encode(state))
    container.ledger.recorder.insert_events([old])
    container.ledger.evict([household])
    container.catch_up()
