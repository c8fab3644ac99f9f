"""A rebuild split by building (infrastructure/parallel_rebuild.py) equals the live projection, on
each backend: over drawn communities (households in several buildings, meters moved between them,
readings, suspensions, area corrections, payments and reversals) applied group by group in this
process in any number of groups, and over a season's mix (tariff, prepayment, payments,
settlement) by real processes."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.progress import Progress
from sqlalchemy import Engine, delete, select

from application.authorization import SYSTEM
from application.ingestion import ReadingItem
from bench.billing import CLERK
from bench.projections import build_season
from domain import ids
from domain.errors import ConflictError
from domain.payment import PaymentChannel, ReversalKind
from domain.readings import ReadingValues
from domain.values import Areas
from infrastructure.container import Container, bootstrap
from infrastructure.parallel_rebuild import StoreOpener, catch_up_split_from_nothing, rebuild_split
from infrastructure.settings import Settings
from projections.billing_inputs import SqlBillingInputs
from projections.ledger_projection import LedgerProjection
from projections.runner import REBUILDING, claim_from_nothing, empty_tables
from projections.tables import projection_tracking
from tests.strategies import COMMISSIONED_AT, commission_meter, register_household

EXAMPLES = 12
FIRST_READING = datetime(2025, 11, 1, 16, tzinfo=UTC)


@dataclass(frozen=True)
class Community:
    """A drawn community: each household's building, meters moved (household → household), and
    what else happens."""

    buildings: tuple[int, ...]  # per household
    moves: tuple[tuple[int, int], ...]  # (meter of household i) moved to household j
    days: int
    suspended: tuple[bool, ...]
    corrected: tuple[bool, ...]
    paid: tuple[bool, ...]
    reversed_first_payment: bool


@st.composite
def communities(draw: st.DrawFn) -> Community:
    households = draw(st.integers(2, 6))
    buildings = tuple(draw(st.lists(st.integers(0, 2), min_size=households, max_size=households)))
    moves = tuple(
        draw(
            st.lists(
                st.tuples(st.integers(0, households - 1), st.integers(0, households - 1)).filter(
                    lambda m: m[0] != m[1]
                ),
                max_size=2,
                unique_by=lambda move: move[0],
            )
        )
    )
    flags = st.lists(st.booleans(), min_size=households, max_size=households).map(tuple)
    return Community(
        buildings, moves, draw(st.integers(2, 5)), draw(flags), draw(flags), draw(flags), draw(st.booleans())
    )


def play(container: Container, community: Community, tag: str) -> None:
    """The community's events through the ledger (the container catches up after each command)."""
    ledger = container.ledger
    accounts = [f"A-{tag}-{number}" for number in range(len(community.buildings))]
    serials = [f"M-{tag}-{number}" for number in range(len(community.buildings))]
    for account, serial, building in zip(accounts, serials, community.buildings, strict=True):
        register_household(ledger, account, f"C-{tag}", f"B{building}")
        commission_meter(ledger, serial)
        ledger.attach_meter(SYSTEM, account, serial, COMMISSIONED_AT)
    moved_at = FIRST_READING - timedelta(hours=1)
    for meter, household in community.moves:
        ledger.detach_meter(SYSTEM, serials[meter], moved_at, reason="moved")
        ledger.attach_meter(SYSTEM, accounts[household], serials[meter], moved_at)
    for day in range(community.days):
        moment = FIRST_READING + timedelta(days=day)
        items = [
            ReadingItem(serial, ReadingValues(moment, Decimal(100 + number) + Decimal("0.750") * day))
            for number, serial in enumerate(serials)
        ]
        ledger.record_readings(SYSTEM, items, "test")
    for number, account in enumerate(accounts):
        if community.corrected[number]:
            ledger.correct_area(SYSTEM, account, Areas(Decimal("91.25"), Decimal("80.50")), moment.date(), "survey")
        if community.suspended[number]:
            ledger.suspend_heating(SYSTEM, account, moment.date(), "away")
        if community.paid[number]:
            outcome = container.payments.receive_at_counter(
                CLERK, account, Decimal("150.00"), PaymentChannel.CASH, f"R-{tag}-{number}"
            )
            if community.reversed_first_payment and number == 0:
                container.payments.reverse(CLERK, outcome.payment_id, ReversalKind.ERROR, "keyed twice")


