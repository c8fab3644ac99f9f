"""Messages a clerk understands, in Chinese by default and in English on request.

The catalog maps a message key to a Chinese and an English template. A key is an error's
``code`` (``not_found``), a refinement of it (``not_found.household``), a reading rule's
``reason`` (``register_backwards``), an error's ``message_key`` (``heated_area_exceeds_connected``),
or a pydantic validation type (``validation.missing``).
Templates take the error's ``params``; a template that cannot be filled, or a key with no
template, falls back to the error's own English message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The languages are api.i18n's; re-exported here, where the API's modules have always found them.
from api.i18n import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from api.i18n import Language as Language
from domain.day_split import BUSINESS_TIME_ZONE
from domain.errors import LedgerError, ReadingRejectedError

# A bound on how much of an Accept-Language header is read.
MAXIMUM_LANGUAGE_RANGES = 20


@dataclass(frozen=True)
class Template:
    """One message in both languages; ``{name}`` placeholders take the error's params."""

    zh: str
    en: str

    def text(self, language: Language) -> str:
        return self.zh if language is Language.ZH else self.en


def negotiate_language(accept_language: str | None) -> Language:
    """The supported language the caller prefers most (RFC 9110 §12.5.4); Chinese by default.

    Ranges are compared by their primary tag (``en-GB`` is English, ``zh-Hans-CN`` Chinese);
    ``*`` stands for the default; ties go to the range listed first; ``q=0`` means "not this".
    """
    if not accept_language:
        return DEFAULT_LANGUAGE
    best_language, best_quality = DEFAULT_LANGUAGE, 0.0
    for language_range in accept_language.split(",")[:MAXIMUM_LANGUAGE_RANGES]:
        language, quality = _parse_language_range(language_range)
        if language is not None and quality > best_quality:
            best_language, best_quality = language, quality
    return best_language


def _parse_language_range(language_range: str) -> tuple[Language | None, float]:
    tag, *parameters = (part.strip() for part in language_range.split(";"))
    primary = tag.lower().split("-")[0]
    language = DEFAULT_LANGUAGE if primary == "*" else _SUPPORTED_PRIMARY_TAGS.get(primary)
    quality = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
    return language, quality if 0.0 <= quality <= 1.0 else 0.0


_SUPPORTED_PRIMARY_TAGS = {language.value: language for language in Language}


# -- titles: one per problem code ---------------------------------------------------------------

TITLES: dict[str, Template] = {
    "invalid_input": Template("输入不符合规则", "Invalid input"),
    "reading_rejected": Template("读数被拒绝", "Reading rejected"),
    "validation_failed": Template("请求数据无效", "Invalid request data"),
    "not_found": Template("记录不存在", "Not found"),
    "route_not_found": Template("地址不存在", "No such address"),
    "method_not_allowed": Template("不支持此操作", "Method not allowed"),
    "conflict": Template("与已有记录冲突", "Conflict"),
    "concurrent_change": Template("记录同时被修改", "Changed concurrently"),
    "permission_denied": Template("无权执行此操作", "Permission denied"),
    "unauthenticated": Template("需要有效的访问令牌", "Authentication required"),
    "content_too_large": Template("请求内容过大", "Content too large"),
    "internal_error": Template("系统内部错误", "Internal error"),
    "unsupported_media_type": Template("不支持的内容类型", "Unsupported media type"),
    "http_error": Template("请求无法处理", "Request cannot be processed"),
    "ledger_error": Template("账本错误", "Ledger error"),
}


def title(code: str, language: Language) -> str:
    """The short, fixed title of a problem code."""
    return TITLES.get(code, TITLES["http_error"]).text(language)


# -- labels: field, register, role and permission names in both languages -----------------------

LABELS: dict[str, Template] = {
    "account_number": Template("户号", "account number"),
    "address": Template("地址", "address"),
    "community": Template("小区", "community"),
    "building": Template("楼号", "building"),
    "entrance": Template("单元", "entrance"),
    "floor": Template("楼层", "floor"),
    "flat": Template("房号", "flat"),
    "connected_area_m2": Template("入网面积", "connected area"),
    "heated_area_m2": Template("实际供热面积", "heated area"),
    "effective_on": Template("生效日期", "effective date"),
    "reason": Template("原因", "reason"),
    "serial": Template("表号", "serial number"),
    "commissioned_at": Template("投入使用时间", "commissioning time"),
    "attached_at": Template("安装时间", "attachment time"),
    "detached_at": Template("拆除时间", "detachment time"),
    "permanent_flow_m3_h": Template("常用流量", "permanent flow rate"),
    "energy_register_width_gj": Template("热量寄存器量程", "energy register width"),
    "volume_register_width_m3": Template("体积寄存器量程", "volume register width"),
    "name": Template("名称", "name"),
    "energy": Template("热量", "energy"),
    "volume": Template("累计流量", "volume"),
    "operating_hours": Template("运行时间", "operating hours"),
    "flow_temperature_c": Template("供水温度", "flow temperature"),
    "return_temperature_c": Template("回水温度", "return temperature"),
    "flow_rate_m3_h": Template("瞬时流量", "flow rate"),
    "power_kw": Template("热功率", "power"),
    "maker": Template("厂家", "maker"),
    "model": Template("型号", "model"),
    "admin": Template("管理员", "administrator"),
    "clerk": Template("收费员", "billing clerk"),
    "customer_service": Template("客服", "customer service"),
    "auditor": Template("审计员", "auditor"),
    "regulator": Template("监管部门", "regulator"),
    "device": Template("设备", "device"),
    "read_ledger": Template("查看账本", "read the ledger"),
    "manage_households": Template("管理热用户", "manage households"),
    "manage_meters": Template("管理热表", "manage meters"),
    "submit_readings": Template("上传读数", "submit readings"),
    "manage_tokens": Template("管理访问令牌", "manage tokens"),
    "rebuild_projections": Template("重建查询数据", "rebuild the read models"),
    "household": Template("热用户", "household"),
    "meter": Template("热表", "meter"),
    "token": Template("访问令牌", "token"),
    "day": Template("日", "day"),
    "month": Template("月", "month"),
}

# Params whose value is itself a name to translate: ``field`` → ``field_label`` and so on.
_LABELLED_PARAMS = ("field", "register", "role", "permission", "kind", "granularity")


def label(name: str, language: Language) -> str:
    """A field, register, role or permission name in the caller's language (the name itself if unknown)."""
    template = LABELS.get(name)
    return template.text(language) if template else name


# -- details: one template per message key ------------------------------------------------------

