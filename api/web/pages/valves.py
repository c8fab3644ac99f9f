"""The valve pages (室温控制器与阀门), ``/ui/valves`` (issue 14): find a household's room
controllers; the commands awaiting a second person's approval; the households whose rooms stay
below 18 °C, for customer service to call; device health; one controller with its latest report,
its recent days, its commands and where each stands, the form to request a command (the
guardrails' refusals said beside it) and the approval of another person's command.

Requesting and approving need ``command_valves`` (clerks, admins), checked before the form is read:
a role that may not gets a 403 page however the request was made. Every read and write is the API's
own route function (``api.web.pages.valves_data``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import RedirectResponse, Response

from api.messages import Language
from api.messages import render as render_message
from api.schemas.common import KEY_MAX_LENGTH
from api.web.forms import FormErrors, form_errors
from api.web.pages import valves_data as data
from api.web.pages.arrears import acting, reading, validated
from api.web.pages.billing_common import FormFields, WebContainer, refusal_status
from api.web.pages.casework_common import page_number
from api.web.rendering import render
from api.web.session import CsrfChecked, WebSession, WebUser, request_language
from application.authorization import Permission
from domain.errors import LedgerError
from domain.valve import MAXIMUM_ID_LENGTH
from domain.valve_commands import CommandKind, parameter_names
from infrastructure.container import Container

router = APIRouter(prefix="/ui/valves", include_in_schema=False)

BASE = "/ui/valves"
DevicePath = Annotated[str, Path(min_length=1, max_length=MAXIMUM_ID_LENGTH)]
CommandPath = Annotated[str, Path(min_length=1, max_length=MAXIMUM_ID_LENGTH)]
# What a controller's page says after an action it was sent back from.
_DONE = frozenset({"requested", "approved"})


class AccountQuery(BaseModel):
    """A household asked for by its account number (blank: none)."""

    model_config = ConfigDict(extra="ignore")

    account: str | None = Field(default=None, max_length=KEY_MAX_LENGTH)


@router.get("")
def valves(request: Request, user: WebUser, container: WebContainer) -> Response:
    """A household's controllers when asked for, the commands awaiting approval, the under-heated."""
    query: AccountQuery = validated(AccountQuery, request)
    found = data.overview(container, reading(user), query.account)
    return render(request, "valves/index.html", {"query": query, "found": found})


@router.get("/health")
def health(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Every controller that has reported, the longest silent first (battery, signal, valve)."""
    query: AccountQuery = validated(AccountQuery, request)
    page = page_number(request.query_params.get("page"))
    found = data.device_health(container, reading(user), query.account, page)
    filters = f"account={query.account}" if query.account else ""
    return render(request, "valves/health.html", {"query": query, "found": found, "filters": filters})


@router.get("/devices/{device_id}")
def controller(device_id: DevicePath, request: Request, user: WebUser, container: WebContainer) -> Response:
    """A controller: facts, latest report, recent days, commands, and the forms to act."""
    return _controller_page(request, container, user, device_id, {}, FormErrors())


def _controller_page(
    request: Request,
    container: Container,
    user: WebSession,
    device_id: str,
    values: dict[str, str],
    errors: FormErrors,
    status: int = 200,
    approval_errors: dict[str, FormErrors] | None = None,
) -> Response:
    view = data.controller_view(container, reading(user), device_id)
    done = request.query_params.get("done", "")
    context = {
        "view": view,
        "values": values,
        "errors": errors,
        "approval_errors": approval_errors or {},
        "done": done if done in _DONE else "",
        "kinds": [kind.value for kind in CommandKind],
        "kind_fields": {kind.value: list(parameter_names(kind)) for kind in CommandKind},
        "parameter_fields": data.PARAMETER_FIELDS,
        "me": user.principal.name,
    }
    return render(request, "valves/controller.html", context, status_code=status)


@router.post("/devices/{device_id}/commands")
def request_command(
    device_id: DevicePath, request: Request, user: CsrfChecked, container: WebContainer, form: FormFields
) -> Response:
    """Request a command (``POST /valves/{id}/commands``); a refusal (a parameter, a guardrail,
    the rate limit) shows the form again with why, and records nothing."""
    principal = acting(user, Permission.COMMAND_VALVES)
    try:
        data.request_command(container, principal, device_id, form)
    except (ValidationError, LedgerError) as error:
        errors = _request_errors(error, request_language(request))
        return _controller_page(request, container, user, device_id, dict(form), errors, refusal_status(error))
    return RedirectResponse(f"{BASE}/devices/{device_id}?done=requested", status_code=303)


@router.post("/devices/{device_id}/commands/{command_id}/approval")
def approve_command(
    device_id: DevicePath,
    command_id: CommandPath,
    request: Request,
    user: CsrfChecked,
    container: WebContainer,
    form: FormFields,
) -> Response:
    """Approve another person's command; a refusal (one's own command, a guardrail, a command
    no longer waiting) is said beside that command's form."""
    principal = acting(user, Permission.COMMAND_VALVES)
    try:
        data.approve_command(container, principal, device_id, command_id, form)
    except (ValidationError, LedgerError) as error:
        errors = {command_id: form_errors(error, request_language(request), ("reason",))}
        return _controller_page(request, container, user, device_id, {}, FormErrors(), refusal_status(error), errors)
    return RedirectResponse(f"{BASE}/devices/{device_id}?done=approved", status_code=303)


def _request_errors(error: ValidationError | LedgerError, language: Language) -> FormErrors:
    """A refused request as the form shows it. The schema names a parameter's error by its place
    in the body (``params`` → ``gear``): said beside the parameter's own field."""
    if isinstance(error, LedgerError):
        return form_errors(error, language, data.REQUEST_FIELDS)
    found = FormErrors()
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        name = location[1] if location[:1] == ["params"] and len(location) > 1 else (location or [""])[0]
        message = render_message(
            [f"validation.{item.get('type', 'value_error')}"],
            dict(item.get("ctx") or {}),
            language,
            str(item.get("msg", "")),
        )
        if name in data.REQUEST_FIELDS and name not in found.fields:
            found.fields[name] = message
        else:
            found.general.append(message)
    return found
