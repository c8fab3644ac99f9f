"""The meters pages (热表), ``/ui/meters``: the search (with the commissioning form), a meter's page
(facts, heat by day beside its energy register, readings, intervals far beyond the permissible
error with the decision about each), one reading with its correction and void forms, the readings
withdrawn, the verifications (JJG 225) with the form recording one, and the lifecycle forms:
attach, detach, swap (换表), decommission (停用).

Reading needs ``read_ledger``; every action needs ``manage_meters`` (clerks, customer service,
admins). Each action is the API's own route function with the page's principal
(``api.routers.meters``, ``households``, ``lifecycle``, ``heat_decisions``): the same schema reads
the form (``meter_forms``), the same service checks and records it. The permission is checked
before the form is read, so a role that may not act gets 403 however the request was made.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api.i18n import Language
from api.routers import heat_decisions as heat_decision_routes
from api.routers import households as household_routes
from api.routers import lifecycle as lifecycle_routes
from api.routers import meters as meter_routes
from api.schemas.common import KEY_MAX_LENGTH
from api.web.pages import meter_forms as forms
from api.web.pages import meters_data as data
from api.web.pages.billing_common import code_name
from api.web.pages.casework_common import FormFields, FormRefusal, WebContainer, page_number, query_without_page
from api.web.pages.casework_forms import business_moment
from api.web.rendering import render, translate
from api.web.session import CsrfChecked, WebUser, is_htmx, request_language
from application.authorization import Permission, Principal
from domain.day_split import BUSINESS_TIME_ZONE, business_day
from domain.errors import ConflictError, LedgerError, NotFoundError
from domain.implausible_heat import HeatDecision
from domain.values import AccuracyClass, FlowSensorSide, MeterKind, ReadingSource
from infrastructure.container import Container

router = APIRouter(prefix="/ui/meters", include_in_schema=False)

BASE = "/ui/meters"
SerialPath = Annotated[str, Path(min_length=1, max_length=KEY_MAX_LENGTH)]
# What the meter's page offers to do, each a form; a refused one is shown open again.
METER_ACTIONS = ("attachment", "detachment", "replacement", "decommissioning", "heat_decision")
# What the pages say was done (``?done=``), after the redirect.
DONE = frozenset({*METER_ACTIONS, "commissioning", "correction", "void", "verification"})


def meter_url(serial: str) -> str:
    """The URL of a meter's page."""
    return f"{BASE}/{quote(serial, safe='')}"


def _today(container: Container) -> Any:
    return business_day(container.ledger.clock())


def _done(request: Request) -> str:
    done = request.query_params.get("done", "")
    return done if done in DONE else ""


def _requiring(principal: Principal, permission: Permission) -> Principal:
    """The principal, once it holds ``permission``: a refused role is a 403 page before its form is
    read (the service checks the same permission again)."""
    principal.require(permission)
    return principal


def choices() -> dict[str, list[Any]]:
    """The values the forms offer (their names come from the catalogue)."""
    return {
        "accuracy_classes": [value.value for value in AccuracyClass],
        "sides": [side.value for side in FlowSensorSide],
        "kinds": [kind.value for kind in MeterKind],
        "sources": [source.value for source in ReadingSource if source is not ReadingSource.ESTIMATE],
        "decisions": [decision.value for decision in HeatDecision],
        "point_rows": list(range(1, forms.POINT_ROWS + 1)),
    }


def naming(language: Language) -> dict[str, Any]:
    """The naming helpers every meters and monitoring template gets: ``options(codes, prefix)`` gives
    a select's (code, name) pairs, ``state_of(meter)`` where a meter stands
    (``meters_data.meter_state``), ``code_name(prefix, code)`` a code's name (the code itself when
    the catalogue has none, e.g. a rule added after the page)."""

    def options(codes: list[str], prefix: str) -> list[tuple[str, str]]:
        return [(code, translate(prefix + code, language)) for code in codes]

    def named(prefix: str, code: str) -> str:
        return code_name(prefix, language)(code)

    return {"options": options, "state_of": data.meter_state, "code_name": named}


def local_input(moment: datetime | None) -> str:
    """A moment as a ``datetime-local`` field shows it: Beijing time to the second."""
    if moment is None:
        return ""
    return moment.astimezone(BUSINESS_TIME_ZONE).replace(tzinfo=None).isoformat(timespec="seconds")


