"""What the counter (收费) pages show and do: take a payment and print its receipt, the day journal,
reversals, refunds awaiting a second person, and the online payment orders (issue 13).

Plain functions over the container, called by the page routes (``api.web.pages.counter``). Reads
call the API's own route functions (``api/routers/payment_reports.py``, ``payments.py``,
``bills.py``, ``online_payments.py``) with the reads they would be given, so a page shows what the
API answers; writes call the API's command routes with the request model the API's schema reads
from the form, so a page does exactly what the API does: the services check the permission
(``principal.require``) and the domain the rules (a second person approves a refund; a payment is
reversed once). The route functions are called directly, past FastAPI's dependencies, so the
``Reader`` check they would have had (READ_LEDGER) is made here, by ``require_reader``.

Form input is text; the schemas read it as the API reads JSON, and what they or the ledger refuse
comes back as ``FormErrors`` in the user's language, for the form to show beside its fields.
Nothing is written when a form is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

from fastapi import Response
from pydantic import BaseModel, ValidationError

from api.chinese_amounts import amount_in_capitals
from api.messages import Language
from api.routers import bills as bills_api
from api.routers import online_payments as orders_api
from api.routers import payment_reports as reports_api
from api.routers import payments as payments_api
from api.schemas.billing import BalanceOutput
from api.schemas.payment_orders import PaymentOrderOutput
from api.schemas.payments import (
    AllocationOutput,
    CounterPayment,
    HouseholdAccountOutput,
    JournalOutput,
    OpenChargeOutput,
    PaymentDetail,
    PaymentOutput,
    PaymentReceipt,
    RefundDecision,
    RefundOutput,
    RefundPayment,
    RefundReceipt,
    RefundRequest,
    Reversal,
)
from api.web.forms import FormErrors, filled, form_errors
from application.authorization import Permission, Principal
from application.history import LOGGED_ROLES, may_see_personal_data
from domain.day_split import business_day
from domain.errors import ConflictError, InvalidInputError, LedgerError, NotFoundError
from domain.payment import COUNTER_CHANNELS, PaymentChannel, RefundStatus, ReversalKind
from infrastructure.container import Container
from infrastructure.online_payments import OrderStatus
from projections.payment_queries import PaymentQueries
from projections.queries import MAXIMUM_PAGE_SIZE, HouseholdRecord, LedgerQueries

PAGE_SIZE = 50
# The payments a household's panel at the counter lists (the rest are on the household's page).
RECENT_PAYMENTS = 10
# Bills looked up to name the open charges in the "pay this bill" choice (a household has a few a season).
BILLS_NAMED = 50
# The open charges a household's panel offers to name; a refund payout is a charge no payer names.
REFUND_PAYOUT_KIND = "refund_payout"
# A suggested receipt number: R, the business day, and random letters no clerk would type twice.
RECEIPT_NUMBER_RANDOM_BYTES = 5
# The printed journal lists the day's payments on one sheet, up to the API's largest page.
PRINTED_LINES = MAXIMUM_PAGE_SIZE
# Statuses the refund list offers, the one awaiting a second person first.
REFUND_STATUSES = (RefundStatus.REQUESTED, RefundStatus.APPROVED, RefundStatus.PAID, RefundStatus.REJECTED)

PAYMENT_FIELDS = ("amount_yuan", "channel", "receipt_number", "bill_id", "reason")
REVERSAL_FIELDS = ("kind", "reason")
REFUND_FIELDS = ("request_number", "amount_yuan", "reason")
DECISION_FIELDS = ("reason",)
PAYOUT_FIELDS = ("bank_reference", "reason")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


# -- paging, forms and errors -------------------------------------------------------------------


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One page of a list: its items, its number (from 1) and how many there are in all."""

    items: list[T]
    page: int
    total: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def offset_of(page: int, page_size: int = PAGE_SIZE) -> int:
    """The first item of the ``page``-th page (pages count from 1; anything less is the first)."""
    return (max(1, page) - 1) * page_size


@dataclass(frozen=True)
class Refused:
    """A form the schema or the ledger refused: the errors to show, and the HTTP status the page
    answers with (the API's for the same refusal: 422 or 409)."""

    errors: FormErrors
    status_code: int


def refused(error: ValidationError | LedgerError, language: Language, known_fields: Iterable[str]) -> Refused:
    status = 409 if isinstance(error, ConflictError) else 422
    return Refused(form_errors(error, language, known_fields), status)


