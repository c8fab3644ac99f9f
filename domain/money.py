"""Amounts of money as the ledger accepts them from outside: 元 (CNY), positive, at most two
decimals (分), below a bound no household payment reaches."""

from __future__ import annotations

from decimal import Decimal

from domain.errors import InvalidInputError

CURRENCY = "CNY"
CENT = Decimal("0.01")
# No household pays more than this at once; a larger figure is a typing or a parsing error.
MAXIMUM_PAYMENT_YUAN = Decimal(1_000_000)


def payment_amount(amount_yuan: Decimal, currency: str = CURRENCY, field: str = "amount_yuan") -> Decimal:
    """``amount_yuan`` checked as a payment: CNY, finite, positive, to the 分, within the bound.

    Returns it with exactly two decimals."""
    if currency.strip().upper() != CURRENCY:
        raise InvalidInputError(
            f"payments are taken in {CURRENCY} only",
            message_key="currency_unsupported",
            field="currency",
            value=currency,
        )
    if not amount_yuan.is_finite() or amount_yuan <= 0:
        raise InvalidInputError(
            "the amount must be positive", message_key="amount_not_positive", field=field, value=str(amount_yuan)
        )
    # The bound first: quantizing an absurd figure (1E+30) would overflow the decimal context.
    if amount_yuan > MAXIMUM_PAYMENT_YUAN:
        raise InvalidInputError(
            f"the amount exceeds {MAXIMUM_PAYMENT_YUAN} 元",
            message_key="amount_too_large",
            field=field,
            limit=str(MAXIMUM_PAYMENT_YUAN),
            value=str(amount_yuan),
        )
    if amount_yuan != amount_yuan.quantize(CENT):
        raise InvalidInputError(
            "the amount has more than two decimals (分)",
            message_key="amount_too_precise",
            field=field,
            value=str(amount_yuan),
        )
    return amount_yuan.quantize(CENT)
