"""Input the API refuses with a 422 problem in Chinese and English, rather than accepting it and
misreading it: account numbers no path can address, suspension dates before registration or
thousands of years ahead, season codes that are not a year and the next, dates given as numbers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LedgerApi, assert_problem

pytestmark = pytest.mark.usefixtures("frozen_now")

ACCOUNT = "WZ-0001"


@pytest.fixture
def household(api: LedgerApi) -> str:
    assert api.register_household(ACCOUNT).status_code == 201
    return ACCOUNT


def field_errors(response: Any, status: int = 422, code: str = "validation_failed") -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = assert_problem(response, status, code)["errors"]
    return errors


# -- account numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "account_number",
    ["WZ/0001", "WZ\x070001", "WZ-0001\n", "WZ-😀", "WZ 0001", "..", ".hidden", "ＷＺ-0001"],
    ids=["slash", "control", "newline", "emoji", "space", "dot-dot", "leading-dot", "full-width"],
)
def test_an_account_number_no_path_could_address_is_refused(api: LedgerApi, account_number: str) -> None:
    response = api.register_household(account_number)

    [error] = field_errors(response)
    assert (error["field"], error["code"]) == ("account_number", "account_number")
    assert error["message"].startswith("户号只能包含字母、数字、汉字、“-”、“_”和“.”")
    assert api.get("/households", limit="500").json()["total"] == 0


@pytest.mark.parametrize("account_number", ["WZ-0001", "碧桂园.1_2-0601", "x" * 64])
def test_letters_digits_cjk_and_separators_make_an_account_number(api: LedgerApi, account_number: str) -> None:
    assert api.register_household(account_number).status_code == 201

    assert api.get(f"/households/{account_number}").json()["account_number"] == account_number


def test_the_account_number_refusal_is_in_english_on_request(api: LedgerApi) -> None:
    body = {"account_number": "WZ/1", "amount_yuan": "10.00", "provider": "hmac-json"}

    response = api.client.post("/payments/orders", json=body, headers=api.clerk("en"))

    [error] = field_errors(response)
    assert error["message"] == (
        "An account number has only letters, digits, CJK characters, '-', '_' and '.', "
        "and starts with a letter, digit or CJK character; got WZ/1."
    )


# -- suspension dates ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["suspensions", "resumptions"])
def test_a_suspension_date_more_than_a_year_ahead_is_refused(api: LedgerApi, household: str, path: str) -> None:
    body = {"effective_on": "9999-12-31", "reason": "typing error"}

    response = api.client.post(f"/households/{household}/{path}", json=body, headers=api.clerk("en"))

    [error] = field_errors(response, code="invalid_input")
    assert (error["field"], error["code"]) == ("effective_on", "suspension_too_far_ahead")
    # Today is 2025-12-10 (Asia/Shanghai): 366 days on is 2026-12-11.
    assert error["message"] == "The date 9999-12-31 lies more than a year after today; the latest is 2026-12-11."


def test_a_suspension_a_year_ahead_is_taken(api: LedgerApi, household: str) -> None:
    body = {"effective_on": "2026-12-11", "reason": "away next winter"}

    assert api.client.post(f"/households/{household}/suspensions", json=body, headers=api.clerk()).status_code == 200


def test_a_suspension_before_the_registration_is_refused(api: LedgerApi, household: str) -> None:
    body = {"effective_on": "2025-09-30", "reason": "flat empty"}  # registered on 2025-10-01

    response = api.client.post(f"/households/{household}/suspensions", json=body, headers=api.clerk())

    [error] = field_errors(response, code="invalid_input")
    assert (error["field"], error["code"]) == ("effective_on", "suspension_before_registration")
    assert error["message"] == "报停或复供日期 2025-09-30 早于开户日期 2025-10-01。"
    assert api.get(f"/households/{household}").json()["heating_suspended"] is False


# -- season codes and dates ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/households/WZ-0001/bills", "/balances", "/collection-rates"])
def test_a_season_code_is_a_year_and_the_next(api: LedgerApi, household: str, path: str) -> None:
    response = api.get(path, season="2026-2030")

    [error] = field_errors(response)
    assert (error["field"], error["code"]) == ("season", "season_code")
    assert error["message"] == "采暖季代码是相邻两年，例如 2025-2026，收到的是 2026-2030。"


@pytest.mark.parametrize("as_of", ["0", "86400", "1764547200", "2025-12-01T00:00:00"])
def test_a_date_is_an_iso_date_not_a_number(api: LedgerApi, as_of: str) -> None:
    response = api.get("/arrears/aging", as_of=as_of)

    [error] = field_errors(response)
    assert (error["field"], error["location"], error["code"]) == ("as_of", "query", "iso_date")
    assert error["message"] == "必须是 ISO 日期，例如 2025-11-01（不接受数字或时间戳）。"


def test_a_date_in_a_body_is_an_iso_date_not_a_number(api: LedgerApi) -> None:
    response = api.register_household("WZ-0002", registered_on=0)

    [error] = field_errors(response)
    assert (error["field"], error["code"]) == ("registered_on", "iso_date")
    assert api.get("/arrears/aging", as_of="2025-12-01").status_code == 200


# -- internal ids -------------------------------------------------------------------------------


def test_a_payment_order_does_not_show_the_internal_household_id(api: LedgerApi, household: str) -> None:
    body = {"account_number": household, "amount_yuan": "100.00", "provider": "hmac-json"}

    created = api.client.post("/payments/orders", json=body, headers=api.clerk())

    assert created.status_code == 201, created.text
    assert "household_id" not in created.json()
    assert "household_id" not in api.get(f"/payments/orders/{created.json()['order_number']}").json()
