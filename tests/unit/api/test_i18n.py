"""api.i18n: catalogues read with Babel, translation with its fallbacks, and Babel's formats (issue 13)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api import i18n
from api.i18n import Language

HEADER = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'


def _write_po(directory: Path, locale: str, name: str, messages: dict[str, str]) -> None:
    folder = directory / locale / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f'msgid "{key}"\nmsgstr "{text}"\n\n' for key, text in messages.items())
    (folder / name).write_text(HEADER + body, encoding="utf-8")


@pytest.fixture
def fake_catalogues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_po(tmp_path, "zh_CN", "a.po", {"greeting": "你好，{name}", "only.zh": "仅中文"})
    _write_po(tmp_path, "zh_CN", "b.po", {"plain": "普通"})
    _write_po(tmp_path, "en", "a.po", {"greeting": "Hello, {name}"})
    _write_po(tmp_path, "en", "b.po", {"plain": "plain"})
    loaded = {language: i18n.read_catalogue(language, [tmp_path]) for language in Language}
    monkeypatch.setattr(i18n, "catalogue", loaded.__getitem__)


def test_files_of_a_language_are_merged_and_a_second_definition_is_reported(tmp_path: Path) -> None:
    api, application = tmp_path / "api" / "locale", tmp_path / "application" / "locale"
    _write_po(api, "zh_CN", "a.po", {"key": "甲"})
    _write_po(api, "zh_CN", "b.po", {"other": "丙"})
    _write_po(application, "zh_CN", "a.po", {"key": "乙", "third": "丁"})
    loaded = i18n.read_catalogue(Language.ZH, [api, application])
    assert loaded.messages == {"key": "甲", "other": "丙", "third": "丁"}
    assert loaded.sources == {"key": "api/a.po", "other": "api/b.po", "third": "application/a.po"}
    assert loaded.duplicates == ("key (api/a.po, application/a.po)",)


@pytest.mark.usefixtures("fake_catalogues")
def test_translate_fills_params_in_the_language_asked() -> None:
    assert i18n.translate("greeting", Language.ZH, name="王芳") == "你好，王芳"
    assert i18n.translate("greeting", Language.EN, name="Wang Fang") == "Hello, Wang Fang"
    assert i18n.translate("plain", Language.EN) == "plain"


@pytest.mark.usefixtures("fake_catalogues")
def test_a_missing_message_falls_back_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="api.i18n"):
        assert i18n.translate("only.zh", Language.EN) == "仅中文"
        assert i18n.translate("no.such.key", Language.ZH) == "no.such.key"
        assert i18n.translate("greeting", Language.EN) == "Hello, {name}"
    assert "unknown message key 'no.such.key'" in caplog.text
    assert "has no param 'name'" in caplog.text


def test_placeholders_ignore_escaped_braces() -> None:
    assert i18n.placeholders("{amount} 元 {{literal}} {day.year}") == {"amount", "day"}


def test_the_shipped_catalogues_load_once_and_have_both_languages() -> None:
    i18n.load_catalogues()
    assert i18n.catalogue(Language.ZH) is i18n.catalogue(Language.ZH)
    assert {path.name for path in i18n.catalogue_files(Language.EN)} >= {"web.po", "api.po"}


@pytest.mark.parametrize("language", list(Language))
def test_money_is_yuan_with_two_decimals_and_grouping(language: Language) -> None:
    assert i18n.format_money(Decimal("1234567.5"), language) == "1,234,567.50 元"
    assert i18n.format_money(Decimal("0.005"), language) == "0.01 元"
    assert i18n.format_money(Decimal("-12"), language) == "-12.00 元"


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4))
def test_money_reads_back_as_the_amount_rounded_half_up(amount: Decimal) -> None:
    shown = i18n.format_money(amount, Language.ZH)
    assert shown.endswith(" 元")
    digits = shown.removesuffix(" 元").replace(",", "")
    assert Decimal(digits) == amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert len(digits.partition(".")[2]) == 2


def test_numbers_keep_a_decimals_own_digits_or_the_ones_asked() -> None:
    assert i18n.format_number(Decimal("1234.50"), Language.EN) == "1,234.50"
    assert i18n.format_number(12345, Language.ZH) == "12,345"
    assert i18n.format_number(Decimal("2.5"), Language.ZH, decimals=0) == "3"
    assert i18n.format_energy_gj(Decimal("12.3456"), Language.EN) == "12.346 GJ"


def test_dates_and_times_are_shown_as_a_clerk_in_china_reads_them() -> None:
    assert i18n.format_date(date(2025, 12, 1), Language.ZH) == "2025年12月1日"
    assert i18n.format_date(date(2025, 12, 1), Language.EN) == "Dec 1, 2025"
    midnight_utc = datetime(2025, 11, 30, 16, 30, tzinfo=UTC)
    assert i18n.format_datetime(midnight_utc, Language.ZH) == "2025年12月1日 00:30:00"
    assert i18n.format_date(midnight_utc, Language.ZH) == "2025年12月1日"
    assert i18n.format_datetime(datetime(2025, 11, 30, 16, 30), Language.ZH) == "2025年12月1日 00:30:00"
