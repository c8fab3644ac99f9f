"""The audit pages (审计), ``/ui/audit``: a history browser (a household's, meter's, bill's,
tariff's or payment's events, filtered by type and by when the ledger recorded them, paged, as
CSV), a bill replayed from what was known at its issue and recomputed from what is known now, and
a household's balance as the ledger knew it at a moment beside the balance now.

Whoever reads the ledger may use them; personal data is masked for the roles that may not see it
and an auditor's read of it is logged, exactly as the API does (its route functions answer here).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.responses import Response

from api.routers.history import MAXIMUM_CURSOR_LENGTH, HistoryFormat
from api.schemas.common import KEY_MAX_LENGTH
from api.web.pages import audit_data
from api.web.pages.casework_common import FormRefusal, WebContainer, blank_to_none
from api.web.pages.casework_forms import business_moment
from api.web.rendering import render
from api.web.session import WebUser, request_language
from application.history import HistoryKind, known_event_types
from domain.day_split import business_day
from domain.errors import LedgerError
from infrastructure.container import Container

router = APIRouter(prefix="/ui/audit", include_in_schema=False)

KINDS = [kind.value for kind in audit_data.RecordKind]


@router.get("")
def audit_home(request: Request, user: WebUser) -> Response:
    """The three tools, each a form."""
    return render(request, "audit/index.html", {"kinds": KINDS, "values": {}})


# -- histories ------------------------------------------------------------------------------------


class HistoryQuery(BaseModel):
    """The history browser's form: the record, and the API's own filters."""

    model_config = ConfigDict(extra="ignore")

    kind: audit_data.RecordKind
    key: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    cursor: str | None = Field(default=None, max_length=MAXIMUM_CURSOR_LENGTH)
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None

    @field_validator("recorded_from", "recorded_to", mode="before")
    @classmethod
    def _beijing_time(cls, value: Any) -> Any:
        """A ``datetime-local`` field carries no zone: it is Beijing time."""
        return business_moment(value) if isinstance(value, str) else value


def _history_asked(request: Request) -> tuple[HistoryQuery | None, audit_data.HistoryAsked | None, FormRefusal]:
    """The browser's form read, or why not (shown on the form)."""
    params = blank_to_none(request.query_params)
    try:
        query = HistoryQuery.model_validate(params)
    except ValidationError as error:
        return None, None, FormRefusal.of(error, request_language(request))
    event_types = tuple(name for name in request.query_params.getlist("event_type") if name.strip())
    asked = audit_data.HistoryAsked(
        query.kind, query.key, query.cursor, query.recorded_from, query.recorded_to, event_types
    )
    return query, asked, FormRefusal(status=200)


@router.get("/history")
def history(request: Request, user: WebUser, container: WebContainer) -> Response:
    """A page of a record's history, oldest first, with the next page's link."""
    query, asked, refusal = _history_asked(request)
    page = None
    if asked is not None:
        try:
            page = audit_data.read_history(container, user.principal, asked, request_language(request), request)
        except LedgerError as error:
            refusal = FormRefusal.of(error, request_language(request))
    context = {
        "kinds": KINDS,
        "values": request.query_params,
        "selected_types": request.query_params.getlist("event_type"),
        "event_types": known_event_types(HistoryKind(query.kind.value)) if query is not None else [],
        "page": page,
        "refusal": refusal,
        "filters": _without(request, "cursor"),
    }
    return render(request, "audit/history.html", context, status_code=refusal.status)


def _without(request: Request, name: str) -> str:
    return urlencode([(key, value) for key, value in request.query_params.multi_items() if key != name])


@router.get("/history.csv")
def history_csv(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The same page of the history as CSV (headers in the page's language)."""
    _query, asked, _refusal = _history_asked(request)
    if asked is None:
        return history(request, user, container)
    answer = audit_data.read_history(
        container, user.principal, asked, request_language(request), request, HistoryFormat.CSV
    )
    assert isinstance(answer, Response), "a CSV history is a response of its own"
    return answer


# -- a bill replayed and recomputed ------------------------------------------------------------------


@router.get("/bills")
def bills(
    request: Request, user: WebUser, container: WebContainer, account: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    """A household's bills, to pick the one to replay."""
    found, refusal = [], FormRefusal(status=200)
    if account.strip():
        try:
            found = audit_data.bills_to_audit(container, user.principal, account.strip())
        except LedgerError as error:
            refusal = FormRefusal.of(error, request_language(request))
    context = {"account": account.strip(), "bills": found, "refusal": refusal}
    return render(request, "audit/bills.html", context, status_code=refusal.status)


@router.get("/bills/{bill_id:uuid}")
def bill(bill_id: UUID, request: Request, user: WebUser, container: WebContainer) -> Response:
    """The bill as issued, replayed (does it match to the fen?) and recomputed now, with each
    later command that moved it."""
    audit = audit_data.bill_audit(container, user.principal, bill_id)
    return render(request, "audit/bill.html", {"audit": audit})


# -- a balance as known ------------------------------------------------------------------------------


class KnownQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    account: str = Field(min_length=1, max_length=64)
    known_at: str = Field(min_length=1, max_length=40)
    day: date | None = None


@router.get("/known-at")
def known_at(request: Request, user: WebUser, container: WebContainer) -> Response:
    """A household's balance (over all seasons and at the end of a day) as the ledger knew it at
    a moment, beside the balance now."""
    values = blank_to_none(request.query_params)
    found, refusal = None, FormRefusal(status=200)
    if values:
        try:
            found = _known(container, user, values)
        except (ValidationError, LedgerError) as error:
            refusal = FormRefusal.of(error, request_language(request))
            if "" in refusal.fields:  # the moment, checked as the API's known_at parameter
                refusal.fields["known_at"] = refusal.fields.pop("")
    context = {"values": request.query_params, "found": found, "refusal": refusal}
    return render(request, "audit/known_at.html", context, status_code=refusal.status)


def _known(container: Container, user: Any, values: dict[str, str]) -> audit_data.KnownBalance:
    query = KnownQuery.model_validate(values)
    moment = audit_data.known_at_moment(query.known_at)
    day = query.day or business_day(container.ledger.clock())
    return audit_data.known_balance(container, user.principal, query.account, moment, day)
