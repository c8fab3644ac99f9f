"""Bills read out: every line code the domain produces has a sentence in Chinese and English, the
sentences say the figures right, and a line that cannot be said falls back to "code: amount".

The bills are computed with ``domain.billing`` for every energy basis, settlement policy and
position correction, so a line code added to the domain without a template fails here.
"""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from api.bill_explanations import LINE_TEMPLATES, explain_bill, explain_heading, explain_line
from api.messages import Language
from domain.billing import (
    AllocatedHeat,
    ComputedBill,
    MeterEvidence,
    MonthInputs,
    PeriodFacts,
    SegmentInputs,
    SettlementInputs,
    monthly_statement,
    prepayment_invoice,
    settlement_bills,
)
from domain.season import Season
from domain.settlement import BillLine, PositionCorrection, SeasonUse, SettlementPolicy, TwoPartPrice, area_fee, settle
from domain.tariff import BrokenMeterMethod, TariffTerms

D = Decimal
SEASON = Season.default_starting(2025)  # 1 Nov 2025 – 31 Mar 2026, 151 days
ZH, EN = Language.ZH, Language.EN


def terms(
    policy: SettlementPolicy = SettlementPolicy.REFUND_ONLY,
    correction: PositionCorrection = PositionCorrection.NONE,
    method: BrokenMeterMethod = BrokenMeterMethod.AREA,
    minimum: str = "0",
) -> TariffTerms:
    price = TwoPartPrice(
        area_price_yuan_per_m2=D("21.6"),
        base_share_percent=D(30),
        energy_price_yuan_per_gj=D("43.9"),
        policy=policy,
        cap_percent=D(115) if policy is SettlementPolicy.CAPPED else None,
        suspension_share_percent=D(20),
        position_correction=correction,
        minimum_charge_yuan=D(minimum),
    )
    return TariffTerms(price=price, broken_meter_method=method)


def facts(version_terms: TariffTerms) -> PeriodFacts:
    return PeriodFacts(
        account_number="WZ-0001",
        season_code=SEASON.code,
        first_day=SEASON.first_day,
        last_day=SEASON.last_day,
        tariff_scope="*",
        tariff_version=1,
        document_number="吴价发〔2025〕12号",
        approved_on=date(2025, 9, 15),
        terms=version_terms,
        billed_area_m2=D("100.00"),
        position_coefficient=D("1.150"),
    )


def meter(measured: str, estimated: str = "0", days_estimated: int = 0) -> MeterEvidence:
    return MeterEvidence(
        measured_gj=D(measured),
        estimated_gj=D(estimated),
        days_measured=SEASON.days - days_estimated,
        days_estimated=days_estimated,
        days_without_data=0,
        meter_serials=("HM-1",),
        first_reading="HM-1 2025-11-01T00:00:00+08:00: 100.000 GJ",
        last_reading="HM-1 2026-04-01T00:00:00+08:00: 130.200 GJ",
    )


def whole_season(evidence: MeterEvidence | None, allocation: AllocatedHeat | None = None) -> SettlementInputs:
    segment = SegmentInputs(SEASON.first_day, SEASON.last_day, 10, evidence)
    return SettlementInputs((segment,), allocation, D("2160.00"))


def every_bill() -> list[ComputedBill]:
    """Bills of every kind, energy basis, settlement policy and position correction."""
    bills = [prepayment_invoice(facts(terms()), suspended_at_start=True)]
    for policy in SettlementPolicy:
        for correction in PositionCorrection:
            bills += settlement_bills(facts(terms(policy, correction, minimum="100")), whole_season(meter("30.2")))
    allocated = AllocatedHeat("on_off_time_area", D("100.000"), D("180000"), D("540000"), D("33.334"), 2)
    bills += settlement_bills(facts(terms()), whole_season(None, allocated))
    bills += settlement_bills(facts(terms()), whole_season(None))
    broken = meter("20", "8", days_estimated=40)
    bills += settlement_bills(facts(terms()), whole_season(broken))
    bills += settlement_bills(facts(terms(method=BrokenMeterMethod.ESTIMATE)), whole_season(broken))
    owners = (
        SegmentInputs(SEASON.first_day, date(2025, 12, 31), 0, meter("12.2")),
        SegmentInputs(date(2026, 1, 1), SEASON.last_day, 0, meter("18")),
    )
    bills += settlement_bills(facts(terms()), SettlementInputs(owners, None, D("2160.00")))
    month = MonthInputs("2025-12", date(2025, 12, 1), date(2025, 12, 31), D("6.2"), D("12.2"), D("6"), D("0.05"))
    bills.append(monthly_statement(facts(terms()), month))
    bills.append(
        monthly_statement(facts(terms()), MonthInputs("2025-12", month.first_day, month.last_day, *[None] * 4))
    )
    return bills


