"""The analytics reports as files (issue 15): CSV (UTF-8 with a byte-order mark, so Excel reads
the Chinese headers) and XLSX (xlsxwriter, number formats), from the reports' JSON rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import xlsxwriter

# (field path in a row's JSON, Chinese header, kind: text, count, area, energy, unit, money, percent)
Column = tuple[str, str, str]

PLACE_COLUMNS: list[Column] = [
    ("key", "范围", "text"),
    ("households", "户数", "count"),
    ("connected_area_m2", "入网面积 m²", "area"),
    ("heated_area_m2", "实供面积 m²", "area"),
    ("energy_gj", "用热量 GJ", "energy"),
    ("unit_consumption_connected_gj_per_m2", "入网面积单耗 GJ/m²", "unit"),
    ("unit_consumption_heated_gj_per_m2", "实供面积单耗 GJ/m²", "unit"),
    ("average_gj_per_m2", "公司平均单耗 GJ/m²", "unit"),
    ("saving.saved_gj", "节约热量 GJ", "energy"),
    ("saving.connectable_area_m2", "可增供面积 m²", "area"),
    ("metered.receivable_yuan", "计量应收 元", "money"),
    ("metered.purchase_cost_yuan", "计量购热成本 元", "money"),
    ("metered.profit_yuan", "计量购销差 元", "money"),
    ("metered.margin_percent", "计量毛利率 %", "percent"),
    ("area_based.receivable_yuan", "面积应收 元", "money"),
    ("area_based.purchase_cost_yuan", "面积购热成本 元", "money"),
    ("area_based.profit_yuan", "面积购销差 元", "money"),
    ("area_based.margin_percent", "面积毛利率 %", "percent"),
    ("fees.paying_less", "少缴户数", "count"),
    ("fees.paying_less_percent", "少缴户占比 %", "percent"),
    ("fees.saved_yuan", "少缴金额 元", "money"),
    ("fees.paying_more", "多缴户数", "count"),
    ("fees.paying_more_percent", "多缴户占比 %", "percent"),
    ("fees.extra_yuan", "多缴金额 元", "money"),
]

LOSS_COLUMNS: list[Column] = [
    ("kind", "类型", "text"),
    ("name", "名称", "text"),
    ("season.fed_energy_gj", "供热量 GJ", "energy"),
    ("season.delivered_energy_gj", "户表热量 GJ", "energy"),
    ("season.loss_gj", "损失 GJ", "energy"),
    ("season.loss_percent", "损失率 %", "percent"),
    ("season.flagged", "超过阈值", "text"),
]

POSITION_COLUMNS: list[Column] = [
    ("position", "位置", "text"),
    ("flats", "户数", "count"),
    ("energy_gj", "用热量 GJ", "energy"),
    ("area_m2", "面积 m²", "area"),
    ("unit_consumption_gj_per_m2", "单耗 GJ/m²", "unit"),
    ("table_coefficient", "价格表系数", "unit"),
    ("suggested_coefficient", "数据建议系数", "unit"),
    ("spread", "离散度", "unit"),
]

COLLECTION_COLUMNS: list[Column] = [
    ("community", "小区", "text"),
    ("building", "楼号", "text"),
    ("season.households", "户数", "count"),
    ("season.charged_yuan", "应收 元", "money"),
    ("season.collected_yuan", "实收 元", "money"),
    ("season.arrears_yuan", "欠费 元", "money"),
    ("season.rate_percent", "收费率 %", "percent"),
    ("previous_season.charged_yuan", "上季应收 元", "money"),
    ("previous_season.collected_yuan", "上季实收 元", "money"),
    ("previous_season.rate_percent", "上季收费率 %", "percent"),
]

NUMBER_FORMATS = {
    "count": "#,##0",
    "area": "#,##0.00",
    "energy": "#,##0.000",
    "unit": "0.000",
    "money": "#,##0.00",
    "percent": '0.0"%"',
}


def value_at(row: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a JSON row; a list key is joined by spaces."""
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def csv_bytes(columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> bytes:
    """A CSV with the Chinese headers; numbers as the JSON gives them (exact)."""
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerow([header for _, header, _ in columns])
    for row in rows:
        writer.writerow(["" if (value := value_at(row, path)) is None else str(value) for path, _, _ in columns])
    return ("\ufeff" + output.getvalue()).encode("utf-8")


def xlsx_bytes(sheet_name: str, columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> bytes:
    """One sheet with a bold header row, frozen, and number formats per column kind."""
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {"in_memory": True})
    header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7"})
    formats = {kind: workbook.add_format({"num_format": pattern}) for kind, pattern in NUMBER_FORMATS.items()}
    sheet = workbook.add_worksheet(sheet_name)
    sheet.write_row(0, 0, [title for _, title, _ in columns], header)
    for number, row in enumerate(rows, start=1):
        for column, (path, _, kind) in enumerate(columns):
            value = value_at(row, path)
            if value is None:
                continue
            if kind in formats:
                # Excel holds doubles: the file is for reading and charts; the JSON and CSV stay exact.
                sheet.write_number(number, column, float(Decimal(str(value))), formats[kind])
            else:
                sheet.write_string(number, column, str(value))
    sheet.freeze_panes(1, 1)
    sheet.set_column(0, len(columns) - 1, 14)
    workbook.close()
    return output.getvalue()
