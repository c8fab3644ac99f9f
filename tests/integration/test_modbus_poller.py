"""The Modbus poller against pymodbus' own TCP server on loopback: two devices (unit ids) with
known registers are read and recorded exactly; an unreachable device and a missing unit are
reported and skipped without costing the others their readings."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice
from sqlalchemy import select
from typer.testing import CliRunner

from api import cli
from application.authorization import SYSTEM
from domain import ids
from domain.values import AccuracyClass, FlowSensorSide, MeterKind
from infrastructure.container import Container, bootstrap
from infrastructure.intake import rejected_readings
from infrastructure.modbus import DeviceStatus, ModbusPoller, parse_config
from infrastructure.modbus.registers import DataType, WordOrder, encode_value
from projections.queries import LedgerQueries, ReadingRecord
from tests.conftest import sqlite_settings

LOOPBACK = "127.0.0.1"
UNIT_A, UNIT_B, UNIT_MISSING = 1, 2, 9

# Device A: an integer heat meter (holding registers), power as a little-endian float32 input register.
MAP_A = [
    {"field": "energy_gj", "address": 0, "type": "uint32", "word_order": "big", "scale": "0.001"},
    {"field": "volume_m3", "address": 2, "type": "uint32", "word_order": "little", "scale": "0.01"},
    {"field": "flow_temperature_c", "address": 4, "type": "int16", "scale": "0.01"},
    {"field": "return_temperature_c", "address": 5, "type": "int16", "scale": "0.01"},
    {"field": "operating_hours", "address": 6, "type": "uint32", "count": 2},
    {"field": "error_flags", "address": 8, "type": "uint16"},
    {"field": "power_kw", "address": 0, "type": "float32", "word_order": "little", "table": "input"},
    {"field": "flow_rate_m3_h", "address": 2, "type": "float32", "table": "input"},
]
# Device B: energy in Wh (an int32 in little word order), temperatures as float32, a signed flow.
MAP_B = [
    {"field": "energy_gj", "address": 100, "type": "int32", "word_order": "little", "scale": "0.0000036"},
    {"field": "flow_temperature_c", "address": 102, "type": "float32", "decimals": 2},
    {"field": "return_temperature_c", "address": 104, "type": "float32", "word_order": "little"},
    {"field": "flow_rate_m3_h", "address": 106, "type": "int32", "scale": "0.001"},
]


def registers_a() -> tuple[list[int], list[int]]:
    holding = [
        *encode_value(1234567, DataType.UINT32, WordOrder.BIG),  # 1234.567 GJ
        *encode_value(742315, DataType.UINT32, WordOrder.LITTLE),  # 7423.15 m³
        *encode_value(7012, DataType.INT16),  # 70.12 °C
        *encode_value(4150, DataType.INT16),  # 41.50 °C
        *encode_value(12345, DataType.UINT32),  # 12345 h
        *encode_value(0, DataType.UINT16),
    ]
    inputs = [
        *encode_value(7.9, DataType.FLOAT32, WordOrder.LITTLE),
        *encode_value(0.412, DataType.FLOAT32, WordOrder.BIG),
    ]
    return holding, inputs


def registers_b() -> list[int]:
    return [
        *encode_value(987654321, DataType.INT32, WordOrder.LITTLE),  # Wh → 3555.5555556 GJ
        *encode_value(68.456, DataType.FLOAT32, WordOrder.BIG),  # 68.46 at two decimals
        *encode_value(41.2, DataType.FLOAT32, WordOrder.LITTLE),
        *encode_value(-1500, DataType.INT32, WordOrder.BIG),  # -1.5 m³/h: reverse flow
    ]


@dataclass
class RunningServer:
    port: int
    loop: asyncio.AbstractEventLoop
    server: ModbusTcpServer


def _devices() -> list[SimDevice]:
    holding_a, inputs_a = registers_a()
    bits = [SimData(0, values=[False] * 16, datatype=SimType.BITS)]
    device_a = SimDevice(
        id=UNIT_A,
        simdata=(
            bits,
            bits,
            [SimData(0, values=holding_a, datatype=SimType.REGISTERS)],
            [SimData(0, values=inputs_a, datatype=SimType.REGISTERS)],
        ),
    )
    device_b = SimDevice(id=UNIT_B, simdata=[SimData(100, values=registers_b(), datatype=SimType.REGISTERS)])
    return [device_a, device_b]


@pytest.fixture
def modbus_server() -> Iterator[RunningServer]:
    """pymodbus' TCP server on a free loopback port, in a thread with its own event loop."""
    started = threading.Event()
    running: dict[str, Any] = {}

    async def serve() -> None:
        server = ModbusTcpServer(_devices(), address=(LOOPBACK, 0))
        await server.serve_forever(background=True)
        running["server"] = RunningServer(
            server.transport.sockets[0].getsockname()[1], asyncio.get_running_loop(), server
        )
        started.set()
        await server.serving

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as error:  # surfaced to the test below
            running["error"] = error
            started.set()

    thread = threading.Thread(target=run, name="modbus-test-server", daemon=True)
    thread.start()
    assert started.wait(10), "the Modbus server did not start"
    if "error" in running:
        raise running["error"]
    served: RunningServer = running["server"]
    yield served
    asyncio.run_coroutine_threadsafe(served.server.shutdown(), served.loop).result(10)
    thread.join(10)
    assert not thread.is_alive()


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def config_data(port: int) -> dict[str, Any]:
    return {
        "poller": {"name": "loopback", "timeout_s": "1", "retries": 0},
        "register_maps": {"a": MAP_A, "b": MAP_B},
        "devices": [
            {
                "name": "meter A",
                "host": LOOPBACK,
                "port": port,
                "unit_id": UNIT_A,
                "meter_serial": "BM-A",
                "register_map": "a",
            },
            {"name": "gone", "host": LOOPBACK, "port": closed_port(), "meter_serial": "BM-GONE", "register_map": "a"},
            {
                "name": "no unit",
                "host": LOOPBACK,
                "port": port,
                "unit_id": UNIT_MISSING,
                "meter_serial": "BM-X",
                "register_map": "b",
            },
            {
                "name": "meter B",
                "host": LOOPBACK,
                "port": port,
                "unit_id": UNIT_B,
                "meter_serial": "BM-B",
                "register_map": "b",
            },
        ],
    }


