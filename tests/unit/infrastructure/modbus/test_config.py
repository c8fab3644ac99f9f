"""The poller's configuration: TOML and JSON read exactly, and every problem reported clearly."""

from __future__ import annotations

import json
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from infrastructure.modbus.config import ConfigError, RegisterTable, load_config, parse_config
from infrastructure.modbus.registers import DataType, TargetField, WordOrder

EXAMPLE_TOML = """
[poller]
name = "substation-poller"
interval_s = 600
timeout_s = 2.5
retries = 1

[[register_maps.kamstrup]]
field = "energy_gj"
address = 0
type = "uint32"
scale = "0.001"

[[register_maps.kamstrup]]
field = "flow_temperature_c"
address = 2
type = "int16"
scale = 0.01

[[register_maps.kamstrup]]
field = "power_kw"
address = 10
type = "float32"
word_order = "little"
table = "input"
decimals = 2

[[devices]]
name = "building 3"
host = "192.0.2.10"
unit_id = 7
meter_serial = "BM-0003"
timeout_s = "1.5"
"""


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "register_maps": {"heat": [{"field": "energy_gj", "address": 0, "type": "uint32", "scale": "0.001"}]},
        "devices": [{"host": "192.0.2.10", "meter_serial": "BM-1"}],
    }
    data.update(changes)
    return data


def problems_of(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_config(data, "poller.toml")
    return error.value.problems


def test_a_toml_file_is_read_with_exact_decimals_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "poller.toml"
    path.write_text(EXAMPLE_TOML, encoding="utf-8")

    config = load_config(path)

    assert (config.poller.name, config.poller.interval_s, config.poller.retries) == ("substation-poller", 600, 1)
    assert config.poller.timeout_s == Decimal("2.5")
    device = config.devices[0]
    assert (device.port, device.unit_id, device.label, device.address) == (
        502,
        7,
        "building 3",
        "192.0.2.10:502 unit 7",
    )
    assert (config.timeout_of(device), config.retries_of(device)) == (1.5, 1)
    energy, temperature, power = config.registers_of(device)
    assert (energy.field, energy.type, energy.scale, energy.word_order) == (
        TargetField.ENERGY_GJ,
        DataType.UINT32,
        Decimal("0.001"),
        WordOrder.BIG,
    )
    assert temperature.scale == Decimal("0.01")  # a TOML number, read as a decimal, not 0.01000000000000000020816…
    assert (power.table, power.word_order, power.decimals) == (RegisterTable.INPUT, WordOrder.LITTLE, 2)


def test_a_json_file_reads_numbers_as_decimals(tmp_path: Path) -> None:
    path = tmp_path / "poller.json"
    data = minimal()
    data["register_maps"]["heat"][0]["scale"] = 0.1
    path.write_text(json.dumps(data), encoding="utf-8")

    config = load_config(path)

    assert config.register_maps["heat"][0].scale == Decimal("0.1")
    assert config.registers_of(config.devices[0]) == config.register_maps["heat"]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("poller.yaml", "devices: []", "the file must end in .toml or .json"),
        ("poller.toml", "[poller\n", "not valid TOML"),
        ("poller.json", '{"devices": [}', "not valid JSON: Expecting value at line 1, column 14"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, name: str, content: str, problem: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.problems[0].startswith(problem)
    assert str(error.value).startswith(f"{path}: ")


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def register(**changes: Any) -> dict[str, Any]:
    return {"field": "energy_gj", "address": 0, "type": "uint32", **changes}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            register(count=1),
            "register_maps.heat[0]: count 1 does not match type uint32, which takes 2 register(s)",
        ),
        (register(type="uint64"), "register_maps.heat[0].type: Input should be 'uint16', 'int16', 'uint32', 'int32'"),
        (register(field="energy_kwh"), "register_maps.heat[0].field: Input should be 'energy_gj'"),
        (register(word_order="middle"), "register_maps.heat[0].word_order: Input should be 'big' or 'little'"),
        (register(address=70000), "register_maps.heat[0].address: Input should be less than or equal to 65535"),
        (register(address=65535), "register_maps.heat[0]: address 65535 leaves no room for the uint32 value"),
        (register(scale="0"), "register_maps.heat[0]: scale must be a finite, non-zero number, not 0"),
        (register(scale="a lot"), "register_maps.heat[0].scale: Input should be a valid decimal"),
        (
            register(scale="0.0000000001"),
            "register_maps.heat[0]: scale 1E-10 gives 10 decimals, but energy_gj keeps at most 9: "
            "an integer register would have to be rounded",
        ),
        (register(decimals=2), "register_maps.heat[0]: decimals applies to float32 values only"),
        (
            register(type="float32", decimals=10),
            "register_maps.heat[0]: decimals 10 is more than energy_gj keeps (9)",
        ),
        (register(colour="red"), "register_maps.heat[0].colour: Extra inputs are not permitted"),
    ],
)
def test_bad_register_entries_are_explained(entry: dict[str, Any], problem: str) -> None:
    problems = problems_of(minimal(register_maps={"heat": [entry]}))
    assert any(line.startswith(problem) for line in problems), problems


