"""The Tariff aggregate: effective-dated versions that never overlap, and the terms each carries
(domain.md §6 prices and settlement practices, §7 position coefficients)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

from application.transcodings import register_ledger_transcodings
from domain import ids
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.settlement import PositionCorrection, Rounding, RoundingMode, SettlementPolicy, TwoPartPrice
from domain.tariff import (
    CITY_SCOPE,
    SOURCE_COEFFICIENT_TABLE,
    BilledArea,
    BrokenMeterMethod,
    Tariff,
    TariffTerms,
    TariffVersion,
)
from domain.values import CustomerClass
from tests.strategies import context

D = Decimal
COMMUNITY = "碧桂园"
# The Xuchang prices (domain.md §6): 21.6 元/m² a season, base 30 % of the area fee, 43.9 元/GJ.
XUCHANG: dict[str, Any] = {
    "area_price_yuan_per_m2": D("21.6"),
    "base_share_percent": D(30),
    "energy_price_yuan_per_gj": D("43.9"),
    "policy": SettlementPolicy.REFUND_ONLY,
}


def price(**changes: Any) -> TwoPartPrice:
    return TwoPartPrice(**(XUCHANG | changes))


def terms(**changes: Any) -> TariffTerms:
    return TariffTerms(**({"price": price()} | changes))


def opened(scope: str = COMMUNITY) -> Tariff:
    return Tariff.open(CustomerClass.RESIDENTIAL, scope, context())


def publish(
    tariff: Tariff, effective_from: date, effective_until: date | None = None, version_terms: TariffTerms | None = None
) -> int:
    return tariff.publish(
        version_terms or terms(),
        effective_from,
        effective_until,
        f"宁价〔{effective_from.year}〕{len(tariff.versions) + 1}号",
        date(effective_from.year, 10, 1),
        context(),
    )


def replayed(tariff: Tariff) -> Tariff:
    """The tariff rebuilt from its pending events, as the event store would rebuild it."""
    copy: Tariff | None = None
    for pending in tariff.collect_events():
        copy = pending.mutate(copy)
    assert copy is not None
    return copy


def ledger_transcoder() -> JSONTranscoder:
    """The JSON transcoder the ledger stores events with (HeatLedger.register_transcodings)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    register_ledger_transcodings(transcoder)
    return transcoder


def stored_and_replayed(tariff: Tariff) -> Tariff:
    """The tariff rebuilt from its events after each went through the ledger's JSON transcoder."""
    mapper = Mapper(transcoder=ledger_transcoder())
    copy: Tariff | None = None
    for pending in tariff.collect_events():
        copy = mapper.to_domain_event(mapper.to_stored_event(pending)).mutate(copy)
    assert copy is not None
    return copy


# -- opening and publishing --------------------------------------------------------------------


def test_a_tariff_is_opened_for_a_class_and_a_scope_without_versions() -> None:
    tariff = opened()
    assert tariff.id == ids.tariff_id("residential", COMMUNITY)
    assert (tariff.customer_class, tariff.scope, tariff.versions) == (CustomerClass.RESIDENTIAL, COMMUNITY, [])
    assert not tariff.is_city_wide
    assert opened(CITY_SCOPE).is_city_wide
    assert tariff.in_force_on(date(2025, 11, 1)) is None


def test_published_versions_are_numbered_from_one_and_keep_their_terms() -> None:
    tariff = opened()
    dearer = terms(price=price(area_price_yuan_per_m2=D("23.00")), broken_meter_method=BrokenMeterMethod.ESTIMATE)
    assert publish(tariff, date(2024, 11, 1)) == 1
    assert publish(tariff, date(2025, 11, 1), version_terms=dearer) == 2
    first, second = tariff.versions
    assert tariff.version_numbered(1) == first
    assert (first.effective_from, first.effective_until, first.terms) == (date(2024, 11, 1), None, terms())
    assert second.terms == dearer
    assert (second.document_number, second.approved_on) == ("宁价〔2025〕2号", date(2025, 10, 1))
    events = tariff.collect_events()
    assert [type(event) for event in events] == [Tariff.Opened, Tariff.VersionPublished, Tariff.VersionPublished]
    published = events[2]
    assert isinstance(published, Tariff.VersionPublished)
    # The event carries the terms as a record, not the dataclass, so the store can keep it.
    assert published.terms["area_price_yuan_per_m2"] == D("23.00")
    assert published.terms["broken_meter_method"] == "estimate"