CATALOG: dict[str, Template] = {
    # reading rules (ReadingRejectedError.reason, and the ingestion's unknown_meter)
    "register_backwards": Template(
        "{register_label}读数倒退：从 {previous} 降到 {current}。",
        "The {register_label} register went backwards from {previous} to {current}.",
    ),
    "future_timestamp": Template(
        "读数时间 {measured_at} 晚于系统当前时间 {received_at}。",
        "The reading is timed {measured_at}, later than the ledger's clock ({received_at}).",
    ),
    "conflicting_reading": Template(
        "该表在 {measured_at} 已有一条不同的读数。",
        "The meter already has a different reading at {measured_at}.",
    ),
    "unknown_meter": Template("没有表号为 {meter_serial} 的热表。", "No meter has the serial number {meter_serial}."),
    "outside_window": Template(
        "读数早于该表保留的最近 100 条读数，且库中其前后读数无法用于核对（需重建查询数据），未予记录。",
        "The reading is older than the last 100 readings the meter keeps and the stored readings around it "
        "cannot be checked (the read models need a rebuild); it is not recorded.",
    ),
    "implausible_increase": Template(
        "热量读数增加了 {increase_gj} GJ，超出此类热表在这段时间内可能计量的热量。",
        "The energy register rose by {increase_gj} GJ, more than a meter of this kind can register in that time.",
    ),
    "invalid_register": Template("{register_label}读数无效。", "The {register_label} register value is not valid."),
    "operating_hours_backwards": Template("运行时间读数倒退。", "The operating hours went backwards."),
    "register_out_of_range": Template(
        "{register_label}读数 {value} 无效：须在 0 到 10⁹ 之间，最多 {places} 位小数。",
        "The {register_label} register value {value} is not valid: it must lie between 0 and 10⁹ "
        "with at most {places} decimals.",
    ),
    "interval_too_long": Template(
        "读数与相邻读数相隔超过 {days} 天，无法分摊到各天。",
        "The reading lies more than {days} days from its neighbour; the interval cannot be shared across days.",
    ),
    "invalid_instant": Template(
        "{field_label}数值 {value} 无效：超出范围或多于 3 位小数。",
        "The {field_label} value {value} is not valid: out of range or more than 3 decimals.",
    ),
    "text_length": Template(
        "{field_label}须为 {minimum} 至 {maximum} 个字符。",
        "The {field_label} must have {minimum} to {maximum} characters.",
    ),
    "register_beyond_width": Template(
        "{register_label}读数 {value} 不小于该表寄存器的量程 {width}。",
        "The {register_label} register value {value} is not below the register's width {width}.",
    ),
    "invalid_temperature": Template(
        "{field_label}超出 -50 至 250 °C 的范围。",
        "The {field_label} lies outside -50 to 250 °C.",
    ),
    "naive_timestamp": Template(
        "读数时间缺少时区（例如 +08:00）。",
        "The reading time carries no time zone (for example +08:00).",
    ),
    "before_commissioning": Template(
        "读数时间早于热表投入使用的时间。",
        "The reading is older than the meter's commissioning.",
    ),
    "inconsistent_with_next": Template(
        "{register_label}读数与其后一条读数对不上。",
        "The {register_label} register does not fit between the readings around it.",
    ),
    # M-Bus frames (infrastructure/mbus, POST /readings/mbus): one key per frame rejection
    "mbus.not_hex": Template(
        "帧不是十六进制文本：第 {position} 个字符是“{character}”（从 0 数起）。",
        "The frame is not hex text: character {position} (counting from 0) is '{character}'.",
    ),
    "mbus.not_hex.odd": Template(
        "帧的十六进制位数为奇数（{digits} 位）。", "The frame has an odd number of hex digits ({digits})."
    ),
    "mbus.frame_too_long.digits": Template(
        "帧有 {size} 个十六进制位，最多 {limit} 个。", "The frame has {size} hex digits; at most {limit} are allowed."
    ),
    "mbus.frame_too_long.bytes": Template(
        "帧有 {size} 字节，最多 {limit} 字节。", "The frame has {size} bytes; at most {limit} are allowed."
    ),
    "mbus.frame_truncated": Template(
        "帧不完整：只有 {size} 字节，应有 {expected} 字节。",
        "The frame is cut short: it has {size} bytes where {expected} are needed.",
    ),
    "mbus.not_a_long_frame": Template(
        "不是 M-Bus 长帧：帧头应为 68 L L 68，收到的是 {start}。",
        "Not an M-Bus long frame: it should start with 68 L L 68, not {start}.",
    ),
    "mbus.length_mismatch": Template(
        "帧长度不符：帧有 {size} 字节，长度字段表示 {expected} 字节。",
        "Wrong length: the frame has {size} bytes but its length field announces {expected}.",
    ),
    "mbus.length_mismatch.bytes": Template(
        "帧的两个长度字节不一致（{first} 和 {second}）。", "The frame's two length bytes differ ({first} and {second})."
    ),
    "mbus.bad_stop_byte": Template(
        "帧的结束字节是 {stop}，应为 16。", "The frame ends with {stop} instead of the stop byte 16."
    ),
    "mbus.bad_checksum": Template(
        "校验和错误：帧中为 {checksum}，按内容计算应为 {computed}。",
        "Bad checksum: the frame says {checksum}, its bytes add up to {computed}.",
    ),
    "mbus.unsupported_ci": Template(
        "不支持 CI 字段 {ci}：只读取 72（变长数据应答）。",
        "The CI field {ci} is not supported; only 72 (variable data response) is read.",
    ),
    "mbus.bad_identification": Template(
        "识别号 {identification} 不是 8 位十进制（BCD）数字。",
        "The identification number {identification} is not 8 decimal (BCD) digits.",
    ),
    "mbus.undecodable": Template(
        "无法解码帧中的数据记录（{error}）。", "The frame's data records cannot be decoded ({error})."
    ),
    "mbus.undecodable.record": Template(
        "第 {record} 条数据记录（VIF {vif}）无法解码：{error}。",
        "Data record {record} (VIF {vif}) cannot be decoded: {error}.",
    ),
    "mbus.unknown_vif.record": Template(
        "第 {record} 条数据记录的 VIF {vif} 无法识别，整帧未采用。",
        "Data record {record} has a VIF ({vif}) that is not known; the frame is not used.",
    ),
    "mbus.unknown_medium": Template(
        "介质代码 {medium} 不是热量表（04：流量在回水管计量；0C：流量在供水管计量）。",
        "The medium {medium} is not a heat meter (04: volume measured in the return, 0C: in the flow).",
    ),
    "mbus.no_energy": Template("帧中没有可读的当前热量读数。", "The frame has no readable current energy register."),
    "mbus.unknown_meter": Template(
        "没有表号为 {meter_serial} 的热表（M-Bus 识别号，厂家 {manufacturer}）；该帧已隔离待查。",
        "No meter has the serial number {meter_serial} (M-Bus identification, manufacturer {manufacturer}); "
        "the frame is kept in quarantine.",
    ),
    "mbus.side_mismatch.return": Template(
        "帧表明流量在回水管计量，但热表 {meter_serial} 登记的流量传感器在供水管。",
        "The frame says the volume is measured in the return pipe, but meter {meter_serial} is registered "
        "with its flow sensor in the flow pipe.",
    ),
    "mbus.side_mismatch.flow": Template(
        "帧表明流量在供水管计量，但热表 {meter_serial} 登记的流量传感器在回水管。",
        "The frame says the volume is measured in the flow pipe, but meter {meter_serial} is registered "
        "with its flow sensor in the return pipe.",
    ),
    "mbus.upload_too_large": Template(
        "一次上传最多 {limit} 字节，这次有 {size} 字节。", "An upload holds at most {limit} bytes; this one has {size}."
    ),
    "mbus.too_many_frames": Template(
        "一次最多上传 {limit} 帧，这次有 {size} 帧。", "A request holds at most {limit} frames; this one has {size}."
    ),
    # households
    "area_out_of_range": Template(
        "{field_label}（{field}）必须大于 0 且不超过 {limit} m²，收到的是 {value}。",
        "The {field_label} ({field}) must be positive and at most {limit} m²; it was {value}.",
    ),
    "area_too_precise": Template(
        "{field_label}（{field}）最多保留两位小数，收到的是 {value}。",
        "The {field_label} ({field}) takes at most two decimals; it was {value}.",
    ),
    "heated_area_exceeds_connected": Template(
        "实际供热面积不能大于入网面积（收到的实际供热面积为 {value} m²）。",
        "The heated area cannot exceed the connected area (the heated area given was {value} m²).",
    ),
    "floor_out_of_range": Template(
        "楼层须在 -10 至 200 之间，收到的是 {value}。", "The floor must lie between -10 and 200; it was {value}."
    ),
    "areas_unchanged": Template(
        "户 {account_number} 的面积已经是这些数值。", "Household {account_number} already has these areas."
    ),
    "already_suspended": Template(
        "户 {account_number} 已经报停。", "Heating of household {account_number} is already suspended."
    ),
    "not_suspended": Template(
        "户 {account_number} 没有报停。", "Heating of household {account_number} is not suspended."
    ),
    "before_last_suspension_change": Template(
        "生效日期 {value} 早于上一次报停或恢复供热的日期。",
        "The effective date {value} lies before the last suspension or resumption.",
    ),
    "already_deregistered": Template(
        "户 {account_number} 已于 {deregistered_on} 销户。",
        "Household {account_number} is deregistered already (from {deregistered_on}).",
    ),
    "household_deregistered": Template(
        "户 {account_number} 已于 {deregistered_on} 销户，不能再办理供热变更。",
        "Household {account_number} left the network on {deregistered_on}; its supply cannot change any more.",
    ),
    "deregistration_before_registration": Template(
        "销户日期 {value} 过早：须晚于开户日期 {registered_on} 和此前每一次过户，且不早于最近一次报停或复供，"
        "最早可填 {earliest}。",
        "The deregistration on {value} is too early: it must follow the registration on {registered_on} and "
        "every owner change, and not precede the last suspension or resumption; the earliest is {earliest}.",
    ),
    "deregistration_too_far_ahead": Template(
        "销户日期 {value} 晚于今天一年以上，最晚可填 {latest}。",
        "The deregistration date {value} lies more than a year after today; the latest is {latest}.",
    ),
    "reason_required": Template("此项变更必须填写原因。", "A reason is required for this change."),
    # meters
    "meter_already_attached_here": Template(
        "热表 {meter_serial} 已经安装在这一户。", "Meter {meter_serial} is already attached to this household."
    ),
    "meter_not_attached_here": Template("这块热表没有安装在这一户。", "The meter is not attached to this household."),
    "naive_datetime": Template(
        "{field_label}（{field}）必须带时区（例如 +08:00）。", "The {field_label} ({field}) must carry a time zone."
    ),
    "permanent_flow_not_positive": Template("常用流量必须大于 0。", "The permanent flow rate must be positive."),
    "rated_limit_invalid": Template(
        "额定参数 {field} 不成立（最大流量不小于常用流量，最低温度低于最高温度，"
        "均在 0…200 °C，最小温差为 1、3、5 或 10 K）。",
        "The rated limit {field} is not possible (q_s at least q_p, θ_min below θ_max, both within 0…200 °C, "
        "Δθ_min 1, 3, 5 or 10 K).",
    ),
    "register_width_not_positive": Template("{field_label}必须大于 0。", "The {field_label} must be positive."),
    "meter_place_missing": Template(
        "楼栋表或换热站表必须填写小区和楼号。", "A building or substation meter needs its community and building."
    ),
    "not_a_household_meter": Template(
        "热表 {meter_serial} 不是户用热表，不能安装到热用户。",
        "Meter {meter_serial} is not a household meter; it cannot serve a household.",
    ),
    "meter_already_attached": Template(
        "热表 {meter_serial} 已经安装在某一户，请先拆除。",
        "Meter {meter_serial} is already attached to a household; detach it first.",
    ),
    "attached_before_detached": Template(
        "安装时间不能早于这块表上一次拆除的时间。", "The meter cannot be attached before it was last detached."
    ),
    "meter_not_attached": Template(
        "热表 {meter_serial} 没有安装在任何一户。", "Meter {meter_serial} is not attached to a household."
    ),
    "detached_before_attached": Template(
        "拆除时间不能早于安装时间。", "The meter cannot be detached before it was attached."
    ),
    # meter lifecycle and corrections
    "after_decommissioning": Template(
        "读数时间晚于该表停用的时间。", "The reading is newer than the meter's decommissioning."
    ),
    "interval_not_faulty": Template(
        "该表在 {interval_start} 没有以此开始的故障区间。",
        "No faulty interval of this meter starts at {interval_start}.",
    ),
    "outdoor_temperature_invalid": Template(
        "室外日平均温度 {value} °C 不可信：须在 -60 至 60 °C 之间。",
        "The mean outdoor temperature {value} °C is not plausible: it must lie between -60 and 60 °C.",
    ),
    # tariffs and settlement
    "price_negative": Template("{field_label}不能为负数。", "The {field_label} must not be negative."),
    "share_out_of_range": Template(
        "{field_label}须在 0 至 100% 之间。", "The {field_label} must lie between 0 and 100 %."
    ),
    "cap_missing": Template(
        "封顶结算须给出不低于面积热费 100% 的封顶比例。",
        "A capped settlement needs a cap of at least 100 % of the area fee.",
    ),
    "use_invalid": Template(
        "面积、热量和位置系数须为正数，报停天数须在采暖季之内。",
        "Area, heat and position coefficient must be positive, and suspended days must lie within the season.",
    ),
    "season_invalid": Template(
        "采暖季代码的格式为 2025-2026，收到的是 {value}。", "A season code looks like 2025-2026; it was {value}."
    ),
    "estimate_not_newest": Template(
        "估算读数只能接在该表最新读数之后。", "An estimate may only extend the meter's history past its newest reading."
    ),
    "meter_decommissioned": Template("热表 {meter_serial} 已停用。", "Meter {meter_serial} is decommissioned."),
    "decommission_attached": Template(
        "热表 {meter_serial} 仍安装在热用户处，请先拆除再停用。",
        "Meter {meter_serial} still serves a household; detach it before decommissioning it.",
    ),
    "decommissioned_too_early": Template(
        "停用时间不能早于投入使用时间或最新一条读数。",
        "The meter cannot be decommissioned before its commissioning or its newest reading.",
    ),
    "void_outside_window": Template(
        "该读数早于该表保留的最近 100 条读数，无法撤销。",
        "The reading is older than the last 100 readings the meter keeps; it cannot be withdrawn.",
    ),
    "verification_points": Template(
        "检定记录须有 1 至 {maximum} 个检定点。", "A verification has 1 to {maximum} test points."
    ),
    "verification_point_invalid": Template(
        "检定点的流量和温差必须大于 0。", "A test point needs a positive flow rate and temperature difference."
    ),
    "swap_readings_apart": Template(
        "换表时旧表的末次读数和新表的初始读数必须是同一时刻。",
        "The old meter's final reading and the new meter's initial reading must be taken at the same moment.",
    ),
    "not_found.reading": Template("该表在 {key} 没有读数。", "The meter has no reading at {key}."),
    # records in general
    "not_found.household": Template("没有户号为 {key} 的热用户。", "No household has the account number {key}."),
    "not_found.meter": Template("没有表号为 {key} 的热表。", "No meter has the serial number {key}."),
    "not_found.token": Template("没有有效的访问令牌 {key}。", "No active token {key}."),
    "not_found.community": Template("没有名为 {key} 的小区。", "No community is called {key}."),
    "not_found.building": Template("没有 {key} 这栋楼。", "No building {key} is known."),
    "conflict.household": Template("户号 {key} 已经存在。", "The account number {key} already exists."),
    "conflict.meter": Template("表号 {key} 已经存在。", "The serial number {key} already exists."),
    "batch_too_large": Template(
        "一批最多 {limit} 条读数，这一批有 {size} 条。", "A batch holds at most {limit} readings; this one has {size}."
    ),
    "batch_contended": Template(
        "保存期间这些热表一直被其他请求修改，请重新发送这一批。",
        "The meters kept changing while the batch was saved; send it again.",
    ),
    "concurrent_change": Template(
        "这条记录刚被其他请求修改，请刷新后重试。",
        "The record was changed by another request meanwhile; reload and try again.",
    ),
    "token_name_length": Template(
        "访问令牌的名称须为 1 至 128 个字符。", "A token needs a name of 1 to 128 characters."
    ),
    "permission_denied": Template(
        "角色“{role_label}”无权{permission_label}。", "The role {role_label} may not {permission_label}."
    ),
    # a read-only role (auditor, regulator) sent anything but a read (api/read_only.py)
    "read_only_role": Template(
        "角色“{role_label}”只能查看账本，不能修改任何记录（{method} 请求已拒绝，未做任何更改）。",
        "The role {role_label} may only read the ledger, not change it: the {method} request was refused "
        "and nothing was changed.",
    ),
    # queued reading uploads (api/routers/uploads.py, infrastructure/uploads.py)
    "not_found.upload": Template("没有编号为 {key} 的上传任务。", "No upload has the id {key}."),
    "upload_id_reused": Template(
        "上传编号 {key} 已用于另一批读数；重新提交时请使用相同的读数，或换一个新的编号。",
        "The upload id {key} was already used for other readings; resend the same readings, or use a new id.",
    ),
    "upload_size": Template(
        "一次上传须有 1 至 {limit} 条读数，这次有 {size} 条。",
        "An upload holds 1 to {limit} readings; this one has {size}.",
    ),
    "upload_failed": Template(
        "上传任务意外中止，错误已记录在案；已保存的读数仍然有效。请用相同的 upload_id 重新提交以继续。",
        "The upload stopped unexpectedly and the error was logged; the readings saved so far stay saved. "
        "Submit it again with the same upload_id to continue.",
    ),
    # rules of the API itself
    "range_reversed": Template(
        "开始日期 {from_day} 晚于结束日期 {to_day}。", "The start date {from_day} lies after the end date {to_day}."
    ),
    "range_too_long": Template(
        "按{granularity_label}查询最多 {limit} 天，所选范围有 {days} 天。",
        "A query by {granularity_label} covers at most {limit} days; this range has {days}.",
    ),
    "known_at_needs_community": Template(
        "按 known_at 查询时必须指定小区（community）：答案由该小区各户的事件重新计算。",
        "known_at needs a community: the answer is folded from the events of its households.",
    ),
    "cursor_invalid": Template(
        "翻页游标无法识别，请从第一页重新开始。", "The page cursor is not valid; start again from the first page."
    ),
    "cursor_with_offset": Template(
        "翻页游标和 offset 不能同时使用。", "Use either a page cursor or an offset, not both."
    ),
    # HTTP-level problems
    "route_not_found": Template("没有地址 {path}。", "There is no address {path}."),
    "method_not_allowed": Template(
        "地址 {path} 不支持 {method} 请求。", "The address {path} does not support {method}."
    ),
    "missing_token": Template(
        "请求缺少访问令牌：请在请求头中提供 Authorization: Bearer <令牌>。",
        "The request carries no token: send Authorization: Bearer <token>.",
    ),
    "invalid_token": Template("访问令牌无效或已被吊销。", "The token is not valid or has been revoked."),
    # NB-IoT webhook (api/routers/nbiot.py): params.reason of its 401 problems, and its 409
    "nbiot.missing_signature": Template(
        "推送缺少签名：请提供 X-Heatledger-Timestamp 和 X-Heatledger-Signature 请求头（此地址不接受访问令牌）。",
        "The push is not signed: send X-Heatledger-Timestamp and X-Heatledger-Signature "
        "(this address takes no bearer token).",
    ),
    "nbiot.invalid_timestamp": Template(
        "X-Heatledger-Timestamp 必须是 Unix 时间（秒）。", "X-Heatledger-Timestamp must be unix time in seconds."
    ),
    "nbiot.stale_timestamp": Template(
        "推送的签名时间与服务器时间相差超过 300 秒。",
        "The push was signed more than 300 seconds away from the server's clock.",
    ),
    "nbiot.invalid_signature": Template("推送的签名不正确。", "The push's signature is not valid."),
    "nbiot.inactive_channel": Template(
        "没有这个推送通道，或者它已被吊销。", "There is no such push channel, or it has been revoked."
    ),
    "message_id_reused": Template(
        "消息 {message_id} 已经以不同的内容推送过。",
        "The message {message_id} was already delivered with a different body.",
    ),
    "channel_name_invalid": Template(
        "通道名称须为 1 至 64 个字符：字母、数字、“.”、“_”或“-”，并以字母或数字开头。",
        "A channel name has 1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit.",
    ),
    "channel_active": Template(
        "推送通道 {key} 仍在使用，请先吊销再签发新密钥。",
        "The push channel {key} is active; revoke it before issuing a new secret.",
    ),
    "not_found.channel": Template("没有有效的推送通道 {key}。", "No active push channel {key}."),
    "content_too_large": Template("请求内容超过 {limit} 字节。", "The request is larger than {limit} bytes."),
    "internal_error": Template(
        "系统出现意外错误，已记录在案。请稍后重试；如仍失败，请联系管理员。",
        "An unexpected error occurred and was logged. Try again later; if it persists, contact the administrator.",
    ),
    "validation_failed": Template("请求中有 {count} 处数据无效。", "The request has {count} invalid value(s)."),
    # pydantic validation types
    "validation.missing": Template("必须填写。", "This value is required."),
    "validation.extra_forbidden": Template("不认识这个字段。", "This field is not known."),
    "validation.json_invalid": Template(
        "请求内容不是合法的 JSON（{error}）。", "The request body is not valid JSON ({error})."
    ),
    "validation.decimal_parsing": Template('必须是数字，例如 "12.345"。', 'This must be a number, such as "12.345".'),
    "validation.decimal_type": Template("必须是数字或数字字符串。", "This must be a number or a numeric string."),
    "validation.finite_number": Template("必须是有限的数字。", "This must be a finite number."),
    "validation.decimal_max_places": Template(
        "最多 {decimal_places} 位小数。", "At most {decimal_places} decimals are allowed."
    ),
    "validation.int_parsing": Template("必须是整数。", "This must be a whole number."),
    "validation.int_type": Template("必须是整数。", "This must be a whole number."),
    "validation.int_from_float": Template("必须是整数。", "This must be a whole number."),
    "validation.string_type": Template("必须是文字。", "This must be text."),
    "validation.string_too_short": Template(
        "至少需要 {min_length} 个字符。", "At least {min_length} character(s) are needed."
    ),
    "validation.string_too_long": Template(
        "最多 {max_length} 个字符。", "At most {max_length} characters are allowed."
    ),
    "validation.too_short": Template("至少需要 {min_length} 项。", "At least {min_length} item(s) are needed."),
    "validation.too_long": Template("最多 {max_length} 项。", "At most {max_length} items are allowed."),
    "validation.list_type": Template("必须是列表。", "This must be a list."),
    "validation.model_attributes_type": Template("必须是一个对象。", "This must be an object."),
    "validation.model_type": Template("必须是一个对象。", "This must be an object."),
    "validation.dict_type": Template("必须是一个对象。", "This must be an object."),
    "validation.bool_parsing": Template("必须是 true 或 false。", "This must be true or false."),
    "validation.bool_type": Template("必须是 true 或 false。", "This must be true or false."),
    "validation.date_parsing": Template("必须是日期，例如 2025-11-01。", "This must be a date such as 2025-11-01."),
    "validation.date_from_datetime_parsing": Template(
        "必须是日期，例如 2025-11-01。", "This must be a date such as 2025-11-01."
    ),
    "validation.date_from_datetime_inexact": Template(
        "必须是日期，不能带时刻。", "This must be a date without a time of day."
    ),
    "validation.date_type": Template("必须是日期，例如 2025-11-01。", "This must be a date such as 2025-11-01."),
    "validation.datetime_parsing": Template(
        "必须是带时区的时间，例如 2025-11-01T08:00:00+08:00。",
        "This must be a time with zone, such as 2025-11-01T08:00:00+08:00.",
    ),
    "validation.datetime_from_date_parsing": Template(
        "必须是带时区的时间，例如 2025-11-01T08:00:00+08:00。",
        "This must be a time with zone, such as 2025-11-01T08:00:00+08:00.",
    ),
    "validation.datetime_type": Template(
        "必须是带时区的时间，例如 2025-11-01T08:00:00+08:00。",
        "This must be a time with zone, such as 2025-11-01T08:00:00+08:00.",
    ),
    "validation.timezone_aware": Template(
        "时间必须带时区（例如 +08:00）。", "The time must carry a time zone (such as +08:00)."
    ),
    "validation.datetime_out_of_range": Template(
        "时间必须在公元 1 年到 9999 年之间（按 UTC）。", "The time must lie between the years 1 and 9999 in UTC."
    ),
    "validation.uuid_parsing": Template("必须是 UUID。", "This must be a UUID."),
    "validation.uuid_type": Template("必须是 UUID。", "This must be a UUID."),
    "validation.enum": Template("必须是以下之一：{expected}。", "This must be one of {expected}."),
    "validation.literal_error": Template("必须是以下之一：{expected}。", "This must be one of {expected}."),
    "validation.greater_than": Template("必须大于 {gt}。", "This must be greater than {gt}."),
    "validation.greater_than_equal": Template("不能小于 {ge}。", "This must be at least {ge}."),
    "validation.less_than": Template("必须小于 {lt}。", "This must be less than {lt}."),
    "validation.less_than_equal": Template("不能大于 {le}。", "This must be at most {le}."),
    "validation.string_pattern_mismatch": Template(
        "格式不对，应符合 {pattern}。", "This does not have the expected form ({pattern})."
    ),
    # pydantic validation types the API can produce, so that none is left in English under zh
    "validation.decimal_max_digits": Template("最多 {max_digits} 位数字。", "At most {max_digits} digits are allowed."),
    "validation.decimal_whole_digits": Template(
        "小数点前最多 {whole_digits} 位数字。", "At most {whole_digits} digits before the point are allowed."
    ),
    "validation.float_parsing": Template('必须是数字，例如 "12.345"。', 'This must be a number, such as "12.345".'),
    "validation.float_type": Template("必须是数字。", "This must be a number."),
    "validation.int_parsing_size": Template("整数超出范围。", "This whole number is too large."),
    "validation.multiple_of": Template("必须是 {multiple_of} 的整数倍。", "This must be a multiple of {multiple_of}."),
    "validation.string_unicode": Template("必须是 UTF-8 文字。", "This must be UTF-8 text."),
    "validation.string_not_ascii": Template("只能包含 ASCII 字符。", "Only ASCII characters are allowed."),
    "validation.json_type": Template("必须是 JSON 文本。", "This must be JSON text."),
    "validation.iso_date": Template(
        "必须是 ISO 日期，例如 2025-11-01（不接受数字或时间戳）。",
        "This must be an ISO date such as 2025-11-01 (not a number or a timestamp).",
    ),
    "validation.date_past": Template("必须是过去的日期。", "This must be a date in the past."),
    "validation.date_future": Template("必须是将来的日期。", "This must be a date in the future."),
    "validation.datetime_object_invalid": Template("不是有效的时间。", "This is not a valid time."),
    "validation.datetime_past": Template("必须是过去的时间。", "This must be a time in the past."),
    "validation.datetime_future": Template("必须是将来的时间。", "This must be a time in the future."),
    "validation.timezone_naive": Template("时间不能带时区。", "The time must not carry a time zone."),
    "validation.timezone_offset": Template("时区偏移不对。", "The time zone offset is not the expected one."),
    "validation.time_type": Template("必须是时刻，例如 08:00:00。", "This must be a time of day such as 08:00:00."),
    "validation.time_parsing": Template("必须是时刻，例如 08:00:00。", "This must be a time of day such as 08:00:00."),
    "validation.time_delta_type": Template("必须是时长。", "This must be a duration."),
    "validation.time_delta_parsing": Template("必须是时长。", "This must be a duration."),
    "validation.uuid_version": Template("UUID 版本不对。", "This UUID has the wrong version."),
    "validation.season_code": Template(
        "采暖季代码是相邻两年，例如 2025-2026，收到的是 {value}。",
        "A season code is a year and the next, such as 2025-2026, not {value}.",
    ),
    "validation.account_number": Template(
        "户号只能包含字母、数字、汉字、“-”、“_”和“.”，并以字母、数字或汉字开头，收到的是 {value}。",
        "An account number has only letters, digits, CJK characters, '-', '_' and '.', "
        "and starts with a letter, digit or CJK character; got {value}.",
    ),
    "validation.body_not_utf8": Template(
        "请求内容不是 UTF-8 编码（第 {position} 个字节）。", "The request body is not UTF-8 (byte {position})."
    ),
    "account_number_invalid": Template(
        "户号只能包含字母、数字、汉字、“-”、“_”和“.”，并以字母、数字或汉字开头，收到的是 {value}。",
        "An account number has only letters, digits, CJK characters, '-', '_' and '.', "
        "and starts with a letter, digit or CJK character; got {value}.",
    ),
    "suspension_before_registration": Template(
        "报停或复供日期 {value} 早于开户日期 {registered_on}。",
        "The date {value} lies before the household's registration on {registered_on}.",
    ),
    "suspension_too_far_ahead": Template(
        "日期 {value} 晚于今天一年以上，最晚可填 {latest}。",
        "The date {value} lies more than a year after today; the latest is {latest}.",
    ),
    "unsupported_media_type": Template(
        "不支持的内容类型 {media_type}，请以 application/json 发送。",
        "The content type {media_type} is not supported; send application/json.",
    ),
}


