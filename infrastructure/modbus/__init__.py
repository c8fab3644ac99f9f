"""Readings from Modbus TCP devices: a configured register map per device, polled in rounds.

``config`` parses and validates the poller's TOML or JSON file, ``registers`` turns register
words into exact decimals, ``poller`` reads the devices and submits each round's readings
through ``ReadingIntake`` in one batch. ``heatledger poll`` runs it (docs/modbus.md).
"""

from infrastructure.modbus.config import ConfigError, DeviceSpec, PollerConfig, RegisterSpec, load_config, parse_config
from infrastructure.modbus.poller import DeviceResult, DeviceStatus, ModbusPoller, PollReport
from infrastructure.modbus.registers import DataType, DecodeError, TargetField, WordOrder

__all__ = [
    "ConfigError",
    "DataType",
    "DecodeError",
    "DeviceResult",
    "DeviceSpec",
    "DeviceStatus",
    "ModbusPoller",
    "PollReport",
    "PollerConfig",
    "RegisterSpec",
    "TargetField",
    "WordOrder",
    "load_config",
    "parse_config",
]
