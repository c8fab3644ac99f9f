"""Parsing readings from CSV: exact decimals, zones required, one error per bad row."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.values import ReadingSource
from infrastructure.csv_readings import CsvHeaderError, RowError, parse_readings_csv

HEADER = "meter_serial,measured_at,energy_gj"
FULL_HEADER = (
    "meter_serial,measured_at,energy_gj,volume_m3,operating_hours,flow_temperature_c,return_temperature_c,"
    "flow_rate_m3_h,power_kw,error_flags,source"
)


def parse(*lines: str):  # type: ignore[no-untyped-def]
    return parse_readings_csv(line + "\n" for line in lines)


def test_a_row_with_the_required_columns_only() -> None:
    parsed = parse(HEADER, "M-1,2025-11-02T00:00:00+08:00,12.340")
    assert parsed.errors == []
    [row] = parsed.rows
    assert row.row == 2
    assert row.item.meter_serial == "M-1"
    values = row.item.values
    assert values.measured_at == datetime(2025, 11, 1, 16, tzinfo=UTC)
    assert values.measured_at.tzinfo is UTC
    assert values.energy_gj == Decimal("12.340")
    assert str(values.energy_gj) == "12.340"  # read as a decimal, never through a float
    assert values.volume_m3 is None
    assert values.flow_temperature_c is None
    assert values.error_flags == 0
    assert values.source is ReadingSource.MANUAL


def test_a_row_with_every_column() -> None:
    parsed = parse(FULL_HEADER, "60110601,2025-11-02T00:00:00Z,0.1,813.01,10454,49.5,34.3,0.153,2.08,4,MBUS")
    assert parsed.errors == []
    values = parsed.items[0].values
    assert values.energy_gj == Decimal("0.1")
    assert values.volume_m3 == Decimal("813.01")
    assert values.operating_hours == Decimal(10454)
    assert (values.flow_temperature_c, values.return_temperature_c) == (Decimal("49.5"), Decimal("34.3"))
    assert (values.flow_rate_m3_h, values.power_kw) == (Decimal("0.153"), Decimal("2.08"))
    assert values.error_flags == 4
    assert values.source is ReadingSource.MBUS


def test_columns_may_come_in_any_order_and_optional_cells_may_be_empty() -> None:
    parsed = parse("energy_gj, meter_serial ,measured_at,volume_m3", "1.5,M-2,2025-11-02T00:00:00+08:00,")
    assert parsed.errors == []
    assert parsed.items[0].meter_serial == "M-2"
    assert parsed.items[0].values.volume_m3 is None


def test_blank_lines_are_skipped_and_rows_keep_their_line_numbers() -> None:
    parsed = parse(HEADER, "", "M-1,2025-11-02T00:00:00+08:00,1", "", "M-1,2025-11-03T00:00:00+08:00,2")
    assert [row.row for row in parsed.rows] == [3, 5]


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("M-1,2025-11-02T00:00:00,1", "measured_at", "no time zone"),
        ("M-1,2025-11-02,1", "measured_at", "no time zone"),
        ("M-1,yesterday,1", "measured_at", "not an ISO 8601"),
        ("M-1,2025-11-02T00:00:00+08:00,1.2.3", "energy_gj", "not a number"),
        ("M-1,2025-11-02T00:00:00+08:00,NaN", "energy_gj", "not a finite number"),
        ("M-1,2025-11-02T00:00:00+08:00,Infinity", "energy_gj", "not a finite number"),
        ("M-1,2025-11-02T00:00:00+08:00,", "energy_gj", "energy_gj is required"),
        (",2025-11-02T00:00:00+08:00,1", "meter_serial", "meter_serial is required"),
        ("M-1,,1", "measured_at", "measured_at is required"),
        ("X" * 65 + ",2025-11-02T00:00:00+08:00,1", "meter_serial", "at most 64"),
        ('"M\n-1",2025-11-02T00:00:00+08:00,1', "meter_serial", "line breaks"),
    ],
)
def test_a_bad_cell_is_reported_with_its_row_and_column(line: str, column: str, message: str) -> None:
    parsed = parse(HEADER, "M-1,2025-11-02T00:00:00+08:00,1", line)
    assert len(parsed.rows) == 1
    [error] = parsed.errors
    assert (error.row, error.column) == (3, column)
    assert message in error.message


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        (",,,,,,-1,manual", "error_flags"),
        (",,,,,,1.5,manual", "error_flags"),
        (",,,,,,²,manual", "error_flags"),
        (",,,,,,0,carrier pigeon", "source"),
        ("abc,,,,,,0,manual", "volume_m3"),
        (",,,hot,,,0,manual", "return_temperature_c"),
    ],
)
def test_bad_optional_cells_are_reported(cells: str, column: str) -> None:
    parsed = parse(FULL_HEADER, f"M-1,2025-11-02T00:00:00+08:00,1,{cells}")
    assert parsed.rows == []
    assert [error.column for error in parsed.errors] == [column]


def test_a_row_with_the_wrong_number_of_fields_is_reported_whole() -> None:
    parsed = parse(HEADER, "M-1,2025-11-02T00:00:00+08:00", "M-1,2025-11-02T00:00:00+08:00,1,extra")
    assert parsed.rows == []
    assert parsed.errors == [
        RowError(2, None, "the row has 2 fields, the header 3"),
        RowError(3, None, "the row has 4 fields, the header 3"),
    ]


def test_a_row_spanning_lines_is_numbered_by_its_first_line() -> None:
    parsed = parse(HEADER, '"M-1",2025-11-02T00:00:00+08:00,"1', '"', "M-2,never,1")
    assert [row.row for row in parsed.rows] == [2]
    assert [error.row for error in parsed.errors] == [4]


def test_good_rows_survive_bad_neighbours_in_file_order() -> None:
    parsed = parse(HEADER, "A,2025-11-02T00:00:00+08:00,1", "B,never,2", "C,2025-11-02T00:00:00+08:00,3")
    assert [item.meter_serial for item in parsed.items] == ["A", "C"]
    assert [error.row for error in parsed.errors] == [3]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("meter_serial,measured_at", "lacks energy_gj"),
        ("serial,when,energy_gj", "lacks meter_serial, measured_at"),
        ("meter_serial,measured_at,energy_gj,energy_kwh", "unknown column energy_kwh"),
        ("meter_serial,measured_at,energy_gj,energy_gj", "appears more than once"),
    ],
)
def test_an_unusable_header_stops_the_whole_file(header: str, message: str) -> None:
    with pytest.raises(CsvHeaderError, match=message):
        parse(header, "M-1,2025-11-02T00:00:00+08:00,1")


def test_an_empty_file_has_no_header() -> None:
    with pytest.raises(CsvHeaderError, match="empty"):
        parse_readings_csv([])
