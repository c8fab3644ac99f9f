"""Fifty payments to one household at once over HTTP, from the counter and the online channel,
each sent twice: every payment is booked exactly once, the balance is exact and no request fails
with a 5xx, on both backends.

The app is served by uvicorn on a loopback port so that the requests really are concurrent (each
its own connection, the sync endpoints on the server's thread pool), and they are fired from a
thread pool as a clerk's program and a provider's redeliveries would send them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI

from application.authorization import Role
from infrastructure.container import Container
from infrastructure.online_payments import merchant_key, sign
from tests.e2e.conftest import NOW, LedgerApi
from tests.e2e.test_api_payments import PREPAYMENT, tariff

ACCOUNT = "WZ-0001"
PROVIDER = "hmac-json"
PAYMENTS = 50
WORKERS = 16
DELIVERIES = 2  # every payment is sent twice: the clerk pressed twice, the provider redelivered
STARTUP_POLLS = 500  # of 10 ms: the server listens within 5 s or the test fails
REQUEST_TIMEOUT_S = 30.0
ONLINE_ACKNOWLEDGEMENT = {"code": "SUCCESS", "message": "OK"}


def amount_of(number: int) -> Decimal:
    """1.01, 2.02, … 50.50 元: every payment different to the 分, so a lost or doubled one shows."""
    return Decimal(number) * Decimal("1.01")


EXPECTED_PAID = sum((amount_of(number) for number in range(1, PAYMENTS + 1)), Decimal(0))  # 1287.75


def is_online(number: int) -> bool:
    return number % 2 == 1  # odd numbers online, even ones at the counter: 25 of each


@dataclass(frozen=True)
class Attempt:
    """One delivery of payment ``number`` and the server's answer."""

    number: int
    status_code: int
    body: dict[str, object]


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    listening = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="off", loop="asyncio", http="h11", ws="none", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        for _ in range(STARTUP_POLLS):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.01)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listening.close()
    assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def invoiced(api: LedgerApi, frozen_now: datetime) -> LedgerApi:
    """WZ-0001 registered, the tariff published and the season's prepayment (2127.60 元) invoiced."""
    assert api.register_household(ACCOUNT).status_code == 201
    assert api.client.post("/tariffs", json=tariff(), headers=api.tokens.headers(Role.ADMIN)).status_code == 201
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
    assert run.status_code == 202, run.text
    assert api.get(run.headers["Location"]).json()["summary"]["bills_issued"] == 1
    return api


def create_order(client: httpx2.Client, clerk: dict[str, str], number: int) -> str:
    body = {"account_number": ACCOUNT, "amount_yuan": str(amount_of(number)), "provider": PROVIDER}
    response = client.post("/payments/orders", json=body, headers=clerk)
    assert response.status_code == 201, response.text
    order_number: str = response.json()["order_number"]
    return order_number


