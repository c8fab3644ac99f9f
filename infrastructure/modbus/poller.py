"""One poll round over Modbus TCP: read every device's registers, submit the readings together.

A round reads the devices one after the other. A device that cannot be reached, does not
answer in time (after the client's bounded retries), answers with a Modbus exception or holds
a value that cannot be decoded is reported and skipped; the round goes on with the next one.
The readings of the devices that answered are handed to ``ReadingIntake.submit`` in ONE batch
(channel ``modbus``), so the ledger judges them as any other batch and logs what it rejects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID, uuid4

from pymodbus.exceptions import ModbusException

from application.authorization import Principal, Role
from application.ingestion import BatchReport, ItemOutcome, ReadingItem
from domain.readings import ReadingValues
from domain.values import ReadingSource
from infrastructure.intake import Channel, ReadingIntake
from infrastructure.modbus.config import (
    MAXIMUM_REGISTERS_PER_READ,
    DeviceSpec,
    PollerConfig,
    RegisterSpec,
    RegisterTable,
)
from infrastructure.modbus.registers import DecodeError, TargetField, decode_registers, scaled_decimal

logger = logging.getLogger(__name__)


class ModbusClient(Protocol):
    """The part of pymodbus' synchronous client the poller uses (``pymodbus.client.ModbusTcpClient``)."""

    def connect(self) -> bool: ...

    def close(self) -> None: ...

    def read_holding_registers(self, address: int, *, count: int = 1, device_id: int = 1) -> Any: ...

    def read_input_registers(self, address: int, *, count: int = 1, device_id: int = 1) -> Any: ...


ClientFactory = Callable[[DeviceSpec, float, int], ModbusClient]


def tcp_client(device: DeviceSpec, timeout_s: float, retries: int) -> ModbusClient:
    """A pymodbus TCP client for ``device``: ``timeout_s`` bounds the connect and each answer,
    ``retries`` the repeats of a request that got no answer."""
    from pymodbus.client import ModbusTcpClient

    client: ModbusClient = ModbusTcpClient(
        device.host, port=device.port, timeout=timeout_s, retries=retries, name=f"modbus {device.label}"
    )
    return client


class DeviceStatus(StrEnum):
    """What one device gave in a round."""

    READ = "read"
    FAILED = "failed"


@dataclass(frozen=True)
class DeviceResult:
    """One device's part of a round: its values, or why there are none; and, once submitted,
    the ledger's outcome for its reading."""

    device: DeviceSpec
    status: DeviceStatus
    values: ReadingValues | None = None
    error: str | None = None
    outcome: ItemOutcome | None = None


@dataclass(frozen=True)
class PollReport:
    """A round: when it started, every device's result in configuration order, and the batch."""

    started_at: datetime
    devices: list[DeviceResult]
    batch: BatchReport | None = None
    # Readings the ledger refused, by reason, for the summary.
    rejection_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> list[DeviceResult]:
        return [result for result in self.devices if result.status is DeviceStatus.FAILED]

    @property
    def read(self) -> list[DeviceResult]:
        return [result for result in self.devices if result.status is DeviceStatus.READ]


class DeviceFailure(Exception):
    """A device that gave no usable reading in this round."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class ModbusPoller:
    """Reads the configured devices and submits their readings through the intake."""

    def __init__(
        self,
        config: PollerConfig,
        intake: ReadingIntake,
        clock: Callable[[], datetime] = utc_now,
        client_factory: ClientFactory = tcp_client,
        principal: Principal | None = None,
    ) -> None:
        self.config = config
        self.intake = intake
        self.clock = clock
        self.client_factory = client_factory
        # The poller acts as a device: it may submit readings and nothing else.
        self.principal = principal or Principal(name=f"modbus:{config.poller.name}", role=Role.DEVICE)

    def poll_once(
        self,
        on_device: Callable[[DeviceResult], None] | None = None,
        batch_id: UUID | None = None,
    ) -> PollReport:
        """One round: every device read (or reported as failed), then one batch submitted.

        ``on_device`` is called after each device, for progress displays.
        """
        started_at = self.clock()
        results: list[DeviceResult] = []
        for device in self.config.devices:
            result = self.read_device(device)
            if result.status is DeviceStatus.FAILED:
                logger.warning("modbus device %s (%s) skipped: %s", device.label, device.address, result.error)
            results.append(result)
            if on_device is not None:
                on_device(result)
        read = [result for result in results if result.values is not None]
        if not read:
            return PollReport(started_at, results)
        items = [ReadingItem(result.device.meter_serial, result.values) for result in read if result.values]
        batch = self.intake.submit(
            self.principal, items, Channel.MODBUS, self.config.poller.reason, batch_id or uuid4()
        )
        return PollReport(started_at, _with_outcomes(results, batch.outcomes), batch, _reasons(batch.outcomes))

    def read_device(self, device: DeviceSpec) -> DeviceResult:
        """The reading of one device now, or a failed result saying why; never raises for the device's faults."""
        timeout_s, retries = self.config.timeout_of(device), self.config.retries_of(device)
        client = self.client_factory(device, timeout_s, retries)
        try:
            if not client.connect():
                raise DeviceFailure(f"no connection to {device.host}:{device.port}")
            fields = self._read_fields(client, device, self.config.registers_of(device))
            values = _reading(self._measured_at(), fields)
        except DeviceFailure as failure:
            return DeviceResult(device, DeviceStatus.FAILED, error=str(failure))
        except (ModbusException, OSError) as error:  # no answer in time, connection lost
            return DeviceResult(device, DeviceStatus.FAILED, error=_describe(error))
        except Exception as error:
            # Whatever else a device's answer sets off must not cost the other devices their round.
            logger.exception("unexpected error reading modbus device %s (%s)", device.label, device.address)
            return DeviceResult(device, DeviceStatus.FAILED, error=_describe(error))
        finally:
            client.close()
        return DeviceResult(device, DeviceStatus.READ, values=values)

    def _measured_at(self) -> datetime:
        # Whole seconds: a device has no finer notion of its reading time than the poll.
        return self.clock().astimezone(UTC).replace(microsecond=0)

    def _read_fields(
        self, client: ModbusClient, device: DeviceSpec, registers: Sequence[RegisterSpec]
    ) -> dict[TargetField, Decimal]:
        values: dict[TargetField, Decimal] = {}
        for table, start, count, specs in read_plan(registers):
            words = _read(client, device, table, start, count)
            for spec in specs:
                offset = spec.address - start
                try:
                    raw = decode_registers(words[offset : offset + spec.register_count], spec.type, spec.word_order)
                    values[spec.field] = scaled_decimal(raw, spec.scale, spec.field, spec.decimals)
                except DecodeError as error:
                    where = f"{table.value} register {spec.address}"
                    raise DeviceFailure(f"{spec.field.value} at {where}: {error}") from None
        return values


