"""Histories: every event of a household, meter, bill, tariff or payment, in order.

Each event comes with its type, when it happened in the world, when the ledger recorded it, who
did it, why, the request or batch it belongs to, and a summary in the caller's language. Pages
follow a cursor; `recorded_from`, `recorded_to` and `event_type` narrow them; `format=csv` (or
`Accept: text/csv`) gives the same rows as CSV. Personal data is masked for roles that may not see
it, and an auditor's read of a household's personal data is written to the access log first.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path, Query, Request, Response
from pydantic import StringConstraints
from sqlalchemy import select

from api.as_known import BillIdPath
from api.auth import Reader
from api.dependencies import ContainerDependency, PreferredLanguage
from api.history_text import CSV_MEDIA_TYPE, csv_row, history_csv, summarize
from api.messages import Language
from api.problems import RequestRuleError, problem_responses
from api.routers import resource_router
from api.routers.bills import require_bill
from api.routers.households import AccountNumberPath
from api.routers.meters import SerialPath
from api.routers.monitoring import say_language
from api.routers.tariffs import BillingReads, ScopePath
from api.routers.valves import DevicePath
from api.schemas.history import HistoryEvent, QueryMoment
from api.schemas.history import HistoryPage as HistoryPageOutput
from application.history import (
    DEFAULT_PAGE_SIZE,
    MAXIMUM_PAGE_SIZE,
    Histories,
    HistoryKind,
    HistoryPage,
    HistoryQuery,
    known_event_types,
    unknown_event_types,
)
from domain.values import CustomerClass
from infrastructure.access_log import SqlAccessLog
from infrastructure.container import Container
from projections.tables import households

router = resource_router("", "history")

MAXIMUM_CURSOR_LENGTH = 200
MAXIMUM_EVENT_TYPES = 20
MAXIMUM_EVENT_TYPE_LENGTH = 64
_CURSOR_PREFIX = "v"


class HistoryFormat(StrEnum):
    """How a history page is written."""

    JSON = "json"
    CSV = "csv"


def get_histories(container: ContainerDependency) -> Histories:
    """The histories, read from the ledger's event store, with the access log beside them."""
    return Histories(container.ledger, SqlAccessLog(container.engine), container.ledger.clock)


HistoryReads = Annotated[Histories, Depends(get_histories)]


def encode_cursor(version: int) -> str:
    """An opaque cursor that continues after the event of ``version``."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{version}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The version a cursor continues after; a 422 problem if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        text = ""
    digits = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not digits.isdigit() or not digits.isascii() or len(digits) > 18:
        raise RequestRuleError("cursor_invalid", "the page cursor is not valid", field="cursor")
    return int(digits)


class HistoryRequest:
    """The query parameters every history takes."""

    def __init__(
        self,
        cursor: Annotated[
            str | None,
            Query(max_length=MAXIMUM_CURSOR_LENGTH, description="`next_cursor` of the previous page"),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAXIMUM_PAGE_SIZE, description=f"Events per page, at most {MAXIMUM_PAGE_SIZE}")
        ] = DEFAULT_PAGE_SIZE,
        recorded_from: Annotated[
            QueryMoment | None,
            Query(description="Only events the ledger recorded at or after this moment (with its zone)"),
        ] = None,
        recorded_to: Annotated[
            QueryMoment | None,
            Query(description="Only events the ledger recorded before this moment (with its zone)"),
        ] = None,
        event_type: Annotated[
            list[Annotated[str, StringConstraints(max_length=MAXIMUM_EVENT_TYPE_LENGTH)]] | None,
            Query(
                max_length=MAXIMUM_EVENT_TYPES,
                description="Only events of these types (repeat the parameter for several), e.g. `ReadingVoided`",
            ),
        ] = None,
        format: Annotated[
            HistoryFormat | None,
            Query(description="`json` (the default) or `csv`; without it, `Accept: text/csv` asks for CSV"),
        ] = None,
    ) -> None:
        self.cursor = cursor
        self.limit = limit
        self.recorded_from = recorded_from
        self.recorded_to = recorded_to
        self.event_types = frozenset(event_type or ())
        self.format = format

    def query(self, kind: HistoryKind) -> HistoryQuery:
        """The page asked for; a 422 problem for an unreadable cursor, an unknown event type or a
        reversed time range."""
        unknown = unknown_event_types(kind, self.event_types)
        if unknown:
            raise RequestRuleError(
                "event_type_unknown",
                f"no event type {', '.join(unknown)} in a {kind.value}'s history",
                field="event_type",
                value=", ".join(unknown),
                known=", ".join(known_event_types(kind)),
            )
        if self.recorded_from is not None and self.recorded_to is not None and self.recorded_from > self.recorded_to:
            raise RequestRuleError(
                "recorded_range_reversed",
                "recorded_from lies after recorded_to",
                field="recorded_from",
                recorded_from=self.recorded_from.isoformat(),
                recorded_to=self.recorded_to.isoformat(),
            )
        return HistoryQuery(
            after_version=decode_cursor(self.cursor) if self.cursor is not None else 0,
            limit=self.limit,
            recorded_from=self.recorded_from,
            recorded_to=self.recorded_to,
            event_types=self.event_types,
        )


Asked = Annotated[HistoryRequest, Depends()]

# Documented answers: the page as JSON or as CSV, and the problems every history may give.
HISTORY_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(401, 403, 404, 422),
    200: {
        "description": "A page of the history, as JSON or (with `format=csv` or `Accept: text/csv`) as CSV "
        'with headers in the caller\'s language; `Link: <…>; rel="next"` names the next page',
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
}


@router.get(
    "/households/{account_number}/history",
    operation_id="get_household_history",
    response_model=HistoryPageOutput,
    tags=["households"],
    responses=HISTORY_RESPONSES,
)
def get_household_history(
    account_number: AccountNumberPath,
    asked: Asked,
    reader: Reader,
    histories: HistoryReads,
    container: ContainerDependency,
    language: PreferredLanguage,
    request: Request,
    response: Response,
) -> Any:
    """Every event of a household, oldest first: registration, area corrections, suspensions and
    resumptions, owner changes, meters attached and detached, vulnerability, disputes, deregistration.

    The flat (entrance, floor, flat) and the reasons are personal data: masked (`***`) for roles
    other than admin, clerk, customer service and auditor. An auditor's read of them is logged."""
    query = asked.query(HistoryKind.HOUSEHOLD)
    page = histories.household(reader, account_number, query, request.url.path)
    return _answer(HistoryKind.HOUSEHOLD, account_number, page, asked, container, language, request, response)


