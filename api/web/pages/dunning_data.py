"""What the dunning pages show and do (issue 13): a dunning run (reminders written to the outbox),
the outbox of messages with where each delivery stands, one message with its attempts, a requeue
of a dead message, and a delivery pass now.

Every read and write is the API's own route function (``api.routers.dunning``) with the page's
principal: a run needs ``send_reminders``; the outbox holds addresses (personal data), so only the
roles that manage households read it, as through the API.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import BackgroundTasks

from api.routers import dunning as dunning_api
from api.schemas.dunning import (
    DeliveryReport,
    DunningRun,
    DunningRunOutput,
    NotificationDetail,
    NotificationOutput,
    ReminderOutcomeOutput,
    Requeue,
)
from api.web.forms import filled
from api.web.pages.arrears_data import PAGE_SIZE, Pages, business_today, offset_of
from application.authorization import Principal
from infrastructure.container import Container
from infrastructure.notifications.outbox import MessageStatus

RUN_FIELDS = ("community", "stages_days", "minimum_amount_yuan", "reason")
# A run's reminders are listed on its summary; more than this are in the outbox, paged.
MAXIMUM_RUN_ROWS_SHOWN = 500


def run_values(container: Container) -> dict[str, str]:
    """What the run form starts with: the settings' stages and least amount (what a blank field means)."""
    settings = container.settings
    return {
        "stages_days": ", ".join(str(days) for days in settings.dunning_stages_days),
        "minimum_amount_yuan": str(settings.dunning_minimum_amount_yuan),
    }


def stages_of(text: str) -> list[str] | str:
    """The stages typed as ``15, 45, 90`` (or with 、 or spaces) as a list for the schema to read;
    text that is not such a list is handed on whole, for the schema to refuse by name."""
    parts = [part for part in text.replace("、", ",").replace("，", ",").replace(" ", ",").split(",") if part]
    return parts if parts else text


def dunning_run(form: Mapping[str, str]) -> DunningRun:
    """``POST /dunning/runs``'s body from the run form (blank fields: the settings' policy)."""
    body: dict[str, Any] = filled(form, RUN_FIELDS)
    if "stages_days" in body:
        body["stages_days"] = stages_of(body["stages_days"])
    return DunningRun.model_validate(body)


@dataclass(frozen=True)
class RunSummary:
    """A dunning run as its page shows it: the reminders written, and the rest counted by why not."""

    output: DunningRunOutput
    queued: list[ReminderOutcomeOutput]
    skips: list[tuple[str, int]]


def run_dunning(
    container: Container, principal: Principal, form: Mapping[str, str], background: BackgroundTasks
) -> RunSummary:
    """Run dunning as ``POST /dunning/runs`` (delivery starts after the response)."""
    output = dunning_api.run_dunning(dunning_run(form), principal, container, business_today(container), background)
    queued = [outcome for outcome in output.outcomes if outcome.message_id is not None]
    skips = Counter(outcome.skip for outcome in output.outcomes if outcome.skip is not None)
    ordered = sorted(skips.items(), key=lambda item: -item[1])
    return RunSummary(output, queued[:MAXIMUM_RUN_ROWS_SHOWN], ordered)


@dataclass(frozen=True)
class Outbox:
    """A page of the outbox (of one status and household if asked) and the count of each status."""

    items: list[NotificationOutput]
    counts: dict[str, int]
    pages: Pages


def outbox(
    container: Container, principal: Principal, status: MessageStatus | None, account_number: str | None, page: int
) -> Outbox:
    """``GET /notifications`` for one page, newest first (read one row ahead: the counts are of the
    whole outbox, not of one household)."""
    found = dunning_api.list_notifications(principal, container, status, account_number, PAGE_SIZE + 1, offset_of(page))
    total = None
    if account_number is None:
        total = found.counts.get(status.value, 0) if status is not None else sum(found.counts.values())
    return Outbox(found.items[:PAGE_SIZE], found.counts, Pages(page, len(found.items) > PAGE_SIZE, total))


def message(container: Container, principal: Principal, message_id: UUID) -> NotificationDetail:
    """``GET /notifications/{id}``: the message and every delivery attempt (404 if none)."""
    return dunning_api.get_notification(message_id, principal, container)


def requeue(
    container: Container,
    principal: Principal,
    message_id: UUID,
    form: Mapping[str, str],
    background: BackgroundTasks,
) -> NotificationDetail:
    """``POST /notifications/{id}/requeue``: a dead message sent again, with why (409 if not dead)."""
    body = Requeue.model_validate(filled(form, ("reason",)))
    return dunning_api.requeue_notification(message_id, body, principal, container, background)


def deliver_now(container: Container, principal: Principal) -> DeliveryReport:
    """``POST /notifications/delivery``: deliver what is due, in this request."""
    return dunning_api.deliver_due_notifications(principal, container)
