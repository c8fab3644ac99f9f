"""Dunning over HTTP, on both backends, delivered to a real webhook receiver on loopback: a clerk
records a household's contact, runs dunning, and the reminder arrives signed and in Chinese; a
gateway that fails is retried with backoff and the message dead-lettered, then requeued; contacts
are personal data that only the roles managing households see, and can be erased.

WZ-0001 (98.50 m²) is invoiced 2127.60 元 on 10 Dec 2025, due that day; the run is on
20 Jan 2026, 41 days later: the 15-day stage of the default policy (15, 45, 90 days).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from freezegun import freeze_time

from application.authorization import Role
from infrastructure.notifications.webhook import sign
from infrastructure.settings import Settings
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.e2e.test_api_payments import tariff
from tests.receivers import WebhookReceiver, webhook_receiver

RUN_DAY = "2026-01-20T12:00:00+08:00"
SECRET = "e2e-webhook-secret-0123456789abcdef"
CONTACT = {"channel": "webhook", "address": "13800138000", "language": "zh"}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture
def backend_settings(backend_settings: Settings, receiver: WebhookReceiver) -> Settings:
    """The store's settings, delivering to the loopback receiver: two attempts, 60 s backoff."""
    return backend_settings.model_copy(
        update={
            "notification_webhook_url": receiver.url,
            "notification_webhook_secret": SECRET,
            "notification_max_attempts": 2,
            "notification_backoff_seconds": 60,
            "notification_timeout_seconds": 5.0,
            "utility_name": "许昌热力",
        }
    )


@pytest.fixture
def invoiced(api: LedgerApi, frozen_now: datetime) -> LedgerApi:
    """WZ-0001 registered, the tariff published and the season's prepayment invoiced."""
    assert api.register_household("WZ-0001").status_code == 201
    assert api.client.post("/tariffs", json=tariff(), headers=api.tokens.headers(Role.ADMIN)).status_code == 201
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
    assert run.status_code == 202, run.text
    return api


def set_contact(api: LedgerApi, contact: dict[str, str] = CONTACT, role: Role = Role.CLERK) -> Any:
    return api.client.put("/households/WZ-0001/contact", json=contact, headers=api.tokens.headers(role))


def run_dunning(api: LedgerApi, **body: Any) -> Any:
    return api.client.post("/dunning/runs", json=body, headers=api.clerk())


def test_a_reminder_reaches_the_gateway_signed_and_in_chinese(invoiced: LedgerApi, receiver: WebhookReceiver) -> None:
    api = invoiced
    assert set_contact(api).status_code == 200
    with freeze_time(RUN_DAY, real_asyncio=True):
        run = run_dunning(api, reason="一月催缴")
        assert run.status_code == 200, run.text
        summary = run.json()
        assert (summary["today"], summary["queued"], summary["skipped"], summary["stages_days"]) == (
            "2026-01-20",
            1,
            0,
            [15, 45, 90],
        )
        [outcome] = summary["outcomes"]
        assert (outcome["account_number"], outcome["amount_yuan"], outcome["days_past_due"]) == (
            "WZ-0001",
            "2127.60",
            41,
        )
        assert (outcome["stage_days"], outcome["skip"]) == (15, None)

        [request] = receiver.received  # delivered after the response
        timestamp = request.headers["x-heatledger-timestamp"]
        assert hmac.compare_digest(request.headers["x-heatledger-signature"], sign(SECRET, timestamp, request.body))
        sent = json.loads(request.body.decode("utf-8"))
        assert (sent["message_id"], sent["recipient"], sent["amount_yuan"], sent["stage_days"]) == (
            outcome["message_id"],
            "13800138000",
            "2127.60",
            15,
        )
        assert sent["subject"] == "【许昌热力】供热费缴费提醒"
        assert "2,127.60 元" in sent["body"] and "逾期 41 天" in sent["body"]

        detail = api.get(f"/notifications/{outcome['message_id']}").json()
        assert (detail["status"], detail["attempts"], detail["reason"], detail["created_by"]) == (
            "delivered",
            1,
            "一月催缴",
            "e2e-clerk",
        )
        assert [d["outcome"] for d in detail["deliveries"]] == ["delivered"]
        assert detail["deliveries"][0]["detail"].startswith("HTTP 200")

        assert run_dunning(api).json()["outcomes"][0]["skip"] == "dunning_already_sent"
        assert len(receiver.received) == 1