def read_form(model: type[M], form: Mapping[str, Any], names: Iterable[str], language: Language) -> M | Refused:
    """The API's request model read from the form's filled fields, or why not."""
    fields_ = tuple(names)
    try:
        return model.model_validate(filled(form, fields_))
    except ValidationError as error:
        return refused(error, language, fields_)


# -- who sees what ------------------------------------------------------------------------------


def require_reader(principal: Principal) -> None:
    """The API's ``Reader`` check: the route functions called here skip FastAPI's dependencies."""
    principal.require(Permission.READ_LEDGER)


def shows_personal_data(principal: Principal) -> bool:
    """Whether the counter pages show the flat (entrance, floor, flat) to ``principal``.

    The roles that see personal data unmasked (application.history) do, except those whose reads of
    it are logged (auditors): the counter pages write no access log, so they see the address to the
    building, as regulators do; the audit area shows them the rest, logged.
    """
    return may_see_personal_data(principal) and principal.role not in LOGGED_ROLES


@dataclass(frozen=True)
class Address:
    """Where a household lives; ``entrance``, ``floor`` and ``flat`` are None when masked."""

    community: str
    building: str
    entrance: str | None
    floor: int | None
    flat: str | None

    @property
    def masked(self) -> bool:
        return self.flat is None


def address_of(record: HouseholdRecord, principal: Principal) -> Address:
    if shows_personal_data(principal):
        return Address(record.community, record.building, record.entrance, record.floor, record.flat)
    return Address(record.community, record.building, None, None, None)


def business_today(container: Container) -> date:
    """Today in Asia/Shanghai by the ledger's clock (the API's ``BusinessToday``)."""
    return business_day(container.ledger.clock())


def suggested_receipt_number(today: date) -> str:
    """A receipt number for the payment form: unique, so that the same form sent twice (a double
    click, a reload) records the payment once, as the API's idempotent receipt number promises.
    A clerk with a pre-printed receipt book types its number over it."""
    return f"R{today:%Y%m%d}-{secrets.token_hex(RECEIPT_NUMBER_RANDOM_BYTES).upper()}"


# -- a household at the counter -----------------------------------------------------------------


@dataclass(frozen=True)
class NamedCharge:
    """An open charge with its bill's number, for the payer to name."""

    charge: OpenChargeOutput
    bill_number: str | None


@dataclass(frozen=True)
class HouseholdPanel:
    """A household as the counter shows it: where it is, what it owes, its latest payments."""

    account_number: str
    address: Address
    customer_class: str
    heating_suspended: bool
    deregistered_on: date | None
    balance: BalanceOutput
    account: HouseholdAccountOutput
    open_charges: list[NamedCharge]
    recent_payments: list[PaymentOutput]
    payments_total: int

    @property
    def open_yuan(self) -> Decimal:
        return sum((item.charge.open_yuan for item in self.open_charges), Decimal("0.00"))

    @property
    def bill_choices(self) -> list[NamedCharge]:
        """The open charges a payer may name: bills, not refund payouts."""
        return [item for item in self.open_charges if item.charge.kind != REFUND_PAYOUT_KIND]


def find_household(container: Container, account_number: str) -> HouseholdRecord | None:
    """The household with this account number (as typed, trimmed), or None."""
    wanted = account_number.strip()
    return LedgerQueries(container.engine).household(wanted) if wanted else None


def household_panel(container: Container, principal: Principal, record: HouseholdRecord) -> HouseholdPanel:
    """What the counter shows of a household: ``GET /households/{n}/balance``, ``…/account``,
    ``…/payments`` and its bills' numbers, as the API answers them."""
    require_reader(principal)
    reads = container.as_known.live()
    number = record.account_number
    account = reports_api.get_household_account(number, principal, reads)
    payments = reports_api.list_household_payments(number, principal, reads, RECENT_PAYMENTS, 0)
    return HouseholdPanel(
        account_number=number,
        address=address_of(record, principal),
        customer_class=record.customer_class,
        heating_suspended=record.heating_suspended,
        deregistered_on=record.deregistered_on,
        balance=bills_api.get_household_balance(number, principal, reads),
        account=account,
        open_charges=_named(container, principal, number, account.open_charges),
        recent_payments=payments.items,
        payments_total=payments.total,
    )


def _named(
    container: Container, principal: Principal, account_number: str, charges: list[OpenChargeOutput]
) -> list[NamedCharge]:
    if not charges:
        return []
    bills = bills_api.list_household_bills(
        account_number, principal, container.as_known.live(), None, None, BILLS_NAMED, 0
    )
    numbers = {bill.bill_id: bill.number for bill in bills.items}
    return [NamedCharge(charge, numbers.get(charge.charge_id)) for charge in charges]


