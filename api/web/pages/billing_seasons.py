"""Heating season pages: ``/ui/seasons`` (a season's records, the season in force in a community,
the declaration form) and ``/ui/seasons/{scope}/{season}`` (a record's decrees and the extension
form). Declaring and extending are the administrators' (``manage_tariffs``), as in the API."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api.routers.billing import SeasonPath
from api.schemas.common import NAME_MAX_LENGTH
from api.schemas.seasons import SeasonOutput
from api.web import forms
from api.web.pages import billing_data as data
from api.web.pages.billing_common import FormFields, WebContainer, names, refusal_status
from api.web.rendering import render
from api.web.session import CsrfChecked, WebUser, request_language
from domain.errors import ConflictError, InvalidInputError
from infrastructure.container import Container

router = APIRouter(prefix="/ui/seasons", include_in_schema=False)

ScopePath = Annotated[str, Path(max_length=NAME_MAX_LENGTH)]
SAVED_DECLARED = "declared"
SAVED_EXTENDED = "extended"


def season_path(scope: str, code: str) -> str:
    """The page of a scope's record of a season (``*`` escaped)."""
    return f"/ui/seasons/{quote(scope, safe='')}/{code}"


@router.get("")
def season_list(
    request: Request,
    user: WebUser,
    container: WebContainer,
    season: Annotated[str, Query(max_length=16)] = "",
    community: Annotated[str, Query(max_length=NAME_MAX_LENGTH)] = "",
) -> Response:
    """A season's records (the city's, then the communities' own), and, for ``community``, the
    days it heats and where they come from."""
    code = data.season_code_or_current(container, season)
    return _list_page(request, container, code, community.strip(), {"season": code}, forms.FormErrors())


@router.post("")
def declare(request: Request, user: CsrfChecked, container: WebContainer, form: FormFields) -> Response:
    """Declare a scope's season by decree (``POST /seasons``); a refusal shows the form again."""
    language = request_language(request)
    try:
        record = data.declare_season(container, user.principal, form)
    except (ValidationError, InvalidInputError, ConflictError) as error:
        errors = forms.form_errors(error, language, data.SEASON_FIELDS)
        code = _shown_season(container, form.get("season", ""))
        return _list_page(request, container, code, "", form, errors, refusal_status(error))
    return RedirectResponse(f"{season_path(record.scope, record.season)}?saved={SAVED_DECLARED}", status_code=303)


@router.get("/{scope}/{season}")
def season_page(
    request: Request,
    user: WebUser,
    container: WebContainer,
    scope: ScopePath,
    season: SeasonPath,
    saved: Annotated[str, Query(pattern=f"^({SAVED_DECLARED}|{SAVED_EXTENDED})$")] = "",
) -> Response:
    """A scope's record of a season with every decree (404 page when none was declared)."""
    record = data.season_record(container, scope, season)
    values = {"first_day": record.first_day.isoformat(), "last_day": record.last_day.isoformat()}
    return _record_page(request, record, values, forms.FormErrors(), saved=saved)


@router.post("/{scope}/{season}/extension")
def extend(
    request: Request, user: CsrfChecked, container: WebContainer, form: FormFields, scope: ScopePath, season: SeasonPath
) -> Response:
    """Extend the season by decree (never shorten it); a refusal shows the form again."""
    language = request_language(request)
    try:
        record = data.extend_season(container, user.principal, scope, season, form)
    except (ValidationError, InvalidInputError, ConflictError) as error:
        errors = forms.form_errors(error, language, data.EXTENSION_FIELDS)
        current = data.season_record(container, scope, season)
        return _record_page(request, current, form, errors, refusal_status(error))
    return RedirectResponse(f"{season_path(record.scope, record.season)}?saved={SAVED_EXTENDED}", status_code=303)


def _shown_season(container: Container, asked: str) -> str:
    """The season a refused declaration's page lists: the one asked for if it reads as one."""
    try:
        return data.season_code_or_current(container, asked.strip())
    except InvalidInputError:
        return data.season_code_or_current(container, "")


def _list_page(
    request: Request,
    container: Container,
    code: str,
    community: str,
    values: dict[str, str],
    errors: forms.FormErrors,
    status: int = 200,
) -> Response:
    communities = data.communities(container)
    before, after = data.neighbouring_seasons(code)
    context = {
        "season": code,
        "before": before,
        "after": after,
        "records": data.season_records(container, code),
        "communities": communities,
        "in_force_community": community,
        "in_force": data.season_in_force(container, community, code) if community in communities else None,
        "values": values,
        "errors": errors,
        **names(request_language(request)),
    }
    return render(request, "billing/seasons.html", context, status_code=status)


def _record_page(
    request: Request,
    record: SeasonOutput,
    values: dict[str, str],
    errors: forms.FormErrors,
    status: int = 200,
    saved: str = "",
) -> Response:
    context = {"record": record, "values": values, "errors": errors, "saved": saved, **names(request_language(request))}
    return render(request, "billing/season.html", context, status_code=status)
