"""Online payments over HTTP: a clerk creates a payment order, the provider notifies it signed;
the payment is booked once, redeliveries are acknowledged the same, refused notifications are
logged and book nothing; a clerk lists flagged orders and resolves one (accept or reject), once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api import cli
from application.authorization import Role
from domain import ids
from infrastructure.container import Container
from infrastructure.nbiot import security_events
from infrastructure.online_payments import merchant_key, sign
from projections.tables import payments
from tests.e2e.conftest import NOW, LedgerApi, TestClient, assert_problem

pytestmark = pytest.mark.usefixtures("frozen_now")

NOW_S = int(NOW.timestamp())
PROVIDER = "hmac-json"
ACCOUNT = "WZ-0001"


@pytest.fixture
def household(api: LedgerApi) -> str:
    assert api.register_household(ACCOUNT).status_code == 201
    return ACCOUNT


def create_order(api: LedgerApi, amount: str = "1944.00", **changes: Any) -> Any:
    body = {"account_number": ACCOUNT, "amount_yuan": amount, "provider": PROVIDER, **changes}
    return api.client.post("/payments/orders", json=body, headers=api.clerk())


@pytest.fixture
def order_number(api: LedgerApi, household: str) -> str:
    response = create_order(api)
    assert response.status_code == 201, response.text
    number: str = response.json()["order_number"]
    return number


def notification(order_number: str, amount: Any = "1944.00", currency: str = "CNY") -> bytes:
    return json.dumps(
        {
            "merchant_order_number": order_number,
            "transaction_id": "4200001234202512101234567890",
            "amount_yuan": amount,
            "currency": currency,
            "paid_at": "2025-12-10T11:59:30+08:00",
        }
    ).encode()


def notify(
    client: TestClient,
    container: Container,
    body: bytes,
    *,
    timestamp: int = NOW_S,
    provider: str = PROVIDER,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    key = key or merchant_key(container.settings.secret_key, provider)
    signed = {"X-Pay-Timestamp": str(timestamp), "X-Pay-Signature": sign(key, str(timestamp), body)}
    return client.post(
        f"/payments/notify/{provider}",
        content=body,
        headers={"Content-Type": "application/json", **signed, **(headers or {})},
    )


def events(container: Container) -> int:
    """Events of the ledger other than the orders' own: a notification that books nothing leaves
    this unchanged (flagging an order is an event of the order, not a booking)."""
    notifications = container.ledger.recorder.select_notifications(start=1, limit=100_000)
    return sum(1 for notification in notifications if ".payment_order:" not in notification.topic)


def refusals(container: Container) -> list[tuple[str, str]]:
    statement = select(security_events.c.channel, security_events.c.reason).order_by(security_events.c.event_id)
    with container.engine.connect() as connection:
        return [(row.channel, row.reason) for row in connection.execute(statement)]


def booked(container: Container) -> list[tuple[str, str, str, str]]:
    """The payments read model: (account, amount, source, reference) per payment."""
    container.catch_up()
    statement = select(payments.c.account_number, payments.c.amount_yuan, payments.c.source, payments.c.reference)
    with container.engine.connect() as connection:
        return [(row[0], str(row[1]), row[2], row[3]) for row in connection.execute(statement)]


# -- orders ---------------------------------------------------------------------------------------


def test_a_clerk_creates_an_order_and_reads_it(api: LedgerApi, household: str) -> None:
    response = create_order(api, "1944.5")

    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["Location"] == f"/payments/orders/{order['order_number']}"
    assert order["order_number"].startswith("HL20251210") and len(order["order_number"]) == 22
    assert (order["amount_yuan"], order["currency"], order["status"], order["provider"]) == (
        "1944.50",
        "CNY",
        "open",
        PROVIDER,
    )
    assert (order["account_number"], order["created_by"], order["payment_id"]) == (ACCOUNT, "e2e-clerk", None)
    assert order["notify_path"] == "/payments/notify/hmac-json"
    read = api.get(f"/payments/orders/{order['order_number']}", Role.AUDITOR)
    assert read.status_code == 200 and read.json() == order


@pytest.mark.parametrize(
    ("changes", "message_key"),
    [
        ({"amount_yuan": "0"}, "amount_not_positive"),
        ({"amount_yuan": "-10.00"}, "amount_not_positive"),
        ({"amount_yuan": "12.345"}, "amount_too_precise"),
        ({"currency": "USD"}, "currency_unsupported"),
        ({"provider": "paypal"}, "payment_provider_unknown"),
    ],
)
def test_an_order_with_an_amount_currency_or_provider_the_ledger_does_not_take_is_a_422(
    api: LedgerApi, household: str, changes: dict[str, str], message_key: str
) -> None:
    problem = assert_problem(create_order(api, **changes), 422, "invalid_input")
    assert problem["errors"][0]["code"] == message_key


def test_an_order_is_for_a_household_by_a_role_that_takes_payments(api: LedgerApi, household: str) -> None:
    assert_problem(create_order(api, account_number="WZ-9999"), 404, "not_found")
    body = {"account_number": ACCOUNT, "amount_yuan": "10.00", "provider": PROVIDER}
    for role in (Role.DEVICE, Role.AUDITOR, Role.CUSTOMER_SERVICE):
        response = api.client.post("/payments/orders", json=body, headers=api.tokens.headers(role))
        assert_problem(response, 403, "permission_denied")
    assert_problem(api.client.post("/payments/orders", json=body), 401, "unauthenticated")
    assert_problem(api.get("/payments/orders/HL20251210AAAAAAAAAAAA"), 404, "not_found")
    assert_problem(api.get("/payments/orders/HL20251210AAAAAAAAAAAA", Role.DEVICE), 403, "permission_denied")


# -- notifications ----------------------------------------------------------------------------------


def test_a_signed_notification_books_the_payment_once(
    api: LedgerApi, client: TestClient, container: Container, order_number: str
) -> None:
    body = notification(order_number)

    response = notify(client, container, body)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"code": "SUCCESS", "message": "OK"}
    assert booked(container) == [(ACCOUNT, "1944.00", PROVIDER, order_number)]
    order = api.get(f"/payments/orders/{order_number}").json()
    assert order["status"] == "paid"
    assert order["payment_id"] == str(ids.payment_id(PROVIDER, order_number))
    assert order["transaction_id"] == "4200001234202512101234567890"
    assert order["paid_at"].startswith("2025-12-10T03:59:30")
    assert refusals(container) == []

    # Redelivered, and replayed inside the window: the same acknowledgement, nothing new.
    recorded = events(container)
    for timestamp in (NOW_S, NOW_S - 120):
        again = notify(client, container, body, timestamp=timestamp)
        assert (again.status_code, again.content) == (200, response.content)
    assert events(container) == recorded
    assert booked(container) == [(ACCOUNT, "1944.00", PROVIDER, order_number)]
    assert api.get(f"/payments/orders/{order_number}").json() == order


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Pay-Signature": "f" * 64}, id="wrong-signature"),
        pytest.param({"X-Pay-Signature": ""}, id="no-signature"),
        pytest.param({"X-Pay-Timestamp": str(NOW_S - 1)}, id="timestamp-changed-after-signing"),
    ],
)
def test_a_badly_signed_notification_is_a_401_logged_booking_nothing(
    api: LedgerApi, client: TestClient, container: Container, order_number: str, headers: dict[str, str]
) -> None:
    before = events(container)
    # A bearer token is no substitute for the signature.
    clerk = api.clerk("en")
    response = notify(client, container, notification(order_number), headers={**headers, **clerk})

    problem = assert_problem(response, 401, "unauthenticated")
    assert problem["params"] == {"reason": "invalid_signature"}
    assert "merchant key" in problem["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Pay-HMAC-SHA256")
    assert refusals(container) == [("payment:hmac-json", "invalid_signature")]
    assert events(container) == before
    assert booked(container) == []
    assert api.get(f"/payments/orders/{order_number}").json()["status"] == "open"


def test_a_notification_signed_with_another_key_is_a_401(
    client: TestClient, container: Container, order_number: str
) -> None:
    response = notify(client, container, notification(order_number), key=merchant_key("not ours", PROVIDER))
    assert assert_problem(response, 401, "unauthenticated")["params"] == {"reason": "invalid_signature"}
    assert booked(container) == []


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_stale_notification_is_a_401_logged_booking_nothing(
    client: TestClient, container: Container, order_number: str, offset: int
) -> None:
    response = notify(
        client, container, notification(order_number), timestamp=NOW_S + offset, headers={"Accept-Language": "zh"}
    )

    problem = assert_problem(response, 401, "unauthenticated")
    assert problem["params"] == {"reason": "stale_timestamp"}
    assert "300 秒" in problem["detail"]
    assert refusals(container) == [("payment:hmac-json", "stale_timestamp")]
    assert booked(container) == []


def test_an_amount_other_than_the_order_s_is_a_409_the_order_flagged_nothing_booked(
    api: LedgerApi, client: TestClient, container: Container, order_number: str
) -> None:
    before = events(container)

    response = notify(client, container, notification(order_number, "1.00"), headers={"Accept-Language": "en"})

    problem = assert_problem(response, 409, "conflict")
    assert problem["params"] == {"order_number": order_number, "amount_yuan": "1.00", "expected_yuan": "1944.00"}
    assert "flagged" in problem["detail"]
    order = api.get(f"/payments/orders/{order_number}").json()
    assert order["status"] == "flagged"
    assert order["flagged_reason"] == "amount_mismatch: notified 1.00 元, ordered 1944.00 元"
    assert refusals(container) == [("payment:hmac-json", "amount_mismatch")]
    assert events(container) == before
    assert booked(container) == []
    # Even the order's own amount is not booked on a flagged order: a person looks first.
    assert_problem(notify(client, container, notification(order_number)), 409, "conflict")
    assert booked(container) == []


def resolve(api: LedgerApi, order_number: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return api.client.post(f"/payments/orders/{order_number}/resolution", json=body, headers=headers or api.clerk())


@pytest.fixture
def flagged_order(client: TestClient, container: Container, order_number: str) -> str:
    """The order of 1944.00 notified with 1.00: flagged, nothing booked."""
    assert notify(client, container, notification(order_number, "1.00")).status_code == 409
    return order_number


def test_a_clerk_lists_flagged_orders_and_accepts_the_amount_received(
    api: LedgerApi, client: TestClient, container: Container, flagged_order: str
) -> None:
    listed = api.get("/payments/orders", Role.AUDITOR, query={"status": "flagged"}).json()["items"]
    assert [(item["order_number"], item["received_amount_yuan"]) for item in listed] == [(flagged_order, "1.00")]
    assert listed[0]["received_transaction_id"] == "4200001234202512101234567890"
    assert api.get("/payments/orders", query={"status": "paid"}).json()["items"] == []
    assert_problem(api.get("/payments/orders", query={"status": "lost"}), 422, "validation_failed")

    assert_problem(resolve(api, flagged_order, {"decision": "reject"}), 422, "validation_failed")  # no reason
    assert_problem(resolve(api, flagged_order, {"decision": "keep", "reason": "x"}), 422, "validation_failed")
    auditor = api.tokens.headers(Role.AUDITOR)
    assert_problem(
        resolve(api, flagged_order, {"decision": "reject", "reason": "x"}, auditor), 403, "permission_denied"
    )
    assert booked(container) == []

    response = resolve(api, flagged_order, {"decision": "accept_received", "reason": "the payer confirms 1.00"})

    assert response.status_code == 200, response.text
    order = response.json()
    assert (order["status"], order["resolution"], order["resolved_by"], order["resolution_reason"]) == (
        "resolved",
        "accept_received",
        "e2e-clerk",
        "the payer confirms 1.00",
    )
    transaction = "4200001234202512101234567890"
    assert order["resolution_payment_id"] == str(ids.payment_id(PROVIDER, transaction))
    assert booked(container) == [(ACCOUNT, "1.00", PROVIDER, transaction)]
    assert api.get("/payments/orders", query={"status": "flagged"}).json()["items"] == []
    # The provider's redelivery is acknowledged now; a second resolution is a 409.
    assert notify(client, container, notification(flagged_order, "1.00")).status_code == 200
    again = resolve(api, flagged_order, {"decision": "reject", "reason": "second thoughts"}, api.clerk("en"))
    assert "resolved already" in assert_problem(again, 409, "conflict")["detail"]
    assert booked(container) == [(ACCOUNT, "1.00", PROVIDER, transaction)]


def test_a_clerk_rejects_a_flagged_order_booking_nothing(
    api: LedgerApi, container: Container, flagged_order: str
) -> None:
    response = resolve(api, flagged_order, {"decision": "reject", "reason": "refunded through the provider"})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["resolution"], response.json()["resolution_payment_id"]) == (
        "resolved",
        "reject",
        None,
    )
    assert booked(container) == []


def test_only_a_flagged_order_is_resolved(api: LedgerApi, order_number: str) -> None:
    body = {"decision": "reject", "reason": "looks odd"}
    problem = assert_problem(resolve(api, order_number, body, api.clerk("zh")), 409, "conflict")
    assert problem["params"] == {"order_number": order_number, "status": "open"}
    assert "未标记待查" in problem["detail"]
    assert_problem(resolve(api, "HL20251210AAAAAAAAAAAA", body), 404, "not_found")


@pytest.mark.parametrize(
    ("amount", "currency", "message_key"),
    [
        ("0", "CNY", "amount_not_positive"),
        ("0.00", "CNY", "amount_not_positive"),
        ("12.345", "CNY", "amount_too_precise"),
        ("1944.00", "USD", "currency_unsupported"),
        ("lots", "CNY", "payment_notification_field_invalid"),
    ],
)
def test_an_amount_or_currency_the_ledger_does_not_take_is_a_clear_422(
    client: TestClient, container: Container, order_number: str, amount: str, currency: str, message_key: str
) -> None:
    response = notify(
        client, container, notification(order_number, amount, currency), headers={"Accept-Language": "en"}
    )

    problem = assert_problem(response, 422, "invalid_input")
    assert problem["errors"][0]["code"] == message_key
    assert problem["errors"][0]["field"] in ("amount_yuan", "currency")
    assert booked(container) == []
    assert refusals(container) == []


def test_a_body_that_is_not_json_is_a_422(client: TestClient, container: Container, household: str) -> None:
    problem = assert_problem(notify(client, container, b"<xml/>"), 422, "invalid_input")
    assert problem["detail"]


def test_an_unknown_provider_is_a_404_and_logged(client: TestClient, container: Container, order_number: str) -> None:
    response = notify(client, container, notification(order_number), provider="paypal")

    problem = assert_problem(response, 404, "not_found")
    assert problem["params"] == {"kind": "payment_provider", "key": "paypal"}
    assert refusals(container) == [("payment:paypal", "unknown_provider")]
    assert booked(container) == []


def test_an_unknown_order_is_a_404(client: TestClient, container: Container, household: str) -> None:
    response = notify(client, container, notification("HL20251210AAAAAAAAAAAA"))
    assert assert_problem(response, 404, "not_found")["params"]["kind"] == "payment_order"
    assert booked(container) == []


def test_the_notification_endpoint_is_documented_without_a_bearer_token(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/payments/notify/{provider}"]["post"]
    assert operation["operationId"] == "receive_payment_notification"
    assert "security" not in operation
    assert set(operation["responses"]) >= {"200", "401", "404", "409", "422"}
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(body_schema["properties"]) == {
        "merchant_order_number",
        "transaction_id",
        "amount_yuan",
        "currency",
        "paid_at",
    }
    assert schema["paths"]["/payments/orders"]["post"]["operationId"] == "create_payment_order"
    assert schema["paths"]["/payments/orders/{order_number}"]["get"]["operationId"] == "get_payment_order"
    assert schema["paths"]["/payments/orders"]["get"]["operationId"] == "list_payment_orders"
    resolution = schema["paths"]["/payments/orders/{order_number}/resolution"]["post"]
    assert resolution["operationId"] == "resolve_payment_order"
    assert set(resolution["responses"]) >= {"200", "401", "403", "404", "409", "422"}


def test_the_cli_prints_the_merchant_key(tmp_path: Any) -> None:
    env = {
        "HEATLEDGER_DATA_DIR": str(tmp_path),
        "HEATLEDGER_ENVIRONMENT": "test",
        "HEATLEDGER_SECRET_KEY": "s3cret-server-key",
        "COLUMNS": "250",
    }
    result = CliRunner().invoke(cli.app, ["payments", "merchant-key", PROVIDER], env=env)
    assert result.exit_code == 0, result.output
    assert "1f7dbce41b4ec9c6ca9ec0e5c4ee09213a36bbed494be18fbab65cfde7631e67" in result.output
    unknown = CliRunner().invoke(cli.app, ["payments", "merchant-key", "paypal"], env=env)
    assert unknown.exit_code != 0


def test_an_order_says_until_when_it_is_valid_and_the_cli_expires_overdue_ones(
    api: LedgerApi, household: str, tmp_path: Any
) -> None:
    order = create_order(api, "5.00").json()
    assert datetime.fromisoformat(order["expires_at"]) - datetime.fromisoformat(order["created_at"]) == timedelta(
        hours=2
    )
    assert order["expired_at"] is None
    env = {
        "HEATLEDGER_DATA_DIR": str(tmp_path),
        "HEATLEDGER_ENVIRONMENT": "test",
        "HEATLEDGER_SECRET_KEY": "s3cret-server-key",
        "COLUMNS": "250",
    }
    result = CliRunner().invoke(cli.app, ["payments", "expire-orders"], env=env)
    assert result.exit_code == 0, result.output
    assert "0 payment orders expired." in result.output