def message_keys(error: LedgerError) -> list[str]:
    """The catalog keys that may describe ``error``, most specific first."""
    keys = [error.message_key]
    if isinstance(error, ReadingRejectedError):
        keys.append(error.reason)
    if "kind" in error.params:
        keys.append(f"{error.code}.{error.params['kind']}")
    keys.append(error.code)
    return keys


def render(keys: Iterable[str], params: Mapping[str, Any], language: Language, fallback: str) -> str:
    """The first catalog template among ``keys`` filled with ``params``, or ``fallback``.

    Names in ``field``, ``register``, ``role``, ``permission``, ``kind`` and ``granularity``
    params are also offered translated, as ``field_label`` and so on. Times (params ending in
    ``_at``) are shown in the utility's local time, as a clerk in Ningxia reads a clock.
    """
    values = {name: _local_time(value) if name.endswith("_at") else _text(value) for name, value in params.items()}
    for name in _LABELLED_PARAMS:
        if name in values:
            values[f"{name}_label"] = label(values[name], language)
    for key in keys:
        template = CATALOG.get(key)
        if template is None:
            continue
        try:
            return template.text(language).format_map(values)
        except (KeyError, IndexError, ValueError):
            continue
    return fallback


def describe_error(error: LedgerError, language: Language) -> str:
    """A ledger error in the caller's language."""
    return render(message_keys(error), error.params, language, error.message)


