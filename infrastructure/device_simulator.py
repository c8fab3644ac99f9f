"""Simulated room controllers over MQTT (`heatledger simulate-devices`; docs/valves.md, "Simulator").

Each simulated controller behaves like the source's room controller (shared/domain.md §4): it
takes the platform's commands on its commands topic, acknowledges or refuses each with a code,
and reports room temperature and humidity, set temperature, valve gear and state, accumulated
valve-open time, signal and battery on its upload period. Like a real one it sometimes loses a
message (``drop_rate``: a command arrives but its acknowledgement never does) and sometimes goes
offline for a few periods (``offline_rate``). A command received twice (a retry whose first
acknowledgement was lost) is acted on once and acknowledged again.

The simulator is the tests' device and the demo's: its randomness comes from one seeded
``random.Random``, so a run is repeatable.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from infrastructure.mqtt.connection import QOS_AT_LEAST_ONCE, BrokerOptions, new_client, start, stop
from infrastructure.mqtt.payloads import (
    AckMessage,
    AckResult,
    CommandMessage,
    PayloadError,
    ReportMessage,
    ValveState,
    encode,
)
from infrastructure.mqtt.topics import Channel, TopicError, TopicScheme

logger = logging.getLogger(__name__)

DEFAULT_GEARS = 5
# A device remembers the outcome of this many recent commands (to answer a retry alike).
REMEMBERED_COMMANDS = 64
OFFLINE_PERIODS = 3
HUNDREDTH = Decimal("0.01")
THOUSANDTH = Decimal("0.001")


@dataclass
class SimulatedController:
    """One controller's settings and state; ``apply`` is the firmware's command handling."""

    device_id: str
    gears: int = DEFAULT_GEARS
    gear: int = DEFAULT_GEARS
    set_temperature_c: Decimal = Decimal("20.0")
    lower_limit_c: Decimal = Decimal("16.0")
    upper_limit_c: Decimal = Decimal("24.0")
    temperature_locked: bool = False
    upload_period_minutes: int = 60
    valve_open_hours_total: Decimal = Decimal("0.000")
    room_temperature_c: Decimal = Decimal("19.0")
    battery_percent: Decimal = Decimal("100.00")
    signal_dbm: int = -75
    sequence: int = 0
    offline_periods: int = 0
    outcomes: OrderedDict[str, tuple[AckResult, str | None]] = field(default_factory=OrderedDict)

    @property
    def valve_state(self) -> ValveState:
        if self.gear == 0:
            return ValveState.CLOSED
        return ValveState.OPEN if self.gear == self.gears else ValveState.PARTIAL

    def apply(self, command: CommandMessage) -> tuple[AckResult, str | None]:
        """Act on a command once; a command seen before gets its first outcome again."""
        if command.command_id in self.outcomes:
            return self.outcomes[command.command_id]
        try:
            _HANDLERS[command.kind](self, command.params)
            outcome: tuple[AckResult, str | None] = (AckResult.ACCEPTED, None)
        except KeyError:
            outcome = (AckResult.REFUSED, "unknown_command")
        except _Refused as refused:
            outcome = (AckResult.REFUSED, refused.code)
        self.outcomes[command.command_id] = outcome
        while len(self.outcomes) > REMEMBERED_COMMANDS:
            self.outcomes.popitem(last=False)
        return outcome

    def advance(self, hours: Decimal, outdoor_c: Decimal, rng: random.Random) -> None:
        """Let ``hours`` pass: the valve accumulates open time in proportion to its gear, and
        the room drifts towards what the gear and the weather allow."""
        opening = Decimal(self.gear) / Decimal(self.gears)
        self.valve_open_hours_total = (self.valve_open_hours_total + hours * opening).quantize(THOUSANDTH)
        reachable = outdoor_c + (Decimal(26) - outdoor_c) * opening  # a fully open valve heats to ~26 °C
        target = min(self.set_temperature_c, reachable) if self.gear else reachable
        noise = Decimal(rng.randint(-3, 3)) / 10
        drift = (target - self.room_temperature_c) * Decimal("0.5")
        self.room_temperature_c = (self.room_temperature_c + drift + noise).quantize(Decimal("0.1"))
        self.battery_percent = max(Decimal(0), self.battery_percent - Decimal("0.01"))
        self.signal_dbm = max(-120, min(-50, self.signal_dbm + rng.randint(-2, 2)))

    def report(self, measured_at: datetime, rng: random.Random) -> ReportMessage:
        """The next report; its id is the device's own sequence, so a resent report keeps it."""
        self.sequence += 1
        return ReportMessage(
            report_id=f"{self.device_id}-{self.sequence}",
            measured_at=measured_at,
            room_temperature_c=self.room_temperature_c,
            humidity_percent=Decimal(rng.randint(3000, 5500)) / 100,
            set_temperature_c=self.set_temperature_c,
            valve_gear=self.gear,
            valve_state=self.valve_state,
            valve_open_hours_total=self.valve_open_hours_total,
            signal_dbm=self.signal_dbm,
            battery_percent=self.battery_percent.quantize(HUNDREDTH),
            upload_period_minutes=self.upload_period_minutes,
            lower_limit_c=self.lower_limit_c,
            upper_limit_c=self.upper_limit_c,
            temperature_locked=self.temperature_locked,
        )


