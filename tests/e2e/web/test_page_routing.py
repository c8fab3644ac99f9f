"""The pages' routers come first, each behind its path prefix (api.web._route_pages_first): a page's
route is found without trying the API's, and an API request passes the page routers untouched."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, routing
from starlette.routing import Match

from api.web import is_ui_path


def _scope(app: FastAPI, path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "app": app,
    }


def _concrete(path: str) -> str:
    """A request path for a route path: each parameter as a value its convertor takes."""
    values = {"uuid": "00000000-0000-0000-0000-000000000007", "path": "a/b"}

    def value(part: str) -> str:
        if not part.startswith("{"):
            return part
        convertor = part.strip("{}").partition(":")[2]
        return values.get(convertor, "7")

    return "/".join(value(part) for part in path.split("/"))


def test_every_page_is_matched_by_a_page_router_and_no_api_request_is(app: FastAPI) -> None:
    contexts = list(routing.iter_route_contexts(app.routes))
    page_paths = {context.path for context in contexts if is_ui_path(getattr(context, "path", ""))}
    api_paths = {getattr(context, "path", "") for context in contexts} - page_paths
    assert page_paths and api_paths
    gated = [route for route in app.router.routes if hasattr(route, "gate")]
    assert gated == app.router.routes[: len(gated)], "the page routers come first"
    for path in page_paths:
        request = _scope(app, _concrete(path))
        first = next((route for route in app.router.routes if route.matches(request)[0] is not Match.NONE), None)
        assert first in gated, path
    for path in api_paths:
        if path:
            request = _scope(app, _concrete(path))
            assert all(route.matches(request)[0] is Match.NONE for route in gated), path


def test_a_page_and_an_api_route_still_answer(app: FastAPI) -> None:
    from starlette.testclient import TestClient

    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/ui/households", follow_redirects=False).status_code == 303  # to the login form
        assert client.get("/ui/no-such-page", follow_redirects=False).status_code in (303, 404)
        assert client.get("/households", follow_redirects=False).status_code == 401  # the API's own refusal
        assert client.get("/health").status_code == 200
