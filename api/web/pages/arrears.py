"""The arrears pages (欠费), ``/ui/arrears``: the aging table by community and building, the season's
collection rates, the arrears flags (a run of the policy, the list by status, one flag with its
history, the second person's approval, withdrawal) and the households marked vulnerable.

Reading needs ``read_ledger``; the households marked vulnerable are personal (why: age, illness,
hardship), read and marked by the roles that manage households, as through the API. Runs,
approvals and withdrawals need ``manage_arrears`` (clerks, admins); a flag is approved by a second
person, never the one who raised it (the domain refuses it: a 403 shown beside the form). Every
action is the API's own route function with the page's principal (``api.web.pages.arrears_data``);
the permission is checked before the form is read, so a role that may not act gets a 403 page
however the request was made.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import RedirectResponse, Response

from api.schemas.common import KEY_MAX_LENGTH, NAME_MAX_LENGTH, SeasonCode
from api.web.forms import FormErrors, form_errors
from api.web.pages import arrears_data as data
from api.web.pages.billing_common import FormFields, WebContainer, refusal_status
from api.web.pages.billing_data import communities
from api.web.pages.casework_common import blank_to_none, invalid_query, page_number, query_without_page
from api.web.rendering import render, translate
from api.web.session import CsrfChecked, WebSession, WebUser, is_htmx, request_language
from application.authorization import Permission, Principal
from domain.arrears import FlagStatus, WithdrawalKind
from domain.errors import LedgerError
from infrastructure.container import Container

router = APIRouter(prefix="/ui/arrears", include_in_schema=False)

BASE = "/ui/arrears"
AccountPath = Annotated[str, Path(min_length=1, max_length=KEY_MAX_LENGTH)]
# The flags list shows those awaiting a second person unless asked for another status (or all).
ALL_STATUSES = "all"
_DONE = frozenset({"approved", "withdrawn", "marked", "cleared"})


def reading(user: WebSession) -> Principal:
    """The user's principal, if their role may read the ledger (every staff role may; 403 otherwise)."""
    user.principal.require(Permission.READ_LEDGER)
    return user.principal


def acting(user: WebSession, permission: Permission) -> Principal:
    """The user's principal, if their role holds ``permission``: checked before the form is read, so
    a crafted post by a role that may not act is a 403 page, never a form error."""
    user.principal.require(permission)
    return user.principal


def _band_names(request: Request) -> dict[str, str]:
    language = request_language(request)
    return {band: translate(f"web.arrears.band.{band}", language) for band in data.AGING_BANDS}


def _done(request: Request) -> str:
    done = request.query_params.get("done", "")
    return done if done in _DONE else ""


# -- aging -----------------------------------------------------------------------------------------


class AgingQuery(BaseModel):
    """The aging table's filters, as ``GET /arrears/aging`` takes them (blank fields: no filter)."""

    model_config = ConfigDict(extra="ignore")

    community: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    building: str | None = Field(default=None, max_length=KEY_MAX_LENGTH)
    as_of: date | None = None


def validated(model: type[BaseModel], request: Request) -> Any:
    """The query's filters read by ``model``; a 422 page for what it refuses."""
    try:
        return model.model_validate(blank_to_none(dict(request.query_params)))
    except ValidationError as error:
        raise invalid_query(error) from None


