"""The Payment aggregate (received once per source and reference, reversed at most once) and the
RefundPayout aggregate (requested, approved by a second person, paid out), the same after a
replay through the ledger's transcoder."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex

from application.transcodings import register_ledger_transcodings
from domain import ids
from domain.errors import ConflictError, InvalidInputError, PermissionDeniedError
from domain.payment import Payment, PaymentChannel, RefundPayout, RefundStatus, ReversalKind
from tests.strategies import context

D = Decimal
ACCOUNT = "0101"
HOUSEHOLD = ids.household_id(ACCOUNT)
PREPAYMENT_BILL = ids.bill_id(ACCOUNT, "2025-2026", "prepayment", "season")
RECEIVED_ON = date(2025, 10, 25)
# 10:30 in Shanghai on 25 October.
RECEIVED_AT = datetime(2025, 10, 25, 2, 30, tzinfo=UTC)


def ledger_transcoder() -> JSONTranscoder:
    """The JSON transcoder the ledger stores events with (HeatLedger.register_transcodings)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    register_ledger_transcodings(transcoder)
    return transcoder


def replayed(events: list[Any]) -> Any:
    copy: Aggregate | None = None
    for pending in events:
        copy = pending.mutate(copy)
    assert copy is not None
    return copy


def stored_and_replayed(events: list[Any]) -> Any:
    mapper = Mapper(transcoder=ledger_transcoder())
    return replayed([mapper.to_domain_event(mapper.to_stored_event(pending)) for pending in events])


def receive(
    amount: str | Decimal = "2000.00",
    channel: PaymentChannel = PaymentChannel.CASH,
    source: str = "counter",
    reference: str = "R-0001",
    named_bill_id: UUID | None = None,
    actor: str = "clerk-li",
) -> Payment:
    return Payment.receive(
        HOUSEHOLD,
        ACCOUNT,
        D(amount),
        channel,
        source,
        reference,
        RECEIVED_AT,
        RECEIVED_ON,
        named_bill_id,
        context(actor=actor, reason="paid at the counter"),
    )


def request(amount: str = "195.00", request_number: str = "RF-01", actor: str = "clerk-li") -> RefundPayout:
    return RefundPayout.request(
        HOUSEHOLD, ACCOUNT, request_number, D(amount), date(2026, 4, 5), context(actor=actor, reason="wants it back")
    )


# -- receiving ---------------------------------------------------------------------------------


def test_a_payment_at_the_counter_is_received_with_its_amount_to_the_fen() -> None:
    payment = receive("2000", named_bill_id=PREPAYMENT_BILL)
    assert payment.id == ids.payment_id("counter", "R-0001")
    assert (payment.household_id, payment.account_number) == (HOUSEHOLD, ACCOUNT)
    assert str(payment.amount_yuan) == "2000.00"
    assert payment.channel is PaymentChannel.CASH
    assert (payment.source, payment.reference, payment.received_on) == ("counter", "R-0001", RECEIVED_ON)
    assert payment.named_bill_id == PREPAYMENT_BILL
    assert (payment.is_reversed, payment.reversed_on) == (False, None)
    (received,) = payment.collect_events()
    assert isinstance(received, Payment.Received)
    assert (received.received_at, received.actor, received.reason) == (RECEIVED_AT, "clerk-li", "paid at the counter")


@pytest.mark.parametrize(
    ("channel", "source"),
    [
        (PaymentChannel.CASH, "counter"),
        (PaymentChannel.CARD, "counter"),
        (PaymentChannel.BANK_TRANSFER, " counter "),  # blanks around the source are dropped
        (PaymentChannel.ONLINE, "alipay"),
        (PaymentChannel.ONLINE, "wechat_pay"),
    ],
)
def test_each_channel_comes_through_its_source(channel: PaymentChannel, source: str) -> None:
    payment = receive(channel=channel, source=source)
    assert (payment.channel, payment.source) == (channel, source.strip())


