"""A scenario's results as CSV and XLSX, with Chinese headers, for the price bureau's own tools.

One row per household, its columns side by side: the actual (实际) and each variant's area fee,
metered fee, what is due and the settlement, and for each variant its change against the actual
in 元 and %. The XLSX adds number formats (元 to the fen with thousands separators, GJ to the MJ,
percentages) and the totals: overall per column (汇总), by community, building and customer
class, and the distribution of the changes in bands (分布).

The CSV is UTF-8 with a byte-order mark, so a spreadsheet opened on a Chinese Windows reads the
headers as written.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import xlsxwriter

from domain.billing import readable_gj
from infrastructure.scenarios import ResultRow, ScenarioRecord, ScenarioStore, TotalsLevel, TotalsRow, band_order

BYTE_ORDER_MARK = "\ufeff"
HOUSEHOLD_HEADERS = ("户号", "小区", "楼号", "用户类别", "计费面积(m²)", "用热量(GJ)", "实际来源")
ACTUAL = "实际"
COLUMN_FIELDS = (
    ("area_fee_yuan", "面积热费(元)"),
    ("metered_fee_yuan", "计量热费(元)"),
    ("due_yuan", "应收热费(元)"),
    ("settlement_yuan", "结算金额(元)"),
)
CHANGE_FIELDS = (("change_yuan", "增减(元)"), ("change_percent", "增减(%)"))
TOTALS_FIELDS = (
    ("households", "户数", "count"),
    ("area_m2", "计费面积(m²)", "area"),
    ("energy_gj", "用热量(GJ)", "energy"),
    ("area_fee_yuan", "面积热费(元)", "money"),
    ("metered_fee_yuan", "计量热费(元)", "money"),
    ("due_yuan", "应收热费(元)", "money"),
    ("actual_due_yuan", "实际应收(元)", "money"),
    ("change_yuan", "收入增减(元)", "money"),
    ("revenue_change_percent", "收入增减(%)", "percent"),
    ("gainers", "减少户数", "count"),
    ("gainers_percent", "减少户占比(%)", "percent"),
    ("gain_yuan", "减少金额(元)", "money"),
    ("losers", "增加户数", "count"),
    ("losers_percent", "增加户占比(%)", "percent"),
    ("loss_yuan", "增加金额(元)", "money"),
    ("unchanged", "不变户数", "count"),
    ("yuan_per_m2", "平均(元/m²)", "money"),
    ("yuan_per_gj", "平均(元/GJ)", "money"),
)
CLASS_NAMES = {"residential": "居民", "non_residential": "非居民"}
SOURCE_NAMES = {"issued": "已出账", "computed": "按现行热价计算"}
LEVEL_SHEETS = ((TotalsLevel.COMMUNITY, "小区"), (TotalsLevel.BUILDING, "楼栋"), (TotalsLevel.CLASS, "用户类别"))


def column_labels(record: ScenarioRecord) -> list[str]:
    """The columns' names in the export: 实际, then each variant's label."""
    return [ACTUAL, *(variant.label for variant in record.request.variants)]


def household_headers(record: ScenarioRecord) -> list[str]:
    headers = list(HOUSEHOLD_HEADERS)
    for index, label in enumerate(column_labels(record)):
        headers += [f"{label} {name}" for _, name in COLUMN_FIELDS]
        if index:
            headers += [f"{label} {name}" for _, name in CHANGE_FIELDS]
    return headers


def households(store: ScenarioStore, record: ScenarioRecord) -> Iterator[list[Any]]:
    """Each household's row of values (Decimals, text, None), by account number."""
    for _, group in itertools.groupby(store.all_results(record.scenario_id), key=lambda row: row.account_number):
        columns = list(group)
        yield _household_row(columns)


def _household_row(columns: Sequence[ResultRow]) -> list[Any]:
    actual = columns[0]
    assert actual.variant == 0, "the actual column comes first"
    row: list[Any] = [
        actual.account_number,
        actual.community,
        actual.building,
        CLASS_NAMES.get(actual.customer_class, actual.customer_class),
        actual.area_m2,
        GigaJoules(actual.energy_gj) if actual.energy_gj is not None else None,
        SOURCE_NAMES.get(actual.actual_source, actual.actual_source),
    ]
    for column in columns:
        row += [getattr(column, name) for name, _ in COLUMN_FIELDS]
        if column.variant:
            row += [getattr(column, name) for name, _ in CHANGE_FIELDS]
    return row


# -- CSV -----------------------------------------------------------------------------------------


