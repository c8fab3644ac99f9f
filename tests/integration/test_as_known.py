"""Answers as the ledger knew them at a moment, on SQLite and PostgreSQL.

Event timestamps are the moments the ledger recorded them (the event store's clock), so the tests
record each command under freezegun at the moment it happens. The ledger's own clock follows the
same frozen time, except where a test dates a fact in the world before the moment it is recorded
(a bank's value date keyed in later).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from eventsourcing.persistence import Notification, StoredEvent
from freezegun import freeze_time
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from application.authorization import SYSTEM
from application.billing_runs import RunRequest
from application.ledger import HeatLedger
from domain import ids
from domain.billing import BillKind
from domain.payment import COUNTER, PaymentChannel, ReversalKind
from domain.values import CustomerClass
from infrastructure.as_known import KnownReads
from infrastructure.container import Container
from projections.ledger_projection import LedgerProjection
from projections.payment_queries import PaymentQueries
from projections.queries import Granularity
from projections.runner import ProjectionRunner
from projections.tables import metadata
from tests.integration.test_billing_runs import SEASON, SHANGHAI, TERMS, midnight, publish
from tests.strategies import (
    COMMISSIONED_AT,
    commission_meter,
    household_with_meter,
    item,
    memory_ledger,
    register_household,
    values,
)

D = Decimal
A_1 = ids.household_id("A-1")
JANUARY = (date(2026, 1, 1), date(2026, 1, 31))


def shanghai(text: str) -> datetime:
    """A moment written in Asia/Shanghai time, in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


@contextmanager
def recorded_at(container: Container, moment: datetime, world: datetime | None = None) -> Iterator[None]:
    """Commands inside are recorded at ``moment``; the ledger's clock stands at ``world`` (the
    moment itself unless given)."""
    with freeze_time(moment):
        if world is not None:
            container.ledger.clock = lambda: world
        try:
            yield
        finally:
            container.ledger.clock = lambda: datetime.now(UTC)


def daily_readings(container: Container, serial: str, first: date, last: date, daily_gj: Decimal) -> None:
    """A reading at every midnight from ``first`` to ``last``, ``daily_gj`` apart from 100 GJ on
    the season's first day."""
    days = (last - first).days + 1
    offset = (first - SEASON.first_day).days
    items = [
        item(serial, midnight(first + timedelta(days=day)), D(100) + daily_gj * (offset + day)) for day in range(days)
    ]
    assert container.ledger.record_readings(SYSTEM, items).accepted == days


def january_energy_gj(reads: KnownReads) -> Decimal:
    periods = reads.queries.household_consumption(A_1, *JANUARY, Granularity.MONTH)
    return sum((period.energy_gj for period in periods), D(0))


@pytest.fixture
def told_in_february(container: Container) -> Container:
    """A-1 (90 m², meter M-1 read at 0.2 GJ a day) is charged its 1944.00 元 prepayment on
    20 October, pays 1000 元 on 20 January; its readings of November to 1 February are recorded
    on 2 February. On 20 February the ledger learns: the register on 1 February read 1 GJ too
    low (a correction), the 20 January payment bounced (a reversal), and a bank transfer of
    300 元 with the value date 30 January (keyed in late)."""
    with recorded_at(container, shanghai("2025-10-05T10:00")):
        household_with_meter(container.ledger, "A-1", "M-1")
        publish(container)
    with recorded_at(container, shanghai("2025-10-20T10:00")):
        container.billing_runs.run(SYSTEM, RunRequest(BillKind.PREPAYMENT, SEASON))
    with recorded_at(container, shanghai("2026-01-20T10:00")):
        container.payments.receive_at_counter(SYSTEM, "A-1", D(1000), PaymentChannel.CASH, "R-1")
    with recorded_at(container, shanghai("2026-02-02T09:00")):
        daily_readings(container, "M-1", SEASON.first_day, date(2026, 2, 1), D("0.2"))
    with recorded_at(container, shanghai("2026-02-20T10:00")):
        last = midnight(date(2026, 2, 1))
        container.ledger.correct_reading(
            SYSTEM, "M-1", last, item("M-1", last, D(100) + D("0.2") * 92 + 1).values, "register misread"
        )
        (payment,) = PaymentQueries(container.engine).payments_of_household(A_1).items
        container.payments.reverse(SYSTEM, payment.payment_id, ReversalKind.BOUNCED, "the transfer bounced")
    with recorded_at(container, shanghai("2026-02-20T11:00"), world=shanghai("2026-01-30T15:00")):
        container.payments.receive_at_counter(SYSTEM, "A-1", D(300), PaymentChannel.BANK_TRANSFER, "B-30")
    container.catch_up()
    return container


