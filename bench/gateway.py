"""Gateway benchmark (issue 14): room-controller reports per second through ``heatledger
gateway`` beside a bare MQTT subscriber on the same broker.

Run ``python -m bench.gateway`` with ``--devices``, ``--reports`` and ``--backend sqlite|postgres``.
In one process, on the broker of the settings (127.0.0.1:1883 by default), each side under its
own topic prefix:

The broker is a Mosquitto of the benchmark's own on a free port, configured as docs/valves.md
advises for a gateway (``max_queued_messages`` raised: Mosquitto's default of 1,000 queued
messages per client drops QoS 1 reports a gateway has not yet taken when devices burst);
``--broker-port`` uses a running broker instead.

1. bare: a paho subscriber (MQTT 5, QoS 1, automatic acknowledgement) counts the reports that a
   publisher sends as fast as the broker takes them; the time from the first publish to the last
   receipt is its figure: what the broker and the client library alone allow;
2. gateway: the same reports from the same publisher through the gateway into a fresh store with
   ``--devices`` controllers installed: parsed, recorded in batches of ``--batch`` (one save each,
   each report once by its id), acknowledged to the broker only once saved. The projections'
   catch-up is left to workers (``catch_up_after_command`` off), as in production.

It prints reports/s of both and the ratio gateway / bare; the aim is 2,000 reports/s through the
gateway. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from application.authorization import Principal, Role
from bench.ingest import store_settings
from domain.values import Address, Areas, CustomerClass, HorizontalPosition, Position, VerticalPosition
from infrastructure.container import bootstrap
from infrastructure.mqtt.connection import BrokerOptions, new_client, start, stop
from infrastructure.mqtt.gateway import Gateway, GatewayConfig
from infrastructure.mqtt.ledger_port import RoomControllersPort, gateway_principal
from infrastructure.mqtt.payloads import ReportMessage, ValveState, encode
from infrastructure.mqtt.topics import Channel, TopicScheme
from infrastructure.settings import Backend, Settings

CLERK = Principal("bench", Role.CLERK)
AIM_REPORTS_PER_SECOND = 2000


def payloads(devices: int, reports: int) -> list[tuple[str, bytes]]:
    """``reports`` reports spread over the devices in turn, every one with its own id."""
    start = datetime.now(UTC) - timedelta(days=1)
    built: list[tuple[str, bytes]] = []
    for number in range(reports):
        device_id = f"RC-{number % devices + 1:06d}"
        report = ReportMessage(
            report_id=f"{device_id}-{number}",
            measured_at=start + timedelta(seconds=number),
            room_temperature_c=Decimal("19.5") + Decimal(number % 30) / 10,
            humidity_percent=Decimal("41.00"),
            set_temperature_c=Decimal("20.0"),
            valve_gear=3,
            valve_state=ValveState.PARTIAL,
            valve_open_hours_total=Decimal(number) / 100,
            signal_dbm=-80,
            battery_percent=Decimal(95),
        )
        built.append((device_id, encode(report)))
    return built


def publish_when_told(
    options: BrokerOptions, prefix: str, messages: list[tuple[str, bytes]], ready: Any, go: Any
) -> None:
    """The devices' side (in a process of its own): connect, say so, publish everything when told."""
    scheme = TopicScheme(prefix)
    client = new_client(options.with_client_id(f"bench-pub-{uuid.uuid4().hex[:8]}"), manual_ack=False)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    start(client, options, persistent=False)
    assert connected.wait(10), "the publisher did not connect"
    ready.set()
    assert go.wait(120), "the publisher was never told to publish"
    infos = [client.publish(scheme.reports(device_id), payload, qos=1) for device_id, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    stop(client)


class Publisher:
    """The devices: a process of their own (as devices are other machines), so that publishing
    takes nothing of the measured process's interpreter lock; connected before the clock starts."""

    def __init__(self, options: BrokerOptions, scheme: TopicScheme, messages: list[tuple[str, bytes]]) -> None:
        context = multiprocessing.get_context("spawn")
        self._ready, self._go = context.Event(), context.Event()
        self._process = context.Process(
            target=publish_when_told, args=(options, scheme.prefix, messages, self._ready, self._go), daemon=True
        )
        self._process.start()
        assert self._ready.wait(120), "the publisher did not start"

    def publish(self) -> None:
        self._go.set()

    def finish(self) -> None:
        self._process.join(300)


@dataclass(frozen=True)
class Rate:
    """Reports per second, and the measuring process's CPU seconds per 1,000 reports meanwhile."""

    reports_per_second: float
    cpu_ms_per_report: float


def bare_rate(options: BrokerOptions, messages: list[tuple[str, bytes]]) -> Rate:
    """Reports/s to a subscriber that only counts them."""
    scheme = TopicScheme(f"bench/{uuid.uuid4().hex[:8]}")
    received = 0
    done = threading.Event()

    def on_message(*_: Any) -> None:
        nonlocal received
        received += 1
        if received == len(messages):
            done.set()

    subscribed = threading.Event()
    client = new_client(options.with_client_id(f"bench-sub-{uuid.uuid4().hex[:8]}"), manual_ack=False)
    client.on_connect = lambda c, *_: c.subscribe(scheme.every_device(Channel.REPORTS), 1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = on_message
    start(client, options, persistent=False)
    assert subscribed.wait(10), "the bare subscriber did not subscribe"
    publisher = Publisher(options, scheme, messages)
    began, cpu_before = time.perf_counter(), time.process_time()
    publisher.publish()
    done.wait(300)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_before
    publisher.finish()
    stop(client)
    return Rate(received / elapsed, 1000 * cpu / received)


def gateway_rate(
    settings: Settings,
    options: BrokerOptions,
    devices: int,
    batch: int,
    messages: list[tuple[str, bytes]],
    recorders: int = 2,
) -> tuple[Rate, int]:
    """Reports/s recorded by the gateway on a fresh store; and how many it recorded."""
    container = bootstrap(settings)
    try:
        for number in range(1, devices + 1):
            account = f"BENCH-{number:06d}"
            container.ledger.register_household(
                CLERK,
                account,
                Address("BENCH", str(number // 100 + 1), "1", 1, f"{number % 100 + 1:03d}"),
                Areas(Decimal("90.00"), Decimal("90.00")),
                CustomerClass.RESIDENTIAL,
                Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE),
                date(2025, 10, 1),
            )
            container.room_controllers.install(f"RC-{number:06d}", account, 5, CLERK)
        scheme = TopicScheme(f"bench/{uuid.uuid4().hex[:8]}")
        gateway_options = options.with_client_id(f"bench-gw-{uuid.uuid4().hex[:8]}")
        port = RoomControllersPort(
            container.room_controllers, container.intake, gateway_principal(gateway_options.client_id)
        )
        gateway = Gateway(
            port, gateway_options, GatewayConfig(scheme, 5.0, batch, recorders=recorders), container.ledger.clock
        )
        gateway.start()
        assert gateway.wait_connected(10), "the gateway did not connect"
        time.sleep(0.5)  # its subscription in place
        publisher = Publisher(options, scheme, messages)
        began, cpu_before = time.perf_counter(), time.process_time()
        publisher.publish()
        deadline = time.monotonic() + 600
        while gateway.counts.reports_recorded + gateway.counts.reports_duplicate < len(messages):
            assert time.monotonic() < deadline, "the gateway did not record every report in 10 minutes"
            time.sleep(0.01)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_before
        publisher.finish()
        gateway.stop()
        return Rate(len(messages) / elapsed, 1000 * cpu / len(messages)), gateway.counts.reports_recorded
    finally:
        container.close()


@contextlib.contextmanager
def own_broker(folder: Path) -> Any:
    """A Mosquitto on a free port, with a queue deep enough for a burst of reports."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\n"
    )
    process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.05)
        yield BrokerOptions(port=port)
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="reports per save in the gateway")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--broker-port", type=int, default=None, help="a running broker on 127.0.0.1 instead")
    parser.add_argument(
        "--recorders", default="1,2", help="the gateway's recorder threads, one run each (comma-separated)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="measure everything this many times, interleaved")
    arguments = parser.parse_args()
    console = Console(highlight=False)
    messages = payloads(arguments.devices, arguments.reports)
    recorder_counts = [int(count) for count in arguments.recorders.split(",")]
    table = Table(title=f"{arguments.reports} reports from {arguments.devices} controllers ({arguments.backend})")
    for column in ("round", "side", "reports/s", "recorded", "/ bare", "CPU ms / report"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        if arguments.broker_port is None:
            options = stack.enter_context(own_broker(Path(folder)))
        else:
            options = BrokerOptions(port=arguments.broker_port)
        for round_number in range(1, arguments.rounds + 1):
            bare = bare_rate(options, messages)
            table.add_row(
                str(round_number),
                "bare subscriber",
                f"{bare.reports_per_second:,.0f}",
                f"{arguments.reports}",
                "1.00",
                f"{bare.cpu_ms_per_report:.3f}",
            )
            for recorders in recorder_counts:
                # A fresh store each: a SQLite file in the scratch folder, or a throw-away PostgreSQL database.
                label = f"gateway_{round_number}_{recorders}"
                with store_settings(Backend(arguments.backend), Path(folder), label) as store:
                    settings = store.model_copy(update={"catch_up_after_command": False})
                    ours, recorded = gateway_rate(
                        settings, options, arguments.devices, arguments.batch, messages, recorders
                    )
                side = f"gateway → ledger, {recorders} recorder{'s' if recorders > 1 else ''}"
                table.add_row(
                    str(round_number),
                    side,
                    f"{ours.reports_per_second:,.0f}",
                    f"{recorded}",
                    f"{ours.reports_per_second / bare.reports_per_second:.2f}",
                    f"{ours.cpu_ms_per_report:.3f}",
                )
    console.print(table)
    console.print(f"aim {AIM_REPORTS_PER_SECOND:,} reports/s through the gateway")


if __name__ == "__main__":
    main()