# -- the search and commissioning -------------------------------------------------------------------


@router.get("")
def search_page(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Meters found by a part of the serial, community, building, kind and state; as the user
    types, htmx asks for the results block only. ``?commission=<serial>`` opens the commissioning
    form with that serial (the unknown-meters list links here)."""
    if "commission" not in request.query_params:
        return _search_page(request, container, user.principal)
    values = {"serial": request.query_params["commission"].strip(), "kind": MeterKind.HOUSEHOLD.value}
    return _search_page(request, container, user.principal, "commissioning", values)


def _search_page(
    request: Request,
    container: Container,
    principal: Principal,
    action: str = "",
    values: dict[str, str] | None = None,
    refusal: FormRefusal | None = None,
) -> Response:
    language = request_language(request)
    query = {name: value for name, value in request.query_params.items() if name in data.SEARCH_FIELDS}
    found = data.search(container, principal, query, page_number(request.query_params.get("page")), language)
    context = {
        "found": found,
        "filters": urlencode(found.values),
        "action": action,
        "values": values or {},
        "refusal": refusal or FormRefusal(status=200),
        "done": _done(request),
        **data.search_choices(),
        **choices(),
        **naming(request_language(request)),
    }
    block = "results" if is_htmx(request) and request.headers.get("hx-target") == "results" else None
    # Filters the schema refuses: said beside each field, with 422. The block typed into gets 200,
    # or htmx would not swap it in (the half-typed text would leave old results standing).
    status = refusal.status if refusal is not None else 200
    if found.refusal.fields and block is None and refusal is None:
        status = found.refusal.status
    return render(request, "meters/search.html", context, block_name=block, status_code=status)


@router.post("")
def commission(request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields) -> Response:
    """Put a meter into service (``POST /meters``) and show its page; refused, the form again."""
    principal = _requiring(user.principal, Permission.MANAGE_METERS)
    try:
        body = forms.commissioning_input(fields)
        done = meter_routes.commission_meter(body, principal, container.ledger, Response())
    except (ValidationError, LedgerError) as error:
        refusal = forms.refusal_of(error, request_language(request))
        return _search_page(request, container, principal, "commissioning", fields, refusal)
    return RedirectResponse(f"{meter_url(done.serial)}?done=commissioning", status_code=303)


# -- one meter -------------------------------------------------------------------------------------------


@router.get("/{serial}")
def meter_page(serial: SerialPath, request: Request, user: WebUser, container: WebContainer) -> Response:
    """A meter: facts, heat by day beside its register, a page of readings, the intervals far
    beyond the permissible error, and the forms of the actions the user's role may take."""
    return _meter_page(request, container, user.principal, serial)


def _meter_page(
    request: Request,
    container: Container,
    principal: Principal,
    serial: str,
    action: str = "",
    values: dict[str, str] | None = None,
    refusal: FormRefusal | None = None,
) -> Response:
    language = request_language(request)
    page = page_number(request.query_params.get("page"))
    view = data.meter_view(container, principal, serial, page, _today(container), language)
    context = {
        "view": view,
        "meter": view.meter,
        "url": meter_url(view.meter.serial),
        "action": action,
        "values": values or {},
        "refusal": refusal or FormRefusal(status=200),
        "done": _done(request),
        "now_input": local_input(container.ledger.clock()),
        "local_input": local_input,
        **choices(),
        **naming(request_language(request)),
    }
    status = refusal.status if refusal is not None else 200
    return render(request, "meters/detail.html", context, status_code=status)


def _act(
    request: Request,
    user: CsrfChecked,
    container: Container,
    serial: str,
    action: str,
    fields: dict[str, str],
    do: Callable[[Principal], None],
    renamed: dict[str, str] | None = None,
) -> Response:
    """Run one action of the meter's page: the permission first (403 for a role that may not,
    however the form was sent), then the API's route function. Done: back to the page (303) saying
    what was done; refused: the page again with the form open, its values and why."""
    principal = _requiring(user.principal, Permission.MANAGE_METERS)
    try:
        do(principal)
    except (ValidationError, LedgerError) as error:
        refusal = forms.refusal_of(error, request_language(request), renamed)
        return _meter_page(request, container, principal, serial, action, fields, refusal)
    return RedirectResponse(f"{meter_url(serial)}?done={action}#actions", status_code=303)


@router.post("/{serial}/attachment")
def attach(
    serial: SerialPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Fit the meter in a household from a moment on (``POST /households/{account}/meters``)."""

    def do(principal: Principal) -> None:
        account, attachment = forms.attachment_input(serial, fields)
        household_routes.attach_meter(account, attachment, principal, container.ledger)

    return _act(request, user, container, serial, "attachment", fields, do)


@router.post("/{serial}/detachment")
def detach(
    serial: SerialPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Take the meter off its household from a moment on (``POST /meters/{serial}/detachments``)."""

    def do(principal: Principal) -> None:
        meter_routes.detach_meter(serial, forms.detachment_input(fields), principal, container.ledger)

    return _act(request, user, container, serial, "detachment", fields, do)


@router.post("/{serial}/replacement")
def replace(
    serial: SerialPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Swap this meter for a commissioned one in its household (换表,
    ``POST /households/{account}/meter-replacements``): final and initial readings at one moment."""

    def do(principal: Principal) -> None:
        replacement = forms.replacement_input(serial, fields)
        account = data.meter_detail(container, principal, serial).household_account_number
        if account is None:
            raise ConflictError(
                "the meter is not attached to a household", message_key="meter_not_attached", meter_serial=serial
            )
        lifecycle_routes.replace_household_meter(account, replacement, principal, container.ledger)

    return _act(request, user, container, serial, "replacement", fields, do, {"measured_at": forms.SWAP_MOMENT})


@router.post("/{serial}/decommissioning")
def decommission(
    serial: SerialPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Take the meter out of service for good (停用, ``POST /meters/{serial}/decommissioning``)."""

    def do(principal: Principal) -> None:
        lifecycle_routes.decommission_meter(serial, forms.decommissioning_input(fields), principal, container.ledger)

    return _act(request, user, container, serial, "decommissioning", fields, do)


@router.post("/{serial}/heat-decision")
def decide_heat(
    serial: SerialPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Decide about an interval far beyond the permissible error (``POST /meters/{serial}/heat-decisions``):
    bill as measured, estimate, or hold until a verification."""

    def do(principal: Principal) -> None:
        body = forms.heat_decision_input(fields)
        heat_decision_routes.decide_implausible_heat(serial, body, principal, container, Response())

    # A refused form opens again under its interval, which the page names by its UTC time.
    shown = fields | {"interval_start": _utc_text(fields.get("interval_start", ""))}
    return _act(request, user, container, serial, "heat_decision", shown, do)


def _utc_text(text: str) -> str:
    """A moment as the page writes it (ISO 8601 in UTC); text that is no moment stays as it is."""
    try:
        return datetime.fromisoformat(business_moment(text)).astimezone(UTC).isoformat()
    except ValueError:
        return text


# -- one reading: correct or withdraw it -------------------------------------------------------------------


@router.get("/{serial}/reading")
def reading_page(serial: SerialPath, request: Request, user: WebUser, container: WebContainer) -> Response:
    """One reading (``?at=`` its exact time) with the correction and void forms."""
    return _reading_page(request, container, user.principal, serial, request.query_params.get("at", ""))


def _reading_page(
    request: Request,
    container: Container,
    principal: Principal,
    serial: str,
    at: str,
    action: str = "",
    values: dict[str, str] | None = None,
    refusal: FormRefusal | None = None,
) -> Response:
    measured_at = _moment(at)
    reading = data.reading_at(container, principal, serial, measured_at)
    meter = data.meter_detail(container, principal, serial)
    typed = values or {}
    context = {
        "meter": meter,
        "reading": reading,
        "url": meter_url(meter.serial),
        "at": reading.measured_at.isoformat(),
        "action": action,
        "correction_values": _reading_values(reading) | (typed if action == "correction" else {}),
        "void_values": typed if action == "void" else {},
        "refusal": refusal or FormRefusal(status=200),
        **choices(),
        **naming(request_language(request)),
    }
    status = refusal.status if refusal is not None else 200
    return render(request, "meters/reading.html", context, status_code=status)


def _moment(text: str) -> datetime:
    """The reading's time from ``?at=`` (a 404 page for anything that is not a moment)."""
    try:
        moment = datetime.fromisoformat(business_moment(text.strip()))
    except ValueError:
        raise NotFoundError(f"no reading at {text!r}", kind="reading", key=text) from None
    return moment


def _reading_values(reading: Any) -> dict[str, str]:
    """The correction form prefilled with the reading as recorded (its source becomes manual)."""
    values = {f"corrected_{name}": _plain(getattr(reading, name)) for name in forms.READING_FIELDS[1:-1]}
    return values | {"corrected_measured_at": local_input(reading.measured_at), "corrected_source": "manual"}


def _plain(value: Any) -> str:
    """A recorded value as a clerk types it: exact, without the stored scale's trailing zeros."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _reading_act(
    request: Request,
    user: CsrfChecked,
    container: Container,
    serial: str,
    action: str,
    fields: dict[str, str],
    do: Callable[[Principal], None],
) -> Response:
    """Correct or withdraw the reading; refused, its page again with the form and why."""
    principal = _requiring(user.principal, Permission.MANAGE_METERS)
    try:
        do(principal)
    except (ValidationError, LedgerError) as error:
        refusal = forms.refusal_of(error, request_language(request), {"measured_at": "corrected_measured_at"})
        return _reading_page(
            request, container, principal, serial, fields.get("measured_at", ""), action, fields, refusal
        )
    return RedirectResponse(f"{meter_url(serial)}?done={action}#readings", status_code=303)


@router.post("/{serial}/reading/correction")
def correct_reading(
    serial: SerialPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Replace the reading by corrected values (更正, ``POST /meters/{serial}/reading-corrections``)."""

    def do(principal: Principal) -> None:
        lifecycle_routes.correct_meter_reading(serial, forms.correction_input(fields), principal, container.ledger)

    return _reading_act(request, user, container, serial, "correction", fields, do)


@router.post("/{serial}/reading/void")
def void_reading(
    serial: SerialPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Withdraw the reading (作废, ``POST /meters/{serial}/reading-voids``)."""

    def do(principal: Principal) -> None:
        lifecycle_routes.void_meter_reading(serial, forms.void_input(fields), principal, container.ledger)

    return _reading_act(request, user, container, serial, "void", fields, do)


# -- corrections and verifications ---------------------------------------------------------------------


@router.get("/{serial}/corrections")
def corrections(serial: SerialPath, request: Request, user: WebUser, container: WebContainer) -> Response:
    """The readings withdrawn from the meter (voided or corrected), the latest withdrawn first."""
    meter = data.meter_detail(container, user.principal, serial)
    page = page_number(request.query_params.get("page"))
    rows, paging = data.corrections_page(container, user.principal, serial, page)
    context = {"meter": meter, "url": meter_url(meter.serial), "rows": rows, "paging": paging}
    return render(request, "meters/corrections.html", context)


@router.get("/{serial}/verifications")
def verifications(serial: SerialPath, request: Request, user: WebUser, container: WebContainer) -> Response:
    """The meter's verifications (JJG 225), each point with its MPE and verdict, and the form."""
    return _verifications_page(request, container, user.principal, serial)


def _verifications_page(
    request: Request,
    container: Container,
    principal: Principal,
    serial: str,
    values: dict[str, str] | None = None,
    refusal: FormRefusal | None = None,
) -> Response:
    meter = data.meter_detail(container, principal, serial)
    page = page_number(request.query_params.get("page"))
    rows, paging = data.verifications_page(container, principal, serial, page)
    context = {
        "meter": meter,
        "url": meter_url(meter.serial),
        "rows": rows,
        "paging": paging,
        "filters": query_without_page(request),
        "values": values or {},
        "refusal": refusal or FormRefusal(status=200),
        "done": _done(request),
        **choices(),
        **naming(request_language(request)),
    }
    status = refusal.status if refusal is not None else 200
    return render(request, "meters/verifications.html", context, status_code=status)


@router.post("/{serial}/verifications")
def record_verification(
    serial: SerialPath, request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields
) -> Response:
    """Record a verification (``POST /meters/{serial}/verifications``): each point judged against
    the class's MPE there; refused, the form again with its values and why."""
    principal = _requiring(user.principal, Permission.MANAGE_METERS)
    try:
        lifecycle_routes.record_meter_verification(
            serial, forms.verification_input(fields), principal, container.ledger
        )
    except (ValidationError, LedgerError) as error:
        refusal = forms.refusal_of(error, request_language(request))
        return _verifications_page(request, container, principal, serial, fields, refusal)
    return RedirectResponse(f"{meter_url(serial)}/verifications?done=verification", status_code=303)
