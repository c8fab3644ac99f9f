"""Arrears restrictions run by the gateway itself (issue 14), over a real Mosquitto with a
simulated controller, on each backend: a second clerk approves an arrears flag and, without anyone
asking, the household's valve is throttled to the arrears gear; the household pays and, again
without anyone asking, the flag is withdrawn as paid and a lift (force_open) is queued, sent,
acknowledged and confirmed by the next report. Nobody calls POST /valve-commands/arrears-reconciliation.

The arrears scenario is test_arrears_read_models's (WZ-1 owes 1944.00 元 since 1 November 2025);
the gateway's business day is that scenario's 10 January 2026.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from application.valves import RoomControllers
from domain.arrears import FlagStatus
from domain.valve_commands import CommandPolicy, CommandState
from infrastructure.container import Container
from infrastructure.device_simulator import DeviceSimulator, SimulatedController, SimulationConfig
from infrastructure.mqtt.connection import BrokerOptions
from infrastructure.mqtt.gateway import Gateway, GatewayConfig
from infrastructure.mqtt.ledger_port import RoomControllersPort, arrears_reconciliation, gateway_principal
from infrastructure.mqtt.topics import TopicScheme
from projections.valve_commands import ValveQueries
from tests.e2e.test_gateway_mqtt import broker, eventually, scheme  # noqa: F401
from tests.integration.test_arrears_read_models import CLERK_LI, CLERK_WANG, POLICY, TODAY, owing  # noqa: F401
from tests.integration.test_payment_read_models import at, pay

DEVICE = "RC-1"


def latest_arrears_command(container: Container) -> tuple[str, str, str] | None:
    """(kind, policy, state) of the device's newest command, None without any."""
    commands = ValveQueries(container.engine).commands(device_id=DEVICE)
    if not commands:
        return None
    newest = commands[0]
    return newest.kind, newest.policy, newest.state


@pytest.fixture
def running(
    owing: Container,  # noqa: F811
    broker: BrokerOptions,  # noqa: F811
    scheme: TopicScheme,  # noqa: F811
) -> Iterator[tuple[Gateway, DeviceSimulator]]:
    """A gateway running the arrears restrictions every 0.2 s, and the household's controller."""
    owing.settings.valve_acknowledgement_timeout_seconds = 2
    valves: RoomControllers = owing.room_controllers
    valves.install(DEVICE, "WZ-1", 5, CLERK_LI)
    options = broker.with_client_id(f"gw-{uuid4().hex[:10]}")
    port = RoomControllersPort(owing.room_controllers, owing.intake, gateway_principal(options.client_id))
    config = GatewayConfig(scheme, dispatch_interval_seconds=0.1, report_batch_size=100, arrears_interval_seconds=0.2)
    reconcile = arrears_reconciliation(owing.arrears_restrictions, lambda: TODAY)
    gateway = Gateway(port, options, config, owing.ledger.clock, reconcile)
    simulator = DeviceSimulator(
        [SimulatedController(DEVICE)],
        broker.with_client_id(f"sim-{uuid4().hex[:10]}"),
        scheme,
        SimulationConfig(0.2, Decimal("0.01")),
        lambda: datetime.now(UTC),
    )
    gateway.start()
    simulator.start()
    assert gateway.wait_connected(10) and simulator.wait_connected(10), "not connected"
    yield gateway, simulator
    simulator.stop()
    gateway.stop()


def test_the_gateway_restricts_an_approved_flag_and_lifts_it_when_paid(
    owing: Container,  # noqa: F811
    running: tuple[Gateway, DeviceSimulator],
) -> None:
    gateway, simulator = running
    flag_id = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY).outcomes[0].flag_id
    assert flag_id is not None
    eventually(lambda: gateway.counts.arrears_runs >= 2, "the gateway ran the arrears restrictions")
    assert latest_arrears_command(owing) is None  # raised, not approved: nothing to do

    owing.arrears.approve(CLERK_WANG, flag_id, "checked")
    restricted = (
        "force_gear",
        CommandPolicy.ARREARS_RESTRICTION.value,
        CommandState.CONFIRMED.value,
    )
    eventually(lambda: latest_arrears_command(owing) == restricted, "the restriction confirmed by a report")
    assert simulator.devices[DEVICE].gear == owing.settings.valve_arrears_gear

    pay(owing, "WZ-1", "1944.00", at(date(2026, 1, 9)), "R-0009")
    owing.catch_up()
    lifted = ("force_open", CommandPolicy.ARREARS_LIFT.value, CommandState.CONFIRMED.value)
    eventually(lambda: latest_arrears_command(owing) == lifted, "the lift confirmed by a report")
    assert simulator.devices[DEVICE].gear == simulator.devices[DEVICE].gears
    assert owing.arrears.flag(flag_id).status is FlagStatus.WITHDRAWN
    assert owing.arrears.flag(flag_id).withdrawal_kind == "paid"
    runs = gateway.counts.arrears_runs
    eventually(lambda: gateway.counts.arrears_runs >= runs + 3, "more runs of the arrears restrictions")
    assert [c.policy for c in ValveQueries(owing.engine).commands(device_id=DEVICE)] == [
        CommandPolicy.ARREARS_LIFT.value,
        CommandPolicy.ARREARS_RESTRICTION.value,
    ]  # later runs queue nothing new
    assert gateway.counts.arrears_failures == 0
