"""The meters pages' parts that need no browser: the words of every value a page names by a computed
key (the catalogue test sees literal keys only), the forms read into the API's bodies (a property:
whatever values the form carries come back as the body the API would take), and the form field
each schema error is shown beside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from api.i18n import has_message
from api.messages import Language
from api.schemas.lifecycle import MeterReplacement, MeterVerificationInput, ReadingCorrection
from api.schemas.meters import MeterDetail
from api.schemas.readings import MAXIMUM_ERROR_FLAGS
from api.web.pages import meter_forms as forms
from api.web.pages import meters as pages
from api.web.pages import monitoring
from api.web.pages.meters_data import meter_state
from domain.implausible_heat import HeatDecision
from domain.rated_limits import LimitRule
from domain.values import AccuracyClass, FlowSensorSide, MeterKind, ReadingSource
from infrastructure.intake import Channel
from projections.queries import MeterState

BEIJING = timedelta(hours=8)
# Every family of keys a template builds from a value (``"web.meters.kind." ~ meter.kind``).
COMPUTED_KEYS = {
    "web.meters.kind.": [kind.value for kind in MeterKind],
    "web.meters.state.": ["attached", "unattached", "faulty", "decommissioned"],
    "web.meters.search_state.": [state.value for state in MeterState],
    "web.meters.side.": [side.value for side in FlowSensorSide],
    "web.meters.class_option.": [value.value for value in AccuracyClass],
    "web.meters.source.": [source.value for source in ReadingSource],
    "web.meters.decision.": [decision.value for decision in HeatDecision],
    "web.meters.done.": sorted(pages.DONE),
    "web.monitoring.channel.": [channel.value for channel in Channel],
    "web.monitoring.rule.": [rule.value for rule in LimitRule],
    "web.monitoring.scope.": ["reading", "interval"],
    "web.monitoring.": [
        f"{listing.key}.{part}" for listing in monitoring.LISTINGS for part in ("title", "hint", "empty")
    ],
}


def test_every_value_a_page_names_has_words_in_both_languages() -> None:
    missing = [prefix + value for prefix, values in COMPUTED_KEYS.items() for value in values]
    assert [key for key in missing if not has_message(key)] == []


def _record(serial: str, kind: str = "household", **changes: Any) -> MeterDetail:
    fields: dict[str, Any] = {
        "serial": serial,
        "maker": "Kamstrup",
        "model": "MULTICAL 403",
        "accuracy_class": "2",
        "flow_sensor_side": "return",
        "kind": kind,
        "community": None,
        "building": None,
        "commissioned_at": datetime(2025, 10, 15, 1, tzinfo=UTC),
        "household_account_number": None,
        "readings_count": 0,
        "last_reading": None,
        "error_flags": 0,
        "fault_since": None,
        "decommissioned_at": None,
        "last_verified_on": None,
        "last_verification_passed": None,
    }
    return MeterDetail(**(fields | changes))


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({}, "unattached"),
        ({"household_account_number": "WZ-0001"}, "attached"),
        ({"kind": "building"}, "attached"),  # a building meter sits in its building from commissioning
        ({"household_account_number": "WZ-0001", "error_flags": 4}, "faulty"),
        ({"error_flags": 4, "decommissioned_at": datetime(2025, 12, 1, tzinfo=UTC)}, "decommissioned"),
    ],
)
def test_where_a_meter_stands(changes: dict[str, Any], state: str) -> None:
    assert meter_state(_record("HM-1", **changes)) == state


# -- forms read into the API's bodies -------------------------------------------------------------------

REGISTERS = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)
INSTANTS = st.none() | st.decimals(min_value=-50, max_value=200, places=3, allow_nan=False, allow_infinity=False)
MOMENTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0)
)
REASONS = st.text(alphabet=st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=40).filter(
    lambda text: text.strip() == text and text.strip()
)


def _local(moment: datetime) -> str:
    """A moment as a ``datetime-local`` field sends it (Beijing time, no zone)."""
    return moment.isoformat(timespec="seconds")


def _utc(local: datetime) -> datetime:
    return (local - BEIJING).replace(tzinfo=UTC)


@given(
    original=MOMENTS,
    corrected_at=MOMENTS,
    energy=REGISTERS,
    volume=st.none() | REGISTERS,
    flow=INSTANTS,
    back=INSTANTS,
    flags=st.integers(min_value=0, max_value=MAXIMUM_ERROR_FLAGS),
    source=st.sampled_from([source.value for source in ReadingSource]),
    reason=REASONS,
)
def test_the_correction_form_gives_the_apis_body(
    original: datetime,
    corrected_at: datetime,
    energy: Decimal,
    volume: Decimal | None,
    flow: Decimal | None,
    back: Decimal | None,
    flags: int,
    source: str,
    reason: str,
) -> None:
    corrected: dict[str, Any] = {"measured_at": _utc(corrected_at).isoformat(), "energy_gj": str(energy)}
    corrected |= {"error_flags": flags, "source": source}
    optional = {"volume_m3": volume, "flow_temperature_c": flow, "return_temperature_c": back}
    corrected |= {name: str(value) for name, value in optional.items() if value is not None}
    body = {"measured_at": _utc(original).isoformat(), "corrected": corrected, "reason": reason}
    form = {
        "measured_at": _utc(original).isoformat(),  # the hidden field: the reading's exact time
        "corrected_measured_at": _local(corrected_at),
        "corrected_energy_gj": str(energy),
        "corrected_error_flags": str(flags),
        "corrected_source": source,
        "reason": reason,
    } | {f"corrected_{name}": "" if value is None else str(value) for name, value in optional.items()}

    assert forms.correction_input(form) == ReadingCorrection.model_validate(body)


@given(
    swapped_at=MOMENTS,
    final=REGISTERS,
    initial=REGISTERS,
    volumes=st.tuples(st.none() | REGISTERS, st.none() | REGISTERS),
)
def test_the_swap_form_takes_both_readings_at_its_one_moment(
    swapped_at: datetime, final: Decimal, initial: Decimal, volumes: tuple[Decimal | None, Decimal | None]
) -> None:
    moment = _utc(swapped_at).isoformat()
    readings = {
        name: {"measured_at": moment, "energy_gj": str(energy)}
        | ({"volume_m3": str(volume)} if volume is not None else {})
        for name, energy, volume in (("final_reading", final, volumes[0]), ("initial_reading", initial, volumes[1]))
    }
    form = {
        "new_serial": "HM-2",
        "swapped_at": _local(swapped_at),
        "final_reading_energy_gj": str(final),
        "final_reading_volume_m3": "" if volumes[0] is None else str(volumes[0]),
        "initial_reading_energy_gj": str(initial),
        "initial_reading_volume_m3": "" if volumes[1] is None else str(volumes[1]),
        "reason": "display failed",
    }
    body = {"old_serial": "HM-1", "new_serial": "HM-2", "reason": "display failed", **readings}

    assert forms.replacement_input("HM-1", form) == MeterReplacement.model_validate(body)


POINTS = st.tuples(
    st.decimals(min_value=Decimal("0.001"), max_value=100, places=3),
    st.decimals(min_value=Decimal("0.001"), max_value=100, places=3),
    st.decimals(min_value=-50, max_value=50, places=3),
)


@given(rows=st.lists(st.none() | POINTS, min_size=forms.POINT_ROWS, max_size=forms.POINT_ROWS))
def test_the_verification_form_keeps_the_filled_rows_in_order(
    rows: list[tuple[Decimal, Decimal, Decimal] | None],
) -> None:
    form = {"verified_on": "2025-12-08", "certificate": "JD-1", "reason": ""}
    for index, row in enumerate(rows, start=1):
        for name, value in zip(forms.POINT_FIELDS, row or ("", "", ""), strict=True):
            form[f"points_{index}_{name}"] = str(value)
    points = [dict(zip(forms.POINT_FIELDS, (str(value) for value in row), strict=True)) for row in rows if row]
    body = {"verified_on": "2025-12-08", "certificate": "JD-1", "points": points}

    assert forms.verification_input(form) == MeterVerificationInput.model_validate(body)


# -- refusals beside their field ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        ({"measured_at": "2025-12-05T00:00:00+08:00", "corrected_energy_gj": "x"}, {"corrected_energy_gj", "reason"}),
        ({"new_serial": "HM-2", "reason": "r"}, {"swapped_at", "final_reading_energy_gj", "initial_reading_energy_gj"}),
        ({"verified_on": "2025-12-08", "points_3_flow_rate_m3_h": "1"}, {"points_1_temperature_difference_k"}),
    ],
)
def test_each_schema_error_is_named_by_a_field_of_its_form(form: dict[str, str], fields: set[str]) -> None:
    read = {
        "corrected_energy_gj": forms.correction_input,
        "new_serial": lambda values: forms.replacement_input("HM-1", values),
        "verified_on": forms.verification_input,
    }[next(iter(form.keys() & {"corrected_energy_gj", "new_serial", "verified_on"}))]

    with pytest.raises(ValidationError) as refused:
        read(form)

    named = set(forms.field_errors(refused.value, Language.ZH))
    assert fields <= named, named
