"""Registration events and payments (received, reversed) are projected set-based (RegistrationBatchWriter,
PaymentBatchWriter): every table of the ledger projection must hold what the handlers give one
event at a time, however the events are cut into batches, on both backends.

The store mixes a city's bulk registration (bench.city's first step: 1,000 aggregates a save,
suspensions and owner changes in the same save) with households registered by their commands,
meters moved between households, readings between them (the reading writer looks meters up again
after households and meters were written), area corrections, suspensions resumed, a deregistration,
payments, a reversal (by its handler) and payments after it."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, select

from application.authorization import SYSTEM
from application.ingestion import ReadingItem
from bench.billing import AFTER_SEASON, CLERK
from bench.city import City, account_of, register
from domain.meter import Meter
from domain.payment import PaymentChannel, ReversalKind
from domain.readings import ReadingValues
from domain.values import Areas
from infrastructure.container import Container
from projections import ledger_projection
from projections.ledger_projection import LedgerProjection
from projections.registration_rows import KINDS
from tests.integration.test_parallel_rebuild import Community, communities
from tests.integration.test_parallel_rebuild import play as play_community
from tests.strategies import COMMISSIONED_AT, commission_meter, register_household

CITY = City(households=30, buildings=3, hourly_share=0.0, hourly_days=0, payers=0.5)
FIRST_READING = datetime(2025, 11, 1, 16, tzinfo=UTC)


def play(container: Container) -> None:
    """The store's events, through the ledger and bench.city's bulk registration."""
    ledger, payments = container.ledger, container.payments
    register(container, CITY, lambda done: None)
    container.runner.catch_up()
    accounts = [f"R-{number}" for number in range(4)]
    serials = [f"RM-{number}" for number in range(4)]
    for account, serial in zip(accounts, serials, strict=True):
        register_household(ledger, account, "Reg", building=account[-1])
        commission_meter(ledger, serial)
        ledger.attach_meter(SYSTEM, account, serial, COMMISSIONED_AT)
    moved_at = FIRST_READING - timedelta(hours=1)
    ledger.detach_meter(SYSTEM, serials[0], moved_at, reason="moved")
    ledger.attach_meter(SYSTEM, accounts[1], serials[0], moved_at)
    for day in range(3):
        moment = FIRST_READING + timedelta(days=day)
        ledger.record_readings(
            SYSTEM,
            [ReadingItem(serial, ReadingValues(moment, Decimal(100) + Decimal("0.5") * day)) for serial in serials],
            "test",
        )
        ledger.correct_area(SYSTEM, accounts[day], Areas(Decimal("91.25"), Decimal("80.50")), moment.date(), "survey")
    ledger.suspend_heating(SYSTEM, accounts[2], date(2025, 11, 10), "away")
    ledger.resume_heating(SYSTEM, accounts[2], date(2025, 12, 1), "back")
    ledger.change_owner(SYSTEM, accounts[3], date(2025, 12, 2), "sold")
    # A meter taken off and left off (a detachment another attachment does not overwrite).
    ledger.detach_meter(SYSTEM, serials[3], FIRST_READING + timedelta(days=40), reason="demolition")
    ledger.deregister_household(SYSTEM, accounts[3], date(2026, 4, 1), "demolished")
    received = [
        payments.receive_at_counter(CLERK, account, Decimal("150.00"), PaymentChannel.CASH, f"P-{account}")
        for account in [*accounts, account_of(1), account_of(2), account_of(1)]
    ]
    payments.reverse(CLERK, received[0].payment_id, ReversalKind.ERROR, "keyed twice")
    payments.receive_at_counter(CLERK, accounts[0], Decimal("12.34"), PaymentChannel.CARD, "P-again")


@pytest.fixture
def events(container: Container) -> list[Any]:
    container.ledger.clock = lambda: AFTER_SEASON
    play(container)
    recorder, mapper = container.ledger.recorder, container.ledger.mapper
    return [mapper.to_domain_event(n) for n in recorder.select_notifications(start=1, limit=100_000)]


def rows_after(container: Container, events: list[Any], bounds: list[int]) -> list[list[tuple[object, ...]]]:
    """Every table's rows after applying ``events[bounds[i]:bounds[i + 1]]`` as one batch each, on
    emptied tables (rolled back after)."""
    projection = LedgerProjection()
    with container.engine.connect() as connection, connection.begin() as transaction:
        empty(connection)
        for start, end in itertools.pairwise(bounds):
            projection.apply_batch(connection, events[start:end])
        rows = [sorted(map(tuple, connection.execute(select(table))), key=repr) for table in LedgerProjection.tables]
        transaction.rollback()
        return rows


def empty(connection: Connection) -> None:
    for table in reversed(LedgerProjection.tables):
        connection.execute(delete(table))


def test_registration_and_payments_in_any_batches_equal_one_event_at_a_time(
    container: Container, events: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = {type(event) for event in events}
    written = KINDS | ledger_projection.PAYMENT_KINDS
    assert kinds >= written, f"the store has every kind the writers take: {written - kinds} missing"
    with monkeypatch.context() as patch:
        patch.setattr(ledger_projection, "REGISTRATION_KINDS", frozenset())
        patch.setattr(ledger_projection, "PAYMENT_KINDS", frozenset())
        one_by_one = rows_after(container, events, list(range(len(events) + 1)))
    assert any(one_by_one), "the handlers wrote rows"
    assert rows_after(container, events, [0, len(events)]) == one_by_one  # all in one batch

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cuts=st.sets(st.integers(1, len(events) - 1), max_size=12))
    def in_batches(cuts: set[int]) -> None:
        assert rows_after(container, events, [0, *sorted(cuts), len(events)]) == one_by_one

    in_batches()


def test_a_payment_for_a_household_not_in_the_read_model_is_refused(container: Container, events: list[Any]) -> None:
    # As the handler's look-up of the household's place refuses it.
    payments = [event for event in events if type(event) in ledger_projection.PAYMENT_KINDS]
    with container.engine.connect() as connection, connection.begin():
        empty(connection)
        with pytest.raises(LookupError, match="no household"):
            LedgerProjection().apply_batch(connection, payments[:1])


def test_a_meter_attached_to_a_household_not_in_the_read_model_is_refused(
    container: Container, events: list[Any]
) -> None:
    attached = [event for event in events if isinstance(event, Meter.Commissioned | Meter.AttachedToHousehold)]
    with container.engine.connect() as connection, connection.begin():
        empty(connection)
        with pytest.raises(LookupError, match="no household"):
            LedgerProjection().apply_batch(connection, attached[:2])


def test_drawn_communities_in_drawn_batches_equal_one_event_at_a_time(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    # test_parallel_rebuild's communities: meters moved between households and buildings before
    # the readings, suspensions and area corrections after them, payments and a reversal, each
    # by its command (a few events a save). Every community drawn adds to the store.
    tags = (f"{number:04d}" for number in itertools.count())
    recorder, mapper = container.ledger.recorder, container.ledger.mapper

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(community=communities(), cuts=st.lists(st.floats(0, 1), max_size=10))
    def in_batches(community: Community, cuts: list[float]) -> None:
        play_community(container, community, next(tags))
        events = [mapper.to_domain_event(n) for n in recorder.select_notifications(start=1, limit=100_000)]
        with monkeypatch.context() as patch:
            patch.setattr(ledger_projection, "REGISTRATION_KINDS", frozenset())
            patch.setattr(ledger_projection, "PAYMENT_KINDS", frozenset())
            one_by_one = rows_after(container, events, list(range(len(events) + 1)))
        bounds = sorted({0, len(events), *(round(cut * len(events)) for cut in cuts)})
        assert rows_after(container, events, bounds) == one_by_one

    in_batches()
