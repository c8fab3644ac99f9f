"""A bill read out: each of its lines as a sentence a customer-service agent can say on the phone.

A bill is a list of lines (``domain.settlement.BillLine``): a code naming the formula, the amount
it gave, and the figures put into it, all as text. Each code has a template in Chinese and in
English that is filled with the line's figures, e.g.

    面积热费 = 100.00 m² × 21.6 元/m² × (151 供热天 + 0 报停天 × 20 %) / 151 天 = 2160.00 元（四舍五入到 0.01 元）

A template may add optional sentences that are said only when their figures are there (the
change against last month needs last month). A code without a template, or a line missing a figure
its template needs, is said as a plain "code: amount": an explanation never fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Protocol

from api.messages import Language
from api.schemas.common import decimal_text
from domain.tariff import CITY_SCOPE

# Energy is said to the MJ at least (three decimals of GJ), with more only when the figure has them.
ENERGY_PLACES_SAID = 3


class LineLike(Protocol):
    """What a bill line offers an explanation: ``domain.settlement.BillLine`` and the read model's lines."""

    @property
    def code(self) -> str: ...

    @property
    def amount_yuan(self) -> Decimal | None: ...

    @property
    def figures(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class Sentence:
    """One sentence in both languages; ``{name}`` placeholders take the line's figures.

    An optional sentence (every one after a line's first) is said only when each figure in
    ``needs`` is given and each in ``nonzero`` is a number other than zero."""

    zh: str
    en: str
    needs: tuple[str, ...] = ()
    nonzero: tuple[str, ...] = ()

    def text(self, language: Language) -> str:
        return self.zh if language is Language.ZH else self.en

    def applies(self, values: Mapping[str, str]) -> bool:
        return all(values.get(name) for name in self.needs) and all(_nonzero(values.get(name)) for name in self.nonzero)


@dataclass(frozen=True)
class BillExplanation:
    """A bill in words: a heading (number, kind, season, days, amount) and one sentence per line."""

    heading: str
    sentences: tuple[str, ...]


# -- the templates, one per line code that domain.billing and domain.settlement produce ------------

LINE_TEMPLATES: dict[str, tuple[Sentence, ...]] = {
    "adjustment_source": (
        Sentence(
            "调整账单 {adjusted_bill}，依据：{source_label} {reference}；按本期热价第 {tariff_version} 版"
            "（批准文号 {document_number}）重新计算。",
            "Adjusts bill {adjusted_bill}, on {source_label} {reference}; re-rated at this period's tariff "
            "version {tariff_version} (document {document_number}).",
        ),
    ),
    "adjustment_amount": (
        Sentence("调整金额 {amount} 元（{direction_label}）。", "Adjustment {amount} 元 ({direction_label})."),
    ),
    "tariff": (
        Sentence(
            "执行热价：{scope_label}热价第 {version} 版（批准文号 {document_number}，"
            "{approved_on} 批准），{season} 采暖季；面积热价 {area_price_yuan_per_m2} 元/m²，"
            "基本热费占面积热费的 {base_share_percent} %，计量热价 {energy_price_yuan_per_gj} 元/GJ，"
            "结算方式：{policy_label}；计费面积（{billed_area_label}）{billed_area_m2} m²。",
            "Tariff: {scope_label}, version {version} (document {document_number}, "
            "approved on {approved_on}), season {season}; area price {area_price_yuan_per_m2} 元/m², "
            "base part {base_share_percent} % of the area fee, energy price {energy_price_yuan_per_gj} 元/GJ, "
            "settlement: {policy_label}; billed area ({billed_area_label}) {billed_area_m2} m².",
        ),
    ),
    "season_days": (
        Sentence(
            "{season} 采暖季 {season_first_day} 至 {season_last_day}，共 {season_days} 天。",
            "Season {season}: {season_first_day} to {season_last_day}, {season_days} days.",
        ),
        Sentence(
            "供暖期依据：{decree_number}。",
            "Set by decree {decree_number}.",
            needs=("decree_number",),
        ),
        Sentence(
            "本户只计 {first_day} 至 {last_day} 共 {period_days} 天（入网或销户不在采暖季首末）。",
            "This household is billed for {first_day} to {last_day} only, {period_days} days (registered "
            "or deregistered within the season).",
            needs=("partial",),
        ),
    ),
    "owner_segment": (
        Sentence(
            "过户分段 {segment}：{first_day} 至 {last_day}，本账单只结算这些天。",
            "Owner segment {segment}: {first_day} to {last_day}; this bill settles these days only.",
        ),
    ),
    "energy_metered": (
        Sentence(
            "计量热量：热表 {meters} 实测 {measured_gj} GJ（{days_measured} 天）+ 估算 {estimated_gj} GJ"
            "（{days_estimated} 天）= {energy_gj} GJ。",
            "Metered heat: meter {meters} measured {measured_gj} GJ ({days_measured} days) + estimated "
            "{estimated_gj} GJ ({days_estimated} days) = {energy_gj} GJ.",
        ),
        Sentence(
            "另有 {days_without_data} 天没有数据。",
            "{days_without_data} days have no data.",
            nonzero=("days_without_data",),
        ),
        Sentence(
            "起始读数 {first_reading}，结束读数 {last_reading}。",
            "First reading {first_reading}, last reading {last_reading}.",
            needs=("first_reading", "last_reading"),
        ),
    ),
    "energy_allocated": (
        Sentence(
            "分摊热量（{method_label}）= 楼栋总热量 {building_energy_gj} GJ × 本户权重 {weight} / "
            "全楼权重 {weight_total} = {energy_gj} GJ（分摊记录第 {revision} 版）。",
            "Allocated heat ({method_label}) = building heat {building_energy_gj} GJ × this flat's weight "
            "{weight} / all weights {weight_total} = {energy_gj} GJ (allocation revision {revision}).",
        ),
        Sentence("本户的分摊依据：{flat_inputs}。", "This flat's inputs: {flat_inputs}.", needs=("flat_inputs",)),
        Sentence(
            "采暖季室外平均温度 {outdoor_temperature_c} °C。",
            "The season's mean outdoor temperature: {outdoor_temperature_c} °C.",
            needs=("outdoor_temperature_c",),
        ),
    ),
    "no_meter": (
        Sentence(
            "本户没有户用热表，也没有楼栋分摊，按面积收费。",
            "The household has no heat meter and no allocated share: it is billed by area.",
        ),
    ),
    "meter_broken": (
        Sentence(
            "热表故障：采暖季 {season_days} 天中有 {unmeasured_days} 天（{share_percent} %）没有实测数据，"
            "超过热价规定的 {threshold_percent} %，因此{method_label}计费。",
            "Broken meter: {unmeasured_days} of the season's {season_days} days ({share_percent} %) have no "
            "measured data, more than the tariff's {threshold_percent} %, so the bill is {method_label}.",
        ),
    ),
    "heat_billed_as_measured": (
        Sentence(
            "热表 {meter_serial} 在 {interval_start} 至 {interval_end} 记录热量 {recorded_gj} GJ，"
            "按其流量和供回水温度（k·Δθ·ΔV）应约为 {expected_gj} GJ，偏差 {deviation_percent} %，"
            "远超允许误差 ±{permissible_error_percent} %；"
            "经 {decided_by} 核定，按实测计费，理由：{decision_reason}。",
            "Meter {meter_serial} recorded {recorded_gj} GJ from {interval_start} to {interval_end} where its volume "
            "and temperatures (k·Δθ·ΔV) give about {expected_gj} GJ, a deviation of {deviation_percent} %, far beyond "
            "the permissible ±{permissible_error_percent} %; {decided_by} decided it is billed as measured: "
            "{decision_reason}.",
        ),
    ),
    "heat_replaced_by_estimate": (
        Sentence(
            "热表 {meter_serial} 在 {interval_start} 至 {interval_end} 记录热量 {recorded_gj} GJ，"
            "按其流量和供回水温度（k·Δθ·ΔV）应约为 {expected_gj} GJ，偏差 {deviation_percent} %，"
            "远超允许误差 ±{permissible_error_percent} %；"
            "经 {decided_by} 核定，该时段不按实测计费，改按估算热量 {estimated_gj} GJ（{method_label}）计费，"
            "理由：{decision_reason}。",
            "Meter {meter_serial} recorded {recorded_gj} GJ from {interval_start} to {interval_end} where its volume "
            "and temperatures (k·Δθ·ΔV) give about {expected_gj} GJ, a deviation of {deviation_percent} %, far beyond "
            "the permissible ±{permissible_error_percent} %; {decided_by} decided it is not billed as measured but "
            "replaced by an estimate of {estimated_gj} GJ ({method_label}): {decision_reason}.",
        ),
    ),
    "position_coefficient": (
        Sentence(
            "位置系数 {coefficient}（户间传热修正）：{applies_to_label}。",
            "Position coefficient {coefficient} (heat exchanged with neighbours): {applies_to_label}.",
        ),
    ),
    "area_fee": (
        Sentence(
            "面积热费 = {area_m2} m² × {area_price_yuan_per_m2} 元/m² × ({heated_days} 供热天 + {suspended_days} "
            "报停天 × {suspension_share_percent} %) / {season_days} 天 = {amount} 元（{rounding_label}）",
            "Area fee = {area_m2} m² × {area_price_yuan_per_m2} 元/m² × ({heated_days} heated days + "
            "{suspended_days} suspended days × {suspension_share_percent} %) / {season_days} days = {amount} 元 "
            "({rounding_label})",
        ),
    ),
    "area_fee_share": (
        Sentence(
            "本账单天数对应的面积热费 = {amount} 元。",
            "Area fee for this bill's days = {amount} 元.",
        ),
    ),
    "suspension_charge": (
        Sentence(
            "报停天数只收面积热费的报停比例：{suspended_days} 报停天按 {suspension_share_percent} % 计，"
            "收 {amount} 元，不再参与计量结算。",
            "Suspended days pay only the suspension share of the area fee: {suspended_days} suspended days at "
            "{suspension_share_percent} %, {amount} 元, not settled by the meter.",
        ),
    ),
    "heated_area_fee": (
        Sentence(
            "供热天数的面积热费 = {area_fee_yuan} 元 − 报停费 {suspension_charge_yuan} 元 = {amount} 元，按计量结算。",
            "Area fee of the heated days = {area_fee_yuan} 元 − suspension charge {suspension_charge_yuan} 元 "
            "= {amount} 元, settled by the meter.",
        ),
    ),
    "due_with_suspension": (
        Sentence(
            "应缴合计 = 报停费 {suspension_charge_yuan} 元 + 供热天数应缴 {heated_due_yuan} 元 = {amount} 元。",
            "Due in all = suspension charge {suspension_charge_yuan} 元 + due for the heated days "
            "{heated_due_yuan} 元 = {amount} 元.",
        ),
    ),
    "base_part": (
        Sentence(
            "基本热费 = 面积热费 {area_fee_yuan} 元 × {base_share_percent} % / 位置系数 {coefficient} = {amount} 元。",
            "Base part = area fee {area_fee_yuan} 元 × {base_share_percent} % / position coefficient "
            "{coefficient} = {amount} 元.",
        ),
    ),
    "energy_part": (
        Sentence(
            "热量热费 = {energy_gj} GJ / 位置系数 {coefficient} × {energy_price_yuan_per_gj} 元/GJ = {amount} 元。",
            "Energy part = {energy_gj} GJ / position coefficient {coefficient} × {energy_price_yuan_per_gj} "
            "元/GJ = {amount} 元.",
        ),
    ),
    "metered_fee": (
        Sentence(
            "计量热费 = 基本热费 {base_part_yuan} 元 + 热量热费 {energy_part_yuan} 元 = {amount} 元。",
            "Metered fee = base part {base_part_yuan} 元 + energy part {energy_part_yuan} 元 = {amount} 元.",
        ),
        Sentence(
            "（不低于最低收费 {minimum_charge_yuan} 元）",
            "(at least the minimum charge of {minimum_charge_yuan} 元)",
            nonzero=("minimum_charge_yuan",),
        ),
    ),
    "due_refund_only": (
        Sentence(
            "多退少不补：应缴 = 计量热费 {metered_fee_yuan} 元与面积热费 {area_fee_yuan} 元中较少者 = {amount} 元。",
            "Refund only (多退少不补): due = the lesser of the metered fee {metered_fee_yuan} 元 and the area fee "
            "{area_fee_yuan} 元 = {amount} 元.",
        ),
    ),
    "due_both_ways": (
        Sentence(
            "多退少补：应缴 = 计量热费 {metered_fee_yuan} 元（面积热费为 {area_fee_yuan} 元）= {amount} 元。",
            "Both ways (多退少补): due = the metered fee {metered_fee_yuan} 元 (the area fee is {area_fee_yuan} 元) "
            "= {amount} 元.",
        ),
    ),
    "due_capped": (
        Sentence(
            "封顶结算：应缴 = 计量热费 {metered_fee_yuan} 元，最多为面积热费 {area_fee_yuan} 元的 {cap_percent} % "
            "= {amount} 元。",
            "Capped: due = the metered fee {metered_fee_yuan} 元, at most {cap_percent} % of the area fee "
            "{area_fee_yuan} 元 = {amount} 元.",
        ),
    ),
    "due_metered_only": (
        Sentence(
            "按计量收费：应缴 = 计量热费 {metered_fee_yuan} 元 = {amount} 元。",
            "Metered only: due = the metered fee {metered_fee_yuan} 元 = {amount} 元.",
        ),
    ),
    "due_by_area": (
        Sentence(
            "按面积收费：应缴 = 面积热费 {area_fee_yuan} 元 = {amount} 元。",
            "Billed by area: due = the area fee {area_fee_yuan} 元 = {amount} 元.",
        ),
    ),
    "balance": (
        Sentence(
            "差额 = 应缴 {due_yuan} 元 − 面积热费 {area_fee_yuan} 元 = {amount} 元。",
            "Difference = due {due_yuan} 元 − area fee {area_fee_yuan} 元 = {amount} 元.",
        ),
    ),
    "prepaid": (
        Sentence(
            "已预交（预交通知单）面积热费 {amount} 元。",
            "Prepaid area fee (the prepayment invoice): {amount} 元.",
        ),
    ),
    "settlement_amount": (
        Sentence(
            "结算金额 = 应缴 {due_yuan} 元 − 已预交 {prepaid_yuan} 元 = {amount} 元，即{outcome}。",
            "Settlement = due {due_yuan} 元 − prepaid {prepaid_yuan} 元 = {amount} 元: {outcome}.",
        ),
    ),
    "month_energy": (
        Sentence(
            "{month} 用热 {month_energy_gj} GJ，合每平方米 {gj_per_m2} GJ；本采暖季累计 {season_energy_gj} GJ。",
            "{month}: {month_energy_gj} GJ used, {gj_per_m2} GJ per m²; {season_energy_gj} GJ so far this season.",
        ),
        Sentence(
            "上月 {previous_month_energy_gj} GJ，本月变化 {change_percent_signed} %。",
            "Last month {previous_month_energy_gj} GJ; change {change_percent_signed} %.",
            needs=("previous_month_energy_gj", "change_percent"),
        ),
        Sentence(
            "本楼平均每平方米 {building_gj_per_m2} GJ，本户与平均相差 {against_building_percent_signed} %。",
            "The building averages {building_gj_per_m2} GJ per m²; this flat differs by "
            "{against_building_percent_signed} %.",
            needs=("building_gj_per_m2", "against_building_percent"),
        ),
    ),
    "metered_fee_to_date": (
        Sentence(
            "截至本月的计量热费（仅供参考，不收费）= 基本热费 {base_part_yuan} 元（{days_elapsed}/{season_days} 天）"
            "+ 热量热费 {energy_part_yuan} 元 = {amount} 元；全季面积热费为 {season_area_fee_yuan} 元。",
            "Metered fee to date (a guide, not a charge) = base part {base_part_yuan} 元 ({days_elapsed} of "
            "{season_days} days) + energy part {energy_part_yuan} 元 = {amount} 元; the season's area fee is "
            "{season_area_fee_yuan} 元.",
        ),
        Sentence(
            "其中基本热费已除以位置系数 {base_coefficient}。",
            "The base part is divided by the position coefficient {base_coefficient}.",
            needs=("base_coefficient",),
            nonzero=("base_coefficient_not_one",),
        ),
        Sentence(
            "其中热量热费按热量除以位置系数 {energy_coefficient} 计。",
            "The energy part prices the heat divided by the position coefficient {energy_coefficient}.",
            needs=("energy_coefficient",),
            nonzero=("energy_coefficient_not_one",),
        ),
    ),
}

# Figures whose value is itself a word to translate: ``policy`` → ``policy_label`` and so on.
VALUE_LABELS: dict[str, dict[str, Sentence]] = {
    "source": {
        "dispute": Sentence("投诉处理结果", "the resolution of dispute"),
        "tariff_correction": Sentence("热价更正", "the tariff correction"),
    },
    "direction": {
        "credit": Sentence("贷项，退还或抵减", "credit: refunded or set against the next charges"),
        "debit": Sentence("借项，补缴", "debit: to be paid"),
    },
    "policy": {
        "refund_only": Sentence("多退少不补", "refund only (多退少不补)"),
        "both_ways": Sentence("多退少补", "both ways (多退少补)"),
        "capped": Sentence("多退、少补封顶", "refund, supplement up to a cap"),
        "metered_only": Sentence("按计量收费", "metered only"),
    },
    "billed_area": {
        "connected": Sentence("入网面积", "connected area"),
        "heated": Sentence("实际供热面积", "heated area"),
    },
    "method": {
        "area": Sentence("按面积", "by area"),
        "estimate": Sentence("按估算热量", "by the estimated heat"),
        "on_off_time_area": Sentence("通断时间面积法", "on-off time-area method"),
        "temperature_area": Sentence("温度面积法", "temperature-area method"),
        "heat_cost_allocators": Sentence("散热器热分配计法", "heat cost allocators"),
        # The estimation methods (domain/estimation.py), for intervals replaced by an estimate.
        "own_history_scaled_by_degree_days": Sentence(
            "按本表历史用热和度日数估算", "the meter's own history scaled by degree-days"
        ),
        "own_history_scaled_by_building": Sentence(
            "按本表历史用热和本楼用热估算", "the meter's own history scaled by the building's heat"
        ),
        "building_per_m2_by_position": Sentence(
            "按本楼每平方米用热、面积和位置估算", "the building's heat per m² by area and position"
        ),
    },
    "applies_to": {
        "none": Sentence("本热价不按位置修正费用", "the tariff does not correct the fee for position"),
        "energy": Sentence("热量除以该系数后计价", "the heat is divided by it before it is priced"),
        "base": Sentence("基本热费除以该系数", "the base part is divided by it"),
        "both": Sentence("基本热费和热量都除以该系数", "the base part and the heat are both divided by it"),
    },
}
ROUNDING_LABELS: dict[str, Sentence] = {
    "half_up": Sentence("四舍五入到 {quantum} 元", "rounded half up to {quantum} 元"),
    "half_even": Sentence("银行家舍入到 {quantum} 元", "rounded half to even to {quantum} 元"),
    "down": Sentence("舍去尾数到 {quantum} 元", "rounded down to {quantum} 元"),
}
KIND_LABELS: dict[str, Sentence] = {
    "prepayment": Sentence("预交面积热费通知", "prepayment invoice"),
    "statement": Sentence("月度用热信息（不收费）", "monthly statement (charges nothing)"),
    "settlement": Sentence("结算单", "season settlement"),
    "adjustment": Sentence("调整单（贷项或借项通知）", "adjustment note (credit or debit)"),
}
HEADING = Sentence(
    "账单 {number}：{season} 采暖季{kind_label}，{first_day} 至 {last_day}，共 {days} 天，金额 {amount} 元。",
    "Bill {number}: {kind_label}, season {season}, {first_day} to {last_day}, {days} days, amount {amount} 元.",
)
FALLBACK = Sentence("{code}：{amount} 元", "{code}: {amount} 元")
FALLBACK_WITHOUT_AMOUNT = Sentence("{code}", "{code}")
_RENDERING_ERRORS = (KeyError, IndexError, ValueError, TypeError, AttributeError, ArithmeticError)


# -- rendering ---------------------------------------------------------------------------------


def explain_bill(
    number: str,
    kind: str,
    season_code: str,
    first_day: date,
    last_day: date,
    amount_yuan: Decimal,
    lines: Iterable[LineLike],
    language: Language,
) -> BillExplanation:
    """A bill's heading and one sentence per line, in ``language``."""
    heading = explain_heading(number, kind, season_code, first_day, last_day, amount_yuan, language)
    sentences = tuple(explain_line(line.code, line.amount_yuan, line.figures, language) for line in lines)
    return BillExplanation(heading, sentences)


def explain_heading(
    number: str,
    kind: str,
    season_code: str,
    first_day: date,
    last_day: date,
    amount_yuan: Decimal,
    language: Language,
) -> str:
    """The bill in one sentence: number, kind, season, days and amount."""
    kind_label = KIND_LABELS.get(kind)
    values = {
        "number": number,
        "season": season_code,
        "kind_label": kind_label.text(language) if kind_label else kind,
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "days": str((last_day - first_day).days + 1),
        "amount": _money(amount_yuan),
    }
    return HEADING.text(language).format_map(values)


def explain_line(code: str, amount_yuan: Decimal | None, figures: Mapping[str, object], language: Language) -> str:
    """One line as a sentence: its template filled with its figures, or "code: amount"."""
    try:
        values = _values(amount_yuan, figures, language)
        sentences = LINE_TEMPLATES.get(code)
        if sentences is not None:
            return _render(sentences, values, language)
    except _RENDERING_ERRORS:
        pass
    return _fallback(code, amount_yuan, language)


def _render(sentences: tuple[Sentence, ...], values: Mapping[str, str], language: Language) -> str:
    first, *optional = sentences
    parts = [first.text(language).format_map(values)]
    parts.extend(sentence.text(language).format_map(values) for sentence in optional if sentence.applies(values))
    return ("" if language is Language.ZH else " ").join(parts)


def _fallback(code: str, amount_yuan: Decimal | None, language: Language) -> str:
    try:
        amount = _money(amount_yuan) if amount_yuan is not None else None
    except _RENDERING_ERRORS:
        amount = None
    if amount is None:
        return FALLBACK_WITHOUT_AMOUNT.text(language).format(code=code)
    return FALLBACK.text(language).format(code=code, amount=amount)


def _values(amount_yuan: Decimal | None, figures: Mapping[str, object], language: Language) -> dict[str, str]:
    """The figures as text, with the amount, the labels of coded values and a few derived figures."""
    values = {str(name): _figure_text(str(name), value) for name, value in figures.items()}
    if amount_yuan is not None:
        values["amount"] = _money(amount_yuan)
    for name, labels in VALUE_LABELS.items():
        if name in values:
            found = labels.get(values[name])
            values[f"{name}_label"] = found.text(language) if found else values[name]
    if "scope" in values:
        values["scope_label"] = _scope_label(values["scope"], language)
    if "rounding" in values:
        values["rounding_label"] = _rounding_label(values["rounding"], language)
    for name in ("change_percent", "against_building_percent"):
        if values.get(name):
            values[f"{name}_signed"] = _signed(values[name])
    for name in ("base_coefficient", "energy_coefficient"):
        # A coefficient of 1 changes nothing: its sentence is said only when it changes an amount.
        if values.get(name):
            values[f"{name}_not_one"] = "0" if _is_one(values[name]) else "1"
    if "measured_gj" in values and "estimated_gj" in values:
        values["energy_gj"] = _energy_text(Decimal(values["measured_gj"]) + Decimal(values["estimated_gj"]))
    if "due_yuan" in values and "prepaid_yuan" in values and amount_yuan is not None:
        values["outcome"] = _outcome(amount_yuan, language)
    return values


def _scope_label(scope: str, language: Language) -> str:
    if scope == CITY_SCOPE:
        return "全市" if language is Language.ZH else "the city-wide tariff"
    return f"{scope}小区" if language is Language.ZH else f"the tariff of {scope}"


def _rounding_label(rounding: str, language: Language) -> str:
    """``half_up to 0.01 元`` (``Rounding.describe``) in words; the text itself when unknown."""
    mode, _, rest = rounding.partition(" to ")
    label = ROUNDING_LABELS.get(mode)
    quantum = rest.removesuffix("元").strip()
    if label is None or not quantum:
        return rounding
    return label.text(language).format(quantum=quantum)


def _outcome(amount_yuan: Decimal, language: Language) -> str:
    """What a settlement amount means for the household."""
    magnitude = _money(abs(amount_yuan))
    if amount_yuan > 0:
        return f"需补交 {magnitude} 元" if language is Language.ZH else f"{magnitude} 元 to pay"
    if amount_yuan < 0:
        return (
            f"退还或转入下一采暖季 {magnitude} 元"
            if language is Language.ZH
            else f"{magnitude} 元 refunded or credited to the next season"
        )
    return "无需补交或退还" if language is Language.ZH else "nothing to pay or refund"


def _figure_text(name: str, value: object) -> str:
    """A figure as it is said: energy (``…_gj``, not a price per GJ) trimmed to at least three
    decimals (``18.000000000`` → ``18.000``, ``0E-9`` → ``0.000``), anything else as written."""
    if value is None:
        return ""
    text = str(value)
    if name.endswith("_gj") and not name.endswith("_per_gj"):
        try:
            return _energy_text(Decimal(text))
        except InvalidOperation:
            return text
    return text


def _energy_text(value: Decimal) -> str:
    return decimal_text(value.normalize(), ENERGY_PLACES_SAID) if value.is_finite() else str(value)


def _money(amount: Decimal) -> str:
    return f"{Decimal(amount):.2f}"


def _signed(number: str) -> str:
    return number if number.startswith(("-", "+")) else f"+{number}"


def _is_one(value: str) -> bool:
    try:
        return Decimal(value) == 1
    except InvalidOperation:
        return False


def _nonzero(value: str | None) -> bool:
    if not value:
        return False
    try:
        return Decimal(value) != 0
    except InvalidOperation:
        return False
