"""Every event type, and a meter snapshot, come back from the store exactly as they went in."""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from application.authorization import SYSTEM
from application.ledger import METER_SNAPSHOT_INTERVAL, HeatLedger
from application.transcodings import DATACLASSES, LedgerTranscoder, register_ledger_transcodings
from domain import ids
from domain.allocation import AllocationMethod, FlatInput, Radiator
from domain.arrears import ArrearsFacts, ArrearsFlag, ArrearsPolicy, FlagSubject, WithdrawalKind
from domain.billing import MeterEvidence, MonthInputs, SegmentInputs, SettlementInputs
from domain.billing_period import BillingPeriod
from domain.building_allocation import BuildingAllocation
from domain.day_split import BUSINESS_TIME_ZONE
from domain.heating_season import HeatingSeason
from domain.household import Household
from domain.implausible_heat import HeatDecision, IntervalEvidence
from domain.meter import READING_WINDOW_SIZE, Meter
from domain.readings import Attachment, MeteredInterval, RememberedReading
from domain.season import Season
from domain.settlement import SettlementPolicy, TwoPartPrice
from domain.tariff import Tariff, TariffTerms
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
    CommandContext,
    CustomerClass,
    FlowSensorSide,
    HorizontalPosition,
    MeterKind,
    Position,
    ReadingSource,
    VerticalPosition,
)
from domain.valve import DeviceReport
from domain.valve_commands import ValveCommand
from domain.verification import JudgedPoint, TestPoint
from tests.strategies import (
    COMMISSIONED_AT,
    RECEIVED_LATER,
    SEASON_START,
    context,
    hours_after,
    household_with_meter,
    item,
    new_household,
    new_meter,
    record,
    values,
)

D = Decimal
T = SEASON_START


def sqlite_environment(path: Path, cache: bool) -> dict[str, str]:
    environment = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    if cache:
        environment |= {"AGGREGATE_CACHE_MAXSIZE": "1000", "AGGREGATE_CACHE_FASTFORWARD": "n"}
    return environment


class LedgerWithoutSnapshots(HeatLedger):
    """Replays every aggregate from its events alone."""

    snapshotting_intervals = {}  # type: ignore[assignment]  # noqa: RUF012


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "events.sqlite"


@pytest.fixture
def ledger(store_path: Path) -> Iterator[HeatLedger]:
    built = HeatLedger(env=sqlite_environment(store_path, cache=True), clock=lambda: RECEIVED_LATER)
    yield built
    built.close()


def fresh(store_path: Path, kind: type[HeatLedger] = HeatLedger) -> HeatLedger:
    """A new application on the same file, without a cache: everything it returns comes from the store."""
    return kind(env=sqlite_environment(store_path, cache=False))


def event_types(aggregate: type[Any]) -> set[type[Any]]:
    return {
        value
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, DomainEvent) and name not in {"Event", "Created"}
    }


