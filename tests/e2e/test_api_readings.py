"""Reading batches and reading pages over HTTP: per-item outcomes, request-level validation,
newest-first paging with cursors, and the interval plausibility check."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from application.authorization import Role
from application.ingestion import MAXIMUM_BATCH_SIZE
from tests.e2e.conftest import NOW, LedgerApi, assert_problem, cumulative, days_from, shanghai_midnight
from tests.strategies import rejected_readings

# The heat coefficient k at 70 °C flow and 30 °C return with the flow sensor in the return pipe
# (domain.md §3 check point), in GJ per m³ and kelvin.
K_RETURN_70_30_GJ_PER_M3_K = Decimal("0.004162135")
FLOW_C, RETURN_C = Decimal(70), Decimal(30)


def reading(serial: str, measured_at: str, energy_gj: str, **values: Any) -> dict[str, Any]:
    return {"meter_serial": serial, "measured_at": measured_at, "energy_gj": energy_gj, "source": "mbus", **values}


def by_index(receipt: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {outcome["index"]: outcome for outcome in receipt["outcomes"]}


@pytest.mark.usefixtures("frozen_now")
def test_each_reading_of_a_batch_gets_its_own_outcome(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    future = (NOW + timedelta(days=1)).isoformat()
    batch = [
        reading("HM-1", "2025-12-01T00:00:00+08:00", "10.000"),
        reading("HM-1", "2025-12-02T00:00:00+08:00", "10.400"),
        reading("HM-1", "2025-12-02T00:00:00+08:00", "10.4000"),
        reading("NOPE-1", "2025-12-02T00:00:00+08:00", "3.000"),
        reading("HM-1", "2025-12-03T00:00:00+08:00", "10.300"),
        reading("HM-1", future, "10.900"),
        reading("HM-1", "2025-12-01T00:00:00+08:00", "10.100"),
        reading("HM-1", "2025-12-04T00:00:00", "10.800"),
    ]

    response = api.submit(batch, reason="concentrator upload")

    assert response.status_code == 200
    receipt = response.json()
    assert (receipt["received"], receipt["accepted"], receipt["duplicates"], receipt["rejected"]) == (8, 2, 1, 5)
    outcomes = by_index(receipt)
    assert [outcomes[index]["status"] for index in range(8)] == ["accepted"] * 2 + ["duplicate"] + ["rejected"] * 5
    reasons = [outcomes[index]["reason"] for index in range(3, 8)]
    assert reasons == [
        "unknown_meter",
        "register_backwards",
        "future_timestamp",
        "conflicting_reading",
        "naive_timestamp",
    ]
    assert outcomes[3]["message"] == "没有表号为 NOPE-1 的热表。"
    assert outcomes[4]["params"] == {"register": "energy", "previous": "10.400", "current": "10.300"}
    assert outcomes[4]["message"] == "热量读数倒退：从 10.400 降到 10.300。"
    assert outcomes[1]["measured_at"] == "2025-12-01T16:00:00Z"
    assert all(outcomes[index]["message"] is None for index in range(3))
    assert api.get("/meters/HM-1/readings").json()["total"] == 2


@pytest.mark.usefixtures("frozen_now")
def test_a_batch_sent_again_is_safe_and_explained_in_english_on_request(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    batch_id = str(uuid4())
    batch = [
        reading("HM-1", "2025-12-01T00:00:00+08:00", "10.000"),
        reading("HM-1", "2025-12-02T00:00:00+08:00", "9.500"),
    ]
    first = api.submit(batch, batch_id=batch_id).json()

    again = api.submit(batch, batch_id=batch_id, language="en").json()

    assert [outcome["status"] for outcome in first["outcomes"]] == ["accepted", "rejected"]
    assert [outcome["status"] for outcome in again["outcomes"]] == ["duplicate", "rejected"]
    assert first["batch_id"] == again["batch_id"] == batch_id
    assert again["outcomes"][1]["message"] == "The energy register went backwards from 10.000 to 9.500."
    readings = api.get("/meters/HM-1/readings").json()
    assert readings["total"] == 1
    assert readings["items"][0]["batch_id"] == batch_id


def test_register_rule_violations_are_explained_per_item(api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    assert api.commission_meter("HM-1", energy_register_width_gj="1000").status_code == 201
    assert api.attach_meter("WZ-0001", "HM-1").status_code == 200
    batch = [
        reading("HM-1", "2025-12-01T00:00:00+08:00", "-1"),
        reading("HM-1", "2025-12-01T00:00:00+08:00", "1000"),
        reading("HM-1", "2025-12-01T00:00:00+08:00", "1.0000000001"),
    ]

    outcomes = api.submit(batch, language="en").json()["outcomes"]

    assert [outcome["reason"] for outcome in outcomes] == ["invalid_register"] * 3
    assert [outcome["message"] for outcome in outcomes] == [
        "The energy register value -1 is not valid: it must lie between 0 and 10⁹ with at most 9 decimals.",
        "The energy register value 1000 is not below the register's width 1000.",
        "The energy register value 1.0000000001 is not valid: it must lie between 0 and 10⁹ with at most 9 decimals.",
    ]


def test_a_value_of_the_wrong_type_fails_the_whole_batch(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    batch = [
        reading("HM-1", "2025-12-01T00:00:00+08:00", "10.000"),
        reading("HM-1", "2025-12-02T00:00:00+08:00", "ten"),
        reading("HM-1", "yesterday", "11.000"),
    ]

    problem = assert_problem(api.submit(batch), 422, "validation_failed")

    codes = {error["field"]: error["code"] for error in problem["errors"]}
    assert codes == {
        "readings[1].energy_gj": "decimal_parsing",
        "readings[2].measured_at": "datetime_from_date_parsing",
    }
    assert api.get("/meters/HM-1/readings").json()["total"] == 0


def test_a_value_out_of_range_or_too_precise_is_rejected_alone(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    batch = [
        reading("HM-1", "2025-12-01T00:00:00+08:00", "10.000", flow_rate_m3_h="0.1234"),
        reading("HM-1", "2025-12-02T00:00:00+08:00", "11.000", power_kw="1000000000"),
        reading("HM-1", "2025-12-03T00:00:00+08:00", "12.000", flow_rate_m3_h="0.123"),
    ]

    outcomes = api.submit(batch, language="en").json()["outcomes"]

    assert [(outcome["status"], outcome["reason"]) for outcome in outcomes] == [
        ("rejected", "invalid_instant"),
        ("rejected", "invalid_instant"),
        ("accepted", None),
    ]
    assert outcomes[0]["message"] == "The flow rate value 0.1234 is not valid: out of range or more than 3 decimals."
    assert api.get("/meters/HM-1/readings").json()["total"] == 1


def test_a_batch_holds_at_most_the_maximum_number_of_readings(api: LedgerApi) -> None:
    one = reading("HM-1", "2025-12-01T00:00:00+08:00", "1")

    problem = assert_problem(api.submit([one] * (MAXIMUM_BATCH_SIZE + 1)), 422, "validation_failed")

    assert [(error["field"], error["code"]) for error in problem["errors"]] == [("readings", "too_long")]


def test_register_values_keep_every_digit_even_as_json_numbers(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    body = (
        '{"readings": [{"meter_serial": "HM-1", "measured_at": "2025-12-01T00:00:00+08:00",'
        ' "energy_gj": 123456789.123456789, "volume_m3": 1e2, "source": "manual"}]}'
    )
    headers = {**api.tokens.headers(Role.DEVICE), "Content-Type": "application/json"}

    response = api.client.post("/readings/batches", content=body.encode(), headers=headers)

    assert response.json()["accepted"] == 1
    stored = api.get("/meters/HM-1/readings").json()["items"][0]
    assert Decimal(stored["energy_gj"]) == Decimal("123456789.123456789")
    assert Decimal(stored["volume_m3"]) == Decimal(100)


@pytest.mark.usefixtures("frozen_now")
def test_readings_are_paged_newest_first_with_their_intervals(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    days = days_from(date(2025, 11, 28), 6)
    increments = [Decimal(text) for text in ("0.40", "0.42", "0.38", "0.41", "0.39")]
    energy = cumulative(Decimal("10.00"), increments)
    api.daily_readings("HM-1", days, energy)

    pages = _all_pages(api, "/meters/HM-1/readings", limit=2)

    newest_first = [item for page in pages for item in page["items"]]
    expected_times = [_utc(day) for day in reversed(days)]
    assert [datetime.fromisoformat(item["measured_at"]) for item in newest_first] == expected_times
    assert [Decimal(item["energy_gj"]) for item in newest_first] == list(reversed(energy))
    assert [page["total"] for page in pages] == [6, 6, 6]
    assert pages[-1]["next_cursor"] is None
    assert newest_first[-1]["interval"] is None
    for item, increment, start in zip(newest_first, reversed(increments), reversed(days[:-1]), strict=False):
        assert Decimal(item["interval"]["energy_gj"]) == increment
        assert datetime.fromisoformat(item["interval"]["start_at"]) == _utc(start)
    by_offset = api.get("/meters/HM-1/readings", limit=2, offset=4).json()
    assert by_offset["items"] == pages[2]["items"]


@pytest.mark.usefixtures("frozen_now")
def test_each_interval_carries_its_plausibility_check(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    days = days_from(date(2025, 11, 28), 4)
    increments = [Decimal("0.40"), Decimal("0.42"), Decimal("0.38")]
    volume_increments = [_volume_for(increment) for increment in increments]
    volume_increments[1] *= 2  # twice the water for the same heat: not what a working meter reports
    temperatures = {"flow_temperature_c": [FLOW_C] * 4, "return_temperature_c": [RETURN_C] * 4}
    api.daily_readings(
        "HM-1",
        days,
        cumulative(Decimal(5), increments),
        volume_m3=cumulative(Decimal(100), volume_increments),
        **temperatures,
    )

    items = api.get("/meters/HM-1/readings").json()["items"]

    intervals = [item["interval"] for item in reversed(items[:-1])]
    assert [interval["plausible"] for interval in intervals] == [True, False, True]
    for interval, increment in zip(intervals, increments, strict=True):
        assert Decimal(interval["expected_energy_gj"]) == pytest.approx(
            Decimal(interval["volume_m3"]) * K_RETURN_70_30_GJ_PER_M3_K * (FLOW_C - RETURN_C), abs=Decimal("0.000001")
        )
        assert Decimal(interval["energy_gj"]) == increment
        within_error = abs(Decimal(interval["deviation_percent"])) <= Decimal(interval["permissible_error_percent"])
        assert within_error is interval["plausible"]
    assert Decimal(intervals[1]["deviation_percent"]) < -40


def test_a_cursor_is_either_ours_or_refused(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")

    assert_problem(api.get("/meters/HM-1/readings", cursor="not-a-cursor"), 422, "invalid_input")
    problem = assert_problem(api.get("/meters/HM-1/readings", cursor="abc", offset=3), 422, "invalid_input")
    assert problem["errors"][0] == {
        "field": "offset",
        "location": "query",
        "code": "cursor_with_offset",
        "message": problem["detail"],
    }
    assert_problem(api.get("/meters/HM-1/readings", limit=1001), 422, "validation_failed")


def _all_pages(api: LedgerApi, path: str, limit: int) -> list[dict[str, Any]]:
    pages = [api.get(path, limit=limit).json()]
    for _ in range(100):
        if pages[-1]["next_cursor"] is None:
            return pages
        pages.append(api.get(path, limit=limit, cursor=pages[-1]["next_cursor"]).json())
    raise AssertionError("paging did not end")


def _utc(day: date) -> datetime:
    return datetime.fromisoformat(shanghai_midnight(day)).astimezone(UTC)


def _volume_for(energy_gj: Decimal) -> Decimal:
    return (energy_gj / (K_RETURN_70_30_GJ_PER_M3_K * (FLOW_C - RETURN_C))).quantize(Decimal("0.001"))


def test_a_serial_with_control_characters_is_rejected_and_logged_escaped(api: LedgerApi, container: Any) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    batch = [
        reading("HM-\x00-1", "2025-12-01T00:00:00+08:00", "1.000"),
        reading("HM-1", "2025-12-01T00:00:00+08:00", "10.000"),
    ]

    response = api.submit(batch)

    assert response.status_code == 200, response.text
    assert [outcome["status"] for outcome in response.json()["outcomes"]] == ["rejected", "accepted"]
    logged = rejected_readings(container.engine)
    assert logged.total == 1 and logged.items[0].meter_serial == "HM-\\x00-1"
