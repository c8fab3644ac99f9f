"""A season's balances over HTTP agree with the households' accounts, on both backends.

WZ-0001 (98.50 m²) is invoiced 98.50 × 21.6 = 2127.60 元 for 2025-2026 and pays 1000.00 元 at
the counter: the season shows 2127.60 charged, 1000.00 paid, 1127.60 still owed, exactly what
the household's account allocates and leaves open.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from application.authorization import Role
from tests.e2e.conftest import LedgerApi

SEASON = "2025-2026"
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


def invoice_the_season(api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    assert api.client.post("/tariffs", json=TARIFF, headers=api.tokens.headers(Role.ADMIN)).status_code == 201
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": SEASON}, headers=api.clerk())
    assert run.status_code == 202, run.text
    assert api.get(run.headers["Location"]).json()["summary"]["charged_yuan"] == "2127.60"


def money(items: list[dict[str, Any]], field: str) -> Decimal:
    return sum((Decimal(item[field]) for item in items), Decimal(0))


def test_a_seasons_balance_shows_the_counter_payment_the_account_allocates(
    api: LedgerApi, frozen_now: datetime
) -> None:
    invoice_the_season(api)
    body = {"amount_yuan": "1000.00", "channel": "cash", "receipt_number": "R-0001"}
    assert api.client.post("/households/WZ-0001/payments", json=body, headers=api.clerk()).status_code == 201

    response = api.get("/balances", season=SEASON)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "season": SEASON,
        "items": [
            {
                "community": "碧桂园",
                "households": 1,
                "charged_yuan": "2127.60",
                "paid_yuan": "1000.00",
                "from_credit_notes_yuan": "0.00",
                "balance_yuan": "1127.60",
            }
        ],
    }
    account = api.get("/households/WZ-0001/account").json()
    (community,) = response.json()["items"]
    assert money(account["allocations"], "amount_yuan") == Decimal(community["paid_yuan"])
    assert money(account["open_charges"], "open_yuan") == Decimal(community["balance_yuan"])
    # Over all seasons the same household: charged 2127.60, paid 1000.00.
    (everything,) = api.get("/balances").json()["items"]
    assert (everything["charged_yuan"], everything["paid_yuan"], everything["balance_yuan"]) == (
        "2127.60",
        "1000.00",
        "1127.60",
    )
    assert everything["from_credit_notes_yuan"] is None