def csv_lines(store: ScenarioStore, record: ScenarioRecord) -> Iterator[str]:
    """The CSV, a line at a time (the byte-order mark first): a header, then a row per household."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: Sequence[Any]) -> str:
        writer.writerow(["" if value is None else _csv_text(value) for value in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield BYTE_ORDER_MARK + line(household_headers(record))
    for row in households(store, record):
        yield line(row)


class GigaJoules(Decimal):
    """An energy figure: written to 0.001 GJ in a CSV when that is exact, as a bill shows it."""


def _csv_text(value: Any) -> str:
    if isinstance(value, GigaJoules):
        return readable_gj(value)
    return format(value, "f") if isinstance(value, Decimal) else str(value)


# -- XLSX ----------------------------------------------------------------------------------------


def xlsx_bytes(store: ScenarioStore, record: ScenarioRecord) -> bytes:
    """The workbook: 户明细 (a row per household), 汇总 (totals per column), 小区, 楼栋, 用户类别 and 分布."""
    output = io.BytesIO()
    # constant_memory writes each row as it comes: a city's households never sit in memory at once.
    workbook = xlsxwriter.Workbook(output, {"constant_memory": True, "in_memory": False})
    formats = _formats(workbook)
    _household_sheet(workbook, formats, store, record)
    labels = column_labels(record)
    _totals_sheet(workbook, formats, "汇总", store.totals(record.scenario_id, TotalsLevel.ALL), labels, level=None)
    for level, name in LEVEL_SHEETS:
        _totals_sheet(workbook, formats, name, store.totals(record.scenario_id, level), labels, level=level)
    _bands_sheet(workbook, formats, record, labels)
    workbook.close()
    return output.getvalue()


def _formats(workbook: Any) -> dict[str, Any]:
    return {
        "header": workbook.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7"}),
        "money": workbook.add_format({"num_format": "#,##0.00"}),
        "area": workbook.add_format({"num_format": "#,##0.00"}),
        "energy": workbook.add_format({"num_format": "#,##0.000"}),
        "percent": workbook.add_format({"num_format": '0.00"%"'}),
        "count": workbook.add_format({"num_format": "#,##0"}),
        "text": workbook.add_format({}),
    }


def _household_sheet(workbook: Any, formats: dict[str, Any], store: ScenarioStore, record: ScenarioRecord) -> None:
    sheet = workbook.add_worksheet("户明细")
    headers = household_headers(record)
    kinds = ["text"] * 4 + ["area", "energy", "text"]
    for index in range(len(column_labels(record))):
        kinds += ["money"] * len(COLUMN_FIELDS) + (["money", "percent"] if index else [])
    sheet.write_row(0, 0, headers, formats["header"])
    for number, values in enumerate(households(store, record), start=1):
        for column, (value, kind) in enumerate(zip(values, kinds, strict=True)):
            _write(sheet, number, column, value, formats[kind])
    sheet.freeze_panes(1, 1)
    sheet.set_column(0, 3, 12)
    sheet.set_column(4, len(headers) - 1, 14)


def _totals_sheet(
    workbook: Any,
    formats: dict[str, Any],
    name: str,
    rows: list[TotalsRow],
    labels: list[str],
    level: TotalsLevel | None,
) -> None:
    sheet = workbook.add_worksheet(name)
    place = {
        None: ["测算方案"],
        TotalsLevel.COMMUNITY: ["小区", "测算方案"],
        TotalsLevel.BUILDING: ["小区", "楼号", "测算方案"],
        TotalsLevel.CLASS: ["用户类别", "测算方案"],
    }[level]
    sheet.write_row(0, 0, place + [header for _, header, _ in TOTALS_FIELDS], formats["header"])
    for number, row in enumerate(rows, start=1):
        keys: list[Any] = {
            None: [],
            TotalsLevel.COMMUNITY: [row.community],
            TotalsLevel.BUILDING: [row.community, row.building],
            TotalsLevel.CLASS: [CLASS_NAMES.get(row.customer_class or "", row.customer_class)],
        }[level]
        label = labels[row.variant] if row.variant < len(labels) else str(row.variant)
        sheet.write_row(number, 0, [*keys, label])
        for offset, (field, _, kind) in enumerate(TOTALS_FIELDS, start=len(keys) + 1):
            value = row.totals.get(field)
            _write(sheet, number, offset, Decimal(value) if isinstance(value, str) else value, formats[kind])
    sheet.freeze_panes(1, len(place))
    sheet.set_column(0, len(place) + len(TOTALS_FIELDS), 14)


def _bands_sheet(workbook: Any, formats: dict[str, Any], record: ScenarioRecord, labels: list[str]) -> None:
    """The number of households per band of change, one column per variant (元, then %)."""
    sheet = workbook.add_worksheet("分布")
    columns = (record.summary or {}).get("columns", [])[1:]
    by_yuan, by_percent = band_order()
    sheet.write_row(0, 0, ["增减区间(元)", *(labels[column["variant"]] for column in columns)], formats["header"])
    for number, band in enumerate(by_yuan, start=1):
        sheet.write(number, 0, band)
        for offset, column in enumerate(columns, start=1):
            sheet.write_number(number, offset, column["bands_yuan"].get(band, 0), formats["count"])
    start = len(by_yuan) + 2
    sheet.write_row(start, 0, ["增减区间(%)", *(labels[column["variant"]] for column in columns)], formats["header"])
    for number, band in enumerate(by_percent, start=start + 1):
        sheet.write(number, 0, band)
        for offset, column in enumerate(columns, start=1):
            sheet.write_number(number, offset, column["bands_percent"].get(band, 0), formats["count"])
    sheet.set_column(0, len(columns), 16)


def _write(sheet: Any, row: int, column: int, value: Any, cell_format: Any) -> None:
    if value is None:
        sheet.write_blank(row, column, None, cell_format)
    elif isinstance(value, Decimal | int):
        # Spreadsheets hold doubles: 元 to the fen and GJ to 10⁻⁹ survive (15 significant digits).
        sheet.write_number(row, column, float(value), cell_format)
    else:
        sheet.write_string(row, column, str(value), cell_format)
