"""Apps of one process share their analysed routers (api/shared_routes.py), and each still
answers over its own container."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from api.app import create_app
from application.authorization import Role
from infrastructure.container import Container, bootstrap
from tests.conftest import empty_sqlite_settings
from tests.e2e.conftest import LedgerApi, TestClient, Tokens


@pytest.fixture
def other_container(tmp_path: Path, migrated_sqlite_template: Path) -> Iterator[Container]:
    folder = tmp_path / "other"
    folder.mkdir()
    built = bootstrap(empty_sqlite_settings(migrated_sqlite_template, folder))
    yield built
    built.close()


def _included_routes(app: FastAPI) -> list[object]:
    return [route for route in app.router.routes if hasattr(route, "original_router")]


def test_a_second_app_reuses_the_first_apps_analysed_routers(app: FastAPI, other_container: Container) -> None:
    second = create_app(other_container)
    first_routes, second_routes = _included_routes(app), _included_routes(second)
    assert len(first_routes) > 20
    assert [id(route) for route in second_routes] == [id(route) for route in first_routes]


def test_each_app_answers_over_its_own_container(app: FastAPI, tokens: Tokens, other_container: Container) -> None:
    other_tokens = Tokens(other_container)
    with TestClient(app) as client, TestClient(create_app(other_container)) as other_client:
        ours, theirs = LedgerApi(client, tokens), LedgerApi(other_client, other_tokens)
        assert ours.register_household("WZ-0001").status_code == 201
        assert theirs.register_household("WZ-0002", flat="102").status_code == 201
        listed = client.get("/households", headers=tokens.headers(Role.CLERK)).json()
        other_listed = other_client.get("/households", headers=other_tokens.headers(Role.CLERK)).json()
        # A token of one container is unknown to the other app.
        refused = other_client.get("/households", headers=tokens.headers(Role.CLERK))
    assert [household["account_number"] for household in listed["items"]] == ["WZ-0001"]
    assert [household["account_number"] for household in other_listed["items"]] == ["WZ-0002"]
    assert refused.status_code == 401


def test_a_dependency_override_is_refused_rather_than_ignored(app: FastAPI) -> None:
    with pytest.raises(TypeError):
        app.dependency_overrides[create_app] = lambda: None
