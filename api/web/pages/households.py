"""The households pages (热用户), ``/ui/households``: the search, a household's page (facts, meters,
heat beside its building, bills, payments, account and balance, disputes, contact), a bill read
out (printable), the household's history, and the actions a clerk takes on it.

Reading needs ``read_ledger``; area corrections, suspension and resumption (报停/恢复供热), owner
changes (过户) and the contact need ``manage_households`` (clerks, customer service, admins).
Each action is the API's own route function with the page's principal (``api.routers.households``,
``billing``, ``dunning``): the same schema reads the form, the same service checks and records it.
The permission is checked before the form is read, so a role that may not act gets 403 (not a
form error) however the request was made; the service checks it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api.messages import describe_error
from api.problems import status_of
from api.routers import billing as billing_routes
from api.routers import dunning as contact_routes
from api.routers import households as household_routes
from api.schemas.billing import OwnerChange
from api.schemas.common import KEY_MAX_LENGTH
from api.schemas.dunning import ContactInput
from api.schemas.households import AreaCorrection, HeatingChange
from api.web.pages import households_data as data
from api.web.rendering import render
from api.web.session import CsrfChecked, WebUser, is_htmx, request_language
from application.authorization import Permission, Principal
from application.notifications import ContactChannel, MessageLanguage
from domain.day_split import business_day
from domain.errors import LedgerError
from infrastructure.container import Container
from projections.queries import Granularity

router = APIRouter(prefix="/ui/households", include_in_schema=False)

BASE = "/ui/households"
AccountPath = Annotated[str, Path(min_length=1, max_length=KEY_MAX_LENGTH)]
# The forms of the household page; a refused one is shown open again with its values.
ACTIONS = ("area_correction", "suspension", "resumption", "owner_change", "contact", "contact_forget")
_FORM_FIELDS = {
    "area_correction": ("connected_area_m2", "heated_area_m2", "effective_on", "reason"),
    "suspension": ("effective_on", "reason"),
    "resumption": ("effective_on", "reason"),
    "owner_change": ("effective_on", "reason"),
    "contact": ("channel", "address", "language", "holder_name"),
}


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


def household_url(account_number: str) -> str:
    """The URL of a household's page."""
    return f"{BASE}/{quote(account_number, safe='')}"


def _today(container: Container) -> Any:
    return business_day(container.ledger.clock())


def _granularity(text: str | None) -> Granularity:
    return Granularity.DAY if text == Granularity.DAY.value else Granularity.MONTH


# -- the search --------------------------------------------------------------------------------------


