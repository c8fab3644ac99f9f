"""What the casework pages (disputes, scenarios, audit) share: the container, a posted form's
fields, the page number of a paged table, a query's blank fields, the refusal of a form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.messages import Language, describe_error
from api.problems import status_of
from api.web.pages.casework_forms import field_errors
from domain.errors import LedgerError
from infrastructure.container import Container

# A page number beyond this is not a person paging (50 rows a page: five million rows).
MAXIMUM_PAGE = 100_000


def get_container(request: Request) -> Container:
    """The container the app was built with."""
    container: Container = request.app.state.container
    return container


WebContainer = Annotated[Container, Depends(get_container)]


async def posted_fields(request: Request) -> dict[str, str]:
    """A posted form's text fields (the CSRF check has read it already: Starlette keeps it)."""
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}


FormFields = Annotated[dict[str, str], Depends(posted_fields)]


def page_number(text: str | None) -> int:
    """The ``?page=`` asked for, from 1; anything else is the first page."""
    try:
        number = int(text or "1")
    except ValueError:
        return 1
    return min(max(number, 1), MAXIMUM_PAGE)


def query_without_page(request: Request) -> str:
    """The request's query without its page number (URL-encoded), for a pager's links."""
    return urlencode([(name, value) for name, value in request.query_params.multi_items() if name != "page"])


def blank_to_none(values: Mapping[str, str]) -> dict[str, str]:
    """A query's fields without the blank ones (a form sends every field, a filter left empty too)."""
    return {name: value.strip() for name, value in values.items() if value.strip()}


def invalid_query(error: ValidationError) -> RequestValidationError:
    """A query the page's filters refuse, as the 422 error page shows it."""
    return RequestValidationError(error.errors())


@dataclass
class FormRefusal:
    """Why a posted form was not taken: a message for the form, one per field, and the status."""

    message: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    status: int = 422

    @classmethod
    def of(cls, error: Exception, language: Language) -> FormRefusal:
        """A schema's ValidationError (per field) or a ledger error (the service's refusal)."""
        if isinstance(error, ValidationError):
            return cls("", field_errors(error, language), 422)
        assert isinstance(error, LedgerError), f"only refusals are shown on a form: {error!r}"
        return cls(describe_error(error, language), {}, status_of(error))
