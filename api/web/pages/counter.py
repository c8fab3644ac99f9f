"""The counter (收费), ``/ui/counter``: find a household by its account number, take a payment and
print its receipt, reverse a payment, the day journal (printable), refunds awaiting a second person,
and the online payment orders (read only).

Every page reads and writes through ``api.web.pages.counter_data``, which calls the API's own
route functions; permissions are the services' (a POST the role may not make is a 403 page, even
when crafted), and a form the schema or the ledger refuses is shown again with why, nothing booked.
After a write the browser is sent on (303) to the page that shows its result, so a reload never
posts twice (and a payment form sent twice carries the same receipt number: booked once).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BeforeValidator
from starlette.responses import RedirectResponse, Response

from api.schemas.common import KEY_MAX_LENGTH
from api.web import forms
from api.web.pages import counter_data as data
from api.web.rendering import render
from api.web.session import CsrfChecked, WebSession, WebUser, is_htmx, request_language
from domain.payment import PaymentChannel, RefundStatus
from infrastructure.container import Container
from infrastructure.online_payments import OrderStatus

router = APIRouter(prefix="/ui/counter", include_in_schema=False)

# A page number beyond this is not a person paging.
MAXIMUM_PAGE = 100_000


def get_container(request: Request) -> Container:
    """The container the app was built with."""
    container: Container = request.app.state.container
    return container


async def posted_fields(request: Request) -> dict[str, str]:
    """A posted form's text fields (the CSRF check has read the form already: Starlette keeps it)."""
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str) and name != "csrf_token"}


WebContainer = Annotated[Container, Depends(get_container)]
FormFields = Annotated[dict[str, str], Depends(posted_fields)]
PageNumber = Annotated[int, Query(ge=1, le=MAXIMUM_PAGE)]
AccountPath = Annotated[str, Path(min_length=1, max_length=KEY_MAX_LENGTH)]
AccountQuery = Annotated[str, Query(max_length=KEY_MAX_LENGTH)]
# A filter form sends its "every …" choice as an empty value: no filter, as if left out.
BlankIsNone = BeforeValidator(lambda value: value or None)
DayFilter = Annotated[date | None, BlankIsNone, Query()]
ChannelFilter = Annotated[PaymentChannel | None, BlankIsNone, Query()]
RefundStatusFilter = Annotated[RefundStatus | None, BlankIsNone, Query()]
OrderStatusFilter = Annotated[OrderStatus | None, BlankIsNone, Query()]


def account_url(account_number: str) -> str:
    """The counter's page of a household."""
    return f"/ui/counter?{urlencode({'account': account_number})}"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- the counter: find a household, take a payment, ask for a refund ---------------------------


@router.get("")
def counter(request: Request, user: WebUser, container: WebContainer, account: AccountQuery = "") -> Response:
    """The counter: the account number field, and the household found with its payment form (an
    account number found nowhere is said so on the page). An htmx lookup swaps the household's
    panel in place."""
    return _counter_page(request, user, container, account)


@router.post("/households/{account_number}/payments")
def take_payment(
    request: Request, user: CsrfChecked, container: WebContainer, account_number: AccountPath, form: FormFields
) -> Response:
    """Take the payment and go to its receipt; a refused form is shown again with why."""
    language = request_language(request)
    outcome = data.take_payment(container, user.principal, account_number, form, language)
    if isinstance(outcome, data.Refused):
        return _counter_page(request, user, container, account_number, payment_values=form, refused=outcome)
    again = "" if outcome.recorded else "?again=1"
    return _redirect(f"/ui/counter/receipts/{outcome.payment_id}{again}")


@router.post("/households/{account_number}/refunds")
def request_refund(
    request: Request, user: CsrfChecked, container: WebContainer, account_number: AccountPath, form: FormFields
) -> Response:
    """Ask for a refund of the household's credit; it then awaits a second person."""
    language = request_language(request)
    outcome = data.request_refund(container, user.principal, account_number, form, language)
    if isinstance(outcome, data.Refused):
        return _counter_page(request, user, container, account_number, refund_values=form, refund_refused=outcome)
    query = urlencode({"status": RefundStatus.REQUESTED.value, "account": account_number})
    return _redirect(f"/ui/counter/refunds?{query}")