class _Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _decimal(params: dict[str, Any], name: str) -> Decimal:
    try:
        return Decimal(str(params[name]))
    except (KeyError, ArithmeticError):
        raise _Refused("invalid_parameters") from None


def _integer(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise _Refused("invalid_parameters")
    return int(value)


def _set_upload_period(device: SimulatedController, params: dict[str, Any]) -> None:
    minutes = _integer(params, "minutes")
    if not 1 <= minutes <= 24 * 60:
        raise _Refused("invalid_parameters")
    device.upload_period_minutes = minutes


def _set_limits(device: SimulatedController, params: dict[str, Any]) -> None:
    lower, upper = _decimal(params, "lower_c"), _decimal(params, "upper_c")
    if not Decimal(5) <= lower <= upper <= Decimal(35):
        raise _Refused("invalid_limits")
    device.lower_limit_c, device.upper_limit_c = lower, upper
    device.set_temperature_c = min(max(device.set_temperature_c, lower), upper)


def _force_gear(device: SimulatedController, params: dict[str, Any]) -> None:
    gear = _integer(params, "gear")
    if not 0 <= gear <= device.gears:
        raise _Refused("no_such_gear")
    device.gear = gear


def _force_open(device: SimulatedController, _params: dict[str, Any]) -> None:
    device.gear = device.gears


def _force_close(device: SimulatedController, _params: dict[str, Any]) -> None:
    device.gear = 0


def _set_room_temperature(device: SimulatedController, params: dict[str, Any]) -> None:
    temperature = _decimal(params, "temperature_c")
    if not device.lower_limit_c <= temperature <= device.upper_limit_c:
        raise _Refused("outside_limits")
    device.set_temperature_c = temperature


def _lock(device: SimulatedController, _params: dict[str, Any]) -> None:
    device.temperature_locked = True


def _unlock(device: SimulatedController, _params: dict[str, Any]) -> None:
    device.temperature_locked = False


_HANDLERS: dict[str, Callable[[SimulatedController, dict[str, Any]], None]] = {
    "set_upload_period": _set_upload_period,
    "set_temperature_limits": _set_limits,
    "force_gear": _force_gear,
    "force_open": _force_open,
    "force_close": _force_close,
    "set_room_temperature": _set_room_temperature,
    "lock_temperature": _lock,
    "unlock": _unlock,
}


@dataclass
class SimulationConfig:
    """How the simulated devices behave."""

    report_period_seconds: float = 60.0
    # Simulated hours that pass per report period (the valve-open time a report adds): 1 means a
    # report per simulated hour however fast the reports come.
    hours_per_period: Decimal = Decimal(1)
    drop_rate: float = 0.0  # chance that a command's acknowledgement is lost
    offline_rate: float = 0.0  # chance per period that a device goes offline for a few periods
    duplicate_rate: float = 0.0  # chance that a report is sent twice
    outdoor_temperature_c: Decimal = Decimal(-5)
    seed: int = 14


class DeviceSimulator:
    """Many simulated controllers behind one MQTT connection, like a concentrator's."""

    def __init__(
        self,
        devices: Iterable[SimulatedController],
        options: BrokerOptions,
        scheme: TopicScheme,
        config: SimulationConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self.devices = {device.device_id: device for device in devices}
        self.options = options
        self.scheme = scheme
        self.config = config
        self.clock = clock
        self.rng = random.Random(config.seed)
        self.reports_sent = 0
        self.acks_sent = 0
        self.acks_dropped = 0
        self._lock = threading.Lock()  # devices are touched by paho's thread and the report thread
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._client = new_client(options, manual_ack=False)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._thread: threading.Thread | None = None

    def start(self, *, report: bool = True) -> None:
        """Connect; with ``report``, also send every device's report each period."""
        start(self._client, self.options, persistent=False)
        if report:
            self._thread = threading.Thread(target=self._report_loop, name="simulator", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        stop(self._client)

    def wait_connected(self, timeout_seconds: float) -> bool:
        return self._connected.wait(timeout_seconds)

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        if reason.is_failure:
            logger.warning("the broker refused the simulator: %s", reason)
            return
        client.subscribe(self.scheme.every_device(Channel.COMMANDS), QOS_AT_LEAST_ONCE)
        self._connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, _reason: ReasonCode, _p: Any) -> None:
        self._connected.clear()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            device_id = self.scheme.parse(message.topic).device_id
            command = CommandMessage.decode(bytes(message.payload))
        except (TopicError, PayloadError) as error:
            logger.warning("simulator: not a command on %s: %s", message.topic, error)
            return
        with self._lock:
            device = self.devices.get(device_id)
            if device is None or device.offline_periods > 0:
                return  # not ours, or offline: the command is lost, the ledger retries
            result, code = device.apply(command)
            if self.rng.random() < self.config.drop_rate:
                self.acks_dropped += 1
                return
        self.publish_ack(device_id, AckMessage(command_id=command.command_id, result=result, code=code))

    def publish_ack(self, device_id: str, ack: AckMessage) -> None:
        self._client.publish(self.scheme.acks(device_id), encode(ack), qos=QOS_AT_LEAST_ONCE)
        self.acks_sent += 1

    def publish_report(self, device_id: str, report: ReportMessage) -> mqtt.MQTTMessageInfo:
        self.reports_sent += 1
        return self._client.publish(self.scheme.reports(device_id), encode(report), qos=QOS_AT_LEAST_ONCE)

    def report_all(self) -> int:
        """One period: every online device advances and reports; returns how many reported."""
        measured_at = self.clock()
        sent = 0
        with self._lock:  # the reports are built under the lock, sent outside it
            reports = [(device.device_id, self._tick(device, measured_at)) for device in self.devices.values()]
        outgoing = [(device_id, report) for device_id, report in reports if report is not None]
        for device_id, report in outgoing:
            self.publish_report(device_id, report)
            if self.rng.random() < self.config.duplicate_rate:
                self.publish_report(device_id, report)
            sent += 1
        return sent

    def _tick(self, device: SimulatedController, measured_at: datetime) -> ReportMessage | None:
        device.advance(self.config.hours_per_period, self.config.outdoor_temperature_c, self.rng)
        if device.offline_periods > 0:
            device.offline_periods -= 1
            return None
        if self.rng.random() < self.config.offline_rate:
            device.offline_periods = OFFLINE_PERIODS
            return None
        return device.report(measured_at, self.rng)

    def _report_loop(self) -> None:
        while not self._stopping.wait(self.config.report_period_seconds):
            if self._connected.is_set():
                self.report_all()


def simulated_devices(count: int, prefix: str = "RC-", gears: int = DEFAULT_GEARS) -> list[SimulatedController]:
    """``count`` controllers named ``{prefix}000001`` and on."""
    if not 1 <= count <= 100_000:
        raise ValueError("between 1 and 100,000 devices")
    return [SimulatedController(f"{prefix}{number:06d}", gears=gears, gear=gears) for number in range(1, count + 1)]