def test_the_balance_on_31_january_as_known_on_15_february_ignores_what_was_recorded_on_20_february(
    told_in_february: Container,
) -> None:
    as_known = told_in_february.as_known
    now = as_known.live()
    # Now the late transfer counts on its value date: 1944.00 − 1000 − 300.
    assert now.payments.balance_as_of(A_1, date(2026, 1, 31)).balance_yuan == D("644.00")

    with as_known.household("A-1", shanghai("2026-02-15T12:00")) as then:
        on_31_january = then.payments.balance_as_of(A_1, date(2026, 1, 31))
        assert (on_31_january.charged_yuan, on_31_january.paid_yuan) == (D("1944.00"), D(1000))
        assert on_31_january.balance_yuan == D("944.00")
        balance = then.billing.balance(A_1)
        assert balance is not None and balance.balance_yuan == D("944.00")
        assert january_energy_gj(then) == D("6.2")  # 31 days × 0.2 GJ, as read
        assert then.known_at == shanghai("2026-02-15T12:00") and then.position is not None
    # Now: the bounced 1000 元 is owed again (from 20 February), and January had 1 GJ more than read.
    assert now.billing.balance(A_1).balance_yuan == D("1944.00") - D(300)  # type: ignore[union-attr]
    assert january_energy_gj(now) == D("7.2")


def test_an_answer_as_known_between_two_commands_holds_the_first_only(told_in_february: Container) -> None:
    as_known = told_in_february.as_known
    with as_known.household("A-1", shanghai("2026-02-20T10:30")) as between:
        assert january_energy_gj(between) == D("7.2")  # the correction is known
        assert between.payments.balance_as_of(A_1, date(2026, 1, 31)).paid_yuan == D(1000)  # not the late transfer
        assert [
            (p.amount_yuan, p.reversed_on is not None) for p in between.payments.payments_of_household(A_1).items
        ] == [(D(1000), True)]
    # Exactly at a command's moment, it is known.
    with as_known.household("A-1", shanghai("2026-01-20T10:00")) as at_payment:
        assert at_payment.payments.balance_as_of(A_1, date(2026, 1, 31)).paid_yuan == D(1000)
    with as_known.household("A-1", shanghai("2026-01-20T10:00") - timedelta(microseconds=1)) as before_payment:
        assert before_payment.payments.balance_as_of(A_1, date(2026, 1, 31)).paid_yuan == 0


def test_bills_as_known_are_those_issued_by_then(told_in_february: Container) -> None:
    as_known = told_in_february.as_known
    (prepayment,) = as_known.live().billing.bills_of_household(A_1).items
    with as_known.household("A-1", shanghai("2025-10-20T09:59")) as before:
        assert before.billing.bills_of_household(A_1).total == 0
        assert before.queries.household("A-1") is not None  # registered already
    with as_known.bill(prepayment.bill_id, shanghai("2025-10-20T09:59")) as before:
        assert before.billing.bill(prepayment.bill_id) is None
    with as_known.bill(prepayment.bill_id, shanghai("2025-10-20T10:00")) as issued:
        assert issued.billing.bill(prepayment.bill_id) == prepayment


def test_before_the_household_was_registered_nothing_is_known_of_it(told_in_february: Container) -> None:
    with told_in_february.as_known.household("A-1", shanghai("2025-10-01T00:00")) as before:
        assert before.queries.household("A-1") is None
        assert before.billing.balance(A_1) is None
        assert before.position == 0


# -- property: what was known at T is what a ledger told only that much answers today -----------