def projection_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the ledger projection (LEDGER_TABLES and the tables of valves,
    room telemetry, payment orders, tariff corrections and the analytics summaries)."""
    with engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in LedgerProjection.tables
        }


@pytest.fixture
def tags() -> Iterator[str]:
    return (f"{number:04d}" for number in count())


def tracking_position(container: Container) -> int | None:
    with container.engine.connect() as connection:
        return connection.execute(
            select(projection_tracking.c.notification_id).where(
                projection_tracking.c.projection_name == LedgerProjection.name
            )
        ).scalar_one_or_none()


def test_a_rebuild_split_in_any_number_of_groups_equals_the_live_projection(
    container: Container, tags: Iterator[str]
) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(community=communities(), processes=st.integers(1, 4))
    def split_matches_live(community: Community, processes: int) -> None:
        play(container, community, next(tags))
        live = projection_rows(container.engine)
        last = container.runner.max_notification_id()
        done = rebuild_split(container.ledger, container.engine, LedgerProjection(), processes)
        assert done.applied == last
        assert len(done.plan.groups) == processes
        assert projection_rows(container.engine) == live
        assert tracking_position(container) == last

    split_matches_live()


def test_aggregates_tied_by_a_moved_meter_share_a_group(container: Container) -> None:
    community = Community((0, 1, 2), ((0, 1),), 2, (False,) * 3, (False,) * 3, (True, False, False), False)
    play(container, community, "tie")
    done = rebuild_split(container.ledger, container.engine, LedgerProjection(), 3)
    first, second, third = (ids.household_id(f"A-tie-{number}") for number in range(3))
    meter = ids.meter_id("M-tie-0")
    group_of = {member: index for index, group in enumerate(done.plan.groups) for member in group}
    assert group_of[first] == group_of[second] == group_of[meter]  # the meter ties buildings 0 and 1
    assert group_of[third] != group_of[first]  # building 2 stands alone: another process's
    assert sum(1 for events in done.plan.events if events) == 2  # buildings 0 and 1 together, 2 alone


@pytest.fixture
def season(backend_settings: Settings) -> Iterator[Container]:
    """A short season's mix (bench.projections): tariff, readings, prepayment, payments, settlement."""
    with Progress(disable=True) as progress:
        build_season(backend_settings, 60, 3, progress, "test")  # two buildings (48 + 12)
    built = bootstrap(backend_settings.model_copy(update={"catch_up_after_command": False}))
    yield built
    built.close()


def test_a_season_rebuilt_by_processes_equals_the_live_projection(season: Container) -> None:
    live = projection_rows(season.engine)
    last = season.runner.max_notification_id()
    opener = StoreOpener(season.settings)
    done = rebuild_split(season.ledger, season.engine, LedgerProjection(), 2, open_store=opener)
    assert done.applied == last
    assert len(done.plan.city_wide) >= 2  # the tariff and the season at least
    assert all(done.plan.events)  # both processes had work
    assert projection_rows(season.engine) == live
    assert tracking_position(season) == last
    # And the plain rebuild agrees.
    assert season.runner.rebuild() == last
    assert projection_rows(season.engine) == live


def test_nothing_catches_up_while_a_split_rebuild_runs(container: Container) -> None:
    community = Community((0, 1), (), 2, (False,) * 2, (False,) * 2, (False,) * 2, False)
    play(container, community, "hold")
    with container.engine.begin() as connection:
        connection.execute(
            projection_tracking.update()
            .where(projection_tracking.c.projection_name == LedgerProjection.name)
            .values(notification_id=REBUILDING)
        )
    play(container, Community((0,), (), 2, (False,), (False,), (False,), False), "later")
    assert container.runner.catch_up() == 0  # a rebuild in progress: nothing applied meanwhile
    assert container.runner.position() == 0 and container.runner.rebuilding()  # nothing known applied
    live_after = rebuild_split(container.ledger, container.engine, LedgerProjection(), 2)
    assert live_after.applied == container.runner.max_notification_id()


