"""The gateway's recorder threads (issue 14): each device's messages go to one recorder, recorders
never share an aggregate lock, and acknowledgements leave in the order the messages came however
the recorders finish (MQTT 4.6), each once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.locks import KeyedLocks
from domain.valve import room_controller_id
from infrastructure.mqtt.connection import BrokerOptions
from infrastructure.mqtt.gateway import RECORDER_COUNTS, Gateway, GatewayConfig, _InOrderAcks, _Received
from infrastructure.mqtt.topics import TopicScheme

DEVICES = [f"RC-{number:06d}" for number in range(1, 401)]


def gateway(recorders: int) -> Gateway:
    config = GatewayConfig(TopicScheme("test"), recorders=recorders)
    return Gateway(ledger=None, options=BrokerOptions(), config=config, clock=lambda: datetime.now(UTC))  # type: ignore[arg-type]


@pytest.mark.parametrize("recorders", RECORDER_COUNTS)
def test_a_devices_reports_and_answers_go_to_one_recorder_and_recorders_share_no_lock(recorders: int) -> None:
    bridge = gateway(recorders)
    scheme = bridge.config.scheme
    stripes_of: dict[int, set[int]] = {number: set() for number in range(recorders)}
    locks = KeyedLocks()
    for device_id in DEVICES:
        recorder = bridge._recorder_of(scheme.reports(device_id))
        assert bridge._recorder_of(scheme.acks(device_id)) == recorder
        stripes_of[recorder].add(locks.stripe_of(room_controller_id(device_id)))
    assert all(stripes_of.values()), "every recorder has devices"
    for number in range(recorders):
        for other in range(number + 1, recorders):
            assert not stripes_of[number] & stripes_of[other]
    assert bridge._recorder_of("not/a/device/topic") == 0  # quarantined by the first


def test_recorders_are_a_power_of_two() -> None:
    with pytest.raises(AssertionError):
        gateway(3)


def message(sequence: int) -> _Received:
    return _Received("t", b"", mid=sequence % 65535 + 1, qos=1, connection=1, sequence=sequence)


@st.composite
def finishing_orders(draw: Any) -> tuple[int, list[list[int]]]:
    """Messages 0..n-1 dealt to recorders, each recorder finishing its messages in batches in
    arrival order; the batches of all recorders interleaved in a drawn order."""
    count = draw(st.integers(1, 60))
    recorders = draw(st.sampled_from(RECORDER_COUNTS))
    owner = draw(st.lists(st.integers(0, recorders - 1), min_size=count, max_size=count))
    queues = [[sequence for sequence in range(count) if owner[sequence] == recorder] for recorder in range(recorders)]
    batches: list[list[int]] = []
    while any(queues):
        recorder = draw(st.sampled_from([number for number, queue in enumerate(queues) if queue]))
        size = draw(st.integers(1, len(queues[recorder])))
        batches.append(queues[recorder][:size])
        queues[recorder] = queues[recorder][size:]
    return count, batches


@given(finishing_orders())
def test_acknowledgements_leave_in_arrival_order_each_once(case: tuple[int, list[list[int]]]) -> None:
    count, batches = case
    sent: list[int] = []
    acks = _InOrderAcks(lambda received: sent.append(received.sequence))
    finished: set[int] = set()
    for batch in batches:
        acks.done([message(sequence) for sequence in batch])
        finished.update(batch)
        # Sent: exactly the longest run of finished messages from the first.
        run = next((sequence for sequence in range(count) if sequence not in finished), count)
        assert sent == list(range(run))
    assert sent == list(range(count))
    acks.done([message(0)])  # a message finished again (a retried batch) is not acknowledged twice
    assert sent == list(range(count))
