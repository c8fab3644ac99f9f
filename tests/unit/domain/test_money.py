"""Amounts of money as the ledger accepts them from outside (domain.money): CNY, positive, to the
分, at most 1,000,000 元, and always given back with exactly two decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import InvalidInputError
from domain.money import payment_amount

D = Decimal


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (D("5"), "CNY", "5.00"),  # a whole number gets its two decimals
        (D("12.3"), "CNY", "12.30"),
        (D("0.01"), "CNY", "0.01"),  # one 分, the smallest payment
        (D("2160.00"), "cny", "2160.00"),  # the currency code in lower case
        (D("2160"), " CNY ", "2160.00"),  # and with blanks around it
        (D("1000000"), "CNY", "1000000.00"),  # the bound itself is accepted
        (D("1E+6"), "CNY", "1000000.00"),  # in exponent notation too
        (D("7.500"), "CNY", "7.50"),  # trailing zeros beyond the 分 are not precision
    ],
)
def test_an_accepted_amount_comes_back_with_two_decimals(amount: Decimal, currency: str, expected: str) -> None:
    checked = payment_amount(amount, currency)
    assert checked == D(expected)
    assert str(checked) == expected  # exactly two decimals, not just the same value


def test_the_currency_defaults_to_cny() -> None:
    assert str(payment_amount(D("99.9"))) == "99.90"


@pytest.mark.parametrize("currency", ["USD", "RMB", "", "CN"])
def test_only_cny_is_accepted(currency: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        payment_amount(D("100.00"), currency)
    assert raised.value.message_key == "currency_unsupported"
    assert raised.value.params == {"field": "currency", "value": currency}


def test_the_currency_is_checked_before_the_amount() -> None:
    with pytest.raises(InvalidInputError) as raised:
        payment_amount(D("-1"), "USD")
    assert raised.value.message_key == "currency_unsupported"


@pytest.mark.parametrize(
    "amount", [D(0), D("0.00"), D("-0"), D("-0.01"), D("-100"), D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity")]
)
def test_an_amount_that_is_not_a_positive_number_is_refused(amount: Decimal) -> None:
    with pytest.raises(InvalidInputError) as raised:
        payment_amount(amount)
    assert raised.value.message_key == "amount_not_positive"
    assert raised.value.params == {"field": "amount_yuan", "value": str(amount)}


@pytest.mark.parametrize("amount", [D("10.001"), D("0.001"), D("0.009"), D("999999.999")])
def test_an_amount_finer_than_the_fen_is_refused(amount: Decimal) -> None:
    with pytest.raises(InvalidInputError) as raised:
        payment_amount(amount)
    assert raised.value.message_key == "amount_too_precise"
    assert raised.value.params == {"field": "amount_yuan", "value": str(amount)}


@pytest.mark.parametrize("amount", [D("1000000.01"), D("1000001"), D("1E+7"), D("1E+20")])
def test_an_amount_above_a_million_yuan_is_refused(amount: Decimal) -> None:
    with pytest.raises(InvalidInputError) as raised:
        payment_amount(amount)
    assert raised.value.message_key == "amount_too_large"
    assert raised.value.params == {"field": "amount_yuan", "limit": "1000000", "value": str(amount)}


@pytest.mark.parametrize("amount", [D("1E+26"), D("1E+30")])
def test_an_absurdly_large_amount_is_refused_as_too_large(amount: Decimal) -> None:
    with pytest.raises(InvalidInputError) as raised:
        payment_amount(amount)
    assert raised.value.message_key == "amount_too_large"


def test_the_refusal_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidInputError) as raised:
        payment_amount(D(0), field="refund_yuan")
    assert raised.value.params["field"] == "refund_yuan"
