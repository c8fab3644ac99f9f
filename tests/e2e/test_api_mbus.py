"""M-Bus frames over HTTP (POST /readings/mbus): recorded, quarantined or rejected per frame, with
device tokens, in Chinese or English, as JSON hex text or raw octet-stream, on both backends."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from application.authorization import Role
from infrastructure.container import Container
from projections.tables import meter_readings, meters
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.unit.infrastructure.mbus.encoder import (
    BCD8,
    HEAT_FLOW,
    INT16,
    Frame,
    Record,
    date_record,
    date_time,
    energy_vib,
    error_flags,
    long_frame,
    numeric,
)

SERIAL = "12345678"
KWH = energy_vib("Wh", 3)[0]
ONE_GJ = energy_vib("GJ", 0)[0]


def heat_frame(
    kwh: int = 12345,
    day: int = 10,
    *extra: Record,
    identification: str = SERIAL,
    energy: Record | None = None,
    **frame: Any,
) -> bytes:
    """A frame of meter 12345678 read at midnight (Asia/Shanghai) starting ``day`` December 2025."""
    records = [
        energy or numeric(KWH, kwh),
        numeric([0x14], kwh * 10),
        numeric([0x59], 7012, INT16),
        numeric([0x5D], 4015, INT16),
        numeric([0x3B], 543),
        numeric([0x2B], 34700),
        date_time(datetime(2025, 12, day, 0, 0)),
        *extra,
    ]
    return Frame(identification=identification, records=records, **frame).encode()


def text(frame: bytes) -> str:
    return frame.hex(" ").upper()


def post(api: LedgerApi, frames: list[str], role: Role = Role.DEVICE, language: str | None = None, **body: Any) -> Any:
    return api.client.post(
        "/readings/mbus", json={"frames": frames, **body}, headers=api.tokens.headers(role, language)
    )


def post_raw(api: LedgerApi, data: bytes, role: Role = Role.DEVICE, **query: str) -> Any:
    headers = {**api.tokens.headers(role), "Content-Type": "application/octet-stream"}
    return api.client.post("/readings/mbus", content=data, headers=headers, params=query)


def receipt(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def statuses(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(outcome["status"], outcome["reason"]) for outcome in body["outcomes"]]


@pytest.fixture
def meter(api: LedgerApi) -> str:
    api.household_with_meter("WZ-0001", SERIAL)
    return SERIAL


@pytest.mark.usefixtures("frozen_now", "meter")
def test_a_known_meters_frame_is_recorded_and_visible(api: LedgerApi) -> None:
    body = receipt(post(api, [text(heat_frame())], reason="concentrator upload"))

    assert (body["received"], body["accepted"], body["readings"]) == (1, 1, 1)
    (outcome,) = body["outcomes"]
    assert (outcome["identification"], outcome["manufacturer"], outcome["meter_serial"]) == (SERIAL, "KAM", SERIAL)
    assert outcome["readings"][0]["measured_at"] == "2025-12-09T16:00:00Z"
    page = api.get(f"/meters/{SERIAL}/readings").json()
    assert page["total"] == 1
    (reading,) = page["items"]
    assert reading["measured_at"] == "2025-12-09T16:00:00Z"
    assert (reading["energy_gj"], reading["volume_m3"]) == ("44.442000", "1234.500000")  # 12,345 kWh
    assert (reading["flow_temperature_c"], reading["return_temperature_c"]) == ("70.120", "40.150")
    assert (reading["flow_rate_m3_h"], reading["power_kw"]) == ("0.543", "34.700")
    assert (reading["source"], reading["batch_id"]) == ("mbus", body["batch_id"])


@pytest.mark.usefixtures("frozen_now", "meter")
def test_an_unknown_meters_frame_is_quarantined(api: LedgerApi, container: Container) -> None:
    frame = heat_frame(identification="00000042", manufacturer="SEN")

    body = receipt(post(api, [text(frame)]))

    (outcome,) = body["outcomes"]
    assert (outcome["status"], outcome["reason"]) == ("quarantined", "unknown_meter")
    assert outcome["message"] == "没有表号为 00000042 的热表（M-Bus 识别号，厂家 SEN）；该帧已隔离待查。"
    (kept,), total = container.intake.quarantined()
    assert total == 1
    assert (str(kept.frame_id), kept.reason, kept.identification, kept.manufacturer, kept.channel) == (
        outcome["quarantine_id"],
        "unknown_meter",
        "00000042",
        "SEN",
        "mbus",
    )
    assert kept.payload == text(frame)
    assert api.get(f"/meters/{SERIAL}/readings").json()["total"] == 0


@pytest.mark.usefixtures("frozen_now", "meter")
def test_a_bad_checksum_is_rejected_while_the_good_frame_is_recorded(api: LedgerApi, container: Container) -> None:
    good = heat_frame()
    bad = heat_frame(20000, 8)
    bad = bad[:-2] + bytes([(bad[-2] + 1) % 256, 0x16])

    body = receipt(post(api, [text(bad), text(good)], language="en"))

    assert statuses(body) == [("rejected", "bad_checksum"), ("accepted", None)]
    assert body["outcomes"][0]["message"] == (
        f"Bad checksum: the frame says {bad[-2]:02X}, its bytes add up to {(bad[-2] - 1) % 256:02X}."
    )
    assert api.get(f"/meters/{SERIAL}/readings").json()["total"] == 1
    (kept,), _ = container.intake.quarantined()
    assert (kept.reason, kept.payload) == ("undecodable", text(bad))
    assert kept.detail.startswith("bad_checksum: ")


def error_flags_in_projection(container: Container) -> int:
    with container.engine.connect() as connection:
        flags: int = connection.execute(select(meters.c.error_flags).where(meters.c.serial == SERIAL)).scalar_one()
    return flags


@pytest.mark.usefixtures("frozen_now", "meter")
def test_a_fault_flag_makes_the_meters_error_flags_non_zero(api: LedgerApi, container: Container) -> None:
    receipt(post(api, [text(heat_frame(12345, 8, error_flags(0x0004)))]))

    assert error_flags_in_projection(container) == 0x0004
    assert api.get(f"/meters/{SERIAL}/readings").json()["items"][0]["error_flags"] == 0x0004

    receipt(post(api, [text(heat_frame(12350, 9, error_flags(0)))]))

    assert error_flags_in_projection(container) == 0


@pytest.mark.usefixtures("frozen_now", "meter")
def test_the_same_frames_posted_twice_are_duplicates(api: LedgerApi) -> None:
    billing = (numeric(KWH, 12000, storage=1), date_record(date(2025, 12, 1), storage=1))
    frames = [text(heat_frame(12300, 8, *billing)), text(heat_frame(12345, 9, *billing))]

    first = receipt(post(api, frames))
    again = receipt(post(api, frames))

    assert statuses(first) == [("accepted", None), ("accepted", None)]
    assert [reading["status"] for reading in first["outcomes"][0]["readings"]] == ["accepted", "accepted"]
    assert [reading["status"] for reading in first["outcomes"][1]["readings"]] == ["accepted", "duplicate"]
    assert statuses(again) == [("duplicate", None), ("duplicate", None)]
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    page = api.get(f"/meters/{SERIAL}/readings").json()
    assert page["total"] == 3
    assert page["items"][-1]["measured_at"] == "2025-11-30T16:00:00Z"  # the billing date, local midnight


@pytest.mark.usefixtures("frozen_now", "meter")
def test_a_device_may_post_an_auditor_may_not(api: LedgerApi, container: Container) -> None:
    assert receipt(post(api, [text(heat_frame(12345, 9))], role=Role.DEVICE))["accepted"] == 1
    assert receipt(post(api, [text(heat_frame(12400, 10))], role=Role.CLERK))["accepted"] == 1

    problem = assert_problem(post(api, [text(heat_frame(12500, 11))], role=Role.AUDITOR), 403, "permission_denied")
    assert problem["params"] == {"role": "auditor", "method": "POST"}  # refused at the door: api/read_only.py
    assert_problem(post_raw(api, b"\x00\x01", role=Role.AUDITOR), 403, "permission_denied")
    assert container.intake.quarantined()[1] == 0
    assert_problem(api.client.post("/readings/mbus", json={"frames": []}), 401, "unauthenticated")


@pytest.mark.usefixtures("frozen_now", "meter")
def test_raw_frames_as_octet_stream(api: LedgerApi) -> None:
    batch_id = str(uuid4())
    data = heat_frame(12300, 8) + b"\x00\x00" + heat_frame(12345, 9) + heat_frame(12400, 10)[:20]

    body = receipt(post_raw(api, data, batch_id=batch_id, reason="concentrator 7 upload"))

    assert body["batch_id"] == batch_id
    assert statuses(body) == [
        ("accepted", None),
        ("rejected", "not_a_long_frame"),
        ("accepted", None),
        ("rejected", "frame_truncated"),
    ]
    assert {item["batch_id"] for item in api.get(f"/meters/{SERIAL}/readings").json()["items"]} == {batch_id}


@pytest.mark.usefixtures("frozen_now", "meter")
def test_bad_input_is_rejected_frame_by_frame_and_the_rest_goes_on(api: LedgerApi) -> None:
    good = heat_frame(12345, 8)
    wrong_length = good[:1] + bytes([good[1] + 1, good[2] + 1]) + good[3:]
    bad_checksum = good[:-2] + bytes([(good[-2] + 7) % 256, 0x16])
    frames = [
        text(good[:-6]),  # truncated
        text(bad_checksum),
        text(wrong_length),
        "68 1F 1F 68 hello",  # not hex
        text(heat_frame(12345, 8, manufacturer="SEN", medium=0x07)),  # water: unknown medium
        text(heat_frame(energy=numeric(KWH, -5, BCD8))),  # negative energy
        text(good),
        text(heat_frame(energy=numeric(ONE_GJ, 1_000_000))),  # a million GJ a day later
        bytes(range(0, 256, 3)).hex(),  # random bytes
        text(heat_frame(12346, 9, medium=HEAT_FLOW)),  # the meter's flow sensor is in the return
        # only a record the standard does not define (VIF 7B, skipped): nothing to read
        text(long_frame(Frame().body() + bytes([0x0C, 0x7B, 1, 2, 3, 4]))),
    ]

    body = receipt(post(api, frames))

    assert statuses(body) == [
        ("rejected", "frame_truncated"),
        ("rejected", "bad_checksum"),
        ("rejected", "frame_truncated"),
        ("rejected", "not_hex"),
        ("rejected", "unknown_medium"),
        ("rejected", "invalid_register"),
        ("accepted", None),
        ("rejected", "implausible_increase"),
        ("rejected", "not_a_long_frame"),
        ("rejected", "side_mismatch"),
        ("rejected", "no_energy"),
    ]
    messages = [outcome["message"] for outcome in body["outcomes"]]
    assert all(message for index, message in enumerate(messages) if index != 6)
    assert messages[5] == "热量读数 -0.0180 无效：须在 0 到 10⁹ 之间，最多 9 位小数。"
    assert messages[9] == "帧表明流量在供水管计量，但热表 12345678 登记的流量传感器在回水管。"
    assert api.get(f"/meters/{SERIAL}/readings").json()["total"] == 1


@pytest.mark.usefixtures("frozen_now", "meter")
def test_a_sensor_fault_reading_is_kept_as_faulty(api: LedgerApi, container: Container) -> None:
    sensor_fault = [numeric([0x5B], 243, INT16), numeric([0x5F], 243, INT16)]
    frame = Frame(records=[numeric(KWH, 12345), numeric([0x14], 100), *sensor_fault, date_time(datetime(2025, 12, 10))])

    body = receipt(post(api, [frame.hex()]))

    (outcome,) = body["outcomes"]
    assert outcome["status"] == "accepted"
    assert outcome["readings"][0]["faulty"] is True
    (reading,) = api.get(f"/meters/{SERIAL}/readings").json()["items"]
    assert reading["flow_temperature_c"] == reading["return_temperature_c"] == "243.000"
    with container.engine.connect() as connection:
        assert connection.execute(select(meter_readings.c.faulty)).scalar_one() is True


@pytest.mark.usefixtures("frozen_now", "meter")
def test_the_request_itself_must_be_well_formed(api: LedgerApi) -> None:
    too_many = post(api, ["00"] * 1001)
    problem = assert_problem(too_many, 422, "validation_failed")
    assert problem["errors"][0]["field"] == "frames"
    assert_problem(post(api, ["00"], unknown="x"), 422, "validation_failed")
    response = api.client.post(
        "/readings/mbus", content=b"68", headers={**api.tokens.headers(Role.DEVICE), "Content-Type": "text/plain"}
    )
    assert_problem(response, 415, "unsupported_media_type")
    assert_problem(post_raw(api, b"\x00" * 300_001), 422, "invalid_input")
    assert receipt(post(api, []))["received"] == 0


@pytest.mark.usefixtures("frozen_now", "meter")
def test_text_with_nul_is_rejected_and_lone_surrogates_are_not_json(api: LedgerApi, container: Container) -> None:
    headers = {**api.tokens.headers(Role.DEVICE), "Content-Type": "application/json"}
    response = api.client.post("/readings/mbus", content=b'{"frames": ["68\\u0000"]}', headers=headers)

    body = receipt(response)

    assert statuses(body) == [("rejected", "not_hex")]
    assert body["outcomes"][0]["params"]["character"] == "\\x00"
    assert container.intake.quarantined()[0][0].payload == "68\\x00"
    surrogate = api.client.post("/readings/mbus", content=b'{"frames": ["\\ud800"]}', headers=headers)
    assert_problem(surrogate, 422, "validation_failed")


def test_the_operation_is_documented(api: LedgerApi) -> None:
    operation = api.client.get("/openapi.json").json()["paths"]["/readings/mbus"]["post"]
    assert operation["operationId"] == "submit_mbus_frames"
    assert set(operation["requestBody"]["content"]) == {"application/json", "application/octet-stream"}


@pytest.mark.usefixtures("frozen_now", "meter")
@settings(max_examples=15)
@given(st.lists(st.binary(max_size=120), max_size=4), st.lists(st.text(max_size=80), max_size=3))
def test_random_bytes_and_text_never_fail_the_request(api: LedgerApi, raw: list[bytes], texts: list[str]) -> None:
    body = receipt(post_raw(api, b"".join(raw)))
    assert all(outcome["status"] == "rejected" for outcome in body["outcomes"])
    body = receipt(post(api, [piece.hex() for piece in raw] + texts))
    assert len(body["outcomes"]) == len(raw) + len(texts)
    assert all(outcome["status"] == "rejected" and outcome["message"] for outcome in body["outcomes"])
