"""Billing run pages: ``/ui/billing-runs`` (start a run: clerks and administrators, as
``POST /billing/runs``; the latest runs, paged) and ``/ui/billing-runs/{id}`` (a run's progress,
watched live: htmx asks for ``/progress`` every 2 s until the run is done or failed; then its
summary and the households it could not bill, with why)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Path, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api.web import forms
from api.web.pages import billing_data as data
from api.web.pages.billing_common import FormFields, PageNumber, WebContainer, names, refusal_status
from api.web.rendering import render
from api.web.session import CsrfChecked, WebUser, request_language
from domain.errors import InvalidInputError
from infrastructure.container import Container

router = APIRouter(prefix="/ui/billing-runs", include_in_schema=False)

RunIdPath = Annotated[UUID, Path()]


@router.get("")
def run_list(request: Request, user: WebUser, container: WebContainer, page: PageNumber = 1) -> Response:
    """The latest runs, newest first, and (for those who may run billing) the form to start one."""
    return _list_page(request, container, page, data.run_defaults(container), forms.FormErrors())


@router.post("")
def start(
    request: Request, user: CsrfChecked, container: WebContainer, form: FormFields, background: BackgroundTasks
) -> Response:
    """Submit the run and go to its page, where its progress is watched; a refusal (a settlement
    before the season's end, a month not over, a field the schema refuses) shows the form again
    and records no run. On the embedded default the run starts once this answer is sent."""
    language = request_language(request)
    try:
        run = data.submit_run(container, user.principal, form, language, background)
    except (ValidationError, InvalidInputError) as error:
        errors = forms.form_errors(error, language, data.RUN_FIELDS)
        return _list_page(request, container, 1, form, errors, refusal_status(error))
    # FastAPI hands the background tasks to the response returned, so the run starts after it.
    return RedirectResponse(f"/ui/billing-runs/{run.run_id}", status_code=303)


@router.get("/{run_id}")
def run_page(
    request: Request, user: WebUser, container: WebContainer, run_id: RunIdPath, page: PageNumber = 1
) -> Response:
    """A run: its progress (polled while it runs), summary and exceptions (404 page if none)."""
    view = data.run_view(container, run_id, request_language(request), page)
    return render(request, "billing/run.html", {"view": view, **names(request_language(request))})


@router.get("/{run_id}/progress")
def run_progress(request: Request, user: WebUser, container: WebContainer, run_id: RunIdPath) -> Response:
    """The run's body alone (what htmx swaps in every 2 s); once finished it asks for no more."""
    view = data.run_view(container, run_id, request_language(request))
    context = {"view": view, **names(request_language(request))}
    return render(request, "billing/run.html", context, block_name="run_body")


def _list_page(
    request: Request,
    container: Container,
    page: int,
    values: dict[str, str],
    errors: forms.FormErrors,
    status: int = 200,
) -> Response:
    language = request_language(request)
    context = {
        "paged": data.runs_page(container, language, page),
        "kinds": [(kind.value, f"web.billing.kind.{kind.value}") for kind in data.RUN_KINDS],
        "communities": data.communities(container),
        "values": values,
        "errors": errors,
        **names(language),
    }
    return render(request, "billing/runs.html", context, status_code=status)