# Drawn examples per backend: each plays a season of three meters, three billing runs and the drawn
# corrections into the shared store, then folds the events known at T twice (a view, a ledger),
# ~0.6-1.5 s (3 s on PostgreSQL in CI). Before them, an explicit season that tells the ledger
# every kind of command (a_season_of_every_command), so that fewer drawn ones (10 until issue 17's
# speed pass) still exercise each kind on each backend; the drawn ones vary the order and T.
EXAMPLES = 5
# Meters are read every third day (and on the season's last midnight): 52 readings each.
READING_DAYS = [*range(0, SEASON.days, 3), SEASON.days]
DAILY_GJ = {"first": D("0.2"), "second": D("0.1")}
SPARE_START_GJ = D(5)
SET_UP_AT = shanghai("2025-10-05T10:00")
PREPAYMENT_AT = shanghai("2025-10-20T10:00")
STATEMENT_AT = shanghai("2026-01-05T10:00")
SETTLEMENT_AT = shanghai("2026-04-05T10:00")
LAST_AT = shanghai("2026-04-25T10:00")
FIRST_DAY, LAST_DAY = date(2025, 10, 1), date(2026, 4, 30)


@dataclass(frozen=True)
class Names:
    """The accounts, meters and community of one example (the examples share a store)."""

    tag: str

    @property
    def community(self) -> str:
        return f"C-{self.tag}"

    @property
    def accounts(self) -> dict[str, str]:
        return {"first": f"A-{self.tag}", "second": f"B-{self.tag}"}

    @property
    def meters(self) -> dict[str, str]:
        return {"first": f"MA-{self.tag}", "second": f"MB-{self.tag}", "spare": f"MS-{self.tag}"}


@dataclass(frozen=True)
class Command:
    """One thing the ledger is told, the moment it records it, and its particulars."""

    at: datetime
    kind: str
    particulars: tuple[Any, ...] = ()


def reading_day(index: int) -> date:
    return SEASON.first_day + timedelta(days=index)


def register_gj(household: str, index: int, swap_index: int | None) -> tuple[str, Decimal]:
    """Which meter of ``household`` reads day ``index`` and its register then (the first
    household's meter is swapped for the spare at noon of ``swap_index``)."""
    if household == "first" and swap_index is not None and index > swap_index:
        return "spare", SPARE_START_GJ + DAILY_GJ["first"] * (index - swap_index) - DAILY_GJ["first"] / 2
    return household, D(100) + DAILY_GJ[household] * index


def swap_moment(swap_index: int) -> datetime:
    return midnight(reading_day(swap_index)) + timedelta(hours=12)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Command], datetime, date]:
    """The commands of a season in recording order, a moment T and a world day to ask about."""
    swap_index = draw(st.none() | st.sampled_from(READING_DAYS[3:-3]))
    faulty = set(draw(st.lists(st.sampled_from(READING_DAYS[2:-2]), max_size=2)))
    commands = [
        Command(SET_UP_AT, "set_up"),
        Command(PREPAYMENT_AT, "prepayment"),
        Command(SETTLEMENT_AT, "settlement"),
    ]
    if draw(st.booleans()):
        commands.append(Command(STATEMENT_AT, "statement"))
    recorded = _reading_chunks(draw, commands, swap_index, faulty)
    if swap_index is not None:
        at = swap_moment(swap_index) + timedelta(minutes=draw(st.integers(0, 600)))
        commands.append(Command(at, "swap", (swap_index,)))
    _corrections(draw, commands, recorded, swap_index, faulty)
    _payments(draw, commands)
    commands.sort(key=lambda command: command.at)  # stable: a chunk keeps its estimator run after it
    moments = [command.at for command in commands]
    known_at = draw(
        st.sampled_from(moments)
        | st.datetimes(min_value=datetime(2025, 10, 1), max_value=datetime(2026, 4, 30), timezones=st.just(UTC))
    )
    day = draw(st.dates(min_value=FIRST_DAY, max_value=LAST_DAY))
    return commands, known_at, day


