"""Histories over HTTP, on both backends: a household's, meter's, bill's, tariff's and payment's
events in order with when, who and why; pages followed to the end; filters; CSV; Chinese and
English; personal data masked for a regulator; an auditor's read of it logged.

The clock runs from the tests' day (``ticking``), so every event has its own recording time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from freezegun import freeze_time

from application.authorization import Role
from infrastructure.access_log import SqlAccessLog
from infrastructure.container import Container
from tests.e2e.conftest import NOW, TODAY, LedgerApi, assert_problem, cumulative, days_from

ACCOUNT = "WZ-0001"
SERIAL = "KM-100234"
PREPAYMENT = "2127.60"  # 98.50 m² × 21.6 元/m²
TARIFF = {
    "customer_class": "residential",
    "scope": "*",
    "area_price_yuan_per_m2": "21.6",
    "base_share_percent": "30",
    "energy_price_yuan_per_gj": "43.9",
    "policy": "refund_only",
    "effective_from": "2025-10-01",
    "document_number": "吴价发〔2025〕12号",
    "approved_on": "2025-09-15",
}


@pytest.fixture
def ticking(app: FastAPI) -> Iterator[datetime]:
    """The clock starting at NOW and running, so that events are recorded at distinct moments."""
    with freeze_time(NOW, real_asyncio=True, tick=True):
        yield NOW


def history(api: LedgerApi, path: str, role: Role = Role.CLERK, language: str | None = None, **params: Any) -> Any:
    response = api.client.get(path, params=params, headers=api.tokens.headers(role, language))
    assert response.status_code == 200, response.text
    return response


def items(api: LedgerApi, path: str, role: Role = Role.CLERK, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = history(api, path, role, **params).json()["items"]
    return found


def _without_times_and_ids(text: str) -> str:
    """``text`` without its timestamps and UUIDs, whose digits may hold any number by chance
    (a recorded time's microseconds were once ``…814601``)."""
    return UUID_OR_TIMESTAMP.sub("", text)


UUID_OR_TIMESTAMP = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # an event's or a batch's id
    r"|\d{4}-\d{2}-\d{2}[T ][0-9:.+\-]+"  # a recorded time, to the microsecond
)


def csv_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.mark.usefixtures("ticking")
def test_a_household_s_history_in_order_with_who_why_and_when_in_either_language_and_as_csv(api: LedgerApi) -> None:
    assert api.register_household(ACCOUNT).status_code == 201
    suspension = api.client.post(
        f"/households/{ACCOUNT}/suspensions",
        json={"effective_on": "2025-12-15", "reason": "flat empty this winter"},
        headers=api.clerk(),
    )
    assert suspension.status_code in (200, 201), suspension.text
    change = {"effective_on": "2026-01-16", "reason": "sold"}
    owner = api.client.post(f"/households/{ACCOUNT}/owner-changes", json=change, headers=api.clerk())
    assert owner.status_code == 201, owner.text

    response = history(api, f"/households/{ACCOUNT}/history")
    page = response.json()
    assert (page["kind"], page["key"], page["language"], page["next_cursor"]) == ("household", ACCOUNT, "zh", None)
    events = page["items"]
    assert [(event["version"], event["event_type"]) for event in events] == [
        (1, "Registered"),
        (2, "HeatingSuspended"),
        (3, "OwnerChanged"),
    ]
    assert [event["effective_on"] for event in events] == ["2025-10-01", "2025-12-15", "2026-01-16"]
    assert [event["reason"] for event in events] == ["registration", "flat empty this winter", "sold"]
    assert {event["actor"] for event in events} == {"e2e-clerk"}
    assert events[2]["correlation_id"] == owner.json()["correlation_id"]
    recorded = [datetime.fromisoformat(event["recorded_at"]) for event in events]
    assert recorded == sorted(recorded) and recorded[0] >= NOW
    assert events[1]["summary"] == "报停：自 2025-12-15 起停止供热"
    assert response.headers["content-language"] == "zh"

    english = history(api, f"/households/{ACCOUNT}/history", language="en-GB,en;q=0.9")
    assert english.headers["content-language"] == "en"
    assert [event["summary"] for event in english.json()["items"]][1:] == [
        "Heating suspended from 2025-12-15",
        "Owner changed: the new holder is billed from 2026-01-16",
    ]

    # The same rows as CSV, by `format` or by Accept, headed in the caller's language.
    as_csv = history(api, f"/households/{ACCOUNT}/history", language="en", format="csv")
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = csv_rows(as_csv.text)
    assert [row["event type"] for row in rows] == ["Registered", "HeatingSuspended", "OwnerChanged"]
    assert [row["summary"] for row in rows] == [event["summary"] for event in english.json()["items"]]
    assert rows[2]["correlation id"] == owner.json()["correlation_id"]
    accepted = api.client.get(
        f"/households/{ACCOUNT}/history", headers={**api.clerk(), "Accept": "text/csv, application/json;q=0.5"}
    )
    assert accepted.headers["content-type"].startswith("text/csv")
    assert [row["摘要"] for row in csv_rows(accepted.text)] == [event["summary"] for event in events]


