"""The gateway: bridges the room controllers' MQTT topics and the ledger (`heatledger gateway`).

Up: reports and acknowledgements arrive on paho's network thread, which only queues them, each
device's with the same recorder. The gateway's recorder threads (``recorders``, each for its own
share of the devices) take them in batches, record them in the ledger (reports of a batch in one
save), and only then acknowledge them to the broker: a gateway that stops between the two gets
them again from its persistent session, and a report delivered twice is recorded once. The
recorders save side by side: one encodes and judges its batch while the database inserts the
other's. Acknowledgements leave in the order the messages came (MQTT 4.6: PUBACKs in the order of
the PUBLISHes), each once every message before it is recorded too.

Down: every ``dispatch_interval`` the gateway asks the ledger for the commands due (new, or due
for a retry), records each attempt, then publishes it with QoS 1. A command is the ledger's
until the device acknowledges it: while the broker is unreachable nothing is taken, and an
attempt the broker never confirmed is simply due again later. Commands past their last retry are
recorded as timed out.

Besides: every ``arrears_interval_seconds`` the gateway runs the arrears restrictions (restrict the
flagged households' valves, lift the paid ones' by themselves; ``application/valve_arrears.py``),
so the commands they queue go out on its next dispatch round. A failure there is logged and does
not hold up reports or commands.

A message the ledger refuses for good (malformed, an unknown device, a rule) is quarantined and
acknowledged; a failure of the ledger itself (database down) is retried with backoff, and the
message stays unacknowledged until it is recorded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from domain.errors import LedgerError
from domain.valve import room_controller_id
from infrastructure.mqtt.connection import QOS_AT_LEAST_ONCE, BrokerOptions, new_client, start, stop
from infrastructure.mqtt.payloads import AckMessage, AckResult, CommandMessage, PayloadError, ReportMessage, encode
from infrastructure.mqtt.topics import Channel, DeviceTopic, TopicError, TopicScheme

logger = logging.getLogger(__name__)

# The broker confirms a published command within this, or the attempt counts as not delivered.
PUBLISH_TIMEOUT_SECONDS = 5.0
# Messages waiting for one recorder thread; past this the network thread waits for room.
INBOX_CAPACITY = 5000
# How many recorder threads may run (each saves its own share of the devices' reports): powers of
# two, so that routing by the controller's id modulo their number gives each recorder aggregate
# locks of its own (application/locks.py stripes ids by id modulo 1,024; two recorders whose
# controllers shared stripes would wait for each other).
RECORDER_COUNTS = (1, 2, 4, 8)
# Topics whose recorder the network thread remembers (a topic per device and channel; past this
# it forgets them all and starts again).
REMEMBERED_TOPICS = 100_000
INBOX_WAIT_SECONDS = 0.5
# Commands taken from the ledger per dispatch round.
DISPATCH_LIMIT = 200
# Waiting after a failure of the ledger: 1, 2, 4, ... up to this many seconds.
LEDGER_BACKOFF_MAXIMUM_SECONDS = 60.0


@dataclass(frozen=True)
class OutgoingCommand:
    """A command the ledger wants sent now: its attempt number counts the sendings."""

    device_id: str
    command_id: str
    kind: str
    params: dict[str, Any]
    attempt: int


@dataclass(frozen=True)
class IncomingReport:
    device_id: str
    report: ReportMessage


class DeviceLedger(Protocol):
    """What the gateway needs of the ledger (``infrastructure.mqtt.ledger_port`` adapts the
    application's RoomControllers to it)."""

    def commands_to_dispatch(self, limit: int) -> Sequence[OutgoingCommand]: ...

    def record_dispatch(self, command: OutgoingCommand, at: datetime) -> None: ...

    def record_acknowledgement(self, device_id: str, ack: AckMessage, at: datetime) -> None: ...

    def record_timeouts(self, now: datetime) -> int: ...

    def record_reports(self, reports: Sequence[IncomingReport]) -> int:
        """Record reports in one save; returns how many were new (the others were duplicates)."""
        ...

    def quarantine(self, topic: str, reason: str, detail: str, payload: bytes) -> None: ...


@dataclass(frozen=True)
class _Received:
    """A message from the network thread, with the connection it came on (its ``mid`` is only
    meaningful on that connection: after a reconnection the broker sends it again)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int
    sequence: int = -1  # its place in the order messages arrived in (-1: not from the network)


@dataclass
class GatewayCounts:
    """What the gateway did since it started (logged, and read by the benchmark)."""

    reports_recorded: int = 0
    reports_duplicate: int = 0
    acknowledgements: int = 0
    refusals: int = 0
    quarantined: int = 0
    dispatched: int = 0
    timed_out: int = 0
    ledger_failures: int = 0
    arrears_runs: int = 0
    arrears_failures: int = 0


@dataclass
class GatewayConfig:
    scheme: TopicScheme = field(default_factory=TopicScheme)
    dispatch_interval_seconds: float = 1.0
    report_batch_size: int = 500
    # How long the gateway waits for more messages to fill a batch once one has come.
    batch_linger_seconds: float = 0.005
    # Threads recording reports side by side, each for its own share of the devices (a device's
    # messages always go to the same one, in the order they came).
    recorders: int = 2
    # How often the arrears restrictions run on the gateway's loop (None: never; the first run
    # comes right after the start).
    arrears_interval_seconds: float | None = None


class Gateway:
    """One gateway process: a paho client under its own client id, and the thread that records."""

    def __init__(
        self,
        ledger: DeviceLedger,
        options: BrokerOptions,
        config: GatewayConfig,
        clock: Callable[[], datetime],
        reconcile_arrears: Callable[[], object] | None = None,
    ) -> None:
        self.ledger = ledger
        # The arrears restrictions' run (``ArrearsRestrictions.reconcile`` under its process).
        self.reconcile_arrears = reconcile_arrears
        self.options = options
        self.config = config
        self.clock = clock
        self.counts = GatewayCounts()
        self._counts_lock = threading.Lock()  # counts are added to by every thread
        assert config.recorders in RECORDER_COUNTS, f"recorders: one of {RECORDER_COUNTS}"
        # Bounded: when the ledger falls behind, the network thread waits (see _on_message).
        self._inboxes: list[queue.Queue[_Received]] = [
            queue.Queue(maxsize=INBOX_CAPACITY) for _ in range(config.recorders)
        ]
        self._arrived = 0  # messages taken from the network (their sequence numbers)
        self._recorder_of_topic: dict[str, int] = {}  # the network thread's alone
        self._acks = _InOrderAcks(self._acknowledge)
        self._connection = 0  # counts connections: a message's mid is valid on its own only
        self._connected = threading.Event()  # set once the subscriptions are granted
        self._subscription_mid: int | None = None
        self._stopping = threading.Event()
        self._client = new_client(options, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._threads: list[threading.Thread] = []

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (in the background, reconnecting as needed) and start recording."""
        start(self._client, self.options, persistent=True)
        self._threads = [threading.Thread(target=self.run, name="gateway", daemon=True)] + [
            threading.Thread(target=self._run_recorder, args=(inbox,), name=f"gateway-recorder-{number}", daemon=True)
            for number, inbox in enumerate(self._inboxes, start=1)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop recording, then disconnect; unacknowledged messages stay with the broker."""
        self._stopping.set()
        deadline = time.monotonic() + timeout_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stop(self._client)

    def wait_connected(self, timeout_seconds: float) -> bool:
        return self._connected.wait(timeout_seconds)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -- the network thread: only queue ---------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode, _props: Any) -> None:
        if reason.is_failure:
            logger.warning("the broker refused the gateway %s: %s", self.options.client_id, reason)
            return
        self._connection += 1
        scheme = self.config.scheme
        _result, self._subscription_mid = client.subscribe(
            [(scheme.every_device(Channel.REPORTS), QOS_AT_LEAST_ONCE), (scheme.every_device(Channel.ACKS), 1)]
        )
        logger.info("gateway %s connected (session kept: %s)", self.options.client_id, flags.session_present)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        """Connected once the broker granted the subscriptions, not at its CONNACK: a device's
        message published in between would find no subscriber on a new session and be lost."""
        if mid != self._subscription_mid:
            return
        if any(reason.is_failure for reason in reasons):
            logger.warning("the broker refused the gateway %s's subscriptions: %s", self.options.client_id, reasons)
            return
        self._connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _p: Any) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            logger.warning("gateway %s lost the broker (%s); reconnecting", self.options.client_id, reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        """Queue the message for the gateway's thread. A full inbox blocks this network thread:
        the socket is then not read, and the broker keeps the devices' reports queued for us
        (backpressure) instead of the gateway dropping one it would never be sent again."""
        sequence, self._arrived = self._arrived, self._arrived + 1
        topic = message.topic
        received = _Received(topic, bytes(message.payload), message.mid, message.qos, self._connection, sequence)
        inbox = self._inboxes[self._recorder_of(topic)]
        if message.qos == 0:  # not the schema's; kept if there is room, never waited for
            try:
                inbox.put_nowait(received)
            except queue.Full:
                self._acks.done([received])  # dropped: nothing to acknowledge, nothing to wait for
            return
        while not self._stopping.is_set():
            try:
                inbox.put(received, timeout=INBOX_WAIT_SECONDS)
                return
            except queue.Full:
                continue

    def _recorder_of(self, topic: str) -> int:
        """The recorder of the topic's device (a topic not of a device: the first, which quarantines it)."""
        found = self._recorder_of_topic.get(topic)
        if found is None:
            try:
                found = room_controller_id(self.config.scheme.parse(topic).device_id).int % len(self._inboxes)
            except TopicError:
                found = 0
            if len(self._recorder_of_topic) >= REMEMBERED_TOPICS:
                self._recorder_of_topic.clear()
            self._recorder_of_topic[topic] = found
        return found

    # -- the gateway's thread: record, acknowledge, dispatch --------------------------------------

    def run(self) -> None:
        """Send what is due and run the arrears restrictions, until ``stop``."""
        next_dispatch = next_arrears = time.monotonic()
        backoff = 1.0
        while not self._stopping.wait(max(0.0, min(next_dispatch, next_arrears) - time.monotonic())):
            try:
                if time.monotonic() >= next_dispatch:
                    self._dispatch_round()
                    next_dispatch = time.monotonic() + self.config.dispatch_interval_seconds
                if time.monotonic() >= next_arrears:
                    next_arrears = self._arrears_round()
                backoff = 1.0
            except Exception:  # the ledger itself failed: retry
                self._count("ledger_failures", 1)
                logger.exception("the ledger failed; the gateway retries in %.0f s", backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, LEDGER_BACKOFF_MAXIMUM_SECONDS)

    def _run_recorder(self, inbox: queue.Queue[_Received]) -> None:
        """Record what arrives in ``inbox``, until ``stop``."""
        backoff = 1.0
        pending: list[_Received] = []
        while not self._stopping.is_set():
            pending = pending or self._take_batch(inbox, INBOX_WAIT_SECONDS)
            try:
                if pending:
                    self._record(pending)
                    pending = []
                backoff = 1.0
            except Exception:  # the ledger itself failed: keep the messages, unacknowledged, and retry
                self._count("ledger_failures", 1)
                logger.exception("the ledger failed; the gateway retries in %.0f s", backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, LEDGER_BACKOFF_MAXIMUM_SECONDS)

    def _take_batch(self, inbox: queue.Queue[_Received], wait_seconds: float) -> list[_Received]:
        """Up to a batch of messages: waits for the first, then lingers briefly for more."""
        try:
            batch = [inbox.get(timeout=max(wait_seconds, 0.001))]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.config.batch_linger_seconds
        while len(batch) < self.config.report_batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(inbox.get(timeout=remaining) if remaining > 0 else inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _record(self, batch: Sequence[_Received]) -> None:
        """Record a batch's reports (one save) and acknowledgements, then acknowledge them all
        (each as soon as every message that came before it is recorded too)."""
        reports: list[IncomingReport] = []
        for received in batch:
            parsed = self._parse(received)
            if isinstance(parsed, IncomingReport):
                reports.append(parsed)
            elif parsed is not None:
                self._record_ack(received, *parsed)
        self._record_reports(reports)
        self._acks.done(batch)

    def _count(self, name: str, added: int) -> None:
        with self._counts_lock:
            setattr(self.counts, name, getattr(self.counts, name) + added)

    def _parse(self, received: _Received) -> IncomingReport | tuple[str, AckMessage] | None:
        try:
            where = self.config.scheme.parse(received.topic)
            return self._decode(where, received.payload)
        except (TopicError, PayloadError) as error:
            self._quarantine(received, "invalid_payload", str(error))
            return None

    @staticmethod
    def _decode(where: DeviceTopic, payload: bytes) -> IncomingReport | tuple[str, AckMessage]:
        if where.channel is Channel.REPORTS:
            return IncomingReport(where.device_id, ReportMessage.decode(payload))
        if where.channel is Channel.ACKS:
            return where.device_id, AckMessage.decode(payload)
        raise TopicError(f"the gateway does not take {where.channel.value} from devices")

    def _record_ack(self, received: _Received, device_id: str, ack: AckMessage) -> None:
        try:
            self.ledger.record_acknowledgement(device_id, ack, self.clock())
        except LedgerError as refused:
            self._quarantine(received, "refused", str(refused))
            return
        self._count("acknowledgements" if ack.result is AckResult.ACCEPTED else "refusals", 1)

    def _record_reports(self, reports: Sequence[IncomingReport]) -> None:
        """One save for the batch; when the ledger refuses one of them, each is recorded alone so
        the others are kept and only the refused one is quarantined."""
        if not reports:
            return
        try:
            self._count_reports(len(reports), self.ledger.record_reports(reports))
            return
        except LedgerError:
            pass
        for report in reports:
            try:
                self._count_reports(1, self.ledger.record_reports([report]))
            except LedgerError as refused:
                payload = encode(report.report)
                topic = self.config.scheme.reports(report.device_id)
                self._quarantine(_Received(topic, payload, 0, 0, -1), "refused", str(refused))

    def _count_reports(self, offered: int, recorded: int) -> None:
        with self._counts_lock:
            self.counts.reports_recorded += recorded
            self.counts.reports_duplicate += offered - recorded

    def _quarantine(self, received: _Received, reason: str, detail: str) -> None:
        self._count("quarantined", 1)
        logger.warning("gateway quarantined a message on %s: %s", received.topic, detail)
        self.ledger.quarantine(received.topic, reason, detail, received.payload)

    def _acknowledge(self, received: _Received) -> None:
        """PUBACK a recorded message, unless it came on an earlier connection: the broker sends
        that one again, and its old mid may by now name another message."""
        if received.qos > 0 and received.connection == self._connection:
            self._client.ack(received.mid, received.qos)

    def _arrears_round(self) -> float:
        """Run the arrears restrictions when configured; returns when to run them next. A failure
        is logged and waits for the next run: reports and commands go on meanwhile."""
        interval = self.config.arrears_interval_seconds
        if self.reconcile_arrears is None or interval is None:
            return float("inf")
        try:
            self.reconcile_arrears()
            self._count("arrears_runs", 1)
        except Exception:
            self._count("arrears_failures", 1)
            logger.exception("the arrears restrictions failed; next run in %.0f s", interval)
        return time.monotonic() + interval

    def _dispatch_round(self) -> None:
        """Send the commands due, then record those past their last retry as timed out."""
        if self.connected:
            for command in self.ledger.commands_to_dispatch(DISPATCH_LIMIT):
                if not self._dispatch(command):
                    break  # the broker went away: the rest wait for the next round
        self._count("timed_out", self.ledger.record_timeouts(self.clock()))

    def _dispatch(self, command: OutgoingCommand) -> bool:
        """Record the attempt, then publish it; False when the broker did not take it."""
        issued_at = self.clock()
        self.ledger.record_dispatch(command, issued_at)
        message = CommandMessage(
            command_id=command.command_id,
            kind=command.kind,
            params=command.params,
            issued_at=issued_at,
            attempt=command.attempt,
        )
        topic = self.config.scheme.commands(command.device_id)
        info = self._client.publish(topic, encode(message), qos=QOS_AT_LEAST_ONCE)
        try:
            info.wait_for_publish(PUBLISH_TIMEOUT_SECONDS)
        except (RuntimeError, ValueError) as error:  # paho: not connected, or the queue refused it
            logger.warning("command %s to %s not delivered to the broker: %s", command.command_id, topic, error)
            return False
        self._count("dispatched", 1)
        return info.is_published()


class _InOrderAcks:
    """Acknowledges messages in the order they arrived: a message recorded before an earlier
    one (by another recorder) waits for it. Every message taken from the network is passed to
    ``done`` once (recorded, quarantined or dropped), so the order never stalls for good."""

    def __init__(self, acknowledge: Callable[[_Received], None]) -> None:
        self._acknowledge = acknowledge
        self._lock = threading.Lock()
        self._next = 0  # the sequence number of the next message to acknowledge
        self._waiting: dict[int, _Received] = {}  # recorded, behind one that is not yet

    def done(self, messages: Sequence[_Received]) -> None:
        with self._lock:
            for message in messages:
                if message.sequence >= self._next:
                    self._waiting[message.sequence] = message
            while self._next in self._waiting:
                self._acknowledge(self._waiting.pop(self._next))
                self._next += 1
