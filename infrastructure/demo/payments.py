"""Pays the demo community's bills as its households would, through the channels a real payment
takes: most at the counter, some online through a signed provider notification.

About 70 % of the households pay (the source's Country Garden pilot had collected 70 %,
domain.md §8): per building, the flats are ranked by a seeded willingness and the first 70 % pay
what their open bills of the season ask; a few of them pay only part. Vacant flats whose owners
never collected their keys pay nothing (the first reason the source gives for what was not
collected). Who pays, how, how much and when is drawn from ``random.Random`` seeded with the seed
and the household, like the rest of the demo.

A payment is dated between the issue day of the bills it pays and the business day ``today``,
never after the moment of the load: the ledger's clock is set to the payment's moment while it
is booked (the demo plays the counter's and the provider's days back, as the tests' fixed clocks
do). One payment per household and season; loading again books nothing twice (a counter payment's
id is the uuid5 of its receipt number, an online one's of the order the demo created).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from application.authorization import Principal, Role
from application.ledger import HeatLedger
from domain import ids
from domain.day_split import BUSINESS_TIME_ZONE, business_day
from domain.errors import NotFoundError
from domain.payment import COUNTER, PaymentChannel
from domain.season import Season
from infrastructure.container import Container
from infrastructure.demo.community import DEFAULT_SEED
from infrastructure.demo.model import DemoCommunity, DemoHousehold, Occupancy
from infrastructure.online_payments import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    OnlinePayments,
    Order,
    OrderStatus,
    merchant_key,
    sign,
)
from projections.payment_queries import PaymentQueries

# Of every building's flats, this share pays (domain.md §8: 70 % collected so far).
PAYING_SHARE = 0.70
# Of the payers, this share pays only part, 30 to 80 % of what is asked, in whole tens of 元.
PART_PAYING_SHARE = 0.05
PART_PERCENT_RANGE = (30, 80)
PART_STEP_YUAN = Decimal(10)
# A vacant flat whose owner never collected the keys: nobody pays, nobody can be reached.
KEYS_COLLECTED_SHARE = 0.25
# How the payers pay: most at the counter, some online (cumulative shares, in this order).
CHANNEL_SHARES = (
    (PaymentChannel.CASH, 0.30),
    (PaymentChannel.CARD, 0.25),
    (PaymentChannel.BANK_TRANSFER, 0.15),
    (PaymentChannel.ONLINE, 0.30),
)
# Local opening hours: the counter's, and the hours people pay on their phones.
COUNTER_HOURS = (time(8, 30), time(17, 30))
ONLINE_HOURS = (time(7, 0), time(23, 0))
# The two clerks at the demo's counter (the journal's cash-up shows one line per clerk).
DEMO_CLERKS = (Principal("demo-clerk-wang", Role.CLERK), Principal("demo-clerk-li", Role.CLERK))
# The WeChat page backend creates the payment orders with a clerk's token (docs/payments.md).
DEMO_ORDER_DESK = Principal("demo-wechat-page", Role.CLERK)
DEMO_PROVIDER = "hmac-json"
# The payer opens the order, then pays at the provider a little later.
ORDER_LEAD = timedelta(minutes=2)
RECEIPT_PREFIX = "DEMO-R-"
# Households in a building (six floors, two entrances, four flats a floor): the receipt's ordinal.
FLATS_PER_BUILDING = 48

# (what is being done, steps done, steps in all)
PaymentProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PaymentPlan:
    """How one household pays this season: its channel, the part it pays (None: all of it), where
    in the days since the bills were issued and where in the channel's hours."""

    account_number: str
    ordinal: int
    channel: PaymentChannel
    part_percent: int | None
    day_fraction: float
    hour_fraction: float
    clerk: Principal


@dataclass
class PaymentsReport:
    """What the demo's payments stand at: households that paid (in full or in part), their amount,
    and how many payments this load booked (the others were booked by an earlier load)."""

    households: int = 0
    paid_in_full: int = 0
    paid_in_part: int = 0
    amount_yuan: Decimal = Decimal("0.00")
    booked: int = 0
    booked_before: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)

    @property
    def households_paid(self) -> int:
        return self.paid_in_full + self.paid_in_part

    def add(self, plan: PaymentPlan, amount_yuan: Decimal, booked_now: bool) -> None:
        if plan.part_percent is None:
            self.paid_in_full += 1
        else:
            self.paid_in_part += 1
        self.amount_yuan += amount_yuan
        self.by_channel[plan.channel.value] += 1
        if booked_now:
            self.booked += 1
        else:
            self.booked_before += 1


def keys_collected(household: DemoHousehold, seed: int = DEFAULT_SEED) -> bool:
    """Whether someone holds the flat: False for a vacant flat whose owner never collected the keys."""
    if household.occupancy is not Occupancy.VACANT:
        return True
    return random.Random(f"keys:{seed}:{household.account_number}").random() < KEYS_COLLECTED_SHARE


