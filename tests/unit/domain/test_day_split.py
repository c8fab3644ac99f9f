"""Sharing an interval's energy and volume across Asia/Shanghai business days, in proportion to time.

Shanghai is UTC+8 all year: local midnight is 16:00 UTC of the day before.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.day_split import (
    BUSINESS_TIME_ZONE,
    MAXIMUM_INTERVAL_DAYS,
    DayShare,
    _split_by_time,
    business_day,
    split_across_days,
)

D = Decimal


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 11, day, hour, minute, tzinfo=UTC)


def test_an_interval_inside_one_business_day_keeps_all_its_energy_on_that_day() -> None:
    # 02:00–06:00 UTC = 10:00–14:00 in Shanghai, 1 November.
    assert split_across_days(utc(1, 2), utc(1, 6), D("1.234"), D("0.5")) == [
        DayShare(date(2025, 11, 1), D("1.234"), D("0.5"))
    ]


def test_an_interval_straddling_shanghai_midnight_is_shared_by_time() -> None:
    # 14:00–22:00 UTC = 22:00 on 1 Nov to 06:00 on 2 Nov local: 2 h then 6 h of 8 h.
    # energy 0.8 × 2/8 = 0.2 and × 6/8 = 0.6; volume 1.2 × 2/8 = 0.3 and × 6/8 = 0.9.
    assert split_across_days(utc(1, 14), utc(1, 22), D("0.8"), D("1.2")) == [
        DayShare(date(2025, 11, 1), D("0.2"), D("0.3")),
        DayShare(date(2025, 11, 2), D("0.6"), D("0.9")),
    ]


def test_utc_midnight_is_not_a_business_day_boundary() -> None:
    # 20:00 UTC 1 Nov – 04:00 UTC 2 Nov = 04:00–12:00 local on 2 November: one day.
    shares = split_across_days(utc(1, 20), utc(2, 4), D("1.5"))
    assert [share.day for share in shares] == [date(2025, 11, 2)]


def test_an_interval_ending_at_local_midnight_does_not_touch_the_next_day() -> None:
    # 08:00–16:00 UTC = 16:00–24:00 local on 1 November; 16:00 UTC itself belongs to 2 November.
    shares = split_across_days(utc(1, 8), utc(1, 16), D("1.5"))
    assert [share.day for share in shares] == [date(2025, 11, 1)]


def test_an_interval_starting_at_local_midnight_begins_on_the_new_day() -> None:
    # 16:00 UTC 1 Nov to 16:00 UTC 2 Nov = the whole of 2 November local.
    assert split_across_days(utc(1, 16), utc(2, 16), D("2.000")) == [DayShare(date(2025, 11, 2), D("2.000"), D(0))]


def test_a_many_day_interval_gives_each_day_its_hours() -> None:
    # 16:00 UTC 1 Nov (00:00 local 2 Nov) to 04:00 UTC 5 Nov (12:00 local 5 Nov) = 24 + 24 + 24 + 12 = 84 h.
    # energy 8.4 GJ is 0.1 GJ/h: 2.4, 2.4, 2.4, 1.2; volume 0.84 m³ is 0.01 m³/h: 0.24, 0.24, 0.24, 0.12.
    assert split_across_days(utc(1, 16), utc(5, 4), D("8.4"), D("0.84")) == [
        DayShare(date(2025, 11, 2), D("2.4"), D("0.24")),
        DayShare(date(2025, 11, 3), D("2.4"), D("0.24")),
        DayShare(date(2025, 11, 4), D("2.4"), D("0.24")),
        DayShare(date(2025, 11, 5), D("1.2"), D("0.12")),
    ]


def test_the_leftover_microunit_goes_to_the_day_with_the_largest_remainder() -> None:
    # 08:00 UTC 1 Nov (16:00 local) to 08:00 UTC 3 Nov: 8 h on 1 Nov, 24 h on 2 Nov, 16 h on 3 Nov → 48 h.
    # 0.000011 GJ = 11 µGJ: 11 × 8/48 = 1.83, 11 × 24/48 = 5.5, 11 × 16/48 = 3.67; floors 1 + 5 + 3 = 9,
    # two left: remainders .83 and .67 beat .5, so 2, 5, 4.
    shares = split_across_days(utc(1, 8), utc(3, 8), D("0.000011"))
    assert [share.energy_gj for share in shares] == [D("0.000002"), D("0.000005"), D("0.000004")]


def test_registers_finer_than_the_default_quantum_are_shared_in_their_own_unit() -> None:
    # 3 nGJ over two equal halves of 12 h (04:00–16:00 UTC and 16:00–04:00): 1.5 + 1.5 units → 2 + 1.
    shares = split_across_days(utc(1, 4), utc(2, 4), D("0.000000003"))
    assert [share.energy_gj for share in shares] == [D("0.000000002"), D("0.000000001")]


def test_whole_gigajoules_are_shared_in_micro_gigajoules() -> None:
    # 3 GJ over two equal halves → 1.5 each, which whole GJ could not express.
    shares = split_across_days(utc(1, 4), utc(2, 4), D(3))
    assert [share.energy_gj for share in shares] == [D("1.5"), D("1.5")]


def test_an_empty_or_reversed_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        split_across_days(utc(1, 4), utc(1, 4), D(1))


def test_an_interval_longer_than_the_bound_is_refused() -> None:
    start = utc(1, 4)
    with pytest.raises(ValueError, match="spans more than"):
        split_across_days(start, start + timedelta(days=MAXIMUM_INTERVAL_DAYS + 2), D(1))


def test_the_business_day_turns_at_sixteen_hundred_utc() -> None:
    assert business_day(datetime(2025, 11, 1, 15, 59, 59, tzinfo=UTC)) == date(2025, 11, 1)
    assert business_day(datetime(2025, 11, 1, 16, 0, tzinfo=UTC)) == date(2025, 11, 2)


def _seconds_in_day(start: datetime, end: datetime, day: date) -> int:
    day_start = datetime(day.year, day.month, day.day, tzinfo=BUSINESS_TIME_ZONE)
    day_end = day_start + timedelta(days=1)
    overlap = min(end, day_end) - max(start, day_start)
    return max(int(overlap.total_seconds()), 0)


@given(
    start_minute=st.integers(0, 366 * 24 * 60),
    length_minutes=st.integers(1, 12 * 24 * 60),
    energy_units=st.integers(0, 10**9),
    energy_places=st.integers(0, 9),
    volume_units=st.integers(0, 10**7),
)
def test_days_sum_exactly_are_proportional_to_time_and_only_touched_days_appear(
    start_minute: int, length_minutes: int, energy_units: int, energy_places: int, volume_units: int
) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=start_minute)
    end = start + timedelta(minutes=length_minutes)
    energy = D(energy_units).scaleb(-energy_places)
    volume = D(volume_units).scaleb(-3)
    shares = split_across_days(start, end, energy, volume)
    assert sum((share.energy_gj for share in shares), D(0)) == energy
    assert sum((share.volume_m3 for share in shares), D(0)) == volume
    first, last = business_day(start), business_day(end - timedelta(microseconds=1))
    assert [share.day for share in shares] == [first + timedelta(days=n) for n in range((last - first).days + 1)]
    energy_quantum = min(D(1).scaleb(-energy_places), D("0.000001"))
    total_seconds = length_minutes * 60
    for share in shares:
        seconds = _seconds_in_day(start, end, share.day)
        assert seconds > 0
        assert abs(Fraction(share.energy_gj) - Fraction(energy) * seconds / total_seconds) < Fraction(energy_quantum)
        assert abs(Fraction(share.volume_m3) - Fraction(volume) * seconds / total_seconds) < Fraction(D("0.000001"))


@given(
    start_second=st.integers(0, 366 * 24 * 3600),
    length_seconds=st.integers(1, 3 * 24 * 3600),
    energy_units=st.integers(-(10**12), 10**12),
    energy_places=st.integers(-2, 9),
    volume_units=st.integers(0, 10**9),
    volume_places=st.integers(0, 9),
)
def test_the_shortcut_for_an_interval_inside_one_day_equals_sharing_by_time(
    start_second: int, length_seconds: int, energy_units: int, energy_places: int, volume_units: int, volume_places: int
) -> None:
    # split_across_days skips the apportioning when the interval lies in one business day: its
    # answer must be the general computation's, for every interval, quantity and unit.
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=start_second)
    end = start + timedelta(seconds=length_seconds)
    energy, volume = D(energy_units).scaleb(-energy_places), D(volume_units).scaleb(-volume_places)
    assert split_across_days(start, end, energy, volume) == _split_by_time(start, end, energy, volume)
    local = start.astimezone(BUSINESS_TIME_ZONE)
    assert split_across_days(local, local + timedelta(seconds=length_seconds), energy) == _split_by_time(
        start, end, energy, D(0)
    )
