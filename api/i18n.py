"""One message catalogue: texts in Chinese by default and in English on request, and Babel's formats.

Texts live in gettext catalogues, ``api/locale/<locale>/LC_MESSAGES/<area>.po``, one file per area so
that areas never edit the same file. A message id is a stable dotted key (``web.login.title``), the
message string its text, with ``{name}`` placeholders for params. Every file of a language is read
with Babel at first use and merged into one mapping, kept for the life of the process.

Numbers, money, dates and times are formatted by Babel in the language's locale; times are shown in
the utility's time zone (Asia/Shanghai), as a clerk in Ningxia reads a clock.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterator, Mapping
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
from babel.messages.pofile import read_po

from domain.day_split import BUSINESS_TIME_ZONE

LOGGER = logging.getLogger(__name__)


class Language(StrEnum):
    """The languages the ledger speaks."""

    ZH = "zh"
    EN = "en"


DEFAULT_LANGUAGE = Language.ZH
LOCALE_DIRECTORY = Path(__file__).parent / "locale"
# The gettext locale directory of each language (``api/locale/<name>/LC_MESSAGES``).
LOCALE_NAMES: Mapping[Language, str] = {Language.ZH: "zh_CN", Language.EN: "en"}
BABEL_LOCALES: Mapping[Language, Locale] = {language: Locale.parse(name) for language, name in LOCALE_NAMES.items()}
MONEY_UNIT = "元"
ENERGY_UNIT = "GJ"
MONEY_DECIMALS = 2
# Energy is settled to the thousandth of a GJ (domain/billing.py rounds to 0.001 GJ).
ENERGY_DECIMALS = 3
MAXIMUM_DECIMALS = 12


# -- catalogues ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """Every message of one language, merged from its .po files; ``sources`` names each key's file."""

    language: Language
    messages: Mapping[str, str]
    sources: Mapping[str, str]
    duplicates: tuple[str, ...]


def catalogue_files(language: Language, directory: Path = LOCALE_DIRECTORY) -> list[Path]:
    """The .po files of ``language``, in name order."""
    return sorted((directory / LOCALE_NAMES[language] / "LC_MESSAGES").glob("*.po"))


def read_catalogue(language: Language, directory: Path = LOCALE_DIRECTORY) -> Catalogue:
    """Read and merge every .po file of ``language``; a key defined twice keeps its first text."""
    messages: dict[str, str] = {}
    sources: dict[str, str] = {}
    duplicates: list[str] = []
    for path in catalogue_files(language, directory):
        with path.open("rb") as file:
            po = read_po(file, locale=BABEL_LOCALES[language])
        for message in po:
            key = str(message.id)
            if not key:  # the header
                continue
            if key in messages:
                duplicates.append(f"{key} ({sources[key]}, {path.name})")
                continue
            messages[key] = str(message.string or "")
            sources[key] = path.name
    return Catalogue(language, messages, sources, tuple(duplicates))


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
        _warn_once(f"unknown message key {key!r}")
        return key
    if not params and "{" not in template:
        return template
    try:
        return string.Formatter().vformat(template, (), _KeepMissing(key, params))
    except (IndexError, ValueError):
        _warn_once(f"message {key!r} cannot be filled: {template!r}")
        return template


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


class _KeepMissing(dict[str, Any]):
    """Params for str.format that leave a missing ``{name}`` in the text instead of raising."""

    def __init__(self, key: str, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.key = key

    def __missing__(self, name: str) -> str:
        _warn_once(f"message {self.key!r} has no param {name!r}")
        return "{" + name + "}"


def placeholders(template: str) -> set[str]:
    """The names of the ``{name}`` placeholders of a template (``{{`` escapes are not placeholders)."""
    return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template) if field}


_WARNED: set[str] = set()


def _warn_once(warning: str) -> None:
    if warning not in _WARNED:
        _WARNED.add(warning)
        LOGGER.warning(warning)


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
