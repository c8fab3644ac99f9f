"""Delivery by e-mail over SMTP.

Each message is one plain-text e-mail in UTF-8 (the subject encoded per RFC 2047, so Chinese
arrives intact), its Message-ID made from the outbox's message id so a repeat after a crash is
recognisable. A message with attachments (a dispute's resolution letter as PDF) becomes a
multipart/mixed e-mail: the text first, then each file under its name (RFC 2231 for a Chinese one).
The server's answer decides: accepted, delivered; a 5xx (an unknown mailbox, a
refused sender) is permanent, so the message is dead at once; a 4xx (greylisting, a full queue),
a timeout or no connection is retried later.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate

from infrastructure.notifications.channel import SendResult
from infrastructure.notifications.outbox import QueuedMessage
from infrastructure.notifications.tables import DeliveryOutcome

MESSAGE_ID_DOMAIN = "heatledger"


def email_of(message: QueuedMessage, sender: str) -> EmailMessage:
    """The e-mail for a message: From the sender, To its address, UTF-8 subject and body, and its
    attachments."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.address
    email["Subject"] = message.subject
    email["Date"] = formatdate(message.created_at.timestamp(), usegmt=True)
    email["Message-ID"] = f"<{message.message_id}@{MESSAGE_ID_DOMAIN}>"
    email["Content-Language"] = "zh-CN" if message.language.value == "zh" else "en"
    email.set_content(message.body, charset="utf-8")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.filename
        )
    return email


class SmtpChannel:
    """Sends messages as e-mails through one SMTP server (a relay that accepts them)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str,
        password: str,
        starttls: bool,
        timeout_seconds: float,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout_seconds = timeout_seconds

    def close(self) -> None:
        """Nothing to release: each message opens and closes its own SMTP session."""

    def send(self, message: QueuedMessage) -> SendResult:
        """Send the e-mail; the outcome by the server's answer (see the module's docstring)."""
        try:
            self._submit(email_of(message, self.sender))
        except smtplib.SMTPRecipientsRefused as error:
            return _recipients_refused(error)
        except smtplib.SMTPResponseException as error:
            # Also SMTPSenderRefused and SMTPDataError, which carry the server's code.
            return _by_code(error.smtp_code, _text(error.smtp_error))
        except TimeoutError as error:
            return SendResult(DeliveryOutcome.RETRY, f"timeout: {error}")
        except (OSError, smtplib.SMTPException) as error:
            # Includes a refused connection, a dropped one and a server that does not speak SMTP.
            return SendResult(DeliveryOutcome.RETRY, f"connection error: {type(error).__name__}: {error}")
        return SendResult(DeliveryOutcome.DELIVERED, "250 accepted")

    def _submit(self, email: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as client:
            if self.starttls:
                client.starttls()
            if self.username:
                client.login(self.username, self.password)
            refused = client.send_message(email)
            # One recipient per message: a partial refusal cannot happen, but would be a refusal.
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)


def _recipients_refused(error: smtplib.SMTPRecipientsRefused) -> SendResult:
    """A refused recipient is permanent when the server said 5xx; a 4xx ("mailbox busy, try
    later") is retried like any other temporary answer."""
    answers = list(error.recipients.values())
    code = min((answer[0] for answer in answers), default=550)
    detail = "; ".join(f"{recipient}: {answer[0]} {_text(answer[1])}" for recipient, answer in error.recipients.items())
    return _by_code(code, f"recipient refused: {detail}")


def _by_code(code: int, detail: str) -> SendResult:
    if 500 <= code < 600:
        return SendResult(DeliveryOutcome.DEAD, f"{code} {detail} (permanent refusal)")
    return SendResult(DeliveryOutcome.RETRY, f"{code} {detail}")


def _text(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
