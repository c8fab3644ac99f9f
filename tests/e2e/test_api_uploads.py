"""Queued reading uploads over HTTP: 10,000 readings taken on with a 202 and recorded by the job
(in this process, after the answer), exact counts, nothing recorded twice, progress, per-item
rejections, resubmission of a failed upload, and who may see what."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select

from application.authorization import SYSTEM, Principal, Role
from application.ingestion import BatchReport, ReadingItem
from domain.values import AccuracyClass, FlowSensorSide, MeterKind
from infrastructure.container import Container
from infrastructure.intake import ReadingIntake
from infrastructure.uploads import UploadStore
from projections.tables import meter_readings
from tests.e2e.conftest import NOW, LedgerApi, Tokens, assert_problem, shanghai_midnight

METERS = 500
DAYS = 20
FIRST_DAY = date(2025, 10, 20)


def upload_readings(meters: int = METERS, days: int = DAYS) -> list[dict[str, Any]]:
    """Daily readings of ``meters`` meters over ``days`` days, day by day (as a concentrator sends)."""
    return [
        {
            "meter_serial": f"M-{meter:04d}",
            "measured_at": shanghai_midnight(FIRST_DAY + timedelta(days=day)),
            "energy_gj": str(Decimal("10.5") + Decimal("0.4") * day),
            "volume_m3": str(Decimal("100") + Decimal("2.5") * day),
            "source": "nbiot",
        }
        for day in range(days)
        for meter in range(meters)
    ]


def commission_meters(container: Container, count: int) -> None:
    """Household meters put into service through the application directly (faster than HTTP)."""
    for meter in range(count):
        container.ledger.commission_meter(
            SYSTEM,
            f"M-{meter:04d}",
            "Kamstrup",
            "MULTICAL 403",
            AccuracyClass.CLASS_2,
            FlowSensorSide.RETURN,
            MeterKind.HOUSEHOLD,
            NOW - timedelta(days=60),
        )


def recorded_readings(container: Container) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(meter_readings)).scalar_one())


def post_upload(api: LedgerApi, readings: list[dict[str, Any]], role: Role = Role.DEVICE, **body: Any) -> Any:
    return api.client.post("/readings/uploads", json={"readings": readings, **body}, headers=api.tokens.headers(role))


def status(api: LedgerApi, upload_id: str, role: Role = Role.CLERK, language: str | None = None, **query: Any) -> Any:
    return api.client.get(f"/readings/uploads/{upload_id}", params=query, headers=api.tokens.headers(role, language))


class FailingIntake:
    """The real intake, but the run stops with an error when it reaches chunk ``fail_at`` (from 0)."""

    def __init__(self, intake: ReadingIntake, fail_at: int) -> None:
        self.intake = intake
        self.fail_at = fail_at
        self.calls = 0

    def submit(self, principal: Principal, items: Sequence[ReadingItem], *args: Any, **kwargs: Any) -> BatchReport:
        self.calls += 1
        if self.calls - 1 == self.fail_at:
            raise RuntimeError("the database went away")
        return self.intake.submit(principal, items, *args, **kwargs)


class ProgressSpy:
    """The real intake, noting the upload's progress as each chunk begins."""

    def __init__(self, intake: ReadingIntake, store: UploadStore, upload_id: UUID) -> None:
        self.intake = intake
        self.store = store
        self.upload_id = upload_id
        self.seen: list[tuple[str, int, int]] = []

    def submit(self, principal: Principal, items: Sequence[ReadingItem], *args: Any, **kwargs: Any) -> BatchReport:
        upload = self.store.require(self.upload_id)
        self.seen.append((upload.status.value, upload.processed, upload.chunks_done))
        return self.intake.submit(principal, items, *args, **kwargs)