# -- taking a payment ---------------------------------------------------------------------------


def take_payment(
    container: Container, principal: Principal, account_number: str, form: Mapping[str, Any], language: Language
) -> PaymentReceipt | Refused:
    """``POST /households/{n}/payments`` from the payment form: the receipt (``recorded`` False
    when this receipt number was recorded before: nothing new was booked), or why not."""
    payment = read_form(CounterPayment, form, PAYMENT_FIELDS, language)
    if isinstance(payment, Refused):
        return payment
    try:
        return payments_api.record_counter_payment(account_number, payment, principal, container, Response())
    except (InvalidInputError, ConflictError) as error:
        return refused(error, language, PAYMENT_FIELDS)


def counter_channels() -> tuple[PaymentChannel, ...]:
    """The channels a clerk takes money through (online payments come through a provider)."""
    return COUNTER_CHANNELS


# -- the receipt --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """A payment as its receipt prints it."""

    utility_name: str
    utility_service_phone: str
    payment: PaymentDetail
    address: Address
    amount_in_capitals: str

    @property
    def allocations(self) -> list[AllocationOutput]:
        return self.payment.allocations

    @property
    def reversed(self) -> bool:
        return self.payment.reversed_on is not None


def receipt(container: Container, principal: Principal, payment_id: UUID) -> Receipt:
    """``GET /payments/{id}`` with the household's address and the amount in capital numerals;
    NotFoundError (a 404 page) for an unknown payment."""
    require_reader(principal)
    payment = reports_api.get_payment(payment_id, principal, PaymentQueries(container.engine))
    record = LedgerQueries(container.engine).household(payment.account_number)
    if record is None:  # a payment's household is never removed; the read model is being rebuilt
        raise NotFoundError(f"no household {payment.account_number}", kind="household", key=payment.account_number)
    settings = container.settings
    return Receipt(
        utility_name=settings.utility_name,
        utility_service_phone=settings.utility_service_phone,
        payment=payment,
        address=address_of(record, principal),
        amount_in_capitals=amount_in_capitals(payment.amount_yuan),
    )


# -- reversing a payment ------------------------------------------------------------------------


def reversal_kinds() -> tuple[ReversalKind, ...]:
    return tuple(ReversalKind)


def reverse_payment(
    container: Container, principal: Principal, payment_id: UUID, form: Mapping[str, Any], language: Language
) -> Refused | None:
    """``POST /payments/{id}/reversal`` from the reversal form (kind and reason), or why not."""
    reversal = read_form(Reversal, form, REVERSAL_FIELDS, language)
    if isinstance(reversal, Refused):
        return reversal
    try:
        payments_api.reverse_payment(payment_id, reversal, principal, container)
    except (InvalidInputError, ConflictError) as error:
        return refused(error, language, REVERSAL_FIELDS)
    return None


# -- the day journal ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalTotals:
    """The journal's rows summed: a channel's, or the day's."""

    payments: int
    total_yuan: Decimal
    reversed_payments: int
    reversed_yuan: Decimal
    net_yuan: Decimal


def totals_of(rows: Iterable[JournalOutput]) -> JournalTotals:
    listed = list(rows)
    return JournalTotals(
        payments=sum(row.payments for row in listed),
        total_yuan=sum((row.total_yuan for row in listed), Decimal("0.00")),
        reversed_payments=sum(row.reversed_payments for row in listed),
        reversed_yuan=sum((row.reversed_yuan for row in listed), Decimal("0.00")),
        net_yuan=sum((row.net_yuan for row in listed), Decimal("0.00")),
    )


@dataclass(frozen=True)
class DayJournal:
    """A business day's payments per clerk and channel (the cash-up), with totals per channel and
    for the day, and one page of the payments behind them."""

    day: date
    channel: str | None
    clerk: str | None
    rows: list[JournalOutput]
    by_channel: dict[str, JournalTotals]
    totals: JournalTotals
    lines: Paged[PaymentOutput]


def day_journal(
    container: Container,
    principal: Principal,
    day: date | None,
    channel: PaymentChannel | None,
    clerk: str | None,
    page: int,
    lines_per_page: int = PAGE_SIZE,
) -> DayJournal:
    """``GET /payments/journal`` and a page of ``GET /payments`` for the same day, channel and clerk
    (``lines_per_page``: up to the API's largest page, PRINTED_LINES, for the printed journal)."""
    require_reader(principal)
    payments = PaymentQueries(container.engine)
    today = business_today(container)
    wanted_clerk = (clerk or "").strip() or None
    journal = reports_api.get_payment_journal(principal, payments, today, day, channel, wanted_clerk)
    lines = reports_api.list_payments_of_day(
        principal, payments, today, journal.day, channel, wanted_clerk, lines_per_page, offset_of(page, lines_per_page)
    )
    by_channel: dict[str, list[JournalOutput]] = {}
    for row in journal.items:
        by_channel.setdefault(row.channel, []).append(row)
    return DayJournal(
        day=journal.day,
        channel=channel.value if channel else None,
        clerk=wanted_clerk,
        rows=journal.items,
        by_channel={name: totals_of(rows) for name, rows in by_channel.items()},
        totals=totals_of(journal.items),
        lines=Paged(lines.items, max(1, page), lines.total, lines_per_page),
    )


