"""application.message_catalogue: the application's own texts, read from application/locale (issue 13)."""

from __future__ import annotations

import logging

import pytest

from application import message_catalogue
from application.notifications import MessageLanguage


def test_a_text_is_filled_in_the_language_asked() -> None:
    chinese = message_catalogue.translate("message.subject", MessageLanguage.ZH, sender="许昌热力", title="通知")
    english = message_catalogue.translate("message.subject", MessageLanguage.EN, sender="Xuchang Heat", title="Notice")
    assert (chinese, english) == ("【许昌热力】通知", "[Xuchang Heat] Notice")


def test_the_application_reads_only_its_own_catalogue() -> None:
    """The API's messages are not the application's to use (it imports nothing of the API)."""
    assert message_catalogue.find("reminder.title.first", MessageLanguage.EN) == "Reminder: heating charges due"
    assert message_catalogue.find("title.not_found", MessageLanguage.ZH) is None


def test_a_missing_key_or_param_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="application.message_catalogue"):
        assert message_catalogue.translate("no.such.message", MessageLanguage.EN) == "no.such.message"
        assert message_catalogue.translate("message.subject", MessageLanguage.EN, title="T") == "[{sender}] T"
    assert "unknown message key 'no.such.message'" in caplog.text


def test_a_template_with_escaped_braces_keeps_them() -> None:
    assert message_catalogue.fill("k", "{{literal}} {name}", {"name": "x"}) == "{literal} x"
    assert message_catalogue.fill("k", "no params", {}) == "no params"
