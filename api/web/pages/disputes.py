"""The disputes pages (客服工单), ``/ui/disputes``: the list by state, category, community and age
with the overdue ones marked, the overdue lists, the service levels, opening a dispute, and a
dispute's page with its steps, its resolution, the second person's decision and the letter.

Reading needs ``read_ledger``; opening, steps, resolution, withdrawal and sending the letter need
``manage_disputes`` (customer service, clerks, admins); the decision on a proposed note needs
``approve_refunds`` (clerks, admins) and is never the proposer's (the service refuses it). Every
action is the API's own route function (``api.routers.disputes``, ``dispute_letters``) with the
page's principal: the same checks, the same events, the same letter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import RedirectResponse, Response

from api.routers import dispute_letters
from api.routers import disputes as dispute_routes
from api.routers.households import require_household
from api.schemas.common import KEY_MAX_LENGTH, NAME_MAX_LENGTH
from api.web.pages import disputes_data
from api.web.pages.casework_common import (
    FormFields,
    FormRefusal,
    WebContainer,
    blank_to_none,
    invalid_query,
    page_number,
    query_without_page,
)
from api.web.pages.casework_forms import (
    approval_input,
    dispute_input,
    resolution_input,
    step_input,
    withdrawal_input,
)
from api.web.rendering import render, translate
from api.web.session import CsrfChecked, WebUser, is_htmx, request_language
from application.authorization import Permission, Principal
from domain.day_split import business_day
from domain.dispute import DisputeCategory, DisputeChannel, DisputeState, SubjectKind
from domain.dispute_service_levels import MAXIMUM_REPORT_DAYS, ServiceClock
from domain.errors import LedgerError, NotFoundError
from infrastructure.container import Container
from projections.dispute_queries import MAXIMUM_AGE_DAYS, DisputeFilter
from projections.dispute_service_levels import OverdueFilter
from projections.queries import LedgerQueries

router = APIRouter(prefix="/ui/disputes", include_in_schema=False)

BASE = "/ui/disputes"
# The service-level page shows the last months unless asked for a period.
DEFAULT_REPORT_DAYS = 180
# What the dispute page offers to do, each a form; a refused one is shown open again.
ACTIONS = ("step", "resolution", "approval", "withdrawal", "letter")


def _now(container: Container) -> datetime:
    return container.ledger.clock()


def _choices() -> dict[str, Any]:
    """The values the forms and filters offer (their labels come from the catalogue)."""
    return {
        "states": [state.value for state in DisputeState],
        "categories": [category.value for category in DisputeCategory],
        "channels": [channel.value for channel in DisputeChannel],
        "subject_kinds": [kind.value for kind in SubjectKind],
        "clocks": [clock.value for clock in ServiceClock],
    }


# -- the list --------------------------------------------------------------------------------------


class ListQuery(BaseModel):
    """The list's filters, as ``GET /disputes`` takes them (blank fields are no filter)."""

    model_config = ConfigDict(extra="ignore")

    state: DisputeState | None = None
    open: bool = False
    category: DisputeCategory | None = None
    community: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    account: str | None = Field(default=None, max_length=KEY_MAX_LENGTH)
    min_days_open: int | None = Field(default=None, ge=0, le=MAXIMUM_AGE_DAYS)

    def selection(self, container: Container) -> DisputeFilter:
        """The API's filter; one household's disputes (``GET /households/{a}/disputes``) by its
        account (a 404 page for an unknown one)."""
        household_id = None
        if self.account is not None:
            household_id = require_household(LedgerQueries(container.engine), self.account).household_id
        return DisputeFilter(
            state=self.state.value if self.state else None,
            open_only=self.open,
            category=self.category.value if self.category else None,
            community=self.community,
            household_id=household_id,
            minimum_age_days=self.min_days_open,
        )


