"""A dispute's resolution letter (处理结果通知书) as a PDF, and sending it through the notification
outbox (docs/disputes.md, "The resolution letter").

Reading needs `read_ledger`; sending needs `manage_disputes` (customer service, clerks, admins).
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import Header, Response
from pydantic import BaseModel

from api.auth import Caller, Reader
from api.dependencies import ContainerDependency
from api.messages import Language, negotiate_language
from api.problems import problem_responses
from api.routers import resource_router
from application.dispute_letters import PDF
from application.notifications import MessageLanguage

router = resource_router("", "disputes")


class LetterSent(BaseModel):
    """What sending the letter did: `written` (the outbox message's id and channel), or why not:
    `dispute_letter_already_written` (once per dispute, ever) or `dispute_letter_no_contact`."""

    dispute_id: UUID
    written: bool
    message_id: UUID | None
    channel: Literal["webhook", "email"] | None
    skip: str | None
    correlation_id: UUID


@router.get(
    "/disputes/{dispute_id:uuid}/letter",
    operation_id="get_dispute_letter",
    response_class=Response,
    responses={
        200: {"content": {PDF: {"schema": {"type": "string", "format": "binary"}}}, "description": "The letter"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def get_dispute_letter(
    dispute_id: UUID,
    _reader: Reader,
    container: ContainerDependency,
    accept_language: Annotated[
        str | None,
        Header(description="`zh` or `en`; without it, the household's contact language, else Chinese"),
    ] = None,
) -> Response:
    """The resolution letter of a dispute resolved (upheld, in part) or rejected, as a PDF: what was
    disputed, the outcome and its reason, who decided and when, the recompute's lines that differ,
    the note booked and the utility's service number. The same letter the household was sent (the
    same bytes in the same language). A dispute still open or withdrawn is a 409."""
    language = None if not accept_language else MessageLanguage(negotiate_language(accept_language).value)
    letter = container.dispute_letters.letter(dispute_id, language)
    return Response(
        content=letter.pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": f'inline; filename="{letter.filename}"',
            "Content-Language": Language(letter.language.value).value,
            "Vary": "Accept-Language",
        },
    )


@router.post(
    "/disputes/{dispute_id:uuid}/letter",
    operation_id="send_dispute_letter",
    response_model=LetterSent,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def send_dispute_letter(dispute_id: UUID, caller: Caller, container: ContainerDependency) -> LetterSent:
    """Send the resolution letter through the outbox if it was not sent yet: the resolution sends
    it by itself, so this is for a household whose contact was recorded afterwards (or a letter
    whose writing failed). E-mail: the PDF attached; webhook (SMS, WeChat): a short text pointing
    to it. Once per dispute, ever."""
    correlation_id = uuid4()
    outcome = container.dispute_letters.send(caller, dispute_id, "resolution letter sent by hand", correlation_id)
    return LetterSent(
        dispute_id=dispute_id,
        written=outcome.message_id is not None,
        message_id=outcome.message_id,
        channel=outcome.channel.value if outcome.channel else None,
        skip=outcome.skip.value if outcome.skip else None,
        correlation_id=correlation_id,
    )
