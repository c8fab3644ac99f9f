"""Capital numerals on receipts: the People's Bank's examples, and properties over every amount."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.chinese_amounts import DIGITS, amount_in_capitals

GROUPS = {"万": 10**4, "亿": 10**8}
PLACES = {"拾": 10, "佰": 100, "仟": 1000}


def read_capitals(text: str) -> Decimal:
    """The amount a clerk reads back from capital numerals (the inverse, written independently)."""
    integer_text, _, fraction_text = text.partition("元") if "元" in text else ("", "", text)
    total = section = number = 0
    for character in integer_text:
        if character in DIGITS:
            number = DIGITS.index(character)
        elif character in PLACES:
            section, number = section + number * PLACES[character], 0
        elif character == "万":
            total, section, number = total + (section + number) * GROUPS["万"], 0, 0
        elif character == "亿":
            total, section, number = (total + section + number) * GROUPS["亿"], 0, 0
    yuan = total + section + number
    fen = 0
    pending = 0
    for character in fraction_text:
        if character in DIGITS:
            pending = DIGITS.index(character)
        elif character == "角":
            fen, pending = fen + pending * 10, 0
        elif character == "分":
            fen, pending = fen + pending, 0
    return Decimal(yuan) + Decimal(fen).scaleb(-2)


@pytest.mark.parametrize(
    ("amount", "capitals"),
    [
        # The examples of 《支付结算办法》 附一 (where two writings are allowed, the one written here).
        ("1409.50", "壹仟肆佰零玖元伍角"),
        ("6007.14", "陆仟零柒元壹角肆分"),
        ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
        ("107000.53", "壹拾万零柒仟元伍角叁分"),
        ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
        ("325.04", "叁佰贰拾伍元零肆分"),
        # A ten is 壹拾; whole 元 end with 整; under one 元 starts at the 角 or 分.
        ("16", "壹拾陆元整"),
        ("10", "壹拾元整"),
        ("2127.60", "贰仟壹佰贰拾柒元陆角"),
        ("100010000", "壹亿零壹万元整"),
        ("100000000", "壹亿元整"),
        ("1000001", "壹佰万零壹元整"),
        ("0.50", "伍角"),
        ("0.05", "伍分"),
        ("0.55", "伍角伍分"),
        ("0", "零元整"),
        ("0.00", "零元整"),
        ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_the_banks_examples(amount: str, capitals: str) -> None:
    assert amount_in_capitals(Decimal(amount)) == capitals


@pytest.mark.parametrize("amount", ["-0.01", "12.345", "1000000000000", "NaN", "Infinity"])
def test_what_a_receipt_cannot_print_is_refused(amount: str) -> None:
    with pytest.raises(ValueError):
        amount_in_capitals(Decimal(amount))


amounts = st.integers(min_value=0, max_value=10**14 - 1).map(lambda fen: Decimal(fen).scaleb(-2))


@given(amounts)
def test_capitals_read_back_as_the_same_amount(amount: Decimal) -> None:
    assert read_capitals(amount_in_capitals(amount)) == amount


@given(amounts)
def test_capitals_are_written_as_the_rules_say(amount: Decimal) -> None:
    text = amount_in_capitals(amount)
    assert set(text) <= set(DIGITS) | set(PLACES) | set(GROUPS) | set("元角分整")
    assert "零零" not in text and not text.endswith("零")
    assert text == "零元整" or not text.startswith("零")
    # 整 exactly when the amount ends at the 元; a 拾 always has its digit before it.
    assert text.endswith("整") == (amount == amount.to_integral_value())
    assert all(index > 0 and text[index - 1] in DIGITS for index, char in enumerate(text) if char == "拾")
