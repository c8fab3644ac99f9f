"""Resolution letters through the application and the outbox, on SQLite and PostgreSQL: written once
when a dispute is resolved or rejected, the PDF attached for an e-mail contact and a short text
pointing to it for a webhook (SMS, WeChat) contact, nothing without a contact until sent by hand,
none for a withdrawal; who decided (the proposer and the second person); a failure of the letter
never undoes the resolution; and the e-mail delivered over SMTP with the PDF intact.

The households and the corrected reading are those of ``test_disputes``: A-1's settlement
recomputed gives 4.39 元 back.
"""

from __future__ import annotations

import email
import email.policy
import io
import logging
from decimal import Decimal
from email.message import EmailMessage
from uuid import UUID, uuid4

import pypdf
import pytest

from application.dispute_letters import DisputeLetters, LetterSkip, letter_key
from application.disputes import Disputes
from application.notifications import Contact, ContactChannel, MessageKind, MessageLanguage
from application.reminder_messages import ReminderSender
from domain.billing import BillKind
from domain.dispute import Dispute
from domain.errors import ConflictError, NotFoundError, PermissionDeniedError
from infrastructure.container import Container
from infrastructure.dispute_recomputes import DisputeRecomputes
from infrastructure.notifications.dispatcher import DispatchReport
from infrastructure.notifications.outbox import QueuedMessage
from projections.dispute_queries import SqlDisputeLookups
from tests.integration.test_billing_runs import SEASON
from tests.integration.test_disputes import AUDITOR, CLERK, SERVICE, billed, issued, open_bill_dispute, settled
from tests.integration.test_notification_delivery import (  # noqa: F401  (mailbox is a fixture)
    Clock,
    Mailbox,
    mailbox,
    smtp_dispatcher,
)

D = Decimal
__all__ = ["billed", "settled"]


def set_contact(container: Container, channel: ContactChannel, address: str, language: MessageLanguage) -> None:
    container.contacts.set_contact(Contact("A-1", channel, address, language), "clerk-li")


def letters_of(container: Container) -> list[QueuedMessage]:
    listed = container.outbox.messages(account_number="A-1")
    found = [
        container.outbox.message(message.message_id) for message in listed if message.kind is MessageKind.DISPUTE_LETTER
    ]
    return [message for message in found if message is not None]


def upheld(container: Container, reference: str = "KF-1", disputes: Disputes | None = None) -> UUID:
    """A-1 disputes its settlement; the recompute is attached and the dispute upheld (4.39 元 back)."""
    settlement = issued(container, "A-1", BillKind.SETTLEMENT)
    dispute_id = open_bill_dispute(container, "A-1", settlement, "4.39", reference)
    use_cases = disputes or container.disputes
    use_cases.attach_recompute(SERVICE, dispute_id, settlement)
    use_cases.resolve(SERVICE, dispute_id, "upheld", "表上显示 130.1 GJ")
    return dispute_id


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_an_upheld_dispute_writes_its_letter_once_with_the_pdf_attached(settled: Container) -> None:
    set_contact(settled, ContactChannel.EMAIL, "wang.fang@example.cn", MessageLanguage.EN)
    dispute_id = upheld(settled)

    [message] = letters_of(settled)
    assert (message.dedup_key, message.channel, message.address, message.language) == (
        letter_key(dispute_id),
        ContactChannel.EMAIL,
        "wang.fang@example.cn",
        MessageLanguage.EN,
    )
    assert (message.amount_yuan, message.stage_days, message.created_by) == (D("-4.39"), 0, "service-chen")
    assert message.subject == "[热力公司] Result of your heating bill dispute KF-1"
    assert "upheld. A credit note 2025-2026-A-A-1-dispute:KF-1 of 4.39 yuan" in message.body
    assert "The resolution letter is attached (PDF)." in message.body
    # The message belongs to the resolution's command.
    resolved = list(settled.ledger.events.get(dispute_id))[-1]
    assert isinstance(resolved, Dispute.Resolved) and message.correlation_id == resolved.correlation_id
    [attachment] = message.attachments
    assert (attachment.filename, attachment.content_type) == ("dispute-letter-KF-1-en.pdf", "application/pdf")
    # The letter fetched later is the one sent, to the byte (the contact's language by default).
    letter = settled.dispute_letters.letter(dispute_id)
    assert (letter.language, letter.pdf) == (MessageLanguage.EN, attachment.content)
    text = pdf_text(attachment.content)
    assert "Outcome: upheld. Reason: 表上显示 130.1 GJ" in text and "-35.02" in text and "-39.41" in text
    chinese = settled.dispute_letters.letter(dispute_id, MessageLanguage.ZH)
    assert "供热费争议处理结果通知书" in pdf_text(chinese.pdf) and chinese.filename == "dispute-letter-KF-1-zh.pdf"

    again = settled.dispute_letters.send(SERVICE, dispute_id)
    assert (again.message_id, again.skip) == (None, LetterSkip.ALREADY_WRITTEN)
    assert len(letters_of(settled)) == 1
    with pytest.raises(PermissionDeniedError):
        settled.dispute_letters.send(AUDITOR, dispute_id)


def test_a_webhook_contact_gets_a_short_text_pointing_to_the_letter(settled: Container) -> None:
    set_contact(settled, ContactChannel.WEBHOOK, "13800138000", MessageLanguage.ZH)
    settled.settings.dispute_letter_url = "https://wx.heat.example.cn/letters/{dispute_id}"
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    dispute_id = open_bill_dispute(settled, "A-1", settlement, "20.00", "KF-9")
    settled.disputes.resolve(SERVICE, dispute_id, "rejected", "面积经复核无误")

    [message] = letters_of(settled)
    assert (message.channel, message.attachments, message.amount_yuan) == (ContactChannel.WEBHOOK, (), D("0.00"))
    assert message.body == (
        "【热力公司】尊敬的用户（户号 A-1，碧桂园）：您的供热费争议（工单号 KF-9）已办结：争议不成立，予以驳回。"
        f"账单不作调整。处理结果通知书请查看：https://wx.heat.example.cn/letters/{dispute_id}，也可到营业厅领取。"
    )
    assert "争议不成立，予以驳回" in pdf_text(settled.dispute_letters.letter(dispute_id).pdf)


