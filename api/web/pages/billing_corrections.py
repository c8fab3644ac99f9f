"""Tariff correction pages: ``/ui/tariff-corrections`` (the list, by state), ``/new`` (propose a
correction of a published version: administrators), ``/{id}`` (what it corrects, its preview's
figures, its jobs polled while they run, its notes; preview, approve, refuse and run, each as
``/tariff-corrections/{id}/…`` does)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api.schemas.common import NAME_MAX_LENGTH
from api.web import forms
from api.web.pages import billing_corrections_data as corrections
from api.web.pages.billing_common import FormFields, PageNumber, WebContainer, names, refusal_status
from api.web.pages.billing_tariffs import form_choices
from api.web.rendering import render
from api.web.session import CsrfChecked, WebSession, WebUser, request_language
from application.authorization import Permission
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.tariff_correction import CorrectionState
from infrastructure.container import Container

router = APIRouter(prefix="/ui/tariff-corrections", include_in_schema=False)

CorrectionIdPath = Annotated[UUID, Path()]
Refusal = (ValidationError, InvalidInputError, ConflictError)


def correction_path(correction_id: UUID) -> str:
    return f"/ui/tariff-corrections/{correction_id}"


@router.get("")
def correction_list(
    request: Request,
    user: WebUser,
    container: WebContainer,
    page: PageNumber = 1,
    state: CorrectionState | None = None,
) -> Response:
    """The corrections, the latest proposed first, by state."""
    context = {
        "paged": corrections.corrections_page(container, state, page),
        "state": state.value if state else "",
        "states": [member.value for member in CorrectionState],
        **names(request_language(request)),
    }
    return render(request, "billing/corrections.html", context)


@router.get("/new")
def proposal_form(
    request: Request,
    user: WebUser,
    container: WebContainer,
    customer_class: Annotated[str, Query(max_length=32)] = "",
    scope: Annotated[str, Query(max_length=NAME_MAX_LENGTH)] = "",
) -> Response:
    """The form to propose a correction (administrators; others get the 403 page)."""
    user.principal.require(Permission.MANAGE_TARIFFS)
    values = corrections.proposal_defaults(container, customer_class, scope)
    return _form_page(request, values, forms.FormErrors())


@router.post("/new")
def propose(request: Request, user: CsrfChecked, container: WebContainer, form: FormFields) -> Response:
    """Propose it and show it; a refusal shows the form again with why."""
    try:
        proposed = corrections.propose(container, user.principal, form)
    except (*Refusal, NotFoundError) as error:  # a version that does not exist is the form's error
        errors = forms.form_errors(error, request_language(request), corrections.CORRECTION_FIELDS)
        return _form_page(request, form, errors, refusal_status(error))
    return RedirectResponse(correction_path(proposed.correction_id), status_code=303)


@router.get("/{correction_id:uuid}")
def correction_page(
    request: Request, user: WebUser, container: WebContainer, correction_id: CorrectionIdPath, page: PageNumber = 1
) -> Response:
    """A correction with its jobs (polled while one runs) and a page of its notes."""
    return _page(request, user, container, correction_id, page)


@router.get("/{correction_id:uuid}/progress")
def correction_progress(
    request: Request, user: WebUser, container: WebContainer, correction_id: CorrectionIdPath
) -> Response:
    """The correction's body alone, for htmx to swap in every 2 s while a job runs."""
    return _page(request, user, container, correction_id, 1, block="correction_body")


@router.post("/{correction_id:uuid}/preview")
def preview(
    request: Request,
    user: CsrfChecked,
    container: WebContainer,
    form: FormFields,
    correction_id: CorrectionIdPath,
    background: BackgroundTasks,
) -> Response:
    """Start a preview (a job) and watch it on the correction's page."""
    language = request_language(request)
    try:
        corrections.start_preview(container, user.principal, correction_id, form, language, background)
    except Refusal as error:
        return _refused(request, user, container, correction_id, error)
    return RedirectResponse(correction_path(correction_id), status_code=303)


@router.post("/{correction_id:uuid}/approval")
def approve(
    request: Request, user: CsrfChecked, container: WebContainer, form: FormFields, correction_id: CorrectionIdPath
) -> Response:
    """Approve the latest preview (a second administrator: the proposer gets the 403 page)."""
    try:
        corrections.approve(container, user.principal, correction_id, form)
    except Refusal as error:
        return _refused(request, user, container, correction_id, error)
    return RedirectResponse(correction_path(correction_id), status_code=303)


@router.post("/{correction_id:uuid}/refusal")
def refuse(
    request: Request, user: CsrfChecked, container: WebContainer, form: FormFields, correction_id: CorrectionIdPath
) -> Response:
    """Refuse the correction, with why (before its run starts)."""
    try:
        corrections.refuse(container, user.principal, correction_id, form)
    except Refusal as error:
        return _refused(request, user, container, correction_id, error)
    return RedirectResponse(correction_path(correction_id), status_code=303)


@router.post("/{correction_id:uuid}/run")
def run(
    request: Request,
    user: CsrfChecked,
    container: WebContainer,
    form: FormFields,
    correction_id: CorrectionIdPath,
    background: BackgroundTasks,
) -> Response:
    """Book the approved notes (a job) and watch it on the correction's page."""
    language = request_language(request)
    try:
        corrections.start_run(container, user.principal, correction_id, form, language, background)
    except Refusal as error:
        return _refused(request, user, container, correction_id, error)
    return RedirectResponse(correction_path(correction_id), status_code=303)


def _refused(
    request: Request,
    user: WebSession,
    container: Container,
    correction_id: UUID,
    error: ValidationError | InvalidInputError | ConflictError,
) -> Response:
    errors = forms.form_errors(error, request_language(request), corrections.DECISION_FIELDS)
    return _page(request, user, container, correction_id, 1, errors=errors, status=refusal_status(error))


def _page(
    request: Request,
    user: WebSession,
    container: Container,
    correction_id: UUID,
    page: int,
    block: str | None = None,
    errors: forms.FormErrors | None = None,
    status: int = 200,
) -> Response:
    language = request_language(request)
    view = corrections.correction_view(container, correction_id, language, page)
    context = {
        "view": view,
        "offers": view.offers(user.principal),
        "errors": errors or forms.FormErrors(),
        "values": {},
        **names(language),
    }
    return render(request, "billing/correction.html", context, block_name=block, status_code=status)


def _form_page(request: Request, values: dict[str, str], errors: forms.FormErrors, status: int = 200) -> Response:
    context = {"values": values, "errors": errors, "choices": form_choices(), **names(request_language(request))}
    return render(request, "billing/correction_form.html", context, status_code=status)