def receipt_number(season: Season, ordinal: int) -> str:
    """The counter's receipt: ``DEMO-R-`` + the season's year (2 digits) + the household's ordinal
    (4 digits), e.g. ``DEMO-R-250123``: one receipt per household and season."""
    return f"{RECEIPT_PREFIX}{season.first_day.year % 100:02d}{ordinal:04d}"


def plan_payments(community: DemoCommunity, seed: int = DEFAULT_SEED) -> list[PaymentPlan]:
    """Who pays and how: per building, the first 70 % of the flats by a seeded willingness."""
    plans: list[PaymentPlan] = []
    for building in community.buildings:
        households = [flat.household for flat in building.flats]
        first_ordinal = (int(building.name) - 1) * FLATS_PER_BUILDING + 1
        ordinals = {household.account_number: first_ordinal + index for index, household in enumerate(households)}
        payers = round(PAYING_SHARE * len(households))
        ranked = sorted(
            (household for household in households if keys_collected(household, seed)),
            key=lambda household: random.Random(f"willing:{seed}:{household.account_number}").random(),
        )
        plans.extend(_plan(household, ordinals[household.account_number], seed) for household in ranked[:payers])
    return plans


def _plan(household: DemoHousehold, ordinal: int, seed: int) -> PaymentPlan:
    draw = random.Random(f"payment:{seed}:{household.account_number}")
    channel_draw, part_draw, day_fraction, hour_fraction = (draw.random() for _ in range(4))
    part_percent = draw.randint(*PART_PERCENT_RANGE)
    clerk = DEMO_CLERKS[draw.randrange(len(DEMO_CLERKS))]
    return PaymentPlan(
        household.account_number,
        ordinal,
        _channel(channel_draw),
        part_percent if part_draw < PART_PAYING_SHARE else None,
        day_fraction,
        hour_fraction,
        clerk,
    )


def _channel(draw: float) -> PaymentChannel:
    cumulative = 0.0
    for channel, share in CHANNEL_SHARES:
        cumulative += share
        if draw < cumulative:
            return channel
    return CHANNEL_SHARES[-1][0]


def pay_demo_bills(
    container: Container,
    community: DemoCommunity,
    today: date,
    progress: PaymentProgress | None = None,
    seed: int = DEFAULT_SEED,
) -> PaymentsReport:
    """Pay the planned households' open bills of the season (after ``bill_demo_season``), at the
    counter or online, dated between the bills' issue day and ``today`` and never after now."""
    container.catch_up()
    now = container.ledger.clock()
    session = _PaymentSession(container, community.season, min(today, business_day(now)), now)
    plans = plan_payments(community, seed)
    for done, plan in enumerate(plans, start=1):
        session.pay(plan)
        if progress is not None:
            progress("payments", done, len(plans))
    session.report.households = len(community.households)
    return session.report