def create_orders(client: httpx2.Client, clerk: dict[str, str]) -> dict[int, str]:
    """An order for every online payment, by payment number (created at once too)."""
    numbers = [number for number in range(1, PAYMENTS + 1) if is_online(number)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        order_numbers = list(pool.map(lambda number: create_order(client, clerk, number), numbers))
    assert len(set(order_numbers)) == len(numbers)
    return dict(zip(numbers, order_numbers, strict=True))


def notification(order_number: str, number: int) -> bytes:
    return json.dumps(
        {
            "merchant_order_number": order_number,
            "transaction_id": f"42000012342025121000{number:02d}",
            "amount_yuan": str(amount_of(number)),
            "currency": "CNY",
            "paid_at": "2025-12-10T11:59:30+08:00",
        }
    ).encode()


class Sender:
    """Sends one delivery of a payment: at the counter as a clerk, or online as the provider."""

    def __init__(self, client: httpx2.Client, clerk: dict[str, str], orders: dict[int, str], key: str) -> None:
        self.client = client
        self.clerk = clerk
        self.orders = orders
        self.key = key

    def send(self, number: int) -> Attempt:
        response = self.notify(number) if is_online(number) else self.pay_at_counter(number)
        body = response.json() if response.content else {}
        return Attempt(number, response.status_code, body)

    def pay_at_counter(self, number: int) -> httpx2.Response:
        body = {"amount_yuan": str(amount_of(number)), "channel": "cash", "receipt_number": f"R-{number:03d}"}
        return self.client.post(f"/households/{ACCOUNT}/payments", json=body, headers=self.clerk)

    def notify(self, number: int) -> httpx2.Response:
        body = notification(self.orders[number], number)
        timestamp = str(int(NOW.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-Pay-Timestamp": timestamp,
            "X-Pay-Signature": sign(self.key, timestamp, body),
        }
        return self.client.post(f"/payments/notify/{PROVIDER}", content=body, headers=headers)


def fire(sender: Sender) -> list[Attempt]:
    """Every payment twice, the two deliveries side by side so they race each other."""
    deliveries = [number for number in range(1, PAYMENTS + 1) for _ in range(DELIVERIES)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(sender.send, deliveries))


def assert_each_booked_once(attempts: list[Attempt]) -> None:
    """No 5xx; at the counter one 201 and one 200 ``recorded: false`` of the same payment per
    receipt; online both deliveries acknowledged alike."""
    assert [attempt for attempt in attempts if attempt.status_code >= 500] == []
    for number in range(1, PAYMENTS + 1):
        pair = [attempt for attempt in attempts if attempt.number == number]
        assert len(pair) == DELIVERIES
        if is_online(number):
            assert [(attempt.status_code, attempt.body) for attempt in pair] == [(200, ONLINE_ACKNOWLEDGEMENT)] * 2
            continue
        outcomes = Counter((attempt.status_code, attempt.body.get("recorded")) for attempt in pair)
        assert outcomes == Counter({(201, True): 1, (200, False): 1}), pair
        assert pair[0].body["payment_id"] == pair[1].body["payment_id"], pair
        assert pair[0].body["amount_yuan"] == str(amount_of(number))


def assert_orders_paid(api: LedgerApi, orders: dict[int, str], payment_ids: set[str]) -> None:
    for order_number in orders.values():
        order = api.get(f"/payments/orders/{order_number}").json()
        assert (order["status"], order["payment_id"] in payment_ids) == ("paid", True), order


def test_fifty_concurrent_payments_each_sent_twice_are_booked_once_over_http(
    invoiced: LedgerApi, app: FastAPI, container: Container
) -> None:
    api = invoiced
    with served(app) as base_url, httpx2.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        orders = create_orders(client, api.clerk())
        sender = Sender(client, api.clerk(), orders, merchant_key(container.settings.secret_key, PROVIDER))
        attempts = fire(sender)
    assert_each_booked_once(attempts)

    listing = api.get(f"/households/{ACCOUNT}/payments", limit=1000)
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert listing.json()["total"] == len(items) == PAYMENTS
    references = Counter((item["source"], item["reference"]) for item in items)
    expected = {
        (PROVIDER, orders[number]) if is_online(number) else ("counter", f"R-{number:03d}")
        for number in range(1, PAYMENTS + 1)
    }
    assert set(references) == expected and set(references.values()) == {1}  # every payment, once
    assert sum((Decimal(item["amount_yuan"]) for item in items), Decimal(0)) == EXPECTED_PAID
    assert_orders_paid(api, orders, {item["payment_id"] for item in items})

    balance = api.get(f"/households/{ACCOUNT}/balance").json()
    # Charged 2127.60, paid 1.01 + 2.02 + … + 50.50 = 1287.75: 839.85 still owed.
    assert (balance["charged_yuan"], balance["paid_yuan"], balance["balance_yuan"]) == (
        str(PREPAYMENT),
        str(EXPECTED_PAID),
        str(PREPAYMENT - EXPECTED_PAID),
    )
    account = api.get(f"/households/{ACCOUNT}/account").json()
    assert [charge["open_yuan"] for charge in account["open_charges"]] == [str(PREPAYMENT - EXPECTED_PAID)]
    assert account["credit_yuan"] == "0.00"
    journal = api.get("/payments/journal", day="2025-12-10").json()["items"]
    assert sorted((row["channel"], row["actor"], row["payments"]) for row in journal) == [
        ("cash", "e2e-clerk", PAYMENTS // 2),
        ("online", f"provider:{PROVIDER}", PAYMENTS // 2),
    ]