def commission(container: Container, *serials: str) -> None:
    for serial in serials:
        container.ledger.commission_meter(
            SYSTEM,
            serial,
            "Kamstrup",
            "MULTICAL 603",
            AccuracyClass.CLASS_2,
            FlowSensorSide.RETURN,
            MeterKind.BUILDING,
            datetime.now(UTC) - timedelta(days=30),
            community="碧桂园",
            building="1",
        )


def recorded(container: Container, serial: str) -> list[ReadingRecord]:
    container.catch_up()
    return LedgerQueries(container.engine).readings(ids.meter_id(serial), limit=10).items


def test_one_round_records_exact_values_and_reports_the_devices_that_did_not_answer(
    container: Container, modbus_server: RunningServer
) -> None:
    commission(container, "BM-A", "BM-B")
    config = parse_config(config_data(modbus_server.port))

    report = ModbusPoller(config, container.intake, clock=container.ledger.clock).poll_once()

    statuses = {result.device.meter_serial: result.status for result in report.devices}
    assert statuses == {
        "BM-A": DeviceStatus.READ,
        "BM-GONE": DeviceStatus.FAILED,
        "BM-X": DeviceStatus.FAILED,
        "BM-B": DeviceStatus.READ,
    }
    errors = {result.device.meter_serial: result.error or "" for result in report.failed}
    assert errors["BM-GONE"].startswith(f"no connection to {LOOPBACK}:")
    assert "Modbus exception" in errors["BM-X"]
    assert report.batch is not None
    assert (report.batch.accepted, report.batch.rejected) == (2, 0)

    (a,) = recorded(container, "BM-A")
    assert (a.energy_gj, a.volume_m3, a.operating_hours) == (Decimal("1234.567"), Decimal("7423.15"), Decimal(12345))
    assert (a.flow_temperature_c, a.return_temperature_c) == (Decimal("70.12"), Decimal("41.5"))
    assert (a.power_kw, a.flow_rate_m3_h, a.error_flags) == (Decimal("7.9"), Decimal("0.412"), 0)
    assert (a.source, a.actor, a.batch_id) == ("modbus", "modbus:loopback", report.batch.batch_id)
    (b,) = recorded(container, "BM-B")
    assert b.energy_gj == Decimal("3555.5555556")  # 987654321 Wh × 0.0000036, exactly
    assert (b.flow_temperature_c, b.return_temperature_c) == (Decimal("68.46"), Decimal("41.2"))
    assert (b.flow_rate_m3_h, b.volume_m3) == (Decimal("-1.5"), None)
    assert abs(a.measured_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert a.measured_at.microsecond == 0


def test_rounds_at_new_moments_add_readings_and_a_repeated_moment_is_a_duplicate(
    container: Container, modbus_server: RunningServer
) -> None:
    commission(container, "BM-A", "BM-B")
    config = parse_config(config_data(modbus_server.port))
    moment = [datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)]

    def clock() -> datetime:
        return moment[0]

    poller = ModbusPoller(config, container.intake, clock=clock)
    first = poller.poll_once()
    moment[0] += timedelta(hours=1)
    second = poller.poll_once()
    third = poller.poll_once()

    assert first.batch is not None and second.batch is not None
    assert first.batch.accepted == 2
    # The registers did not move: the same energy an hour later is a reading, not a duplicate.
    assert (second.batch.accepted, second.batch.duplicates) == (2, 0)
    assert third.batch is not None and (third.batch.accepted, third.batch.duplicates) == (0, 2)
    assert [record.energy_gj for record in recorded(container, "BM-A")] == [Decimal("1234.567")] * 2


