"""The billing pages' data (api/web/pages/billing_data.py) on both backends: tariffs, seasons and
billing runs read and written as the API does, refusals as form errors in Chinese and English,
roles refused before a form is read, and paging that shows every item once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from fastapi import BackgroundTasks, FastAPI
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from api import i18n
from api.messages import Language
from api.web import forms
from api.web.pages import billing_data as data
from application.authorization import SYSTEM, Principal, Role
from domain.billing import BillKind, EnergyBasis
from domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from domain.settlement import PositionCorrection, RoundingMode, SettlementPolicy
from domain.tariff import BilledArea, BrokenMeterMethod
from domain.values import CustomerClass, HorizontalPosition, VerticalPosition
from infrastructure.billing_runs import RunStatus
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi

ADMIN = Principal("web-admin", Role.ADMIN)
OTHER_ADMIN = Principal("web-admin-2", Role.ADMIN)
CLERK = Principal("web-clerk", Role.CLERK)
AUDITOR = Principal("web-auditor", Role.AUDITOR)
AFTER_SEASON = datetime.fromisoformat("2026-04-10T12:00:00+08:00")
BEFORE_SEASON_END = datetime.fromisoformat("2026-03-20T12:00:00+08:00")


def tariff_form(**changes: str) -> dict[str, str]:
    """The publication form as a browser posts it: text, blanks for what the clerk left empty."""
    return {
        "customer_class": "residential",
        "scope": "*",
        "area_price_yuan_per_m2": "21.6",
        "base_share_percent": "30",
        "energy_price_yuan_per_gj": "43.9",
        "policy": "refund_only",
        "cap_percent": "",
        "suspension_share_percent": "20",
        "effective_from": "2025-11-01",
        "effective_until": "",
        "document_number": "吴价发〔2025〕12号",
        "approved_on": "2025-09-15",
        "reason": "",
        **changes,
    }


def season_form(**changes: str) -> dict[str, str]:
    return {
        "scope": "*",
        "season": "2025-2026",
        "first_day": "2025-11-15",
        "last_day": "2026-03-15",
        "decree_number": "宁政办发〔2025〕88号",
        "reason": "the city's decree",
        **changes,
    }


@pytest.fixture
def after_season(app: FastAPI) -> Iterator[FrozenDateTimeFactory]:
    """The clock stopped ten days after the 2025-2026 season (the app is built first)."""
    with freeze_time(AFTER_SEASON, real_asyncio=True) as clock:
        yield clock


# -- tariffs ------------------------------------------------------------------------------------


def test_a_published_tariff_is_listed_searched_shown_and_prefills_the_next_version(container: Container) -> None:
    version = data.publish_tariff(container, ADMIN, tariff_form())
    assert (version.scope, version.version, version.published_by) == ("*", 1, "web-admin")
    assert version.reason == "tariff approved by the price bureau"
    data.publish_tariff(container, ADMIN, tariff_form(scope="碧桂园", document_number="碧价〔2025〕3号"))
    data.publish_tariff(container, ADMIN, tariff_form(effective_from="2026-11-01", area_price_yuan_per_m2="22.8"))

    summaries = data.tariff_summaries(container)
    assert [(item.scope, item.versions, item.latest.version) for item in summaries] == [("*", 2, 2), ("碧桂园", 1, 1)]
    assert summaries[0].latest.terms.area_price_yuan_per_m2 == Decimal("22.8")
    assert [item.scope for item in data.tariff_summaries(container, "碧价")] == ["碧桂园"]
    assert [item.scope for item in data.tariff_summaries(container, "吴价发")] == ["*"]
    assert data.tariff_summaries(container, "无此文件") == []

    versions = data.tariff_versions(container, CustomerClass.RESIDENTIAL, "*")
    assert [(item.version, str(item.effective_from)) for item in versions] == [(1, "2025-11-01"), (2, "2026-11-01")]
    with pytest.raises(NotFoundError):
        data.tariff_versions(container, CustomerClass.NON_RESIDENTIAL, "*")

    defaults = data.publication_defaults(container, "residential", "*")
    assert (defaults["area_price_yuan_per_m2"], defaults["policy"], defaults["cap_percent"]) == (
        "22.80",
        "refund_only",
        "",
    )
    assert defaults["suspension_share_percent"] == "20"
    assert data.publication_defaults(container, "non_residential", "碧桂园")["scope"] == "碧桂园"
    assert data.publication_defaults(container, "no_such_class", "*")["customer_class"] == "residential"


def test_a_tariffs_history_is_summarised_in_the_readers_language(container: Container) -> None:
    data.publish_tariff(container, ADMIN, tariff_form(reason="物价局批复"))

    chinese = data.tariff_history(container, AUDITOR, CustomerClass.RESIDENTIAL, "*", Language.ZH)
    english = data.tariff_history(container, AUDITOR, CustomerClass.RESIDENTIAL, "*", Language.EN)
    assert [row.actor for row in chinese] == ["web-admin"] * len(chinese)
    assert "物价局批复" in [row.reason for row in chinese]
    assert any("吴价发〔2025〕12号" in row.summary for row in chinese)
    assert [row.summary for row in chinese] != [row.summary for row in english]
    with pytest.raises(NotFoundError):
        data.tariff_history(container, AUDITOR, CustomerClass.RESIDENTIAL, "碧桂园", Language.ZH)


def test_a_tariff_form_is_refused_field_by_field_in_the_users_language(container: Container) -> None:
    with pytest.raises(ValidationError) as missing:
        data.publish_tariff(container, ADMIN, tariff_form(energy_price_yuan_per_gj="", approved_on="15/09/2025"))
    errors = forms.form_errors(missing.value, Language.ZH, data.TARIFF_FIELDS)
    assert errors.fields["energy_price_yuan_per_gj"] == "必须填写。"
    assert "approved_on" in errors.fields and not errors.general
    english = forms.form_errors(missing.value, Language.EN, data.TARIFF_FIELDS)
    assert english.fields["energy_price_yuan_per_gj"] == "This value is required."

    with pytest.raises(InvalidInputError) as negative:
        data.publish_tariff(container, ADMIN, tariff_form(energy_price_yuan_per_gj="-43.9"))
    refused = forms.form_errors(negative.value, Language.EN, data.TARIFF_FIELDS)
    assert refused.fields == {"energy_price_yuan_per_gj": "The energy price must not be negative."}

    data.publish_tariff(container, ADMIN, tariff_form())
    with pytest.raises(ConflictError) as overlapping:
        data.publish_tariff(container, ADMIN, tariff_form(effective_from="2025-10-01"))
    conflict = forms.form_errors(overlapping.value, Language.ZH, data.TARIFF_FIELDS)
    assert conflict.general and not conflict.fields
    assert [item.version for item in data.tariff_versions(container, CustomerClass.RESIDENTIAL, "*")] == [1]


def test_only_administrators_publish_even_with_a_form_that_would_be_refused(container: Container) -> None:
    for principal in (CLERK, AUDITOR):
        with pytest.raises(PermissionDeniedError):
            data.publish_tariff(container, principal, tariff_form())
        with pytest.raises(PermissionDeniedError):
            data.publish_tariff(container, principal, {"scope": ""})
    assert data.tariff_summaries(container) == []


# -- seasons ------------------------------------------------------------------------------------


def test_a_season_is_declared_extended_and_in_force_per_community(container: Container) -> None:
    declared = data.declare_season(container, ADMIN, season_form())
    assert (declared.scope, declared.days, declared.decree_number) == ("*", 121, "宁政办发〔2025〕88号")
    extension = {
        "first_day": "2025-11-15",
        "last_day": "2026-03-31",
        "decree_number": "宁政办发〔2026〕5号",
        "reason": "寒潮",
    }
    extended = data.extend_season(container, ADMIN, "*", "2025-2026", extension)
    assert [decree.kind for decree in extended.decrees] == ["declared", "extended"]

    assert [(item.scope, item.days) for item in data.season_records(container, "2025-2026")] == [("*", 137)]
    assert data.season_records(container, "2026-2027") == []
    assert data.season_record(container, "*", "2025-2026").last_day.isoformat() == "2026-03-31"
    in_force = data.season_in_force(container, "碧桂园", "2025-2026")
    assert (in_force.days, in_force.source) == (137, "city")
    assert data.season_in_force(container, "碧桂园", "2026-2027").source == "default"
    assert data.neighbouring_seasons("2025-2026") == ("2024-2025", "2026-2027")
    with pytest.raises(NotFoundError):
        data.season_record(container, "碧桂园", "2025-2026")


def test_season_forms_are_refused_as_the_api_refuses_them(container: Container) -> None:
    with pytest.raises(PermissionDeniedError):
        data.declare_season(container, CLERK, season_form())
    with pytest.raises(ValidationError) as blank:
        data.declare_season(container, ADMIN, season_form(decree_number="", reason=" "))
    assert set(forms.form_errors(blank.value, Language.ZH, data.SEASON_FIELDS).fields) == {"decree_number", "reason"}
    with pytest.raises(InvalidInputError) as wrong_code:
        data.declare_season(container, ADMIN, season_form(season="2026-2030"))
    assert "season" in forms.form_errors(wrong_code.value, Language.ZH, data.SEASON_FIELDS).fields

    data.declare_season(container, ADMIN, season_form())
    with pytest.raises(ConflictError) as again:
        data.declare_season(container, ADMIN, season_form())
    assert "extension" in forms.form_errors(again.value, Language.EN, data.SEASON_FIELDS).general[0]
    shorter = {"first_day": "2025-11-20", "last_day": "2026-03-15", "decree_number": "X", "reason": "r"}
    with pytest.raises(ConflictError):
        data.extend_season(container, OTHER_ADMIN, "*", "2025-2026", shorter)
    with pytest.raises(PermissionDeniedError):
        data.extend_season(container, AUDITOR, "*", "2025-2026", shorter)
    assert data.season_code_or_current(container, "2024-2025") == "2024-2025"
    with pytest.raises(InvalidInputError):
        data.season_code_or_current(container, "2024")


# -- billing runs -------------------------------------------------------------------------------


def run_form(**changes: str) -> dict[str, str]:
    return {"kind": "prepayment", "season": "2025-2026", "month": "", "community": "", "reason": "", **changes}


def submit_and_run(container: Container, principal: Principal, form: dict[str, str]) -> Any:
    """Submit as a page does, then run what the answer would have run after it was sent."""
    background = BackgroundTasks()
    submitted = data.submit_run(container, principal, form, Language.ZH, background)
    assert submitted.status == "queued"
    asyncio.run(background())
    return submitted


def test_a_run_submitted_from_the_form_runs_and_is_shown_with_its_progress(
    api: LedgerApi, container: Container, after_season: FrozenDateTimeFactory
) -> None:
    data.publish_tariff(container, ADMIN, tariff_form())
    for number in range(3):
        assert api.register_household(f"WZ-000{number}", flat=f"10{number}").status_code == 201
    assert data.run_defaults(container) == {"kind": "statement", "season": "2025-2026"}

    submitted = submit_and_run(container, CLERK, run_form(community="碧桂园"))
    view = data.run_view(container, submitted.run_id, Language.ZH)
    assert (view.run.status, view.finished, view.percent) == ("done", True, 100)
    assert (view.run.progress.done, view.run.progress.total) == (3, 3)
    assert view.run.summary is not None and view.run.summary.bills_issued == 3
    assert view.run.summary.charged_yuan == Decimal("98.50") * Decimal("21.6") * 3
    assert (view.run.submitted_by, view.run.reason, view.exceptions.total) == ("web-clerk", "billing run", 0)

    after_season.tick(60)  # runs are listed by when they were submitted: a minute later
    again = submit_and_run(container, CLERK, run_form(community="碧桂园", reason="再次预交"))
    listed = data.runs_page(container, Language.ZH, 1)
    assert [item.run_id for item in listed.items] == [again.run_id, submitted.run_id]
    assert listed.items[0].summary is not None and listed.items[0].summary.already_issued == 3
    with pytest.raises(NotFoundError):
        data.run_view(container, uuid4(), Language.ZH)


def test_a_run_form_is_refused_before_the_run_is_recorded(
    api: LedgerApi, container: Container, after_season: FrozenDateTimeFactory
) -> None:
    with pytest.raises(PermissionDeniedError):
        submit_and_run(container, AUDITOR, run_form())
    with pytest.raises(ValidationError) as wrong:
        submit_and_run(container, CLERK, run_form(kind="refund", month="December"))
    assert set(forms.form_errors(wrong.value, Language.ZH, data.RUN_FIELDS).fields) == {"kind", "month"}
    after_season.move_to(BEFORE_SEASON_END)
    with pytest.raises(InvalidInputError) as early:
        submit_and_run(container, CLERK, run_form(kind="settlement"))
    message = forms.form_errors(early.value, Language.EN, data.RUN_FIELDS)
    assert message and "season" in " ".join([*message.fields.values(), *message.general]).lower()
    assert data.runs_page(container, Language.ZH, 1).total == 0


def test_a_run_lists_the_households_it_could_not_bill_and_a_failed_run_says_why(
    api: LedgerApi, container: Container, after_season: FrozenDateTimeFactory
) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    failed = data.run_view(container, submit_and_run(container, CLERK, run_form()).run_id, Language.EN)
    assert (failed.run.status, failed.finished, failed.percent) == ("failed", True, 0)
    assert failed.run.error is not None and failed.run.error.code == "season_without_tariff"
    assert "WZ-0001" in failed.run.error.detail

    data.publish_tariff(container, ADMIN, tariff_form())
    assert api.register_household("WZ-0002", flat="102").status_code == 201
    container.ledger.deregister_household(SYSTEM, "WZ-0001", date(2026, 2, 1), "拆网")
    submit_and_run(container, CLERK, run_form())
    february = submit_and_run(container, CLERK, run_form(kind="statement", month="2026-02"))
    view = data.run_view(container, february.run_id, Language.ZH)
    assert view.run.status == "done" and view.run.summary is not None
    assert [(item.account_number, item.message_key) for item in view.exceptions.items] == [
        ("WZ-0001", "month_outside_period")
    ]
    assert view.exceptions.items[0].message != view.exceptions.items[0].message_key


# -- paging -------------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=260), st.integers(min_value=1, max_value=60))
def test_pages_show_every_item_once_in_order(count: int, page_size: int) -> None:
    items = list(range(count))
    first = data.page_of(items, 1, page_size)
    shown = [item for number in range(1, first.pages + 1) for item in data.page_of(items, number, page_size).items]
    assert shown == items
    assert all(len(data.page_of(items, number, page_size).items) <= page_size for number in range(1, first.pages + 1))
    assert data.page_of(items, first.pages + 5, page_size).page == first.pages
    assert data.page_of(items, -3, page_size).page == 1
    assert first.has_previous is False and first.has_next is (count > page_size)


# -- names ----------------------------------------------------------------------------------------


def test_every_code_the_billing_pages_show_has_a_name_in_both_languages() -> None:
    """The templates name codes by key (``web.billing.policy.`` + the policy); the catalogue test
    sees literal keys only, so the codes' keys are checked here, member by member."""
    codes = {
        "class": CustomerClass,
        "policy": SettlementPolicy,
        "position_correction": PositionCorrection,
        "rounding": RoundingMode,
        "billed_area": BilledArea,
        "broken_meter_method": BrokenMeterMethod,
        "kind": BillKind,
        "status": RunStatus,
        "basis": [*EnergyBasis, "area"],
        "vertical": VerticalPosition,
        "horizontal": HorizontalPosition,
        "season_source": ["community", "city", "default"],
        "decree_kind": ["declared", "extended"],
    }
    missing = [
        f"web.billing.{prefix}.{code!s}"
        for prefix, members in codes.items()
        for code in members
        for language in Language
        if i18n.text(f"web.billing.{prefix}.{code!s}", language) is None
    ]
    assert missing == []
