"""Meter lifecycle over HTTP: swapping a household's meter with consumption continuing across the
swap, decommissioning, verifications judged against the class's MPE, roles and bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from application.authorization import Role, is_read_only
from tests.e2e.conftest import LedgerApi, assert_problem, cumulative, days_from, shanghai_midnight

ACCOUNT = "WZ-0001"
OLD, NEW = "HM-OLD", "HM-NEW"
# The old meter is read at Shanghai midnight from 1 to 4 December and swapped at 15:00 on the
# 4th; the new meter is read at midnight from 5 to 8 December.
OLD_DAYS = days_from(date(2025, 12, 1), 4)
NEW_DAYS = days_from(date(2025, 12, 5), 4)
SWAP_DAY = date(2025, 12, 4)
SWAPPED_AT = "2025-12-04T15:00:00+08:00"
OLD_ENERGY = cumulative(Decimal("100.000"), [Decimal("0.412"), Decimal("0.398"), Decimal("0.405")])
OLD_VOLUME = cumulative(Decimal("500.000"), [Decimal("2.470"), Decimal("2.390"), Decimal("2.430")])
OLD_FINAL_ENERGY, OLD_FINAL_VOLUME = OLD_ENERGY[-1] + Decimal("0.380"), OLD_VOLUME[-1] + Decimal("2.280")
# The new meter's part of the swap day (15:00 to midnight), then three whole days.
NEW_INCREMENTS = [Decimal("0.230"), Decimal("0.420"), Decimal("0.431"), Decimal("0.399")]
NEW_VOLUME = cumulative(Decimal("0.000"), [Decimal("1.380"), Decimal("2.520"), Decimal("2.580"), Decimal("2.400")])


def post(api: LedgerApi, path: str, body: dict[str, Any], role: Role = Role.CLERK, language: str | None = None) -> Any:
    return api.client.post(path, json=body, headers=api.tokens.headers(role, language))


def swap_body(
    final_energy: Decimal,
    initial_energy: Decimal,
    final_at: str = SWAPPED_AT,
    initial_at: str = SWAPPED_AT,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "old_serial": OLD,
        "new_serial": NEW,
        "final_reading": {"measured_at": final_at, "energy_gj": str(final_energy), "volume_m3": str(OLD_FINAL_VOLUME)},
        "initial_reading": {"measured_at": initial_at, "energy_gj": str(initial_energy), "volume_m3": "0.000"},
        "reason": "display failed; replaced under warranty",
        **extra,
    }


@pytest.fixture
def household(api: LedgerApi, frozen_now: object) -> LedgerApi:
    """A household whose old meter was read daily from 1 to 4 December; a new meter waits, commissioned."""
    api.household_with_meter(ACCOUNT, OLD)
    api.daily_readings(OLD, OLD_DAYS, OLD_ENERGY, volume_m3=OLD_VOLUME)
    assert api.commission_meter(NEW).status_code == 201
    return api


def _consumption(api: LedgerApi, path: str) -> dict[str, Any]:
    response = api.get(path, query={"from": "2025-12-01", "to": "2025-12-10"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- swap ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("new_start", [Decimal("0.000"), Decimal("5.000")], ids=["new-from-zero", "new-from-five"])
@pytest.mark.parametrize("form_typed_in", ["on-time", "days-later"])
def test_consumption_continues_across_a_swap_without_gap_or_double_count(
    household: LedgerApi, new_start: Decimal, form_typed_in: str
) -> None:
    new_energy = cumulative(new_start, NEW_INCREMENTS)  # initial reading, then 5 to 8 December
    if form_typed_in == "days-later":  # the concentrator reads the new meter before the swap is recorded
        household.daily_readings(NEW, NEW_DAYS, new_energy[1:], volume_m3=NEW_VOLUME[1:])
    swap = post(household, f"/households/{ACCOUNT}/meter-replacements", swap_body(OLD_FINAL_ENERGY, new_start))
    assert swap.status_code == 200, swap.text
    if form_typed_in == "on-time":
        household.daily_readings(NEW, NEW_DAYS, new_energy[1:], volume_m3=NEW_VOLUME[1:])

    consumption = _consumption(household, f"/households/{ACCOUNT}/consumption")

    assert Decimal(consumption["energy_gj"]) == (OLD_FINAL_ENERGY - OLD_ENERGY[0]) + (new_energy[-1] - new_energy[0])
    assert Decimal(consumption["volume_m3"]) == (OLD_FINAL_VOLUME - OLD_VOLUME[0]) + (NEW_VOLUME[-1] - NEW_VOLUME[0])
    by_day = {period["period"]: Decimal(period["energy_gj"]) for period in consumption["periods"]}
    old_part, new_part = OLD_FINAL_ENERGY - OLD_ENERGY[-1], new_energy[1] - new_energy[0]
    assert by_day == {
        "2025-12-01": OLD_ENERGY[1] - OLD_ENERGY[0],
        "2025-12-02": OLD_ENERGY[2] - OLD_ENERGY[1],
        "2025-12-03": OLD_ENERGY[3] - OLD_ENERGY[2],
        SWAP_DAY.isoformat(): old_part + new_part,
        "2025-12-05": new_energy[2] - new_energy[1],
        "2025-12-06": new_energy[3] - new_energy[2],
        "2025-12-07": new_energy[4] - new_energy[3],
    }
    swap_day_volume = next(Decimal(p["volume_m3"]) for p in consumption["periods"] if p["period"] == "2025-12-04")
    assert swap_day_volume == (OLD_FINAL_VOLUME - OLD_VOLUME[-1]) + (NEW_VOLUME[1] - NEW_VOLUME[0])
    # Each meter's own days show its part of the swap day and nothing of the other's.
    old_days = _consumption(household, f"/meters/{OLD}/consumption")["periods"]
    new_days = _consumption(household, f"/meters/{NEW}/consumption")["periods"]
    assert (old_days[-1]["period"], Decimal(old_days[-1]["energy_gj"])) == (SWAP_DAY.isoformat(), old_part)
    assert (new_days[0]["period"], Decimal(new_days[0]["energy_gj"])) == (SWAP_DAY.isoformat(), new_part)


def test_a_swap_moves_the_household_to_the_new_meter_and_records_both_readings(household: LedgerApi) -> None:
    response = post(household, f"/households/{ACCOUNT}/meter-replacements", swap_body(OLD_FINAL_ENERGY, Decimal(0)))
    correlation_id = response.json()["correlation_id"]

    assert [meter["serial"] for meter in household.get(f"/households/{ACCOUNT}").json()["meters"]] == [NEW]
    old, new = household.get(f"/meters/{OLD}").json(), household.get(f"/meters/{NEW}").json()
    assert old["household_account_number"] is None
    assert (new["household_account_number"], new["community"], new["building"]) == (ACCOUNT, "碧桂园", "1")
    final = household.get(f"/meters/{OLD}/readings", limit=1).json()["items"][0]
    initial = household.get(f"/meters/{NEW}/readings").json()["items"]
    assert (final["measured_at"], Decimal(final["energy_gj"]), final["source"]) == (
        "2025-12-04T07:00:00Z",
        OLD_FINAL_ENERGY,
        "manual",
    )
    assert (final["recorded_by"], final["batch_id"]) == ("e2e-clerk", correlation_id)
    assert Decimal(final["interval"]["energy_gj"]) == OLD_FINAL_ENERGY - OLD_ENERGY[-1]
    assert Decimal(final["interval"]["volume_m3"]) == OLD_FINAL_VOLUME - OLD_VOLUME[-1]
    assert [(reading["measured_at"], reading["interval"], reading["batch_id"]) for reading in initial] == [
        ("2025-12-04T07:00:00Z", None, correlation_id)
    ]


def test_readings_of_the_old_meter_after_the_swap_count_for_nobody(household: LedgerApi) -> None:
    post(household, f"/households/{ACCOUNT}/meter-replacements", swap_body(OLD_FINAL_ENERGY, Decimal(0)))
    before = _consumption(household, f"/households/{ACCOUNT}/consumption")

    late = {"meter_serial": OLD, "measured_at": shanghai_midnight(date(2025, 12, 5)), "source": "mbus"}
    assert household.submit([{**late, "energy_gj": str(OLD_FINAL_ENERGY + Decimal("0.2"))}]).json()["accepted"] == 1

    assert _consumption(household, f"/households/{ACCOUNT}/consumption") == before


def test_a_swap_typed_in_after_the_old_meter_s_later_reading_counts_it_for_nobody(household: LedgerApi) -> None:
    late = {"meter_serial": OLD, "measured_at": shanghai_midnight(date(2025, 12, 5)), "source": "mbus"}
    assert household.submit([{**late, "energy_gj": str(OLD_FINAL_ENERGY + Decimal("0.2"))}]).json()["accepted"] == 1

    post(household, f"/households/{ACCOUNT}/meter-replacements", swap_body(OLD_FINAL_ENERGY, Decimal(0)))

    # Up to the swap at 15:00 on the 4th, the old meter's heat only: its 0.2 GJ after it counts for nobody.
    consumption = _consumption(household, f"/households/{ACCOUNT}/consumption")
    assert Decimal(consumption["energy_gj"]) == OLD_FINAL_ENERGY - OLD_ENERGY[0]


def test_a_swap_breaking_a_reading_rule_changes_nothing(household: LedgerApi) -> None:
    backwards = swap_body(OLD_ENERGY[-1] - Decimal("0.001"), Decimal(0))

    problem = assert_problem(
        post(household, f"/households/{ACCOUNT}/meter-replacements", backwards, language="en"),
        422,
        "reading_rejected",
    )

    assert problem["params"]["reason"] == "register_backwards"
    assert [meter["serial"] for meter in household.get(f"/households/{ACCOUNT}").json()["meters"]] == [OLD]
    assert household.get(f"/meters/{OLD}").json()["readings_count"] == len(OLD_DAYS)
    new = household.get(f"/meters/{NEW}").json()
    assert (new["household_account_number"], new["readings_count"]) == (None, 0)


def test_the_final_and_initial_readings_must_be_simultaneous(household: LedgerApi) -> None:
    apart = swap_body(OLD_FINAL_ENERGY, Decimal(0), initial_at="2025-12-04T15:05:00+08:00")

    problem = assert_problem(post(household, f"/households/{ACCOUNT}/meter-replacements", apart), 422, "invalid_input")

    assert problem["errors"][0]["field"] == "initial_reading"
    assert problem["detail"] == "换表时旧表的末次读数和新表的初始读数必须是同一时刻。"
    assert household.get(f"/meters/{OLD}").json()["household_account_number"] == ACCOUNT
    # The same moment written in another zone is the same moment.
    utc = swap_body(OLD_FINAL_ENERGY, Decimal(0), initial_at="2025-12-04T07:00:00Z")
    assert post(household, f"/households/{ACCOUNT}/meter-replacements", utc).status_code == 200


def test_a_swap_needs_the_old_meter_here_and_a_new_meter_free_and_commissioned(household: LedgerApi) -> None:
    assert household.register_household("WZ-0002", flat="102").status_code == 201
    body = swap_body(OLD_FINAL_ENERGY, Decimal(0))

    not_here = post(household, "/households/WZ-0002/meter-replacements", body)
    unknown = post(household, f"/households/{ACCOUNT}/meter-replacements", {**body, "new_serial": "HM-NOPE"})
    assert household.attach_meter("WZ-0002", NEW).status_code == 200
    taken = post(household, f"/households/{ACCOUNT}/meter-replacements", body)

    assert assert_problem(not_here, 409, "conflict")["detail"] == "这块热表没有安装在这一户。"
    assert assert_problem(unknown, 404, "not_found")["params"] == {"kind": "meter", "key": "HM-NOPE"}
    assert assert_problem(taken, 409, "conflict")["params"] == {"meter_serial": NEW}
    assert household.get(f"/meters/{OLD}").json()["household_account_number"] == ACCOUNT
    assert household.get(f"/meters/{OLD}").json()["readings_count"] == len(OLD_DAYS)


def test_a_swap_refuses_a_time_without_zone_and_a_missing_reason(household: LedgerApi) -> None:
    body = swap_body(OLD_FINAL_ENERGY, Decimal(0), final_at="2025-12-04T15:00:00")
    del body["reason"]

    problem = assert_problem(
        post(household, f"/households/{ACCOUNT}/meter-replacements", body), 422, "validation_failed"
    )

    assert sorted((error["field"], error["code"]) for error in problem["errors"]) == [
        ("final_reading.measured_at", "timezone_aware"),
        ("reason", "missing"),
    ]


# -- decommissioning ----------------------------------------------------------------------------


def _detach(api: LedgerApi, serial: str, at: str) -> None:
    body = {"detached_at": at, "reason": "removed"}
    assert post(api, f"/meters/{serial}/detachments", body).status_code == 200


def test_a_decommissioned_meter_rejects_later_readings(household: LedgerApi) -> None:
    _detach(household, OLD, "2025-12-04T09:00:00+08:00")
    decommissioned_at = "2025-12-05T09:00:00+08:00"

    response = post(
        household, f"/meters/{OLD}/decommissioning", {"decommissioned_at": decommissioned_at, "reason": "scrapped"}
    )

    assert response.status_code == 200
    assert set(response.json()) == {"correlation_id"}
    assert household.get(f"/meters/{OLD}").json()["decommissioned_at"] == "2025-12-05T01:00:00Z"
    last = OLD_ENERGY[-1]
    readings = [
        {
            "meter_serial": OLD,
            "measured_at": decommissioned_at,
            "energy_gj": str(last + Decimal("0.3")),
            "source": "mbus",
        },
        {
            "meter_serial": OLD,
            "measured_at": "2025-12-05T09:00:01+08:00",
            "energy_gj": str(last + Decimal("0.4")),
            "source": "mbus",
        },
    ]
    receipt = household.submit(readings, language="en").json()
    assert [(outcome["status"], outcome["reason"]) for outcome in receipt["outcomes"]] == [
        ("accepted", None),
        ("rejected", "after_decommissioning"),
    ]
    assert receipt["outcomes"][1]["message"] == "The reading is newer than the meter's decommissioning."


def test_a_decommissioned_meter_serves_no_one_again(household: LedgerApi) -> None:
    _detach(household, OLD, "2025-12-04T09:00:00+08:00")
    body = {"decommissioned_at": "2025-12-05T09:00:00+08:00", "reason": "scrapped"}
    assert post(household, f"/meters/{OLD}/decommissioning", body).status_code == 200

    again = assert_problem(post(household, f"/meters/{OLD}/decommissioning", body), 409, "conflict")
    attach = assert_problem(household.attach_meter(ACCOUNT, OLD), 409, "conflict")

    assert again["detail"] == attach["detail"] == f"热表 {OLD} 已停用。"
    assert household.get(f"/households/{ACCOUNT}").json()["meters"] == []


def test_an_attached_meter_is_not_decommissioned(household: LedgerApi) -> None:
    body = {"decommissioned_at": "2025-12-05T09:00:00+08:00", "reason": "scrapped"}

    problem = assert_problem(post(household, f"/meters/{OLD}/decommissioning", body, language="en"), 409, "conflict")

    assert problem["detail"] == f"Meter {OLD} still serves a household; detach it before decommissioning it."
    assert household.get(f"/meters/{OLD}").json()["decommissioned_at"] is None


def test_decommissioning_refuses_bad_input(household: LedgerApi) -> None:
    _detach(household, OLD, "2025-12-04T09:00:00+08:00")
    path = f"/meters/{OLD}/decommissioning"

    before_newest = post(household, path, {"decommissioned_at": "2025-12-03T23:00:00+08:00", "reason": "scrapped"})
    naive = post(household, path, {"decommissioned_at": "2025-12-05T09:00:00", "reason": "scrapped"})
    no_reason = post(household, path, {"decommissioned_at": "2025-12-05T09:00:00+08:00"})
    blank_reason = post(household, path, {"decommissioned_at": "2025-12-05T09:00:00+08:00", "reason": "  "})

    assert assert_problem(before_newest, 422, "invalid_input")["errors"][0]["field"] == "decommissioned_at"
    assert assert_problem(naive, 422, "validation_failed")["errors"][0]["code"] == "timezone_aware"
    assert assert_problem(no_reason, 422, "validation_failed")["errors"][0]["field"] == "reason"
    assert assert_problem(blank_reason, 422, "invalid_input")["errors"][0]["code"] == "reason_required"
    assert household.get(f"/meters/{OLD}").json()["decommissioned_at"] is None


# -- verifications ------------------------------------------------------------------------------


def point(flow_rate: str, temperature_difference: str, error: str) -> dict[str, str]:
    return {
        "flow_rate_m3_h": flow_rate,
        "temperature_difference_k": temperature_difference,
        "measured_error_percent": error,
    }


def verify(
    api: LedgerApi, serial: str, points: list[dict[str, str]], verified_on: str = "2025-12-08", **extra: Any
) -> Any:
    body = {"verified_on": verified_on, "certificate": "JD-2025-0042", "points": points, **extra}
    return post(api, f"/meters/{serial}/verifications", body)


# Class 2, q_p = 2.5 m³/h (the default), Δθmin = 3 K:
# q = 0.25 m³/h, Δθ = 20 K: flow 2 + 0.02·2.5/0.25 = 2.2 %, calculator 0.5 + 3/20 = 0.65 %,
#   pair 0.5 + 3·3/20 = 0.95 % → 3.80 %.
# q = 2.5 m³/h, Δθ = 40 K: flow 2 + 0.02·1 = 2.02 %, calculator 0.5 + 3/40 = 0.575 %,
#   pair 0.5 + 9/40 = 0.725 % → 3.32 %.
MPE_LOW_FLOW = "3.80"
MPE_NOMINAL = "3.32"


def test_a_verification_within_the_mpe_passes(household: LedgerApi) -> None:
    response = verify(household, OLD, [point("0.25", "20", "3.5"), point("2.5", "40", "-3.32")], reason="periodic")

    assert response.status_code == 201, response.text
    recorded = response.json()
    assert (recorded["serial"], recorded["verified_on"], recorded["certificate"], recorded["passed"]) == (
        OLD,
        "2025-12-08",
        "JD-2025-0042",
        True,
    )
    assert recorded["points"] == [
        {
            "flow_rate_m3_h": "0.250",
            "temperature_difference_k": "20.000",
            "measured_error_percent": "3.50",
            "permissible_error_percent": MPE_LOW_FLOW,
            "passed": True,
        },
        {
            "flow_rate_m3_h": "2.500",
            "temperature_difference_k": "40.000",
            "measured_error_percent": "-3.32",
            "permissible_error_percent": MPE_NOMINAL,
            "passed": True,
        },
    ]
    meter = household.get(f"/meters/{OLD}").json()
    assert (meter["last_verified_on"], meter["last_verification_passed"]) == ("2025-12-08", True)


def test_one_point_beyond_its_mpe_fails_the_verification(household: LedgerApi) -> None:
    recorded = verify(household, OLD, [point("2.5", "40", "1.0"), point("0.25", "20", "4.0")]).json()

    assert recorded["passed"] is False
    assert [(p["permissible_error_percent"], p["passed"]) for p in recorded["points"]] == [
        (MPE_NOMINAL, True),
        (MPE_LOW_FLOW, False),
    ]
    assert household.get(f"/meters/{OLD}").json()["last_verification_passed"] is False


def test_the_mpe_follows_the_meters_class_and_permanent_flow(api: LedgerApi, frozen_now: object) -> None:
    assert api.commission_meter("HM-C3", accuracy_class="3", permanent_flow_m3_h="1.5").status_code == 201

    # Class 3, q_p = 1.5: q = 0.15, Δθ = 10: flow 3 + 0.05·10 = 3.5 %, calculator 0.5 + 0.3 = 0.8 %,
    # pair 0.5 + 0.9 = 1.4 % → 5.70 %. q = 0.01: flow 3 + 0.05·150 = 10.5 %, capped at 5 % → 7.20 %.
    recorded = verify(api, "HM-C3", [point("0.15", "10", "-5.7"), point("0.01", "10", "7.21")]).json()

    assert [(p["permissible_error_percent"], p["passed"]) for p in recorded["points"]] == [
        ("5.70", True),
        ("7.20", False),
    ]


def test_verifications_are_listed_latest_first(household: LedgerApi) -> None:
    assert verify(household, OLD, [point("0.25", "20", "4.0")], verified_on="2025-11-20").status_code == 201
    assert verify(household, OLD, [point("0.25", "20", "0.5")], verified_on="2025-12-08").status_code == 201
    # Entered late, an older certificate does not become the latest.
    assert verify(household, OLD, [point("0.25", "20", "4.1")], verified_on="2025-09-01").status_code == 201

    page = household.get(f"/meters/{OLD}/verifications", role=Role.AUDITOR).json()
    first_page = household.get(f"/meters/{OLD}/verifications", limit=1, offset=1).json()

    assert [(item["verified_on"], item["passed"]) for item in page["items"]] == [
        ("2025-12-08", True),
        ("2025-11-20", False),
        ("2025-09-01", False),
    ]
    latest = page["items"][0]
    assert (latest["recorded_by"], latest["reason"], latest["certificate"]) == (
        "e2e-clerk",
        "verification",
        "JD-2025-0042",
    )
    assert latest["points"] == [
        {
            "flow_rate_m3_h": "0.250",
            "temperature_difference_k": "20.000",
            "measured_error_percent": "0.50",
            "permissible_error_percent": MPE_LOW_FLOW,
            "passed": True,
        }
    ]
    assert (page["total"], first_page["total"], [item["verified_on"] for item in first_page["items"]]) == (
        3,
        3,
        ["2025-11-20"],
    )
    # The meter shows the verification with the latest date, not the one recorded last.
    meter = household.get(f"/meters/{OLD}").json()
    assert (meter["last_verified_on"], meter["last_verification_passed"]) == ("2025-12-08", True)


def test_a_verification_refuses_bad_points(household: LedgerApi) -> None:
    no_points = assert_problem(verify(household, OLD, []), 422, "invalid_input")
    zero_flow = assert_problem(verify(household, OLD, [point("0", "20", "1")]), 422, "invalid_input")
    too_many = assert_problem(verify(household, OLD, [point("1", "20", "1")] * 51), 422, "validation_failed")
    too_fine = assert_problem(verify(household, OLD, [point("1", "20", "1.0001")]), 422, "validation_failed")

    assert no_points["detail"] == "检定记录须有 1 至 50 个检定点。"
    assert zero_flow["errors"][0]["field"] == "points"
    assert too_many["errors"][0]["field"] == "points"
    assert too_fine["errors"][0]["field"] == "points[0].measured_error_percent"
    assert household.get(f"/meters/{OLD}/verifications").json()["total"] == 0


# -- the meter as read back, roles --------------------------------------------------------------


def test_a_meter_shows_its_fault_until_it_clears(household: LedgerApi) -> None:
    fault = {"meter_serial": OLD, "measured_at": shanghai_midnight(date(2025, 12, 5)), "source": "mbus"}
    household.submit([{**fault, "energy_gj": str(OLD_ENERGY[-1] + Decimal("0.4")), "error_flags": 4}])

    faulty = household.get(f"/meters/{OLD}").json()
    cleared = {**fault, "measured_at": shanghai_midnight(date(2025, 12, 6)), "energy_gj": str(OLD_ENERGY[-1] + 1)}
    household.submit([cleared])
    healthy = household.get(f"/meters/{OLD}").json()

    assert (faulty["error_flags"], faulty["fault_since"]) == (4, "2025-12-04T16:00:00Z")
    assert (healthy["error_flags"], healthy["fault_since"]) == (0, None)


WRITES = [
    (f"/households/{ACCOUNT}/meter-replacements", swap_body(OLD_FINAL_ENERGY, Decimal(0))),
    (f"/meters/{OLD}/decommissioning", {"decommissioned_at": "2025-12-05T09:00:00+08:00", "reason": "scrapped"}),
    (f"/meters/{OLD}/verifications", {"verified_on": "2025-12-08", "points": [point("0.25", "20", "1")]}),
]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR, Role.DEVICE])
def test_only_roles_that_manage_meters_change_their_lifecycle(household: LedgerApi, role: Role) -> None:
    for path, body in WRITES:
        problem = assert_problem(post(household, path, body, role=role), 403, "permission_denied")
        # A read-only role is refused at the door, for the method (api/read_only.py).
        refused = {"method": "POST"} if is_read_only(role) else {"permission": "manage_meters"}
        assert problem["params"] == {"role": role.value, **refused}

    assert household.get(f"/meters/{OLD}").json()["household_account_number"] == ACCOUNT
    assert household.get(f"/meters/{OLD}").json()["last_verified_on"] is None
    listing = household.get(f"/meters/{OLD}/verifications", role=role)
    if role is Role.DEVICE:
        assert_problem(listing, 403, "permission_denied")
    else:
        assert listing.status_code == 200


def test_customer_service_may_swap_a_meter(household: LedgerApi) -> None:
    response = post(
        household,
        f"/households/{ACCOUNT}/meter-replacements",
        swap_body(OLD_FINAL_ENERGY, Decimal(0)),
        role=Role.CUSTOMER_SERVICE,
    )

    assert response.status_code == 200
    assert household.get(f"/meters/{OLD}/readings", limit=1).json()["items"][0]["recorded_by"] == "e2e-customer_service"


def test_an_unknown_meter_has_no_lifecycle(household: LedgerApi) -> None:
    for response in (
        post(household, "/meters/NOPE/decommissioning", {"decommissioned_at": SWAPPED_AT, "reason": "scrapped"}),
        verify(household, "NOPE", [point("0.25", "20", "1")]),
        household.get("/meters/NOPE/verifications"),
    ):
        assert assert_problem(response, 404, "not_found")["params"] == {"kind": "meter", "key": "NOPE"}


def test_the_lifecycle_operations_keep_their_ids_under_their_resources(api: LedgerApi) -> None:
    schema = api.client.get("/openapi.json").json()

    operations = {
        (method.upper(), path): (operation["operationId"], operation["tags"])
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }

    assert {
        ("POST", "/households/{account_number}/meter-replacements"): ("replace_household_meter", ["households"]),
        ("POST", "/meters/{serial}/decommissioning"): ("decommission_meter", ["meters"]),
        ("POST", "/meters/{serial}/verifications"): ("record_meter_verification", ["meters"]),
        ("GET", "/meters/{serial}/verifications"): ("list_meter_verifications", ["meters"]),
        ("POST", "/meters/{serial}/reading-voids"): ("void_meter_reading", ["meters"]),
        ("POST", "/meters/{serial}/reading-corrections"): ("correct_meter_reading", ["meters"]),
        ("GET", "/meters/{serial}/corrections"): ("list_meter_corrections", ["meters"]),
    }.items() <= operations.items()
