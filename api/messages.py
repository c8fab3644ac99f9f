"""Messages a clerk understands, in Chinese by default and in English on request.

The texts live in the message catalogue (api/locale/<locale>/LC_MESSAGES/api.po, read by api.i18n):
``title.<code>`` is a problem's title, ``label.<name>`` a field, register, role or permission name,
and ``error.<key>`` a problem's detail. A detail's key is an error's ``code`` (``not_found``), a
refinement of it (``not_found.household``), a reading rule's ``reason`` (``register_backwards``),
an error's ``message_key`` (``heated_area_exceeds_connected``), or a pydantic validation type
(``validation.missing``). Templates take the error's ``params``; a template that cannot be filled,
or a key with no template, falls back to the error's own English message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from api import i18n

# The languages are api.i18n's; re-exported here, where the API's modules have always found them.
from api.i18n import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from api.i18n import Language as Language
from domain.day_split import BUSINESS_TIME_ZONE
from domain.errors import LedgerError, ReadingRejectedError

# A bound on how much of an Accept-Language header is read.
MAXIMUM_LANGUAGE_RANGES = 20
# The catalogue's titles, labels and details by code, name and key (read-only views of api.po).
TITLES = i18n.Section("title.")
LABELS = i18n.Section("label.")
CATALOG = i18n.Section("error.")
# Params whose value is itself a name to translate: ``field`` → ``field_label`` and so on.
_LABELLED_PARAMS = ("field", "register", "role", "permission", "kind", "granularity")


def negotiate_language(accept_language: str | None) -> Language:
    """The supported language the caller prefers most (RFC 9110 §12.5.4); Chinese by default.

    Ranges are compared by their primary tag (``en-GB`` is English, ``zh-Hans-CN`` Chinese);
    ``*`` stands for the default; ties go to the range listed first; ``q=0`` means "not this".
    """
    if not accept_language:
        return DEFAULT_LANGUAGE
    best_language, best_quality = DEFAULT_LANGUAGE, 0.0
    for language_range in accept_language.split(",")[:MAXIMUM_LANGUAGE_RANGES]:
        language, quality = _parse_language_range(language_range)
        if language is not None and quality > best_quality:
            best_language, best_quality = language, quality
    return best_language


def _parse_language_range(language_range: str) -> tuple[Language | None, float]:
    tag, *parameters = (part.strip() for part in language_range.split(";"))
    primary = tag.lower().split("-")[0]
    language = DEFAULT_LANGUAGE if primary == "*" else _SUPPORTED_PRIMARY_TAGS.get(primary)
    quality = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
    return language, quality if 0.0 <= quality <= 1.0 else 0.0


_SUPPORTED_PRIMARY_TAGS = {language.value: language for language in Language}


def title(code: str, language: Language) -> str:
    """The short, fixed title of a problem code."""
    return i18n.text(f"title.{code}", language) or i18n.translate("title.http_error", language)


def label(name: str, language: Language) -> str:
    """A field, register, role or permission name in the caller's language (the name itself if unknown)."""
    return i18n.text(f"label.{name}", language) or name


def message_keys(error: LedgerError) -> list[str]:
    """The catalog keys that may describe ``error``, most specific first."""
    keys = [error.message_key]
    if isinstance(error, ReadingRejectedError):
        keys.append(error.reason)
    if "kind" in error.params:
        keys.append(f"{error.code}.{error.params['kind']}")
    keys.append(error.code)
    return keys


def render(keys: Iterable[str], params: Mapping[str, Any], language: Language, fallback: str) -> str:
    """The first catalog template among ``keys`` filled with ``params``, or ``fallback``.

    Names in ``field``, ``register``, ``role``, ``permission``, ``kind`` and ``granularity``
    params are also offered translated, as ``field_label`` and so on. Times (params ending in
    ``_at``) are shown in the utility's local time, as a clerk in Ningxia reads a clock.
    """
    values = {name: _local_time(value) if name.endswith("_at") else _text(value) for name, value in params.items()}
    for name in _LABELLED_PARAMS:
        if name in values:
            values[f"{name}_label"] = label(values[name], language)
    for key in keys:
        template = i18n.text(f"error.{key}", language)
        if template is None:
            continue
        try:
            return template.format_map(values)
        except (KeyError, IndexError, ValueError):
            continue
    return fallback


def describe_error(error: LedgerError, language: Language) -> str:
    """A ledger error in the caller's language."""
    return render(message_keys(error), error.params, language, error.message)


def _local_time(value: Any) -> str:
    """An ISO 8601 time as ``2025-12-01 08:00:00+08:00`` in Asia/Shanghai; anything else as text."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return _text(value)
    if moment.tzinfo is None:
        return _text(value)
    return moment.astimezone(BUSINESS_TIME_ZONE).isoformat(sep=" ")


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    return str(value)
