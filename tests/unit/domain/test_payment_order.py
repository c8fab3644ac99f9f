"""The PaymentOrder aggregate (issue 16): its lifecycle rules, and two properties over any sequence
of notifications, expiries and resolutions: replaying the stored events gives the state the
commands built, and the order is paid at most once (each payment booked once)."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

from application.transcodings import register_ledger_transcodings
from domain import ids
from domain.errors import ConflictError, InvalidInputError
from domain.payment_order import (
    ORDER_VALIDITY,
    FlagCause,
    OrderStatus,
    PaymentOrder,
    Resolution,
    Verdict,
    order_id,
)
from tests.strategies import context

D = Decimal
NUMBER = "HL20251210K7QX2M9D4TPA"
PROVIDER = "hmac-json"
CREATED_AT = datetime(2025, 12, 10, 4, 0, tzinfo=UTC)
ORDER_PAYMENT = ids.payment_id(PROVIDER, NUMBER)


def new_order(amount: str = "1944.00") -> PaymentOrder:
    return PaymentOrder.create(
        NUMBER, PROVIDER, ids.household_id("WZ-0001"), "WZ-0001", D(amount), None, CREATED_AT, context("clerk-wang")
    )


def stored_and_replayed(order: PaymentOrder) -> PaymentOrder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    register_ledger_transcodings(transcoder)
    mapper = Mapper(transcoder=transcoder)
    copy: Aggregate | None = None
    for pending in order.collect_events():
        copy = mapper.to_domain_event(mapper.to_stored_event(pending)).mutate(copy)
    assert isinstance(copy, PaymentOrder)
    return copy


def test_an_order_is_created_open_with_its_validity_and_an_id_of_its_number() -> None:
    order = new_order("12.3")
    assert (order.id, order.status, order.amount_yuan) == (order_id(NUMBER), OrderStatus.OPEN, D("12.30"))
    assert order.expires_at == CREATED_AT + ORDER_VALIDITY
    with pytest.raises(InvalidInputError):
        PaymentOrder.create("X1", PROVIDER, ids.household_id("A"), "A", D(1), None, CREATED_AT, context())
    with pytest.raises(InvalidInputError):
        new_order("0.00")


def test_a_notification_of_the_amount_books_then_acknowledges() -> None:
    order = new_order()
    assert order.judge("T-1", D("1944.00")).verdict is Verdict.BOOK
    order.pay(ORDER_PAYMENT, "T-1", CREATED_AT, context("provider:hmac-json"))
    assert order.judge("T-1", D("1944.00")).payment_id == ORDER_PAYMENT
    with pytest.raises(ConflictError) as twice:
        order.pay(ORDER_PAYMENT, "T-1", CREATED_AT, context())
    assert twice.value.message_key == "payment_order_not_open"


def test_an_order_is_paid_only_by_the_payment_of_its_number() -> None:
    with pytest.raises(ConflictError):
        new_order().pay(ids.payment_id(PROVIDER, "T-1"), "T-1", CREATED_AT, context())


def test_a_flag_keeps_the_first_contradiction_and_a_resolution_is_once_with_why() -> None:
    order = new_order()
    assert order.judge("T-1", D("1.00")).cause is FlagCause.AMOUNT_MISMATCH
    assert order.flag(FlagCause.AMOUNT_MISMATCH, D("1.00"), "T-1", CREATED_AT, context())
    assert not order.flag(FlagCause.AMOUNT_MISMATCH, D("2.00"), "T-2", CREATED_AT, context())
    assert (order.received_amount_yuan, order.received_transaction_id) == (D("1.00"), "T-1")
    with pytest.raises(ConflictError) as flagged:
        order.judge("T-1", D("1944.00"))
    assert flagged.value.message_key == "payment_order_flagged"
    with pytest.raises(InvalidInputError):
        order.resolve(Resolution.REJECT, None, CREATED_AT, context(reason=" "))
    with pytest.raises(ConflictError):
        order.resolve(Resolution.ACCEPT_RECEIVED, ORDER_PAYMENT, CREATED_AT, context())
    order.resolve(Resolution.ACCEPT_RECEIVED, order.acceptance_payment_id(), CREATED_AT, context("clerk-li", "ok"))
    assert (order.status, order.resolved_by, order.resolution_reason) == (OrderStatus.RESOLVED, "clerk-li", "ok")
    with pytest.raises(ConflictError) as again:
        order.resolve(Resolution.REJECT, None, CREATED_AT, context())
    assert again.value.message_key == "payment_order_resolved"


def test_only_an_open_order_past_its_validity_expires_and_a_later_payment_is_flagged() -> None:
    order = new_order()
    with pytest.raises(ConflictError) as early:
        order.expire(CREATED_AT + ORDER_VALIDITY - timedelta(seconds=1), context())
    assert early.value.message_key == "payment_order_still_valid"
    order.expire(CREATED_AT + ORDER_VALIDITY, context("system", "validity passed"))
    assert order.status is OrderStatus.EXPIRED
    assert order.judge("T-1", D("1944.00")).cause is FlagCause.PAID_AFTER_EXPIRY
    with pytest.raises(ConflictError):
        order.expire(CREATED_AT + 2 * ORDER_VALIDITY, context())


# -- properties -----------------------------------------------------------------------------------

AMOUNTS = st.sampled_from([D("1944.00"), D("1944.00"), D("1.00"), D("2000.00")])
TRANSACTIONS = st.sampled_from(["T-1", "T-2", "T-3"])
ACTIONS = st.one_of(
    st.tuples(st.just("notify"), TRANSACTIONS, AMOUNTS),
    st.tuples(st.just("expire"), st.integers(0, 3)),  # hours after creation
    st.tuples(st.just("resolve"), st.sampled_from(list(Resolution))),
)


class Channel:
    """What the application does with each action (application.payment_orders), without a store:
    it counts the payments each action would book."""

    def __init__(self) -> None:
        self.order = new_order()
        self.booked: list[Any] = []

    def notify(self, transaction_id: str, amount: Decimal) -> None:
        judgement = self.order.judge(transaction_id, amount)
        if judgement.verdict is Verdict.FLAG:
            assert judgement.cause is not None
            self.order.flag(judgement.cause, amount, transaction_id, CREATED_AT, context("provider:hmac-json"))
        elif judgement.verdict is Verdict.BOOK:
            self.order.pay(ORDER_PAYMENT, transaction_id, CREATED_AT, context("provider:hmac-json"))
            self.booked.append(ORDER_PAYMENT)
        else:
            assert judgement.payment_id in self.booked, "an acknowledgement names a payment booked before"

    def expire(self, hours: int) -> None:
        self.order.expire(CREATED_AT + timedelta(hours=hours), context("system", "validity passed"))

    def resolve(self, decision: Resolution) -> None:
        if decision is Resolution.REJECT:
            self.order.resolve(decision, None, CREATED_AT, context("clerk-li", "refunded"))
            return
        payment_id = self.order.acceptance_payment_id()
        self.order.resolve(decision, payment_id, CREATED_AT, context("clerk-li", "the payer confirms"))
        self.booked.append(payment_id)

    def run(self, action: tuple[Any, ...]) -> None:
        with suppress(ConflictError):  # refused: nothing changed
            getattr(self, action[0])(*action[1:])


@settings(max_examples=300, deadline=None)
@given(st.lists(ACTIONS, max_size=12))
def test_any_sequence_pays_an_order_at_most_once_and_replays_to_the_same_state(actions: list[Any]) -> None:
    channel = Channel()
    for action in actions:
        channel.run(action)
    order = channel.order
    assert len(channel.booked) == len(set(channel.booked)), "each payment is booked once"
    assert channel.booked.count(ORDER_PAYMENT) <= 1, "the order's own payment is booked at most once"
    assert len(channel.booked) <= 2, "its own payment, and at most one a clerk accepted"
    if order.payment_id is not None:
        assert order.payment_id == ORDER_PAYMENT and ORDER_PAYMENT in channel.booked
    if order.resolution_payment_id is not None:
        assert order.resolution_payment_id != order.payment_id
    assert stored_and_replayed(order).as_order() == order.as_order()
