"""A history's events said in words, and a history page as CSV.

Each event class of the aggregates with a history (``application.history.AGGREGATES``) has a
one-line summary in Chinese and in English, filled from the event's details as the reader may see
them: a masked field reads ``***`` in the summary too, so masking never leaks through the words.
For example

    开户：碧桂园1号楼***单元***层***室，建筑面积 98.50 m²，供热面积 90.00 m²，居民，2025-10-01 起

Times are said in Asia/Shanghai to the minute, dates as ISO dates, amounts and quantities exactly
as the event carries them. A summary that cannot be filled (an event class changed and its template
not yet) falls back to the event type: a history never fails on its words.
"""

from __future__ import annotations

import csv
import io
import json
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from api.messages import Language
from application.history import MASK, HistoryEntry, plain
from domain.day_split import BUSINESS_TIME_ZONE


@dataclass(frozen=True)
class Summary:
    """One event class said in both languages; ``{name}`` placeholders take the event's details."""

    zh: str
    en: str

    def text(self, language: Language) -> str:
        return self.zh if language is Language.ZH else self.en


# Placeholders a template may use beside the event's own fields: the household an event's
# ``household_id`` names, said by its account number when the caller knows it.
DERIVED_PLACEHOLDERS = frozenset({"household"})

SUMMARIES: dict[str, Summary] = {
    # -- households
    "Household.Registered": Summary(
        "开户：{community}{building}号楼{entrance}单元{floor}层{flat}室，建筑面积 {connected_area_m2} m²，"
        "供热面积 {heated_area_m2} m²，{customer_class}，{registered_on} 起",
        "Registered: {community}, building {building}, entrance {entrance}, floor {floor}, flat {flat}; "
        "connected area {connected_area_m2} m², heated area {heated_area_m2} m², {customer_class}, "
        "from {registered_on}",
    ),
    "Household.AreaCorrected": Summary(
        "面积更正：自 {effective_on} 起建筑面积 {connected_area_m2} m²，供热面积 {heated_area_m2} m²",
        "Areas corrected from {effective_on}: connected {connected_area_m2} m², heated {heated_area_m2} m²",
    ),
    "Household.HeatingSuspended": Summary(
        "报停：自 {effective_on} 起停止供热", "Heating suspended from {effective_on}"
    ),
    "Household.HeatingResumed": Summary("恢复供热：自 {effective_on} 起", "Heating resumed from {effective_on}"),
    "Household.OwnerChanged": Summary(
        "过户：自 {effective_on} 起由新户主承担热费", "Owner changed: the new holder is billed from {effective_on}"
    ),
    "Household.Deregistered": Summary(
        "销户：自 {effective_on} 起不再供热、不再计费", "Deregistered: neither supplied nor billed from {effective_on}"
    ),
    "Household.MeterAttached": Summary(
        "装表：热表 {meter_serial} 自 {attached_at} 起计量本户",
        "Meter {meter_serial} measures this household from {attached_at}",
    ),
    "Household.MeterDetached": Summary(
        "拆表：热表 {meter_serial} 自 {detached_at} 起不再计量本户",
        "Meter {meter_serial} no longer measures this household from {detached_at}",
    ),
    "Household.MarkedVulnerable": Summary(
        "标记为困难户：欠费时不限流", "Marked vulnerable: protected from arrears restriction"
    ),
    "Household.VulnerabilityCleared": Summary("取消困难户标记", "No longer marked vulnerable"),
    "Household.DisputeOpened": Summary(
        "登记争议：争议金额在结案前不催缴、不计入欠费标记",
        "Dispute opened: its amount is held from reminders and arrears flags until it closes",
    ),
    "Household.DisputeClosed": Summary("争议结案：争议金额恢复计入欠费", "Dispute closed: its amount counts again"),
    # -- meters
    "Meter.Commissioned": Summary(
        "热表投入使用：{maker} {model}，{accuracy_class} 级，{kind}，{commissioned_at}",
        "Commissioned at {commissioned_at}: {maker} {model}, class {accuracy_class}, {kind}",
    ),
    "Meter.AttachedToHousehold": Summary(
        "装到热用户 {household}，自 {attached_at} 起", "Attached to household {household} from {attached_at}"
    ),
    "Meter.DetachedFromHousehold": Summary(
        "从热用户 {household} 拆下，自 {detached_at} 起", "Detached from household {household} from {detached_at}"
    ),
    "Meter.ReadingRecorded": Summary(
        "读数：{measured_at} 累计热量 {energy_gj} GJ（{source}）",
        "Reading at {measured_at}: energy register {energy_gj} GJ ({source})",
    ),
    "Meter.FaultReported": Summary(
        "故障：{measured_at} 错误标志 {error_flags}（此前 {previous_error_flags}）",
        "Fault at {measured_at}: error flags {error_flags} (were {previous_error_flags})",
    ),
    "Meter.FaultCleared": Summary(
        "故障消除：{measured_at} 错误标志归零（此前 {previous_error_flags}）",
        "Fault cleared at {measured_at}: error flags back to 0 (were {previous_error_flags})",
    ),
    "Meter.Decommissioned": Summary("热表停用：{decommissioned_at}", "Decommissioned at {decommissioned_at}"),
    "Meter.VerificationRecorded": Summary(
        "检定：{verified_on}，证书 {certificate}，{passed}",
        "Verified on {verified_on}, certificate {certificate}: {passed}",
    ),
    "Meter.ReadingVoided": Summary("作废 {measured_at} 的读数", "Reading at {measured_at} voided"),
    "Meter.FaultyIntervalEstimated": Summary(
        "故障时段 {interval_start} 至 {interval_end} 估算热量 {estimated_energy_gj} GJ（{method}）",
        "Faulty interval {interval_start} to {interval_end} estimated at {estimated_energy_gj} GJ ({method})",
    ),
    "Meter.IntervalsRecharged": Summary(
        "{since} 之后的计量时段按现行装表关系重新归户",
        "Intervals after {since} charged again to the households the attachments now name",
    ),
    "Meter.ImplausibleHeatDecided": Summary(
        "热量异常处理：{interval_start} 至 {interval_end}，{decision}（记录 {recorded_energy_gj} GJ，"
        "按 k·Δθ·ΔV 应为 {expected_energy_gj} GJ）",
        "Implausible heat {interval_start} to {interval_end}: {decision} (recorded {recorded_energy_gj} GJ, "
        "k·Δθ·ΔV expects {expected_energy_gj} GJ)",
    ),
    # -- billing periods (a bill's history)
    "BillingPeriod.Opened": Summary(
        "开立 {season_code} 采暖季计费期：{first_day} 至 {last_day}，热价第 {tariff_version} 版"
        "（{document_number}），计费面积 {billed_area_m2} m²，位置系数 {position_coefficient}",
        "Billing period of season {season_code} opened: {first_day} to {last_day}, tariff version "
        "{tariff_version} ({document_number}), billed area {billed_area_m2} m², position coefficient "
        "{position_coefficient}",
    ),
    "BillingPeriod.SeasonDaysChanged": Summary(
        "采暖季改为 {season_first_day} 至 {season_last_day}（{season_decree}），本户计费 {first_day} 至 {last_day}",
        "Season changed to {season_first_day} to {season_last_day} ({season_decree}); this household is billed "
        "{first_day} to {last_day}",
    ),
    "BillingPeriod.BillIssued": Summary(
        "开出{kind}账单 {number}：{first_day} 至 {last_day}，{amount_yuan} 元",
        "{kind} bill {number} issued: {first_day} to {last_day}, {amount_yuan} 元",
    ),
    # -- tariffs
    "Tariff.Opened": Summary(
        "建立{customer_class}热价，适用于{scope}", "Tariff opened for {customer_class} in {scope}"
    ),
    "Tariff.VersionPublished": Summary(
        "发布热价第 {number} 版：{effective_from} 至 {effective_until}，批准文号 {document_number}"
        "（{approved_on} 批准）",
        "Version {number} published: {effective_from} to {effective_until}, document {document_number} "
        "approved on {approved_on}",
    ),
    "Tariff.VersionCorrected": Summary(
        "热价第 {number} 版经批准文号 {document_number}（{approved_on} 批准）更正价格，已发布的版本不变，"
        "按更正单 {correction_id} 对所涉计费期开具调整单",
        "Version {number} corrected by document {document_number} (approved on {approved_on}); the version "
        "stays as published, correction {correction_id} books notes against the periods billed under it",
    ),
    # -- payments
    "Payment.Received": Summary(
        "收款 {amount_yuan} 元（{channel}，单据号 {reference}），{received_on} 入账",
        "Payment of {amount_yuan} 元 received ({channel}, reference {reference}) on {received_on}",
    ),
    "Payment.Reversed": Summary("付款冲回（{kind}），{reversed_on}", "Payment reversed ({kind}) on {reversed_on}"),
}

