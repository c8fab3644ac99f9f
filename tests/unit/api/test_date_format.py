"""The pages' fast day and time formatting writes exactly what ``api.i18n`` (Babel) writes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from api import i18n
from api.i18n import Language
from api.web import date_format

LANGUAGES = st.sampled_from(list(Language))
STYLES = st.sampled_from(date_format.STYLES)
DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30)), None])
MOMENTS = st.builds(
    lambda naive, zone: naive.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30)),
    ZONES,
)


def test_the_pages_styles_are_compiled_in_both_languages() -> None:
    """The styles the templates use take the fast path (else they would quietly fall back)."""
    for language in Language:
        for style in ("short", "medium"):
            assert date_format._compiled_date(language, style) is not None
            assert date_format._compiled_datetime(language, style) is not None


@given(day=DAYS, language=LANGUAGES, style=STYLES)
def test_a_day(day: date, language: Language, style: str) -> None:
    assert date_format.format_date(day, language, style) == i18n.format_date(day, language, style)


@given(moment=MOMENTS, language=LANGUAGES, style=STYLES)
def test_a_moment(moment: datetime, language: Language, style: str) -> None:
    assert date_format.format_datetime(moment, language, style) == i18n.format_datetime(moment, language, style)


@given(moment=MOMENTS, language=LANGUAGES, style=STYLES)
def test_a_moment_as_a_business_day(moment: datetime, language: Language, style: str) -> None:
    assert date_format.format_date(moment, language, style) == i18n.format_date(moment, language, style)


def test_examples() -> None:
    moment = datetime(2026, 1, 5, 3, 4, 5, tzinfo=UTC)  # 11:04:05 in Asia/Shanghai
    assert date_format.format_datetime(moment, Language("zh")) == "2026年1月5日 11:04:05"
    assert date_format.format_datetime(moment, Language("en")) == "Jan 5, 2026, 11:04:05\u202fAM"
    assert date_format.format_date(date(2026, 1, 5), Language("zh"), "short") == "2026/1/5"
    assert date_format.format_date(date(2026, 1, 5), Language("en"), "short") == "1/5/26"


def test_an_unknown_style_is_left_to_babel() -> None:
    pattern = "yyyy-MM-dd"
    assert date_format.format_date(date(2026, 1, 5), Language("zh"), pattern) == "2026-01-05"