@router.get(
    "/meters/{serial}/history",
    operation_id="get_meter_history",
    response_model=HistoryPageOutput,
    tags=["meters"],
    responses=HISTORY_RESPONSES,
)
def get_meter_history(
    serial: SerialPath,
    asked: Asked,
    reader: Reader,
    histories: HistoryReads,
    container: ContainerDependency,
    language: PreferredLanguage,
    request: Request,
    response: Response,
) -> Any:
    """Every event of a meter, oldest first: commissioning, attachments, each reading, faults,
    voids and estimates, verifications, heat decisions, decommissioning. A meter records thousands
    of readings a season: page with the cursor, or narrow with `event_type` and the times."""
    page = histories.meter(reader, serial, asked.query(HistoryKind.METER))
    return _answer(HistoryKind.METER, serial, page, asked, container, language, request, response)


@router.get(
    "/bills/{bill_id}/history",
    operation_id="get_bill_history",
    response_model=HistoryPageOutput,
    tags=["bills"],
    responses=HISTORY_RESPONSES,
)
def get_bill_history(
    bill_id: BillIdPath,
    asked: Asked,
    reader: Reader,
    histories: HistoryReads,
    billing: BillingReads,
    container: ContainerDependency,
    language: PreferredLanguage,
    request: Request,
    response: Response,
) -> Any:
    """The events of a bill's billing period that concern it: the period's opening (tariff version,
    billed area, position coefficient), changes of the season's days recorded before the bill,
    and the bill's issue with its lines."""
    query = asked.query(HistoryKind.BILL)
    record = require_bill(billing, bill_id)
    page = histories.bill(reader, record.period_id, bill_id, query)
    return _answer(HistoryKind.BILL, str(bill_id), page, asked, container, language, request, response)


@router.get(
    "/tariffs/{customer_class}/{scope}/history",
    operation_id="get_tariff_history",
    response_model=HistoryPageOutput,
    tags=["tariffs"],
    responses=HISTORY_RESPONSES,
)
def get_tariff_history(
    customer_class: CustomerClass,
    scope: ScopePath,
    asked: Asked,
    reader: Reader,
    histories: HistoryReads,
    container: ContainerDependency,
    language: PreferredLanguage,
    request: Request,
    response: Response,
) -> Any:
    """Every event of a tariff (a customer class in a community, or `*` for the city): its opening
    and each version published, with the price bureau's document."""
    page = histories.tariff(reader, customer_class.value, scope, asked.query(HistoryKind.TARIFF))
    key = f"{customer_class.value}/{scope}"
    return _answer(HistoryKind.TARIFF, key, page, asked, container, language, request, response)