# Values said in words rather than as codes, by the field that carries them.
VALUE_LABELS: dict[tuple[str, Any], Summary] = {
    ("customer_class", "residential"): Summary("居民", "residential"),
    ("customer_class", "non_residential"): Summary("非居民", "non-residential"),
    ("kind", "household"): Summary("户用表", "household meter"),
    ("kind", "building"): Summary("楼栋表", "building meter"),
    ("kind", "substation_primary"): Summary("换热站一次侧表", "substation primary meter"),
    ("kind", "prepayment"): Summary("预交", "Prepayment"),
    ("kind", "statement"): Summary("月度", "Monthly statement"),
    ("kind", "settlement"): Summary("结算", "Settlement"),
    ("kind", "bounced"): Summary("转账退回", "bounced"),
    ("kind", "chargeback"): Summary("拒付", "chargeback"),
    ("kind", "error"): Summary("误录", "recorded in error"),
    ("source", "mbus"): Summary("M-Bus", "M-Bus"),
    ("source", "nbiot"): Summary("NB-IoT", "NB-IoT"),
    ("source", "modbus"): Summary("Modbus", "Modbus"),
    ("source", "manual"): Summary("人工录入", "entered by hand"),
    ("source", "estimate"): Summary("估算", "estimate"),
    ("passed", True): Summary("合格", "passed"),
    ("passed", False): Summary("不合格", "failed"),
    ("decision", "bill_as_measured"): Summary("按实测计费", "billed as measured"),
    ("decision", "estimate"): Summary("按估算计费", "billed by an estimate"),
    ("decision", "hold"): Summary("暂缓计费待检定", "held until a verification"),
    ("channel", "cash"): Summary("现金", "cash"),
    ("channel", "card"): Summary("刷卡", "card"),
    ("channel", "bank_transfer"): Summary("银行转账", "bank transfer"),
    ("channel", "online"): Summary("线上支付", "online"),
    ("scope", "*"): Summary("全市", "the whole city"),
    ("effective_until", None): Summary("长期", "open-ended"),
}
NOTHING = "—"


