"""The source's Country Garden case (domain.md §8) built through the API, on both backends: two
communities with the table's areas and heat, the company average 0.4 GJ/m², heat bought at
21 元/GJ, a season prepaid and settled; and the substation 碧桂园 shares with 长河湾.

碧桂园: 252 households on 34,326.97 m² connected (136.21 m² each, 205 of them 0.01 m² more) and
23,262.14 m² heated; 172 of them use 30 GJ, 80 use 40.3875 GJ: 8,391 GJ. The tariff (14.71 元/m²,
base part 30 %, 44.63 元/GJ, 多退少补) makes 30 GJ cheaper than the area fee and 40.3875 GJ dearer:
172 households (68.25 %) pay less and 80 (31.75 %) more, as in the source.
阅水秦韵: 50 households on 37,451.42 m² and 29,615.92 m², 13,594.865 GJ.
长河湾: ten households with 237.97 GJ each (2,379.7 GJ), so the substation's household meters total 10,770.7 GJ
against its own 11,301.7 GJ: 531 GJ lost, 4.7 %.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from freezegun import freeze_time
from starlette.testclient import TestClient

from api.app import create_app
from application.authorization import Role
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Settings
from tests.conftest import empty_sqlite_settings, postgres_settings
from tests.e2e.conftest import LedgerApi, Tokens, assert_problem, empty_app
from tests.services import _create_database, _drop_database

SEASON = "2025-2026"
AFTER_SEASON = datetime.fromisoformat("2026-04-10T12:00:00+08:00")
START, END = "2025-11-01T00:00:00+08:00", "2026-04-01T00:00:00+08:00"


@pytest.fixture
def after_season(app: FastAPI) -> Iterator[None]:
    """The clock frozen after the season, the app made first (the web reports' tests use it)."""
    with freeze_time(AFTER_SEASON, real_asyncio=True):
        yield


def spread(total: Decimal, count: int) -> list[Decimal]:
    """``count`` areas of 0.01 m² that sum to ``total`` exactly."""
    base = (total / count).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    extra = int((total - base * count) / Decimal("0.01"))
    return [base + (Decimal("0.01") if index < extra else 0) for index in range(count)]


def community(api: LedgerApi, name: str, prefix: str, connected: str, heated: str, energies: list[Decimal]) -> None:
    """Households with meters read at the season's first and last midnight."""
    count = len(energies)
    readings = []
    for index, (area, heated_area, energy) in enumerate(
        zip(spread(Decimal(connected), count), spread(Decimal(heated), count), energies, strict=True)
    ):
        account, serial = f"{prefix}-{index:04d}", f"{prefix}-M{index:04d}"
        response = api.register_household(
            account,
            community=name,
            building=str(index // 24 + 1),
            flat=f"{index % 24 + 101}",
            connected_area_m2=str(area),
            heated_area_m2=str(heated_area),
        )
        assert response.status_code == 201, response.text
        assert api.commission_meter(serial).status_code == 201
        assert api.attach_meter(account, serial).status_code == 200
        readings += [
            {"meter_serial": serial, "measured_at": START, "energy_gj": "100", "source": "mbus"},
            {"meter_serial": serial, "measured_at": END, "energy_gj": str(100 + energy), "source": "mbus"},
        ]
    response = api.submit(readings)
    assert response.status_code == 200 and response.json()["accepted"] == len(readings), response.text


def admin_post(api: LedgerApi, path: str, body: dict[str, Any], role: Role = Role.ADMIN) -> Any:
    return api.client.post(path, json=body, headers=api.tokens.headers(role))


def setting(api: LedgerApi, name: str, value: str, heat_source: str = "", role: Role = Role.ADMIN) -> Any:
    body = {"setting": name, "value": value, "effective_on": "2025-11-01", "reason": "board figures"}
    return admin_post(api, f"/reports/settings/{SEASON}", body | {"heat_source": heat_source}, role)


def build_case(api: LedgerApi) -> None:
    community(api, "碧桂园", "BGY", "34326.97", "23262.14", [Decimal(30)] * 172 + [Decimal("40.3875")] * 80)
    community(api, "阅水秦韵", "YSQY", "37451.42", "29615.92", [Decimal("271.8973")] * 50)
    community(api, "长河湾", "CHW", "1200.00", "1000.00", [Decimal("237.97")] * 10)
    substation_meter = {"community": "碧桂园", "building": "站1", "kind": "substation_primary"}
    assert api.commission_meter("S-1", **substation_meter).status_code == 201
    readings = [
        {"meter_serial": "S-1", "measured_at": START, "energy_gj": "5000", "source": "mbus"},
        {"meter_serial": "S-1", "measured_at": END, "energy_gj": "16301.7", "source": "mbus"},
    ]
    assert api.submit(readings).status_code == 200
    tariff = {
        "customer_class": "residential",
        "scope": "*",
        "area_price_yuan_per_m2": "14.71",
        "base_share_percent": "30",
        "energy_price_yuan_per_gj": "44.63",
        "policy": "both_ways",
        "effective_from": "2025-11-01",
        "document_number": "吴价发〔2025〕12号",
        "approved_on": "2025-09-15",
        "reason": "price bureau approval",
    }
    assert admin_post(api, "/tariffs", tariff).status_code == 201
    for kind in ("prepayment", "settlement"):
        response = api.client.post(
            "/billing/runs", json={"kind": kind, "season": SEASON}, headers=api.tokens.headers(Role.CLERK)
        )
        assert response.status_code == 202, response.text
        assert api.get(response.headers["Location"]).json()["status"] == "done"


# -- the case, built through the API once per backend and copied for each test that reads it ----------
#
# Building it is ~940 requests (312 households, each registered, with a meter commissioned and
# attached; their readings; the tariff; two billing runs): 7-13 s a backend. Both tests that read
# it built it afresh; now the first to ask builds it (the same requests, under the same frozen
# clock) in a store of its own, and each test runs on a copy of that store: the SQLite files
# copied, a PostgreSQL database created from it as a template (CREATE DATABASE ... TEMPLATE). A
# copy holds every event and read-model row the requests wrote; the test's own writes (settings,
# a substation) go to its copy only.


@pytest.fixture(scope="module")
def case_stores() -> Iterator[dict[Backend, Settings]]:
    """The case's store per backend, built on first use (``case_store``); dropped at the end."""
    built: dict[Backend, Settings] = {}
    yield built
    if Backend.POSTGRES in built:
        _drop_database(built[Backend.POSTGRES].postgres_dbname)


def _built_case_store(settings: Settings) -> None:
    """``build_case`` through the API over a new store of ``settings``, after the season (as the
    tests ran it); every connection closed, so the store may be copied."""
    container = bootstrap(settings)
    app = create_app(container)  # before freezing: FastAPI reads the routes' signatures (e2e conftest)
    try:
        with freeze_time(AFTER_SEASON, real_asyncio=True), TestClient(app) as client:
            build_case(LedgerApi(client, Tokens(container)))
    finally:
        empty_app(app)
        container.close()


@pytest.fixture
def case_store(
    backend_settings: Settings,
    case_stores: dict[Backend, Settings],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    migrated_sqlite_template: Path,
) -> Iterator[Settings]:
    """Settings of a copy of the case's store on the test's backend."""
    backend = backend_settings.backend
    if backend not in case_stores:
        if backend is Backend.SQLITE:
            folder = tmp_path_factory.mktemp("country-garden-case")
            template = empty_sqlite_settings(migrated_sqlite_template, folder)
        else:
            template = postgres_settings(_create_database())
        _built_case_store(template)
        case_stores[backend] = template
    template = case_stores[backend]
    if backend is Backend.SQLITE:
        yield empty_sqlite_settings(template.data_dir, tmp_path)  # copies every file of the folder
        return
    copy = _create_database(template.postgres_dbname)
    yield postgres_settings(copy)
    _drop_database(copy)


@pytest.fixture
def case_api(case_store: Settings) -> Iterator[LedgerApi]:
    """The API over a copy of the case's store, the clock standing after the season (the app
    built before the clock is frozen, as the ``app`` fixture is)."""
    container: Container = bootstrap(case_store)
    app = create_app(container)
    try:
        with freeze_time(AFTER_SEASON, real_asyncio=True), TestClient(app) as client:
            yield LedgerApi(client, Tokens(container))
    finally:
        empty_app(app)
        container.close()


def test_the_country_garden_case_through_the_api(case_api: LedgerApi) -> None:
    api = case_api
    assert setting(api, "average_unit_consumption_gj_per_m2", "0.4").status_code == 200
    assert setting(api, "purchase_price_yuan_per_gj", "21", heat_source="*").status_code == 200

    report = api.get(f"/reports/places/{SEASON}", role=Role.REGULATOR)
    assert report.status_code == 200, report.text
    rows = {item["key"][0]: item for item in report.json()["items"]}
    garden, other = rows["碧桂园"], rows["阅水秦韵"]
    assert (garden["households"], garden["connected_area_m2"], garden["heated_area_m2"]) == (
        252,
        "34326.97",
        "23262.14",
    )
    assert Decimal(garden["energy_gj"]) == Decimal(8391)
    assert garden["unit_consumption_connected_gj_per_m2"] == "0.244"
    assert Decimal(garden["unit_consumption_heated_gj_per_m2"]).quantize(Decimal("0.01")) == Decimal("0.36")
    assert other["unit_consumption_connected_gj_per_m2"] == "0.363"
    assert Decimal(garden["saving"]["saved_gj"]) == Decimal("5339.788")
    assert garden["saving"]["connectable_area_m2"] == "13349.47"
    metered, area = garden["metered"], garden["area_based"]
    assert (metered["purchase_cost_yuan"], area["purchase_cost_yuan"]) == ("176211.00", "288346.55")
    assert Decimal(area["purchased_energy_gj"]) == Decimal("13730.788")
    assert (metered["margin_percent"], area["margin_percent"]) == ("66.5", "42.9")
    assert Decimal(metered["profit_yuan"]) == Decimal(metered["receivable_yuan"]) - Decimal("176211")
    fees = garden["fees"]
    assert (fees["paying_less"], fees["paying_more"]) == (172, 80)
    assert (fees["paying_less_percent"], fees["paying_more_percent"]) == ("68.25", "31.75")
    # Buildings add up to their community, communities to the city.
    buildings = api.get(f"/reports/places/{SEASON}", grouping="building").json()
    garden_buildings = [item for item in buildings["items"] if item["key"][0] == "碧桂园"]
    assert sum(Decimal(item["energy_gj"]) for item in garden_buildings) == Decimal(garden["energy_gj"])
    assert sum(Decimal(item["connected_area_m2"]) for item in garden_buildings) == Decimal("34326.97")
    city = report.json()["total"]
    assert Decimal(city["energy_gj"]) == sum(Decimal(item["energy_gj"]) for item in rows.values())
    assert Decimal(city["metered"]["receivable_yuan"]) == sum(
        Decimal(item["metered"]["receivable_yuan"]) for item in rows.values()
    )


def test_the_shared_substation_loses_531_gj(case_api: LedgerApi) -> None:
    api = case_api
    assert setting(api, "loss_threshold_percent", "4.5").status_code == 200
    body = {
        "name": "站1",
        "effective_on": "2025-10-01",
        "heat_source": "一号热源",
        "meter_serial": "S-1",
        "feeds": [{"community": "碧桂园"}, {"community": "长河湾"}],
        "reason": "network map",
    }
    assert_problem(admin_post(api, "/reports/substations", body, role=Role.REGULATOR), 403, "permission_denied")
    created = api.client.post("/reports/substations", json=body, headers=api.clerk())
    assert created.status_code == 201, created.text
    assert_problem(api.client.post("/reports/substations", json=body, headers=api.clerk()), 409, "conflict")

    report = api.get(f"/reports/heat-loss/{SEASON}", role=Role.AUDITOR, daily="true").json()
    [station] = [item for item in report["items"] if item["kind"] == "substation"]
    assert Decimal(station["season"]["fed_energy_gj"]) == Decimal("11301.7")
    assert Decimal(station["season"]["delivered_energy_gj"]) == Decimal("10770.7")
    assert Decimal(station["season"]["loss_gj"]) == Decimal(531)
    assert (station["season"]["loss_percent"], station["season"]["flagged"]) == ("4.7", True)
    assert len(station["days"]) == 151
    assert sum(Decimal(day["loss_gj"]) for day in station["days"]) == Decimal(531)

    # Every flat of the case sits bottom/west_end: one position, its coefficient the table's.
    fairness = api.get(f"/reports/position-fairness/{SEASON}", role=Role.REGULATOR).json()
    [position] = fairness["positions"]
    assert (position["position"], position["flats"]) == ("bottom/west_end", 312)
    assert position["suggested_coefficient"] == position["table_coefficient"] == "1.150"
    collection = api.get(f"/reports/collection/{SEASON}").json()
    places = {item["community"]: item for item in collection["communities"]}
    assert collection["previous_season"] == "2024-2025"
    assert places["碧桂园"]["season"]["households"] == 252 and places["碧桂园"]["previous_season"] is None
    assert places["碧桂园"]["season"]["rate_percent"] is not None

    csv = api.get(f"/reports/heat-loss/{SEASON}/export", format="csv")
    assert csv.status_code == 200 and "损失率 %" in csv.content.decode("utf-8-sig")
    xlsx = api.get(f"/reports/places/{SEASON}/export", format="xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_settings_are_set_by_administrators_with_a_reason(api: LedgerApi) -> None:
    denied = assert_problem(
        setting(api, "average_unit_consumption_gj_per_m2", "0.4", role=Role.CLERK), 403, "permission_denied"
    )
    assert denied["params"]["permission"] == "manage_tariffs"
    assert_problem(setting(api, "average_unit_consumption_gj_per_m2", "0"), 422, "invalid_input")
    assert_problem(setting(api, "loss_threshold_percent", "5", heat_source="x"), 422, "invalid_input")
    assert_problem(api.get(f"/reports/settings/{SEASON}"), 404, "not_found")
    assert setting(api, "average_unit_consumption_gj_per_m2", "0.4").status_code == 200
    assert setting(api, "average_unit_consumption_gj_per_m2", "0.38").status_code == 200
    records = api.get(f"/reports/settings/{SEASON}", role=Role.AUDITOR).json()["records"]
    assert [(record["value"], record["recorded_by"]) for record in records] == [
        ("0.4", "e2e-admin"),
        ("0.38", "e2e-admin"),
    ]
