"""Dunning: reminder runs, the notification outbox (what was sent, how each delivery went) and
the households' contacts.

A run writes reminders to the outbox and returns at once; delivery is the job
``deliver_notifications``: after the response on the embedded default, on Redis for
``heatledger worker`` (which also retries what is due every minute) with ``arq``.
Contacts are personal data: only roles that manage households read or change them.
"""

from __future__ import annotations

import logging
from typing import Annotated
from uuid import UUID

from fastapi import BackgroundTasks, Query, Response

from api.auth import Caller
from api.dependencies import BusinessToday, ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.households import AccountNumberPath
from api.schemas.dunning import (
    ContactInput,
    ContactOutput,
    DeliveryOutput,
    DeliveryReport,
    DunningRun,
    DunningRunOutput,
    NotificationDetail,
    NotificationList,
    NotificationOutput,
    ReminderOutcomeOutput,
    Requeue,
)
from application.authorization import Permission
from application.notifications import Contact
from domain.errors import NotFoundError
from infrastructure.container import Container
from infrastructure.jobs import DELIVER_NOTIFICATIONS, deliver_notifications, dunning_policy
from infrastructure.notifications.outbox import MessageStatus
from infrastructure.settings import JobQueueKind
from projections.queries import MAXIMUM_PAGE_SIZE

logger = logging.getLogger(__name__)

router = resource_router("", "dunning")


@router.post(
    "/dunning/runs",
    operation_id="run_dunning",
    response_model=DunningRunOutput,
    responses=problem_responses(401, 403, 422),
)
def run_dunning(
    run: DunningRun,
    caller: Caller,
    container: ContainerDependency,
    today: BusinessToday,
    background: BackgroundTasks,
) -> DunningRunOutput:
    """Write the reminder each household in arrears is due today to the outbox: the latest stage
    its oldest open charge has reached, once per charge and stage however often this runs, none
    while a dispute is open or without a contact. Delivery starts after the response."""
    policy = dunning_policy(container.settings, run.stages_days, run.minimum_amount_yuan)
    summary = container.dunning.remind(caller, policy, today, run.community, run.reason or "dunning run")
    if summary.queued:
        start_delivery(container, background)
    return DunningRunOutput(
        today=summary.today,
        community=summary.community,
        stages_days=list(policy.stages_days),
        minimum_amount_yuan=policy.minimum_amount_yuan,
        queued=summary.queued,
        skipped=summary.skipped,
        outcomes=[ReminderOutcomeOutput.model_validate(outcome) for outcome in summary.outcomes],
    )