@pytest.mark.parametrize("number", [0, 3, -1])
def test_a_version_that_was_not_published_is_not_found(number: int) -> None:
    tariff = opened()
    publish(tariff, date(2024, 11, 1))
    publish(tariff, date(2025, 11, 1))
    with pytest.raises(NotFoundError) as raised:
        tariff.version_numbered(number)
    assert raised.value.params == {"kind": "tariff_version", "key": str(number)}


def test_a_blank_document_number_is_refused() -> None:
    tariff = opened()
    with pytest.raises(InvalidInputError) as raised:
        tariff.publish(terms(), date(2025, 11, 1), None, "   ", date(2025, 10, 1), context())
    assert raised.value.message_key == "text_length"
    assert tariff.versions == []


# -- which version is in force -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 10, 31), None),  # before the first version
        (date(2024, 11, 1), 1),  # version 1's first day
        (date(2025, 3, 31), 1),  # version 1's explicit last day
        (date(2025, 4, 1), None),  # version 1 has ended; version 2 has not started
        (date(2025, 10, 31), None),
        (date(2025, 11, 1), 2),  # version 2's first day
        (date(2030, 1, 1), 2),  # version 2 has no end
    ],
)
def test_the_version_in_force_is_the_latest_started_unless_it_has_ended(day: date, expected: int | None) -> None:
    tariff = opened()
    publish(tariff, date(2024, 11, 1), date(2025, 3, 31))
    publish(tariff, date(2025, 11, 1))
    version = tariff.in_force_on(day)
    assert (version.number if version else None) == expected


def test_an_open_ended_version_stays_in_force_until_the_next_one_starts() -> None:
    tariff = opened()
    publish(tariff, date(2024, 11, 1))
    publish(tariff, date(2025, 11, 1))
    in_force = {day: tariff.in_force_on(day) for day in (date(2025, 10, 31), date(2025, 11, 1))}
    assert [version.number if version else None for version in in_force.values()] == [1, 2]


# -- overlapping versions are refused ----------------------------------------------------------


@pytest.mark.parametrize(
    ("until", "effective_from"),
    [
        (None, date(2025, 11, 1)),  # the same first day as the latest version
        (None, date(2025, 10, 31)),  # before the latest version starts
        (date(2026, 3, 31), date(2026, 1, 15)),  # inside the latest version's explicit days
        (date(2026, 3, 31), date(2026, 3, 31)),  # on its last day
    ],
)
def test_a_version_that_would_overlap_the_latest_is_refused(until: date | None, effective_from: date) -> None:
    tariff = opened()
    publish(tariff, date(2025, 11, 1), until)
    tariff.collect_events()
    with pytest.raises(ConflictError) as raised:
        publish(tariff, effective_from)
    assert raised.value.message_key == "tariff_version_overlaps"
    assert raised.value.params == {
        "version": 1,
        "effective_from": "2025-11-01",
        "effective_until": until.isoformat() if until else "",
    }
    assert len(tariff.versions) == 1
    assert tariff.collect_events() == []  # nothing recorded


def test_a_version_may_start_the_day_after_an_ended_one() -> None:
    tariff = opened()
    publish(tariff, date(2025, 11, 1), date(2026, 3, 31))
    assert publish(tariff, date(2026, 4, 1)) == 2
    assert tariff.in_force_on(date(2026, 3, 31)) == tariff.versions[0]
    assert tariff.in_force_on(date(2026, 4, 1)) == tariff.versions[1]