@pytest.mark.usefixtures("ticking")
def test_a_meter_s_history_is_paged_without_loss_or_repeats_and_filtered(api: LedgerApi) -> None:
    api.household_with_meter(ACCOUNT, SERIAL)
    days = days_from(datetime(2025, 11, 1).date(), 30)
    api.daily_readings(SERIAL, days, cumulative(Decimal("100.0"), [Decimal("0.5")] * 29))
    path = f"/meters/{SERIAL}/history"

    whole = items(api, path, limit=500)
    assert [event["event_type"] for event in whole[:3]] == ["Commissioned", "AttachedToHousehold", "ReadingRecorded"]
    assert [event["version"] for event in whole] == list(range(1, 33))
    assert whole[1]["summary"] == "装到热用户 WZ-0001，自 2025-10-20 09:00 起"
    assert whole[2]["happened_at"] == "2025-10-31T16:00:00Z"  # measured at Shanghai midnight

    # Follow the cursor 7 at a time, once by next_cursor and once by the Link header.
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 7}
    for _ in range(10):
        response = history(api, path, **params)
        page = response.json()
        seen += [event["version"] for event in page["items"]]
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            break
        assert page["next_cursor"] in response.headers["link"] and 'rel="next"' in response.headers["link"]
        params = {"limit": 7, "cursor": page["next_cursor"]}
    assert seen == list(range(1, 33))

    types = items(api, path, limit=500, event_type=["Commissioned", "AttachedToHousehold"])
    assert [event["event_type"] for event in types] == ["Commissioned", "AttachedToHousehold"]
    start, end = whole[5]["recorded_at"], whole[20]["recorded_at"]
    window = items(api, path, limit=500, recorded_from=start, recorded_to=end)
    moments = (datetime.fromisoformat(start), datetime.fromisoformat(end))
    expected = [e["version"] for e in whole if moments[0] <= datetime.fromisoformat(e["recorded_at"]) < moments[1]]
    assert [event["version"] for event in window] == expected and 5 < len(expected) < 30
    # Filters and the cursor together: the readings after the 10th event, three at a time.
    page = history(api, path, limit=3, event_type="ReadingRecorded", cursor=_cursor_after(api, path, 10)).json()
    assert [event["version"] for event in page["items"]] == [11, 12, 13]


def _cursor_after(api: LedgerApi, path: str, version: int) -> str:
    cursor: str = history(api, path, limit=version).json()["next_cursor"]
    return cursor


def test_bill_tariff_and_payment_histories_and_a_payment_s_reference_masked_for_a_regulator(
    api: LedgerApi, container: Container, frozen_now: datetime
) -> None:
    assert api.register_household(ACCOUNT).status_code == 201
    assert api.client.post("/tariffs", json=TARIFF, headers=api.tokens.headers(Role.ADMIN)).status_code == 201
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
    assert run.status_code == 202, run.text
    (bill,) = api.get(f"/households/{ACCOUNT}/bills").json()["items"]
    body = {"amount_yuan": "1000", "channel": "cash", "receipt_number": "R-0001"}
    payment = api.client.post(f"/households/{ACCOUNT}/payments", json=body, headers=api.clerk()).json()
    reversal = {"kind": "error", "reason": "wrong household"}
    payment_path = f"/payments/{payment['payment_id']}"
    assert api.client.post(f"{payment_path}/reversal", json=reversal, headers=api.clerk()).status_code == 201

    opened, issued = items(api, f"/bills/{bill['bill_id']}/history")
    assert (opened["event_type"], opened["effective_on"]) == ("Opened", "2025-11-01")
    assert (issued["event_type"], issued["effective_on"]) == ("BillIssued", TODAY.isoformat())
    assert issued["details"]["bill_id"] == bill["bill_id"] and issued["details"]["amount_yuan"] == PREPAYMENT
    assert issued["summary"].endswith(f"2025-11-01 至 2026-03-31，{PREPAYMENT} 元")

    tariff_events = items(api, "/tariffs/residential/*/history")
    assert [event["event_type"] for event in tariff_events] == ["Opened", "VersionPublished"]
    assert (tariff_events[1]["effective_on"], tariff_events[1]["actor"]) == ("2025-10-01", "e2e-admin")
    assert "吴价发〔2025〕12号" in tariff_events[1]["summary"]

    received, reversed_ = items(api, f"{payment_path}/history")
    assert (received["event_type"], received["details"]["reference"]) == ("Received", "R-0001")
    assert received["happened_at"] == "2025-12-10T04:00:00Z" and received["effective_on"] == TODAY.isoformat()
    assert (reversed_["event_type"], reversed_["reason"]) == ("Reversed", "wrong household")

    for event in items(api, f"{payment_path}/history", role=Role.REGULATOR):
        assert event["reason"] == "***" and "R-0001" not in str(event)
    assert items(api, f"{payment_path}/history", role=Role.REGULATOR)[0]["masked_fields"] == ["reason", "reference"]
    log = SqlAccessLog(container.engine)
    assert log.entries() == []
    items(api, f"{payment_path}/history", role=Role.AUDITOR)
    assert [(entry.read.account_number, entry.read.endpoint) for entry in log.entries()] == [
        (ACCOUNT, f"{payment_path}/history")
    ]


