"""Days and times for the pages, formatted as ``api.i18n`` formats them, without Babel's per-call cost.

A table of readings shows a time per row, and Babel builds a formatter object and looks the locale
up for every one: 14 % of a meter's page (py-spy on ``heatledger serve``, docs/ui.md
"Performance"). Here each (language, style) is compiled once, from Babel's own patterns and
names, into the fields it needs: year, month (number or name), day, hour (24 or 12), minute,
second, AM/PM. A pattern with any other field (a time zone, a weekday, an era) is left to
``api.i18n``, as is everything else it does: the business time zone (Asia/Shanghai; a naive time
is UTC) is applied here the same way, with ``api.i18n.to_business_time``.
``tests/unit/api/test_date_format.py`` holds the two equal (hypothesis).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Literal

from babel import dates as babel_dates

from api import i18n
from api.i18n import Language

Field = Callable[[datetime | date], str]
Compiled = Callable[[datetime | date], str]
_FIELD = re.compile(r"%\((\w+)\)s")
STYLES = ("short", "medium", "long", "full")


def format_date(day: date, language: Language, style: str = "medium") -> str:
    """``api.i18n.format_date``'s text: a calendar day (a datetime's business day)."""
    compiled = _compiled_date(language, style) if style in STYLES else None
    if compiled is None:
        return i18n.format_date(day, language, style)
    if isinstance(day, datetime):
        day = i18n.to_business_time(day).date()
    return compiled(day)


def format_datetime(moment: datetime, language: Language, style: str = "medium") -> str:
    """``api.i18n.format_datetime``'s text: the moment as the clock shows it in Asia/Shanghai."""
    compiled = _compiled_datetime(language, style) if style in STYLES else None
    if compiled is None:
        return i18n.format_datetime(moment, language, style)
    return compiled(i18n.to_business_time(moment))


@cache
def _compiled_date(language: Language, style: str) -> Compiled | None:
    locale = i18n.BABEL_LOCALES[language]
    return _compiled(locale.date_formats[style].pattern, language)


@cache
def _compiled_datetime(language: Language, style: str) -> Compiled | None:
    """Babel's format_datetime: the locale's date-time joining pattern (quotes dropped) with
    ``{1}`` the date and ``{0}`` the time, each in the same style."""
    locale = i18n.BABEL_LOCALES[language]
    day = _compiled(locale.date_formats[style].pattern, language)
    time = _compiled(locale.time_formats[style].pattern, language)
    joining = str(locale.datetime_formats[style]).replace("'", "")
    if day is None or time is None or joining.count("{0}") != 1 or joining.count("{1}") != 1:
        return None
    return lambda moment: joining.replace("{0}", time(moment)).replace("{1}", day(moment))


def _compiled(pattern: str, language: Language) -> Compiled | None:
    """A pattern as a function of the moment, or None if it holds a field not handled here."""
    formatted = str(babel_dates.parse_pattern(pattern).format)  # '%(y)s年%(M)s月%(d)s日'
    template = _FIELD.sub("{}", formatted.replace("{", "{{").replace("}", "}}"))
    fields = [_field(name, language) for name in _FIELD.findall(formatted)]
    if any(field is None for field in fields):
        return None
    ready = [field for field in fields if field is not None]
    text = template.replace("%%", "%")
    return lambda moment: text.format(*(field(moment) for field in ready))


def _field(name: str, language: Language) -> Field | None:
    """One field of a pattern (``y``, ``MMM``, ``HH``…) as Babel's DateTimeFormat writes it."""
    character, width = name[0], len(name)
    if len(set(name)) != 1:
        return None
    if character == "y":
        return _year(width)
    if character in "ML":
        return _month(character, width, language)
    if character in "dHhms":
        return _number(character, width)
    if character == "a" and width <= 3:
        return _period(language)
    return None


def _year(width: int) -> Field:
    if width == 2:
        return lambda moment: f"{moment.year:02d}"[-2:]
    return lambda moment: f"{moment.year:0{width}d}"


def _month(character: str, width: int, language: Language) -> Field | None:
    if width <= 2:
        return lambda moment: f"{moment.month:0{width}d}"
    if width > 4:
        return None
    context: Literal["format", "stand-alone"] = "format" if character == "M" else "stand-alone"
    names = babel_dates.get_month_names("abbreviated" if width == 3 else "wide", context, i18n.BABEL_LOCALES[language])
    table = {month: str(names[month]) for month in range(1, 13)}
    return lambda moment: table[moment.month]


def _number(character: str, width: int) -> Field:
    if character == "d":
        return lambda moment: f"{moment.day:0{width}d}"
    if character == "H":
        return lambda moment: f"{moment.hour:0{width}d}"  # type: ignore[union-attr]
    if character == "h":
        return lambda moment: f"{(moment.hour % 12) or 12:0{width}d}"  # type: ignore[union-attr]
    if character == "m":
        return lambda moment: f"{moment.minute:0{width}d}"  # type: ignore[union-attr]
    return lambda moment: f"{moment.second:0{width}d}"  # type: ignore[union-attr]


def _period(language: Language) -> Field | None:
    """``a``: AM or PM, the first width the locale names it in (Babel's order)."""
    locale = i18n.BABEL_LOCALES[language]
    found: dict[str, str] = {}
    for period in ("am", "pm"):
        for width in ("abbreviated", "wide", "narrow"):
            names = babel_dates.get_period_names(context="format", width=width, locale=locale)
            if period in names:
                found[period] = str(names[period])
                break
    if len(found) != 2:
        return None
    return lambda moment: found["pm" if moment.hour >= 12 else "am"]  # type: ignore[union-attr]
