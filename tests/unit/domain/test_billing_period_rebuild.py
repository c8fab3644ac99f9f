"""A billing period rebuilt cheaply (issue 17) is the period rebuilt plainly: the terms made once
per distinct record, and the bills' lines made from their records only when asked."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from domain import billing_period
from domain.billing import BillKind
from domain.billing_period import IssuedBill, terms_from_record
from domain.settlement import BillLine, PositionCorrection, Rounding, RoundingMode, SettlementPolicy, TwoPartPrice
from domain.tariff import TariffTerms

# Prices written with more or fewer decimals: 21.6 and 21.60 are equal but print differently on a bill.
prices = st.builds(
    lambda value, places: value.quantize(Decimal(1).scaleb(-places)),
    st.decimals(min_value=0, max_value=100, places=2),
    st.integers(min_value=0, max_value=4),
)
shares = st.decimals(min_value=0, max_value=100, places=1)


@st.composite
def terms(draw: st.DrawFn) -> TariffTerms:
    price = TwoPartPrice(
        draw(prices),
        draw(shares),
        draw(prices),
        draw(st.sampled_from([SettlementPolicy.BOTH_WAYS, SettlementPolicy.REFUND_ONLY])),
        suspension_share_percent=draw(shares),
        position_correction=draw(st.sampled_from(list(PositionCorrection))),
        minimum_charge_yuan=draw(prices),
        rounding=Rounding(draw(st.sampled_from(list(RoundingMode)))),
    )
    return TariffTerms(price, broken_meter_share_percent=draw(shares))


def printed(value: TariffTerms) -> dict[str, str]:
    return {name: f"{type(field).__name__}:{field}" for name, field in value.to_record().items()}


@given(st.lists(terms(), min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_terms_made_once_per_record_are_the_terms_made_each_time(
    made: list[TariffTerms], shuffler: random.Random
) -> None:
    records = [value.to_record() for value in made] * 2
    shuffler.shuffle(records)
    for record in records:
        plain = TariffTerms.from_record(record)
        memoized = terms_from_record(record)
        assert memoized == plain
        # The same text too: a price's exponent is what a bill line prints.
        assert printed(memoized) == printed(plain)


def test_the_terms_made_are_bounded() -> None:
    base = TariffTerms(TwoPartPrice(Decimal("21.6"), Decimal(30), Decimal("43.9"), SettlementPolicy.BOTH_WAYS))
    for number in range(billing_period.MAXIMUM_TERMS_MADE + 10):
        record = {**base.to_record(), "area_price_yuan_per_m2": Decimal(number)}
        assert terms_from_record(record).price.area_price_yuan_per_m2 == number
        assert len(billing_period._TERMS_MADE) <= billing_period.MAXIMUM_TERMS_MADE


line_records = st.lists(
    st.fixed_dictionaries(
        {
            "code": st.sampled_from(["area_fee", "energy_part", "balance", "tariff"]),
            "amount_yuan": st.none() | st.decimals(min_value=-1000, max_value=1000, places=2),
            "figures": st.dictionaries(st.sampled_from(["a", "b", "c"]), st.text(max_size=5), max_size=3),
        }
    ),
    max_size=8,
)


def bill(records: list[dict[str, object]]) -> IssuedBill:
    return IssuedBill(
        BILL_ID, BillKind.SETTLEMENT, "1", "n", DAY, DAY, DAY, Decimal("1.00"), "metered", records, 7, CORRELATION_ID
    )


BILL_ID, CORRELATION_ID, DAY = uuid4(), uuid4(), date(2026, 4, 15)


@given(line_records)
def test_a_bills_lines_are_made_from_their_records_when_asked(records: list[dict[str, object]]) -> None:
    issued = bill(records)
    assert issued.lines == tuple(BillLine.from_record(record) for record in records)
    assert issued.lines is issued.lines  # made once


@given(line_records, line_records)
def test_bills_are_equal_when_their_lines_are(first: list[dict[str, object]], second: list[dict[str, object]]) -> None:
    same_lines = [BillLine.from_record(record) for record in first] == [
        BillLine.from_record(record) for record in second
    ]
    assert (bill(first) == bill(second)) is same_lines
    # Copies of the records make an equal bill.
    assert bill(first) == bill([dict(record) for record in first])


def test_equal_prices_written_differently_are_two_records() -> None:
    price = TwoPartPrice(Decimal("21.6"), Decimal(30), Decimal("43.9"), SettlementPolicy.BOTH_WAYS)
    record = TariffTerms(price).to_record()
    longer = {**record, "area_price_yuan_per_m2": Decimal("21.60")}
    assert str(terms_from_record(record).price.area_price_yuan_per_m2) == "21.6"
    assert str(terms_from_record(longer).price.area_price_yuan_per_m2) == "21.60"