def _counter_page(
    request: Request,
    user: WebSession,
    container: Container,
    account: str,
    payment_values: dict[str, str] | None = None,
    refused: data.Refused | None = None,
    refund_values: dict[str, str] | None = None,
    refund_refused: data.Refused | None = None,
) -> Response:
    wanted = account.strip()
    record = data.find_household(container, wanted)
    panel = data.household_panel(container, user.principal, record) if record is not None else None
    today = data.business_today(container)
    context: dict[str, Any] = {
        "account": wanted,
        "panel": panel,
        "channels": data.counter_channels(),
        "payment_values": payment_values or {"receipt_number": data.suggested_receipt_number(today), "channel": "cash"},
        "errors": refused.errors if refused else forms.FormErrors(),
        "refund_values": refund_values or _refund_defaults(panel, today),
        "refund_errors": refund_refused.errors if refund_refused else forms.FormErrors(),
        "refunds_waiting": data.refunds(container, user.principal, RefundStatus.REQUESTED, None, 1).total,
    }
    context["account_path"] = quoted(panel.account_number) if panel is not None else ""
    form_refused = refused or refund_refused
    status = form_refused.status_code if form_refused else 200
    block = "household" if is_htmx(request) and refused is None and refund_refused is None else None
    return render(request, "counter/index.html", context, block_name=block, status_code=status)


def _refund_defaults(panel: data.HouseholdPanel | None, today: date) -> dict[str, str]:
    """The refund form's starting values: a new request number and the household's credit."""
    if panel is None:
        return {}
    number = data.suggested_receipt_number(today).replace("R", "RF", 1)
    return {"request_number": number, "amount_yuan": str(panel.account.credit_yuan)}


# -- receipts and reversals ---------------------------------------------------------------------


@router.get("/receipts/{payment_id}")
def receipt(
    request: Request, user: WebUser, container: WebContainer, payment_id: UUID, again: bool = False
) -> Response:
    """A payment's receipt, styled for paper; ``again``: the receipt number was recorded before."""
    printed = data.receipt(container, user.principal, payment_id)
    return render(request, "counter/receipt.html", {"receipt": printed, "again": again})


@router.get("/payments/{payment_id}/reversal")
def reversal_form(request: Request, user: WebUser, container: WebContainer, payment_id: UUID) -> Response:
    """The reversal form: why the payment is taken back."""
    return _reversal_page(request, user, container, payment_id, {}, None)


@router.post("/payments/{payment_id}/reversal")
def reverse(
    request: Request, user: CsrfChecked, container: WebContainer, payment_id: UUID, form: FormFields
) -> Response:
    """Reverse the payment and show its receipt, now marked reversed; a refusal shows the form again."""
    language = request_language(request)
    outcome = data.reverse_payment(container, user.principal, payment_id, form, language)
    if outcome is not None:
        return _reversal_page(request, user, container, payment_id, form, outcome)
    return _redirect(f"/ui/counter/receipts/{payment_id}")


def _reversal_page(
    request: Request,
    user: WebSession,
    container: Container,
    payment_id: UUID,
    values: dict[str, str],
    refused: data.Refused | None,
) -> Response:
    context = {
        "receipt": data.receipt(container, user.principal, payment_id),
        "kinds": data.reversal_kinds(),
        "values": values,
        "errors": refused.errors if refused else forms.FormErrors(),
    }
    status = refused.status_code if refused else 200
    return render(request, "counter/reversal.html", context, status_code=status)


# -- the day journal ----------------------------------------------------------------------------


@router.get("/journal")
def journal(
    request: Request,
    user: WebUser,
    container: WebContainer,
    day: DayFilter = None,
    channel: ChannelFilter = None,
    clerk: Annotated[str, Query(max_length=KEY_MAX_LENGTH * 2)] = "",
    page: PageNumber = 1,
    printed: Annotated[bool, Query(alias="print")] = False,
) -> Response:
    """The day's payments per clerk and channel with totals, and the payments behind them (paged;
    ``print=1``: every line on one sheet, up to the API's largest page)."""
    lines_per_page = data.PRINTED_LINES if printed else data.PAGE_SIZE
    view = data.day_journal(container, user.principal, day, channel, clerk, 1 if printed else page, lines_per_page)
    query = {"day": view.day.isoformat(), "channel": view.channel or "", "clerk": view.clerk or ""}
    context = {"journal": view, "channels": tuple(PaymentChannel), "query": query, "printed": printed}
    return render(request, "counter/journal.html", context)


