"""Numbers, money and heat for the pages, formatted as ``api.i18n`` formats them, without Babel's
per-call cost.

A page's tables format hundreds of figures (a meter's readings: about 300 a page), and Babel
parses its number pattern and looks up the locale's symbols on every call: a fifth to a third of
the CPU of the table-heavy pages (profiled with py-spy on ``heatledger serve``, docs/ui.md
"Performance"). The page's languages (zh-CN and en) both write numbers the same way: ``.`` before
the decimals, ``,`` between groups of three digits, ``-`` before a negative number. For those,
Python's own ``format(value, ",.Nf")`` of the same rounded ``Decimal`` gives the same text; this
module checks the locales' symbols and grouping once, and falls back to ``api.i18n`` for any
language written otherwise and for whatever it does not handle (floats without fixed decimals,
infinities). Rounding is ``api.i18n``'s: half up, to the decimals asked for.
``tests/unit/api/test_number_format.py`` holds the two equal (hypothesis).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel import numbers as babel_numbers

from api import i18n
from api.i18n import Language

# The decimals asked for, as quanta: Decimal(1).scaleb(-n) once per n, not per figure.
_QUANTA = tuple(Decimal(1).scaleb(-decimals) for decimals in range(i18n.MAXIMUM_DECIMALS + 1))


@cache
def writes_like_python(language: Language) -> bool:
    """Whether the language writes numbers as Python's ``,`` format does (., ',', '-', groups of 3)."""
    locale = i18n.BABEL_LOCALES[language]
    pattern = locale.decimal_formats[None]
    return (
        babel_numbers.get_decimal_symbol(locale) == "."
        and babel_numbers.get_group_symbol(locale) == ","
        and babel_numbers.get_minus_sign_symbol(locale) == "-"
        and pattern.grouping == (3, 3)
    )


def format_number(value: Decimal | int | float, language: Language, decimals: int | None = None) -> str:
    """``api.i18n.format_number``'s text: a grouped number; ``decimals`` fixes the fraction digits
    (half up), else a Decimal shows the digits it has and an int every digit."""
    if not writes_like_python(language) or isinstance(value, bool):
        return i18n.format_number(value, language, decimals)
    if decimals is None:
        if isinstance(value, int):
            return f"{value:,}"
        if not isinstance(value, Decimal) or not value.is_finite():
            return i18n.format_number(value, language, decimals)
        decimals = min(max(0, -int(value.as_tuple().exponent)), i18n.MAXIMUM_DECIMALS)
    assert 0 <= decimals <= i18n.MAXIMUM_DECIMALS, f"decimals out of range: {decimals}"
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    if not exact.is_finite():
        return i18n.format_number(value, language, decimals)
    rounded = exact.quantize(_QUANTA[decimals], rounding=ROUND_HALF_UP)
    return format(rounded, f",.{decimals}f")


def format_money(amount: Decimal, language: Language) -> str:
    """``api.i18n.format_money``'s text: ``1,234.50 元``."""
    return f"{format_number(amount, language, i18n.MONEY_DECIMALS)} {i18n.MONEY_UNIT}"


def format_energy_gj(value: Decimal | int | float, language: Language) -> str:
    """``api.i18n.format_energy_gj``'s text: ``12.345 GJ``."""
    return f"{format_number(value, language, i18n.ENERGY_DECIMALS)} {i18n.ENERGY_UNIT}"