def every_line() -> list[BillLine]:
    lines = [line for bill in every_bill() for line in bill.lines]
    # ``settle`` also states the balance against the area fee (settlement bills replace it by
    # the settlement amount against the prepayment): a line the domain can produce all the same.
    lines += settle(terms().price, SeasonUse(D(100), D(30), SEASON.days)).lines
    # A season partly suspended (报停) splits the area fee into the suspension charge and the rest.
    lines += settle(
        replace(terms().price, suspension_share_percent=D(25)), SeasonUse(D(100), D(9), SEASON.days, 40)
    ).lines
    return lines


def fallback(line: BillLine, language: Language) -> str:
    if line.amount_yuan is None:
        return line.code
    separator = "：" if language is ZH else ": "
    return f"{line.code}{separator}{line.amount_yuan:.2f} 元"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# -- coverage ------------------------------------------------------------------------------------


def test_every_line_code_the_domain_produces_has_a_template() -> None:
    codes = {line.code for line in every_line()}

    assert len(codes) >= 20  # the bills above reach every basis and policy
    assert codes - LINE_TEMPLATES.keys() == set()


@pytest.mark.parametrize("language", [ZH, EN])
def test_every_line_the_domain_produces_is_said_with_its_figures(language: Language) -> None:
    for line in every_line():
        sentence = explain_line(line.code, line.amount_yuan, line.figures, language)

        assert sentence != fallback(line, language), line
        assert "{" not in sentence and "}" not in sentence, sentence


def test_every_template_takes_the_same_figures_in_both_languages() -> None:
    for code, sentences in LINE_TEMPLATES.items():
        for sentence in sentences:
            assert placeholders(sentence.zh) == placeholders(sentence.en), code
            assert sentence.zh != sentence.en, code


# -- hand-checked sentences ----------------------------------------------------------------------


def test_the_area_fee_is_said_as_its_formula() -> None:
    price = TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.REFUND_ONLY, suspension_share_percent=D(20))
    # 100.00 m² × 21.6 元/m² × (151 + 0 × 20 %) / 151 = 2160.00
    _, line = area_fee(price, SeasonUse(D("100.00"), D(0), 151))

    assert explain_line(line.code, line.amount_yuan, line.figures, ZH) == (
        "面积热费 = 100.00 m² × 21.6 元/m² × (151 供热天 + 0 报停天 × 20 %) / 151 天 = 2160.00 元（四舍五入到 0.01 元）"
    )
    assert explain_line(line.code, line.amount_yuan, line.figures, EN) == (
        "Area fee = 100.00 m² × 21.6 元/m² × (151 heated days + 0 suspended days × 20 %) / 151 days = 2160.00 元 "
        "(rounded half up to 0.01 元)"
    )


def test_a_settlement_is_said_step_by_step() -> None:
    price = terms(SettlementPolicy.BOTH_WAYS, PositionCorrection.ENERGY).price
    # energy part 30 GJ / 1.15 × 43.9 = 1145.217… → 1145.22; base part 2160.00 × 30 % = 648.00
    said = {
        line.code: explain_line(line.code, line.amount_yuan, line.figures, ZH)
        for line in settle(price, SeasonUse(D("100.00"), D(30), 151, 0, D("1.15"))).lines
    }

    assert said["base_part"] == "基本热费 = 面积热费 2160.00 元 × 30 % / 位置系数 1 = 648.00 元。"
    assert said["energy_part"] == "热量热费 = 30.000 GJ / 位置系数 1.15 × 43.9 元/GJ = 1145.22 元。"
    assert said["metered_fee"] == "计量热费 = 基本热费 648.00 元 + 热量热费 1145.22 元 = 1793.22 元。"
    assert said["due_both_ways"] == "多退少补：应缴 = 计量热费 1793.22 元（面积热费为 2160.00 元）= 1793.22 元。"
    assert said["balance"] == "差额 = 应缴 1793.22 元 − 面积热费 2160.00 元 = -366.78 元。"


@pytest.mark.parametrize(
    ("amount", "chinese", "english"),
    [
        ("-163.54", "即退还或转入下一采暖季 163.54 元。", ": 163.54 元 refunded or credited to the next season."),
        ("12.30", "即需补交 12.30 元。", ": 12.30 元 to pay."),
        ("0.00", "即无需补交或退还。", ": nothing to pay or refund."),
    ],
)
def test_a_settlement_amount_says_what_the_household_does(amount: str, chinese: str, english: str) -> None:
    figures = {"due_yuan": "1964.06", "prepaid_yuan": "2127.60"}

    assert explain_line("settlement_amount", D(amount), figures, ZH).endswith(chinese)
    assert explain_line("settlement_amount", D(amount), figures, EN).endswith(english)