def every_event_type() -> tuple[Household, Meter]:
    """A household and a meter whose pending events include one of every type they define."""
    household, meter = new_household(), new_meter(energy_register_width_gj=D(1000))
    correlation = uuid4()
    both = CommandContext("fitter-ma", "installation", correlation)
    household.correct_area(Areas(D("92.00"), D("88.50")), date(2025, 12, 1), context(reason="survey"))
    household.suspend_heating(date(2025, 12, 2), context())
    household.resume_heating(date(2026, 1, 3), context())
    household.change_owner(date(2026, 1, 16), context(reason="过户"))
    household.attach_meter(meter.id, meter.serial, COMMISSIONED_AT, both)
    meter.attach_to(household.id, COMMISSIONED_AT, both)
    warm = {"flow_temperature_c": "70.50", "return_temperature_c": "30.25", "volume_m3": "100.000"}
    instants = {"operating_hours": "10", "flow_rate_m3_h": "0.120", "power_kw": "3.400", "error_flags": 4}
    record(meter, values(T, "999.500", **instants, **warm))
    warm["volume_m3"] = "101.000"
    record(meter, values(hours_after(T, 48), "0.400", **warm))  # across the rollover at 1000 GJ
    warm["volume_m3"] = "100.500"
    record(meter, values(hours_after(T, 24), "999.950", **warm))  # a late reading: replaces an interval
    record(meter, values(hours_after(T, 60), "0.600", faulty=True))  # a broken probe: not billable
    meter.estimate_faulty_interval(hours_after(T, 48), D("0.150"), "own_history_scaled_by_building", context())
    meter.void_reading(hours_after(T, 24), context(reason="read from the wrong flat"))
    evidence = IntervalEvidence(
        meter.serial, hours_after(T, 60), hours_after(T, 72), D("38"), D("0.99181"), D("3731.38"), D("4.10")
    )
    meter.decide_implausible_heat(
        evidence, HeatDecision.ESTIMATE, D("1.000"), "own_history", context(reason="38 GJ in a day is a fault")
    )
    # Detached at 54 h, recorded after the reading at 60 h: the intervals after it are re-charged.
    meter.detach(hours_after(T, 54), context(reason="meter replaced; the form typed in late"))
    household.detach_meter(meter.id, hours_after(T, 54), context(reason="meter replaced; the form typed in late"))
    household.mark_vulnerable(context(reason="lives alone, 82"))
    household.clear_vulnerability(context(reason="moved to her son's"))
    dispute_id = ids.dispute_id(household.account_number, "D-1")
    household.open_dispute(dispute_id, D("120.50"), context(reason="disputes the settlement"))
    household.close_dispute(dispute_id, context(reason="settlement explained"))
    household.deregister(date(2026, 3, 1), context(reason="拆网"), today=date(2026, 2, 1))
    meter.record_verification(
        date(2026, 1, 10), "JJG225-2026-0042", [TestPoint(D("0.25"), D(20), D("1.10"))], context()
    )
    meter.decommission(hours_after(T, 96), context(reason="failed verification"))
    return household, meter


def test_the_fixture_history_holds_every_event_type() -> None:
    household, meter = every_event_type()
    assert {type(event) for event in household.pending_events} == event_types(Household)
    assert {type(event) for event in meter.pending_events} == event_types(Meter)


def test_every_event_type_round_trips_through_the_sqlite_store(ledger: HeatLedger, store_path: Path) -> None:
    household, meter = every_event_type()
    written = list(household.pending_events) + list(meter.pending_events)
    ledger.save(household, meter)
    reader = fresh(store_path)
    try:
        read = list(reader.events.get(household.id)) + list(reader.events.get(meter.id))
    finally:
        reader.close()
    assert [type(event) for event in read] == [type(event) for event in written]
    for before, after in zip(written, read, strict=True):
        assert after == before, type(before).__qualname__


