"""The casework pages' forms read into the API's own request models: what a clerk types into a
dispute's, a step's, a resolution's or a scenario's form is validated exactly as the JSON body of
``POST /disputes``, ``POST /disputes/{id}/steps``, ``…/resolution``, ``…/approval``,
``…/withdrawal`` or ``POST /scenarios`` would be (``api.schemas.disputes``, ``api.schemas.scenarios``).

An HTML form sends every field, the blank ones as empty text; the API's bodies leave out what is
not given. So a blank field is left out here, and a pydantic ValidationError names the same fields
(dotted: ``subject.bill_id``, ``variants[0].label``) as the API's 422 would.

Times typed into a ``datetime-local`` field carry no zone: the clerk means Beijing time, the
business time of the ledger (Asia/Shanghai), as every device in the city reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError

from api.messages import Language, render
from api.schemas.disputes import ApprovalInput, DisputeInput, ResolutionInput, StepInput, WithdrawalInput
from api.schemas.scenarios import ScenarioSubmission
from domain.scenario import MAXIMUM_VARIANTS

BUSINESS_ZONE = ZoneInfo("Asia/Shanghai")
# The fields of a dispute's subject, as the form names them (subject_<name>).
SUBJECT_FIELDS = ("bill_id", "meter_serial", "measured_at", "payment_id", "payment_reference", "season_code")
# What each step's form may send besides ``kind`` and ``reason``.
STEP_FIELDS = (
    "meter_serial",
    "verified_on",
    "certificate",
    "visited_on",
    "findings",
    "visited_by",
    "measured_at",
    "correction_correlation_id",
    "replacement_correlation_id",
    "bill_id",
    "message",
    "channel",
)
# The variant fields the scenario form offers (the others keep the household's actual ones).
VARIANT_FIELDS = (
    "area_price_yuan_per_m2",
    "base_share_percent",
    "energy_price_yuan_per_gj",
    "policy",
    "cap_percent",
    "suspension_share_percent",
    "minimum_charge_yuan",
)
SCENARIO_FIELDS = ("season", "title", "community", "building", "customer_class", "as_of")
_STEP = TypeAdapter(StepInput)
# The tags of the step union: pydantic puts the step's kind in an error's location.
_STEP_KINDS = frozenset(
    {
        "verification_requested",
        "verification_result",
        "site_visit",
        "reading_corrected",
        "estimate_replaced",
        "recompute",
        "household_note",
    }
)

Form = Mapping[str, str]


def given(form: Form, names: tuple[str, ...], prefix: str = "") -> dict[str, str]:
    """The named fields that hold text (trimmed), without the prefix: blank fields are left out."""
    found: dict[str, str] = {}
    for name in names:
        value = str(form.get(prefix + name, "")).strip()
        if value:
            found[name] = value
    return found


def business_moment(text: str) -> str:
    """A moment as typed: with its zone it is kept; without (a ``datetime-local`` field) it is
    Beijing time. Text that is no time at all is kept, for the schema to refuse by name."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BUSINESS_ZONE)
    return moment.isoformat()


def _with_moments(values: dict[str, str]) -> dict[str, str]:
    return {name: business_moment(value) if name == "measured_at" else value for name, value in values.items()}


def dispute_input(form: Form) -> DisputeInput:
    """``POST /disputes``'s body from the opening form (fields ``subject_kind``, ``subject_<name>``,
    ``account_number``, ``category``, ``description``, ``disputed_amount_yuan``, ``channel``,
    ``reference``, ``reason``)."""
    subject: dict[str, Any] = {"kind": str(form.get("subject_kind", "")).strip()}
    subject |= _with_moments(given(form, SUBJECT_FIELDS, prefix="subject_"))
    body: dict[str, Any] = given(
        form, ("account_number", "category", "description", "disputed_amount_yuan", "channel", "reference", "reason")
    )
    return DisputeInput.model_validate(body | {"subject": subject})


def step_input(form: Form) -> Any:
    """``POST /disputes/{id}/steps``'s body from one step's form (``kind`` names the step)."""
    body: dict[str, Any] = {"kind": str(form.get("kind", "")).strip()}
    body |= _with_moments(given(form, (*STEP_FIELDS, "reason")))
    return _STEP.validate_python(body)


def resolution_input(form: Form) -> ResolutionInput:
    """``…/resolution``'s body: the outcome, its reason, and an amount only for ``partly``."""
    values = given(form, ("outcome", "amount_yuan", "reason"))
    if values.get("outcome") != "partly":
        values.pop("amount_yuan", None)  # the form keeps the field for the outcome that needs it
    return ResolutionInput.model_validate(values)


def approval_input(form: Form) -> ApprovalInput:
    """``…/resolution/approval``'s body: approve or refuse, and why."""
    return ApprovalInput.model_validate(given(form, ("decision", "reason")))


def withdrawal_input(form: Form) -> WithdrawalInput:
    """``…/withdrawal``'s body: why the household withdraws."""
    return WithdrawalInput.model_validate(given(form, ("reason",)))


def scenario_submission(form: Form) -> ScenarioSubmission:
    """``POST /scenarios``'s body from the scenario form: the season and scope, and the variant
    rows ``variant<i>_<field>`` (i from 1) that have a label. A row's ``variant<i>_from_actual``
    is a checkbox: ticked, the variant starts from each household's actual tariff."""
    body: dict[str, Any] = given(form, SCENARIO_FIELDS)
    body["variants"] = [
        variant for index in range(1, MAXIMUM_VARIANTS + 1) if (variant := _variant(form, index)) is not None
    ]
    return ScenarioSubmission.model_validate(body)


def _variant(form: Form, index: int) -> dict[str, Any] | None:
    prefix = f"variant{index}_"
    label = str(form.get(prefix + "label", "")).strip()
    if not label:
        return None
    prices: dict[str, Any] = given(form, VARIANT_FIELDS, prefix=prefix)
    return {"label": label, "from_actual": bool(form.get(prefix + "from_actual")), **prices}


def form_field(location: tuple[Any, ...]) -> str:
    """The form field a schema error is about: ``subject.bill_id`` is ``subject_bill_id``,
    ``variants[0].label`` is ``variant1_label``, a step's ``(kind, name)`` is ``name``; "" for the
    form as a whole."""
    parts = [part for part in location if part not in _STEP_KINDS]
    if len(parts) >= 3 and parts[0] == "variants" and isinstance(parts[1], int):
        return f"variant{parts[1] + 1}_{parts[2]}"
    if len(parts) >= 2 and parts[0] == "subject":
        return f"subject_{parts[1]}"
    names = [str(part) for part in parts if isinstance(part, str)]
    return names[-1] if names else ""


def field_errors(error: ValidationError, language: Language) -> dict[str, str]:
    """What is wrong with each field, in ``language`` (the API's validation messages), the first
    error of a field only."""
    found: dict[str, str] = {}
    for item in error.errors():
        params = dict(item.get("ctx") or {})
        message = render([f"validation.{item['type']}"], params, language, str(item.get("msg", "")))
        found.setdefault(form_field(tuple(item.get("loc", ()))), message)
    return found