@router.get(
    "/payments/{payment_id}/history",
    operation_id="get_payment_history",
    response_model=HistoryPageOutput,
    tags=["payments"],
    responses=HISTORY_RESPONSES,
)
def get_payment_history(
    payment_id: Annotated[UUID, Path(description="The payment's id (`payment_id` of its receipt)")],
    asked: Asked,
    reader: Reader,
    histories: HistoryReads,
    container: ContainerDependency,
    language: PreferredLanguage,
    request: Request,
    response: Response,
) -> Any:
    """A payment's events: its receipt and its reversal, if any. The receipt's reference and the
    reasons are personal data (masked for regulators); an auditor's read of them is logged."""
    query = asked.query(HistoryKind.PAYMENT)
    page = histories.payment(reader, payment_id, query, request.url.path)
    return _answer(HistoryKind.PAYMENT, str(payment_id), page, asked, container, language, request, response)


@router.get(
    "/valves/{device_id}/history",
    operation_id="get_room_controller_history",
    response_model=HistoryPageOutput,
    tags=["valves"],
    responses=HISTORY_RESPONSES,
)
def get_room_controller_history(
    device_id: DevicePath,
    asked: Asked,
    reader: Reader,
    histories: HistoryReads,
    container: ContainerDependency,
    language: PreferredLanguage,
    request: Request,
    response: Response,
) -> Any:
    """Every event of a room controller, oldest first: its installation, each command's steps
    (requested with why and under which policy, approved, superseded, sent, acknowledged, refused
    or timed out, confirmed by a report) and each report. Page with the cursor, or narrow with
    `event_type` (e.g. only `CommandRequested`) and the times."""
    page = histories.valve(reader, device_id, asked.query(HistoryKind.VALVE))
    return _answer(HistoryKind.VALVE, device_id, page, asked, container, language, request, response)


# -- the answer -------------------------------------------------------------------------------


def _answer(
    kind: HistoryKind,
    key: str,
    page: HistoryPage,
    asked: HistoryRequest,
    container: Container,
    language: Language,
    request: Request,
    response: Response,
) -> HistoryPageOutput | Response:
    accounts = _account_numbers(container, _household_ids(page))
    summaries = [summarize(entry, language, accounts) for entry in page.entries]
    next_cursor = encode_cursor(page.next_after_version) if page.next_after_version is not None else None
    if _wants_csv(asked.format, request.headers.get("accept", "")):
        rows = [csv_row(entry, summary) for entry, summary in zip(page.entries, summaries, strict=True)]
        answer = Response(history_csv(rows, language), media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8")
        answer.headers["Content-Disposition"] = f'attachment; filename="{kind.value}-history.csv"'
    else:
        answer = response
    say_language(answer, language)
    if next_cursor is not None:
        answer.headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
    if answer is not response:
        return answer
    return HistoryPageOutput(
        kind=kind.value,
        key=key,
        language=language.value,
        limit=asked.limit,
        next_cursor=next_cursor,
        items=[HistoryEvent.from_entry(entry, summary) for entry, summary in zip(page.entries, summaries, strict=True)],
    )


def _wants_csv(format: HistoryFormat | None, accept: str) -> bool:
    """CSV when asked by `format`, or, without it, when `Accept` ranks text/csv above JSON."""
    if format is not None:
        return format is HistoryFormat.CSV
    return _quality(accept, CSV_MEDIA_TYPE) > _quality(accept, "application/json")


def _quality(accept: str, media_type: str) -> float:
    """How much ``accept`` wants ``media_type``: the quality of its most specific matching range."""
    kind = media_type.split("/")[0]
    best_specificity, quality = -1, 0.0
    for media_range in accept.split(",")[:20]:
        name, *parameters = (part.strip().lower() for part in media_range.split(";"))
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(name, -1)
        if specificity > best_specificity:
            best_specificity, quality = specificity, _q(parameters)
    return quality


def _q(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def _household_ids(page: HistoryPage) -> set[UUID]:
    found = (entry.details.get("household_id") for entry in page.entries)
    return {household_id for household_id in found if isinstance(household_id, UUID)}


def _account_numbers(container: Container, household_ids: Iterable[UUID]) -> dict[UUID, str]:
    """The account numbers of households named by id in a page (a meter's attachments)."""
    wanted = sorted(household_ids)
    if not wanted:
        return {}
    statement = select(households.c.household_id, households.c.account_number).where(
        households.c.household_id.in_(wanted)
    )
    with container.engine.connect() as connection:
        return {row.household_id: row.account_number for row in connection.execute(statement)}