@router.get("")
def aging(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Open charges by days past due, per household of a community and building, with the totals
    and a chart of them; the filter form (htmx) asks for the results only."""
    query: AgingQuery = validated(AgingQuery, request)
    page = page_number(request.query_params.get("page"))
    view = data.aging_view(container, reading(user), query.model_dump(), page, _band_names(request))
    context = {
        "query": query,
        "view": view,
        "bands": data.AGING_BANDS,
        "communities": communities(container),
        "filters": query_without_page(request),
    }
    return render(request, "arrears/aging.html", context, block_name="results" if is_htmx(request) else None)


# -- collection rates --------------------------------------------------------------------------------


class RatesQuery(BaseModel):
    """The season (default: today's, or the one that ended last) and one community, if asked."""

    model_config = ConfigDict(extra="ignore")

    season: SeasonCode | None = None
    community: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)


@router.get("/collection-rates")
def collection(request: Request, user: WebUser, container: WebContainer) -> Response:
    """What a season's bills charged and what is collected, per building, community and city."""
    query: RatesQuery = validated(RatesQuery, request)
    season = query.season or data.current_season_code(container)
    page = page_number(request.query_params.get("page"))
    rate_name = translate("web.arrears.rates.rate", request_language(request))
    view = data.collection_view(container, reading(user), season, query.community, page, rate_name)
    context = {
        "query": query,
        "view": view,
        "communities": communities(container),
        "filters": query_without_page(request),
    }
    return render(request, "arrears/collection.html", context)


# -- flags -------------------------------------------------------------------------------------------


class FlagsQuery(BaseModel):
    """The flags list's filters: a status (``all`` for every one) and a community."""

    model_config = ConfigDict(extra="ignore")

    status: str = Field(default=FlagStatus.RAISED.value, pattern="^(raised|approved|withdrawn|all)$")
    community: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)

    @property
    def flag_status(self) -> FlagStatus | None:
        return None if self.status == ALL_STATUSES else FlagStatus(self.status)