def test_error_flags_must_be_unsigned_and_unscaled() -> None:
    entries = [register(), {"field": "error_flags", "address": 2, "type": "int16"}]
    assert problems_of(minimal(register_maps={"heat": entries})) == [
        "register_maps.heat[1]: error_flags are read as uint16 or uint32 with scale 1"
    ]


def test_a_temperature_in_hundredths_fits_but_in_ten_thousandths_does_not() -> None:
    fine = [register(), {"field": "flow_temperature_c", "address": 2, "type": "int16", "scale": "0.01"}]
    assert parse_config(minimal(register_maps={"heat": fine})).register_maps["heat"][1].scale == Decimal("0.01")
    coarse = [register(), {"field": "flow_temperature_c", "address": 2, "type": "int16", "scale": "0.0001"}]
    assert problems_of(minimal(register_maps={"heat": coarse})) == [
        "register_maps.heat[1]: scale 0.0001 gives 4 decimals, but flow_temperature_c keeps at most 3: "
        "an integer register would have to be rounded"
    ]


def test_a_map_needs_energy_and_each_field_once_without_overlaps() -> None:
    entries = [
        {"field": "volume_m3", "address": 0, "type": "uint32"},
        {"field": "power_kw", "address": 1, "type": "float32"},
        {"field": "power_kw", "address": 0, "type": "uint16", "table": "input"},
    ]
    assert problems_of(minimal(register_maps={"heat": entries})) == [
        "register_maps.heat: needs an energy_gj register (every reading carries the energy register)",
        "register_maps.heat: power_kw is mapped more than once",
        "register_maps.heat: volume_m3 and power_kw overlap in the holding registers",
    ]


def test_devices_are_checked_against_the_maps_and_each_other() -> None:
    maps = {"a": [register()], "b": [register()]}
    devices = [
        {"host": "192.0.2.10", "meter_serial": "BM-1", "register_map": "a"},
        {"host": "192.0.2.10", "meter_serial": "BM-1", "register_map": "c"},
        {"host": "192.0.2.11", "meter_serial": "BM-2"},
    ]
    assert problems_of({"register_maps": maps, "devices": devices}) == [
        "devices[1].register_map: no register map 'c' (known: a, b)",
        "devices[1].meter_serial: 'BM-1' is already read by devices[0]",
        "devices[1]: 192.0.2.10:502 unit 1 is already listed as devices[0]",
        "devices[2].register_map: required when there are several register maps",
    ]


@pytest.mark.parametrize(
    ("device", "problem"),
    [
        ({"meter_serial": "BM-1"}, "devices[0].host: Field required"),
        ({"host": "h", "meter_serial": ""}, "devices[0].meter_serial: String should have at least 1 character"),
        (
            {"host": "h", "meter_serial": "BM-1", "port": 0},
            "devices[0].port: Input should be greater than or equal to 1",
        ),
        (
            {"host": "h", "meter_serial": "BM-1", "unit_id": 256},
            "devices[0].unit_id: Input should be less than or equal",
        ),
        ({"host": "h", "meter_serial": "BM-1", "timeout_s": 0}, "devices[0].timeout_s: Input should be greater than 0"),
        ({"host": "h", "meter_serial": "BM-1", "retries": 9}, "devices[0].retries: Input should be less than or equal"),
    ],
)
def test_bad_devices_are_explained(device: dict[str, Any], problem: str) -> None:
    problems = problems_of(minimal(devices=[device]))
    assert any(line.startswith(problem) for line in problems), problems


def test_a_file_needs_maps_and_devices() -> None:
    assert problems_of({}) == ["register_maps: Field required", "devices: Field required"]
    assert problems_of({"register_maps": {}, "devices": []}) == [
        "register_maps: Dictionary should have at least 1 item after validation, not 0",
        "devices: List should have at least 1 item after validation, not 0",
    ]
    assert problems_of([]) == ["Input should be a valid dictionary or instance of PollerConfig"]


def test_the_example_in_the_docs_is_a_valid_configuration() -> None:
    text = (Path(__file__).resolve().parents[4] / "docs" / "modbus.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert example is not None
    config = parse_config(tomllib.loads(example.group(1), parse_float=Decimal), "docs/modbus.md")
    assert [device.meter_serial for device in config.devices] == ["BM-0003", "BM-0007"]
