"""The words of a resolution letter and of the message that carries it, in Chinese and English: the
outcome, the note (credit or debit), the recompute's lines with the figures that changed, who
decided and when, and the short SMS/WeChat text pointing to the letter."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from application.dispute_letter_text import (
    FigureChange,
    LetterDocument,
    LetterLine,
    LetterNote,
    LetterRecompute,
    LetterSubject,
    ResolutionLetterContent,
    render_letter,
    render_letter_message,
)
from application.notifications import MessageLanguage
from application.reminder_messages import ReminderSender

D = Decimal
SENDER = ReminderSender("许昌热力", "0374-12345")
RECOMPUTE = LetterRecompute(
    "2025-2026-S-A-1-1",
    "2025-2026",
    D("-35.02"),
    D("-39.41"),
    (
        LetterLine(
            "energy_metered",
            None,
            None,
            (
                FigureChange("measured_gj", "30.200", "30.100"),
                FigureChange(
                    "last_reading",
                    "M-1 2026-04-01T00:00:00+08:00 130.200000000 GJ",
                    "M-1 2026-04-01T00:00:00+08:00 130.100000000 GJ",
                ),
            ),
        ),
        LetterLine("energy_part", D("1325.78"), D("1321.39"), (FigureChange("energy_gj", "30.200000000", "30.1"),)),
        LetterLine(
            "metered_fee", D("1908.98"), D("1904.59"), (FigureChange("energy_part_yuan", "1325.78", "1321.39"),)
        ),
    ),
)
CONTENT = ResolutionLetterContent(
    dispute_id=UUID("00000000-0000-4000-8000-000000000001"),
    reference="KF-1",
    account_number="A-1",
    community="碧桂园",
    building="3",
    entrance="2",
    flat="301",
    category="reading_wrong",
    channel="wechat",
    subject=LetterSubject("reading", meter_serial="M-1", measured_at=datetime(2026, 3, 31, 16, tzinfo=UTC)),
    description="表上显示 130.1 GJ",
    disputed_amount_yuan=D("4.39"),
    opened_on=date(2026, 4, 14),
    outcome="resolved_upheld",
    reason="抄表员误读",
    decided_by="service-chen",
    decided_at=datetime(2026, 4, 16, 2, 30, tzinfo=UTC),
    approved_by="clerk-li",
    approved_at=datetime(2026, 4, 16, 6, 5, tzinfo=UTC),
    closed_on=date(2026, 4, 16),
    recompute=RECOMPUTE,
    note=LetterNote("2025-2026-A-A-1-dispute:KF-1", D("-4.39"), "2025-2026", "1", "许发改价格〔2025〕7号"),
)


def text_of(document: LetterDocument) -> str:
    parts = [document.letterhead, document.title, document.reference_line, document.salutation, document.opening]
    for section in document.sections:
        parts.append(section.heading)
        parts.extend(section.paragraphs)
        if section.table is not None:
            parts.extend(section.table.header or ())
            parts.extend(cell for row in section.table.rows for cell in row)
    return "\n".join([*parts, *document.closing, *document.signature, document.footer])


def test_the_chinese_letter_states_the_outcome_the_recompute_and_the_note() -> None:
    document = render_letter(CONTENT, MessageLanguage.ZH, SENDER)
    assert (document.letterhead, document.title) == ("许昌热力", "供热费争议处理结果通知书")
    assert document.reference_line == "工单号：KF-1　　日期：2026年4月16日"
    assert document.salutation == "尊敬的用户（户号 A-1，碧桂园3号楼2单元301室）："
    assert document.opening.startswith("您于2026年4月14日通过微信反映的“抄表读数有误”问题（争议金额 4.39 元）")
    assert [section.heading for section in document.sections] == [
        "一、争议事项",
        "二、处理结果",
        "三、账单重算",
        "四、调整单",
    ]
    claim, outcome, recompute, note = document.sections
    assert claim.table is not None and ("争议对象", "热表 M-1 2026年4月1日 00:00 的读数") in claim.table.rows
    assert outcome.paragraphs == (
        "处理结论：争议成立。理由：抄表员误读",
        "已开具贷项调整单 2025-2026-A-A-1-dispute:KF-1，金额 4.39 元，已记入您的账户，可抵扣应缴热费，也可申请退款。",
    )
    # The proposer and the second person who approved, each with the moment in Beijing time.
    assert outcome.table is not None
    assert outcome.table.rows == (
        ("处理人", "service-chen，2026年4月16日 10:30"),
        ("审批人", "clerk-li，2026年4月16日 14:05"),
    )
    assert recompute.paragraphs[0].startswith(
        "账单 2025-2026-S-A-1-1（2025-2026 采暖季）按更正后的数据重新计算："
        "原金额 -35.02 元，重算金额 -39.41 元，差额 -4.39 元"
    )
    assert recompute.table is not None and recompute.table.header == (
        "项目",
        "原账单（元）",
        "重算（元）",
        "变化的数据",
    )
    assert recompute.table.rows == (
        (
            "计量热量",
            "—",
            "—",
            "实测热量 GJ: 30.200 → 30.100；结束读数: M-1 2026-04-01 00:00 130.200 GJ → M-1 2026-04-01 00:00 130.100 GJ",
        ),
        ("热量热费", "1,325.78", "1,321.39", "热量 GJ: 30.200 → 30.100"),
        ("计量热费", "1,908.98", "1,904.59", "热量热费 元: 1,325.78 → 1,321.39"),
    )
    assert note.table is not None and note.table.rows[1] == ("金额", "-4.39 元（贷项，减少应缴）")
    assert note.table.rows[3] == ("计价依据", "该计费期执行的第 1 版热价（批准文号 许发改价格〔2025〕7号）")
    assert document.closing[0] == "如对处理结果有疑问，请致电 0374-12345 或到营业厅咨询。"
    assert document.signature == ("许昌热力", "2026年4月16日")


def test_the_english_letter_says_the_same() -> None:
    document = render_letter(CONTENT, MessageLanguage.EN, SENDER)
    text = text_of(document)
    assert document.title == "Result of your heating bill dispute"
    assert document.salutation == "Dear customer (account A-1, 碧桂园, building 3, entrance 2, flat 301),"
    assert "Outcome: upheld. Reason: 抄表员误读" in text
    assert "A credit note 2025-2026-A-A-1-dispute:KF-1 of 4.39 yuan is booked to your account" in text
    assert "clerk-li, 2026-04-16 14:05 (Beijing time)" in text
    assert "a difference of -4.39 yuan (negative: charged too much)" in text
    assert "measured heat GJ: 30.200 → 30.100" in text
    assert (
        "-4.39 yuan (credit)" in text and "the period's own tariff, version 1 (document 许发改价格〔2025〕7号)" in text
    )
    assert "please call 0374-12345 or come to a service counter" in text


def test_a_rejection_books_nothing_and_has_no_recompute_section() -> None:
    rejected = replace(CONTENT, outcome="rejected", recompute=None, note=None, approved_by=None, approved_at=None)
    document = render_letter(rejected, MessageLanguage.ZH, SENDER)
    assert [section.heading for section in document.sections] == ["一、争议事项", "二、处理结果"]
    assert document.sections[1].paragraphs == ("处理结论：争议不成立，予以驳回。理由：抄表员误读", "账单不作调整。")
    assert document.sections[1].table is not None and len(document.sections[1].table.rows) == 1


def test_a_debit_note_asks_to_pay_and_a_difference_booked_before_is_said() -> None:
    debit = replace(CONTENT, note=replace(CONTENT.note, amount_yuan=D("12.00")) if CONTENT.note else None)
    assert "已开具借项调整单 2025-2026-A-A-1-dispute:KF-1，金额 12.00 元，请按期缴纳。" in text_of(
        render_letter(debit, MessageLanguage.ZH, SENDER)
    )
    booked = replace(CONTENT, note=None, booked_before_yuan=D("-4.39"))
    assert "重算差额已由此前的争议处理记账（-4.39 元），本次无需另行调整。" in text_of(
        render_letter(booked, MessageLanguage.ZH, SENDER)
    )
    settled_elsewhere = replace(CONTENT, note=None, recompute=None, category="payment_not_credited")
    assert "本次处理无需调整账单。" in text_of(render_letter(settled_elsewhere, MessageLanguage.ZH, SENDER))


def test_the_message_attaches_the_letter_or_points_to_it() -> None:
    subject, body = render_letter_message(CONTENT, MessageLanguage.ZH, SENDER, attached=True)
    assert subject == "【许昌热力】供热费争议处理结果通知（工单号 KF-1）"
    assert body == (
        "【许昌热力】尊敬的用户（户号 A-1，碧桂园）：您的供热费争议（工单号 KF-1）已办结：争议成立。"
        "已开具贷项调整单 2025-2026-A-A-1-dispute:KF-1，金额 4.39 元，已记入您的账户，可抵扣应缴热费，也可申请退款。"
        "处理结果通知书见附件（PDF）。如有疑问，请致电 0374-12345。"
    )
    _, text = render_letter_message(
        CONTENT, MessageLanguage.ZH, SENDER, attached=False, letter_url="https://wx.example.cn/l/1"
    )
    assert text.endswith(
        "处理结果通知书请查看：https://wx.example.cn/l/1，也可到营业厅领取。如有疑问，请致电 0374-12345。"
    )
    _, counter = render_letter_message(CONTENT, MessageLanguage.ZH, ReminderSender("许昌热力"), attached=False)
    assert counter.endswith("处理结果通知书可到营业厅领取。")
    english_subject, english = render_letter_message(CONTENT, MessageLanguage.EN, SENDER, attached=True)
    assert english_subject == "[许昌热力] Result of your heating bill dispute KF-1"
    assert english.startswith("Dear customer (account A-1, 碧桂园), your heating bill dispute KF-1 is settled: upheld.")
    assert "The resolution letter is attached (PDF)." in english and english.endswith("-- 许昌热力")
