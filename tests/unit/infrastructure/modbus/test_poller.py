"""A poll round with fake clients: reads planned, failures reported and skipped, one batch submitted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pymodbus.exceptions import ModbusIOException

from application.authorization import Principal, Role
from application.ingestion import BatchReport, ItemOutcome, ItemStatus, ReadingItem
from domain.values import ReadingSource
from infrastructure.intake import Channel
from infrastructure.modbus.config import DeviceSpec, PollerConfig, RegisterSpec, parse_config
from infrastructure.modbus.poller import DeviceStatus, ModbusPoller, read_plan
from infrastructure.modbus.registers import DataType, WordOrder, encode_value

NOW = datetime(2025, 12, 10, 4, 0, 0, 123456, tzinfo=UTC)
HEAT_MAP = [
    {"field": "energy_gj", "address": 0, "type": "uint32", "scale": "0.001"},
    {"field": "volume_m3", "address": 2, "type": "uint32", "scale": "0.01"},
    {"field": "flow_temperature_c", "address": 4, "type": "int16", "scale": "0.01"},
    {"field": "return_temperature_c", "address": 5, "type": "int16", "scale": "0.01"},
    {"field": "power_kw", "address": 0, "type": "float32", "word_order": "little", "table": "input"},
    {"field": "error_flags", "address": 8, "type": "uint16"},
]


@dataclass
class Answer:
    registers: list[int]
    exception_code: int | None = None

    def isError(self) -> bool:  # pymodbus' name
        return self.exception_code is not None


class FakeClient:
    """A device's registers per table and unit; ``connects`` False plays an unreachable host."""

    def __init__(self, tables: dict[str, dict[int, int]], connects: bool = True, raises: Exception | None = None):
        self.tables = tables
        self.connects = connects
        self.raises = raises
        self.reads: list[tuple[str, int, int, int]] = []
        self.closed = False

    def connect(self) -> bool:
        return self.connects

    def close(self) -> None:
        self.closed = True

    def _read(self, table: str, address: int, count: int, device_id: int) -> Answer:
        self.reads.append((table, address, count, device_id))
        if self.raises is not None:
            raise self.raises
        words = self.tables[table]
        if any(address + offset not in words for offset in range(count)):
            return Answer([], exception_code=2)
        return Answer([words[address + offset] for offset in range(count)])

    def read_holding_registers(self, address: int, *, count: int = 1, device_id: int = 1) -> Answer:
        return self._read("holding", address, count, device_id)

    def read_input_registers(self, address: int, *, count: int = 1, device_id: int = 1) -> Answer:
        return self._read("input", address, count, device_id)


class FakeIntake:
    def __init__(self) -> None:
        self.submitted: list[tuple[Principal, list[ReadingItem], Channel, str, UUID | None]] = []

    def submit(
        self,
        principal: Principal,
        items: Sequence[ReadingItem],
        channel: Channel,
        reason: str = "reading upload",
        batch_id: UUID | None = None,
    ) -> BatchReport:
        self.submitted.append((principal, list(items), channel, reason, batch_id))
        assert batch_id is not None
        outcomes = [
            ItemOutcome(index, item.meter_serial, item.values.measured_at, ItemStatus.ACCEPTED)
            for index, item in enumerate(items)
        ]
        return BatchReport(batch_id, outcomes)


def words(energy_kwh_thousandths: int, volume_hundredths: int, flow: int, back: int, flags: int) -> dict[int, int]:
    registers = [
        *encode_value(energy_kwh_thousandths, DataType.UINT32),
        *encode_value(volume_hundredths, DataType.UINT32),
        *encode_value(flow, DataType.INT16),
        *encode_value(back, DataType.INT16),
        0,
        0,
        flags,
    ]
    return dict(enumerate(registers))


def inputs(power: float) -> dict[int, int]:
    return dict(enumerate(encode_value(power, DataType.FLOAT32, WordOrder.LITTLE)))


def config(*devices: dict[str, Any]) -> PollerConfig:
    return parse_config({"poller": {"name": "test-poller"}, "register_maps": {"heat": HEAT_MAP}, "devices": devices})


def poller(cfg: PollerConfig, clients: dict[str, FakeClient], intake: FakeIntake) -> ModbusPoller:
    def factory(device: DeviceSpec, timeout_s: float, retries: int) -> FakeClient:
        assert (timeout_s, retries) == (cfg.timeout_of(device), cfg.retries_of(device))
        return clients[device.meter_serial]

    return ModbusPoller(cfg, intake, clock=lambda: NOW, client_factory=factory)  # type: ignore[arg-type]


