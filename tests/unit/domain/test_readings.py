"""Reading value objects: the fingerprint that tells a resent reading from a different one."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.readings import Attachment, MeteredInterval, ReadingValues
from domain.values import ReadingSource

D = Decimal
AT = datetime(2025, 11, 1, tzinfo=UTC)
READING = ReadingValues(AT, D("1.50"), volume_m3=D("2.0"), flow_temperature_c=D("70"), error_flags=0)


def test_equal_values_written_differently_have_one_fingerprint() -> None:
    shanghai = AT.astimezone(timezone(timedelta(hours=8)))
    same = ReadingValues(shanghai, D("1.5"), volume_m3=D("2"), flow_temperature_c=D("70.00"))
    assert same.fingerprint() == READING.fingerprint()


def test_the_channel_a_reading_came_by_is_not_part_of_its_fingerprint() -> None:
    assert replace(READING, source=ReadingSource.NBIOT).fingerprint() == READING.fingerprint()


@pytest.mark.parametrize(
    "changes",
    [
        {"measured_at": AT + timedelta(seconds=1)},
        {"energy_gj": D("1.51")},
        {"volume_m3": None},
        {"operating_hours": D(1)},
        {"flow_temperature_c": D("70.01")},
        {"return_temperature_c": D(40)},
        {"flow_rate_m3_h": D("0.1")},
        {"power_kw": D(3)},
        {"error_flags": 8},
    ],
)
def test_every_measured_value_is_part_of_the_fingerprint(changes: dict[str, object]) -> None:
    assert replace(READING, **changes).fingerprint() != READING.fingerprint()  # type: ignore[arg-type]


def test_an_interval_is_plausible_only_when_checked_and_within_its_error() -> None:
    unchecked = MeteredInterval(AT, AT + timedelta(hours=1), D(1), None, None)
    within = replace(
        unchecked, expected_energy_gj=D(1), deviation_percent=D("-3.80"), permissible_error_percent=D("3.80")
    )
    beyond = replace(within, deviation_percent=D("3.81"))
    assert (unchecked.plausible, within.plausible, beyond.plausible) == (None, True, False)


def test_an_attachment_covers_from_its_start_up_to_but_not_including_its_end() -> None:
    attachment = Attachment(uuid4(), AT, AT + timedelta(days=1))
    assert attachment.covers(AT)
    assert attachment.covers(AT + timedelta(hours=23))
    assert not attachment.covers(AT + timedelta(days=1))
    assert not attachment.covers(AT - timedelta(seconds=1))


def test_an_open_attachment_covers_every_later_moment() -> None:
    assert Attachment(uuid4(), AT).covers(AT + timedelta(days=3650))