# -- refunds ------------------------------------------------------------------------------------


def refunds(
    container: Container, principal: Principal, status: RefundStatus | None, account_number: str | None, page: int
) -> Paged[RefundOutput]:
    """``GET /refunds`` of one status (and household), one page."""
    require_reader(principal)
    wanted = (account_number or "").strip() or None
    answer = reports_api.list_refunds(
        principal, PaymentQueries(container.engine), status, wanted, PAGE_SIZE, offset_of(page)
    )
    return Paged(answer.items, max(1, page), answer.total)


def refund(container: Container, principal: Principal, refund_id: UUID) -> RefundOutput:
    """``GET /refunds/{id}``; NotFoundError (a 404 page) for an unknown refund."""
    require_reader(principal)
    return reports_api.get_refund(refund_id, principal, PaymentQueries(container.engine))


def request_refund(
    container: Container, principal: Principal, account_number: str, form: Mapping[str, Any], language: Language
) -> RefundReceipt | Refused:
    """``POST /households/{n}/refunds`` from the refund form, or why not (more than the credit is
    refused by the service, with the credit it has)."""
    request = read_form(RefundRequest, form, REFUND_FIELDS, language)
    if isinstance(request, Refused):
        return request
    try:
        return payments_api.request_refund(account_number, request, principal, container)
    except (InvalidInputError, ConflictError) as error:
        return refused(error, language, REFUND_FIELDS)


def decide_refund(
    container: Container,
    principal: Principal,
    refund_id: UUID,
    approve: bool,
    form: Mapping[str, Any],
    language: Language,
) -> RefundReceipt | Refused:
    """``POST /refunds/{id}/approval`` or ``…/rejection``: the second person's decision. The one who
    asked is refused by the service (a 403 page), whatever the page offered."""
    decision = read_form(RefundDecision, form, DECISION_FIELDS, language)
    if isinstance(decision, Refused):
        return decision
    decide = payments_api.approve_refund if approve else payments_api.reject_refund
    try:
        return decide(refund_id, decision, principal, container)
    except (InvalidInputError, ConflictError) as error:
        return refused(error, language, DECISION_FIELDS)


def pay_out_refund(
    container: Container, principal: Principal, refund_id: UUID, form: Mapping[str, Any], language: Language
) -> RefundReceipt | Refused:
    """``POST /refunds/{id}/payout``: the bank transfer that paid an approved refund out."""
    payout = read_form(RefundPayment, form, PAYOUT_FIELDS, language)
    if isinstance(payout, Refused):
        return payout
    try:
        return payments_api.pay_out_refund(refund_id, payout, principal, container)
    except (InvalidInputError, ConflictError) as error:
        return refused(error, language, PAYOUT_FIELDS)


def may_decide(principal: Principal, refund_record: RefundOutput) -> bool:
    """Whether to offer ``principal`` the approval of a requested refund: a role that approves
    refunds, and not the one who asked (the service refuses them anyway: second_person_required)."""
    return (
        refund_record.status == RefundStatus.REQUESTED.value
        and principal.may(Permission.APPROVE_REFUNDS)
        and principal.name != refund_record.requested_by
    )


# -- online payment orders (read only) ----------------------------------------------------------


def payment_orders(
    container: Container, principal: Principal, status: OrderStatus | None, account_number: str | None, page: int
) -> Paged[PaymentOrderOutput]:
    """``GET /payments/orders`` of one status (and household), oldest first, one page. The API
    gives no total: one more than a page is read to know whether another page follows."""
    require_reader(principal)
    wanted = (account_number or "").strip() or None
    listed = orders_api.list_payment_orders(principal, container, status, wanted, PAGE_SIZE + 1, offset_of(page)).items
    number = max(1, page)
    known_total = offset_of(number) + len(listed)
    return Paged(listed[:PAGE_SIZE], number, known_total)


def order_statuses() -> tuple[OrderStatus, ...]:
    return tuple(OrderStatus)