def billing_aggregates() -> list[Any]:
    """A tariff, a billing period that issued every kind of bill, a building allocation, and an
    arrears flag approved, withdrawn and raised again."""
    season = Season.default_starting(2025)
    price = TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.CAPPED, cap_percent=D(115))
    tariff = Tariff.open(CustomerClass.RESIDENTIAL, "*", context())
    tariff.publish(TariffTerms(price), date(2025, 10, 1), None, "许发改价格〔2025〕7号", date(2025, 9, 20), context())
    revised = {"energy_price_yuan_per_gj": "40.0"}
    tariff.record_correction(1, uuid4(), "许发改价格〔2026〕3号", date(2026, 5, 1), revised, ("2025-2026",), context())
    household = new_household()
    period = BillingPeriod.open(
        household.id,
        "WZ-0001",
        "碧桂园",
        "1",
        season,
        tariff.id,
        "*",
        tariff.versions[0],
        D("90.00"),
        D("0.687"),
        context(),
    )
    period.invoice_prepayment(False, date(2025, 11, 1), context())
    extended = Season(season.first_day, date(2026, 4, 10), "宁政办发〔2026〕5号")
    period.follow_season(extended, None, context(reason="cold spell"))
    season = extended
    december = MonthInputs("2025-12", date(2025, 12, 1), date(2025, 12, 31), D("6.2"), D("12.2"), D("6.0"), D("0.05"))
    period.issue_statement(december, date(2026, 1, 2), context())
    evidence = MeterEvidence(D("30.2"), D("0.4"), 149, 2, 0, ("M-1",), "M-1 first", "M-1 last")
    segments = (SegmentInputs(season.first_day, season.last_day, 0, evidence),)
    period.settle(SettlementInputs(segments, None, period.prepaid_yuan), date(2026, 4, 12), context())
    allocation = BuildingAllocation.start("碧桂园", "9", season.code)
    flats = [
        FlatInput("C-1", D(90), open_hours=D(2000), room_temperature_c=D("20.5")),
        FlatInput("C-2", D(90), open_hours=D(1000), radiators=(Radiator(D(120), D("1.1"), D("0.95")),)),
    ]
    allocation.record(AllocationMethod.ON_OFF_TIME_AREA, D("226.5"), "B-9", flats, None, context())
    policy = ArrearsPolicy.of(D("1000.00"), 30, "11-15", "03-15")
    facts = ArrearsFacts(D("1944.00"), date(2025, 11, 1), vulnerable=False, open_disputes=0)
    subject = FlagSubject(household.id, "WZ-0001", "碧桂园", "1", D("1944.00"), 70)
    flag = ArrearsFlag.raise_flag(subject, policy, facts, date(2026, 1, 10), context("clerk-li"))
    flag.approve(date(2026, 1, 11), context("clerk-wang"))
    flag.withdraw(WithdrawalKind.PAID, date(2026, 1, 12), context("clerk-wang", "paid"))
    flag.raise_again(policy, facts, date(2026, 1, 20), context("clerk-wang", "the payment bounced"))
    heating_season = HeatingSeason.declare(
        "*", season.code, date(2025, 11, 1), date(2026, 3, 31), "宁政办发〔2025〕88号", context()
    )
    heating_season.extend(date(2025, 11, 1), date(2026, 4, 10), "宁政办发〔2026〕5号", context(reason="cold spell"))
    return [tariff, period, allocation, flag, heating_season]


def test_every_billing_event_type_round_trips_through_the_sqlite_store(ledger: HeatLedger, store_path: Path) -> None:
    aggregates = billing_aggregates()
    for aggregate in aggregates:
        assert {type(event) for event in aggregate.pending_events} == event_types(type(aggregate)) | {
            type(aggregate.pending_events[0])
        }
    written = {aggregate.id: list(aggregate.pending_events) for aggregate in aggregates}
    ledger.save(*aggregates)
    reader = fresh(store_path)
    try:
        for aggregate_id, events in written.items():
            assert list(reader.events.get(aggregate_id)) == events
            replayed = reader.repository.get(aggregate_id)
            live = next(aggregate for aggregate in aggregates if aggregate.id == aggregate_id)
            assert {key: value for key, value in vars(replayed).items() if not key.startswith("_")} == {
                key: value for key, value in vars(live).items() if not key.startswith("_")
            }
    finally:
        reader.close()


def test_decimals_keep_their_written_digits_and_types_come_back_as_they_went(
    ledger: HeatLedger, store_path: Path
) -> None:
    household, meter = every_event_type()
    ledger.save(household, meter)
    reader = fresh(store_path)
    try:
        registered = next(iter(reader.events.get(household.id)))
        recordings = [event for event in reader.events.get(meter.id) if isinstance(event, Meter.ReadingRecorded)]
    finally:
        reader.close()
    assert str(registered.connected_area_m2) == "90.00" and str(registered.heated_area_m2) == "85.50"
    assert type(registered.registered_on) is date and isinstance(registered.correlation_id, UUID)
    first, _, late, *_ = recordings
    assert (str(first.energy_gj), str(first.flow_temperature_c), str(first.power_kw)) == ("999.500", "70.50", "3.400")
    interval = late.intervals[0]
    assert isinstance(interval, MeteredInterval)
    # 999.950 − 999.500 = 0.450 GJ, 100.500 − 100.000 = 0.500 m³.
    assert (str(interval.energy_gj), str(interval.volume_m3)) == ("0.450", "0.500")
    assert interval.expected_energy_gj is not None and interval.plausible is not None