def test_a_regulator_sees_the_flat_and_reasons_masked_and_an_auditor_s_read_is_logged(
    api: LedgerApi, container: Container
) -> None:
    assert api.register_household(ACCOUNT, flat="601").status_code == 201
    change = {"effective_on": "2026-01-16", "reason": "sold to 李四, 13800000000"}
    assert api.client.post(f"/households/{ACCOUNT}/owner-changes", json=change, headers=api.clerk()).status_code == 201
    path = f"/households/{ACCOUNT}/history"

    registered, owner_changed = items(api, path, role=Role.REGULATOR)
    assert (registered["details"]["flat"], registered["details"]["community"]) == ("***", "碧桂园")
    assert registered["masked_fields"] == ["entrance", "flat", "floor", "reason"]
    assert "601" not in registered["summary"] and "***" in registered["summary"]
    assert owner_changed["reason"] == "***"
    as_csv = _without_times_and_ids(history(api, path, Role.REGULATOR, format="csv").text)
    assert "601" not in as_csv and "李四" not in as_csv and "13800000000" not in as_csv

    log = SqlAccessLog(container.engine)
    items(api, path, role=Role.CLERK)
    assert log.entries() == []  # neither the regulator's masked read nor a clerk's is logged

    seen = items(api, path, role=Role.AUDITOR)
    assert seen[0]["details"]["flat"] == "601" and seen[1]["reason"] == "sold to 李四, 13800000000"
    (logged,) = log.entries()
    assert (logged.read.actor, logged.read.role, logged.read.account_number, logged.read.endpoint) == (
        "e2e-auditor",
        "auditor",
        ACCOUNT,
        path,
    )
    # A page that shows no personal data is not logged: an empty one, or another record's.
    assert items(api, path, role=Role.AUDITOR, recorded_from="2099-01-01T00:00:00Z") == []
    assert api.commission_meter(SERIAL).status_code == 201
    items(api, f"/meters/{SERIAL}/history", role=Role.AUDITOR)
    assert len(log.entries()) == 1


def test_histories_answer_problems_for_missing_tokens_roles_records_and_bad_parameters(api: LedgerApi) -> None:
    unknown = [
        "/households/WZ-404/history",
        "/meters/KM-404/history",
        "/bills/00000000-0000-0000-0000-000000000000/history",
        "/tariffs/residential/nowhere/history",
        "/payments/00000000-0000-0000-0000-000000000000/history",
    ]
    for path in unknown:
        assert_problem(api.client.get(path), 401, "unauthenticated")
        assert_problem(api.client.get(path, headers=api.tokens.headers(Role.DEVICE)), 403, "permission_denied")
        assert_problem(api.client.get(path, headers=api.clerk()), 404, "not_found")

    assert api.register_household(ACCOUNT).status_code == 201
    path = f"/households/{ACCOUNT}/history"
    refusals = {
        "cursor_invalid": {"cursor": "not-a-cursor"},
        "event_type_unknown": {"event_type": "ReadingRecorded"},
        "recorded_range_reversed": {
            "recorded_from": "2026-01-02T00:00:00+08:00",
            "recorded_to": "2026-01-01T00:00:00+08:00",
        },
    }
    for code, params in refusals.items():
        problem = assert_problem(api.client.get(path, params=params, headers=api.clerk("en")), 422, "invalid_input")
        assert problem["errors"][0]["code"] == code
    wrong = (
        {"limit": 0},
        {"limit": 501},
        {"format": "xml"},
        {"recorded_from": "2026-01-01T00:00:00"},
        {"recorded_to": "0.5"},
    )
    for params in wrong:
        assert_problem(api.client.get(path, params=params, headers=api.clerk()), 422, "validation_failed")
