"""Meter readings from a CSV file, parsed into ingestion items with an error for every bad row.

The file has a header row. Required columns: ``meter_serial``, ``measured_at`` (ISO 8601 with a
time zone, e.g. ``2025-11-02T00:00:00+08:00``) and ``energy_gj``. Optional columns:
``volume_m3``, ``operating_hours``, ``flow_temperature_c``, ``return_temperature_c``,
``flow_rate_m3_h``, ``power_kw``, ``error_flags`` (a whole number) and ``source`` (mbus, nbiot,
modbus, manual or estimate; manual when absent). An empty optional cell means "not reported".
Numbers are read as decimals, never as floats, so ``1.10`` stays exactly 1.10. A row that cannot
be parsed is reported (row, column, message) and not sent; the reading rules are the ledger's.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from application.ingestion import ReadingItem
from domain.readings import ReadingValues
from domain.values import ReadingSource

REQUIRED_COLUMNS = ("meter_serial", "measured_at", "energy_gj")
DECIMAL_COLUMNS = (
    "volume_m3",
    "operating_hours",
    "flow_temperature_c",
    "return_temperature_c",
    "flow_rate_m3_h",
    "power_kw",
)
OPTIONAL_COLUMNS = (*DECIMAL_COLUMNS, "error_flags", "source")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# A bound on one file: a city's daily readings fit many times over.
MAXIMUM_ROWS = 2_000_000
MAXIMUM_SERIAL_LENGTH = 64


class CsvHeaderError(ValueError):
    """The file has no header, or its header lacks a required column or names an unknown one."""


@dataclass(frozen=True)
class RowError:
    """Why a row could not be parsed. ``row`` is the line number in the file (the header is 1)."""

    row: int
    column: str | None
    message: str


@dataclass(frozen=True)
class ParsedRow:
    row: int
    item: ReadingItem


@dataclass(frozen=True)
class ParsedReadings:
    """The rows that parsed, in file order, and the errors of those that did not."""

    rows: list[ParsedRow]
    errors: list[RowError]

    @property
    def items(self) -> list[ReadingItem]:
        return [parsed.item for parsed in self.rows]


class _CellError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise CsvHeaderError("the file is empty: a header row is required") from None
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CsvHeaderError(f"the header lacks {', '.join(missing)} (it has: {', '.join(header) or 'nothing'})")
    unknown = [name for name in header if name not in KNOWN_COLUMNS]
    if unknown:
        raise CsvHeaderError(f"unknown column {', '.join(unknown)}; known columns: {', '.join(KNOWN_COLUMNS)}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise CsvHeaderError(f"the column {', '.join(duplicated)} appears more than once")
    return header


def _decimal(column: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _CellError(column, f"{text!r} is not a number") from None
    if not value.is_finite():
        raise _CellError(column, f"{text!r} is not a finite number")
    return value


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _CellError("measured_at", f"{text!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _CellError("measured_at", f"{text!r} has no time zone (add +08:00 or Z)")
    return moment.astimezone(UTC)


def _error_flags(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise _CellError("error_flags", f"{text!r} is not a whole number of 0 or more")
    return int(text)


def _source(text: str) -> ReadingSource:
    try:
        return ReadingSource(text.lower())
    except ValueError:
        choices = ", ".join(source.value for source in ReadingSource)
        raise _CellError("source", f"{text!r} is not a reading source ({choices})") from None


def _required(cells: dict[str, str], column: str) -> str:
    text = cells[column]
    if not text:
        raise _CellError(column, f"{column} is required")
    return text


def _item(cells: dict[str, str]) -> ReadingItem:
    serial = _required(cells, "meter_serial")
    if len(serial) > MAXIMUM_SERIAL_LENGTH:
        raise _CellError("meter_serial", f"a serial number has at most {MAXIMUM_SERIAL_LENGTH} characters")
    if not serial.isprintable():
        raise _CellError("meter_serial", "a serial number cannot hold line breaks or control characters")
    values: dict[str, Any] = {
        "measured_at": _timestamp(_required(cells, "measured_at")),
        "energy_gj": _decimal("energy_gj", _required(cells, "energy_gj")),
    }
    for column in DECIMAL_COLUMNS:
        if cells.get(column):
            values[column] = _decimal(column, cells[column])
    if cells.get("error_flags"):
        values["error_flags"] = _error_flags(cells["error_flags"])
    if cells.get("source"):
        values["source"] = _source(cells["source"])
    return ReadingItem(serial, ReadingValues(**values))


def parse_readings_csv(lines: Iterable[str]) -> ParsedReadings:
    """Parse a readings CSV (an open text file or any iterable of lines).

    Raises CsvHeaderError when the header is unusable; every other problem is a RowError.
    """
    reader = csv.reader(lines)
    header = _header(reader)
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    for _ in range(MAXIMUM_ROWS):
        first_line = reader.line_num + 1  # a quoted cell may span lines: report where the row starts
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            errors.append(RowError(first_line, None, f"unreadable CSV: {error}"))
            continue
        _parse_record(record, first_line, header, rows, errors)
    else:
        if next(reader, None) is not None:
            errors.append(RowError(reader.line_num, None, f"the file has more than {MAXIMUM_ROWS} rows; split it"))
    return ParsedReadings(rows, errors)


def _parse_record(
    record: list[str], row: int, header: list[str], rows: list[ParsedRow], errors: list[RowError]
) -> None:
    if not any(cell.strip() for cell in record):
        return  # a blank line
    if len(record) != len(header):
        errors.append(RowError(row, None, f"the row has {len(record)} fields, the header {len(header)}"))
        return
    try:
        rows.append(ParsedRow(row, _item({name: cell.strip() for name, cell in zip(header, record, strict=True)})))
    except _CellError as error:
        errors.append(RowError(row, error.column, error.message))