def _local_time(value: Any) -> str:
    """An ISO 8601 time as ``2025-12-01 08:00:00+08:00`` in Asia/Shanghai; anything else as text."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return _text(value)
    if moment.tzinfo is None:
        return _text(value)
    return moment.astimezone(BUSINESS_TIME_ZONE).isoformat(sep=" ")


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    return str(value)


# -- billing: tariffs, allocations, billing periods and runs ------------------------------------
# (domain/tariff.py, settlement.py, billing.py, billing_period.py, allocation.py,
# building_allocation.py, application/billing*.py, infrastructure/billing_runs.py)

TITLES.update(
    {
        "billing_input": Template("无法按现有数据计费", "Cannot be billed from the data"),
        "billing_run_failed": Template("计费批次未完成", "Billing run failed"),
    }
)

LABELS.update(
    {
        "manage_tariffs": Template("发布热价", "publish tariffs"),
        "run_billing": Template("执行计费", "run billing"),
        "tariff": Template("热价", "tariff"),
        "tariff_version": Template("热价版本", "tariff version"),
        "billing_run": Template("计费批次", "billing run"),
        "billing_period": Template("计费期", "billing period"),
        "bill": Template("账单", "bill"),
        "scope": Template("适用范围", "scope"),
        "area_price_yuan_per_m2": Template("面积热价", "area price"),
        "base_share_percent": Template("基本热费比例", "base share"),
        "energy_price_yuan_per_gj": Template("计量热价", "energy price"),
        "cap_percent": Template("封顶比例", "cap"),
        "suspension_share_percent": Template("报停收费比例", "suspension share"),
        "minimum_charge_yuan": Template("最低收费", "minimum charge"),
        "rounding_quantum_yuan": Template("取整单位", "rounding unit"),
        "broken_meter_share_percent": Template("热表故障天数比例", "broken-meter share"),
        "effective_from": Template("生效日期", "first day in force"),
        "effective_until": Template("失效日期", "last day in force"),
        "document_number": Template("批准文号", "document number"),
        "approved_on": Template("批准日期", "approval date"),
        "season": Template("采暖季", "season"),
        "method": Template("分摊方法", "allocation method"),
        "area_m2": Template("面积", "area"),
        "open_hours": Template("阀门开启时间", "valve open time"),
        "room_temperature_c": Template("室内温度", "room temperature"),
        "outdoor_temperature_c": Template("室外平均温度", "mean outdoor temperature"),
        "radiators": Template("散热器", "radiators"),
        "reading_units": Template("热分配计读数", "allocator reading"),
        "rating_factor_kq": Template("散热器额定功率系数 K_Q", "rating factor K_Q"),
        "contact_factor_kc": Template("接触系数 K_C", "contact factor K_C"),
        "building_energy_gj": Template("楼栋总热量", "building heat"),
    }
)

CATALOG.update(
    {
        # tariffs
        "coefficient_table_incomplete": Template(
            "位置系数表必须正好包含九个位置（缺少：{missing}；不认识：{unknown}）。",
            "The coefficient table must name exactly the nine positions (missing: {missing}; unknown: {unknown}).",
        ),
        "coefficient_out_of_range": Template(
            "位置 {position} 的系数 {value} 无效：须大于 0 且不超过 5。",
            "The coefficient {value} of position {position} is not valid: it must lie above 0 and at most 5.",
        ),
        "rounding_quantum_invalid": Template(
            "取整单位只能是 0.01、0.1 或 1 元，收到的是 {value}。",
            "The rounding unit must be 0.01, 0.1 or 1 元; it was {value}.",
        ),
        "tariff_version_ends_before_start": Template(
            "热价版本的失效日期不能早于生效日期。", "A tariff version cannot end before it starts."
        ),
        "tariff_version_overlaps": Template(
            "新版本与已发布的第 {version} 版（{effective_from} 起）重叠：须晚于其生效日期，且晚于其失效日期（如有）。",
            "The new version overlaps version {version} (in force from {effective_from}): it must start after "
            "that version starts, and after it ends when it has an end.",
        ),
        "not_found.tariff": Template("没有 {key} 的热价。", "There is no tariff {key}."),
        "not_found.tariff_version": Template("热价没有第 {key} 版。", "The tariff has no version {key}."),
        # allocations of a building meter's heat
        "allocation_without_flats": Template(
            "分摊至少需要一户。", "A building's heat cannot be allocated without at least one flat."
        ),
        "allocation_too_many_flats": Template(
            "一栋楼最多分摊到 {limit} 户，这次有 {value} 户。",
            "A building allocates among at most {limit} flats; this one lists {value}.",
        ),
        "allocation_duplicate_flat": Template(
            "户 {account_number} 被列了不止一次。", "Flat {account_number} is listed more than once."
        ),
        "allocation_energy_negative": Template(
            "楼栋总热量不能为负数，收到的是 {value} GJ。", "The building heat must not be negative; it was {value} GJ."
        ),
        "allocation_input_invalid": Template(
            "{field_label}的数值 {value} 不符合要求。", "The {field_label} value {value} is not acceptable."
        ),
        "allocation_input_missing": Template(
            "户 {account_number} 缺少{field_label}，所选分摊方法需要这一项。",
            "Flat {account_number} has no {field_label}, which the chosen allocation method needs.",
        ),
        "allocation_method_unknown": Template(
            "不认识分摊方法 {value}。", "The allocation method {value} is not known."
        ),
        "outdoor_temperature_missing": Template(
            "温度面积法需要采暖季的室外平均温度。",
            "The temperature-area method needs the season's mean outdoor temperature.",
        ),
        "room_temperature_out_of_range": Template(
            "户 {account_number} 的室内温度 {value} °C 不可信：须在 {minimum} 至 {maximum} °C 之间。",
            "The room temperature {value} °C of flat {account_number} is not plausible: "
            "it must lie between {minimum} and {maximum} °C.",
        ),
        "building_total_missing": Template(
            "{community} {building} 号楼在该采暖季没有楼栋热表的热量，请给出楼栋总热量。",
            "Building {building} of {community} has no building-meter heat in the season; give the building total.",
        ),
        "not_found.allocation": Template("{key} 没有热量分摊记录。", "There is no allocation {key}."),
        # billing periods and bills
        "household_without_area": Template(
            "户 {account_number} 没有可计费的面积。", "Household {account_number} has no area to bill."
        ),
        "tariff_version_not_in_force": Template(
            "热价第 {version} 版在 {day} 不生效。", "Tariff version {version} is not in force on {day}."
        ),
        "period_settled": Template(
            "户 {account_number} 的本采暖季已经结算。", "The season of household {account_number} is settled already."
        ),
        "month_invalid": Template(
            "月份的格式为 2025-12，收到的是 {month}。", "A statement month looks like 2025-12; it was {month}."
        ),
        "month_outside_season": Template("{month} 不在该采暖季之内。", "The month {month} lies outside the season."),
        "month_not_ended": Template(
            "{month} 尚未结束，月度账单在月末之后出具。",
            "The month {month} has not ended; its statement is issued after it.",
        ),
        "adjustment_not_a_run": Template(
            "调整单（贷项或借项通知）由投诉处理或热价更正出具，不能通过计费批次出具。",
            "Credit and debit notes are booked from a dispute or a tariff correction, not by a billing run.",
        ),
        "adjustment_reference_missing": Template("调整单须注明依据。", "A note must name its source."),
        "adjustment_amount_invalid": Template(
            "调整金额以元计，最多两位小数，收到的是 {amount_yuan}。",
            "A note's amount is in 元 with at most 2 decimals; it was {amount_yuan}.",
        ),
        "adjustment_amount_zero": Template("金额为 0.00 元的调整单不记账。", "A note of 0.00 元 books nothing."),
        "adjustment_too_long": Template("调整单最多 {limit} 行。", "A note carries at most {limit} lines."),
        "adjustment_not_replayable": Template(
            "调整单依据投诉处理或热价更正的决定出具，不能重算；请查看其依据和被调整账单的重算。",
            "A note is booked from a dispute's or a tariff correction's decision and is not recomputed; "
            "see its source and the recomputation of the bill it adjusts.",
        ),
        "season_not_ended": Template(
            "{season} 采暖季尚未结束，结算须在采暖季最后一天之后进行。",
            "The season {season} has not ended; it is settled after its last day.",
        ),
        "season_not_covered": Template(
            "户 {account_number} 在采暖季中有 {days} 天既没有读数也没有估算值，无法结算。",
            "Household {account_number} has {days} days in the season with neither a reading nor an estimate; "
            "it cannot be settled.",
        ),
        "segments_do_not_cover_season": Template(
            "过户分段必须首尾相接并覆盖整个采暖季。",
            "The owner segments must follow each other and cover the whole season.",
        ),
        "owner_change_out_of_order": Template(
            "过户日期 {value} 须晚于开户日期和此前每一次过户。",
            "The owner change on {value} must follow the registration and every earlier owner change.",
        ),
        "not_found.billing_period": Template("没有计费期 {key}。", "There is no billing period {key}."),
        "not_found.bill": Template("没有编号为 {key} 的账单。", "There is no bill {key}."),
        # billing runs
        "no_households_in_scope": Template(
            "范围 {community} 内没有可计费的热用户。", "There are no households to bill in {community}."
        ),
        "season_without_tariff": Template(
            "{season} 采暖季首日有 {count} 户没有生效的热价：{households}。",
            "{count} household(s) have no tariff in force on the first day of the season {season}: {households}.",
        ),
        "run_contended": Template(
            "计费期在保存时一直被其他请求修改，请重新执行该批次。",
            "The billing periods kept changing while the run saved them; run it again.",
        ),
        "run_failed": Template(
            "计费批次意外中止，错误已记录在案；已出具的账单仍然有效，重新执行只会出具缺少的账单。",
            "The billing run stopped unexpectedly and the error was logged; bills issued so far stay issued, "
            "and running it again issues only the missing ones.",
        ),
        "not_found.billing_run": Template("没有编号为 {key} 的计费批次。", "There is no billing run {key}."),
        "statement_month_missing": Template(
            "月度账单批次须填写月份，例如 2025-12。", "A statement run needs its month, such as 2025-12."
        ),
        "month_only_for_statements": Template(
            "只有月度账单批次才填写月份（收到 {month}）。", "Only a statement run has a month (it was {month})."
        ),
        "allocation_flat_not_in_building": Template(
            "{account_number} 不是 {community} {building} 号楼的热用户，不能参与分摊。",
            "{account_number} is not a household of building {building} in {community} and cannot share its heat.",
        ),
        "allocation_flat_metered": Template(
            "{account_number} 有自己的户用热表，按表计费，不参与楼栋分摊。",
            "{account_number} has its own heat meter and is billed by it, not by the building's allocation.",
        ),
    }
)


# -- payments: money checks, counter and online payments, reversals, refund payouts -------------
# (domain/money.py, payment.py, payment_allocation.py, application/payments.py,
# infrastructure/online_payments.py, api/routers/online_payments.py)

LABELS.update(
    {
        "payment_gateway": Template("支付渠道", "payment provider"),
        "receive_payments": Template("收款", "receive payments"),
        "notify_payments": Template("通知付款", "notify payments"),
        "approve_refunds": Template("审批退款", "approve refunds"),
        "amount_yuan": Template("金额", "amount"),
        "currency": Template("币种", "currency"),
        "provider": Template("支付渠道", "payment provider"),
        "receipt_number": Template("收据号", "receipt number"),
        "request_number": Template("申请号", "request number"),
        "bank_reference": Template("银行流水号", "bank reference"),
        "reference": Template("单号", "reference"),
        "merchant_order_number": Template("商户订单号", "merchant order number"),
        "transaction_id": Template("支付交易号", "transaction id"),
        "paid_at": Template("支付时间", "payment time"),
        "reversed_on": Template("冲正日期", "reversal date"),
        "payment": Template("付款", "payment"),
        "refund": Template("退款", "refund"),
        "payment_order": Template("支付订单", "payment order"),
    }
)

CATALOG.update(
    {
        # amounts of money (domain/money.py)
        "currency_unsupported": Template(
            "只收人民币（CNY），收到的币种是 {value}。", "Payments are taken in CNY only; the currency was {value}."
        ),
        "amount_not_positive": Template(
            "{field_label}必须大于 0，收到的是 {value}。", "The {field_label} must be positive; it was {value}."
        ),
        "amount_too_precise": Template(
            "{field_label}最多两位小数（到分），收到的是 {value}。",
            "The {field_label} has at most two decimals (分); it was {value}.",
        ),
        "amount_too_large": Template(
            "金额 {value} 元超过单笔上限 {limit} 元。",
            "The amount {value} 元 exceeds the limit of {limit} 元 for one payment.",
        ),
        # payments and reversals
        "payment_channel_mismatch": Template(
            "现金、刷卡和银行转账在柜台收取，线上支付须经支付渠道的通知入账（方式 {channel}，来源 {source}）。",
            "Cash, card and bank transfers are taken at the counter, online payments through a provider's "
            "notification (channel {channel}, source {source}).",
        ),
        "payment_reference_reused": Template(
            "单号 {reference} 已用于另一户或另一金额（{amount_yuan} 元）的付款。",
            "The reference {reference} was recorded already for another household or amount ({amount_yuan} 元).",
        ),
        "payment_already_reversed": Template(
            "付款 {reference} 已经冲正。", "The payment {reference} is reversed already."
        ),
        "reversal_before_payment": Template(
            "冲正日期不能早于收款日期。", "A payment cannot be reversed before it was received."
        ),
        "not_found.payment": Template("没有编号为 {key} 的付款。", "There is no payment {key}."),
        # refund payouts
        "refund_exceeds_credit": Template(
            "退款 {amount_yuan} 元超过该户可退的余额 {credit_yuan} 元。",
            "The refund of {amount_yuan} 元 exceeds the household's credit of {credit_yuan} 元.",
        ),
        "refund_request_exists": Template("退款申请 {key} 已经存在。", "A refund request {key} exists already."),
        "refund_status_conflict": Template(
            "该退款当前状态为 {status}，不能执行此操作。", "The refund is {status}; this cannot be done now."
        ),
        # a refund payout or an arrears flag: approved by someone other than who asked for it
        "second_person_required": Template(
            "须由申请人 {requested_by} 以外的另一人审批。",
            "This is approved by a second person, not by {requested_by} who asked for it.",
        ),
        "not_found.refund": Template("没有编号为 {key} 的退款。", "There is no refund {key}."),
        # online payments: orders and notifications
        "payment_provider_unknown": Template("没有支付渠道 {value}。", "There is no payment provider {value}."),
        "not_found.payment_provider": Template("没有支付渠道 {key}。", "There is no payment provider {key}."),
        "not_found.payment_order": Template("没有订单号为 {key} 的支付订单。", "There is no payment order {key}."),
        "payment_notification_unreadable": Template(
            "支付通知不是 JSON 对象，无法读取。", "The payment notification is not a JSON object."
        ),
        "payment_notification_field_invalid": Template(
            "支付通知的{field_label}缺失或无效。", "The notification's {field_label} is missing or not valid."
        ),
        "payment_order_provider_mismatch": Template(
            "订单 {order_number} 应经 {provider} 支付，不接受其他支付渠道的通知。",
            "The order {order_number} is paid through {provider}; another provider cannot notify it.",
        ),
        "payment_amount_mismatch": Template(
            "通知金额 {amount_yuan} 元与订单 {order_number} 的金额 {expected_yuan} 元不符：未入账，订单已标记待查。",
            "The notification says {amount_yuan} 元 but the order {order_number} is for {expected_yuan} 元: "
            "nothing was booked and the order is flagged.",
        ),
        "payment_order_flagged": Template(
            "订单 {order_number} 已标记待查，通知未入账，请人工核对。",
            "The order {order_number} is flagged: the notification was not booked; a person must look at it.",
        ),
        # a clerk's resolution of a flagged order
        "payment_order_not_flagged": Template(
            "订单 {order_number} 当前状态为 {status}，未标记待查，无需处理。",
            "The order {order_number} is {status}, not flagged: there is nothing to resolve.",
        ),
        "payment_order_resolved": Template(
            "订单 {order_number} 已由 {resolved_by} 处理（{resolution}），不能再次处理。",
            "The order {order_number} was resolved already ({resolution}) by {resolved_by}.",
        ),
        "payment_order_received_unknown": Template(
            "订单 {order_number} 未记录渠道通知的实收金额，不能按实收入账，只能拒收。",
            "The order {order_number} does not keep the amount the provider reported: it can only be rejected.",
        ),
        "payment_order_transaction_booked": Template(
            "渠道交易 {transaction_id} 已按订单 {order_number} 的金额入账，不能再按实收金额入账。",
            "The provider's transaction {transaction_id} is booked already at the order {order_number}'s amount; "
            "it cannot be booked again at the amount received.",
        ),
        # the notification endpoint's 401 problems (params.reason)
        "payments.invalid_signature": Template(
            "支付通知缺少签名，或签名不是用该渠道的商户密钥生成的（此地址不接受访问令牌）。",
            "The notification is not signed, or not with the provider's merchant key "
            "(this address takes no bearer token).",
        ),
        "payments.invalid_timestamp": Template(
            "支付通知没有可读的签名时间（X-Pay-Timestamp：Unix 时间，秒）。",
            "The notification carries no readable time of signing (X-Pay-Timestamp: unix seconds).",
        ),
        "payments.stale_timestamp": Template(
            "支付通知的签名时间与服务器时间相差超过 300 秒。",
            "The notification was signed more than 300 seconds away from the server's clock.",
        ),
    }
)


# -- arrears: the arrears policy, flags and what protects a household from one -------------------
# (domain/arrears.py, domain/household.py, application/arrears.py, api/routers/arrears.py)

LABELS.update(
    {
        "manage_arrears": Template("欠费限流标记", "manage arrears flags"),
        "arrears_flag": Template("欠费标记", "arrears flag"),
        "minimum_amount_yuan": Template("最低欠费金额", "minimum amount"),
        "minimum_days_past_due": Template("最少逾期天数", "minimum days past due"),
        "window_start": Template("允许期开始日", "window start"),
        "window_end": Template("允许期结束日", "window end"),
    }
)

CATALOG.update(
    {
        "arrears_window_day_invalid": Template(
            "{field_label}应写作“月-日”，例如 11-15，而不是 {value}。",
            "The {field_label} is a month-day such as 11-15, not {value}.",
        ),
        "arrears_days_out_of_range": Template(
            "{field_label} {value} 须在 1 到 {limit} 天之间。",
            "The {field_label} {value} must lie between 1 and {limit} days.",
        ),
        "arrears_window_outside_season": Template(
            "{field_label} {value} 不在供暖期（11 月 1 日至 3 月 31 日）内。",
            "The {field_label} {value} lies outside the heating season (1 Nov to 31 Mar).",
        ),
        "arrears_window_reversed": Template(
            "允许期的开始日 {start} 晚于结束日 {end}。",
            "The window starts on {start}, after its end on {end}.",
        ),
        "arrears_not_eligible": Template(
            "{account_number} 不符合欠费标记条件：{reasons}。",
            "{account_number} may not be flagged for arrears: {reasons}.",
        ),
        "arrears_flag_status_conflict": Template(
            "该欠费标记当前状态为 {status}，不能执行此操作。", "The arrears flag is {status}; this cannot be done now."
        ),
        "arrears_flag_other_season": Template(
            "该欠费标记属于 {season_code} 供暖期，只能在该供暖期内重新标记。",
            "The arrears flag belongs to the season {season_code}; it is raised again only in that season.",
        ),
        "arrears_flag_protected": Template(
            "{account_number} 现为困难户，或其未结争议扣除后的逾期金额已低于标记标准，不能批准欠费标记，请撤销该标记。",
            "{account_number} is now marked vulnerable, or what it owes past due beyond its open disputes is "
            "below the flag's amount: withdraw the flag instead.",
        ),
        "not_found.arrears_flag": Template("没有编号为 {key} 的欠费标记。", "There is no arrears flag {key}."),
        "already_vulnerable": Template(
            "{account_number} 已标记为困难户。", "{account_number} is marked vulnerable already."
        ),
        "not_vulnerable": Template("{account_number} 未标记为困难户。", "{account_number} is not marked vulnerable."),
        "no_open_dispute": Template(
            "{account_number} 没有未结的旧式争议标记（无金额）；争议按其处理结果或撤回结案。",
            "{account_number} has no old dispute flag (without an amount) open; a dispute closes by its "
            "resolution or withdrawal.",
        ),
        # why a flag run did not flag a household (the reasons in its summary)
        "arrears_nothing_past_due": Template("没有逾期未付的费用", "nothing is past due"),
        "arrears_below_minimum_amount": Template("逾期金额低于标准", "the amount past due is below the minimum"),
        "arrears_not_long_enough_past_due": Template("逾期天数不足", "not past due for long enough"),
        "arrears_open_dispute": Template("有未结的争议", "a dispute is open"),
        "arrears_vulnerable": Template("已标记为困难户", "marked vulnerable"),
        "arrears_outside_window": Template("不在本供暖期允许标记的日期内", "outside the season's window for flags"),
        "arrears_already_flagged": Template("本供暖期已有欠费标记", "flagged already this season"),
    }
)


# -- dunning: reminders, the notification outbox and household contacts --------------------------
# (domain/dunning.py, infrastructure/notifications/, api/routers/dunning.py)

LABELS.update(
    {
        "send_reminders": Template("发送催缴提醒", "send reminders"),
        "stages_days": Template("提醒阶段（逾期天数）", "reminder stages (days past due)"),
        "notification": Template("消息", "message"),
        "contact": Template("联系方式", "contact"),
    }
)

CATALOG.update(
    {
        "dunning_stage_count": Template(
            "催缴政策须有 1 至 {limit} 个提醒阶段。",
            "A dunning policy has 1 to {limit} reminder stages.",
        ),
        "dunning_stage_out_of_range": Template(
            "提醒阶段 {value} 天须在 1 到 {limit} 天之间。",
            "The reminder stage of {value} days must lie between 1 and {limit} days.",
        ),
        "dunning_stages_not_ascending": Template(
            "提醒阶段 {value} 须严格递增。",
            "The reminder stages {value} must be strictly ascending.",
        ),
        "dunning_below_minimum_amount": Template("欠费低于催缴金额", "less past due than the policy's amount"),
        "dunning_not_due_yet": Template("尚未到第一个提醒阶段", "not yet at the first reminder stage"),
        "dunning_open_dispute": Template("有未结的争议", "a dispute is open"),
        "dunning_no_contact": Template("没有联系方式", "no contact on record"),
        "dunning_already_sent": Template("本阶段提醒已发送", "this reminder was sent already"),
        "bill_notice_no_contact": Template("没有联系方式，账单通知未发送", "no contact on record: no bill notice"),
        "bill_notice_bill_not_found": Template(
            "读取账单时未找到该账单（读模型正在重建），下次发送时补发",
            "the bill was not found (read models rebuilding): the next pass writes it",
        ),
        "contact_address_invalid": Template(
            "该地址不适用于{channel}渠道：电子邮件地址形如 name@example.cn，"
            "推送网关的收件人编号为 3 至 64 个字母、数字或“+_.-”。",
            "The address does not suit the {channel} channel: an e-mail address looks like name@example.cn, "
            "a gateway recipient id has 3 to 64 letters, digits or '+_.-'.",
        ),
        "notification_not_dead": Template(
            "消息 {message_id} 当前状态为 {status}，只有投递失败的消息才能重新排队。",
            "The message {message_id} is {status}; only a dead message can be requeued.",
        ),
        "not_found.notification": Template("没有编号为 {key} 的消息。", "No message has the id {key}."),
        "not_found.contact": Template("热用户 {key} 没有登记联系方式。", "Household {key} has no contact on record."),
    }
)

# Heat far beyond a meter's permissible error (domain/implausible_heat.py): run exceptions and the
# clerk's decision.
CATALOG.update(
    {
        "implausible_heat": Template(
            "户 {account_number} 的热表 {meter_serial} 在 {interval_start} 至 {interval_end} "
            "记录热量 {recorded_gj} GJ，按流量和供回水温度应约为 {expected_gj} GJ，偏差 {deviation_percent} %，"
            "超过允许误差 ±{permissible_error_percent} % 的 {factor} 倍："
            "须由收费员决定按实测计费、改按估算或待检定后，方可结算。",
            "Meter {meter_serial} of household {account_number} recorded {recorded_gj} GJ from {interval_start} to "
            "{interval_end} where its volume and temperatures give about {expected_gj} GJ: {deviation_percent} %, "
            "more than {factor} times the permissible ±{permissible_error_percent} %. A clerk decides (bill as "
            "measured, replace by an estimate, or hold pending a verification) before it is settled.",
        ),
        "held_pending_verification": Template(
            "户 {account_number} 的热表 {meter_serial} 在 {interval_start} 至 {interval_end} 的 {recorded_gj} GJ"
            "（应约为 {expected_gj} GJ）待检定后结算（{decided_by}：{decision_reason}）。",
            "Household {account_number} is held pending a verification of meter {meter_serial}: {recorded_gj} GJ "
            "from {interval_start} to {interval_end} where about {expected_gj} GJ was expected ({decided_by}: "
            "{decision_reason}).",
        ),
        "interval_not_far_beyond": Template(
            "热表 {meter_serial} 在 {interval_start} 开始的时段偏差 {deviation_percent} %，未超过允许误差 "
            "±{permissible_error_percent} % 的 {factor} 倍（或相差不足 0.1 GJ）：按实测计费，无需决定。",
            "The interval of meter {meter_serial} from {interval_start} deviates by {deviation_percent} %, not more "
            "than {factor} times the permissible ±{permissible_error_percent} % (or by less than 0.1 GJ): it is "
            "billed as measured and needs no decision.",
        ),
        "estimate_only_for_estimate": Template(
            "只有“改按估算”的决定带估算热量。", "Only a decision to estimate carries an estimate."
        ),
        "interval_not_estimable": Template(
            "热表 {meter_serial} 的该时段无法估算（{why}）：请选择按实测计费或待检定。",
            "The interval of meter {meter_serial} cannot be estimated ({why}): bill it as measured or hold it.",
        ),
        "not_found.interval": Template(
            "没有经过 k·Δθ·ΔV 校核、以此时刻开始的计量时段：{key}。",
            "No interval checked by k·Δθ·ΔV starts at that time: {key}.",
        ),
    }
)


# -- seasons and the household's days of a season (domain/heating_season.py, application/seasons.py,
# application/billing_runs.py)

LABELS.update(
    {
        "season_record": Template("采暖季记录", "season record"),
        "decree_number": Template("政府文件号", "decree number"),
        "first_day": Template("首日", "first day"),
        "last_day": Template("末日", "last day"),
    }
)

CATALOG.update(
    {
        "season_already_declared": Template(
            "{scope} 的 {season} 采暖季已有记录：延长请按文件登记延长。",
            "Season {season} is declared for {scope} already: record an extension by decree instead.",
        ),
        "season_shortened": Template(
            "采暖季只能按文件延长，不能缩短（现为 {first_day} 至 {last_day}）：账单可能已按这些天开出。",
            "A season is extended by decree, never shortened (it runs {first_day} to {last_day}): bills may stand "
            "on those days.",
        ),
        "season_extension_unchanged": Template(
            "这次延长没有改变 {season} 采暖季的任何一天。", "The extension changes no day of season {season}."
        ),
        "season_days_invalid": Template(
            "{season} 采暖季应从 {season} 的第一年某日到第二年某日，最多 {limit} 天"
            "（收到 {first_day} 至 {last_day}）。",
            "Season {season} runs from a day of its first year to a day of its second, at most {limit} days "
            "({first_day} to {last_day} given).",
        ),
        "season_decree_required": Template("请填写政府文件号。", "The decree's number is required."),
        "not_found.season": Template("没有登记这个采暖季：{key}。", "No such season was declared: {key}."),
        "period_outside_season": Template(
            "本户的计费天数 {first_day} 至 {last_day} 不在 {season} 采暖季之内。",
            "The household's days {first_day} to {last_day} lie outside season {season}.",
        ),
        "registered_after_season": Template(
            "本户 {registered_on} 才入网，晚于 {season} 采暖季：不计费。",
            "Registered on {registered_on}, after season {season}: not billed for it.",
        ),
        "deregistered_before_season": Template(
            "本户已于 {deregistered_on} 销户，早于 {season} 采暖季：不计费。",
            "Deregistered from {deregistered_on}, before season {season}: not billed for it.",
        ),
        "month_outside_period": Template(
            "本户 {account_number} 在 {month} 没有供热（入网前或销户后）。",
            "Household {account_number} was not supplied in {month} (before registration or after deregistration).",
        ),
    }
)


# -- the database: a call that waited too long (infrastructure/database.py, docs/operations.md) --

TITLES.update({"database_busy": Template("数据库繁忙", "Database busy")})

CATALOG.update(
    {
        "database_busy": Template(
            "数据库繁忙，本次操作已取消，未写入任何内容。请在 {retry_after_seconds} 秒后重试。",
            "The database is busy: the operation was cancelled and nothing was written. "
            "Try again in {retry_after_seconds} s.",
        ),
    }
)


# -- regulator scenarios (application/scenarios.py, domain/scenario.py, api/routers/scenarios.py) --

TITLES.update({"scenario_failed": Template("测算未完成", "Scenario failed")})

LABELS.update(
    {
        "run_scenarios": Template("执行热价测算", "run tariff scenarios"),
        "scenario": Template("测算", "scenario"),
        "as_of": Template("测算截止日", "last day counted"),
        "variants": Template("测算方案", "variants"),
        "policy": Template("结算方式", "settlement policy"),
        "position_correction": Template("位置修正", "position correction"),
        "rounding_mode": Template("取整方式", "rounding mode"),
    }
)

CATALOG.update(
    {
        "scenario_variant_label": Template(
            "每个测算方案须有 1 至 64 个字符的名称。", "A variant needs a label of 1 to 64 characters."
        ),
        "scenario_variant_field_unknown": Template(
            "测算方案只能设定热价字段，不认识“{field}”；可选：{known}。",
            "A variant sets only price fields, not {field}; the fields are: {known}.",
        ),
        "scenario_variant_incomplete": Template(
            "方案“{variant}”不以现行热价为基础，须给出面积热价、基本热费比例、计量热价和结算方式（缺少{field_label}）。",
            "The variant {variant} does not start from the actual tariff: it must name the area price, base share, "
            "energy price and policy (missing: {field_label}).",
        ),
        "scenario_variant_value": Template(
            "测算方案中{field_label}的值“{value}”无效。", "The variant's {field_label} cannot be {value}."
        ),
        "scenario_variant_count": Template(
            "一次测算比较 1 至 {limit} 个方案。", "A scenario compares 1 to {limit} variants."
        ),
        "scenario_variant_labels_repeat": Template(
            "各测算方案的名称不能重复。", "Every variant needs a label of its own."
        ),
        "scenario_title": Template("测算标题最多 200 个字符。", "A scenario's title has at most 200 characters."),
        "scenario_building_without_community": Template(
            "指定楼号时须同时指定小区。", "A building is named together with its community."
        ),
        "scenario_season_not_begun": Template(
            "{season} 采暖季尚未开始，无可测算的内容。",
            "Season {season} has not begun: there is nothing to compute yet.",
        ),
        "scenario_as_of_past_season": Template(
            "{season} 采暖季已结束，按整个采暖季测算，不能指定测算截止日。",
            "Season {season} is over and is computed whole: as_of names the last day counted of the current season.",
        ),
        "scenario_as_of_invalid": Template(
            "测算截止日 {as_of} 须在 {season} 采暖季之内且已经过去。",
            "The last day counted, {as_of}, must lie in season {season} and be over.",
        ),
        "not_supplied_in_days_counted": Template(
            "该户在测算的日期（{first_day} 至 {last_day}）内未供热。",
            "The household was not supplied on the days counted ({first_day} to {last_day}).",
        ),
        "scenario_tariff_version_missing": Template(
            "计费期所用热价（{scope} 第 {version} 版）不在查询数据中，请先重建查询数据。",
            "The period's tariff version ({scope}, version {version}) is not in the read models: rebuild them.",
        ),
        "scenario_no_bills": Template("结算至少有一张账单。", "A settlement has at least one bill."),
        "scenario_not_done": Template(
            "测算尚未完成（状态：{status}），完成后才能导出。",
            "The scenario is not computed yet (status: {status}): export it once it is done.",
        ),
        "scenario_failed": Template(
            "测算意外中止，错误已记录在案；未记任何账。请重新提交。",
            "The scenario stopped unexpectedly and the error was logged; nothing was booked. Submit it again.",
        ),
        "not_found.scenario": Template("没有编号为 {key} 的测算。", "There is no scenario {key}."),
    }
)


# -- histories (api/routers/history.py) -------------------------------------------------------

CATALOG.update(
    {
        "event_type_unknown": Template(
            "这类记录没有 {value} 类型的事件；可选：{known}。",
            "This record's history has no event type {value}; the types are: {known}.",
        ),
        "recorded_range_reversed": Template(
            "recorded_from（{recorded_from}）晚于 recorded_to（{recorded_to}）。",
            "recorded_from ({recorded_from}) lies after recorded_to ({recorded_to}).",
        ),
    }
)


# -- disputes (domain/dispute.py, application/disputes.py, api/routers/disputes.py) --------------

LABELS.update(
    {
        "manage_disputes": Template("处理争议", "manage disputes"),
        "dispute": Template("争议", "dispute"),
        "description": Template("争议描述", "description"),
        "disputed_amount_yuan": Template("争议金额", "disputed amount"),
        "reference": Template("工单号", "reference"),
        "findings": Template("上门查看结果", "findings"),
        "visited_by": Template("上门人员", "visited by"),
        "message": Template("告知内容", "message"),
        "payment_reference": Template("缴费凭证号", "payment reference"),
        "bill_id": Template("账单编号", "bill id"),
        "measured_at": Template("抄表时间", "reading time"),
    }
)

CATALOG.update(
    {
        "dispute_reference_invalid": Template(
            "工单号须为 1 至 {limit} 个字母、数字、“-”或“_”，以字母或数字开头（收到 {value}）。",
            "A dispute reference has 1 to {limit} letters, digits, '-' or '_', starting with a letter or digit "
            "({value} given).",
        ),
        "dispute_reference_taken": Template(
            "工单号 {reference} 已用于本户的另一项争议。",
            "The reference {reference} names another dispute of this household.",
        ),
        "disputed_amount_out_of_range": Template(
            "争议金额 {value} 元须在 0 到 {limit} 元之间。",
            "The disputed amount {value} 元 must lie between 0 and {limit} 元.",
        ),
        "disputed_amount_required": Template(
            "请填写争议金额：只有供热不达标的争议金额可以为 0。",
            "Give the disputed amount: only a poor-heating dispute disputes 0 元.",
        ),
        "dispute_subject_incomplete": Template(
            "请说明争议对象：账单填账单编号，读数填表号和抄表时间，缴费填缴费编号或凭证号（缺 {field_label}）。",
            "Name what is disputed: a bill by its id, a reading by its meter and time, a payment by its id or "
            "receipt number ({field_label} missing).",
        ),
        "dispute_bill_other_household": Template(
            "账单 {bill_number} 不是 {account_number} 的账单。",
            "The bill {bill_number} is not household {account_number}'s.",
        ),
        "dispute_payment_other_household": Template(
            "该笔缴费不是 {account_number} 的。", "The payment is not household {account_number}'s."
        ),
        "dispute_meter_other_household": Template(
            "热表 {meter_serial} 从未计量过 {account_number}。",
            "The meter {meter_serial} never measured household {account_number}.",
        ),
        "dispute_open_already": Template("争议 {dispute_id} 已登记。", "The dispute {dispute_id} is open already."),
        "dispute_not_open_here": Template(
            "{account_number} 没有未结的争议 {dispute_id}。",
            "Household {account_number} has no open dispute {dispute_id}.",
        ),
        "dispute_state_conflict": Template(
            "争议 {reference} 当前状态为 {state}，不能执行此操作（已结案，或处理结果正待审批）。",
            "The dispute {reference} is {state}: this cannot be done now (it is closed, or its resolution "
            "awaits approval).",
        ),
        "dispute_too_many_steps": Template(
            "一项争议最多记录 {limit} 个步骤。", "A dispute takes at most {limit} steps."
        ),
        "dispute_verification_unlinked": Template(
            "热表 {meter_serial} 的检定结果须对应该表已记录的检定及其检定点。",
            "A verification result of meter {meter_serial} names the meter's recorded verification and its points.",
        ),
        "dispute_recompute_refused": Template(
            "按现有数据无法重算账单 {bill_number}：{refusal}",
            "The bill {bill_number} cannot be recomputed from what is known now: {refusal}",
        ),
        "dispute_recompute_unreliable": Template(
            "账单 {bill_number} 不能按其开具时的数据复现，其重算不能作为调整依据（请联系系统管理员）。",
            "The bill {bill_number} does not replay from its own inputs: its recompute cannot justify a note "
            "(tell the administrators).",
        ),
        "dispute_recompute_required": Template(
            "请先附上账单重算结果，再认定争议 {reference} 成立。",
            "Attach a recompute of the bill before upholding the dispute {reference}.",
        ),
        "dispute_amount_only_in_part": Template(
            "只有“部分成立”才填写金额：全部成立按重算差额记账，驳回不记账。",
            "Give an amount only in part: upheld in full books the recompute's difference, a rejection books nothing.",
        ),
        "dispute_part_amount_required": Template(
            "“部分成立”须填写调整金额。", "Upheld in part needs the note's amount."
        ),
        "dispute_part_exceeds_difference": Template(
            "部分成立的金额 {amount_yuan} 元须与尚未记账的重算差额 {difference_yuan} 元同号且不大于它。",
            "In part, {amount_yuan} 元 must have the sign of the difference not yet booked ({difference_yuan} 元) "
            "and be no larger.",
        ),
        "dispute_needs_second_person": Template(
            "超过审批金额的调整单须由另一人审批后记账。",
            "A note above the approval threshold is booked once a second person approves it.",
        ),
        "dispute_difference_booked_meanwhile": Template(
            "同一账单的另一争议已记账部分差额（拟记 {proposed_yuan} 元，尚余 {left_yuan} 元），请重新提出处理意见。",
            "Another dispute booked part of this difference meanwhile ({proposed_yuan} 元 proposed, "
            "{left_yuan} 元 left): propose the resolution again.",
        ),
        "dispute_period_missing": Template(
            "找不到重算账单所属的 {season_code} 采暖季计费期，调整单无法记账。",
            "The recomputed bill's billing period of season {season_code} is missing: the note cannot be booked.",
        ),
        "not_found.dispute": Template("没有编号为 {key} 的争议。", "There is no dispute {key}."),
        "not_found.verification": Template("没有这次检定记录：{key}。", "No such verification was recorded: {key}."),
        "not_found.reading_correction": Template(
            "没有该读数被这次更正撤下的记录：{key}。", "No reading there was withdrawn by that correction: {key}."
        ),
        "not_found.estimate_replacement": Template(
            "该时刻没有被替换的估算读数：{key}。", "No estimated reading was replaced at that time: {key}."
        ),
    }
)


# -- tariff corrections (domain/tariff_correction.py, application/tariff_corrections.py) --------

TITLES.update({"tariff_correction_failed": Template("热价更正未完成", "Tariff correction stopped")})

LABELS.update(
    {
        "tariff_correction": Template("热价更正", "tariff correction"),
        "tariff_correction_job": Template("热价更正作业", "tariff correction job"),
        "seasons": Template("所涉采暖季", "seasons"),
        "overrides": Template("更正的价格", "corrected prices"),
    }
)

CATALOG.update(
    {
        "tariff_correction_changes_nothing": Template(
            "更正后第 {version} 版热价在 {season} 采暖季与原价相同，无需更正。",
            "The correction leaves version {version}'s price in season {season} as it is: nothing to correct.",
        ),
        "tariff_correction_season_count": Template(
            "一次热价更正涉及 1 至 {limit} 个采暖季。", "A tariff correction reaches back 1 to {limit} seasons."
        ),
        "tariff_correction_season_not_over": Template(
            "{season} 采暖季尚未结束：热价更正只针对已结束的采暖季。",
            "Season {season} is not over: a tariff correction reaches back to seasons that are over.",
        ),
        "tariff_correction_season_outside_version": Template(
            "第 {version} 版热价未在 {season} 采暖季执行。", "Version {version} was not in force in season {season}."
        ),
        "tariff_correction_approved_later": Template(
            "批准日期 {approved_on} 尚未到来。", "The approval day {approved_on} lies in the future."
        ),
        "tariff_correction_exists": Template(
            "批准文号 {document_number} 对该版本的更正已审批（状态：{state}），不能重新提出。",
            "The correction of this version by document {document_number} is approved already (state: {state}): "
            "it cannot be proposed again.",
        ),
        "tariff_correction_state": Template(
            "热价更正当前状态为 {state}，不能执行此操作（{action}）。",
            "A tariff correction that is {state} cannot {action}.",
        ),
        "tariff_correction_preview_stale": Template(
            "第 {preview} 次试算已被第 {latest} 次试算或对更正的决定取代（状态：{state}）。",
            "Preview {preview} was overtaken by preview {latest} or by a decision on the correction (state: {state}).",
        ),
        "tariff_correction_digest": Template("试算摘要须为 sha256。", "A preview's digest is a sha256."),
        "tariff_correction_preview_changed": Template(
            "待记账的调整单与第 {preview} 次试算审批的不一致，请重新试算并审批。",
            "The notes to book are not those approved with preview {preview}: preview and approve the correction "
            "again.",
        ),
        "tariff_correction_overtaken": Template(
            "本更正提出后，第 {version} 版热价的另一项更正已执行，请重新提出本更正。",
            "Another correction of version {version} ran since this one was proposed: propose it again.",
        ),
        "tariff_correction_incomplete": Template(
            "已记账 {booked} 张调整单，试算为 {previewed} 张：请再次执行更正。",
            "{booked} notes are booked of the {previewed} previewed: run the correction again.",
        ),
        "tariff_correction_segment": Template(
            "结算单的分段号须为 1 至 999（收到 {segment}）。",
            "A settlement's segment is numbered 1 to 999 ({segment}).",
        ),
        "tariff_correction_failed": Template(
            "热价更正作业意外中止，错误已记录在案；已记账的调整单保留，再次执行只补记未记的部分。",
            "The tariff correction job stopped unexpectedly and the error was logged; the notes booked stay, and "
            "running it again books only what is missing.",
        ),
        "correction_period_not_settled": Template(
            "该户 {season} 采暖季尚未结算：热价更正只调整已开出的结算单。",
            "The household's season {season} is not settled: a correction adjusts issued settlements only.",
        ),
        "correction_period_missing": Template(
            "找不到该户 {season} 采暖季的计费期。", "The household's billing period of season {season} is missing."
        ),
        "not_under_corrected_version": Template(
            "该户本采暖季的计费期不是按 {scope} 第 {version} 版热价开立的。",
            "The household's period of the season was not opened under version {version} of the tariff for {scope}.",
        ),
        "not_found.tariff_correction": Template(
            "没有编号为 {key} 的热价更正。", "There is no tariff correction {key}."
        ),
        "not_found.tariff_correction_job": Template(
            "没有编号为 {key} 的热价更正作业。", "There is no tariff correction job {key}."
        ),
    }
)


# -- dispute service levels and resolution letters (domain/dispute_service_levels.py,
# application/dispute_letters.py, api/routers/dispute_service_levels.py, dispute_letters.py) ----

LABELS.update(
    {
        "first_response_hours": Template("首次响应时限（小时）", "first-response target (hours)"),
        "resolution_days": Template("办结时限（天）", "resolution target (days)"),
    }
)

CATALOG.update(
    {
        "dispute_report_period_reversed": Template(
            "统计期结束日 {last_day} 早于开始日 {first_day}。",
            "The period ends ({last_day}) before it starts ({first_day}).",
        ),
        "dispute_report_period_too_long": Template(
            "一次统计最多覆盖 {limit} 天。", "A report covers at most {limit} days."
        ),
        "dispute_target_out_of_range": Template(
            "{field_label} {value} 超出允许范围。", "The {field_label} {value} is out of range."
        ),
        "dispute_letter_not_resolved": Template(
            "争议 {reference} 当前状态为 {state}：只有已办结（成立、部分成立或驳回）的争议才有处理结果通知书。",
            "The dispute {reference} is {state}: only a dispute resolved (upheld, in part) or rejected has a "
            "resolution letter.",
        ),
        "dispute_letter_no_contact": Template(
            "{account_number} 没有登记联系方式，处理结果通知书未发送（可打印后交给用户）。",
            "Household {account_number} has no contact on record: the resolution letter was not sent (print it "
            "and hand it over).",
        ),
        "dispute_letter_already_written": Template(
            "争议 {reference} 的处理结果通知书已发送过。",
            "The resolution letter of dispute {reference} was sent already.",
        ),
    }
)
