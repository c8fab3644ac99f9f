"""The message catalogue's reader, and the words the application writes to households.

Texts live in gettext catalogues, ``<directory>/<locale>/LC_MESSAGES/<area>.po`` (msgid a stable
dotted key, msgstr the text with ``{name}`` placeholders), read with Babel and merged per language.
The application's own texts (reminders, bill notices, dispute letters) are in
``application/locale``; the API reads them together with its own (``api/locale``) through
``api.i18n``, so that the ledger has one catalogue and one test guarding it, while the application
imports nothing of the API (docs/api.md, "Messages and languages").
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from application.notifications import MessageLanguage

LOGGER = logging.getLogger(__name__)
APPLICATION_LOCALE_DIRECTORY = Path(__file__).parent / "locale"
# The gettext locale directory of each language (``<directory>/<name>/LC_MESSAGES``).
LOCALE_NAMES: Mapping[str, str] = {"zh": "zh_CN", "en": "en"}
DEFAULT_LANGUAGE_CODE = "zh"


@dataclass(frozen=True)
class Catalogue:
    """Every message of one language, merged from its .po files; ``sources`` names each key's file."""

    language_code: str
    messages: Mapping[str, str]
    sources: Mapping[str, str]
    duplicates: tuple[str, ...]


def catalogue_files(language_code: str, directories: Iterable[Path]) -> list[Path]:
    """The .po files of a language under each of ``directories``, directory by directory, in name order."""
    locale = LOCALE_NAMES[language_code]
    return [path for directory in directories for path in sorted((directory / locale / "LC_MESSAGES").glob("*.po"))]


def read_catalogue(language_code: str, directories: Iterable[Path]) -> Catalogue:
    """Read and merge every .po file of a language; a key defined twice keeps its first text."""
    messages: dict[str, str] = {}
    sources: dict[str, str] = {}
    duplicates: list[str] = []
    for path in catalogue_files(language_code, directories):
        source = f"{path.parents[3].name}/{path.name}"  # api/locale/zh_CN/LC_MESSAGES/web.po → "api/web.po"
        for key, text in read_po_file(path):
            if key in messages:
                duplicates.append(f"{key} ({sources[key]}, {source})")
                continue
            messages[key] = text
            sources[key] = source
    return Catalogue(language_code, messages, sources, tuple(duplicates))


@cache
def read_po_file(path: Path) -> tuple[tuple[str, str], ...]:
    """The (key, text) pairs of one .po file, parsed by Babel once per process: the application's
    files are read both for the application and for the API's merged catalogue."""
    with path.open("rb") as file:
        po = read_po(file)
    return tuple((str(message.id), str(message.string or "")) for message in po if message.id)


def fill(key: str, template: str, params: Mapping[str, Any]) -> str:
    """``template`` with its ``{name}`` placeholders filled; a placeholder with no param stays as written."""
    if not params and "{" not in template:
        return template
    try:
        return string.Formatter().vformat(template, (), _KeepMissing(key, params))
    except (IndexError, ValueError):
        warn_once(f"message {key!r} cannot be filled: {template!r}")
        return template


def placeholders(template: str) -> set[str]:
    """The names of the ``{name}`` placeholders of a template (``{{`` escapes are not placeholders)."""
    return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template) if field}


class _KeepMissing(dict[str, Any]):
    """Params for str.format that leave a missing ``{name}`` in the text instead of raising."""

    def __init__(self, key: str, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.key = key

    def __missing__(self, name: str) -> str:
        warn_once(f"message {self.key!r} has no param {name!r}")
        return "{" + name + "}"


_WARNED: set[str] = set()


def warn_once(warning: str) -> None:
    """Log a catalogue problem once per process: a page or a letter must not fail on its words."""
    if warning not in _WARNED:
        _WARNED.add(warning)
        LOGGER.warning(warning)


# -- the application's own texts ----------------------------------------------------------------


@cache
def application_catalogue(language_code: str) -> Catalogue:
    """The application's catalogue of a language, read once at first use."""
    return read_catalogue(language_code, [APPLICATION_LOCALE_DIRECTORY])


def find(key: str, language: MessageLanguage) -> str | None:
    """The raw text of an application message (placeholders unfilled), or None if it has none."""
    return application_catalogue(language.value).messages.get(key) or None


def translate(key: str, language: MessageLanguage, **params: Any) -> str:
    """An application text in ``language``, filled from ``params``; Chinese, then the key, if missing.

    tests/unit/test_message_catalogues.py fails on a missing key before it ships.
    """
    template = find(key, language) or find(key, MessageLanguage(DEFAULT_LANGUAGE_CODE))
    if template is None:
        warn_once(f"unknown message key {key!r}")
        return key
    return fill(key, template, params)
