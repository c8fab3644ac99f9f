"""The pages' ``translate`` (api.web.rendering) writes exactly what ``api.i18n.translate`` writes,
for every message of both catalogues, with its params filled, missing or of other types."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api import i18n
from api.i18n import Language
from api.web import rendering
from application.message_catalogue import placeholders


@pytest.fixture(scope="module", autouse=True)
def catalogues() -> None:
    i18n.load_catalogues()


@pytest.mark.parametrize("language", list(Language))
def test_every_message_with_its_params(language: Language) -> None:
    keys = sorted(i18n.catalogue(language).messages)
    assert len(keys) > 100
    for key in keys:
        template = i18n.text(key, language) or ""
        names = placeholders(template) - {"key", "language"}  # not passable as params to either
        for value in ("x", 3, Decimal("12.50"), None):
            params = dict.fromkeys(names, value) | {"unused": 1}
            assert rendering.translate(key, language, **params) == i18n.translate(key, language, **params), key
        if names:  # one param missing: the placeholder stays, as api.i18n leaves it
            params = dict.fromkeys(sorted(names)[1:], "y") | {"unused": 1}
            assert rendering.translate(key, language, **params) == i18n.translate(key, language, **params), key
        assert rendering.translate(key, language) == i18n.translate(key, language), key


def test_an_unknown_key_and_an_odd_template() -> None:
    zh = Language("zh")
    assert rendering.translate("no.such.key", zh, a=1) == i18n.translate("no.such.key", zh, a=1)