@router.get(
    "/notifications",
    operation_id="list_notifications",
    response_model=NotificationList,
    responses=problem_responses(401, 403, 422),
)
def list_notifications(
    caller: Caller,
    container: ContainerDependency,
    status: MessageStatus | None = None,
    account_number: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> NotificationList:
    """The outbox, newest first: of one status (pending, sending, delivered, dead) and household
    if given, with the number of messages per status."""
    caller.require(Permission.MANAGE_HOUSEHOLDS)
    messages = container.outbox.messages(status.value if status else None, account_number, limit, offset)
    return NotificationList(
        items=[NotificationOutput.model_validate(message) for message in messages],
        counts=container.outbox.counts(),
    )


@router.get(
    "/notifications/{message_id:uuid}",
    operation_id="get_notification",
    response_model=NotificationDetail,
    responses=problem_responses(401, 403, 404, 422),
)
def get_notification(message_id: UUID, caller: Caller, container: ContainerDependency) -> NotificationDetail:
    """A message with every delivery attempt and its outcome (HTTP status, SMTP answer, error)."""
    caller.require(Permission.MANAGE_HOUSEHOLDS)
    return _detail(container, message_id)


@router.post(
    "/notifications/{message_id:uuid}/requeue",
    operation_id="requeue_notification",
    response_model=NotificationDetail,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def requeue_notification(
    message_id: UUID, requeue: Requeue, caller: Caller, container: ContainerDependency, background: BackgroundTasks
) -> NotificationDetail:
    """Send a dead-lettered message again (after its contact was corrected or the gateway is back),
    with why; a message that is not dead is a 409."""
    caller.require(Permission.SEND_REMINDERS)
    container.outbox.requeue(message_id, caller.name, requeue.reason)
    start_delivery(container, background)
    return _detail(container, message_id)


@router.post(
    "/notifications/delivery",
    operation_id="deliver_notifications",
    response_model=DeliveryReport,
    responses=problem_responses(401, 403),
)
def deliver_due_notifications(caller: Caller, container: ContainerDependency) -> DeliveryReport:
    """Deliver what is due now, in this request (a clerk's "send now"; the worker does it every minute)."""
    caller.require(Permission.SEND_REMINDERS)
    return DeliveryReport.model_validate(deliver_notifications(container))


def _detail(container: Container, message_id: UUID) -> NotificationDetail:
    message = container.outbox.message(message_id)
    if message is None:
        raise NotFoundError(f"no notification {message_id}", kind="notification", key=str(message_id))
    deliveries = [DeliveryOutput.model_validate(record) for record in container.outbox.deliveries(message_id)]
    return NotificationDetail.model_validate(
        {**NotificationOutput.model_validate(message).model_dump(), "deliveries": deliveries}
    )


def deliver_in_background(container: Container) -> None:
    """Deliver due messages in this process (the inline job queue); a failure is logged and the
    messages stay due for the next pass."""
    try:
        container.jobs.enqueue(DELIVER_NOTIFICATIONS)
    except Exception:
        logger.exception("delivering notifications failed; they stay in the outbox for the next pass")


def start_delivery(container: Container, background: BackgroundTasks) -> None:
    """Deliver after the response (inline) or enqueue the delivery job for the worker (arq)."""
    if JobQueueKind(container.settings.job_queue) is JobQueueKind.INLINE:
        background.add_task(deliver_in_background, container)
    else:
        container.jobs.enqueue(DELIVER_NOTIFICATIONS, _job_id="deliver_notifications:now")


# -- contacts -------------------------------------------------------------------------------


@router.put(
    "/households/{account_number}/contact",
    operation_id="set_household_contact",
    response_model=ContactOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def set_household_contact(
    account_number: AccountNumberPath, contact: ContactInput, caller: Caller, container: ContainerDependency
) -> ContactOutput:
    """Where the household's reminders go (the gateway's recipient id or an e-mail) and in which
    language; replaces the one it had."""
    caller.require(Permission.MANAGE_HOUSEHOLDS)
    container.ledger.household(account_number)  # 404 for a household we do not have
    stored = Contact(account_number, contact.channel, contact.address.strip(), contact.language, contact.holder_name)
    return ContactOutput.model_validate(container.contacts.set_contact(stored, caller.name))


@router.get(
    "/households/{account_number}/contact",
    operation_id="get_household_contact",
    response_model=ContactOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_household_contact(
    account_number: AccountNumberPath, caller: Caller, container: ContainerDependency
) -> ContactOutput:
    """The household's contact; 404 when it has none."""
    caller.require(Permission.MANAGE_HOUSEHOLDS)
    contact = container.contacts.contact(account_number)
    if contact is None:
        raise NotFoundError(f"household {account_number} has no contact", kind="contact", key=account_number)
    return ContactOutput.model_validate(contact)


@router.delete(
    "/households/{account_number}/contact",
    status_code=204,
    operation_id="forget_household_contact",
    responses=problem_responses(401, 403, 404, 422),
)
def forget_household_contact(
    account_number: AccountNumberPath, caller: Caller, container: ContainerDependency
) -> Response:
    """Erase the household's contact (on its request, or when it moved out); 404 when it has none.
    Messages already sent keep the address they were sent to."""
    caller.require(Permission.MANAGE_HOUSEHOLDS)
    if not container.contacts.forget(account_number, caller.name):
        raise NotFoundError(f"household {account_number} has no contact", kind="contact", key=account_number)
    # Who erased it stays on record; what was erased does not.
    logger.info("the contact of household %s was erased by %s", account_number, caller.name)
    return Response(status_code=204)