# -- refunds ------------------------------------------------------------------------------------


@router.get("/refunds")
def refund_list(
    request: Request,
    user: WebUser,
    container: WebContainer,
    status: RefundStatusFilter = RefundStatus.REQUESTED,
    account: AccountQuery = "",
    page: PageNumber = 1,
    every: bool = False,
) -> Response:
    """Refunds of one status (awaiting a second person by default; ``every=1``: all), with the
    actions each awaits for those who may take them."""
    return _refunds_page(request, user, container, None if every else status, account, page)


@router.post("/refunds/{refund_id}/approval")
def approve_refund(
    request: Request, user: CsrfChecked, container: WebContainer, refund_id: UUID, form: FormFields
) -> Response:
    """The second person approves (the one who asked is refused by the service: a 403 page)."""
    return _refund_action(request, user, container, refund_id, form, "approval")


@router.post("/refunds/{refund_id}/rejection")
def reject_refund(
    request: Request, user: CsrfChecked, container: WebContainer, refund_id: UUID, form: FormFields
) -> Response:
    """The second person turns the request down, with why."""
    return _refund_action(request, user, container, refund_id, form, "rejection")


@router.post("/refunds/{refund_id}/payout")
def pay_out_refund(
    request: Request, user: CsrfChecked, container: WebContainer, refund_id: UUID, form: FormFields
) -> Response:
    """Record the bank transfer that paid an approved refund out."""
    return _refund_action(request, user, container, refund_id, form, "payout")


def _refund_action(
    request: Request, user: WebSession, container: Container, refund_id: UUID, form: dict[str, str], action: str
) -> Response:
    language = request_language(request)
    principal = user.principal
    if action == "payout":
        outcome = data.pay_out_refund(container, principal, refund_id, form, language)
    else:
        outcome = data.decide_refund(container, principal, refund_id, action == "approval", form, language)
    if isinstance(outcome, data.Refused):
        before = data.refund(container, principal, refund_id)
        return _refunds_page(
            request, user, container, RefundStatus(before.status), before.account_number, 1, refund_id, outcome
        )
    query = urlencode({"status": outcome.status, "account": outcome.account_number})
    return _redirect(f"/ui/counter/refunds?{query}")


def _refunds_page(
    request: Request,
    user: WebSession,
    container: Container,
    status: RefundStatus | None,
    account: str,
    page: int,
    refused_id: UUID | None = None,
    refused: data.Refused | None = None,
) -> Response:
    principal = user.principal
    paged = data.refunds(container, principal, status, account, page)
    context = {
        "paged": paged,
        "status": status.value if status else "",
        "statuses": data.REFUND_STATUSES,
        "account": account.strip(),
        "may_decide": {item.refund_id: data.may_decide(principal, item) for item in paged.items},
        "refused_id": refused_id,
        "errors": refused.errors if refused else forms.FormErrors(),
    }
    return render(request, "counter/refunds.html", context, status_code=refused.status_code if refused else 200)


# -- online payment orders ----------------------------------------------------------------------


@router.get("/orders")
def orders(
    request: Request,
    user: WebUser,
    container: WebContainer,
    status: OrderStatusFilter = None,
    account: AccountQuery = "",
    page: PageNumber = 1,
) -> Response:
    """Online payment orders (read only), oldest first: open, paid, flagged or resolved."""
    paged = data.payment_orders(container, user.principal, status, account, page)
    context = {
        "paged": paged,
        "status": status.value if status else "",
        "statuses": data.order_statuses(),
        "account": account.strip(),
    }
    return render(request, "counter/orders.html", context)


def quoted(account_number: str) -> str:
    """An account number as a path segment."""
    return quote(account_number, safe="")