def test_a_version_cannot_end_before_it_starts_but_may_last_one_day() -> None:
    tariff = opened()
    with pytest.raises(InvalidInputError) as raised:
        publish(tariff, date(2025, 11, 1), date(2025, 10, 31))
    assert raised.value.message_key == "tariff_version_ends_before_start"
    assert tariff.versions == []
    publish(tariff, date(2025, 11, 1), date(2025, 11, 1))
    assert tariff.in_force_on(date(2025, 11, 1)) is not None
    assert tariff.in_force_on(date(2025, 11, 2)) is None


def test_a_version_covers_its_first_and_last_day_only() -> None:
    version = TariffVersion(1, date(2025, 11, 1), date(2026, 3, 31), terms(), "宁价〔2025〕1号", date(2025, 10, 1))
    days = (date(2025, 10, 31), date(2025, 11, 1), date(2026, 3, 31), date(2026, 4, 1))
    assert [version.covers(day) for day in days] == [False, True, True, False]


# -- the terms ---------------------------------------------------------------------------------


def test_default_terms_bill_the_connected_area_by_area_when_the_meter_breaks() -> None:
    default = terms()
    assert (default.billed_area, default.broken_meter_share_percent) == (BilledArea.CONNECTED, D(10))
    assert default.broken_meter_method is BrokenMeterMethod.AREA
    # The source's table (domain.md §7): top floor west end 1.518, a middle flat 0.687.
    assert default.coefficient_for("top", "west_end") == D("1.518")
    assert default.coefficient_for("middle", "middle") == D("0.687")
    assert len(default.position_coefficients) == 9


@pytest.mark.parametrize("share", [D("-0.1"), D("100.01"), D("NaN"), D("Infinity")])
def test_a_broken_meter_share_outside_0_to_100_percent_is_refused(share: Decimal) -> None:
    with pytest.raises(InvalidInputError) as raised:
        terms(broken_meter_share_percent=share)
    assert raised.value.message_key == "share_out_of_range"
    assert raised.value.params["field"] == "broken_meter_share_percent"


@pytest.mark.parametrize("share", [D(0), D(100)])
def test_a_broken_meter_share_of_0_or_100_percent_is_taken(share: Decimal) -> None:
    assert terms(broken_meter_share_percent=share).broken_meter_share_percent == share


def test_a_coefficient_table_missing_a_position_is_refused() -> None:
    table = dict(SOURCE_COEFFICIENT_TABLE)
    del table["bottom/east_end"]
    with pytest.raises(InvalidInputError) as raised:
        terms(position_coefficients=table)
    assert raised.value.message_key == "coefficient_table_incomplete"
    assert (raised.value.params["missing"], raised.value.params["unknown"]) == ("bottom/east_end", "")


def test_a_coefficient_table_with_an_unknown_position_is_refused() -> None:
    table = dict(SOURCE_COEFFICIENT_TABLE) | {"attic/middle": D(1)}
    with pytest.raises(InvalidInputError) as raised:
        terms(position_coefficients=table)
    assert raised.value.message_key == "coefficient_table_incomplete"
    assert (raised.value.params["missing"], raised.value.params["unknown"]) == ("", "attic/middle")


@pytest.mark.parametrize("value", [D(0), D("-0.5"), D("5.001"), D("NaN")])
def test_a_coefficient_outside_0_to_5_is_refused(value: Decimal) -> None:
    table = dict(SOURCE_COEFFICIENT_TABLE) | {"top/east_end": value}
    with pytest.raises(InvalidInputError) as raised:
        terms(position_coefficients=table)
    assert raised.value.message_key == "coefficient_out_of_range"
    assert raised.value.params["position"] == "top/east_end"


def test_a_coefficient_of_exactly_5_is_taken() -> None:
    table = dict(SOURCE_COEFFICIENT_TABLE) | {"top/east_end": D(5)}
    assert terms(position_coefficients=table).coefficient_for("top", "east_end") == D(5)