class _PaymentSession:
    """One load's payments: the channels, the day and moment they may not pass, and the report."""

    def __init__(self, container: Container, season: Season, last_day: date, now: datetime) -> None:
        self.ledger = container.ledger
        self.payments = container.payments
        self.queries = PaymentQueries(container.engine)
        # The online channel reads the ledger's clock at every call, so it sees the payment's moment.
        self.online = OnlinePayments(
            container.engine,
            container.ledger,
            container.settings.secret_key,
            clock=lambda: self.ledger.clock(),
        )
        self.merchant_key = merchant_key(container.settings.secret_key, DEMO_PROVIDER)
        self.season = season
        self.last_day = last_day
        self.now = now
        self.report = PaymentsReport()

    def pay(self, plan: PaymentPlan) -> None:
        if plan.channel is PaymentChannel.ONLINE:
            self._pay_online(plan)
        else:
            self._pay_at_counter(plan)

    def _pay_at_counter(self, plan: PaymentPlan) -> None:
        receipt = receipt_number(self.season, plan.ordinal)
        try:
            booked = self.payments.payment(ids.payment_id(COUNTER, receipt))
        except NotFoundError:
            booked = None
        if booked is not None:
            self.report.add(plan, booked.amount_yuan, booked_now=False)
            return
        asked = self._asked(plan)
        if asked is None:
            return
        amount, moment = asked
        with ledger_clock_at(self.ledger, moment):
            outcome = self.payments.receive_at_counter(
                plan.clerk, plan.account_number, amount, plan.channel, receipt, reason="demo counter payment"
            )
        self.report.add(plan, amount, booked_now=outcome.recorded)

    def _pay_online(self, plan: PaymentPlan) -> None:
        order = self._demo_order(plan.account_number)
        if order is not None and order.status is not OrderStatus.OPEN:
            if order.status is OrderStatus.PAID:
                self.report.add(plan, order.amount_yuan, booked_now=False)
            return  # flagged or resolved: a person looks at it, the demo does not
        asked = self._asked(plan)
        if asked is None:
            return
        amount, moment = asked
        if order is None:
            with ledger_clock_at(self.ledger, moment - ORDER_LEAD):
                order = self.online.create_order(DEMO_ORDER_DESK, plan.account_number, amount, DEMO_PROVIDER)
        body, headers = self._notification(order, plan, moment)
        with ledger_clock_at(self.ledger, moment):
            outcome = self.online.handle_notification(DEMO_PROVIDER, headers, body, None)
        self.report.add(plan, order.amount_yuan, booked_now=outcome.recorded)

    def _demo_order(self, account_number: str) -> Order | None:
        """The order the demo created for this household's payment this season, if any."""
        following = Season.default_starting(self.season.first_day.year + 1).first_day
        for order in self.online.orders(account_number=account_number):
            created_on = business_day(order.created_at)
            if order.created_by == DEMO_ORDER_DESK.name and self.season.first_day <= created_on < following:
                return order
        return None

    def _asked(self, plan: PaymentPlan) -> tuple[Decimal, datetime] | None:
        """What the household pays (all or part of its open charges of the season) and when;
        None when nothing is asked."""
        household_id = self.ledger.household(plan.account_number).id
        charges = [
            charge
            for charge in self.queries.open_charges_of_household(household_id)
            if charge.season_code == self.season.code and charge.open_yuan > 0
        ]
        if not charges:
            return None
        issued_on = max(charge.issued_on for charge in charges)
        if issued_on > self.last_day:
            return None
        asked = sum((charge.open_yuan for charge in charges), Decimal("0.00"))
        return part_of(asked, plan.part_percent), self._moment(plan, issued_on)

    def _moment(self, plan: PaymentPlan, issued_on: date) -> datetime:
        """A moment on a day from ``issued_on`` to the last day, in the channel's hours, never
        after now; when the day's hours have not begun yet, somewhere in the day so far."""
        days = (self.last_day - issued_on).days + 1
        day = issued_on + timedelta(days=min(int(plan.day_fraction * days), days - 1))
        opens, closes = COUNTER_HOURS if plan.channel is not PaymentChannel.ONLINE else ONLINE_HOURS
        start = datetime.combine(day, opens, BUSINESS_TIME_ZONE)
        end = min(datetime.combine(day, closes, BUSINESS_TIME_ZONE), self.now)
        if end <= start:
            start = datetime.combine(day, time(0), BUSINESS_TIME_ZONE)
        moment = start + (end - start) * plan.hour_fraction
        moment = moment.replace(microsecond=0).astimezone(UTC)
        assert issued_on <= business_day(moment) <= self.last_day and moment <= self.now, "a payment in its window"
        return moment

    def _notification(self, order: Order, plan: PaymentPlan, moment: datetime) -> tuple[bytes, dict[str, str]]:
        """The provider's signed notification of the order, as ``HmacJsonAdapter`` reads it."""
        document = {
            "merchant_order_number": order.order_number,
            "transaction_id": transaction_id(plan, moment),
            "amount_yuan": f"{order.amount_yuan:.2f}",
            "currency": "CNY",
            "paid_at": moment.astimezone(BUSINESS_TIME_ZONE).isoformat(),
        }
        body = json.dumps(document).encode()
        timestamp = str(int(moment.timestamp()))
        return body, {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(self.merchant_key, timestamp, body)}


def part_of(asked_yuan: Decimal, part_percent: int | None) -> Decimal:
    """All of ``asked_yuan``, or ``part_percent`` of it in whole tens of 元 (all of it when that
    leaves less than ten)."""
    if part_percent is None:
        return asked_yuan
    part = (asked_yuan * part_percent / 100 / PART_STEP_YUAN).to_integral_value(ROUND_DOWN) * PART_STEP_YUAN
    return part.quantize(Decimal("0.01")) if 0 < part < asked_yuan else asked_yuan


def transaction_id(plan: PaymentPlan, moment: datetime) -> str:
    """The provider's transaction id, shaped like WeChat Pay's: ``4200`` + the day + 16 digits."""
    digits = random.Random(f"transaction:{plan.account_number}:{moment:%Y%m%d}").randrange(10**16)
    return f"4200{business_day(moment):%Y%m%d}{digits:016d}"


@contextmanager
def ledger_clock_at(ledger: HeatLedger, moment: datetime) -> Iterator[None]:
    """The ledger's clock stands at ``moment`` inside the block. The demo loads before anything
    else uses the store (``serve --demo`` serves afterwards), so no other command sees it."""
    running = ledger.clock
    ledger.clock = lambda: moment
    try:
        yield
    finally:
        ledger.clock = running