def test_an_upload_of_10000_readings_is_recorded_by_the_job_once(api: LedgerApi, container: Container) -> None:
    commission_meters(container, METERS)
    readings = upload_readings()
    assert len(readings) == 10_000

    response = post_upload(api, readings, reason="concentrator burst")

    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["status"] == "queued"
    assert (receipt["total"], receipt["chunks_total"]) == (10_000, 5)
    assert response.headers["location"] == f"/readings/uploads/{receipt['upload_id']}"
    done = api.client.get(response.headers["location"], headers=api.clerk()).json()
    assert done["status"] == "done"
    assert done["progress"] == {"processed": 10_000, "total": 10_000, "chunks_done": 5, "chunks_total": 5}
    assert done["counts"] == {"accepted": 10_000, "duplicates": 0, "rejected": 0}
    assert (done["error"], done["rejected_items"]["items"], done["attempt"]) == (None, [], 1)
    assert (done["reason"], done["submitted_by"]) == ("concentrator burst", "e2e-device")
    assert done["started_at"] is not None and done["finished_at"] is not None
    assert recorded_readings(container) == 10_000
    meter = api.get("/meters/M-0499").json()
    assert (meter["readings_count"], meter["last_reading"]["energy_gj"]) == (DAYS, "18.100000")

    again = post_upload(api, readings, reason="concentrator burst, resent")
    second = status(api, again.json()["upload_id"]).json()

    assert again.json()["upload_id"] != receipt["upload_id"]
    assert second["status"] == "done"
    assert second["counts"] == {"accepted": 0, "duplicates": 10_000, "rejected": 0}
    assert recorded_readings(container) == 10_000


def test_the_same_upload_id_is_taken_on_once(api: LedgerApi, container: Container) -> None:
    commission_meters(container, 10)
    readings = upload_readings(meters=10, days=3)
    upload_id = str(uuid4())

    first = post_upload(api, readings, upload_id=upload_id)
    again = post_upload(api, readings, upload_id=upload_id)

    assert first.status_code == again.status_code == 202
    assert again.json() == {"upload_id": upload_id, "status": "done", "total": 30, "chunks_total": 1}
    assert again.headers["location"] == f"/readings/uploads/{upload_id}"
    shown = status(api, upload_id).json()
    assert (shown["attempt"], shown["counts"]["accepted"]) == (1, 30)
    assert recorded_readings(container) == 30
    other = post_upload(api, readings[:-1], upload_id=upload_id)
    problem = assert_problem(other, 409, "conflict")
    assert problem["params"] == {"kind": "upload", "key": upload_id}
    assert upload_id in problem["detail"]


def test_bad_readings_are_rejected_one_by_one_while_the_rest_is_recorded(api: LedgerApi, container: Container) -> None:
    commission_meters(container, 3)
    readings = upload_readings(meters=3, days=20)
    readings[7] = {**readings[7], "meter_serial": "NOPE-1"}
    readings[30] = {**readings[30], "measured_at": "2025-12-01T00:00:00"}
    late = {**readings[-1], "energy_gj": "1.000", "measured_at": shanghai_midnight(date(2025, 12, 1))}
    readings.append(late)  # after the meter's newest reading, with a register far below it
    upload_id = str(uuid4())

    assert post_upload(api, readings, upload_id=upload_id).status_code == 202

    shown = status(api, upload_id, language="en").json()
    assert shown["counts"] == {"accepted": len(readings) - 3, "duplicates": 0, "rejected": 3}
    rejected = shown["rejected_items"]
    assert rejected["total"] == 3
    assert [(item["index"], item["meter_serial"], item["reason"]) for item in rejected["items"]] == [
        (7, "NOPE-1", "unknown_meter"),
        (30, readings[30]["meter_serial"], "naive_timestamp"),
        (len(readings) - 1, late["meter_serial"], "register_backwards"),
    ]
    assert rejected["items"][0]["message"] == "No meter has the serial number NOPE-1."
    assert rejected["items"][1]["measured_at"] is None
    assert rejected["items"][2]["message"].startswith("The energy register went backwards from ")
    assert status(api, upload_id, limit=1, offset=1).json()["rejected_items"]["items"][0]["index"] == 30
    assert recorded_readings(container) == len(readings) - 3
    logged = api.get("/monitoring/rejected-readings", channel="upload").json()
    assert logged["total"] == 3


def test_progress_is_kept_after_each_chunk(api: LedgerApi, container: Container) -> None:
    commission_meters(container, 100)
    readings = upload_readings(meters=100, days=50)  # 5,000 readings: 3 chunks
    upload_id = uuid4()
    spy = ProgressSpy(container.intake, UploadStore(container.engine), upload_id)
    container.intake = spy  # type: ignore[assignment]

    assert post_upload(api, readings, upload_id=str(upload_id)).status_code == 202

    assert spy.seen == [("running", 0, 0), ("running", 2000, 1), ("running", 4000, 2)]
    assert status(api, str(upload_id)).json()["progress"] == {
        "processed": 5000,
        "total": 5000,
        "chunks_done": 3,
        "chunks_total": 3,
    }