@pytest.mark.parametrize(
    ("channel", "source"),
    [
        (PaymentChannel.CASH, "alipay"),
        (PaymentChannel.CARD, "wechat_pay"),
        (PaymentChannel.BANK_TRANSFER, "icbc"),
        (PaymentChannel.CASH, "Counter"),  # the source is a code, not a word
        (PaymentChannel.ONLINE, "counter"),
        (PaymentChannel.ONLINE, " counter "),
    ],
)
def test_a_channel_through_the_wrong_source_is_refused(channel: PaymentChannel, source: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        receive(channel=channel, source=source)
    assert raised.value.message_key == "payment_channel_mismatch"
    assert raised.value.params == {"channel": channel.value, "source": source.strip()}


@pytest.mark.parametrize(
    ("amount", "message_key"),
    [
        (D(0), "amount_not_positive"),
        (D("-2000.00"), "amount_not_positive"),
        (D("NaN"), "amount_not_positive"),
        (D("10.001"), "amount_too_precise"),
        (D("1000000.01"), "amount_too_large"),
    ],
)
def test_a_payments_amount_is_checked(amount: Decimal, message_key: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        receive(amount)
    assert raised.value.message_key == message_key


@pytest.mark.parametrize("reference", ["", "   ", "R" * 65])
def test_a_payment_needs_a_reference_of_sensible_length(reference: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        receive(reference=reference)
    assert raised.value.message_key == "text_length"
    assert raised.value.params["field"] == "reference"


def test_the_id_is_the_source_and_reference_so_a_receipt_is_never_recorded_twice() -> None:
    first = receive(reference="R-0001")
    assert receive(reference="R-0001", amount="5.00", actor="clerk-wang").id == first.id  # the same receipt
    assert receive(reference=" R-0001 ").id == first.id  # blanks are not part of the reference
    assert receive(reference="R-0002").id != first.id
    # The same number from a provider is another payment.
    online = receive(channel=PaymentChannel.ONLINE, source="alipay", reference="R-0001")
    assert online.id == ids.payment_id("alipay", "R-0001") != first.id


# -- reversing ---------------------------------------------------------------------------------


def test_a_payment_is_reversed_with_who_and_why() -> None:
    payment = receive(channel=PaymentChannel.BANK_TRANSFER)
    payment.reverse(ReversalKind.BOUNCED, date(2025, 10, 28), context(actor="clerk-wang", reason="bounced"))
    assert (payment.is_reversed, payment.reversed_on) == (True, date(2025, 10, 28))
    reversal = payment.collect_events()[-1]
    assert isinstance(reversal, Payment.Reversed)
    assert (reversal.kind, reversal.actor, reversal.reason) == ("bounced", "clerk-wang", "bounced")


def test_a_payment_can_be_reversed_on_the_day_it_was_received() -> None:
    payment = receive()
    payment.reverse(ReversalKind.ERROR, RECEIVED_ON, context())
    assert payment.reversed_on == RECEIVED_ON


def test_a_payment_is_reversed_only_once() -> None:
    payment = receive()
    payment.reverse(ReversalKind.CHARGEBACK, date(2025, 11, 2), context())
    with pytest.raises(ConflictError) as raised:
        payment.reverse(ReversalKind.ERROR, date(2025, 11, 3), context())
    assert raised.value.message_key == "payment_already_reversed"
    assert raised.value.params == {"reference": "R-0001"}
    assert payment.reversed_on == date(2025, 11, 2)  # the first reversal stands
    assert len(payment.collect_events()) == 2


def test_a_payment_cannot_be_reversed_before_it_was_received() -> None:
    payment = receive()
    with pytest.raises(InvalidInputError) as raised:
        payment.reverse(ReversalKind.ERROR, date(2025, 10, 24), context())
    assert raised.value.message_key == "reversal_before_payment"
    assert raised.value.params == {"field": "reversed_on"}
    assert not payment.is_reversed
    assert len(payment.collect_events()) == 1  # nothing recorded


@pytest.mark.parametrize("named_bill_id", [None, PREPAYMENT_BILL])
@pytest.mark.parametrize("reverse", [False, True])
def test_a_replayed_payment_equals_the_live_one(named_bill_id: UUID | None, reverse: bool) -> None:
    payment = receive("2160", channel=PaymentChannel.ONLINE, source="alipay", named_bill_id=named_bill_id)
    if reverse:
        payment.reverse(ReversalKind.CHARGEBACK, date(2025, 12, 1), context())
    events = payment.collect_events()
    copy = stored_and_replayed(events)
    assert copy == payment  # every attribute, version and timestamps included
    assert copy.channel is PaymentChannel.ONLINE
    assert (copy.amount_yuan, str(copy.amount_yuan)) == (D("2160.00"), "2160.00")
    assert (copy.received_on, copy.named_bill_id) == (RECEIVED_ON, named_bill_id)
    assert copy.reversed_on == (date(2025, 12, 1) if reverse else None)
    # The stored event comes back with its payload, the moment of receipt included.
    mapper = Mapper(transcoder=ledger_transcoder())
    received = mapper.to_domain_event(mapper.to_stored_event(events[0]))
    assert (received.received_at, received.named_bill_id, received.channel) == (RECEIVED_AT, named_bill_id, "online")


# -- refund payouts ----------------------------------------------------------------------------


def test_a_refund_is_requested_approved_by_a_second_person_and_paid_out() -> None:
    refund = request("195")
    assert refund.id == ids.refund_id(ACCOUNT, "RF-01")
    assert (refund.household_id, refund.account_number, refund.request_number) == (HOUSEHOLD, ACCOUNT, "RF-01")
    assert (str(refund.amount_yuan), refund.requested_on) == ("195.00", date(2026, 4, 5))
    assert (refund.status, refund.requested_by, refund.approved_by) == (RefundStatus.REQUESTED, "clerk-li", None)
    refund.approve(context(actor="supervisor-zhao", reason="checked the credit"))
    assert (refund.status, refund.approved_by) == (RefundStatus.APPROVED, "supervisor-zhao")
    refund.pay_out(date(2026, 4, 8), " TRF-778 ", context(actor="cashier-sun"))
    assert refund.status is RefundStatus.PAID
    paid = refund.collect_events()[-1]
    assert isinstance(paid, RefundPayout.PaidOut)
    assert (paid.paid_on, paid.reference, paid.actor) == (date(2026, 4, 8), "TRF-778", "cashier-sun")


def test_the_requester_cannot_approve_their_own_refund() -> None:
    refund = request(actor="clerk-li")
    with pytest.raises(PermissionDeniedError) as raised:
        refund.approve(context(actor="clerk-li"))
    assert raised.value.message_key == "second_person_required"
    assert raised.value.params == {"requested_by": "clerk-li"}
    assert (refund.status, refund.approved_by) == (RefundStatus.REQUESTED, None)
    assert len(refund.collect_events()) == 1


def test_a_refund_is_not_paid_out_before_it_is_approved() -> None:
    refund = request()
    with pytest.raises(ConflictError) as raised:
        refund.pay_out(date(2026, 4, 8), "TRF-778", context(actor="cashier-sun"))
    assert raised.value.message_key == "refund_status_conflict"
    assert raised.value.params == {"status": "requested"}
    assert refund.status is RefundStatus.REQUESTED


@pytest.mark.parametrize("then", ["approve", "reject", "pay_out"])
def test_a_rejected_refund_stays_rejected(then: str) -> None:
    refund = request()
    refund.reject(context(actor="supervisor-zhao", reason="the credit was used"))
    assert refund.status is RefundStatus.REJECTED
    with pytest.raises(ConflictError) as raised:
        if then == "pay_out":
            refund.pay_out(date(2026, 4, 8), "TRF-778", context(actor="cashier-sun"))
        else:
            getattr(refund, then)(context(actor="supervisor-qian"))
    assert raised.value.message_key == "refund_status_conflict"
    assert raised.value.params == {"status": "rejected"}
    assert refund.status is RefundStatus.REJECTED


def test_an_approved_refund_is_approved_or_rejected_no_more_and_paid_once() -> None:
    refund = request()
    refund.approve(context(actor="supervisor-zhao"))
    for decide in (refund.approve, refund.reject):
        with pytest.raises(ConflictError) as raised:
            decide(context(actor="supervisor-qian"))
        assert raised.value.params == {"status": "approved"}
    refund.pay_out(date(2026, 4, 8), "TRF-778", context(actor="cashier-sun"))
    with pytest.raises(ConflictError) as raised:
        refund.pay_out(date(2026, 4, 9), "TRF-779", context(actor="cashier-sun"))
    assert (raised.value.message_key, raised.value.params) == ("refund_status_conflict", {"status": "paid"})
    assert len(refund.collect_events()) == 3  # requested, approved, paid out


def test_a_requester_approving_a_rejected_refund_hears_about_the_status_first() -> None:
    refund = request(actor="clerk-li")
    refund.reject(context(actor="supervisor-zhao"))
    with pytest.raises(ConflictError):
        refund.approve(context(actor="clerk-li"))


@pytest.mark.parametrize(
    ("amount", "message_key"),
    [("0", "amount_not_positive"), ("-195.00", "amount_not_positive"), ("0.001", "amount_too_precise")],
)
def test_a_refunds_amount_is_checked(amount: str, message_key: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        request(amount)
    assert raised.value.message_key == message_key


def test_a_refunds_id_is_the_account_and_request_number() -> None:
    assert request(request_number=" RF-01 ").id == request(request_number="RF-01").id == ids.refund_id(ACCOUNT, "RF-01")
    assert request(request_number="RF-02").id != request(request_number="RF-01").id


@pytest.mark.parametrize("outcome", ["requested", "approved", "paid", "rejected"])
def test_a_replayed_refund_equals_the_live_one(outcome: str) -> None:
    refund = request("195")
    if outcome in ("approved", "paid"):
        refund.approve(context(actor="supervisor-zhao"))
    if outcome == "paid":
        refund.pay_out(date(2026, 4, 8), "TRF-778", context(actor="cashier-sun"))
    if outcome == "rejected":
        refund.reject(context(actor="supervisor-zhao"))
    copy = stored_and_replayed(refund.collect_events())
    assert copy == refund
    assert copy.status is RefundStatus(outcome)
    assert (copy.requested_by, copy.amount_yuan, copy.requested_on) == ("clerk-li", D("195.00"), date(2026, 4, 5))
    assert copy.approved_by == ("supervisor-zhao" if outcome in ("approved", "paid") else None)
