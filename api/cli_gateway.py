"""``heatledger gateway`` and ``heatledger simulate-devices`` (issue 14; docs/valves.md).

The gateway bridges the room controllers' MQTT topics and the ledger until it is stopped (Ctrl-C,
SIGTERM) or, with ``--for-seconds``, for a while. The simulator plays N room controllers on the
same broker: it needs no store, only the MQTT settings. Registered on the main ``heatledger`` app
by ``api.cli``.
"""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import typer

from api.cli import app, fail, load_settings, opened_container, out
from domain.day_split import business_day
from infrastructure.device_simulator import DeviceSimulator, SimulationConfig, simulated_devices
from infrastructure.mqtt.connection import BrokerOptions, UnsafeBrokerError, broker_options
from infrastructure.mqtt.gateway import Gateway, GatewayConfig
from infrastructure.mqtt.ledger_port import RoomControllersPort, arrears_reconciliation, gateway_principal
from infrastructure.mqtt.topics import TopicError, TopicScheme
from infrastructure.settings import Settings

ForSeconds = Annotated[
    float | None, typer.Option(min=0.1, help="Stop after this many seconds (default: run until stopped).")
]
ClientId = Annotated[str | None, typer.Option(help="The MQTT client id (default: HEATLEDGER_MQTT_CLIENT_ID).")]


def _broker(settings: Settings, client_id: str | None) -> tuple[BrokerOptions, TopicScheme]:
    try:
        options, scheme = broker_options(settings), TopicScheme(settings.mqtt_topic_prefix)
    except (UnsafeBrokerError, TopicError) as error:
        fail(str(error))
    return (options.with_client_id(client_id) if client_id else options), scheme


def _wait(for_seconds: float | None) -> None:
    """Block until SIGINT/SIGTERM, or for ``for_seconds``."""
    stopped = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stopped.set())
    stopped.wait(for_seconds)


@app.command()
def gateway(client_id: ClientId = None, for_seconds: ForSeconds = None) -> None:
    """Bridge the room controllers' MQTT topics and the ledger: record reports and answers, send
    the commands due, time out those past their last retry (docs/valves.md, "Transport")."""
    from api.serving import share_the_store

    share_the_store()
    with opened_container() as container:
        settings = container.settings
        options, scheme = _broker(settings, client_id)
        catch_up = None if settings.catch_up_after_command else container.catch_up
        port = RoomControllersPort(
            container.room_controllers, container.intake, gateway_principal(options.client_id), catch_up
        )
        arrears_interval = settings.gateway_arrears_interval_seconds or None
        config = GatewayConfig(
            scheme,
            settings.gateway_dispatch_interval_seconds,
            settings.gateway_report_batch_size,
            arrears_interval_seconds=arrears_interval,
            recorders=settings.gateway_recorders,
        )
        ledger = container.ledger
        reconcile = arrears_reconciliation(
            container.arrears_restrictions, lambda: business_day(ledger.clock()), catch_up
        )
        bridge = Gateway(port, options, config, ledger.clock, reconcile)
        out().print(f"Gateway {options.client_id} on {options.host}:{options.port}, topics {scheme.prefix}/devices/…")
        bridge.start()
        try:
            _wait(for_seconds)
        finally:
            bridge.stop()
        counts = bridge.counts
        out().print(
            f"Recorded {counts.reports_recorded} reports ({counts.reports_duplicate} duplicates), "
            f"{counts.acknowledgements} acknowledgements, {counts.refusals} refusals; sent {counts.dispatched} "
            f"commands, {counts.timed_out} timed out; quarantined {counts.quarantined}; "
            f"ran the arrears restrictions {counts.arrears_runs} times ({counts.arrears_failures} failed)."
        )


@app.command("simulate-devices")
def simulate_devices(
    count: Annotated[int, typer.Option(min=1, max=100_000, help="How many controllers.")] = 10,
    prefix: Annotated[str, typer.Option(help="Device ids are PREFIX000001 and on.")] = "RC-",
    gears: Annotated[int, typer.Option(min=1, max=100, help="Gears of each valve.")] = 5,
    report_seconds: Annotated[float, typer.Option(min=0.01, help="Seconds between two rounds of reports.")] = 60.0,
    hours_per_report: Annotated[str, typer.Option(help="Simulated hours one round stands for.")] = "1",
    drop_rate: Annotated[float, typer.Option(min=0, max=1, help="Chance that an acknowledgement is lost.")] = 0.0,
    offline_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Chance per round that a device goes offline.")
    ] = 0.0,
    duplicate_rate: Annotated[float, typer.Option(min=0, max=1, help="Chance that a report is sent twice.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulation's randomness (runs repeat).")] = 14,
    client_id: ClientId = None,
    for_seconds: ForSeconds = None,
) -> None:
    """Play room controllers over MQTT: they take commands, acknowledge or refuse them, and report
    room temperature, valve gear and state, valve-open hours, signal and battery each round."""
    settings = load_settings()
    options, scheme = _broker(settings, client_id or f"heatledger-simulator-{seed}")
    try:
        hours = Decimal(hours_per_report)
    except ArithmeticError:
        fail(f"--hours-per-report must be a number, not {hours_per_report!r}")
    config = SimulationConfig(report_seconds, hours, drop_rate, offline_rate, duplicate_rate, seed=seed)
    simulator = DeviceSimulator(
        simulated_devices(count, prefix, gears), options, scheme, config, lambda: datetime.now(UTC)
    )
    simulator.start()
    try:
        _wait(for_seconds)
    finally:
        simulator.stop()
    out().print(
        f"{count} devices sent {simulator.reports_sent} reports and {simulator.acks_sent} acknowledgements "
        f"({simulator.acks_dropped} lost on purpose)."
    )
