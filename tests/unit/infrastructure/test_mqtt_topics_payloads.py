"""The MQTT topic schema and payloads of room controllers (docs/valves.md, "Topics and payloads")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.mqtt.payloads import (
    MAXIMUM_PAYLOAD_BYTES,
    AckMessage,
    AckResult,
    CommandMessage,
    PayloadError,
    ReportMessage,
    ValveState,
    encode,
)
from infrastructure.mqtt.topics import Channel, DeviceTopic, TopicError, TopicScheme

device_ids = st.text(
    alphabet=st.characters(
        blacklist_characters="/+#", min_codepoint=0x21, max_codepoint=0x2FFF, blacklist_categories=["Cs"]
    ),
    min_size=1,
    max_size=64,
).filter(lambda text: "\x7f" not in text)


@given(device_ids, st.sampled_from(list(Channel)))
def test_a_device_topic_reads_back_as_its_device_and_channel(device_id: str, channel: Channel) -> None:
    scheme = TopicScheme()
    assert scheme.parse(scheme.topic(device_id, channel)) == DeviceTopic(device_id, channel)


def test_the_documented_topics() -> None:
    scheme = TopicScheme()
    assert scheme.commands("RC-000001") == "heatledger/v1/devices/RC-000001/commands"
    assert scheme.acks("RC-000001") == "heatledger/v1/devices/RC-000001/acks"
    assert scheme.reports("RC-000001") == "heatledger/v1/devices/RC-000001/reports"
    assert scheme.every_device(Channel.REPORTS) == "heatledger/v1/devices/+/reports"


@pytest.mark.parametrize("device_id", ["", "a/b", "a+b", "a#", "with space", "x" * 65, "tab\there"])
def test_a_device_id_that_cannot_be_one_topic_level_is_refused(device_id: str) -> None:
    with pytest.raises(TopicError):
        TopicScheme().commands(device_id)


@pytest.mark.parametrize(
    "topic",
    [
        "heatledger/v1/devices/RC-1",
        "heatledger/v1/devices/RC-1/reports/extra",
        "heatledger/v1/devices/RC-1/status",
        "heatledger/v2/devices/RC-1/reports",
        "other/devices/RC-1/reports",
        "heatledger/v1/devices//reports",
    ],
)
def test_a_topic_outside_the_schema_is_refused(topic: str) -> None:
    with pytest.raises(TopicError):
        TopicScheme().parse(topic)


@pytest.mark.parametrize("prefix", ["", "a/", "a/+/b", "a/#", "a//b"])
def test_a_prefix_with_wildcards_or_empty_levels_is_refused(prefix: str) -> None:
    with pytest.raises(TopicError):
        TopicScheme(prefix)


def test_a_command_is_written_with_exact_decimals_and_utc_and_reads_back() -> None:
    command = CommandMessage(
        command_id="12345678-1234-5678-1234-567812345678",
        kind="set_temperature_limits",
        params={"lower_c": Decimal("16.5"), "upper_c": Decimal("22.0")},
        issued_at=datetime(2025, 12, 1, 8, 0, tzinfo=UTC),
        attempt=2,
    )
    raw = encode(command)
    assert json.loads(raw) == {
        "command_id": "12345678-1234-5678-1234-567812345678",
        "kind": "set_temperature_limits",
        "params": {"lower_c": "16.5", "upper_c": "22.0"},
        "issued_at": "2025-12-01T08:00:00Z",
        "attempt": 2,
    }
    assert CommandMessage.decode(raw).params == {"lower_c": "16.5", "upper_c": "22.0"}


def test_a_report_keeps_every_digit_of_a_json_number() -> None:
    raw = b'{"report_id": "r1", "measured_at": "2025-12-01T08:00:00+08:00", "room_temperature_c": 20.1,'
    raw += b' "valve_open_hours_total": 1234.567, "valve_state": "partial", "valve_gear": 3, "signal_dbm": -81}'
    report = ReportMessage.decode(raw)
    assert report.room_temperature_c == Decimal("20.1")
    assert report.valve_open_hours_total == Decimal("1234.567")
    assert report.valve_state is ValveState.PARTIAL
    assert report.measured_at == datetime(2025, 12, 1, 0, 0, tzinfo=UTC)


def test_a_report_field_this_schema_does_not_know_is_ignored() -> None:
    raw = b'{"report_id": "r1", "measured_at": "2025-12-01T00:00:00Z", "firmware": "2.1"}'
    assert ReportMessage.decode(raw).report_id == "r1"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"not json", "not valid JSON"),
        (b'{"report_id": "r1"}', "measured_at"),
        (b'{"report_id": "r1", "measured_at": "2025-12-01T00:00:00"}', "measured_at"),  # no zone
        (b'{"report_id": "r1", "measured_at": "2025-12-01T00:00:00Z", "room_temperature_c": NaN}', "not valid"),
        (b'{"report_id": "r1", "measured_at": "2025-12-01T00:00:00Z", "humidity_percent": 120}', "humidity"),
        (b'{"report_id": "r1", "measured_at": "2025-12-01T00:00:00Z", "valve_state": "ajar"}', "valve_state"),
        (b'{"report_id": "r1", "measured_at": "2025-12-01T00:00:00Z", "valve_open_hours_total": -1}', "valve_open"),
        (b'{"report_id": "r\\u0000", "measured_at": "2025-12-01T00:00:00Z"}', "report_id"),
        (b"[]", "ReportMessage"),
    ],
)
def test_a_malformed_report_is_refused_whole(raw: bytes, why: str) -> None:
    with pytest.raises(PayloadError, match=why):
        ReportMessage.decode(raw)


def test_an_oversized_payload_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadError, match="larger than"):
        ReportMessage.decode(b" " * (MAXIMUM_PAYLOAD_BYTES + 1))


def test_an_acknowledgement_accepts_or_refuses_with_a_code() -> None:
    command_id = str(uuid4())
    refused = AckMessage.decode(
        json.dumps({"command_id": str(command_id), "result": "refused", "code": "locked"}).encode()
    )
    assert (refused.command_id, refused.result, refused.code) == (command_id, AckResult.REFUSED, "locked")
    with pytest.raises(PayloadError):
        AckMessage.decode(json.dumps({"command_id": str(command_id), "result": "maybe"}).encode())


@given(
    st.decimals(min_value=-50, max_value=100, places=3, allow_nan=False),
    st.decimals(min_value=0, max_value=1_000_000, places=3, allow_nan=False),
)
def test_a_report_reads_back_exactly_what_was_written(room_c: Decimal, open_hours: Decimal) -> None:
    report = ReportMessage(
        report_id="r",
        measured_at=datetime(2025, 12, 1, tzinfo=UTC),
        room_temperature_c=room_c,
        valve_open_hours_total=open_hours,
    )
    assert ReportMessage.decode(encode(report)) == report