class FailingOnPayments(LedgerProjection):
    """The ledger projection, but a payment's event fails (as a handler's bug or a lost database
    would): the group holding it fails."""

    def apply_batch(self, connection: Any, domain_events: Any, **options: Any) -> None:
        if any(type(event).__name__ == "Received" for event in domain_events):
            raise RuntimeError("a group failed")
        super().apply_batch(connection, domain_events, **options)


def test_a_failed_split_rebuild_holds_the_catch_up_until_a_rebuild_runs_again(container: Container) -> None:
    community = Community((0, 1), (), 2, (False,) * 2, (False,) * 2, (True, False), False)
    play(container, community, "fail")
    live = projection_rows(container.engine)
    with pytest.raises(RuntimeError, match="a group failed"):
        rebuild_split(container.ledger, container.engine, FailingOnPayments(), 2)
    assert tracking_position(container) == REBUILDING
    assert container.runner.catch_up() == 0  # nothing written into the half-built tables
    with pytest.raises(ConflictError, match="being rebuilt"):  # no bill is read from half-built tables
        SqlBillingInputs(container.engine).position()
    last = container.runner.max_notification_id()
    assert container.runner.rebuild() == last  # the plain rebuild starts again from nothing
    assert projection_rows(container.engine) == live
    assert SqlBillingInputs(container.engine).position() == last  # billing reads again


def forget_every_event(container: Container) -> None:
    """The read models as a new read-model database has them: empty, no tracking row."""
    with container.engine.begin() as connection:
        empty_tables(connection, LedgerProjection.tables)
        connection.execute(delete(projection_tracking))


def test_a_catch_up_from_nothing_split_by_processes_equals_the_live_projection(season: Container) -> None:
    live = projection_rows(season.engine)
    last = season.runner.max_notification_id()
    forget_every_event(season)
    opener = StoreOpener(season.settings)
    done = catch_up_split_from_nothing(season.ledger, season.engine, LedgerProjection(), 2, open_store=opener)
    assert done is not None and done.applied == last and all(done.plan.events)
    assert projection_rows(season.engine) == live
    assert tracking_position(season) == last
    # Something is applied now: no second catch-up from nothing, nothing emptied.
    assert catch_up_split_from_nothing(season.ledger, season.engine, LedgerProjection(), 2, open_store=opener) is None
    assert projection_rows(season.engine) == live


def test_a_catch_up_from_nothing_another_runner_claimed_is_left_to_it(container: Container) -> None:
    play(container, Community((0, 1), (), 2, (False,) * 2, (False,) * 2, (False,) * 2, False), "claim")
    forget_every_event(container)
    projection = LedgerProjection()
    assert claim_from_nothing(container.engine, projection, container.ledger.name)
    assert catch_up_split_from_nothing(container.ledger, container.engine, projection, 2) is None
    assert tracking_position(container) == REBUILDING
    assert all(rows == [] for rows in projection_rows(container.engine).values())


def test_a_failed_catch_up_from_nothing_split_starts_from_nothing_again(container: Container) -> None:
    """Unlike a failed rebuild, which holds every catch-up until a rebuild runs again: the tables
    emptied, no tracking row, and the next catch-up (of any kind) starts from nothing."""
    play(container, Community((0, 1), (), 2, (False,) * 2, (False,) * 2, (True, False), False), "fail")
    live = projection_rows(container.engine)
    forget_every_event(container)
    with pytest.raises(RuntimeError, match="a group failed"):
        catch_up_split_from_nothing(container.ledger, container.engine, FailingOnPayments(), 2)
    assert tracking_position(container) is None
    assert all(rows == [] for rows in projection_rows(container.engine).values())
    assert container.runner.catch_up() == container.runner.max_notification_id()
    assert projection_rows(container.engine) == live