def test_metered_heat_is_said_to_the_megajoule_whatever_scale_it_was_stored_with() -> None:
    figures = {
        "measured_gj": "18.000000000",
        "estimated_gj": "0E-9",
        "days_measured": "90",
        "days_estimated": "0",
        "days_without_data": "0",
        "meters": "HM-1",
        "first_reading": "",
        "last_reading": "",
    }

    assert explain_line("energy_metered", None, figures, ZH) == (
        "计量热量：热表 HM-1 实测 18.000 GJ（90 天）+ 估算 0.000 GJ（0 天）= 18.000 GJ。"
    )


def test_a_statement_says_which_part_its_position_coefficient_divides() -> None:
    month = MonthInputs("2025-12", date(2025, 12, 1), date(2025, 12, 31), D("8.2"), D("14.7"), None, None)
    corrected = replace(facts(terms(correction=PositionCorrection.ENERGY)), position_coefficient=D("1.518"))
    fee = next(line for line in monthly_statement(corrected, month).lines if line.code == "metered_fee_to_date")
    said = explain_line(fee.code, fee.amount_yuan, fee.figures, ZH)
    assert "热量热费按热量除以位置系数 1.518" in said, said
    assert "基本热费已除以位置系数" not in said  # the base part's coefficient is 1: nothing changed


def test_optional_sentences_are_said_only_with_their_figures() -> None:
    month: dict[str, Any] = {
        "month": "2025-12",
        "month_energy_gj": "6.200",
        "season_energy_gj": "12.200",
        "previous_month_energy_gj": "",
        "change_percent": "",
        "gj_per_m2": "0.0620",
        "building_gj_per_m2": "0.0500",
        "against_building_percent": "24.0",
    }

    assert explain_line("month_energy", None, month, EN) == (
        "2025-12: 6.200 GJ used, 0.0620 GJ per m²; 12.200 GJ so far this season. "
        "The building averages 0.0500 GJ per m²; this flat differs by +24.0 %."
    )
    fee = {"base_part_yuan": "10.00", "energy_part_yuan": "20.00", "minimum_charge_yuan": "0"}
    assert "最低收费" not in explain_line("metered_fee", D("30.00"), fee, ZH)
    assert "最低收费 100 元" in explain_line("metered_fee", D("100.00"), fee | {"minimum_charge_yuan": "100"}, ZH)


def test_the_heading_names_the_bill_its_days_and_amount() -> None:
    heading = explain_heading(
        "2025-2026-P-WZ-0001-season", "prepayment", "2025-2026", SEASON.first_day, SEASON.last_day, D("2160"), ZH
    )

    assert heading == (
        "账单 2025-2026-P-WZ-0001-season：2025-2026 采暖季预交面积热费通知，2025-11-01 至 2026-03-31，"
        "共 151 天，金额 2160.00 元。"
    )


def test_a_bill_is_explained_line_by_line() -> None:
    bill = prepayment_invoice(facts(terms()), suspended_at_start=False)

    explanation = explain_bill(
        "N-1", bill.kind.value, SEASON.code, bill.first_day, bill.last_day, bill.amount_yuan, bill.lines, EN
    )

    assert explanation.heading.startswith("Bill N-1: prepayment invoice, season 2025-2026")
    assert explanation.sentences[0].startswith("Tariff: the city-wide tariff, version 1 (document 吴价发〔2025〕12号")
    assert explanation.sentences[1] == "Season 2025-2026: 2025-11-01 to 2026-03-31, 151 days."
    assert explanation.sentences[2].endswith("= 2160.00 元 (rounded half up to 0.01 元)")


# -- what cannot be said -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "amount", "figures", "expected"),
    [
        ("surcharge", D("12.5"), {}, "surcharge：12.50 元"),  # no template
        ("area_fee", D("2160.00"), {"area_m2": "100.00"}, "area_fee：2160.00 元"),  # figures missing
        ("energy_metered", None, {"measured_gj": "lots", "estimated_gj": "0"}, "energy_metered"),  # not a number
        ("prepaid", "not money", {}, "prepaid"),  # an amount that is not one
    ],
)
def test_a_line_that_cannot_be_said_falls_back_to_its_code_and_amount(
    code: str, amount: Any, figures: dict[str, str], expected: str
) -> None:
    assert explain_line(code, amount, figures, ZH) == expected