ENUMS = (AccuracyClass, CustomerClass, FlowSensorSide, HorizontalPosition, MeterKind, ReadingSource, VerticalPosition)


@pytest.mark.parametrize("enum_type", ENUMS, ids=lambda enum_type: enum_type.__name__)
def test_every_enumeration_comes_back_as_its_plain_value(ledger: HeatLedger, enum_type: Any) -> None:
    # JSON writes a StrEnum as the string it is, so it comes back a plain str (architecture.md): events
    # carry values and aggregates turn them back into members. A member must still equal what comes back.
    transcoder = ledger.mapper.transcoder
    for member in enum_type:
        decoded = transcoder.decode(transcoder.encode({"value": member}))["value"]
        assert decoded == member.value and type(decoded) is str


DATACLASS_SAMPLES: dict[type[Any], Any] = {
    Address: Address("碧桂园", "3", "2", -1, "B01"),
    Areas: Areas(D("90.00"), D("85.50")),
    Attachment: Attachment(ids.household_id("A"), COMMISSIONED_AT, T),
    MeteredInterval: MeteredInterval(T, hours_after(T, 1), D("0.100"), None, None, D("0.1"), D("-1.25"), D("3.80")),
    Position: Position(VerticalPosition.TOP, HorizontalPosition.EAST_END),
    JudgedPoint: JudgedPoint(D("0.25"), D(20), D("1.10"), D("3.15"), True),
    RememberedReading: RememberedReading(T, D("1.50"), D("1001.50"), None, None, D(10), D("70.5"), None, "ab12"),
    DeviceReport: DeviceReport("r-1", T, D("19.5"), D("41.0"), D("20.0"), 3, "open", D("1203.25"), -85, 97),
    ValveCommand: ValveCommand(
        "c-1", "force_gear", {"gear": 2, "temperature_c": D("18.5")}, "arrears", True, "dispatched", T, "clerk-1",
        "欠费限流", "corr-1", 4, "clerk-2", 1, T, None, None, None, None, None,
    ),
}


def test_every_registered_dataclass_has_a_sample() -> None:
    assert set(DATACLASS_SAMPLES) == set(DATACLASSES)


@pytest.mark.parametrize("dataclass_type", DATACLASSES, ids=lambda dataclass_type: dataclass_type.__name__)
def test_every_registered_dataclass_round_trips(ledger: HeatLedger, dataclass_type: Any) -> None:
    transcoder = ledger.mapper.transcoder
    sample = DATACLASS_SAMPLES[dataclass_type]
    decoded = transcoder.decode(transcoder.encode({"value": sample}))["value"]
    assert decoded == sample and type(decoded) is dataclass_type


def test_a_date_round_trips() -> None:
    transcoder = HeatLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper.transcoder
    decoded = transcoder.decode(transcoder.encode({"day": date(2026, 2, 28)}))["day"]
    assert decoded == date(2026, 2, 28) and type(decoded) is date


# -- snapshots ----------------------------------------------------------------------------------

READINGS = METER_SNAPSHOT_INTERVAL + 50  # more than one snapshot interval and more than the window


def state(meter: Meter) -> dict[str, Any]:
    return {name: value for name, value in vars(meter).items() if name != "_pending_events"}


