"""The poller's configuration: Modbus TCP devices and the register maps they are read with.

A TOML or JSON file (see docs/modbus.md)::

    [poller]
    name = "substation-poller"   # the actor recorded on every reading
    interval_s = 900
    timeout_s = "3"
    retries = 2

    [[register_maps.kamstrup]]
    field = "energy_gj"
    address = 0
    type = "uint32"
    word_order = "big"
    scale = "0.001"

    [[devices]]
    host = "192.0.2.10"
    port = 502
    unit_id = 1
    meter_serial = "BM-0001"
    register_map = "kamstrup"

Numbers in the file are read as exact decimals (never floats); a scale may be written as a
string (``"0.001"``) or a number. Every problem of a file is reported at once, each with the
place it was found (``devices[1].port: …``), as a ``ConfigError``.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from application.ingestion import MAXIMUM_BATCH_SIZE
from domain.values import MAXIMUM_CODE_LENGTH, MAXIMUM_NAME_LENGTH
from infrastructure.modbus.registers import DataType, TargetField, WordOrder

DEFAULT_PORT = 502
DEFAULT_INTERVAL_S = 900
DEFAULT_TIMEOUT_S = Decimal(3)
DEFAULT_RETRIES = 2
MAXIMUM_TIMEOUT_S = Decimal(60)
MAXIMUM_RETRIES = 5
# One Modbus read returns at most 125 registers.
MAXIMUM_REGISTERS_PER_READ = 125


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` lists every reason, one a line."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


class RegisterTable(StrEnum):
    """Which Modbus table a value is read from: holding registers (function 3) or input registers (4)."""

    HOLDING = "holding"
    INPUT = "input"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterSpec(_Strict):
    """Where one reading field lives in a device's registers and how to turn it into the field's unit."""

    field: TargetField
    address: int = Field(ge=0, le=0xFFFF, description="Zero-based register address, as sent on the wire")
    type: DataType
    count: int | None = Field(default=None, description="Registers the value spans; must match the type if given")
    word_order: WordOrder = WordOrder.BIG
    scale: Decimal = Field(default=Decimal(1), description="The raw value times this gives the field's unit")
    decimals: int | None = Field(
        default=None, ge=0, description="float32 only: round to this many decimals (fewer than the field keeps)"
    )
    table: RegisterTable = RegisterTable.HOLDING

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.count is not None and self.count != self.type.register_count:
            raise ValueError(
                f"count {self.count} does not match type {self.type.value}, "
                f"which takes {self.type.register_count} register(s)"
            )
        if self.address + self.type.register_count - 1 > 0xFFFF:
            raise ValueError(f"address {self.address} leaves no room for the {self.type.value} value")
        if not self.scale.is_finite() or self.scale == 0:
            raise ValueError(f"scale must be a finite, non-zero number, not {self.scale}")
        if self.field is TargetField.ERROR_FLAGS:
            if self.type not in (DataType.UINT16, DataType.UINT32) or self.scale != 1:
                raise ValueError("error_flags are read as uint16 or uint32 with scale 1")
        elif self.type.is_integer and _places(self.scale) > self.field.decimals:
            raise ValueError(
                f"scale {self.scale} gives {_places(self.scale)} decimals, but {self.field.value} keeps at most "
                f"{self.field.decimals}: an integer register would have to be rounded"
            )
        if self.decimals is not None:
            if self.type is not DataType.FLOAT32:
                raise ValueError("decimals applies to float32 values only (integers are kept exactly)")
            if self.decimals > self.field.decimals:
                raise ValueError(
                    f"decimals {self.decimals} is more than {self.field.value} keeps ({self.field.decimals})"
                )
        return self

    @property
    def register_count(self) -> int:
        return self.type.register_count

    @property
    def last_address(self) -> int:
        return self.address + self.register_count - 1


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


RegisterMap = Annotated[list[RegisterSpec], Field(min_length=1)]


class DeviceSpec(_Strict):
    """A Modbus TCP device (a meter, or a gateway in front of meters) and the meter it reads."""

    name: str | None = Field(default=None, max_length=MAXIMUM_NAME_LENGTH, description="Shown in reports")
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=255, description="The Modbus unit (device) id behind the address")
    meter_serial: str = Field(min_length=1, max_length=MAXIMUM_CODE_LENGTH)
    register_map: str | None = Field(default=None, description="A key of register_maps; optional if only one")
    timeout_s: Decimal | None = Field(default=None, gt=0, le=MAXIMUM_TIMEOUT_S)
    retries: int | None = Field(default=None, ge=0, le=MAXIMUM_RETRIES)

    @property
    def label(self) -> str:
        return self.name or self.meter_serial

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port} unit {self.unit_id}"


class PollerSettings(_Strict):
    """Defaults for every device and the poller's own identity."""

    name: str = Field(default="modbus-poller", min_length=1, max_length=100)
    interval_s: int = Field(default=DEFAULT_INTERVAL_S, ge=1, le=86400)
    timeout_s: Decimal = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=MAXIMUM_TIMEOUT_S)
    retries: int = Field(default=DEFAULT_RETRIES, ge=0, le=MAXIMUM_RETRIES)
    reason: str = Field(default="Modbus poll", min_length=1, max_length=500)


