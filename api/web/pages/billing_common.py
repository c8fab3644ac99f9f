"""What the billing pages (tariffs, seasons, billing runs) share: the container, a posted form's
fields, the page asked for, a refused form's status, and the names a page shows for the codes the
ledger stores (a scope ``*`` is the city, ``top/west_end`` a position, ``area_no_meter`` a basis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import ValidationError

from api import i18n
from api.i18n import Language
from api.problems import status_of
from api.web.rendering import translate
from domain.errors import LedgerError
from domain.tariff import CITY_SCOPE
from infrastructure.container import Container

# A page number beyond this is not a person paging.
MAXIMUM_PAGE = 100_000


def get_container(request: Request) -> Container:
    """The container the app was built with."""
    container: Container = request.app.state.container
    return container


WebContainer = Annotated[Container, Depends(get_container)]
PageNumber = Annotated[int, Query(ge=1, le=MAXIMUM_PAGE, description="The page of a table, from 1")]


async def posted_fields(request: Request) -> dict[str, str]:
    """A posted form's text fields (the CSRF check has read the form already: Starlette keeps it)."""
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str) and name != "csrf_token"}


FormFields = Annotated[dict[str, str], Depends(posted_fields)]


def refusal_status(error: ValidationError | LedgerError) -> int:
    """The status a refused form is shown with: 422 for what the schema refuses, else the
    ledger's (422 a rule, 409 a conflict), as the API answers."""
    return 422 if isinstance(error, ValidationError) else status_of(error)


def code_name(prefix: str, language: Language) -> Callable[[str], str]:
    """The name of a code under ``prefix`` (``web.billing.basis.``) in ``language``; a code the
    catalogue does not name yet shows as itself rather than as a message key."""

    def name(code: str) -> str:
        key = prefix + code
        return translate(key, language) if i18n.has_message(key) else code

    return name


# The message key of each price field a tariff correction may name (its label on the forms).
FIELD_KEYS = {
    "area_price_yuan_per_m2": "web.billing.publish.area_price",
    "base_share_percent": "web.billing.publish.base_share",
    "energy_price_yuan_per_gj": "web.billing.publish.energy_price",
    "policy": "web.billing.tariff.policy",
    "cap_percent": "web.billing.publish.cap_percent",
    "suspension_share_percent": "web.billing.publish.suspension_share",
    "position_correction": "web.billing.tariff.position_correction",
    "minimum_charge_yuan": "web.billing.publish.minimum_charge",
    "rounding_mode": "web.billing.publish.rounding_mode",
    "rounding_quantum_yuan": "web.billing.publish.rounding_quantum",
}


def names(language: Language) -> dict[str, Any]:
    """The naming helpers every billing template gets."""

    def scope_name(scope: str) -> str:
        return translate("web.billing.scope.city", language) if scope == CITY_SCOPE else scope

    def position_name(position: str) -> str:
        vertical, _, horizontal = position.partition("/")
        vertical_name = code_name("web.billing.vertical.", language)(vertical)
        return f"{vertical_name} / {code_name('web.billing.horizontal.', language)(horizontal)}"

    def field_name(name: str) -> str:
        return translate(FIELD_KEYS[name], language) if name in FIELD_KEYS else name

    return {
        "field_name": field_name,
        "scope_name": scope_name,
        "position_name": position_name,
        "basis_name": code_name("web.billing.basis.", language),
    }
