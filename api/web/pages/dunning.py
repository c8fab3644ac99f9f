"""The dunning pages (催缴), ``/ui/dunning``: start a dunning run, the reminders outbox (each
message's state, channel, attempts), one message with its delivery attempts, requeueing a dead
message, and a delivery pass now.

A run, a requeue and a delivery pass need ``send_reminders`` (clerks, admins). The outbox holds
the households' addresses (personal data): only the roles that manage households read it, as
through the API; the others see the page without it. Every action is the API's own route function
with the page's principal (``api.web.pages.dunning_data``); the permission is checked before the
form is read, so a role that may not act gets a 403 page however the request was made.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import RedirectResponse, Response

from api.schemas.common import KEY_MAX_LENGTH
from api.web.forms import FormErrors, form_errors
from api.web.pages import dunning_data as data
from api.web.pages.arrears import acting, reading, validated
from api.web.pages.billing_common import FormFields, WebContainer, refusal_status
from api.web.pages.billing_data import communities
from api.web.pages.casework_common import page_number, query_without_page
from api.web.rendering import render
from api.web.session import CsrfChecked, WebSession, WebUser, is_htmx, request_language
from application.authorization import Permission
from domain.errors import LedgerError
from infrastructure.container import Container
from infrastructure.notifications.outbox import MessageStatus

router = APIRouter(prefix="/ui/dunning", include_in_schema=False)

BASE = "/ui/dunning"
# The figures of a delivery pass, carried to the page it returns to.
DELIVERY_FIGURES = ("delivered", "retried", "dead")


class OutboxQuery(BaseModel):
    """The outbox's filters, as ``GET /notifications`` takes them (blank fields: no filter)."""

    model_config = ConfigDict(extra="ignore")

    status: MessageStatus | None = None
    account: str | None = Field(default=None, max_length=KEY_MAX_LENGTH)


@router.get("")
def dunning(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The run form (for those who may run dunning) and the outbox (for those who may read it)."""
    return _dunning_page(request, container, user, data.run_values(container), FormErrors())


def _dunning_page(
    request: Request,
    container: Container,
    user: WebSession,
    values: dict[str, str],
    errors: FormErrors,
    status: int = 200,
) -> Response:
    query: OutboxQuery = validated(OutboxQuery, request)
    principal = reading(user)
    found = None
    if principal.may(Permission.MANAGE_HOUSEHOLDS):
        page = page_number(request.query_params.get("page"))
        found = data.outbox(container, principal, query.status, query.account, page)
    context = {
        "query": query,
        "found": found,
        "statuses": [message_status.value for message_status in MessageStatus],
        "communities": communities(container),
        "filters": query_without_page(request),
        "values": values,
        "errors": errors,
        "delivery": _delivery_report(request),
    }
    block = "results" if is_htmx(request) and status == 200 else None
    return render(request, "dunning/index.html", context, block_name=block, status_code=status)


def _delivery_report(request: Request) -> dict[str, int] | None:
    """The figures of the delivery pass the page was sent back from, if it was."""
    figures = {name: request.query_params.get(name, "") for name in DELIVERY_FIGURES}
    if not all(value.isdigit() for value in figures.values()):
        return None
    return {name: int(value) for name, value in figures.items()}


@router.post("/runs")
def run(
    request: Request, user: CsrfChecked, container: WebContainer, form: FormFields, background: BackgroundTasks
) -> Response:
    """Write the reminders due today to the outbox (``POST /dunning/runs``) and show what was
    written and why the other households got none; delivery starts once this page is sent. A
    policy the API refuses shows the form again with why, and writes nothing."""
    principal = acting(user, Permission.SEND_REMINDERS)
    try:
        summary = data.run_dunning(container, principal, form, background)
    except (ValidationError, LedgerError) as error:
        errors = form_errors(error, request_language(request), data.RUN_FIELDS)
        return _dunning_page(request, container, user, dict(form), errors, refusal_status(error))
    return render(request, "dunning/run.html", {"summary": summary})


@router.post("/delivery")
def deliver(request: Request, user: CsrfChecked, container: WebContainer) -> Response:
    """Deliver what is due now (``POST /notifications/delivery``) and go back to the outbox with
    what the pass did."""
    report = data.deliver_now(container, acting(user, Permission.SEND_REMINDERS))
    query = "&".join(f"{name}={getattr(report, name)}" for name in DELIVERY_FIGURES)
    return RedirectResponse(f"{BASE}?{query}", status_code=303)


@router.get("/messages/{message_id:uuid}")
def message(message_id: UUID, request: Request, user: WebUser, container: WebContainer) -> Response:
    """A message of the outbox with every delivery attempt (personal: roles managing households)."""
    return _message_page(request, container, user, message_id)


def _message_page(
    request: Request,
    container: Container,
    user: WebSession,
    message_id: UUID,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    found = data.message(container, reading(user), message_id)
    done = request.query_params.get("done") == "requeued"
    context = {"message": found, "values": values or {}, "errors": errors or FormErrors(), "done": done}
    return render(request, "dunning/message.html", context, status_code=status)


@router.post("/messages/{message_id:uuid}/requeue")
def requeue(
    message_id: UUID,
    request: Request,
    user: CsrfChecked,
    container: WebContainer,
    form: FormFields,
    background: BackgroundTasks,
) -> Response:
    """Send a dead message again, with why (``POST /notifications/{id}/requeue``); delivery starts
    once the answer is sent. A message that is not dead is refused (409) beside the form."""
    principal = acting(user, Permission.SEND_REMINDERS)
    try:
        data.requeue(container, principal, message_id, form, background)
    except (ValidationError, LedgerError) as error:
        errors = form_errors(error, request_language(request), ("reason",))
        return _message_page(request, container, user, message_id, dict(form), errors, refusal_status(error))
    return RedirectResponse(f"{BASE}/messages/{message_id}?done=requeued", status_code=303)
