"""The message catalogues are whole: every key in both languages, with a text and the same params,
and every key that code or a template asks for is in a catalogue (issue 13).

A failure names the key and where it is missing; add the message to the area's .po file of both
languages (api/locale/zh_CN/LC_MESSAGES/<area>.po and api/locale/en/LC_MESSAGES/<area>.po).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api import i18n
from api.i18n import Language

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRECTORY = ROOT / "api" / "web" / "templates"
CODE_DIRECTORIES = ("api", "application", "infrastructure", "projections")
# A whole literal key handed to the translating call: _("web.login.title")  or  translate('title.x', …
# (a key put together at run time, _("web.role." ~ role), is not checked here: its parts are data).
KEY = r"""\(\s*(?P<quote>["'])(?P<key>[A-Za-z0-9_][A-Za-z0-9_.\-]*)(?P=quote)\s*[,)]"""
TEMPLATE_KEY_USE = re.compile(r"(?<![\w.])(?:_|translate)" + KEY)
# In Python also a catalogue message named by its key: Message("explanation.heading"), Sentence(…).
CODE_KEY_USE = re.compile(r"(?:(?<![\w.])(?:_|Message|Sentence)|(?<!\w)translate)" + KEY)


@pytest.fixture(scope="module")
def catalogues() -> dict[Language, i18n.Catalogue]:
    return {language: i18n.read_catalogue(language) for language in Language}


def test_every_language_has_the_same_catalogue_files() -> None:
    names = {
        language: sorted(f"{path.parents[3].name}/{path.name}" for path in i18n.catalogue_files(language))
        for language in Language
    }
    assert names[Language.ZH], "no catalogue found under api/locale/zh_CN/LC_MESSAGES"
    assert names[Language.EN] == names[Language.ZH]


def test_every_key_is_in_both_languages(catalogues: dict[Language, i18n.Catalogue]) -> None:
    chinese, english = (set(catalogues[language].messages) for language in (Language.ZH, Language.EN))
    assert sorted(chinese - english) == [], "keys with Chinese text and no English"
    assert sorted(english - chinese) == [], "keys with English text and no Chinese"


def test_every_key_is_in_the_same_file_in_both_languages(catalogues: dict[Language, i18n.Catalogue]) -> None:
    chinese, english = (catalogues[language].sources for language in (Language.ZH, Language.EN))
    moved = {
        key: (chinese[key], english[key]) for key in chinese.keys() & english.keys() if chinese[key] != english[key]
    }
    assert moved == {}


def test_no_text_is_empty(catalogues: dict[Language, i18n.Catalogue]) -> None:
    empty = [
        f"{language.value}: {key}"
        for language, loaded in catalogues.items()
        for key, text in loaded.messages.items()
        if not text.strip()
    ]
    assert empty == []


def test_no_key_is_defined_twice(catalogues: dict[Language, i18n.Catalogue]) -> None:
    assert {language.value: loaded.duplicates for language, loaded in catalogues.items() if loaded.duplicates} == {}


def test_every_text_is_a_valid_template(catalogues: dict[Language, i18n.Catalogue]) -> None:
    broken = []
    for language, loaded in catalogues.items():
        for key, text in loaded.messages.items():
            try:
                i18n.placeholders(text)
            except ValueError as error:
                broken.append(f"{language.value}: {key}: {error}")
    assert broken == []


def test_both_languages_take_the_same_params(catalogues: dict[Language, i18n.Catalogue]) -> None:
    chinese, english = (catalogues[language].messages for language in (Language.ZH, Language.EN))
    differing = {
        key: (sorted(i18n.placeholders(chinese[key])), sorted(i18n.placeholders(english[key])))
        for key in chinese.keys() & english.keys()
        if i18n.placeholders(chinese[key]) != i18n.placeholders(english[key])
    }
    assert differing == {}


def test_every_key_used_in_a_template_is_in_a_catalogue(catalogues: dict[Language, i18n.Catalogue]) -> None:
    used = _keys_used(sorted(TEMPLATE_DIRECTORY.rglob("*.html")), TEMPLATE_KEY_USE)
    known = set(catalogues[Language.ZH].messages) | set(catalogues[Language.EN].messages)
    assert {key: places for key, places in used.items() if key not in known} == {}


def test_every_key_used_in_code_is_in_a_catalogue(catalogues: dict[Language, i18n.Catalogue]) -> None:
    files = sorted(path for directory in CODE_DIRECTORIES for path in (ROOT / directory).rglob("*.py"))
    used = _keys_used(files, CODE_KEY_USE)
    known = set(catalogues[Language.ZH].messages) | set(catalogues[Language.EN].messages)
    assert {key: places for key, places in used.items() if key not in known} == {}


def test_the_scan_finds_keys_as_they_are_written() -> None:
    """The patterns above must see the calls they guard, and not other calls that end in ``_(``."""
    template = (
        """{{ _("web.nav.households") }} {{ _('web.login.title', name=user.username) }} {{ gettext_("no") }}"""
        """ {{ _("web.role." ~ user.role) }}"""
    )
    code = """translate("title.not_found", language)\ni18n.translate('label.address', language)\nself._("x.y")
HEADING = Message("explanation.heading")\nSentence("explanation.line.tariff", needs=("x",))"""
    assert [match["key"] for match in TEMPLATE_KEY_USE.finditer(template)] == ["web.nav.households", "web.login.title"]
    assert [match["key"] for match in CODE_KEY_USE.finditer(code)] == [
        "title.not_found",
        "label.address",
        "explanation.heading",
        "explanation.line.tariff",
    ]


def _keys_used(files: list[Path], pattern: re.Pattern[str]) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for path in files:
        source = path.read_text(encoding="utf-8")
        for match in pattern.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            used.setdefault(match["key"], []).append(f"{path.relative_to(ROOT)}:{line}")
    return used
