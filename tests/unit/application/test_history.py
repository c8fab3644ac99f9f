"""Histories read from the event store: paging without loss or repeats, filters, the bound on what
a page reads, what concerns a bill, personal data masked by role, and auditors' reads logged."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

import application.history as history
from application.authorization import SYSTEM, Principal, Role
from application.history import (
    AGGREGATES,
    MASK,
    WORLD_TIMES,
    Histories,
    HistoryKind,
    HistoryQuery,
    StoredEventStream,
    event_classes,
    event_key,
    history_entry,
    personal_fields,
    read_history,
    unknown_event_types,
)
from application.ledger import HeatLedger
from domain import ids
from domain.billing import MeterEvidence, SegmentInputs, SettlementInputs
from domain.billing_period import BillingPeriod
from domain.errors import NotFoundError, PermissionDeniedError
from domain.household import Household
from domain.payment import Payment, PaymentChannel, ReversalKind
from domain.season import Season
from domain.settlement import SettlementPolicy, TwoPartPrice
from domain.tariff import Tariff, TariffTerms
from domain.values import Address, Areas, CustomerClass, HorizontalPosition, Position, VerticalPosition
from infrastructure.access_log import SqlAccessLog, metadata
from tests.strategies import context, household_with_meter, item, memory_ledger

D = Decimal
CLERK = Principal("clerk-wang", Role.CLERK)
AUDITOR = Principal("auditor-zhao", Role.AUDITOR)
REGULATOR = Principal("regulator-sun", Role.REGULATOR)
DEVICE = Principal("concentrator-7", Role.DEVICE)
READINGS = 240
SERIAL = "KM-0001"
ACCOUNT = "WZ-0001"
SEASON = Season.default_starting(2025)
NOW = datetime(2026, 5, 1, tzinfo=UTC)


# -- the tables are complete -----------------------------------------------------------------


def every_event_class() -> Iterator[type[Any]]:
    for aggregate in AGGREGATES.values():
        yield from event_classes(aggregate).values()


def test_every_event_class_says_when_it_happened_in_the_world_by_fields_it_has() -> None:
    for event_class in every_event_class():
        key = event_key(event_class)
        assert key in WORLD_TIMES, f"{key} has no entry in WORLD_TIMES"
        fields = typing.get_type_hints(event_class)
        world = WORLD_TIMES[key]
        for name, kind in ((world.at, datetime), (world.on, date)):
            if name is not None:
                assert name in fields, f"{key} has no field {name}"
                assert kind in typing.get_args(fields[name]) or fields[name] is kind, f"{key}.{name} is no {kind}"


def test_the_aggregates_have_the_event_classes_the_histories_list() -> None:
    # The library's Event and Created bases are no events of their own.
    assert sorted(event_classes(Payment)) == ["Received", "Reversed"]
    assert sorted(event_classes(Tariff)) == ["Opened", "VersionCorrected", "VersionPublished"]
    assert "Event" not in event_classes(Household) and "Created" not in event_classes(Household)
    assert unknown_event_types(HistoryKind.METER, {"ReadingRecorded", "Registered"}) == ["Registered"]


def test_the_flat_and_the_reasons_of_households_and_payments_are_personal() -> None:
    assert personal_fields("Household.Registered") == {"entrance", "floor", "flat", "reason"}
    assert personal_fields("Household.AreaCorrected") == {"reason"}
    assert personal_fields("Payment.Received") == {"reference", "reason"}
    assert personal_fields("Meter.ReadingRecorded") == frozenset()
    assert personal_fields("BillingPeriod.BillIssued") == frozenset()


# -- paging ------------------------------------------------------------------------------------


class CountingStream(StoredEventStream):
    """The real stream, counting what it decodes (a page must not decode a long meter whole)."""

    decoded = 0

    def decode(self, stored: StoredEvent) -> Any:
        self.decoded += 1
        return super().decode(stored)


@dataclass
class MeterLedger:
    ledger: HeatLedger
    meter_id: UUID
    events: list[Any] = field(default_factory=list)


@pytest.fixture(scope="module")
def metered() -> MeterLedger:
    """A meter with ``READINGS`` hourly readings, a voided one and its commissioning and attachment."""
    ledger = memory_ledger()
    household_with_meter(ledger, ACCOUNT, SERIAL)
    start = datetime(2025, 11, 1, tzinfo=UTC)
    items = [item(SERIAL, start + timedelta(hours=hour), D(100) + D(hour) / 10) for hour in range(READINGS)]
    for first in range(0, READINGS, 100):
        ledger.record_readings(SYSTEM, items[first : first + 100])
    ledger.void_reading(SYSTEM, SERIAL, start + timedelta(hours=READINGS - 3), "a test reading")
    meter_id = ids.meter_id(SERIAL)
    return MeterLedger(ledger, meter_id, list(ledger.events.get(meter_id)))


def all_pages(stream: StoredEventStream, query: HistoryQuery) -> Iterator[list[int]]:
    after = query.after_version
    for _ in range(10_000):
        page = read_history(
            stream, HistoryQuery(after, query.limit, query.recorded_from, query.recorded_to, query.event_types), True
        )
        assert len(page.entries) <= query.limit
        yield [entry.version for entry in page.entries]
        if page.next_after_version is None:
            return
        assert page.next_after_version > after, "every page moves the cursor on"
        after = page.next_after_version
    raise AssertionError("paging did not end")


@given(
    limit=st.integers(1, 60),
    types=st.sets(st.sampled_from(["Commissioned", "AttachedToHousehold", "ReadingRecorded", "ReadingVoided"])),
    # Indices of the meter's READINGS + 3 events: commissioning, attachment, readings, the void.
    window=st.none() | st.tuples(st.integers(0, READINGS + 2), st.integers(0, READINGS + 2)),
    chunk=st.integers(1, 60),
    budget=st.integers(1, 300),
)
def test_pages_followed_to_the_end_hold_each_wanted_event_once_in_order(
    metered: MeterLedger,
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
    types: set[str],
    window: tuple[int, int] | None,
    chunk: int,
    budget: int,
) -> None:
    # Small chunks and bounds, so pages end on every kind of boundary.
    monkeypatch.setattr(history, "SCAN_CHUNK", chunk)
    monkeypatch.setattr(history, "MAXIMUM_SCANNED_PER_PAGE", budget)
    stamps = [event.timestamp for event in metered.events]
    start, end = (stamps[min(window)], stamps[max(window)]) if window else (None, None)
    query = HistoryQuery(0, limit, start, end, frozenset(types))
    expected = [
        event.originator_version
        for event in metered.events
        if query.wants_type(type(event).__name__) and query.wants_time(event.timestamp)
    ]
    pages = list(all_pages(StoredEventStream(metered.ledger, metered.meter_id), query))
    assert [version for page in pages for version in page] == expected
    # Without filters every page but the last is full (when the bound lets a page fill).
    if not types and window is None and budget >= limit:
        assert all(len(page) == limit for page in pages[:-1])


def test_a_page_reads_at_most_its_bound_of_stored_events_and_says_where_to_go_on(
    metered: MeterLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "MAXIMUM_SCANNED_PER_PAGE", 50)
    stream = CountingStream(metered.ledger, metered.meter_id)
    # A window nothing was recorded in: every event must be decoded to know it, 50 at a time.
    nowhere = HistoryQuery(0, 10, datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC))
    page = read_history(stream, nowhere, True)
    assert (page.entries, page.next_after_version, stream.decoded) == ((), 50, 50)
    # A type filter skips by the stored topic, without decoding what it skips.
    voids = CountingStream(metered.ledger, metered.meter_id)
    found = read_history(voids, HistoryQuery(0, 10, event_types=frozenset({"ReadingVoided"})), True)
    assert (found.entries, voids.decoded) == ((), 0)
    assert found.next_after_version == 50


def test_an_unfiltered_page_decodes_only_its_own_events(metered: MeterLedger) -> None:
    stream = CountingStream(metered.ledger, metered.meter_id)
    page = read_history(stream, HistoryQuery(0, 20), True)
    assert [entry.version for entry in page.entries] == list(range(1, 21))
    # One more stored event is read to know a page follows; it is not decoded.
    assert page.next_after_version == 20 and stream.decoded == 20


def test_a_reading_s_row_carries_its_world_time_batch_and_figures(metered: MeterLedger) -> None:
    page = read_history(StoredEventStream(metered.ledger, metered.meter_id), HistoryQuery(2, 1), True)
    (reading,) = page.entries
    recorded = metered.events[2]
    assert reading.event_type == "ReadingRecorded"
    assert (reading.happened_at, reading.effective_on) == (datetime(2025, 11, 1, tzinfo=UTC), None)
    assert reading.recorded_at == recorded.timestamp
    assert reading.correlation_id == recorded.batch_id  # a reading's batch is its correlation id
    assert reading.details["energy_gj"] == D(100)
    assert "batch_id" not in reading.details and "timestamp" not in reading.details


# -- a bill's history --------------------------------------------------------------------------


def settled_period(ledger: HeatLedger) -> tuple[UUID, UUID, UUID]:
    """A period with a prepayment, then a season extended by decree, then the settlement: the ids
    of the period, the prepayment bill and the settlement bill."""
    terms = TariffTerms(TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.BOTH_WAYS))
    tariff = Tariff.open(CustomerClass.RESIDENTIAL, "*", context())
    version = tariff.version_numbered(
        tariff.publish(terms, SEASON.first_day, None, "宁价〔2025〕1号", date(2025, 10, 1), context())
    )
    period = BillingPeriod.open(
        ids.household_id(ACCOUNT), ACCOUNT, "碧桂园", "1", SEASON, tariff.id, "*", version, D(100), D(1), context()
    )
    prepayment = period.invoice_prepayment(False, date(2025, 11, 1), context())
    longer = Season(SEASON.first_day, date(2026, 4, 10), "宁政发〔2026〕3号")
    assert period.follow_season(longer, None, context())
    evidence = MeterEvidence(D(30), D(0), longer.days, 0, 0, ("KM-0001",))
    inputs = SettlementInputs((SegmentInputs(longer.first_day, longer.last_day, 0, evidence),), None, D("2160.00"))
    (settlement,) = period.settle(inputs, date(2026, 4, 20), context())
    assert prepayment is not None
    ledger.save(tariff, period)
    return period.id, prepayment.bill_id, settlement.bill_id


def test_a_bill_s_history_is_its_period_s_opening_the_day_changes_before_it_and_its_issue() -> None:
    ledger = memory_ledger()
    period_id, prepayment_id, settlement_id = settled_period(ledger)
    histories = Histories(ledger, SqlAccessLog(access_log_engine()), lambda: NOW)
    settlement = histories.bill(CLERK, period_id, settlement_id, HistoryQuery())
    assert [entry.event_type for entry in settlement.entries] == ["Opened", "SeasonDaysChanged", "BillIssued"]
    assert settlement.entries[-1].details["bill_id"] == settlement_id
    # The season grew after the prepayment was issued: that change does not concern it.
    prepayment = histories.bill(CLERK, period_id, prepayment_id, HistoryQuery())
    assert [entry.event_type for entry in prepayment.entries] == ["Opened", "BillIssued"]
    with pytest.raises(NotFoundError):
        histories.bill(CLERK, period_id, uuid4(), HistoryQuery())


# -- personal data -----------------------------------------------------------------------------


def access_log_engine() -> Any:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(engine)
    return engine


def household_and_payment(ledger: HeatLedger) -> UUID:
    """A household with an owner change (its reason names the new holder) and a reversed payment."""
    household = Household.register(
        ACCOUNT,
        Address("碧桂园", "1", "2", 6, "601"),
        Areas(D("98.50"), D("90.00")),
        CustomerClass.RESIDENTIAL,
        Position(VerticalPosition.TOP, HorizontalPosition.WEST_END),
        date(2025, 10, 1),
        context(reason="registration"),
    )
    household.change_owner(date(2026, 1, 16), context(reason="sold to 李四, 13800000000"))
    payment = Payment.receive(
        household.id, ACCOUNT, D(500), PaymentChannel.CASH, "counter", "R-0001", NOW, NOW.date(), None, context()
    )
    payment.reverse(ReversalKind.ERROR, NOW.date(), context(reason="wrong household"))
    ledger.save(household, payment)
    return payment.id


def test_a_regulator_sees_no_flat_and_no_reasons_of_a_household_a_clerk_does() -> None:
    ledger = memory_ledger()
    household_and_payment(ledger)
    stream = StoredEventStream(ledger, ids.household_id(ACCOUNT))
    registered, owner_changed = read_history(stream, HistoryQuery(), show_personal=False).entries
    assert [registered.details[name] for name in ("entrance", "floor", "flat")] == [MASK, MASK, MASK]
    assert (registered.details["community"], registered.details["building"]) == ("碧桂园", "1")
    assert registered.masked_fields == ("entrance", "flat", "floor", "reason")
    assert (owner_changed.reason, owner_changed.effective_on) == (MASK, date(2026, 1, 16))
    assert not any(entry.shows_personal_data for entry in (registered, owner_changed))

    clerk_view = read_history(stream, HistoryQuery(), show_personal=True).entries
    assert (clerk_view[0].details["flat"], clerk_view[1].reason) == ("601", "sold to 李四, 13800000000")
    assert clerk_view[1].masked_fields == () and clerk_view[1].shows_personal_data


def test_an_auditor_s_read_of_personal_data_is_logged_a_regulator_s_masked_one_is_not() -> None:
    ledger = memory_ledger()
    payment_id = household_and_payment(ledger)
    log = SqlAccessLog(access_log_engine())
    histories = Histories(ledger, log, lambda: NOW)
    histories.household(REGULATOR, ACCOUNT, HistoryQuery(), "/households/WZ-0001/history")
    histories.household(CLERK, ACCOUNT, HistoryQuery(), "/households/WZ-0001/history")
    assert log.entries() == []
    histories.household(AUDITOR, ACCOUNT, HistoryQuery(), "/households/WZ-0001/history")
    # A reversal's reason is personal too: the payment's household is the one logged.
    reversal = histories.payment(AUDITOR, payment_id, HistoryQuery(after_version=1), "/payments/x/history")
    assert [entry.event_type for entry in reversal.entries] == ["Reversed"]
    logged = [
        (entry.read.actor, entry.read.role, entry.read.account_number, entry.read.endpoint) for entry in log.entries()
    ]
    assert logged == [
        ("auditor-zhao", "auditor", ACCOUNT, "/households/WZ-0001/history"),
        ("auditor-zhao", "auditor", ACCOUNT, "/payments/x/history"),
    ]
    assert log.entries()[0].read.read_at == NOW


def test_histories_need_a_reader_and_an_existing_record() -> None:
    ledger = memory_ledger()
    household_and_payment(ledger)
    histories = Histories(ledger, SqlAccessLog(access_log_engine()), lambda: NOW)
    with pytest.raises(PermissionDeniedError):
        histories.household(DEVICE, ACCOUNT, HistoryQuery(), "/households/WZ-0001/history")
    with pytest.raises(NotFoundError) as missing:
        histories.meter(CLERK, "KM-404", HistoryQuery())
    assert missing.value.params == {"kind": "meter", "key": "KM-404"}
    with pytest.raises(NotFoundError):
        histories.tariff(CLERK, "residential", "*", HistoryQuery())


def test_a_row_of_an_event_without_world_time_has_neither_time() -> None:
    household = Household.register(
        ACCOUNT,
        Address("碧桂园", "1", "2", 6, "601"),
        Areas(D("98.50"), D("90.00")),
        CustomerClass.RESIDENTIAL,
        Position(VerticalPosition.TOP, HorizontalPosition.WEST_END),
        date(2025, 10, 1),
        context(),
    )
    household.open_dispute(uuid4(), Decimal("300.00"), context(reason="the settlement is too high"))
    entry = history_entry(household.collect_events()[-1], show_personal=True)
    assert (entry.event_type, entry.happened_at, entry.effective_on) == ("DisputeOpened", None, None)
