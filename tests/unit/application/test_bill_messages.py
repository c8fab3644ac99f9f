"""The words of a bill notice: Chinese by default, English on request; every figure stated as the
bill has it (元 with two decimals, heat to 0.001 GJ, the due day), checked by hand in full."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from application.bill_messages import BillNoticeContent, HeatSummary, NoticeKind, gj_text, render_bill_notice
from application.notifications import MessageLanguage
from application.reminder_messages import ReminderSender

D = Decimal
SENDER = ReminderSender("许昌热力", "0374-1234567")
ZH, EN = MessageLanguage.ZH, MessageLanguage.EN

PREPAYMENT = BillNoticeContent(
    kind=NoticeKind.PREPAYMENT,
    account_number="BGY-1-1-101",
    community="碧桂园",
    season_code="2025-2026",
    label="season",
    number="2025-2026-P-BGY-1-1-101-season",
    first_day=date(2025, 11, 1),
    last_day=date(2026, 3, 31),
    amount_yuan=D("2280.00"),
    due_on=date(2025, 11, 1),
)
STATEMENT = replace(
    PREPAYMENT,
    kind=NoticeKind.STATEMENT,
    label="2025-12",
    number="2025-2026-M-BGY-1-1-101-2025-12",
    first_day=date(2025, 12, 1),
    last_day=date(2025, 12, 31),
    amount_yuan=D("0.00"),
    due_on=None,
    heat=HeatSummary(D("6.2"), season_energy_gj=D("12.2")),
    fee_to_date_yuan=D("771.18"),
)
SETTLEMENT = replace(
    PREPAYMENT,
    kind=NoticeKind.SETTLEMENT,
    label="1",
    number="2025-2026-S-BGY-1-1-101-1",
    amount_yuan=D("-35.02"),
    due_on=date(2026, 5, 15),
    heat=HeatSummary(D("30.2")),
    metered_due_yuan=D("1908.98"),
    prepaid_yuan=D("1944.00"),
)


def test_heat_is_stated_to_the_megajoule() -> None:
    assert gj_text(D("30.2")) == "30.200"
    assert gj_text(D("1.23456")) == "1.235"
    assert gj_text(D("0.0005")) == "0.001"  # half up


def test_the_prepayment_invoice_in_chinese() -> None:
    subject, body = render_bill_notice(PREPAYMENT, ZH, SENDER)
    assert subject == "【许昌热力】2025-2026采暖季供热费缴费通知"
    assert body == (
        "【许昌热力】尊敬的用户（户号 BGY-1-1-101，碧桂园）：您2025-2026采暖季（2025年11月1日至2026年3月31日）"
        "的供热费预缴账单已出具（账单号 2025-2026-P-BGY-1-1-101-season），应缴 2,280.00 元，"
        "缴费截止日为2025年11月1日。请到营业厅或通过线上渠道缴费；如已缴费，请忽略本通知。"
        "如有疑问，请致电 0374-1234567。"
    )


def test_the_prepayment_invoice_in_english() -> None:
    subject, body = render_bill_notice(PREPAYMENT, EN, SENDER)
    assert subject == "[许昌热力] Heating charges 2025-2026: prepayment invoice"
    assert body == (
        "Dear customer (account BGY-1-1-101, 碧桂园), your prepayment invoice for heating season 2025-2026"
        " (2025-11-01 to 2026-03-31), bill number 2025-2026-P-BGY-1-1-101-season, is issued."
        " Amount due: 2,280.00 yuan, due by 2025-11-01."
        " Please pay at a service counter or online; if you have paid already, please disregard this message."
        " For questions about your bill, call 0374-1234567. -- 许昌热力"
    )


def test_a_metered_statement_in_both_languages_charges_nothing() -> None:
    subject, body = render_bill_notice(STATEMENT, ZH, SENDER)
    assert subject == "【许昌热力】2025年12月供热账单"
    assert body == (
        "【许昌热力】尊敬的用户（户号 BGY-1-1-101，碧桂园）：您2025年12月（2025年12月1日至2025年12月31日）"
        "的用热账单已出具（账单号 2025-2026-M-BGY-1-1-101-2025-12）：本月用热 6.200 GJ，本采暖季累计 12.200 GJ。"
        "按计量计算，截至本月的供热费约为 771.18 元，仅供参考，以采暖季结束后的结算为准。本账单无需缴费。"
        "如有疑问，请致电 0374-1234567。"
    )
    subject, body = render_bill_notice(STATEMENT, EN, SENDER)
    assert subject == "[许昌热力] Heating statement for 2025-12"
    assert body == (
        "Dear customer (account BGY-1-1-101, 碧桂园), your heating statement for 2025-12 (2025-12-01 to 2025-12-31),"
        " bill number 2025-2026-M-BGY-1-1-101-2025-12, is issued."
        " Heat used this month: 6.200 GJ, 12.200 GJ so far this season."
        " The metered charges to date come to about 771.18 yuan: a guide only, the settlement after the season decides."
        " Nothing is to be paid for this statement. For questions about your bill, call 0374-1234567. -- 许昌热力"
    )


def test_a_statement_without_a_meter_says_the_area_is_charged() -> None:
    area = replace(STATEMENT, heat=None, fee_to_date_yuan=None)
    _, chinese = render_bill_notice(area, ZH, SENDER)
    _, english = render_bill_notice(area, EN, SENDER)
    assert "您家按面积计收供热费，本月没有计量用热数据。本账单无需缴费。" in chinese
    assert "GJ" not in chinese and "GJ" not in english
    assert "charged by floor area" in english


def test_a_settlement_that_credits_the_household() -> None:
    subject, body = render_bill_notice(SETTLEMENT, ZH, SENDER)
    assert subject == "【许昌热力】2025-2026采暖季供热费结算通知"
    assert body == (
        "【许昌热力】尊敬的用户（户号 BGY-1-1-101，碧桂园）：您2025-2026采暖季（2025年11月1日至2026年3月31日）"
        "的供热费结算单已出具（账单号 2025-2026-S-BGY-1-1-101-1）：本季用热 30.200 GJ，应缴 1,908.98 元，"
        "预缴 1,944.00 元。应缴少于预缴，差额 35.02 元已记入您的账户，可抵扣应缴的供热费，也可申请退款。"
        "如有疑问，请致电 0374-1234567。"
    )
    assert "截止" not in body  # nothing falls due
    _, english = render_bill_notice(SETTLEMENT, EN, SENDER)
    assert english == (
        "Dear customer (account BGY-1-1-101, 碧桂园), your settlement for heating season 2025-2026"
        " (2025-11-01 to 2026-03-31), bill number 2025-2026-S-BGY-1-1-101-1, is issued."
        " Heat used: 30.200 GJ; charges for the season 1,908.98 yuan against a prepayment of 1,944.00 yuan."
        " The difference of 35.02 yuan is credited to your account, to be set against charges due or refunded"
        " on request. For questions about your bill, call 0374-1234567. -- 许昌热力"
    )


def test_a_settlement_with_more_to_pay_names_the_amount_and_the_due_day() -> None:
    supplement = replace(SETTLEMENT, amount_yuan=D("1953.65"), metered_due_yuan=D("3897.65"))
    _, chinese = render_bill_notice(supplement, ZH, SENDER)
    assert "应缴 3,897.65 元，预缴 1,944.00 元。需补缴 1,953.65 元，缴费截止日为2026年5月15日。" in chinese
    _, english = render_bill_notice(supplement, EN, SENDER)
    assert "Still to pay: 1,953.65 yuan, due by 2026-05-15." in english


def test_a_settlement_even_with_the_prepayment_has_nothing_more_to_pay() -> None:
    even = replace(SETTLEMENT, amount_yuan=D("0.00"), metered_due_yuan=D("1944.00"))
    _, chinese = render_bill_notice(even, ZH, SENDER)
    _, english = render_bill_notice(even, EN, SENDER)
    assert "。无需补缴。" in chinese and "截止" not in chinese
    assert "Nothing more is to be paid." in english and "due by" not in english


def test_a_settlement_by_area_or_allocation_says_so() -> None:
    by_area = replace(SETTLEMENT, heat=None)
    assert "：本季按面积结算，应缴 1,908.98 元" in render_bill_notice(by_area, ZH, SENDER)[1]
    assert "The season is settled by floor area;" in render_bill_notice(by_area, EN, SENDER)[1]
    allocated = replace(SETTLEMENT, heat=HeatSummary(D("15.1"), allocated=True))
    assert "本季分摊用热 15.100 GJ" in render_bill_notice(allocated, ZH, SENDER)[1]
    estimated = replace(SETTLEMENT, heat=HeatSummary(D("30.2"), estimated_gj=D("1.2")))
    assert "本季用热 30.200 GJ（其中估算 1.200 GJ）" in render_bill_notice(estimated, ZH, SENDER)[1]
    assert "Heat used: 30.200 GJ (1.200 GJ of it estimated)" in render_bill_notice(estimated, EN, SENDER)[1]


def test_without_a_service_number_no_number_is_promised() -> None:
    _, chinese = render_bill_notice(PREPAYMENT, ZH, ReminderSender("许昌热力"))
    _, english = render_bill_notice(PREPAYMENT, EN, ReminderSender("许昌热力"))
    assert "致电" not in chinese and chinese.endswith("如已缴费，请忽略本通知。")
    assert "call" not in english and english.endswith("-- 许昌热力")
