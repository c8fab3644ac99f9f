"""Histories in words: every event class of a household, meter, billing period, tariff and payment
has a summary in Chinese and English that fills from its own fields; masked fields stay masked in
the words; CSV rows carry headers in the caller's language and cannot smuggle a formula.

An event class added to one of these aggregates without a summary fails here.
"""

from __future__ import annotations

import csv
import io
import json
import types
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from api.history_text import (
    CSV_COLUMNS,
    DERIVED_PLACEHOLDERS,
    SUMMARIES,
    csv_row,
    history_csv,
    said,
    summarize,
    summary_placeholders,
)
from api.messages import Language
from application.history import AGGREGATES, MASK, HistoryEntry, event_classes, event_key
from domain.household import Household
from domain.meter import Meter

ZH, EN = Language.ZH, Language.EN
D = Decimal
MOMENT = datetime(2025, 11, 30, 16, 0, tzinfo=UTC)  # 2025-12-01 00:00 in Shanghai
EVENT_CLASSES = [event_class for aggregate in AGGREGATES.values() for event_class in event_classes(aggregate).values()]


def sample(annotation: Any) -> Any:
    """A value of an annotated payload type, for filling templates."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return sample(next(arg for arg in typing.get_args(annotation) if arg is not type(None)))
    origin = typing.get_origin(annotation) or annotation
    samples: dict[Any, Any] = {
        str: "text",
        int: 3,
        bool: True,
        Decimal: D("12.50"),
        datetime: MOMENT,
        date: date(2025, 12, 1),
        UUID: uuid4(),
        list: [],
        dict: {},
    }
    return samples.get(origin)  # a dataclass payload (an interval): not said in any summary


def entry_of(event_class: type[Any], details: dict[str, Any], masked: tuple[str, ...] = ()) -> HistoryEntry:
    return HistoryEntry(
        version=1,
        event_type=event_class.__name__,
        event_key=event_key(event_class),
        recorded_at=MOMENT,
        happened_at=None,
        effective_on=None,
        actor="clerk-wang",
        reason=MASK if "reason" in masked else "why",
        correlation_id=uuid4(),
        details=details,
        personal_fields=masked,
        masked=bool(masked),
    )


# The library's own fields of every event (an id typed by a type variable, the version, the time).
LIBRARY_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def sample_details(event_class: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(event_class)
    return {
        name: sample(annotation)
        for name, annotation in hints.items()
        if name not in LIBRARY_FIELDS and typing.get_origin(annotation) is not typing.ClassVar
    }


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=event_key)
def test_every_event_class_has_a_summary_in_both_languages(event_class: type[Any]) -> None:
    key = event_key(event_class)
    assert key in SUMMARIES, f"{key} has no summary: add one to api/history_text.py SUMMARIES"
    assert SUMMARIES[key].zh.strip() and SUMMARIES[key].en.strip()
    assert SUMMARIES[key].zh != SUMMARIES[key].en


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=event_key)
def test_every_summary_fills_from_its_event_s_own_fields(event_class: type[Any]) -> None:
    key = event_key(event_class)
    fields = set(typing.get_type_hints(event_class))
    assert summary_placeholders(key) <= fields | DERIVED_PLACEHOLDERS
    entry = entry_of(event_class, sample_details(event_class))
    for language in Language:
        text = summarize(entry, language)
        assert text != event_class.__name__ and "{" not in text, f"{key} did not fill in {language}"


def test_no_summary_is_left_for_an_event_class_that_no_longer_exists() -> None:
    assert set(SUMMARIES) == {event_key(event_class) for event_class in EVENT_CLASSES}


def test_a_registration_is_said_with_its_address_and_areas_and_masked_for_regulators() -> None:
    details = {
        "account_number": "WZ-0001",
        "community": "碧桂园",
        "building": "1",
        "entrance": "2",
        "floor": 6,
        "flat": "601",
        "connected_area_m2": D("98.50"),
        "heated_area_m2": D("90.00"),
        "customer_class": "residential",
        "registered_on": date(2025, 10, 1),
    }
    entry = entry_of(Household.Registered, details)
    assert (
        summarize(entry, ZH)
        == "开户：碧桂园1号楼2单元6层601室，建筑面积 98.50 m²，供热面积 90.00 m²，居民，2025-10-01 起"
    )
    assert summarize(entry, EN) == (
        "Registered: 碧桂园, building 1, entrance 2, floor 6, flat 601; connected area 98.50 m², "
        "heated area 90.00 m², residential, from 2025-10-01"
    )
    masked = entry_of(Household.Registered, details | {"entrance": MASK, "floor": MASK, "flat": MASK}, ("flat",))
    assert (
        summarize(masked, ZH)
        == "开户：碧桂园1号楼***单元***层***室，建筑面积 98.50 m²，供热面积 90.00 m²，居民，2025-10-01 起"
    )
    assert "601" not in summarize(masked, EN)


def test_a_reading_is_said_in_shanghai_time_with_its_register_and_source() -> None:
    entry = entry_of(Meter.ReadingRecorded, {"measured_at": MOMENT, "energy_gj": D("1234.567"), "source": "mbus"})
    assert summarize(entry, ZH) == "读数：2025-12-01 00:00 累计热量 1234.567 GJ（M-Bus）"
    assert summarize(entry, EN) == "Reading at 2025-12-01 00:00: energy register 1234.567 GJ (M-Bus)"


def test_a_meter_s_household_is_said_by_its_account_number_when_known() -> None:
    household_id = uuid4()
    entry = entry_of(Meter.AttachedToHousehold, {"household_id": household_id, "attached_at": MOMENT})
    assert summarize(entry, ZH, {household_id: "WZ-0001"}) == "装到热用户 WZ-0001，自 2025-12-01 00:00 起"
    assert summarize(entry, EN) == f"Attached to household {household_id} from 2025-12-01 00:00"


def test_a_summary_that_cannot_be_filled_falls_back_to_the_event_type() -> None:
    entry = entry_of(Meter.ReadingRecorded, {"measured_at": MOMENT})  # no energy_gj
    assert summarize(entry, ZH) == "ReadingRecorded"


def test_values_are_said_as_words_where_they_are_codes() -> None:
    assert (said("passed", False, ZH), said("passed", False, EN)) == ("不合格", "failed")
    assert (said("scope", "*", ZH), said("scope", "碧桂园", ZH)) == ("全市", "碧桂园")
    assert (said("effective_until", None, EN), said("volume_m3", None, EN)) == ("open-ended", "—")
    assert said("reference", MASK, EN) == MASK


def test_a_csv_page_has_headers_in_the_caller_s_language_and_rows_that_read_back() -> None:
    entry = entry_of(Meter.ReadingRecorded, {"measured_at": MOMENT, "energy_gj": D("1.5"), "source": "manual"})
    rows = [csv_row(entry, summarize(entry, ZH)), csv_row(entry, '=HYPERLINK("http://x")')]
    for language, first_header in ((ZH, "版本"), (EN, "version")):
        text = history_csv(rows, language)
        assert text.startswith("\ufeff")  # spreadsheet programs then read UTF-8
        header, *read = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
        assert header[0] == first_header and len(header) == len(CSV_COLUMNS)
        assert len(read) == 2
    header, first, second = list(csv.reader(io.StringIO(history_csv(rows, EN).removeprefix("\ufeff"))))
    cells = dict(zip(header, first, strict=True))
    assert cells["summary"] == "读数：2025-12-01 00:00 累计热量 1.5 GJ（人工录入）"
    assert json.loads(cells["details"]) == {"measured_at": MOMENT.isoformat(), "energy_gj": "1.5", "source": "manual"}
    # A cell that a spreadsheet would run as a formula is written as text.
    assert dict(zip(header, second, strict=True))["summary"] == '\'=HYPERLINK("http://x")'