@router.get("/flags")
def flags(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The flags of one status (those awaiting a second person's approval first), with the count of
    each status, and the form to run the policy (for those who may)."""
    return _flags_page(request, container, user, data.flag_run_values(), FormErrors())


def _flags_page(
    request: Request,
    container: Container,
    user: WebSession,
    values: dict[str, str],
    errors: FormErrors,
    status: int = 200,
) -> Response:
    query: FlagsQuery = validated(FlagsQuery, request)
    page = page_number(request.query_params.get("page"))
    found = data.flag_list(container, reading(user), query.flag_status, query.community, page)
    context = {
        "query": query,
        "found": found,
        "statuses": [*(flag_status.value for flag_status in FlagStatus), ALL_STATUSES],
        "communities": communities(container),
        "filters": query_without_page(request),
        "values": values,
        "errors": errors,
    }
    block = "results" if is_htmx(request) and status == 200 else None
    return render(request, "arrears/flags.html", context, block_name=block, status_code=status)


@router.post("/flags/run")
def run_flags(request: Request, user: CsrfChecked, container: WebContainer, form: FormFields) -> Response:
    """Run the policy as ``POST /arrears/flags/run`` and show what it decided for each household;
    a policy the API refuses shows the form again with why, and raises no flag."""
    principal = acting(user, Permission.MANAGE_ARREARS)
    try:
        output = data.run_flags(container, principal, form)
    except (ValidationError, LedgerError) as error:
        errors = form_errors(error, request_language(request), data.FLAG_RUN_FIELDS)
        return _flags_page(request, container, user, dict(form), errors, refusal_status(error))
    return render(request, "arrears/run.html", {"summary": data.run_summary(output)})


@router.get("/flags/{flag_id:uuid}")
def flag(flag_id: UUID, request: Request, user: WebUser, container: WebContainer) -> Response:
    """A flag as the ledger holds it, every raise, approval and withdrawal, and what may be done."""
    return _flag_page(request, container, user, flag_id)


def _flag_page(
    request: Request,
    container: Container,
    user: WebSession,
    flag_id: UUID,
    action: str = "",
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    detail = data.flag_detail(container, reading(user), flag_id)
    context = {
        "flag": detail,
        "action": action,
        "values": values or {},
        "errors": errors or FormErrors(),
        "withdrawal_kinds": [kind.value for kind in WithdrawalKind],
        "done": _done(request),
    }
    return render(request, "arrears/flag.html", context, status_code=status)


def _flag_action(
    request: Request,
    container: Container,
    user: WebSession,
    flag_id: UUID,
    action: str,
    form: dict[str, str],
    do: Callable[[], None],
) -> Response:
    """Do one action of the flag's page: on success back to the page (303); refused, the page again
    with the form's values and why, with the refusal's status (403 for the raiser's own approval)."""
    try:
        do()
    except (ValidationError, LedgerError) as error:
        errors = form_errors(error, request_language(request), ("kind", "reason"))
        return _flag_page(request, container, user, flag_id, action, form, errors, refusal_status(error))
    return RedirectResponse(f"{BASE}/flags/{flag_id}?done={action}", status_code=303)


@router.post("/flags/{flag_id:uuid}/approval")
def approve(flag_id: UUID, request: Request, user: CsrfChecked, container: WebContainer, form: FormFields) -> Response:
    """The second person approves the flag (``POST /arrears/flags/{id}/approval``)."""
    principal = acting(user, Permission.MANAGE_ARREARS)

    def do() -> None:
        data.approve_flag(container, principal, flag_id, form)

    return _flag_action(request, container, user, flag_id, "approved", dict(form), do)


@router.post("/flags/{flag_id:uuid}/withdrawal")
def withdraw(flag_id: UUID, request: Request, user: CsrfChecked, container: WebContainer, form: FormFields) -> Response:
    """Take the flag back (paid, a dispute opened, found vulnerable, a mistake), with why."""
    principal = acting(user, Permission.MANAGE_ARREARS)

    def do() -> None:
        data.withdraw_flag(container, principal, flag_id, form)

    return _flag_action(request, container, user, flag_id, "withdrawn", dict(form), do)


# -- households marked vulnerable ------------------------------------------------------------------


class VulnerableQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    community: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)


@router.get("/vulnerable")
def vulnerable(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The households marked vulnerable (no flag is raised for them), and the form to mark one;
    personal, so only for the roles that manage households (a 403 page for the others)."""
    return _vulnerable_page(request, container, user, {}, FormErrors())


def _vulnerable_page(
    request: Request,
    container: Container,
    user: WebSession,
    values: dict[str, str],
    errors: FormErrors,
    status: int = 200,
) -> Response:
    query: VulnerableQuery = validated(VulnerableQuery, request)
    page = page_number(request.query_params.get("page"))
    found = data.vulnerable_list(container, acting(user, Permission.MANAGE_HOUSEHOLDS), query.community, page)
    context = {
        "query": query,
        "found": found,
        "communities": communities(container),
        "filters": query_without_page(request),
        "values": values,
        "errors": errors,
        "done": _done(request),
        "account": request.query_params.get("account", ""),
    }
    return render(request, "arrears/vulnerable.html", context, status_code=status)


@router.post("/vulnerable")
def mark(request: Request, user: CsrfChecked, container: WebContainer, form: FormFields) -> Response:
    """Mark a household vulnerable (``POST /households/{account}/vulnerability``), with why."""
    principal = acting(user, Permission.MANAGE_HOUSEHOLDS)
    try:
        account = data.mark_vulnerable(container, principal, form)
    except (ValidationError, LedgerError) as error:
        errors = form_errors(error, request_language(request), data.PROTECTION_FIELDS)
        return _vulnerable_page(request, container, user, dict(form), errors, refusal_status(error))
    return RedirectResponse(f"{BASE}/vulnerable?done=marked&account={quote(account)}", status_code=303)


@router.post("/vulnerable/{account_number}/clearance")
def clear(
    account_number: AccountPath, request: Request, user: CsrfChecked, container: WebContainer, form: FormFields
) -> Response:
    """The household is no longer protected as vulnerable (``…/vulnerability/clearance``), with why."""
    principal = acting(user, Permission.MANAGE_HOUSEHOLDS)
    try:
        data.clear_vulnerability(container, principal, account_number, form)
    except (ValidationError, LedgerError) as error:
        errors = form_errors(error, request_language(request), ())
        values = {"clear_account": account_number, **form}
        return _vulnerable_page(request, container, user, values, errors, refusal_status(error))
    return RedirectResponse(f"{BASE}/vulnerable?done=cleared&account={quote(account_number)}", status_code=303)