def summary_placeholders(key: str) -> set[str]:
    """The names the summaries of event class ``key`` fill, in either language."""
    template = SUMMARIES[key]
    return {
        name
        for text in (template.zh, template.en)
        for _, name, _, _ in string.Formatter().parse(text)
        if name is not None
    }


def summarize(entry: HistoryEntry, language: Language, accounts: Mapping[UUID, str] | None = None) -> str:
    """The entry in one line, in ``language``; ``accounts`` says households by their account number."""
    template = SUMMARIES.get(entry.event_key)
    if template is None:
        return entry.event_type
    values = {name: said(name, value, language) for name, value in entry.details.items()}
    household_id = entry.details.get("household_id")
    if isinstance(household_id, UUID):
        values["household"] = (accounts or {}).get(household_id, str(household_id))
    try:
        return template.text(language).format_map(values)
    except (KeyError, ValueError, IndexError):
        return entry.event_type


def said(name: str, value: Any, language: Language) -> str:
    """A detail's value as a summary says it."""
    if isinstance(value, str) and value == MASK:
        return MASK
    label = VALUE_LABELS.get((name, value)) if _hashable(value) else None
    if label is not None:
        return label.text(language)
    if value is None:
        return NOTHING
    if isinstance(value, datetime):
        return value.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | bool) or value is None


# -- CSV --------------------------------------------------------------------------------------

CSV_MEDIA_TYPE = "text/csv"
# The columns of a history in CSV, with their headers in both languages.
CSV_COLUMNS: tuple[tuple[str, Summary], ...] = (
    ("version", Summary("版本", "version")),
    ("event_type", Summary("事件类型", "event type")),
    ("recorded_at", Summary("记录时间", "recorded at")),
    ("happened_at", Summary("发生时间", "happened at")),
    ("effective_on", Summary("生效日期", "effective on")),
    ("actor", Summary("操作人", "actor")),
    ("reason", Summary("原因", "reason")),
    ("correlation_id", Summary("关联号", "correlation id")),
    ("summary", Summary("摘要", "summary")),
    ("details", Summary("详情", "details")),
    ("masked_fields", Summary("已隐去的字段", "masked fields")),
)
# A cell starting with one of these is a formula to a spreadsheet: it is written with a leading
# apostrophe, so a reason typed as "=HYPERLINK(…)" stays text (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_row(entry: HistoryEntry, summary: str) -> dict[str, str]:
    """The cells of an entry's CSV row, by column name."""
    return {
        "version": str(entry.version),
        "event_type": entry.event_type,
        "recorded_at": entry.recorded_at.isoformat(),
        "happened_at": entry.happened_at.isoformat() if entry.happened_at else "",
        "effective_on": entry.effective_on.isoformat() if entry.effective_on else "",
        "actor": entry.actor,
        "reason": entry.reason,
        "correlation_id": str(entry.correlation_id) if entry.correlation_id else "",
        "summary": summary,
        "details": json.dumps(plain(entry.details), ensure_ascii=False, separators=(",", ":")),
        "masked_fields": " ".join(entry.masked_fields),
    }


def history_csv(rows: Iterable[Mapping[str, str]], language: Language) -> str:
    """The rows as CSV with headers in ``language``, starting with a byte-order mark so that
    spreadsheet programs read the Chinese as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header.text(language) for _, header in CSV_COLUMNS])
    for row in rows:
        writer.writerow([_inert(row[name]) for name, _ in CSV_COLUMNS])
    return "\ufeff" + buffer.getvalue()


def _inert(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell
