"""The meters pages' forms read into the API's own request models: what a clerk types into the
commissioning, attachment, detachment, swap, decommissioning, verification, reading correction,
void or heat-decision form is validated exactly as the JSON body of the matching API route would
be (``api.schemas.meters``, ``households``, ``lifecycle``, ``heat_decisions``).

A form field is named after the place of its value in the API's body: the parts of the location
joined by ``_``, a list's items counted from 1 (``corrected.energy_gj`` is ``corrected_energy_gj``,
``points[0].flow_rate_m3_h`` is ``points_1_flow_rate_m3_h``). So a schema error's location names
its field, and the error is shown beside it. A blank field is left out, as the API's bodies leave
out what is not given; a time typed into a ``datetime-local`` field is Beijing time
(``casework_forms.business_moment``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from api.messages import Language, describe_error, render
from api.problems import status_of
from api.schemas.common import KEY_MAX_LENGTH
from api.schemas.heat_decisions import HeatDecisionRequest
from api.schemas.households import MeterAttachment
from api.schemas.lifecycle import (
    MeterDecommissioning,
    MeterReplacement,
    MeterVerificationInput,
    ReadingCorrection,
    ReadingVoid,
)
from api.schemas.meters import MeterCommissioning, MeterDetachment
from api.web.pages.casework_common import FormRefusal
from api.web.pages.casework_forms import business_moment, given
from domain.errors import LedgerError

Form = Mapping[str, str]

# The values of a reading a clerk may type (the batch item's fields without the meter).
READING_FIELDS = (
    "measured_at",
    "energy_gj",
    "volume_m3",
    "operating_hours",
    "flow_temperature_c",
    "return_temperature_c",
    "flow_rate_m3_h",
    "power_kw",
    "error_flags",
    "source",
)
COMMISSIONING_FIELDS = (
    "serial",
    "maker",
    "model",
    "accuracy_class",
    "flow_sensor_side",
    "kind",
    "commissioned_at",
    "community",
    "building",
    "permanent_flow_m3_h",
    "maximum_flow_m3_h",
    "minimum_temperature_c",
    "maximum_temperature_c",
    "minimum_temperature_difference_k",
    "energy_register_width_gj",
    "volume_register_width_m3",
    "reason",
)
POINT_FIELDS = ("flow_rate_m3_h", "temperature_difference_k", "measured_error_percent")
# The verification form's rows of test points (JJG 225 tests a handful; the API takes up to 50).
POINT_ROWS = 6
# Fields whose text is a moment (a ``datetime-local`` field means Beijing time).
MOMENT_FIELDS = frozenset(
    {
        "measured_at",
        "commissioned_at",
        "attached_at",
        "detached_at",
        "decommissioned_at",
        "interval_start",
        "swapped_at",
    }
)
# The swap form asks for one moment: the final and the initial reading are taken at it.
SWAP_MOMENT = "swapped_at"
_SWAP_MOMENT_FIELDS = frozenset({"final_reading_measured_at", "initial_reading_measured_at"})


def body_of(form: Form, names: tuple[str, ...], prefix: str = "") -> dict[str, str]:
    """The named fields that hold text, without the prefix, moments in Beijing time."""
    values = given(form, names, prefix=prefix)
    return {name: business_moment(value) if name in MOMENT_FIELDS else value for name, value in values.items()}


def commissioning_input(form: Form) -> MeterCommissioning:
    """``POST /meters``'s body from the commissioning form."""
    return MeterCommissioning.model_validate(body_of(form, COMMISSIONING_FIELDS))


def attachment_input(serial: str, form: Form) -> tuple[str, MeterAttachment]:
    """The account (``POST /households/{account}/meters``) and the attachment of this meter."""
    account = _Household.model_validate(given(form, ("account_number",))).account_number
    return account, MeterAttachment.model_validate({"serial": serial} | body_of(form, ("attached_at", "reason")))


class _Household(BaseModel):
    """The household a meter is fitted in: the path of ``POST /households/{account_number}/meters``."""

    account_number: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)


def detachment_input(form: Form) -> MeterDetachment:
    """``POST /meters/{serial}/detachments``'s body."""
    return MeterDetachment.model_validate(body_of(form, ("detached_at", "reason")))


def decommissioning_input(form: Form) -> MeterDecommissioning:
    """``POST /meters/{serial}/decommissioning``'s body."""
    return MeterDecommissioning.model_validate(body_of(form, ("decommissioned_at", "reason")))


def replacement_input(old_serial: str, form: Form) -> MeterReplacement:
    """``POST /households/{account}/meter-replacements``'s body: this meter off, ``new_serial`` on,
    the final and the initial reading both taken at the one moment the form asks for."""
    moment = body_of(form, (SWAP_MOMENT,))
    readings = {
        name: body_of(form, READING_FIELDS[1:], prefix=f"{name}_") | _moment_of(moment)
        for name in ("final_reading", "initial_reading")
    }
    body: dict[str, Any] = {"old_serial": old_serial, **body_of(form, ("new_serial", "reason")), **readings}
    return MeterReplacement.model_validate(body)


def _moment_of(moment: dict[str, str]) -> dict[str, str]:
    return {"measured_at": moment[SWAP_MOMENT]} if SWAP_MOMENT in moment else {}


def correction_input(form: Form) -> ReadingCorrection:
    """``POST /meters/{serial}/reading-corrections``'s body: the reading replaced (its exact time,
    a hidden field) and its corrected values."""
    corrected = body_of(form, READING_FIELDS, prefix="corrected_")
    return ReadingCorrection.model_validate(body_of(form, ("measured_at", "reason")) | {"corrected": corrected})


def void_input(form: Form) -> ReadingVoid:
    """``POST /meters/{serial}/reading-voids``'s body."""
    return ReadingVoid.model_validate(body_of(form, ("measured_at", "reason")))


def verification_input(form: Form) -> MeterVerificationInput:
    """``POST /meters/{serial}/verifications``'s body: the rows of test points that hold anything
    (a half-filled row is kept, for the schema to say what it lacks)."""
    points = [
        row for index in range(1, POINT_ROWS + 1) if (row := body_of(form, POINT_FIELDS, prefix=f"points_{index}_"))
    ]
    body: dict[str, Any] = body_of(form, ("verified_on", "certificate", "reason")) | {"points": points}
    return MeterVerificationInput.model_validate(body)


def heat_decision_input(form: Form) -> HeatDecisionRequest:
    """``POST /meters/{serial}/heat-decisions``'s body (the interval's start is a hidden field)."""
    return HeatDecisionRequest.model_validate(body_of(form, ("interval_start", "decision", "reason")))


# -- refusals -----------------------------------------------------------------------------------------


def form_field(location: tuple[Any, ...]) -> str:
    """The form field a schema error's location names (see the module docstring)."""
    parts = [str(part + 1) if isinstance(part, int) else str(part) for part in location]
    name = "_".join(parts)
    return SWAP_MOMENT if name in _SWAP_MOMENT_FIELDS else name


def field_errors(error: ValidationError, language: Language) -> dict[str, str]:
    """What is wrong with each field, in ``language`` (the API's validation messages); the first
    error of a field only."""
    found: dict[str, str] = {}
    for item in error.errors():
        params = dict(item.get("ctx") or {})
        message = render([f"validation.{item['type']}"], params, language, str(item.get("msg", "")))
        found.setdefault(form_field(tuple(item.get("loc", ()))), message)
    return found


def refusal_of(
    error: ValidationError | LedgerError, language: Language, fields: dict[str, str] | None = None
) -> FormRefusal:
    """Why a form was refused: the schema's errors beside their fields; the ledger's refusal above
    the form and, when it names a field (``params.field``), beside it too. ``fields`` renames the
    API's field names to the form's (a swap's ``measured_at`` is the form's ``swapped_at``)."""
    if isinstance(error, ValidationError):
        return FormRefusal("", field_errors(error, language), 422)
    message = describe_error(error, language)
    named = error.params.get("field")
    beside = {}
    if isinstance(named, str):
        beside = {(fields or {}).get(named, named): message}
    return FormRefusal(message, beside, status_of(error))
