"""The casework pages' data (disputes, scenarios, audit) on both backends, made through the API
and read back through the page-data modules: each answers what the API answers the same reader.

WZ-0001 (tests/e2e/test_api_billing.py): 98.50 m², settled 163.54 元 back after the 2025-2026
season; its last reading corrected 0.1 GJ down gives 4.39 元 more back (test_api_disputes.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from fastapi import BackgroundTasks, Response
from pydantic import ValidationError
from starlette.requests import Request

from api import i18n
from api.messages import Language
from api.routers.history import HistoryFormat
from api.schemas.history import HistoryPage
from api.schemas.scenarios import ScenarioOutput
from api.web.pages import audit_data, casework_forms, disputes, disputes_data, scenarios, scenarios_data
from api.web.pages.casework_forms import dispute_input, scenario_submission
from application.authorization import Principal, Role
from application.dispute_letters import LetterSkip
from application.history import event_classes
from domain.billing import BillKind
from domain.day_split import business_day
from domain.dispute import Dispute, DisputeCategory, DisputeChannel, DisputeState, SubjectKind
from domain.dispute_service_levels import ServiceClock
from domain.errors import NotFoundError, PermissionDeniedError
from domain.scenario import PRICE_FIELDS
from domain.settlement import SettlementPolicy
from domain.values import CustomerClass
from infrastructure.container import Container
from infrastructure.scenarios import ScenarioStatus, TotalsLevel
from projections.dispute_handlers import step_kind
from projections.dispute_queries import DisputeFilter
from projections.dispute_service_levels import OverdueFilter
from tests.e2e.conftest import LedgerApi
from tests.e2e.test_api_bill_replays import settled
from tests.e2e.test_api_billing import SEASON, Clock, after_season
from tests.e2e.test_api_disputes import correct_last_reading, dispute_body, service

__all__ = ["after_season"]  # the fixture, imported for these tests

CLERK = Principal("web-clerk", Role.CLERK)
AUDITOR = Principal("web-auditor", Role.AUDITOR)
REGULATOR = Principal("web-regulator", Role.REGULATOR)


def container_of(api: LedgerApi) -> Container:
    container: Container = api.client.app.state.container  # type: ignore[attr-defined]
    return container


def now_of(container: Container) -> datetime:
    return container.ledger.clock()


def page_request(path: str = "/ui/audit/history") -> Request:
    return Request({"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""})


def opened_dispute(api: LedgerApi, **changes: Any) -> str:
    response = api.client.post("/disputes", json=dispute_body(**changes), headers=service(api))
    assert response.status_code == 201, response.text
    dispute_id: str = response.json()["dispute_id"]
    return dispute_id


# -- disputes ------------------------------------------------------------------------------------


def test_a_dispute_list_marks_the_overdue_and_pages_like_the_api(api: LedgerApi, after_season: Clock) -> None:
    settlement = settled(api)
    container = container_of(api)
    first = opened_dispute(api)
    second = opened_dispute(
        api,
        reference="KF-0416-02",
        subject={"kind": "bill", "bill_id": settlement["bill_id"]},
        category="area_wrong",
    )
    step = {"kind": "household_note", "message": "已受理", "channel": "phone"}
    assert api.client.post(f"/disputes/{second}/steps", json=step, headers=service(api)).status_code == 201
    after_season.tick(timedelta(hours=25))  # past the 24 h first-response target
    now = now_of(container)
    today = business_day(now)

    listed = disputes_data.dispute_list(container, DisputeFilter(open_only=True), 1, today, now)
    api_page = api.get("/disputes", open="true").json()

    assert [str(row.record.dispute_id) for row in listed.rows] == [item["dispute_id"] for item in api_page["items"]]
    assert [row.age_days for row in listed.rows] == [item["age_days"] for item in api_page["items"]]
    overdue = {str(row.record.dispute_id): row.overdue for row in listed.rows}
    assert overdue == {first: ("first_response",), second: ()}
    on_the_api = api.get("/disputes/overdue", kind="first_response").json()["items"]
    assert [item["dispute_id"] for item in on_the_api] == [first]
    assert (listed.paging.total, listed.paging.pages, listed.paging.has_next) == (2, 1, False)

    late = disputes_data.overdue_list(container, ServiceClock.FIRST_RESPONSE, OverdueFilter(), 1, now)
    assert [str(item.dispute_id) for item in late.items] == [first] and late.paging.total == 1

    after_season.tick(timedelta(days=15))  # past the 15-day resolution target as well
    now = now_of(container)
    listed = disputes_data.dispute_list(container, DisputeFilter(category="area_wrong"), 1, business_day(now), now)
    assert [row.overdue for row in listed.rows] == [("resolution",)]


def test_a_dispute_view_has_its_steps_bills_meters_and_actions(api: LedgerApi, after_season: Clock) -> None:
    settlement = settled(api)
    container = container_of(api)
    correction = correct_last_reading(api)
    dispute_id = UUID(opened_dispute(api))
    for body in (
        {"kind": "reading_corrected", "meter_serial": "HM-1", "measured_at": "2026-04-01T00:00:00+08:00"}
        | {"correction_correlation_id": correction},
        {"kind": "recompute", "bill_id": settlement["bill_id"]},
    ):
        assert api.client.post(f"/disputes/{dispute_id}/steps", json=body, headers=service(api)).status_code == 201
    now = now_of(container)

    view = disputes_data.dispute_view(container, dispute_id, business_day(now), now)

    assert [step.record.kind for step in view.steps] == ["opened", "reading_corrected", "recompute_attached"]
    recompute = {field.name: field.value for field in view.steps[-1].fields}
    assert recompute["difference_yuan"] == Decimal("-4.39") and recompute["bill_number"] == settlement["number"]
    opening = {field.name: (field.value, field.format) for field in view.steps[0].fields}
    assert opening["disputed_amount_yuan"] == (Decimal("4.39"), "money") and opening["category"][1] == "code"
    assert settlement["bill_id"] in {str(bill.bill_id) for bill in view.bills}
    assert view.meter_serials == ["HM-1"]
    assert (view.investigable, view.awaiting_approval, view.has_letter) == (True, False, False)

    resolution = {"outcome": "rejected", "reason": "the display shows 130.2 GJ"}
    assert api.client.post(f"/disputes/{dispute_id}/resolution", json=resolution, headers=service(api)).is_success
    closed = disputes_data.dispute_view(container, dispute_id, business_day(now), now)
    assert (closed.investigable, closed.has_letter, closed.row.overdue) == (False, True, ())
    with pytest.raises(NotFoundError):
        disputes_data.dispute_view(container, UUID(int=7), business_day(now), now)


def test_the_service_level_view_and_its_chart(api: LedgerApi, after_season: Clock) -> None:
    settled(api)
    container = container_of(api)
    opened_dispute(api)
    now = now_of(container)
    labels = {"first_response": "首次响应", "resolution": "办结"}

    view = disputes_data.service_level_view(container, date(2026, 4, 1), date(2026, 4, 30), now, labels)

    assert (view.report.total.opened, view.report.total.still_open) == (1, 1)
    assert view.chart["xAxis"]["data"] == ["2026-04"]
    assert [series["name"] for series in view.chart["series"]] == ["首次响应", "办结"]
    assert [series["data"] for series in view.chart["series"]] == [[None], [None]]  # pending: none judged yet


def test_a_moment_typed_without_its_zone_is_beijing_time() -> None:
    assert audit_data.known_at_moment("2026-04-10T12:00") == datetime(2026, 4, 10, 4, 0, tzinfo=UTC)
    assert audit_data.known_at_moment("2026-04-10T12:00:00Z") == datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
    with pytest.raises(ValidationError):
        audit_data.known_at_moment("yesterday")


def test_the_opening_form_reads_into_the_apis_body() -> None:
    form = {
        "account_number": " WZ-0001 ",
        "subject_kind": "reading",
        "subject_meter_serial": "HM-1",
        "subject_measured_at": "2026-04-01T00:00",  # a datetime-local field: Beijing time
        "subject_bill_id": "",
        "category": "reading_wrong",
        "description": "表上显示 130.1 GJ",
        "disputed_amount_yuan": "4.39",
        "channel": "counter",
        "reference": "",
    }
    body = dispute_input(form)
    assert body.subject.measured_at == datetime.fromisoformat("2026-04-01T00:00:00+08:00")
    assert (body.account_number, body.subject.bill_id, body.reference) == ("WZ-0001", None, None)


# -- scenarios ------------------------------------------------------------------------------------


def test_a_scenario_submitted_through_the_page_data_reads_back_like_the_api(
    api: LedgerApi, after_season: Clock
) -> None:
    settled(api)
    container = container_of(api)

    form = {
        "season": SEASON,
        "title": "能量价测算",
        "community": "",
        "variant1_label": "能量价 50",
        "variant1_from_actual": "on",
        "variant1_energy_price_yuan_per_gj": "50",
        "variant2_label": "多退少补 50",
        "variant2_from_actual": "on",
        "variant2_energy_price_yuan_per_gj": "50",
        "variant2_policy": "both_ways",
        "variant3_label": "",
    }
    background = BackgroundTasks()
    with pytest.raises(PermissionDeniedError):
        scenarios_data.submit(
            container, AUDITOR, scenario_submission(form), date(2026, 4, 10), Language.ZH, BackgroundTasks()
        )
    queued = scenarios_data.submit(
        container, REGULATOR, scenario_submission(form), date(2026, 4, 10), Language.ZH, background
    )
    assert queued.status == "queued" and scenarios_data.is_unfinished(queued)
    for task in background.tasks:  # what the response does once it is sent
        task.func(*task.args, **task.kwargs)

    found = scenarios_data.scenario(container, queued.scenario_id, Language.ZH)
    assert found.model_dump() == scenario_api(api, queued.scenario_id)
    assert (found.status, scenarios_data.progress_percent(found)) == ("done", 100)
    chart = scenarios_data.bands_chart(found, "yuan", "按金额")
    assert [series["name"] for series in chart["series"]] == ["能量价 50", "多退少补 50"]
    both_ways = dict(zip(chart["xAxis"]["data"], chart["series"][1]["data"], strict=True))
    assert both_ways["100…200"] == 1 and sum(both_ways.values()) == 1

    page = scenarios_data.households(container, queued.scenario_id, None, None, 1)
    assert [(row.variant, row.due_yuan) for row in page.items] == [
        (0, Decimal("1964.06")),
        (1, Decimal("2127.60")),  # refund-only: capped at the area fee
        (2, Decimal("2148.28")),
    ]
    assert (page.has_previous, page.has_next) == (False, False)
    [building] = scenarios_data.grouped_totals(container, queued.scenario_id, TotalsLevel.BUILDING)
    assert building.name == "碧桂园 1" and [column.label for column in building.columns] == [
        "actual",
        "能量价 50",
        "多退少补 50",
    ]
    assert [item.scenario_id for item in scenarios_data.recent_scenarios(container, Language.EN)] == [
        queued.scenario_id
    ]


def scenario_api(api: LedgerApi, scenario_id: UUID) -> dict[str, Any]:
    answer = api.get(f"/scenarios/{scenario_id}", role=Role.REGULATOR)
    return ScenarioOutput.model_validate(answer.json()).model_dump()


# -- audit ---------------------------------------------------------------------------------------


def test_histories_are_the_apis_pages_and_csv(api: LedgerApi, after_season: Clock) -> None:
    settlement = settled(api)
    container = container_of(api)

    asked = audit_data.HistoryAsked(audit_data.RecordKind.HOUSEHOLD, "WZ-0001")
    page = audit_data.read_history(container, AUDITOR, asked, Language.ZH, page_request())
    assert isinstance(page, HistoryPage)
    on_the_api = api.get("/households/WZ-0001/history", role=Role.AUDITOR, limit="50").json()
    assert [item.summary for item in page.items] == [item["summary"] for item in on_the_api["items"]]
    assert page.items[0].event_type == "Registered"

    bill = audit_data.HistoryAsked(audit_data.RecordKind.BILL, settlement["bill_id"], event_types=("BillIssued",))
    found = audit_data.read_history(container, AUDITOR, bill, Language.EN, page_request())
    assert isinstance(found, HistoryPage) and [item.event_type for item in found.items] == ["BillIssued"]
    tariff = audit_data.HistoryAsked(audit_data.RecordKind.TARIFF, "residential/*")
    versions = audit_data.read_history(container, AUDITOR, tariff, Language.ZH, page_request())
    assert isinstance(versions, HistoryPage) and versions.items

    csv = audit_data.read_history(container, AUDITOR, asked, Language.ZH, page_request(), HistoryFormat.CSV)
    assert isinstance(csv, Response) and csv.media_type is not None and csv.media_type.startswith("text/csv")

    for kind, key in ((audit_data.RecordKind.BILL, "not-an-id"), (audit_data.RecordKind.TARIFF, "nobody/*")):
        with pytest.raises(NotFoundError):
            audit_data.read_history(container, AUDITOR, audit_data.HistoryAsked(kind, key), Language.ZH, page_request())


def test_a_bill_replayed_and_recomputed_with_its_cause(api: LedgerApi, after_season: Clock) -> None:
    settlement = settled(api)
    container = container_of(api)
    correct_last_reading(api)

    audit = audit_data.bill_audit(container, AUDITOR, UUID(settlement["bill_id"]))

    assert audit.replay.matches is True and audit.bill.number == settlement["number"]
    assert audit.recompute.difference_yuan == Decimal("-4.39") and len(audit.recompute.causes) == 1
    assert [bill.number for bill in audit_data.bills_to_audit(container, AUDITOR, "WZ-0001")][:1] == [
        settlement["number"]
    ]
    with pytest.raises(NotFoundError):
        audit_data.bill_audit(container, AUDITOR, UUID(int=1))


def test_a_balance_as_known_before_a_payment_differs_from_the_live_one(api: LedgerApi, after_season: Clock) -> None:
    settled(api)
    container = container_of(api)
    before_payment = now_of(container)
    after_season.tick(60)
    payment = {"amount_yuan": "100.00", "channel": "cash", "receipt_number": "R-0001"}
    response = api.client.post("/households/WZ-0001/payments", json=payment, headers=api.clerk())
    assert response.status_code == 201, response.text
    day = business_day(now_of(container))

    known = audit_data.known_balance(container, AUDITOR, "WZ-0001", before_payment, day)

    assert known.live.balance.balance_yuan == known.known.balance.balance_yuan - Decimal("100.00")
    assert known.differs and known.live.known_at is None and known.known.position
    on_the_api = api.get("/households/WZ-0001/balance", role=Role.AUDITOR, known_at=before_payment.isoformat()).json()
    assert Decimal(on_the_api["balance_yuan"]) == known.known.balance.balance_yuan
    with pytest.raises(NotFoundError):
        audit_data.known_balance(container, AUDITOR, "NOBODY", before_payment, day)


# -- the catalogue has every key the pages make from a value ----------------------------------------


def test_every_label_the_casework_pages_make_from_a_value_is_in_both_languages() -> None:
    """The templates name some messages by a value (``"web.disputes.state." ~ state``): the
    catalogue test sees only literal keys, so this one lists each value's key."""
    keys = [f"web.disputes.state.{state.value}" for state in DisputeState]
    keys += [f"web.disputes.category.{category.value}" for category in DisputeCategory]
    keys += [f"web.disputes.channel.{channel.value}" for channel in DisputeChannel]
    keys += [f"web.disputes.subject.{kind.value}" for kind in SubjectKind]
    keys += [f"web.disputes.bill_kind.{kind.value}" for kind in BillKind]
    keys += [f"web.disputes.step.{step_kind(object.__new__(event))}" for event in event_classes(Dispute).values()]
    keys += [f"web.disputes.field.{name}" for fields in disputes_data.STEP_FIELDS.values() for name, _ in fields]
    keys += [f"web.disputes.{name}.{value}" for name, value in _coded_step_values()]
    keys += [f"web.disputes.clock.{clock.value}" for clock in ServiceClock]
    keys += [f"web.disputes.overdue.{clock.value}" for clock in ServiceClock]
    keys += [f"web.disputes.overdue.hint.{clock.value}" for clock in ServiceClock]
    keys += [f"web.disputes.letter.skip.{skip.value}" for skip in LetterSkip]
    keys += [f"web.disputes.done.{done}" for done in disputes._DONE]
    keys += [f"web.disputes.step_form.{kind}" for kind in casework_forms._STEP_KINDS]
    keys += [f"web.scenarios.status.{status.value}" for status in ScenarioStatus]
    keys += [f"web.scenarios.class.{customer_class.value}" for customer_class in CustomerClass]
    keys += [f"web.scenarios.policy.{policy.value}" for policy in SettlementPolicy]
    keys += [f"web.scenarios.level.{level.value}" for level in scenarios.GROUP_LEVELS]
    keys += [f"web.scenarios.field.{name}" for name in PRICE_FIELDS]
    keys += [f"web.audit.kind.{kind.value}" for kind in audit_data.RecordKind]
    keys += [f"web.audit.known.field.{name}" for name in ("account", "known_at", "day")]
    missing = {language.value: [key for key in keys if i18n.text(key, language) is None] for language in i18n.Language}
    assert missing == {"zh": [], "en": []}


def _coded_step_values() -> list[tuple[str, str]]:
    """The step details shown as a code (a category, a channel, an outcome) with each value."""
    values = {
        "category": [category.value for category in DisputeCategory],
        "channel": [channel.value for channel in DisputeChannel],
        "outcome": ["upheld", "partly", "rejected"],
    }
    coded = {name for fields in disputes_data.STEP_FIELDS.values() for name, kind in fields if kind == "code"}
    assert coded == set(values), "every coded detail has its values listed here"
    return [(name, value) for name in sorted(coded) for value in values[name]]
