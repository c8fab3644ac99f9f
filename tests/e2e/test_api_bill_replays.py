"""A bill replayed and recomputed over HTTP: customer service and auditors read them; a late
correction shows as a cause of the recomputed difference, never in the replay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem, shanghai_midnight
from tests.e2e.test_api_billing import (  # noqa: F401  (after_season is a fixture)
    DAILY_GJ,
    SEASON_DAYS,
    SETTLEMENT,
    Clock,
    after_season,
    bills,
    finished_run,
    metered_household,
    of_kind,
    publish,
)

UNKNOWN_BILL = "00000000-0000-4000-8000-000000000000"


def settled(api: LedgerApi) -> dict[str, str]:
    """A metered household prepaid and settled: its settlement bill."""
    assert publish(api).status_code == 201
    metered_household(api, "WZ-0001", "HM-1")
    finished_run(api, "prepayment")
    finished_run(api, "settlement")
    [settlement] = of_kind(bills(api, "WZ-0001"), "settlement")
    return settlement


def test_a_settlement_replays_to_the_fen_and_recomputes_with_its_causes(api: LedgerApi, after_season: Clock) -> None:  # noqa: F811
    settlement = settled(api)
    replay = api.get(f"/bills/{settlement['bill_id']}/replay", role=Role.AUDITOR)
    assert replay.status_code == 200, replay.text
    body = replay.json()
    assert body["matches"] is True and body["differences"] == []
    assert body["replayed_amount_yuan"] == body["issued_amount_yuan"] == str(SETTLEMENT)
    assert body["inputs_position"] > 0 and body["events_used"] > SEASON_DAYS

    last_reading = shanghai_midnight(date(2026, 4, 1))
    register = Decimal(100) + DAILY_GJ * SEASON_DAYS + 1  # read 1 GJ too low at the season's end
    correction = {
        "measured_at": last_reading,
        "corrected": {"measured_at": last_reading, "energy_gj": str(register), "source": "manual"},
        "reason": "register misread",
    }
    corrected = api.client.post(
        "/meters/HM-1/reading-corrections", json=correction, headers=api.tokens.headers(Role.CLERK)
    )
    assert corrected.status_code in (200, 201, 202), corrected.text

    assert api.get(f"/bills/{settlement['bill_id']}/replay", role=Role.CUSTOMER_SERVICE).json()["matches"] is True
    recomputed = api.get(f"/bills/{settlement['bill_id']}/recompute", role=Role.CUSTOMER_SERVICE).json()
    # 1 GJ × 43.9 元/GJ more due: the refund shrinks by 43.90 元.
    assert recomputed["difference_yuan"] == "43.90"
    assert recomputed["replay_matches"] is True
    [cause] = recomputed["causes"]
    assert cause["amount_yuan"] == "43.90"
    assert {event["reason"] for event in cause["events"]} == {"register misread"}
    changed = {difference["computed"]["code"] for difference in recomputed["differences"] if difference["computed"]}
    assert "energy_part" in changed


def test_an_unknown_bill_is_a_404_and_a_bad_id_a_422(api: LedgerApi) -> None:
    assert_problem(api.get(f"/bills/{UNKNOWN_BILL}/replay"), 404, "not_found")
    assert_problem(api.get(f"/bills/{UNKNOWN_BILL}/recompute"), 404, "not_found")
    assert api.get("/bills/not-a-uuid/replay").status_code == 422