@router.get("")
def dispute_list(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Disputes by state, category, community and days open, the oldest opened first; the
    overdue ones marked. An htmx request (the filter form) gets the table only."""
    try:
        query = ListQuery.model_validate(blank_to_none(request.query_params))
    except ValidationError as error:
        raise invalid_query(error) from None
    now = _now(container)
    page = page_number(request.query_params.get("page"))
    found = disputes_data.dispute_list(container, query.selection(container), page, business_day(now), now)
    context = {"query": query, "found": found, "filters": query_without_page(request), **_choices()}
    return render(request, "disputes/list.html", context, block_name="results" if is_htmx(request) else None)


# -- overdue and service levels ------------------------------------------------------------------


class OverdueQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: ServiceClock = ServiceClock.FIRST_RESPONSE
    category: DisputeCategory | None = None
    community: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)


@router.get("/overdue")
def overdue(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Open disputes past their first-response or resolution target, the most overdue first."""
    try:
        query = OverdueQuery.model_validate(blank_to_none(request.query_params))
    except ValidationError as error:
        raise invalid_query(error) from None
    selection = OverdueFilter(query.category.value if query.category else None, query.community)
    page = page_number(request.query_params.get("page"))
    found = disputes_data.overdue_list(container, query.kind, selection, page, _now(container))
    context = {"query": query, "found": found, "filters": query_without_page(request), **_choices()}
    return render(request, "disputes/overdue.html", context)


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    first_day: date | None = Field(default=None, alias="from")
    last_day: date | None = Field(default=None, alias="to")


@router.get("/service-levels")
def service_levels(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The service levels of the disputes opened in a period (default: the last half year)."""
    try:
        query = ReportQuery.model_validate(blank_to_none(request.query_params))
    except ValidationError as error:
        raise invalid_query(error) from None
    now = _now(container)
    last_day = query.last_day or business_day(now)
    first_day = query.first_day or last_day - timedelta(days=DEFAULT_REPORT_DAYS)
    language = request_language(request)
    labels = {clock.value: translate(f"web.disputes.clock.{clock.value}", language) for clock in ServiceClock}
    view = disputes_data.service_level_view(container, first_day, last_day, now, labels)
    targets = container.settings.dispute_service_targets()
    context = {
        "view": view,
        "first_day": first_day,
        "last_day": last_day,
        "maximum_days": MAXIMUM_REPORT_DAYS,
        "targets": [(category.value, targets.of(category)) for category in DisputeCategory],
    }
    return render(request, "disputes/service_levels.html", context)


# -- opening ----------------------------------------------------------------------------------------


@router.get("/new")
def new_dispute(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The opening form: first the account, then (for that household) what is disputed."""
    user.principal.require(Permission.MANAGE_DISPUTES)
    account = request.query_params.get("account", "").strip()
    return _opening_page(request, container, {"account_number": account}, FormRefusal(status=200))


def _opening_page(request: Request, container: Container, values: dict[str, str], refusal: FormRefusal) -> Response:
    account = values.get("account_number", "").strip()
    choices = None
    if account:
        try:
            choices = disputes_data.opening_choices(container, account)
        except NotFoundError as error:
            refusal = FormRefusal.of(error, request_language(request))
            refusal.fields, refusal.status = {"account_number": refusal.message}, 404
    context = {"values": values, "choices": choices, "refusal": refusal, **_choices()}
    return render(request, "disputes/new.html", context, status_code=refusal.status)


@router.post("")
def open_dispute(request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields) -> Response:
    """Open the dispute (``POST /disputes``) and show it; a refusal shows the form again."""
    user.principal.require(Permission.MANAGE_DISPUTES)
    try:
        opened = dispute_routes.open_dispute(dispute_input(fields), user.principal, container, Response())
    except (ValidationError, LedgerError) as error:
        return _opening_page(request, container, fields, FormRefusal.of(error, request_language(request)))
    return RedirectResponse(f"{BASE}/{opened.dispute_id}?done=opened", status_code=303)


# -- one dispute -------------------------------------------------------------------------------------


@router.get("/{dispute_id:uuid}")
def dispute_page(dispute_id: UUID, request: Request, user: WebUser, container: WebContainer) -> Response:
    """A dispute with its steps, and the forms of what may be done next."""
    return _dispute_page(request, container, dispute_id)


def _dispute_page(
    request: Request,
    container: Container,
    dispute_id: UUID,
    action: str = "",
    values: dict[str, str] | None = None,
    refusal: FormRefusal | None = None,
) -> Response:
    now = _now(container)
    view = disputes_data.dispute_view(container, dispute_id, business_day(now), now)
    done = request.query_params.get("done", "")
    context = {
        "view": view,
        "action": action,
        "values": values or {},
        "refusal": refusal or FormRefusal(status=200),
        "done": done if done in _DONE else "",
        "letter_skip": request.query_params.get("skip", "") if done == "letter" else "",
        "approval_threshold_yuan": container.settings.dispute_second_approval_yuan,
        **_choices(),
    }
    status = refusal.status if refusal is not None else 200
    return render(request, "disputes/detail.html", context, status_code=status)


_DONE = frozenset({"opened", "step", "resolution", "approval", "withdrawal", "letter"})


def _act(
    request: Request,
    container: Container,
    dispute_id: UUID,
    action: str,
    fields: dict[str, str],
    do: Callable[[], str],
) -> Response:
    """Run one action of the dispute page: on success back to the page (303, what was done in the
    query); refused, the page again with the form open, its values and why."""
    try:
        query = do()
    except (ValidationError, LedgerError) as error:
        refusal = FormRefusal.of(error, request_language(request))
        return _dispute_page(request, container, dispute_id, action, fields, refusal)
    return RedirectResponse(f"{BASE}/{dispute_id}?done={query}", status_code=303)


@router.post("/{dispute_id:uuid}/steps")
def record_step(
    dispute_id: UUID, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Record an investigation step or a note to the household (``POST /disputes/{id}/steps``)."""
    principal = _requiring(user.principal, Permission.MANAGE_DISPUTES)

    def do() -> str:
        dispute_routes.record_dispute_step(dispute_id, step_input(fields), principal, container)
        return "step"

    return _act(request, container, dispute_id, "step", fields, do)


@router.post("/{dispute_id:uuid}/resolution")
def resolve(
    dispute_id: UUID, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Resolve (upheld in full or in part) or reject; a note above the threshold is proposed."""
    principal = _requiring(user.principal, Permission.MANAGE_DISPUTES)

    def do() -> str:
        dispute_routes.resolve_dispute(dispute_id, resolution_input(fields), principal, container)
        return "resolution"

    return _act(request, container, dispute_id, "resolution", fields, do)


@router.post("/{dispute_id:uuid}/approval")
def decide(
    dispute_id: UUID, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """The second person approves or refuses the proposed note (never the proposer)."""
    principal = _requiring(user.principal, Permission.APPROVE_REFUNDS)

    def do() -> str:
        dispute_routes.decide_dispute_resolution(dispute_id, approval_input(fields), principal, container)
        return "approval"

    return _act(request, container, dispute_id, "approval", fields, do)


@router.post("/{dispute_id:uuid}/withdrawal")
def withdraw(
    dispute_id: UUID, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """The household withdraws its dispute: nothing is booked, its amount is released."""
    principal = _requiring(user.principal, Permission.MANAGE_DISPUTES)

    def do() -> str:
        dispute_routes.withdraw_dispute(dispute_id, withdrawal_input(fields), principal, container)
        return "withdrawal"

    return _act(request, container, dispute_id, "withdrawal", fields, do)


@router.post("/{dispute_id:uuid}/letter")
def send_letter(dispute_id: UUID, request: Request, user: CsrfChecked, container: WebContainer) -> Response:
    """Send the resolution letter through the outbox if it was not sent yet (once, ever)."""
    principal = _requiring(user.principal, Permission.MANAGE_DISPUTES)

    def do() -> str:
        sent = dispute_letters.send_dispute_letter(dispute_id, principal, container)
        return "letter" if sent.written else f"letter&skip={sent.skip or ''}"

    return _act(request, container, dispute_id, "letter", {}, do)


@router.get("/{dispute_id:uuid}/letter")
def letter(dispute_id: UUID, user: WebUser, container: WebContainer) -> Response:
    """The resolution letter as a PDF: the same bytes the household was sent."""
    return dispute_letters.get_dispute_letter(dispute_id, _requiring(user.principal, Permission.READ_LEDGER), container)


def _requiring(principal: Principal, permission: Permission) -> Principal:
    """The principal, once it holds ``permission``: a refused role is a 403 page before its form is
    read (the service checks the same permission again)."""
    principal.require(permission)
    return principal