def test_heatledger_poll_once_records_and_summarises_a_round(modbus_server: RunningServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    container = bootstrap(sqlite_settings(data_dir))
    try:
        commission(container, "BM-A", "BM-B")
    finally:
        container.close()
    config = tmp_path / "poller.json"
    config.write_text(json.dumps(config_data(modbus_server.port)), encoding="utf-8")
    env = {
        "HEATLEDGER_DATA_DIR": str(data_dir),
        "HEATLEDGER_BACKEND": "sqlite",
        "HEATLEDGER_ENVIRONMENT": "test",
        "COLUMNS": "250",
    }

    result = CliRunner().invoke(cli.app, ["poll", "--config", str(config), "--once"], env=env)

    assert result.exit_code == 1, result.output  # two devices failed
    assert "Devices 4: read 2, failed 2. Readings accepted 2, duplicate 0, rejected 0." in result.output
    assert "failed: no connection to 127.0.0.1:" in result.output
    assert "1234.567" in result.output
    container = bootstrap(sqlite_settings(data_dir))
    try:
        assert [record.energy_gj for record in recorded(container, "BM-B")] == [Decimal("3555.5555556")]
        with container.engine.connect() as connection:
            assert connection.execute(select(rejected_readings)).first() is None
    finally:
        container.close()


def test_heatledger_poll_explains_a_bad_configuration(tmp_path: Path) -> None:
    config = tmp_path / "poller.toml"
    config.write_text('[[devices]]\nhost = "h"\nmeter_serial = "BM-1"\nport = 0\n', encoding="utf-8")

    result = CliRunner().invoke(cli.app, ["poll", "--config", str(config), "--once"], env={"COLUMNS": "250"})

    assert result.exit_code == 2
    assert "cannot be used" in result.output
    assert "register_maps: Field required" in result.output
    assert "devices[0].port: Input should be greater than or equal to 1" in result.output


def test_heatledger_poll_names_the_rules_that_rejected_readings(modbus_server: RunningServer, tmp_path: Path) -> None:
    data = config_data(modbus_server.port)
    data["devices"] = [data["devices"][0]]  # meter A only, and BM-A is not commissioned in this store
    config = tmp_path / "poller.json"
    config.write_text(json.dumps(data), encoding="utf-8")
    env = {"HEATLEDGER_DATA_DIR": str(tmp_path / "store"), "HEATLEDGER_BACKEND": "sqlite", "COLUMNS": "250"}

    result = CliRunner().invoke(cli.app, ["poll", "--config", str(config), "--once"], env=env)

    assert result.exit_code == 1, result.output
    assert "Readings accepted 0, duplicate 0, rejected 1." in result.output
    assert "Rejected readings by rule: unknown_meter ×1" in result.output