@pytest.mark.parametrize("name", ["area_price_yuan_per_m2", "energy_price_yuan_per_gj", "minimum_charge_yuan"])
def test_a_negative_price_is_refused(name: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        price(**{name: D("-0.01")})
    assert raised.value.message_key == "price_negative"
    assert raised.value.params["field"] == name


# -- terms as event payload --------------------------------------------------------------------

COEFFICIENTS = st.decimals(min_value=D("0.001"), max_value=5, places=3)


@st.composite
def any_terms(draw: st.DrawFn) -> TariffTerms:
    policy = draw(st.sampled_from(SettlementPolicy))
    any_cap = st.decimals(min_value=100, max_value=200, places=1)
    cap = draw(any_cap if policy is SettlementPolicy.CAPPED else st.none() | any_cap)
    drawn_price = TwoPartPrice(
        area_price_yuan_per_m2=draw(st.decimals(min_value=0, max_value=100, places=2)),
        base_share_percent=draw(st.decimals(min_value=0, max_value=100, places=1)),
        energy_price_yuan_per_gj=draw(st.decimals(min_value=0, max_value=200, places=3)),
        policy=policy,
        cap_percent=cap,
        suspension_share_percent=draw(st.decimals(min_value=0, max_value=100, places=1)),
        position_correction=draw(st.sampled_from(PositionCorrection)),
        minimum_charge_yuan=draw(st.decimals(min_value=0, max_value=2000, places=2)),
        rounding=Rounding(draw(st.sampled_from(RoundingMode)), draw(st.sampled_from([D("0.01"), D("0.1"), D(1)]))),
    )
    return TariffTerms(
        price=drawn_price,
        billed_area=draw(st.sampled_from(BilledArea)),
        broken_meter_share_percent=draw(st.decimals(min_value=0, max_value=100, places=1)),
        broken_meter_method=draw(st.sampled_from(BrokenMeterMethod)),
        position_coefficients={key: draw(COEFFICIENTS) for key in SOURCE_COEFFICIENT_TABLE},
    )


@given(any_terms())
def test_terms_survive_their_record_and_the_event_stores_json(drawn: TariffTerms) -> None:
    record = drawn.to_record()
    # Enumerations travel as plain strings, so the JSON store gives back what was written.
    assert all(type(record[name]) is str for name in ("policy", "position_correction", "rounding_mode"))
    assert TariffTerms.from_record(record) == drawn
    transcoder = ledger_transcoder()
    assert TariffTerms.from_record(transcoder.decode(transcoder.encode(record))) == drawn


@pytest.mark.parametrize("quantum", ["1.00", "0.10"])
def test_a_rounding_quantum_written_with_trailing_zeros_rounds_to_its_value(quantum: str) -> None:
    record = terms().to_record() | {"rounding_mode": "half_up", "rounding_quantum_yuan": quantum}
    try:
        rounding = TariffTerms.from_record(record).price.rounding
    except InvalidInputError as refused:  # refusing the ambiguous quantum would be right too
        assert refused.message_key == "rounding_quantum_invalid"
        return
    # 1338.46 rounded half up to 1 元 is 1338.00, to 0.1 元 is 1338.50; quantize(1.00) leaves 1338.46.
    expected = {"1.00": D("1338.00"), "0.10": D("1338.50")}[quantum]
    assert rounding.apply(D("1338.46")) == expected


# -- replay --------------------------------------------------------------------------------------


def published_history() -> Tariff:
    tariff = opened()
    publish(tariff, date(2024, 11, 1), date(2025, 3, 31))
    capped = terms(price=price(policy=SettlementPolicy.CAPPED, cap_percent=D(115)), billed_area=BilledArea.HEATED)
    publish(tariff, date(2025, 11, 1), version_terms=capped)
    return tariff


@pytest.mark.parametrize("rebuild", [replayed, stored_and_replayed])
def test_replaying_the_events_gives_the_same_versions(rebuild: Any) -> None:
    tariff = published_history()
    copy = rebuild(tariff)
    assert copy.id == tariff.id
    assert (copy.customer_class, copy.scope) == (CustomerClass.RESIDENTIAL, COMMUNITY)
    assert copy.versions == tariff.versions
    assert copy.versions[1].terms.price.cap_percent == D(115)
    assert copy.in_force_on(date(2025, 4, 1)) is None
    assert copy.version == tariff.version == 3
