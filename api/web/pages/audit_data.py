"""What the audit pages show (/ui/audit): a record's history with filters and its CSV, a bill
replayed and recomputed, and a household's balance as the ledger knew it at a moment.

Each is the API's answer, made by the API's own route function with the page's principal:
``GET /households/{a}/history`` (and the meter's, bill's, tariff's, payment's), ``GET
/bills/{id}/replay`` and ``/recompute``, ``GET /households/{a}/balance`` and ``/balance/{day}``
with and without ``known_at``. So a page shows exactly what the API answers the same reader: the
same masking of personal data, the same access log of an auditor's read, the same problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from fastapi import Request, Response
from pydantic import TypeAdapter

from api.as_known import KnownAt
from api.messages import Language
from api.routers import bill_replays, history, payment_reports
from api.routers.bills import get_household_balance
from api.routers.history import HistoryFormat, HistoryRequest
from api.routers.households import require_household
from api.schemas.bill_replays import BillRecomputeOutput, BillReplayOutput
from api.schemas.billing import BalanceOutput
from api.schemas.history import HistoryPage
from api.schemas.payments import BalanceAsOfOutput
from api.web.pages.casework_forms import business_moment
from application.authorization import Permission, Principal
from domain.errors import NotFoundError
from domain.values import CustomerClass
from infrastructure.as_known import KnownReads
from infrastructure.bill_replay import BillReplays
from infrastructure.container import Container
from projections.billing_queries import BillingQueries, BillRecord

PAGE_SIZE = 50
# A household's bills listed to pick one to replay: a few a season, so a page holds years.
MAXIMUM_BILLS_LISTED = 100
_KNOWN_AT = TypeAdapter(KnownAt)


class RecordKind(StrEnum):
    """The records whose history the browser reads, as the API names them."""

    HOUSEHOLD = "household"
    METER = "meter"
    BILL = "bill"
    TARIFF = "tariff"
    PAYMENT = "payment"


@dataclass(frozen=True)
class HistoryAsked:
    """The history browser's form: which record, and the API's own filters."""

    kind: RecordKind
    key: str
    cursor: str | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    event_types: tuple[str, ...] = ()

    def request(self, file_format: HistoryFormat | None) -> HistoryRequest:
        """The API's query parameters (checked by it: the cursor, the event types, the range)."""
        return HistoryRequest(
            cursor=self.cursor,
            limit=PAGE_SIZE,
            recorded_from=self.recorded_from,
            recorded_to=self.recorded_to,
            event_type=list(self.event_types) or None,
            format=file_format,
        )


def read_history(
    container: Container,
    principal: Principal,
    asked: HistoryAsked,
    language: Language,
    request: Request,
    file_format: HistoryFormat | None = None,
) -> HistoryPage | Response:
    """A page of the record's history (or, with ``HistoryFormat.CSV``, the CSV response): the
    API's route function called with the page's reader. NotFoundError for an unknown record,
    RequestRuleError (422) for a filter or key the API refuses."""
    principal.require(Permission.READ_LEDGER)
    histories = history.get_histories(container)
    common: dict[str, Any] = {
        "asked": asked.request(file_format),
        "reader": principal,
        "histories": histories,
        "container": container,
        "language": language,
        "request": request,
        "response": Response(),
    }
    answer: HistoryPage | Response = _HISTORY_ROUTES[asked.kind](container, asked.key, common)
    return answer


def _household(container: Container, key: str, common: dict[str, Any]) -> Any:
    return history.get_household_history(key, **common)


def _meter(container: Container, key: str, common: dict[str, Any]) -> Any:
    return history.get_meter_history(key, **common)


def _bill(container: Container, key: str, common: dict[str, Any]) -> Any:
    billing = BillingQueries(container.engine)
    return history.get_bill_history(record_id(key, "bill"), billing=billing, **common)


def _tariff(container: Container, key: str, common: dict[str, Any]) -> Any:
    customer_class, scope = tariff_key(key)
    return history.get_tariff_history(customer_class, scope, **common)


def _payment(container: Container, key: str, common: dict[str, Any]) -> Any:
    return history.get_payment_history(record_id(key, "payment"), **common)