def test_without_a_contact_nothing_is_written_until_it_is_sent_by_hand(settled: Container) -> None:
    dispute_id = upheld(settled)
    assert letters_of(settled) == []
    assert settled.dispute_letters.send(CLERK, dispute_id).skip is LetterSkip.NO_CONTACT

    set_contact(settled, ContactChannel.EMAIL, "wang.fang@example.cn", MessageLanguage.ZH)
    sent = settled.dispute_letters.send(CLERK, dispute_id, "联系方式已登记")
    assert (sent.channel, sent.skip) == (ContactChannel.EMAIL, None) and sent.message_id is not None
    [message] = letters_of(settled)
    assert (message.message_id, message.created_by) == (sent.message_id, "clerk-li")
    assert message.attachments[0].content == settled.dispute_letters.letter(dispute_id).pdf


def test_a_withdrawn_or_open_dispute_has_no_letter(settled: Container) -> None:
    set_contact(settled, ContactChannel.EMAIL, "wang.fang@example.cn", MessageLanguage.ZH)
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    dispute_id = open_bill_dispute(settled, "A-1", settlement, "4.39")
    with pytest.raises(ConflictError) as still_open:
        settled.dispute_letters.letter(dispute_id)
    assert still_open.value.message_key == "dispute_letter_not_resolved"
    settled.disputes.withdraw(SERVICE, dispute_id, "the household paid after all")
    assert letters_of(settled) == []
    with pytest.raises(ConflictError):
        settled.dispute_letters.send(SERVICE, dispute_id)
    with pytest.raises(NotFoundError):
        settled.dispute_letters.letter(uuid4())


def test_a_note_a_second_person_approved_names_both(settled: Container) -> None:
    set_contact(settled, ContactChannel.EMAIL, "wang.fang@example.cn", MessageLanguage.ZH)
    letters = settled.dispute_letters
    disputes = Disputes(
        settled.ledger,
        SqlDisputeLookups(settled.engine),
        DisputeRecomputes(settled.ledger, settled.engine),
        approval_threshold_yuan=D("1.00"),
        closing_hook=letters,
    )
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    dispute_id = open_bill_dispute(settled, "A-1", settlement, "4.39")
    disputes.attach_recompute(SERVICE, dispute_id, settlement)
    disputes.resolve(SERVICE, dispute_id, "upheld", "抄表员误读")
    assert letters_of(settled) == []  # proposed, not resolved
    disputes.approve(CLERK, dispute_id, "checked the correction")

    content = letters.content(dispute_id)
    assert (content.decided_by, content.reason, content.approved_by) == ("service-chen", "抄表员误读", "clerk-li")
    assert content.approved_at is not None and content.approved_at >= content.decided_at
    [message] = letters_of(settled)
    text = pdf_text(message.attachments[0].content)
    assert "处理人" in text and "审批人" in text and "clerk-li" in text and "理由：抄表员误读" in text


class BrokenRenderer:
    def render(self, document: object) -> bytes:
        raise RuntimeError("the renderer broke")


def test_a_letter_that_fails_never_undoes_the_resolution(settled: Container, caplog: pytest.LogCaptureFixture) -> None:
    set_contact(settled, ContactChannel.EMAIL, "wang.fang@example.cn", MessageLanguage.ZH)
    sender = ReminderSender(settled.settings.utility_name)
    broken = DisputeLetters(settled.ledger, settled.contacts, settled.outbox, BrokenRenderer(), sender)
    disputes = Disputes(
        settled.ledger,
        SqlDisputeLookups(settled.engine),
        DisputeRecomputes(settled.ledger, settled.engine),
        approval_threshold_yuan=D("500.00"),
        closing_hook=broken,
    )
    with caplog.at_level(logging.ERROR, logger="heatledger.disputes"):
        dispute_id = upheld(settled, disputes=disputes)
    assert "its closing hook failed" in caplog.text
    assert settled.disputes.dispute(dispute_id).state.value == "resolved_upheld"
    assert len(settled.billing.period("A-1", SEASON).issued(BillKind.ADJUSTMENT)) == 1
    assert letters_of(settled) == []
    assert settled.dispute_letters.send(SERVICE, dispute_id).message_id is not None


def test_the_email_arrives_with_the_pdf_intact(settled: Container, mailbox: tuple[Mailbox, int]) -> None:  # noqa: F811
    handler, port = mailbox
    set_contact(settled, ContactChannel.EMAIL, "wang.fang@example.cn", MessageLanguage.ZH)
    dispute_id = upheld(settled)
    clock = Clock(settled.ledger.clock())

    assert smtp_dispatcher(settled.outbox, clock, port).deliver_due() == DispatchReport(delivered=1)

    [(_, recipients, content)] = handler.received
    assert recipients == ["wang.fang@example.cn"]
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage) and parsed.get_content_type() == "multipart/mixed"
    body = parsed.get_body(("plain",))
    assert body is not None and "处理结果通知书见附件（PDF）" in body.get_content()
    [attachment] = list(parsed.iter_attachments())
    assert (attachment.get_content_type(), attachment.get_filename()) == (
        "application/pdf",
        "dispute-letter-KF-1-zh.pdf",
    )
    assert attachment.get_content() == settled.dispute_letters.letter(dispute_id).pdf
