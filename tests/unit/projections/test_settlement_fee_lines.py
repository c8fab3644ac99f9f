"""A settlement bill's fees read from its event's lines equal the fees read from the lines' JSON
text in the ``bills`` row (``BillBatchWriter`` hands ``record_settlement_fees`` the lines as the
event carries them; ``bill_issued`` parses the text back): same amounts and the same printed text."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.analytics_summary import fees_of_bill
from projections.balance_rows import json_text

CODES = ("area_fee", "area_fee_share", "metered_fee", "suspension_charge", "prepaid", "settlement_amount", "other")

amounts = st.one_of(
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)


@st.composite
def lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    drawn = []
    for _ in range(draw(st.integers(0, 10))):
        line: dict[str, Any] = {"code": draw(st.sampled_from(CODES))}
        if draw(st.booleans()):
            line["amount_yuan"] = draw(amounts)
        if draw(st.booleans()):
            line["quantity"] = draw(st.decimals(allow_nan=False, allow_infinity=False))
        drawn.append(line)
    return drawn


@given(lines())
def test_fees_of_the_events_lines_equal_the_fees_of_their_json_text(bill_lines: list[dict[str, Any]]) -> None:
    from_text = fees_of_bill(json.loads(json_text(bill_lines)))
    from_event = fees_of_bill(bill_lines)
    assert tuple(map(str, from_event)) == tuple(map(str, from_text))
    assert from_event == from_text


def test_the_text_keeps_trailing_zeros_as_the_event_does() -> None:
    # 21.60 and 21.6 are equal amounts but different text in settlement_bill_fees.
    bill_lines: list[dict[str, Any]] = [
        {"code": "area_fee", "amount_yuan": Decimal("21.60")},
        {"code": "prepaid", "amount_yuan": "-1.00"},
    ]
    assert tuple(map(str, fees_of_bill(bill_lines))) == ("21.60", "21.60", "-1.00")
    assert fees_of_bill(json.loads(json_text(bill_lines))) == fees_of_bill(bill_lines)