def test_a_failing_gateway_is_retried_dead_lettered_and_requeued(
    invoiced: LedgerApi, receiver: WebhookReceiver
) -> None:
    api = invoiced
    set_contact(api, {**CONTACT, "language": "en"})
    receiver.answer_next(503, 502)
    with freeze_time(RUN_DAY, real_asyncio=True) as clock:
        message_id = run_dunning(api).json()["outcomes"][0]["message_id"]
        first = api.get(f"/notifications/{message_id}").json()
        assert (first["status"], first["attempts"]) == ("pending", 1)
        assert first["last_error"].startswith("HTTP 503")
        assert first["next_attempt_at"] == "2026-01-20T04:01:00Z"  # 60 s after the attempt

        early = api.client.post("/notifications/delivery", headers=api.clerk()).json()
        assert early == {"delivered": 0, "retried": 0, "dead": 0}  # not due yet
        clock.tick(61)
        second = api.client.post("/notifications/delivery", headers=api.clerk()).json()
        assert second == {"delivered": 0, "retried": 0, "dead": 1}
        dead = api.get("/notifications", status="dead").json()
        assert [item["message_id"] for item in dead["items"]] == [message_id]
        assert dead["counts"]["dead"] == 1

        requeued = api.client.post(
            f"/notifications/{message_id}/requeue", json={"reason": "网关已恢复"}, headers=api.clerk()
        )
        assert requeued.status_code == 200, requeued.text
        detail = api.get(f"/notifications/{message_id}").json()
        assert detail["status"] == "delivered"
        assert [d["outcome"] for d in detail["deliveries"]] == ["retry", "dead", "requeued", "delivered"]
        assert "e2e-clerk" in detail["deliveries"][2]["detail"]
        assert len(receiver.received) == 3
        english = json.loads(receiver.received[-1].body)
        assert english["language"] == "en" and "2,127.60 yuan" in english["body"]

        again = api.client.post(f"/notifications/{message_id}/requeue", json={"reason": "x"}, headers=api.clerk())
        assert_problem(again, 409, "conflict")


def test_contacts_are_seen_only_by_roles_that_manage_households_and_can_be_erased(invoiced: LedgerApi) -> None:
    api = invoiced
    assert_problem(set_contact(api, role=Role.AUDITOR), 403, "permission_denied")
    assert set_contact(api, role=Role.CUSTOMER_SERVICE).status_code == 200
    contact = api.get("/households/WZ-0001/contact", role=Role.CLERK).json()
    assert contact == {"account_number": "WZ-0001", **CONTACT, "holder_name": ""}
    for role in (Role.AUDITOR, Role.REGULATOR, Role.DEVICE):
        assert_problem(api.get("/households/WZ-0001/contact", role=role), 403, "permission_denied")
        assert_problem(api.get("/notifications", role=role), 403, "permission_denied")
    erased = api.client.delete("/households/WZ-0001/contact", headers=api.clerk())
    assert erased.status_code == 204
    assert_problem(api.get("/households/WZ-0001/contact"), 404, "not_found")
    assert_problem(api.client.delete("/households/WZ-0001/contact", headers=api.clerk()), 404, "not_found")
    with freeze_time(RUN_DAY, real_asyncio=True):
        assert run_dunning(api).json()["outcomes"][0]["skip"] == "dunning_no_contact"
        denied = api.client.post("/dunning/runs", json={}, headers=api.tokens.headers(Role.CUSTOMER_SERVICE))
        assert_problem(denied, 403, "permission_denied")


def test_bad_input_is_a_clear_problem(invoiced: LedgerApi) -> None:
    api = invoiced
    problem = assert_problem(run_dunning(invoiced, stages_days=[45, 15]), 422, "invalid_input")
    assert problem["detail"]
    assert_problem(run_dunning(api, stages_days=[]), 422, "invalid_input")
    assert_problem(run_dunning(api, minimum_amount_yuan="-1"), 422, "invalid_input")
    assert_problem(set_contact(api, {**CONTACT, "channel": "email", "address": "not-an-address"}), 422, "invalid_input")
    assert_problem(set_contact(api, {**CONTACT, "channel": "fax"}), 422, "validation_failed")
    unknown = api.client.put("/households/NOPE-1/contact", json=CONTACT, headers=api.clerk())
    assert_problem(unknown, 404, "not_found")
    assert_problem(api.get("/notifications/00000000-0000-0000-0000-000000000000"), 404, "not_found")