def a_season_of_every_command() -> tuple[list[Command], datetime, date]:
    """A history as ``histories`` draws one, with every kind of command in it: the three runs,
    readings in six chunks (the estimator run after three of them) with a faulty reading, the
    first meter swapped on day 30, a reading voided and two corrected, two payments (one reversed);
    asked about on 10 February, a world day in January."""
    swap_index, faulty = 30, (60,)
    commands = [
        Command(SET_UP_AT, "set_up"),
        Command(PREPAYMENT_AT, "prepayment"),
        Command(STATEMENT_AT, "statement"),
        Command(SETTLEMENT_AT, "settlement"),
    ]
    recorded: dict[tuple[str, int], datetime] = {}
    for number, start in enumerate(range(0, len(READING_DAYS), 10)):
        chunk = tuple(READING_DAYS[start : start + 10])
        at = midnight(reading_day(chunk[-1])) + timedelta(hours=2)
        commands.append(Command(at, "read", (chunk, swap_index, faulty)))
        if number % 2 == 0:
            commands.append(Command(at, "estimate"))
        recorded |= {(household, index): at for household in DAILY_GJ for index in chunk}
    commands.append(Command(swap_moment(swap_index) + timedelta(hours=1), "swap", (swap_index,)))
    commands += [
        Command(recorded[("second", 9)] + timedelta(days=2), "void", ("second", 9)),
        Command(recorded[("first", 15)] + timedelta(days=3), "correct", ("first", 15, D("0.05"))),
        Command(recorded[("second", 90)] + timedelta(days=1), "correct", ("second", 90, D("-0.05"))),
        Command(PREPAYMENT_AT + timedelta(days=30), "pay", ("first", D(500), "R-0")),
        Command(PREPAYMENT_AT + timedelta(days=35), "reverse", ("first", "R-0")),
        Command(PREPAYMENT_AT + timedelta(days=100), "pay", ("second", D(1200), "R-1")),
    ]
    commands.sort(key=lambda command: command.at)  # stable: a chunk keeps its estimator run after it
    return commands, shanghai("2026-02-10T12:00"), date(2026, 1, 31)


def _reading_chunks(
    draw: st.DrawFn, commands: list[Command], swap_index: int | None, faulty: set[int]
) -> dict[tuple[str, int], datetime]:
    """The readings cut into chunks, each recorded within the business day of its last reading
    (and the estimator run after some); returns when each household's reading of a day was
    recorded."""
    recorded: dict[tuple[str, int], datetime] = {}
    remaining = list(READING_DAYS)
    while remaining:
        size = draw(st.integers(3, 20))
        chunk, remaining = remaining[:size], remaining[size:]
        at = midnight(reading_day(chunk[-1])) + timedelta(minutes=draw(st.integers(60, 20 * 60)))
        commands.append(Command(at, "read", (tuple(chunk), swap_index, tuple(sorted(faulty)))))
        if draw(st.booleans()):
            commands.append(Command(at, "estimate"))
        recorded |= {(household, index): at for household in DAILY_GJ for index in chunk}
    return recorded


def _corrections(
    draw: st.DrawFn,
    commands: list[Command],
    recorded: dict[tuple[str, int], datetime],
    swap_index: int | None,
    faulty: set[int],
) -> None:
    """Corrections and voids of readings already recorded (never of the swapped meters' last and
    first, of a faulty reading, or twice the same reading)."""
    candidates = [
        (household, index)
        for household in DAILY_GJ
        for index in READING_DAYS[1:-1]
        if index not in faulty and not (household == "first" and swap_index is not None and index >= swap_index)
    ]
    touched = draw(st.lists(st.sampled_from(candidates), max_size=4, unique=True))
    for household, index in touched:
        at = recorded[(household, index)] + timedelta(minutes=draw(st.integers(1, 40 * 24 * 60)))
        if draw(st.booleans()):
            commands.append(Command(at, "void", (household, index)))
        else:
            delta = draw(st.sampled_from([D("-0.05"), D("0.03"), D("0.05")]))
            commands.append(Command(at, "correct", (household, index, delta)))