def test_a_round_reads_every_device_and_submits_one_batch() -> None:
    cfg = config(
        {"host": "192.0.2.1", "meter_serial": "BM-1", "unit_id": 3},
        {"host": "192.0.2.2", "meter_serial": "BM-2", "timeout_s": "0.5", "retries": 0},
    )
    clients = {
        "BM-1": FakeClient({"holding": words(1234567, 742, 7012, -150, 0), "input": inputs(7.9)}),
        "BM-2": FakeClient({"holding": words(4000000000, 1, 6000, 3000, 0x0102), "input": inputs(-0.25)}),
    }
    intake = FakeIntake()

    report = poller(cfg, clients, intake).poll_once(batch_id=UUID(int=7))

    assert [result.status for result in report.devices] == [DeviceStatus.READ, DeviceStatus.READ]
    assert len(intake.submitted) == 1
    principal, items, channel, reason, batch_id = intake.submitted[0]
    assert principal == Principal("modbus:test-poller", Role.DEVICE)
    assert (channel, reason, batch_id) == (Channel.MODBUS, "Modbus poll", UUID(int=7))
    first, second = (item.values for item in items)
    assert [item.meter_serial for item in items] == ["BM-1", "BM-2"]
    assert (first.energy_gj, first.volume_m3) == (Decimal("1234.567"), Decimal("7.42"))
    assert (first.flow_temperature_c, first.return_temperature_c) == (Decimal("70.12"), Decimal("-1.50"))
    assert (first.power_kw, first.error_flags, first.source) == (Decimal("7.9"), 0, ReadingSource.MODBUS)
    assert first.measured_at == NOW.replace(microsecond=0)
    assert (second.energy_gj, second.power_kw, second.error_flags) == (Decimal("4000000"), Decimal("-0.25"), 0x0102)
    assert first.operating_hours is None and first.flow_rate_m3_h is None
    # Contiguous holding registers share one read; the input register is read apart.
    assert clients["BM-1"].reads == [("holding", 0, 6, 3), ("holding", 8, 1, 3), ("input", 0, 2, 3)]
    assert all(client.closed for client in clients.values())
    assert [result.outcome.status for result in report.devices if result.outcome] == ["accepted", "accepted"]
    assert report.batch is not None and report.batch.accepted == 2


def test_devices_that_fail_are_reported_and_skipped_without_stopping_the_round() -> None:
    cfg = config(
        {"name": "down", "host": "192.0.2.1", "meter_serial": "BM-1"},
        {"host": "192.0.2.2", "meter_serial": "BM-2"},
        {"host": "192.0.2.3", "meter_serial": "BM-3"},
        {"host": "192.0.2.4", "meter_serial": "BM-4"},
        {"host": "192.0.2.5", "meter_serial": "BM-5"},
    )
    nan = dict(enumerate([0x0000, 0x7FC0]))  # little word order: NaN
    clients = {
        "BM-1": FakeClient({}, connects=False),
        "BM-2": FakeClient({"holding": {0: 1, 1: 2}, "input": inputs(1.0)}),  # registers 2… missing
        "BM-3": FakeClient({}, raises=ModbusIOException("No response received after 2 retries")),
        "BM-4": FakeClient({"holding": words(1, 1, 1, 1, 0), "input": nan}),
        "BM-5": FakeClient({"holding": words(5000, 1, 7000, 4000, 0), "input": inputs(2.5)}),
    }
    intake = FakeIntake()
    seen: list[str] = []

    report = poller(cfg, clients, intake).poll_once(on_device=lambda result: seen.append(result.device.meter_serial))

    assert seen == ["BM-1", "BM-2", "BM-3", "BM-4", "BM-5"]
    errors = {result.device.meter_serial: result.error for result in report.failed}
    assert errors == {
        "BM-1": "no connection to 192.0.2.1:502",
        "BM-2": "unit 1 answered holding registers 0…5 with Modbus exception 2 (illegal data address)",
        "BM-3": "ModbusIOException: Modbus Error: [Input/Output] No response received after 2 retries",
        "BM-4": "power_kw at input register 0: the float32 register holds nan, not a number",
    }
    assert [result.device.meter_serial for result in report.read] == ["BM-5"]
    assert [item.meter_serial for item in intake.submitted[0][1]] == ["BM-5"]
    assert report.devices[4].outcome is not None and report.devices[0].outcome is None
    assert all(client.closed for client in clients.values())


def test_a_round_where_no_device_answers_submits_nothing() -> None:
    cfg = config({"host": "192.0.2.1", "meter_serial": "BM-1"})
    intake = FakeIntake()

    report = poller(cfg, {"BM-1": FakeClient({}, connects=False)}, intake).poll_once()

    assert intake.submitted == []
    assert report.batch is None
    assert len(report.failed) == 1


def spec(address: int, data_type: str = "uint16", table: str = "holding", field: str = "energy_gj") -> RegisterSpec:
    return RegisterSpec.model_validate({"field": field, "address": address, "type": data_type, "table": table})


def test_reads_join_adjacent_registers_of_one_table_up_to_125() -> None:
    plan = read_plan(
        [
            spec(10, "uint32"),
            spec(0, "uint32", field="volume_m3"),
            spec(2, field="power_kw"),
            spec(5, field="error_flags"),
            spec(0, "float32", "input", field="flow_rate_m3_h"),
            spec(2, "uint16", "input", field="operating_hours"),
        ]
    )
    assert [(table.value, start, count, [s.field.value for s in group]) for table, start, count, group in plan] == [
        ("holding", 0, 3, ["volume_m3", "power_kw"]),
        ("holding", 5, 1, ["error_flags"]),
        ("holding", 10, 2, ["energy_gj"]),
        ("input", 0, 3, ["flow_rate_m3_h", "operating_hours"]),
    ]
    long = read_plan([spec(address, "uint32") for address in range(0, 260, 2)])
    assert [(start, count) for _, start, count, _ in long] == [(0, 124), (124, 124), (248, 12)]
