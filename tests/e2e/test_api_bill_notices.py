"""Bill notices over HTTP, on both backends, delivered to a real webhook receiver on loopback: a
clerk's prepayment run brings the invoice to the household with a contact, signed and in Chinese,
and lists the one without; a clerk's notice pass writes nothing twice; roles as for dunning.

WZ-0001 and WZ-0002 (98.50 m² each) are invoiced 98.50 × 21.6 = 2,127.60 元 on 10 Dec 2025, after
the season's first day, so the invoice falls due that day. Only WZ-0001 left a contact.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from application.authorization import Role, is_read_only
from infrastructure.notifications.webhook import sign
from infrastructure.settings import Settings
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.e2e.test_api_payments import tariff
from tests.receivers import WebhookReceiver, webhook_receiver

SECRET = "e2e-webhook-secret-0123456789abcdef"
INVOICE = (
    "【许昌热力】尊敬的用户（户号 WZ-0001，碧桂园）：您2025-2026采暖季（2025年11月1日至2026年3月31日）"
    "的供热费预缴账单已出具（账单号 2025-2026-P-WZ-0001-season），应缴 2,127.60 元，缴费截止日为2025年12月10日。"
    "请到营业厅或通过线上渠道缴费；如已缴费，请忽略本通知。如有疑问，请致电 0374-1234567。"
)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture
def backend_settings(backend_settings: Settings, receiver: WebhookReceiver) -> Settings:
    """The store's settings, delivering to the loopback receiver, signed by the utility."""
    return backend_settings.model_copy(
        update={
            "notification_webhook_url": receiver.url,
            "notification_webhook_secret": SECRET,
            "utility_name": "许昌热力",
            "utility_service_phone": "0374-1234567",
        }
    )


@pytest.fixture
def invoiced(api: LedgerApi, frozen_now: datetime) -> tuple[LedgerApi, dict[str, Any]]:
    """Both households registered, WZ-0001's contact recorded, the tariff published, and the
    prepayment run (the billing run's status as the clerk reads it)."""
    assert api.register_household("WZ-0001").status_code == 201
    assert api.register_household("WZ-0002", flat="102").status_code == 201
    contact = {"channel": "webhook", "address": "13800138000", "language": "zh"}
    assert api.client.put("/households/WZ-0001/contact", json=contact, headers=api.clerk()).status_code == 200
    assert api.client.post("/tariffs", json=tariff(), headers=api.tokens.headers(Role.ADMIN)).status_code == 201
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
    assert run.status_code == 202, run.text
    status = api.get(run.headers["Location"]).json()
    assert status["summary"]["bills_issued"] == 2
    return api, status


def send_notices(api: LedgerApi, role: Role = Role.CLERK, **body: Any) -> Any:
    return api.client.post("/notifications/bills", json=body, headers=api.tokens.headers(role))


def test_a_billing_run_brings_the_invoice_to_the_household_signed_and_in_chinese(
    invoiced: tuple[LedgerApi, dict[str, Any]], receiver: WebhookReceiver
) -> None:
    api, _ = invoiced
    [request] = receiver.received  # delivered by the run's job, after the response
    timestamp = request.headers["x-heatledger-timestamp"]
    assert hmac.compare_digest(request.headers["x-heatledger-signature"], sign(SECRET, timestamp, request.body))
    sent = json.loads(request.body.decode("utf-8"))
    assert (sent["kind"], sent["recipient"], sent["amount_yuan"], sent["stage_days"]) == (
        "prepayment",
        "13800138000",
        "2127.60",
        0,
    )
    assert sent["subject"] == "【许昌热力】2025-2026采暖季供热费缴费通知"
    assert sent["body"] == INVOICE
    listed = api.get("/notifications", account_number="WZ-0001").json()
    [message] = listed["items"]
    assert (message["kind"], message["status"], message["created_by"]) == ("prepayment", "delivered", "e2e-clerk")
    assert api.get("/notifications", account_number="WZ-0002").json()["items"] == []


def test_a_clerk_s_pass_lists_the_household_without_a_contact_and_writes_nothing_twice(
    invoiced: tuple[LedgerApi, dict[str, Any]], receiver: WebhookReceiver
) -> None:
    api, _ = invoiced
    response = send_notices(api, season="2025-2026", reason="月初补发")
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["season"], summary["kind"], summary["bills"], summary["already_written"]) == (
        "2025-2026",
        None,
        2,
        1,
    )
    assert summary["written"] == []
    assert summary["skipped"] == [
        {
            "account_number": "WZ-0002",
            "bill_number": "2025-2026-P-WZ-0002-season",
            "kind": "prepayment",
            "amount_yuan": "2127.60",
            "message_id": None,
            "skip": "bill_notice_no_contact",
        }
    ]
    # WZ-0002 leaves an e-mail address in English: the next pass writes its invoice's notice.
    contact = {"channel": "email", "address": "wz2@example.cn", "language": "en"}
    assert api.client.put("/households/WZ-0002/contact", json=contact, headers=api.clerk()).status_code == 200
    later = send_notices(api, season="2025-2026", kind="prepayment", community="碧桂园").json()
    assert [(item["account_number"], item["skip"]) for item in later["written"]] == [("WZ-0002", None)]
    english = api.get(f"/notifications/{later['written'][0]['message_id']}").json()
    assert english["subject"] == "[许昌热力] Heating charges 2025-2026: prepayment invoice"
    assert "Amount due: 2,127.60 yuan, due by 2025-12-10." in english["body"]
    assert send_notices(api, season="2025-2026").json()["already_written"] == 2
    assert len(receiver.received) == 1  # the e-mail waits for an SMTP server; nothing was sent twice


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.AUDITOR, Role.REGULATOR, Role.DEVICE])
def test_only_clerks_and_administrators_send_bill_notices(
    invoiced: tuple[LedgerApi, dict[str, Any]], role: Role
) -> None:
    api, _ = invoiced
    denied = assert_problem(send_notices(api, role, season="2025-2026"), 403, "permission_denied")
    # A read-only role is refused at the door, for the method (api/read_only.py).
    refused = {"method": "POST"} if is_read_only(role) else {"permission": "send_reminders"}
    assert denied["params"] == {"role": role.value, **refused}
    assert send_notices(api, Role.ADMIN, season="2025-2026").status_code == 200


def test_a_bad_selection_is_a_clear_problem(invoiced: tuple[LedgerApi, dict[str, Any]]) -> None:
    api, _ = invoiced
    problem = assert_problem(send_notices(api, season="2025-2027"), 422, "invalid_input")
    assert "2025-2026" in problem["detail"]
    assert_problem(send_notices(api, season="2025"), 422, "validation_failed")
    assert_problem(send_notices(api, season="2025-2026", kind="reminder"), 422, "validation_failed")
    assert_problem(send_notices(api, season="2025-2026", month="December"), 422, "validation_failed")
    assert_problem(send_notices(api, season="2025-2026", surprise=1), 422, "validation_failed")
