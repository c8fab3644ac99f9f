"""Tariff pages: ``/ui/tariffs`` (every tariff with its latest version, searched, paged),
``/ui/tariffs/{class}/{scope}`` (its versions and history) and ``/ui/tariffs/new`` (publish a
version from the price bureau's document: administrators only, as ``POST /tariffs``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api.schemas.common import NAME_MAX_LENGTH
from api.web import forms
from api.web.pages import billing_data as data
from api.web.pages.billing_common import FormFields, PageNumber, WebContainer, names, refusal_status
from api.web.rendering import render
from api.web.session import CsrfChecked, WebUser, is_htmx, request_language
from application.authorization import Permission
from domain.errors import ConflictError, InvalidInputError
from domain.settlement import ALLOWED_QUANTA_YUAN, PositionCorrection, RoundingMode, SettlementPolicy
from domain.tariff import BilledArea, BrokenMeterMethod
from domain.values import CustomerClass

router = APIRouter(prefix="/ui/tariffs", include_in_schema=False)

ScopePath = Annotated[str, Path(max_length=NAME_MAX_LENGTH)]
# The rounding quanta a tariff may name (domain.settlement.Rounding), by their names: 分, 角, 元.
QUANTUM_NAMES = {"0.01": "web.billing.quantum.fen", "0.1": "web.billing.quantum.jiao", "1": "web.billing.quantum.yuan"}


def tariff_path(customer_class: str, scope: str) -> str:
    """The page of a tariff (``*`` and a community's name escaped)."""
    return f"/ui/tariffs/{quote(customer_class, safe='')}/{quote(scope, safe='')}"


@router.get("")
def tariff_list(
    request: Request,
    user: WebUser,
    container: WebContainer,
    page: PageNumber = 1,
    q: Annotated[str, Query(max_length=NAME_MAX_LENGTH)] = "",
) -> Response:
    """Every tariff by class and scope with its latest version; search-as-you-type by community
    or document number (htmx swaps the table only)."""
    context = {
        "paged": data.page_of(data.tariff_summaries(container, q), page),
        "search": q.strip(),
        **names(request_language(request)),
    }
    block = "tariff_table" if is_htmx(request) else None
    return render(request, "billing/tariffs.html", context, block_name=block)


@router.get("/new")
def publication_form(
    request: Request,
    user: WebUser,
    container: WebContainer,
    customer_class: Annotated[str, Query(max_length=32)] = "",
    scope: Annotated[str, Query(max_length=NAME_MAX_LENGTH)] = "",
) -> Response:
    """The form to publish a version, prefilled from the tariff's latest (administrators: others
    get the 403 page, as the API refuses them)."""
    user.principal.require(Permission.MANAGE_TARIFFS)
    values = data.publication_defaults(container, customer_class, scope)
    return _form_page(request, container, values, forms.FormErrors())


@router.post("/new")
def publish(request: Request, user: CsrfChecked, container: WebContainer, form: FormFields) -> Response:
    """Publish the version (``POST /tariffs``) and show the tariff; a refusal shows the form again
    with why, beside the field it concerns, and publishes nothing."""
    language = request_language(request)
    try:
        version = data.publish_tariff(container, user.principal, form)
    except (ValidationError, InvalidInputError, ConflictError) as error:
        errors = forms.form_errors(error, language, data.TARIFF_FIELDS)
        return _form_page(request, container, form, errors, refusal_status(error))
    target = f"{tariff_path(version.customer_class, version.scope)}?published={version.version}"
    return RedirectResponse(target, status_code=303)


@router.get("/{customer_class}/{scope}")
def tariff_page(
    request: Request,
    user: WebUser,
    container: WebContainer,
    customer_class: CustomerClass,
    scope: ScopePath,
    published: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Response:
    """A tariff's versions, newest first, with every term, and its history (404 page if none)."""
    language = request_language(request)
    context = {
        "customer_class": customer_class.value,
        "scope": scope,
        "versions": data.tariff_versions(container, customer_class, scope),
        "history": data.tariff_history(container, user.principal, customer_class, scope, language),
        "published": published,
        **names(language),
    }
    return render(request, "billing/tariff.html", context)


def _form_page(
    request: Request, container: Any, values: dict[str, str], errors: forms.FormErrors, status: int = 200
) -> Response:
    context = {
        "values": values,
        "errors": errors,
        "choices": form_choices(),
        "communities": data.communities(container),
        **names(request_language(request)),
    }
    return render(request, "billing/tariff_form.html", context, status_code=status)


def form_choices() -> dict[str, list[tuple[str, str]]]:
    """The publication form's choices: (value, message key of its name)."""
    return {
        "customer_class": _named(CustomerClass, "web.billing.class."),
        "policy": _named(SettlementPolicy, "web.billing.policy."),
        "position_correction": _named(PositionCorrection, "web.billing.position_correction."),
        "rounding_mode": _named(RoundingMode, "web.billing.rounding."),
        "rounding_quantum_yuan": [(str(quantum), QUANTUM_NAMES[str(quantum)]) for quantum in ALLOWED_QUANTA_YUAN],
        "billed_area": _named(BilledArea, "web.billing.billed_area."),
        "broken_meter_method": _named(BrokenMeterMethod, "web.billing.broken_meter_method."),
    }


def _named(members: Any, prefix: str) -> list[tuple[str, str]]:
    return [(member.value, prefix + member.value) for member in members]