def _payments(draw: st.DrawFn, commands: list[Command]) -> None:
    """Counter payments after the prepayment, some reversed later."""
    for number in range(draw(st.integers(0, 4))):
        at = PREPAYMENT_AT + timedelta(minutes=draw(st.integers(1, 180 * 24 * 60)))
        household = draw(st.sampled_from(list(DAILY_GJ)))
        commands.append(Command(at, "pay", (household, D(draw(st.integers(1, 3000))), f"R-{number}")))
        if draw(st.booleans()):
            later = at + timedelta(minutes=draw(st.integers(1, 30 * 24 * 60)))
            commands.append(Command(later, "reverse", (household, f"R-{number}")))


def play(container: Container, commands: list[Command], names: Names) -> None:
    for command in commands:
        with recorded_at(container, command.at):
            PLAYS[command.kind](container, names, *command.particulars)


def _set_up(container: Container, names: Names) -> None:
    ledger = container.ledger
    for household, account in names.accounts.items():
        register_household(ledger, account, names.community, "1")
        commission_meter(ledger, names.meters[household])
        ledger.attach_meter(SYSTEM, account, names.meters[household], COMMISSIONED_AT)
    commission_meter(ledger, names.meters["spare"])
    container.billing.publish_tariff(
        SYSTEM,
        CustomerClass.RESIDENTIAL,
        names.community,
        TERMS,
        date(2025, 10, 1),
        None,
        "价〔2025〕7号",
        date(2025, 9, 20),
    )


def _run(kind: BillKind, month: str | None = None) -> Callable[[Container, Names], None]:
    def run_bills(container: Container, names: Names) -> None:
        container.billing_runs.run(SYSTEM, RunRequest(kind, SEASON, month, names.community))

    return run_bills


def _read(
    container: Container, names: Names, chunk: tuple[int, ...], swap_index: int | None, faulty: tuple[int, ...]
) -> None:
    items = []
    for index in chunk:
        for household in DAILY_GJ:
            meter, register = register_gj(household, index, swap_index)
            bad = household == "second" and index in faulty
            items.append(item(names.meters[meter], midnight(reading_day(index)), register, faulty=bad))
    report = container.ledger.record_readings(SYSTEM, items)
    assert report.accepted == len(items), report.outcomes


def _estimate(container: Container, names: Names) -> None:
    container.estimator.run(SYSTEM, datetime.now(UTC))


def _swap(container: Container, names: Names, swap_index: int) -> None:
    at = swap_moment(swap_index)
    final = values(at, D(100) + DAILY_GJ["first"] * swap_index + DAILY_GJ["first"] / 2)
    container.ledger.replace_meter(
        SYSTEM,
        names.accounts["first"],
        names.meters["first"],
        names.meters["spare"],
        final,
        values(at, SPARE_START_GJ),
        "swap",
    )


def _void(container: Container, names: Names, household: str, index: int) -> None:
    container.ledger.void_reading(SYSTEM, names.meters[household], midnight(reading_day(index)), "misread")


def _correct(container: Container, names: Names, household: str, index: int, delta: Decimal) -> None:
    meter, register = register_gj(household, index, None)
    at = midnight(reading_day(index))
    container.ledger.correct_reading(SYSTEM, names.meters[meter], at, values(at, register + delta), "misread")


def _pay(container: Container, names: Names, household: str, amount_yuan: Decimal, receipt: str) -> None:
    container.payments.receive_at_counter(
        SYSTEM, names.accounts[household], amount_yuan, PaymentChannel.CASH, f"{receipt}-{names.tag}"
    )


def _reverse(container: Container, names: Names, household: str, receipt: str) -> None:
    payment_id = ids.payment_id(COUNTER, f"{receipt}-{names.tag}")
    container.payments.reverse(SYSTEM, payment_id, ReversalKind.ERROR, "keyed twice")


PLAYS: dict[str, Callable[..., None]] = {
    "set_up": _set_up,
    "prepayment": _run(BillKind.PREPAYMENT),
    "statement": _run(BillKind.STATEMENT, "2025-12"),
    "settlement": _run(BillKind.SETTLEMENT),
    "read": _read,
    "estimate": _estimate,
    "swap": _swap,
    "void": _void,
    "correct": _correct,
    "pay": _pay,
    "reverse": _reverse,
}


