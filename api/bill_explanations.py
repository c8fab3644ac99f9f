"""A bill read out: each of its lines as a sentence a customer-service agent can say on the phone.

A bill is a list of lines (``domain.settlement.BillLine``): a code naming the formula, the amount
it gave, and the figures put into it, all as text. Each code has a template in Chinese and in
English (the message catalogue's explanations.po) that is filled with the line's figures, e.g.

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

from api import i18n
from api.i18n import Language, Message
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
class Sentence(Message):
    """One sentence of the catalogue (api/locale/*/LC_MESSAGES/explanations.po); ``{name}`` placeholders
    take the line's figures.

    An optional sentence (every one after a line's first) is said only when each figure in
    ``needs`` is given and each in ``nonzero`` is a number other than zero."""

    needs: tuple[str, ...] = ()
    nonzero: tuple[str, ...] = ()

    def applies(self, values: Mapping[str, str]) -> bool:
        return all(values.get(name) for name in self.needs) and all(_nonzero(values.get(name)) for name in self.nonzero)


@dataclass(frozen=True)
class BillExplanation:
    """A bill in words: a heading (number, kind, season, days, amount) and one sentence per line."""

    heading: str
    sentences: tuple[str, ...]


# -- the templates, one per line code that domain.billing and domain.settlement produce ------------
# Their texts are in explanations.po: explanation.line.<code>, and .when.<figure> for an optional one.

LINE_TEMPLATES: dict[str, tuple[Sentence, ...]] = {
    "adjustment_source": (Sentence("explanation.line.adjustment_source"),),
    "adjustment_amount": (Sentence("explanation.line.adjustment_amount"),),
    "tariff": (Sentence("explanation.line.tariff"),),
    "season_days": (
        Sentence("explanation.line.season_days"),
        Sentence("explanation.line.season_days.when.decree_number", needs=("decree_number",)),
        Sentence("explanation.line.season_days.when.partial", needs=("partial",)),
    ),
    "owner_segment": (Sentence("explanation.line.owner_segment"),),
    "energy_metered": (
        Sentence("explanation.line.energy_metered"),
        Sentence("explanation.line.energy_metered.when.days_without_data", nonzero=("days_without_data",)),
        Sentence("explanation.line.energy_metered.when.first_reading", needs=("first_reading", "last_reading")),
    ),
    "energy_allocated": (
        Sentence("explanation.line.energy_allocated"),
        Sentence("explanation.line.energy_allocated.when.flat_inputs", needs=("flat_inputs",)),
        Sentence("explanation.line.energy_allocated.when.outdoor_temperature_c", needs=("outdoor_temperature_c",)),
    ),
    "no_meter": (Sentence("explanation.line.no_meter"),),
    "meter_broken": (Sentence("explanation.line.meter_broken"),),
    "heat_billed_as_measured": (Sentence("explanation.line.heat_billed_as_measured"),),
    "heat_replaced_by_estimate": (Sentence("explanation.line.heat_replaced_by_estimate"),),
    "position_coefficient": (Sentence("explanation.line.position_coefficient"),),
    "area_fee": (Sentence("explanation.line.area_fee"),),
    "area_fee_share": (Sentence("explanation.line.area_fee_share"),),
    "suspension_charge": (Sentence("explanation.line.suspension_charge"),),
    "heated_area_fee": (Sentence("explanation.line.heated_area_fee"),),
    "due_with_suspension": (Sentence("explanation.line.due_with_suspension"),),
    "base_part": (Sentence("explanation.line.base_part"),),
    "energy_part": (Sentence("explanation.line.energy_part"),),
    "metered_fee": (
        Sentence("explanation.line.metered_fee"),
        Sentence("explanation.line.metered_fee.when.minimum_charge_yuan", nonzero=("minimum_charge_yuan",)),
    ),
    "due_refund_only": (Sentence("explanation.line.due_refund_only"),),
    "due_both_ways": (Sentence("explanation.line.due_both_ways"),),
    "due_capped": (Sentence("explanation.line.due_capped"),),
    "due_metered_only": (Sentence("explanation.line.due_metered_only"),),
    "due_by_area": (Sentence("explanation.line.due_by_area"),),
    "balance": (Sentence("explanation.line.balance"),),
    "prepaid": (Sentence("explanation.line.prepaid"),),
    "settlement_amount": (Sentence("explanation.line.settlement_amount"),),
    "month_energy": (
        Sentence("explanation.line.month_energy"),
        Sentence(
            "explanation.line.month_energy.when.previous_month_energy_gj",
            needs=("previous_month_energy_gj", "change_percent"),
        ),
        Sentence(
            "explanation.line.month_energy.when.building_gj_per_m2",
            needs=("building_gj_per_m2", "against_building_percent"),
        ),
    ),
    "metered_fee_to_date": (
        Sentence("explanation.line.metered_fee_to_date"),
        Sentence(
            "explanation.line.metered_fee_to_date.when.base_coefficient",
            needs=("base_coefficient",),
            nonzero=("base_coefficient_not_one",),
        ),
        Sentence(
            "explanation.line.metered_fee_to_date.when.energy_coefficient",
            needs=("energy_coefficient",),
            nonzero=("energy_coefficient_not_one",),
        ),
    ),
}

# Figures whose value is itself a word to translate (explanation.value.<figure>.<value>):
# ``policy`` → ``policy_label`` and so on.
VALUE_LABELLED_FIGURES = ("source", "direction", "policy", "billed_area", "method", "applies_to")
HEADING = Message("explanation.heading")
FALLBACK = Message("explanation.fallback")
FALLBACK_WITHOUT_AMOUNT = Message("explanation.fallback_without_amount")
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
    values = {
        "number": number,
        "season": season_code,
        "kind_label": i18n.text(f"explanation.kind.{kind}", language) or kind,
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
    for name in VALUE_LABELLED_FIGURES:
        if name in values:
            found = i18n.text(f"explanation.value.{name}.{values[name]}", language)
            values[f"{name}_label"] = found or values[name]
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
        return i18n.translate("explanation.scope.city", language)
    return i18n.translate("explanation.scope.community", language, scope=scope)


def _rounding_label(rounding: str, language: Language) -> str:
    """``half_up to 0.01 元`` (``Rounding.describe``) in words; the text itself when unknown."""
    mode, _, rest = rounding.partition(" to ")
    label = i18n.text(f"explanation.rounding.{mode}", language)
    quantum = rest.removesuffix("元").strip()
    if label is None or not quantum:
        return rounding
    return label.format(quantum=quantum)


def _outcome(amount_yuan: Decimal, language: Language) -> str:
    """What a settlement amount means for the household."""
    magnitude = _money(abs(amount_yuan))
    if amount_yuan > 0:
        return i18n.translate("explanation.outcome.to_pay", language, amount=magnitude)
    if amount_yuan < 0:
        return i18n.translate("explanation.outcome.refund", language, amount=magnitude)
    return i18n.translate("explanation.outcome.nothing", language)


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