def test_a_failed_upload_says_why_and_continues_when_submitted_again(api: LedgerApi, container: Container) -> None:
    commission_meters(container, 100)
    readings = upload_readings(meters=100, days=50)
    upload_id = str(uuid4())
    real_intake = container.intake
    container.intake = FailingIntake(real_intake, fail_at=2)  # type: ignore[assignment]

    assert post_upload(api, readings, upload_id=upload_id).status_code == 202

    failed = status(api, upload_id, language="en").json()
    assert failed["status"] == "failed"
    assert failed["progress"] == {"processed": 4000, "total": 5000, "chunks_done": 2, "chunks_total": 3}
    assert failed["counts"] == {"accepted": 4000, "duplicates": 0, "rejected": 0}
    assert failed["error"]["code"] == "upload_failed"
    assert failed["error"]["message"].startswith("The upload stopped unexpectedly")
    assert "database" not in failed["error"]["message"]  # internals stay in the log
    assert recorded_readings(container) == 4000

    container.intake = real_intake
    again = post_upload(api, readings, upload_id=upload_id)

    assert again.status_code == 202
    assert again.json()["status"] == "queued"
    done = status(api, upload_id).json()
    assert (done["status"], done["attempt"], done["error"]) == ("done", 2, None)
    assert done["counts"] == {"accepted": 5000, "duplicates": 0, "rejected": 0}
    assert recorded_readings(container) == 5000


def test_devices_see_their_own_uploads_and_readers_see_all(
    api: LedgerApi, container: Container, tokens: Tokens
) -> None:
    commission_meters(container, 1)
    upload_id = post_upload(api, upload_readings(meters=1, days=2)).json()["upload_id"]
    other_device = container.tokens.create("concentrator-elsewhere", Role.DEVICE).secret

    assert status(api, upload_id, role=Role.DEVICE).status_code == 200
    assert status(api, upload_id, role=Role.AUDITOR).status_code == 200
    hidden = api.client.get(f"/readings/uploads/{upload_id}", headers={"Authorization": f"Bearer {other_device}"})
    assert assert_problem(hidden, 404, "not_found")["params"] == {"kind": "upload", "key": upload_id}
    refused = post_upload(api, upload_readings(meters=1, days=2), role=Role.AUDITOR)
    assert assert_problem(refused, 403, "permission_denied")["params"] == {"role": "auditor", "method": "POST"}
    assert_problem(api.client.get(f"/readings/uploads/{upload_id}"), 401, "unauthenticated")


def test_an_unknown_upload_is_not_found(api: LedgerApi) -> None:
    unknown = str(uuid4())
    problem = assert_problem(status(api, unknown, language="en"), 404, "not_found")
    assert problem["detail"] == f"No upload has the id {unknown}."
    assert_problem(status(api, "not-a-uuid"), 422, "validation_failed")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"readings": []}, "readings"),
        (
            {"readings": [{"meter_serial": "M-0000", "measured_at": "x", "energy_gj": "1", "source": "mbus"}]},
            "readings[0].measured_at",
        ),
        (
            {
                "readings": [
                    {
                        "meter_serial": "M-0000",
                        "measured_at": "2025-12-01T00:00:00+08:00",
                        "energy_gj": "ten",
                        "source": "mbus",
                    }
                ]
            },
            "readings[0].energy_gj",
        ),
        ({"readings": [], "upload_id": "nope"}, "upload_id"),
    ],
)
def test_values_of_the_wrong_type_fail_the_whole_upload(api: LedgerApi, body: dict[str, Any], field: str) -> None:
    response = api.client.post("/readings/uploads", json=body, headers=api.tokens.headers(Role.DEVICE))
    problem = assert_problem(response, 422, "validation_failed")
    assert field in [error["field"] for error in problem["errors"]]


def test_the_upload_operations_are_documented(api: LedgerApi) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    submit = paths["/readings/uploads"]["post"]
    assert submit["operationId"] == "submit_reading_upload"
    assert "202" in submit["responses"]
    assert paths["/readings/uploads/{upload_id}"]["get"]["operationId"] == "get_reading_upload"