@router.get("")
def search_page(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Households found by account number, address, building/entrance/floor or phone; as the user
    types, htmx asks for the results block only."""
    language = request_language(request)
    values = dict(request.query_params)
    page = data.page_number(values.pop("page", None))
    found = data.search(container, user.principal, values, page, language)
    filters = urlencode(found.values)
    context = {"found": found, "filters": filters}
    block = "results" if is_htmx(request) and request.headers.get("hx-target") == "results" else None
    # Filters the schema refuses: the page says why beside each field, with 422. The block typed
    # into gets 200, or htmx would not swap it in (the half-typed phone would leave old results).
    status = 422 if found.errors and block is None else 200
    return render(request, "households/search.html", context, block_name=block, status_code=status)


# -- one household ------------------------------------------------------------------------------------


@dataclass
class FormRefusal:
    """Why a posted form was not taken: a message for the form, one per field, and the status."""

    message: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    status: int = 422


def _refusal(error: ValidationError | LedgerError, request: Request) -> FormRefusal:
    language = request_language(request)
    if isinstance(error, ValidationError):
        return FormRefusal("", data.field_errors(error, language), 422)
    message = describe_error(error, language)
    named = error.params.get("field")
    fields = {str(named): message} if isinstance(named, str) else {}
    return FormRefusal(message, fields, status_of(error))


@router.get("/{account_number}")
def household_page(account_number: AccountPath, request: Request, user: WebUser, container: WebContainer) -> Response:
    """A household: facts, meters, heat beside its building, bills, payments, account, disputes,
    contact, and the forms of the actions the user's role may take."""
    return _household_page(request, container, user.principal, account_number)


def _household_page(
    request: Request,
    container: Container,
    principal: Principal,
    account_number: str,
    action: str = "",
    values: dict[str, str] | None = None,
    refusal: FormRefusal | None = None,
) -> Response:
    today = _today(container)
    query = request.query_params
    # One set of reads for the page: the household is looked up once for all the parts.
    reads = data.page_reads(container)
    view = data.household_view(container, principal, account_number, today, reads)
    granularity = _granularity(query.get("granularity"))
    compared = data.comparison(container, principal, account_number, today, granularity, reads)
    bills_page, payments_page = (data.page_number(query.get(name)) for name in ("bills_page", "payments_page"))
    bills, bills_paging = data.bills_page(container, principal, account_number, bills_page, reads)
    payments, payments_paging = data.payments_page(container, principal, account_number, payments_page, reads)
    done = query.get("done", "")
    context = {
        "view": view,
        "url": household_url(account_number),
        "today": today,
        "granularity": granularity.value,
        "compared": compared,
        "chart": data.comparison_chart(compared, request_language(request)),
        "bills": bills,
        "bills_paging": bills_paging,
        "payments": payments,
        "payments_paging": payments_paging,
        "action": action,
        "values": values or {},
        "refusal": refusal or FormRefusal(status=200),
        "done": done if done in ACTIONS else "",
        "channels": [channel.value for channel in ContactChannel],
        "message_languages": [language.value for language in MessageLanguage],
    }
    status = refusal.status if refusal is not None else 200
    return render(request, "households/detail.html", context, status_code=status)


@router.get("/{account_number}/consumption")
def consumption_block(
    account_number: AccountPath, request: Request, user: WebUser, container: WebContainer
) -> Response:
    """The heat chart by day or by month (htmx swaps it in place); without htmx, the page."""
    granularity = _granularity(request.query_params.get("granularity"))
    if not is_htmx(request):
        return RedirectResponse(f"{household_url(account_number)}?granularity={granularity.value}#consumption", 303)
    compared = data.comparison(container, user.principal, account_number, _today(container), granularity)
    context = {
        "url": household_url(account_number),
        "granularity": granularity.value,
        "compared": compared,
        "chart": data.comparison_chart(compared, request_language(request)),
    }
    return render(request, "households/detail.html", context, block_name="consumption")


@router.get("/{account_number}/bills")
def bills_block(account_number: AccountPath, request: Request, user: WebUser, container: WebContainer) -> Response:
    """A page of the household's bills (htmx swaps it in place); without htmx, the page."""
    page = data.page_number(request.query_params.get("page"))
    if not is_htmx(request):
        return RedirectResponse(f"{household_url(account_number)}?bills_page={page}#bills", 303)
    bills, paging = data.bills_page(container, user.principal, account_number, page)
    context = {"url": household_url(account_number), "bills": bills, "bills_paging": paging}
    return render(request, "households/detail.html", context, block_name="bills")


@router.get("/{account_number}/payments")
def payments_block(account_number: AccountPath, request: Request, user: WebUser, container: WebContainer) -> Response:
    """A page of the household's payments (htmx swaps it in place); without htmx, the page."""
    page = data.page_number(request.query_params.get("page"))
    if not is_htmx(request):
        return RedirectResponse(f"{household_url(account_number)}?payments_page={page}#payments", 303)
    payments, paging = data.payments_page(container, user.principal, account_number, page)
    context = {"url": household_url(account_number), "payments": payments, "payments_paging": paging}
    return render(request, "households/detail.html", context, block_name="payments")


@router.get("/{account_number}/bills/{bill_id}")
def bill_page(
    account_number: AccountPath, bill_id: UUID, request: Request, user: WebUser, container: WebContainer
) -> Response:
    """A bill read out line by line (``GET /bills/{id}/explain``), styled for paper."""
    bill, explanation = data.bill_explanation(
        container, user.principal, account_number, bill_id, request_language(request)
    )
    context = {"url": household_url(account_number), "account_number": account_number, "bill": bill}
    return render(request, "households/bill.html", {**context, "explanation": explanation})


@router.get("/{account_number}/history")
def history_page(account_number: AccountPath, request: Request, user: WebUser, container: WebContainer) -> Response:
    """The household's history, a page at a time (masked as the API masks it for the role)."""
    cursor = request.query_params.get("cursor") or None
    view = data.history_page(container, user.principal, account_number, cursor, request_language(request), request)
    return render(request, "households/history.html", {"view": view, "url": household_url(account_number)})


# -- actions ------------------------------------------------------------------------------------------


def _act(
    request: Request,
    user: CsrfChecked,
    container: Container,
    account_number: str,
    action: str,
    fields: dict[str, str],
    do: Callable[[Principal], None],
) -> Response:
    """Run one action of the household page: the permission first (403 for a role that may not,
    however the form was sent), then the API's route function. Done: back to the page (303) saying
    what was done; refused: the page again with the form open, its values and why."""
    principal = user.principal
    principal.require(Permission.MANAGE_HOUSEHOLDS)
    try:
        do(principal)
    except (ValidationError, LedgerError) as error:
        values = data.filled(fields, _FORM_FIELDS.get(action, ()))
        return _household_page(request, container, principal, account_number, action, values, _refusal(error, request))
    # To the page's top, where the message saying what was done is shown.
    return RedirectResponse(f"{household_url(account_number)}?done={action}", status_code=303)


def _form(fields: dict[str, str], action: str) -> dict[str, str]:
    return data.filled(fields, _FORM_FIELDS[action])


@router.post("/{account_number}/area-correction")
def correct_area(
    account_number: AccountPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Correct the connected and heated areas from a day on (``POST …/area-corrections``)."""

    def do(principal: Principal) -> None:
        correction = AreaCorrection.model_validate(_form(fields, "area_correction"))
        household_routes.correct_household_area(account_number, correction, principal, container.ledger)

    return _act(request, user, container, account_number, "area_correction", fields, do)


@router.post("/{account_number}/suspension")
def suspend(
    account_number: AccountPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """报停 from a day on (``POST …/suspensions``)."""

    def do(principal: Principal) -> None:
        change = HeatingChange.model_validate(_form(fields, "suspension"))
        household_routes.suspend_household_heating(
            account_number, change, principal, container.ledger, _today(container)
        )

    return _act(request, user, container, account_number, "suspension", fields, do)


@router.post("/{account_number}/resumption")
def resume(
    account_number: AccountPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """恢复供热 from a day on (``POST …/resumptions``)."""

    def do(principal: Principal) -> None:
        change = HeatingChange.model_validate(_form(fields, "resumption"))
        household_routes.resume_household_heating(
            account_number, change, principal, container.ledger, _today(container)
        )

    return _act(request, user, container, account_number, "resumption", fields, do)


@router.post("/{account_number}/owner-change")
def change_owner(
    account_number: AccountPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """过户 from a day on (``POST …/owner-changes``): the season's bills split there."""

    def do(principal: Principal) -> None:
        change = OwnerChange.model_validate(_form(fields, "owner_change"))
        billing_routes.change_household_owner(account_number, change, principal, container.ledger)

    return _act(request, user, container, account_number, "owner_change", fields, do)


@router.post("/{account_number}/contact")
def set_contact(
    account_number: AccountPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Where the household's reminders go (``PUT …/contact``), replacing what was there."""

    def do(principal: Principal) -> None:
        contact = ContactInput.model_validate(_form(fields, "contact"))
        contact_routes.set_household_contact(account_number, contact, principal, container)

    return _act(request, user, container, account_number, "contact", fields, do)


@router.post("/{account_number}/contact/forget")
def forget_contact(
    account_number: AccountPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Erase the household's contact on its request (``DELETE …/contact``)."""

    def do(principal: Principal) -> None:
        contact_routes.forget_household_contact(account_number, principal, container)

    return _act(request, user, container, account_number, "contact_forget", fields, do)
