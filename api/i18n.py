"""One message catalogue: texts in Chinese by default and in English on request, and Babel's formats.

Texts live in gettext catalogues, ``api/locale/<locale>/LC_MESSAGES/<area>.po``, one file per area so
that areas never edit the same file, and ``application/locale/…`` for the words the application
writes to households (reminders, bill notices, letters: the application imports nothing of the API).
A message id is a stable dotted key (``web.login.title``), the message string its text, with
``{name}`` placeholders for params. Every file of a language is read with Babel
(application.message_catalogue) at first use and merged into one mapping, kept for the process.

Numbers, money, dates and times are formatted by Babel in the language's locale; times are shown in
the utility's time zone (Asia/Shanghai), as a clerk in Ningxia reads a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from application import message_catalogue
from application.message_catalogue import APPLICATION_LOCALE_DIRECTORY, fill, warn_once
from application.message_catalogue import Catalogue as Catalogue
from application.message_catalogue import placeholders as placeholders
from domain.day_split import BUSINESS_TIME_ZONE

LOGGER = logging.getLogger(__name__)


class Language(StrEnum):
    """The languages the ledger speaks."""

    ZH = "zh"
    EN = "en"


DEFAULT_LANGUAGE = Language.ZH
LOCALE_DIRECTORY = Path(__file__).parent / "locale"
# The gettext locale directory of each language (``api/locale/<name>/LC_MESSAGES``).
LOCALE_NAMES: Mapping[Language, str] = {
    language: message_catalogue.LOCALE_NAMES[language.value] for language in Language
}
BABEL_LOCALES: Mapping[Language, Locale] = {language: Locale.parse(name) for language, name in LOCALE_NAMES.items()}
MONEY_UNIT = "元"
ENERGY_UNIT = "GJ"
MONEY_DECIMALS = 2
# Energy is settled to the thousandth of a GJ (domain/billing.py rounds to 0.001 GJ).
ENERGY_DECIMALS = 3
MAXIMUM_DECIMALS = 12


# -- catalogues ------------------------------------------------------------------------------------
# The API's catalogues and the application's (reminders, bill notices, letters), merged: one catalogue.
LOCALE_DIRECTORIES: tuple[Path, ...] = (LOCALE_DIRECTORY, APPLICATION_LOCALE_DIRECTORY)


def catalogue_files(language: Language, directories: Iterable[Path] = LOCALE_DIRECTORIES) -> list[Path]:
    """The .po files of ``language``, directory by directory, in name order."""
    return message_catalogue.catalogue_files(language.value, directories)


def read_catalogue(language: Language, directories: Iterable[Path] = LOCALE_DIRECTORIES) -> Catalogue:
    """Read and merge every .po file of ``language``; a key defined twice keeps its first text."""
    return message_catalogue.read_catalogue(language.value, directories)


@cache
def catalogue(language: Language) -> Catalogue:
    """The process's catalogue of ``language``, read once at first use."""
    loaded = read_catalogue(language)
    for duplicate in loaded.duplicates:
        LOGGER.warning("message key defined twice, first text kept: %s", duplicate)
    return loaded


def load_catalogues() -> None:
    """Read every language's catalogue now (at start-up), not on the first request that needs one."""
    for language in Language:
        catalogue(language)


def text(key: str, language: Language) -> str | None:
    """The raw text of ``key`` in ``language`` (placeholders unfilled), or None if it has none."""
    found = catalogue(language).messages.get(key)
    return found or None


def has_message(key: str) -> bool:
    """Whether some language's catalogue has ``key``."""
    return any(key in catalogue(language).messages for language in Language)


def translate(key: str, language: Language, **params: Any) -> str:
    """The text of ``key`` in ``language`` with its ``{name}`` placeholders filled from ``params``.

    A page must not crash on a message: a key missing in ``language`` falls back to Chinese, then to
    the key itself; a placeholder with no param stays as written. Both are logged once, and
    tests/unit/test_message_catalogues.py fails on them before they ship.
    """
    template = text(key, language) or text(key, DEFAULT_LANGUAGE)
    if template is None:
        warn_once(f"unknown message key {key!r}")
        return key
    return fill(key, template, params)


@dataclass(frozen=True)
class Message:
    """A catalogue message named in code by its key; its texts live in the .po files.

    ``text`` raises KeyError when the catalogue lacks the key, so that a caller with a fallback of
    its own (a problem's English message, a bill line's "code: amount") can use it.
    """

    key: str

    def text(self, language: Language) -> str:
        found = text(self.key, language)
        if found is None:
            raise KeyError(self.key)
        return found

    @property
    def zh(self) -> str:
        return text(self.key, Language.ZH) or ""

    @property
    def en(self) -> str:
        return text(self.key, Language.EN) or ""


class Section(Mapping[str, Message]):
    """The catalogue's messages whose keys start with ``prefix``, by the rest of their key (read-only)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __getitem__(self, name: str) -> Message:
        if not has_message(self.prefix + name):
            raise KeyError(name)
        return Message(self.prefix + name)

    def __iter__(self) -> Iterator[str]:
        keys = set().union(*(catalogue(language).messages.keys() for language in Language))
        return (key.removeprefix(self.prefix) for key in sorted(keys) if key.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


# -- formats ---------------------------------------------------------------------------------------


def format_money(amount: Decimal, language: Language) -> str:
    """An amount of money in 元, always with 2 decimals and grouped: ``1,234.50 元`` (half up)."""
    return f"{format_number(amount, language, MONEY_DECIMALS)} {MONEY_UNIT}"


def format_number(value: Decimal | int | float, language: Language, decimals: int | None = None) -> str:
    """A grouped number in the language's locale; ``decimals`` fixes the fraction digits (half up).

    Without ``decimals`` a Decimal shows the digits it has (``12.50`` stays ``12.50``), and an int
    or float every significant digit.
    """
    locale = BABEL_LOCALES[language]
    if decimals is None and isinstance(value, Decimal) and value.is_finite():
        decimals = min(max(0, -int(value.as_tuple().exponent)), MAXIMUM_DECIMALS)
    if decimals is None:
        return babel_numbers.format_decimal(value, locale=locale, decimal_quantization=False)
    assert 0 <= decimals <= MAXIMUM_DECIMALS, f"decimals out of range: {decimals}"
    quantum = Decimal(1).scaleb(-decimals)
    rounded = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
    return babel_numbers.format_decimal(rounded, format=pattern, locale=locale)


def format_energy_gj(value: Decimal | int | float, language: Language) -> str:
    """An amount of heat in GJ, to the thousandth a bill is settled on: ``12.345 GJ``."""
    return f"{format_number(value, language, ENERGY_DECIMALS)} {ENERGY_UNIT}"


def format_date(day: date, language: Language, style: str = "medium") -> str:
    """A calendar day in the language's way: ``2025年12月1日`` / ``Dec 1, 2025`` (Babel's styles)."""
    if isinstance(day, datetime):
        day = to_business_time(day).date()
    return babel_dates.format_date(day, format=style, locale=BABEL_LOCALES[language])


def format_datetime(moment: datetime, language: Language, style: str = "medium") -> str:
    """A moment as the clock shows it in Asia/Shanghai; a naive datetime is taken as UTC."""
    return babel_dates.format_datetime(
        to_business_time(moment), format=style, tzinfo=BUSINESS_TIME_ZONE, locale=BABEL_LOCALES[language]
    )


def to_business_time(moment: datetime) -> datetime:
    """``moment`` in Asia/Shanghai; the ledger stores aware UTC times, a naive one is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(BUSINESS_TIME_ZONE)
