"""Amounts of money in Chinese capital numerals (大写金额), as a receipt writes them beside the figures.

The rules are those of the People's Bank of China's 《支付结算办法》 (附一 正确填写票据和结算凭证的
基本规定), which banks and receipts follow:

- digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟 within a group of four digits, 万 and 亿 for the groups;
- a ten is written 壹拾 (16 元 is 壹拾陆元), so a figure cannot be altered by writing a digit before it;
- zeros in the middle are written as one 零 however many there are (1409.50: 壹仟肆佰零玖元伍角;
  100010000: 壹亿零壹万元整); zeros at the end of a group are not written (1680: 壹仟陆佰捌拾元);
- an amount that ends at 元 ends with 整 (壹佰元整); with 角 and no 分 it ends at 角 (整 is optional
  there and left out); with 分 it ends at 分, and a zero 角 before a 分 is written 零
  (325.04: 叁佰贰拾伍元零肆分);
- an amount under one 元 starts at its 角 or 分 (0.50: 伍角); nothing at all is 零元整.

Only amounts the ledger can hold on a receipt are taken: 0 up to (not including) 10¹² 元, to the 分.
"""

from __future__ import annotations

from decimal import Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
# The unit of each place within a group of four digits, by its power of ten modulo 4.
PLACE_UNITS = ("", "拾", "佰", "仟")
# The unit of each group of four digits, by its index from the right (万 = 10⁴, 亿 = 10⁸).
GROUP_UNITS = ("", "万", "亿")
MAXIMUM_YUAN_EXCLUSIVE = Decimal(10) ** 12
FEN = Decimal("0.01")


def amount_in_capitals(amount_yuan: Decimal) -> str:
    """``amount_yuan`` in capital numerals: ``Decimal("1409.50")`` → ``壹仟肆佰零玖元伍角``.

    Raises ValueError for a negative amount, one of 10¹² 元 or more, or one with more than two
    decimals (a receipt's figure is to the 分; rounding here would print another amount).
    """
    fen_total = _whole_fen(amount_yuan)
    yuan, fen_part = divmod(fen_total, 100)
    jiao, fen = divmod(fen_part, 10)
    if fen_total == 0:
        return "零元整"
    integer_text = f"{_integer_in_capitals(yuan)}元" if yuan else ""
    return integer_text + _fraction_in_capitals(jiao, fen, has_yuan=yuan > 0)


def _whole_fen(amount_yuan: Decimal) -> int:
    """The amount in 分, refusing what a receipt cannot print."""
    amount = Decimal(amount_yuan)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"a receipt's amount is a figure of 0 元 or more, not {amount_yuan}")
    if amount >= MAXIMUM_YUAN_EXCLUSIVE:
        raise ValueError(f"{amount_yuan} 元 is beyond what capital numerals are written for here (10¹² 元)")
    if amount != amount.quantize(FEN):
        raise ValueError(f"{amount_yuan} 元 has more than two decimals: a receipt is written to the 分")
    return int(amount.scaleb(2))


def _integer_in_capitals(yuan: int) -> str:
    """A positive whole number of 元 in capitals, without the 元."""
    figures = str(yuan)
    places = len(figures)
    parts: list[str] = []
    zero_pending = False
    group_has_digit = False
    for index, figure in enumerate(figures):
        power = places - 1 - index
        digit = int(figure)
        if digit == 0:
            zero_pending = True
        else:
            if zero_pending and parts:
                parts.append("零")
            zero_pending = False
            group_has_digit = True
            parts.append(DIGITS[digit] + PLACE_UNITS[power % 4])
        if power % 4 == 0 and power > 0:
            if group_has_digit:
                parts.append(GROUP_UNITS[power // 4])
            group_has_digit = False
    return "".join(parts)


def _fraction_in_capitals(jiao: int, fen: int, has_yuan: bool) -> str:
    """The 角 and 分 after the 元 (or alone, under one 元)."""
    if jiao == 0 and fen == 0:
        return "整"
    if fen == 0:
        return f"{DIGITS[jiao]}角"
    if jiao == 0:
        return f"零{DIGITS[fen]}分" if has_yuan else f"{DIGITS[fen]}分"
    return f"{DIGITS[jiao]}角{DIGITS[fen]}分"