_HISTORY_ROUTES: dict[RecordKind, Callable[[Container, str, dict[str, Any]], Any]] = {
    RecordKind.HOUSEHOLD: _household,
    RecordKind.METER: _meter,
    RecordKind.BILL: _bill,
    RecordKind.TARIFF: _tariff,
    RecordKind.PAYMENT: _payment,
}


def record_id(text: str, kind: str) -> UUID:
    """A bill's or payment's id as typed; text that is no id names no record (NotFoundError)."""
    try:
        return UUID(text.strip())
    except ValueError:
        raise NotFoundError(f"no {kind} {text}", kind=kind, key=text) from None


def tariff_key(text: str) -> tuple[CustomerClass, str]:
    """``residential/*`` or ``non_residential/碧桂园``: a tariff's class and scope (``*`` the city);
    text naming no customer class names no tariff (NotFoundError)."""
    name, _, scope = text.strip().partition("/")
    try:
        customer_class = CustomerClass(name.strip())
    except ValueError:
        raise NotFoundError(f"no tariff {text}", kind="tariff", key=text) from None
    return customer_class, scope.strip() or "*"


# -- a bill replayed and recomputed ----------------------------------------------------------------


@dataclass(frozen=True)
class BillAudit:
    """A bill as issued, replayed from what was known at its issue, and recomputed from what is
    known now (with each later command that moved it)."""

    bill: BillRecord
    replay: BillReplayOutput
    recompute: BillRecomputeOutput


def bill_audit(container: Container, principal: Principal, bill_id: UUID) -> BillAudit:
    """``GET /bills/{id}/replay`` and ``/recompute`` for the reader; NotFoundError for no bill."""
    principal.require(Permission.READ_LEDGER)
    billing = BillingQueries(container.engine)
    bill = billing.bill(bill_id)
    replays = BillReplays(container.ledger, container.engine)
    replay = bill_replays.replay_bill(bill_id, principal, replays)  # a missing bill is a 404 here
    assert bill is not None, "a bill replayed is a bill the read models hold"
    return BillAudit(bill, replay, bill_replays.recompute_bill(bill_id, principal, replays))


def bills_to_audit(container: Container, principal: Principal, account_number: str) -> list[BillRecord]:
    """The household's bills, the latest issued first, to pick one to replay."""
    principal.require(Permission.READ_LEDGER)
    live = container.as_known.live()
    household = require_household(live.queries, account_number)
    return live.billing.bills_of_household(household.household_id, limit=MAXIMUM_BILLS_LISTED).items


# -- a balance as known ------------------------------------------------------------------------------


def known_at_moment(text: str) -> datetime:
    """The moment typed (a ``datetime-local`` field is Beijing time), checked as the API's
    ``known_at`` parameter is; a ValidationError names what is wrong."""
    return _KNOWN_AT.validate_python(business_moment(text.strip()))


@dataclass(frozen=True)
class BalanceReading:
    """A household's balance over all seasons and at the end of ``day``, from one set of read
    models (live, or as known at a moment up to an event-log position)."""

    balance: BalanceOutput
    on_day: BalanceAsOfOutput
    known_at: datetime | None
    position: int | None


@dataclass(frozen=True)
class KnownBalance:
    """The household's balance now beside the balance as the ledger knew it at ``known_at``."""

    account_number: str
    day: date
    live: BalanceReading
    known: BalanceReading

    @property
    def differs(self) -> bool:
        return (self.live.balance.balance_yuan, self.live.on_day.balance_yuan) != (
            self.known.balance.balance_yuan,
            self.known.on_day.balance_yuan,
        )


def known_balance(
    container: Container, principal: Principal, account_number: str, known_at: datetime, day: date
) -> KnownBalance:
    """``GET /households/{a}/balance`` and ``/balance/{day}``, live and with ``known_at``."""
    principal.require(Permission.READ_LEDGER)
    live = _balance_reading(principal, account_number, day, container.as_known.live())
    with container.as_known.household(account_number, known_at, meters=False) as reads:
        known = _balance_reading(principal, account_number, day, reads)
    return KnownBalance(account_number, day, live, known)


def _balance_reading(principal: Principal, account_number: str, day: date, reads: KnownReads) -> BalanceReading:
    balance = get_household_balance(account_number, principal, reads)
    on_day = payment_reports.get_household_balance_on(account_number, day, principal, reads)
    return BalanceReading(balance, on_day, reads.known_at, reads.position)