def read_plan(registers: Sequence[RegisterSpec]) -> list[tuple[RegisterTable, int, int, list[RegisterSpec]]]:
    """The reads that fetch every register of a map: adjacent values of one table share a read
    (at most 125 registers each); a gap starts a new read, since unmapped addresses may not exist."""
    plan: list[tuple[RegisterTable, int, int, list[RegisterSpec]]] = []
    for table in RegisterTable:
        specs = sorted((spec for spec in registers if spec.table is table), key=lambda spec: spec.address)
        for spec in specs:
            if plan and plan[-1][0] is table:
                _, start, count, group = plan[-1]
                end = start + count
                if spec.address == end and spec.last_address - start < MAXIMUM_REGISTERS_PER_READ:
                    plan[-1] = (table, start, count + spec.register_count, [*group, spec])
                    continue
            plan.append((table, spec.address, spec.register_count, [spec]))
    return plan


def _read(client: ModbusClient, device: DeviceSpec, table: RegisterTable, start: int, count: int) -> list[int]:
    read = client.read_holding_registers if table is RegisterTable.HOLDING else client.read_input_registers
    response = read(start, count=count, device_id=device.unit_id)
    if response.isError():
        code = getattr(response, "exception_code", None)
        meaning = _EXCEPTION_MEANINGS.get(code, "error") if isinstance(code, int) else "error"
        raise DeviceFailure(
            f"unit {device.unit_id} answered {table.value} registers {start}…{start + count - 1} "
            f"with Modbus exception {code} ({meaning})"
        )
    words = list(response.registers)
    if len(words) < count:
        raise DeviceFailure(f"asked for {count} {table.value} registers at {start}, got {len(words)}")
    return words[:count]


_EXCEPTION_MEANINGS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target did not respond",
}


def _reading(measured_at: datetime, fields: dict[TargetField, Decimal]) -> ReadingValues:
    flags = fields.get(TargetField.ERROR_FLAGS)
    return ReadingValues(
        measured_at=measured_at,
        energy_gj=fields[TargetField.ENERGY_GJ],
        volume_m3=fields.get(TargetField.VOLUME_M3),
        operating_hours=fields.get(TargetField.OPERATING_HOURS),
        flow_temperature_c=fields.get(TargetField.FLOW_TEMPERATURE_C),
        return_temperature_c=fields.get(TargetField.RETURN_TEMPERATURE_C),
        flow_rate_m3_h=fields.get(TargetField.FLOW_RATE_M3_H),
        power_kw=fields.get(TargetField.POWER_KW),
        error_flags=int(flags) if flags is not None else 0,
        source=ReadingSource.MODBUS,
    )


def _with_outcomes(results: list[DeviceResult], outcomes: Sequence[ItemOutcome]) -> list[DeviceResult]:
    """Each read device's result with the outcome of its item (items were sent in result order)."""
    remaining = iter(outcomes)
    merged: list[DeviceResult] = []
    for result in results:
        if result.values is None:
            merged.append(result)
            continue
        merged.append(DeviceResult(result.device, result.status, result.values, result.error, next(remaining)))
    return merged


def _reasons(outcomes: Sequence[ItemOutcome]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.reason is not None:
            reasons[outcome.reason] = reasons.get(outcome.reason, 0) + 1
    return reasons


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
