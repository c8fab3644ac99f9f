"""The NB-IoT webhook over HTTP: signed pushes recorded, refused pushes logged and booking nothing,
redeliveries answered the same, per-item outcomes as for reading batches."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import uuid5

import pytest
from sqlalchemy import func, select

from application.authorization import Role
from infrastructure.container import Container
from infrastructure.intake import quarantined_frames, rejected_readings
from infrastructure.nbiot import (
    DELIVERY_NAMESPACE,
    NbiotChannels,
    security_events,
    sign,
    webhook_deliveries,
)
from tests.e2e.conftest import NOW, LedgerApi, TestClient, assert_problem

CHANNEL = "concentrator-1"
NOW_S = int(NOW.timestamp())


def channels(container: Container) -> NbiotChannels:
    return NbiotChannels(container.engine, container.settings.secret_key, container.ledger.clock)


@pytest.fixture
def secret(container: Container) -> str:
    return channels(container).create(CHANNEL, created_by="e2e").secret


def reading(device_id: str, timestamp: str, energy_gj: Any, **values: Any) -> dict[str, Any]:
    return {"device_id": device_id, "timestamp": timestamp, "energy_gj": energy_gj, **values}


def body_of(message_id: str, *readings: dict[str, Any]) -> bytes:
    return json.dumps({"message_id": message_id, "readings": list(readings)}).encode()


def post(
    client: TestClient,
    body: bytes,
    secret: str | None,
    timestamp: int = NOW_S,
    channel: str = CHANNEL,
    **headers: str,
) -> Any:
    signed = {}
    if secret is not None:
        signed = {
            "X-Heatledger-Timestamp": str(timestamp),
            "X-Heatledger-Signature": sign(secret, str(timestamp), body),
        }
    return client.post(
        f"/ingest/nbiot/{channel}",
        content=body,
        headers={"Content-Type": "application/json", **signed, **headers},
    )


def count(container: Container, table: Any) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def readings_of(api: LedgerApi, serial: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/meters/{serial}/readings").json()["items"]
    return items


def security_reasons(container: Container) -> list[str]:
    with container.engine.connect() as connection:
        return list(connection.execute(select(security_events.c.reason).order_by(security_events.c.event_id)).scalars())


@pytest.mark.usefixtures("frozen_now")
def test_a_signed_push_is_recorded_with_exact_values(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    # Numbers, not strings: they are read as decimals, so every digit is kept.
    body = (
        b'{"message_id": "m-1", "readings": ['
        b'{"device_id": "HM-1", "timestamp": "2025-12-01T00:00:00+08:00", "energy_gj": 12.345678901,'
        b' "volume_m3": "74.120", "flow_temperature_c": 70, "return_temperature_c": "30.5",'
        b' "flow_rate_m3_h": 0.412, "power_kw": "7.9", "valve_state": "open", "room_temperature_c": 20.5},'
        b'{"device_id": "HM-1", "timestamp": "2025-12-02T00:00:00+08:00", "energy_gj": "12.745678901",'
        b' "volume_m3": "76.523", "valve_state": 3}]}'
    )

    response = post(client, body, secret)

    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["message_id"] == "m-1"
    assert receipt["batch_id"] == str(uuid5(DELIVERY_NAMESPACE, f"{CHANNEL}\nm-1"))
    assert (receipt["received"], receipt["accepted"], receipt["duplicates"], receipt["rejected"]) == (2, 2, 0, 0)
    assert [outcome["status"] for outcome in receipt["outcomes"]] == ["accepted", "accepted"]
    assert receipt["ignored_fields"] == ["room_temperature_c", "valve_state"]
    recorded = readings_of(api, "HM-1")
    assert [item["energy_gj"] for item in recorded] == ["12.745678901", "12.345678901"]
    first = recorded[1]
    assert (first["volume_m3"], first["flow_temperature_c"], first["return_temperature_c"]) == (
        "74.120000",
        "70.000",
        "30.500",
    )
    assert (first["flow_rate_m3_h"], first["power_kw"]) == ("0.412", "7.900")
    assert first["source"] == "nbiot"
    assert first["recorded_by"] == f"nbiot:{CHANNEL}"
    assert first["batch_id"] == receipt["batch_id"]
    assert security_reasons(container) == []


@pytest.mark.usefixtures("frozen_now")
def test_a_wrong_signature_is_refused_logged_and_books_nothing(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    body = body_of("m-1", reading("HM-1", "2025-12-01T00:00:00+08:00", "12.345"))

    forged = post(client, body, "not-the-channel-secret")
    tampered = client.post(
        f"/ingest/nbiot/{CHANNEL}",
        content=body.replace(b"12.345", b"99.345"),
        headers={"X-Heatledger-Timestamp": str(NOW_S), "X-Heatledger-Signature": sign(secret, str(NOW_S), body)},
    )

    for response in (forged, tampered):
        problem = assert_problem(response, 401, "unauthenticated")
        assert problem["params"] == {"reason": "invalid_signature"}
        assert response.headers["WWW-Authenticate"].startswith("Heatledger-HMAC-SHA256")
    assert security_reasons(container) == ["invalid_signature", "invalid_signature"]
    with container.engine.connect() as connection:
        event = connection.execute(select(security_events)).mappings().first()
    assert event is not None
    assert (event["channel"], event["remote_address"]) == (CHANNEL, "testclient")
    assert event["occurred_at"] == NOW
    assert readings_of(api, "HM-1") == []
    assert count(container, webhook_deliveries) == 0
    assert count(container, quarantined_frames) == 0


@pytest.mark.usefixtures("frozen_now")
@pytest.mark.parametrize("offset_s", [-301, 301, -3600])
def test_a_push_signed_outside_the_replay_window_is_refused(
    api: LedgerApi, client: TestClient, container: Container, secret: str, offset_s: int
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    body = body_of("m-1", reading("HM-1", "2025-12-01T00:00:00+08:00", "12.345"))

    response = post(client, body, secret, timestamp=NOW_S + offset_s)

    problem = assert_problem(response, 401, "unauthenticated")
    assert problem["params"] == {"reason": "stale_timestamp"}
    assert readings_of(api, "HM-1") == []
    assert count(container, webhook_deliveries) == 0
    assert security_reasons(container) == ["stale_timestamp"]


@pytest.mark.usefixtures("frozen_now")
@pytest.mark.parametrize("offset_s", [-300, 300])
def test_a_push_signed_at_the_edge_of_the_replay_window_is_taken(
    api: LedgerApi, client: TestClient, secret: str, offset_s: int
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    body = body_of("m-1", reading("HM-1", "2025-12-01T00:00:00+08:00", "12.345"))

    response = post(client, body, secret, timestamp=NOW_S + offset_s)

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


@pytest.mark.usefixtures("frozen_now")
def test_a_redelivered_message_gets_the_same_answer_and_records_nothing_new(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    body = body_of(
        "m-7",
        reading("HM-1", "2025-12-01T00:00:00+08:00", "12.345"),
        reading("NOPE-1", "2025-12-01T00:00:00+08:00", "3.1"),
    )
    first = post(client, body, secret, **{"Accept-Language": "en"})
    assert first.status_code == 200, first.text
    events_before = container.runner.max_notification_id()
    rejections_before = count(container, rejected_readings)

    # A platform that retries re-signs the same body with a new timestamp, in any language.
    again = post(client, body, secret, timestamp=NOW_S - 60, **{"Accept-Language": "zh"})

    assert again.status_code == 200, again.text
    assert again.content == first.content
    assert again.headers["Content-Language"] == "en"
    assert container.runner.max_notification_id() == events_before
    assert count(container, rejected_readings) == rejections_before == 1
    assert count(container, webhook_deliveries) == 1
    assert len(readings_of(api, "HM-1")) == 1


@pytest.mark.usefixtures("frozen_now")
def test_a_message_id_sent_again_with_another_body_is_a_conflict(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    assert post(client, body_of("m-1", reading("HM-1", "2025-12-01T00:00:00+08:00", "12.345")), secret).is_success
    other = body_of("m-1", reading("HM-1", "2025-12-02T00:00:00+08:00", "12.745"))

    response = post(client, other, secret, **{"Accept-Language": "en"})

    problem = assert_problem(response, 409, "conflict")
    assert problem["detail"] == "The message m-1 was already delivered with a different body."
    assert len(readings_of(api, "HM-1")) == 1


@pytest.mark.usefixtures("frozen_now")
def test_the_same_reading_under_a_new_message_id_is_a_duplicate(
    api: LedgerApi, client: TestClient, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    one = reading("HM-1", "2025-12-01T00:00:00+08:00", "12.345")
    assert post(client, body_of("m-1", one), secret).json()["accepted"] == 1

    receipt = post(client, body_of("m-2", one), secret).json()

    assert (receipt["accepted"], receipt["duplicates"]) == (0, 1)


@pytest.mark.usefixtures("frozen_now")
def test_a_revoked_channel_is_refused_and_a_reissued_one_takes_its_new_secret(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    channels(container).revoke(CHANNEL)
    body = body_of("m-1", reading("HM-1", "2025-12-01T00:00:00+08:00", "12.345"))

    revoked = post(client, body, secret)

    assert assert_problem(revoked, 401, "unauthenticated")["params"] == {"reason": "inactive_channel"}
    reissued = channels(container).create(CHANNEL)
    assert reissued.key_version == 2
    assert reissued.secret != secret
    assert assert_problem(post(client, body, secret), 401, "unauthenticated")["params"]["reason"] == "invalid_signature"
    assert post(client, body, reissued.secret).status_code == 200
    assert security_reasons(container) == ["revoked_channel", "invalid_signature"]


@pytest.mark.usefixtures("frozen_now")
def test_an_unknown_channel_is_refused(client: TestClient, container: Container, secret: str) -> None:
    body = body_of("m-1")

    response = post(client, body, secret, channel="concentrator-2")

    assert assert_problem(response, 401, "unauthenticated")["params"] == {"reason": "inactive_channel"}
    assert security_reasons(container) == ["unknown_channel"]


@pytest.mark.usefixtures("frozen_now")
def test_a_bearer_token_does_not_replace_the_signature(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    body = body_of("m-1", reading("HM-1", "2025-12-01T00:00:00+08:00", "12.345"))

    response = post(client, body, None, **api.tokens.headers(Role.DEVICE, "en"))

    problem = assert_problem(response, 401, "unauthenticated")
    assert problem["params"] == {"reason": "missing_signature"}
    assert "bearer" in problem["detail"]
    assert readings_of(api, "HM-1") == []
    assert security_reasons(container) == ["missing_signature"]


@pytest.mark.usefixtures("frozen_now")
def test_a_malformed_timestamp_header_is_refused(client: TestClient, secret: str) -> None:
    body = body_of("m-1")
    headers = {"X-Heatledger-Timestamp": "2025-12-10T12:00:00", "X-Heatledger-Signature": sign(secret, "1", body)}

    response = client.post(f"/ingest/nbiot/{CHANNEL}", content=body, headers=headers)

    assert assert_problem(response, 401, "unauthenticated")["params"] == {"reason": "invalid_timestamp"}


@pytest.mark.usefixtures("frozen_now")
def test_signed_malformed_json_is_a_422_problem_and_quarantined(
    client: TestClient, container: Container, secret: str
) -> None:
    body = b'{"message_id": "m-1", "readings": ['

    response = post(client, body, secret)

    problem = assert_problem(response, 422, "validation_failed")
    assert [error["code"] for error in problem["errors"]] == ["json_invalid"]
    assert count(container, webhook_deliveries) == 0
    with container.engine.connect() as connection:
        frame = connection.execute(select(quarantined_frames)).mappings().one()
    assert (frame["channel"], frame["actor"], frame["reason"]) == ("nbiot", f"nbiot:{CHANNEL}", "invalid_payload")
    assert frame["payload"] == body.decode()


@pytest.mark.usefixtures("frozen_now")
def test_a_signed_push_of_the_wrong_shape_lists_each_bad_value(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    body = body_of(
        "m-1",
        reading("HM-1", "2025-12-01T00:00:00+08:00", "twelve"),
        reading("HM-1", "not a time", "12.5", colour="red"),
    )

    response = post(client, body, secret)

    problem = assert_problem(response, 422, "validation_failed")
    fields = sorted((error["field"], error["code"]) for error in problem["errors"])
    assert fields == [
        ("readings[0].energy_gj", "decimal_parsing"),
        ("readings[1].colour", "extra_forbidden"),
        ("readings[1].timestamp", "datetime_from_date_parsing"),
    ]
    assert readings_of(api, "HM-1") == []
    assert count(container, quarantined_frames) == 1


def test_unsigned_malformed_json_is_refused_before_it_is_read(client: TestClient, container: Container) -> None:
    response = client.post(
        f"/ingest/nbiot/{CHANNEL}", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert assert_problem(response, 401, "unauthenticated")["params"] == {"reason": "missing_signature"}
    assert count(container, quarantined_frames) == 0


@pytest.mark.usefixtures("frozen_now")
def test_unknown_devices_and_broken_rules_reject_single_readings(
    api: LedgerApi, client: TestClient, container: Container, secret: str
) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    body = body_of(
        "m-1",
        reading("HM-1", "2025-12-01T00:00:00+08:00", "12.345"),
        reading("NOPE-1", "2025-12-01T00:00:00+08:00", "3.1"),
        reading("HM-1", "2025-12-02T00:00:00+08:00", "12.000"),
        reading("HM-1", (NOW + timedelta(days=1)).isoformat(), "13.000"),
    )

    receipt = post(client, body, secret, **{"Accept-Language": "en"}).json()

    assert (receipt["accepted"], receipt["rejected"]) == (1, 3)
    outcomes = receipt["outcomes"]
    assert [outcome["reason"] for outcome in outcomes] == [
        None,
        "unknown_meter",
        "register_backwards",
        "future_timestamp",
    ]
    assert outcomes[1]["meter_serial"] == "NOPE-1"
    assert outcomes[1]["message"] == "No meter has the serial number NOPE-1."
    assert receipt["ignored_fields"] == []
    with container.engine.connect() as connection:
        logged = connection.execute(select(rejected_readings).order_by(rejected_readings.c.item_index)).mappings().all()
    assert [(row["channel"], row["meter_serial"], row["reason"]) for row in logged] == [
        ("nbiot", "NOPE-1", "unknown_meter"),
        ("nbiot", "HM-1", "register_backwards"),
        ("nbiot", "HM-1", "future_timestamp"),
    ]


def test_the_webhook_is_documented_with_its_body_headers_and_problems(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/ingest/nbiot/{channel}"]["post"]

    assert operation["operationId"] == "receive_nbiot_push"
    headers = {parameter["name"] for parameter in operation["parameters"] if parameter["in"] == "header"}
    assert {"X-Heatledger-Timestamp", "X-Heatledger-Signature"} <= headers
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"message_id", "readings"}
    reading_schema = body["properties"]["readings"]["items"]
    assert {"device_id", "timestamp", "energy_gj", "valve_state", "room_temperature_c"} <= set(
        reading_schema["properties"]
    )
    assert "$ref" not in json.dumps(body)
    assert set(operation["responses"]) >= {"200", "401", "409", "422"}
    assert "application/problem+json" in operation["responses"]["401"]["content"]


@pytest.mark.usefixtures("frozen_now")
def test_text_no_database_can_hold_is_refused_or_escaped_never_a_failure(
    client: TestClient, container: Container, secret: str
) -> None:
    with_nul = body_of("m\u0000-1", reading("HM-\u0000", "2025-12-01T00:00:00+08:00", "1"))
    surrogate = b'{"message_id": "\\ud800", "readings": [], "\\udc00": 1}'
    raw_nul = b'{"message_id": "m-1", \x00 "readings": []}'

    refused = [post(client, body, secret) for body in (with_nul, surrogate, raw_nul)]
    unknown = post(client, body_of("m-1"), secret, channel="c%00-1")

    assert [response.status_code for response in refused] == [422, 422, 422]
    fields = sorted(error["field"] for error in refused[0].json()["errors"])
    assert fields == ["message_id", "readings[0].device_id"]
    assert assert_problem(unknown, 401, "unauthenticated")["params"] == {"reason": "inactive_channel"}
    with container.engine.connect() as connection:
        payloads = list(connection.execute(select(quarantined_frames.c.payload)).scalars())
        channels_logged = list(connection.execute(select(security_events.c.channel)).scalars())
    assert '\\x00 "readings"' in "".join(payloads)
    assert channels_logged == ["c\\x00-1"]
    assert count(container, webhook_deliveries) == 0