class PollerConfig(_Strict):
    """The whole file: poller settings, named register maps and the devices to read."""

    poller: PollerSettings = PollerSettings()
    register_maps: dict[str, RegisterMap] = Field(min_length=1)
    devices: list[DeviceSpec] = Field(min_length=1, max_length=MAXIMUM_BATCH_SIZE)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []
        for name, registers in self.register_maps.items():
            problems.extend(_map_problems(name, registers))
        single_map = next(iter(self.register_maps)) if len(self.register_maps) == 1 else None
        serials: dict[str, int] = {}
        addresses: dict[tuple[str, int, int], int] = {}
        for index, device in enumerate(self.devices):
            where = f"devices[{index}]"
            if device.register_map is None and single_map is None:
                problems.append(f"{where}.register_map: required when there are several register maps")
            elif device.register_map is not None and device.register_map not in self.register_maps:
                known = ", ".join(sorted(self.register_maps))
                problems.append(f"{where}.register_map: no register map {device.register_map!r} (known: {known})")
            if device.meter_serial in serials:
                first = serials[device.meter_serial]
                problems.append(f"{where}.meter_serial: {device.meter_serial!r} is already read by devices[{first}]")
            serials.setdefault(device.meter_serial, index)
            key = (device.host.lower(), device.port, device.unit_id)
            if key in addresses:
                problems.append(f"{where}: {device.address} is already listed as devices[{addresses[key]}]")
            addresses.setdefault(key, index)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def registers_of(self, device: DeviceSpec) -> list[RegisterSpec]:
        """The register map a device is read with."""
        name = device.register_map or next(iter(self.register_maps))
        return self.register_maps[name]

    def timeout_of(self, device: DeviceSpec) -> float:
        return float(device.timeout_s if device.timeout_s is not None else self.poller.timeout_s)

    def retries_of(self, device: DeviceSpec) -> int:
        return device.retries if device.retries is not None else self.poller.retries


def _map_problems(name: str, registers: Sequence[RegisterSpec]) -> list[str]:
    where = f"register_maps.{name}"
    problems: list[str] = []
    fields = [register.field for register in registers]
    if TargetField.ENERGY_GJ not in fields:
        problems.append(f"{where}: needs an energy_gj register (every reading carries the energy register)")
    for field in sorted({field for field in fields if fields.count(field) > 1}):
        problems.append(f"{where}: {field.value} is mapped more than once")
    for table in RegisterTable:
        spans = sorted((r.address, r.last_address, r.field.value) for r in registers if r.table is table)
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start <= end:
                problems.append(f"{where}: {first} and {second} overlap in the {table.value} registers")
    return problems


def parse_config(data: Any, source: str = "configuration") -> PollerConfig:
    """A validated configuration from parsed TOML or JSON; ConfigError listing every problem."""
    try:
        return PollerConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, [problem for item in error.errors() for problem in _describe(item)]) from None


def load_config(path: Path) -> PollerConfig:
    """Read and validate a ``.toml`` or ``.json`` file (numbers read as exact decimals)."""
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, ["no such file"])
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(source, [f"cannot read it: {error}"]) from None
    try:
        if suffix == ".toml":
            data = tomllib.loads(text, parse_float=Decimal)
        elif suffix == ".json":
            data = json.loads(text, parse_float=Decimal)
        else:
            raise ConfigError(source, ["the file must end in .toml or .json"])
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [f"not valid TOML: {error}"]) from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ConfigError(source, [f"not valid JSON: {error.msg} at {where}"]) from None
    return parse_config(data, source)


def _describe(item: Any) -> list[str]:
    """One validation error as problem lines, each starting with where it was found."""
    location = _dotted(item.get("loc", ()))
    message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
    return [f"{location}: {line}" if location else line for line in message.splitlines()]


def _dotted(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