def told_until(container: Container, after: int, moment: datetime) -> tuple[HeatLedger, Engine]:
    """A fresh ledger (in memory, with its own read models) told only the events recorded by
    ``moment`` (their own timestamps), of those stored after notification ``after`` (this
    example's), in the order they were stored, its read models caught up."""
    source = container.ledger
    known = []
    while True:
        page = source.recorder.select_notifications(start=after + 1, limit=1000)
        if not page:
            break
        known += [n for n in page if timestamp_of(source, n) <= moment]
        after = page[-1].id
    ledger = memory_ledger()
    ledger.recorder.insert_events([StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in known])
    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    ProjectionRunner(ledger, engine, LedgerProjection()).catch_up()
    return ledger, engine


def timestamp_of(ledger: HeatLedger, notification: Notification) -> datetime:
    """The stored event's timestamp, decoded (independently of ``point_in_time.recorded_at``)."""
    event: Any = ledger.mapper.to_domain_event(notification)
    moment: datetime = event.timestamp
    return moment


def household_answers(reads: KnownReads, account_number: str, day: date) -> dict[str, Any]:
    """What the household endpoints but consumption answer from these read models."""
    household_id = ids.household_id(account_number)
    return {
        "household": reads.queries.household(account_number),
        "balance": reads.billing.balance(household_id),
        "balance on the day": reads.payments.balance_as_of(household_id, day),
        "allocations": reads.payments.allocations_of_household(household_id),
        "open charges": reads.payments.open_charges_of_household(household_id),
        "credit": reads.payments.unallocated_credit_yuan(household_id),
        "payments": reads.payments.payments_of_household(household_id, limit=100),
        "bills": reads.billing.bills_of_household(household_id, limit=100),
        "bills by the day": reads.billing.bills_of_household(household_id, limit=100, issued_on_or_before=day),
    }


def consumption(reads: KnownReads, account_number: str) -> list[Any]:
    household_id = ids.household_id(account_number)
    return reads.queries.household_consumption(household_id, FIRST_DAY, LAST_DAY, Granularity.DAY)


def aging_answers(reads: KnownReads, community: str, day: date) -> dict[str, Any]:
    return {"totals": reads.payments.aging_totals(day, community), "items": reads.payments.aging(day, community)}


@pytest.fixture
def tags() -> Iterator[str]:
    return (f"{number:04d}" for number in count())


def test_what_was_known_at_a_moment_is_what_a_ledger_told_only_that_much_answers(
    container: Container, tags: Iterator[str]
) -> None:
    @settings(max_examples=EXAMPLES)
    @given(history=histories())
    @example(history=a_season_of_every_command())
    def known_at_t_equals_a_ledger_told_until_t(history: tuple[list[Command], datetime, date]) -> None:
        commands, known_at, day = history
        names = Names(next(tags))
        start = int(container.ledger.recorder.max_notification_id() or 0)
        play(container, commands, names)
        container.catch_up()

        ledger, engine = told_until(container, start, known_at)
        try:
            told = KnownReads(engine)
            as_known = container.as_known
            # Each read as the API makes it: the bills and money without the meters, the
            # consumption with them, a bill by its id, the aging of the community.
            for account in names.accounts.values():
                with as_known.household(account, known_at, meters=False) as known:
                    assert household_answers(known, account, day) == household_answers(told, account, day)
                with as_known.household(account, known_at) as known:
                    assert consumption(known, account) == consumption(told, account)
                for bill in as_known.live().billing.bills_of_household(ids.household_id(account), limit=100).items:
                    with as_known.bill(bill.bill_id, known_at) as known:
                        assert known.billing.bill(bill.bill_id) == told.billing.bill(bill.bill_id)
            with as_known.community(names.community, known_at) as known:
                assert aging_answers(known, names.community, day) == aging_answers(told, names.community, day)
        finally:
            ledger.close()
            engine.dispose()

    known_at_t_equals_a_ledger_told_until_t()


def test_the_explicit_season_tells_every_kind_of_command() -> None:
    commands, _, _ = a_season_of_every_command()
    assert {command.kind for command in commands} == set(PLAYS)