def test_a_meter_snapshot_round_trips(ledger: HeatLedger, store_path: Path) -> None:
    household_with_meter(ledger, energy_register_width_gj=D(1000))
    # Hourly readings rising 0.1 GJ an hour from 990 GJ: the register wraps at 1000 after 100 h.
    readings = [
        item("M-1", hours_after(T, hour), (D(990) + D("0.1") * hour) % 1000, volume_m3=D("0.01") * hour)
        for hour in range(READINGS)
    ]
    assert ledger.record_readings(SYSTEM, readings).accepted == READINGS
    live = ledger.meter("M-1")
    assert live.readings_count == READINGS and live.verified_since is not None
    with_snapshots, from_events = fresh(store_path), fresh(store_path, LedgerWithoutSnapshots)
    try:
        assert with_snapshots.snapshots is not None
        (snapshot,) = with_snapshots.snapshots.get(ids.meter_id("M-1"))
        assert snapshot.originator_version == METER_SNAPSHOT_INTERVAL
        from_snapshot = with_snapshots.meter("M-1")
        replayed = from_events.meter("M-1")
        at_snapshot = snapshot.mutate(None)
        replayed_to_snapshot = from_events.repository.get(ids.meter_id("M-1"), version=METER_SNAPSHOT_INTERVAL)
    finally:
        with_snapshots.close()
        from_events.close()
    assert state(at_snapshot) == state(replayed_to_snapshot)
    assert state(from_snapshot) == state(replayed) == state(live)
    assert len(live.window) == READING_WINDOW_SIZE
    assert all(type(reading) is RememberedReading for reading in from_snapshot.window)
    assert from_snapshot.attachments == [Attachment(ids.household_id("WZ-0001"), COMMISSIONED_AT)]
    # The last reading at 249 h: unwrapped 990 + 24.9 = 1014.9 GJ although the register shows 14.9.
    assert (from_snapshot.window[-1].energy_register_gj, from_snapshot.window[-1].energy_unwrapped_gj) == (
        D("14.9"),
        D("1014.9"),
    )


# -- the ledger's transcoder decodes as the library's does --------------------------------------


def library_transcoder() -> JSONTranscoder:
    """The library's own JSON transcoder with the ledger's transcodings (what LedgerTranscoder replaces)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    register_ledger_transcodings(transcoder)
    return transcoder


def typed(value: Any) -> Any:
    """A value with the type of every part spelled out (1 and 1.0, a list and a tuple differ)."""
    if isinstance(value, dict):
        return {key: typed(part) for key, part in value.items()}
    if isinstance(value, list | tuple):
        return (type(value).__name__, [typed(part) for part in value])
    if hasattr(value, "__dataclass_fields__"):
        return (type(value).__name__, {name: typed(getattr(value, name)) for name in value.__dataclass_fields__})
    return (type(value).__name__, str(value))


def test_the_ledger_decodes_with_its_own_transcoder(ledger: HeatLedger) -> None:
    assert isinstance(ledger.mapper.transcoder, LedgerTranscoder)


def test_every_registered_value_decodes_as_the_library_decodes_it(ledger: HeatLedger) -> None:
    payload = {
        "dataclasses": list(DATACLASS_SAMPLES.values()),
        "decimal": D("-0.000100"),
        "uuid": uuid4(),
        "same_uuid_again": [ids.household_id("A"), ids.household_id("A")],
        "datetime": T.astimezone(BUSINESS_TIME_ZONE),
        "date": date(2026, 2, 28),
        "plain": {"_type_": "not a transcoding", "_data_": 1, "third": True},
        "nested": [[{"a": None}], 1, 1.5, "text"],
    }
    encoded = ledger.mapper.transcoder.encode(payload)
    assert encoded == library_transcoder().encode(payload)
    assert typed(ledger.mapper.transcoder.decode(encoded)) == typed(library_transcoder().decode(encoded))


def test_an_unknown_transcoding_name_is_refused_as_by_the_library(ledger: HeatLedger) -> None:
    with pytest.raises(TranscodingNotRegisteredError, match="not deserializable"):
        ledger.mapper.transcoder.decode(b'{"value":{"_type_":"no_such","_data_":1}}')


def test_another_transcoder_named_in_the_environment_is_used(store_path: Path) -> None:
    environment = sqlite_environment(store_path, cache=False) | {
        "TRANSCODER_TOPIC": "eventsourcing.persistence:JSONTranscoder"
    }
    other = HeatLedger(env=environment)
    try:
        assert type(other.mapper.transcoder) is JSONTranscoder
    finally:
        other.close()
