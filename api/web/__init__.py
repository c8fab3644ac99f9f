"""The web UI (issue 13): server-rendered pages under ``/ui``, served by the API's own process.

``install_web(app)`` (called by ``api.app.create_app``) mounts ``/static`` (cached: a week for the
vendored files, an hour for our own, whose URLs carry a content digest), redirects ``/`` to
``/ui/``, includes every page router of ``api.web.pages.PAGE_ROUTERS``, and makes errors on
``/ui`` pages HTML pages in the user's language (the API keeps its problem+json everywhere else).
See docs/ui.md and /work/briefs/web-architecture.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.exceptions import RequestValidationError
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.messages import describe_error
from api.shared_routes import include_shared
from api.web.rendering import NAV_AREAS, STATIC_DIRECTORY, render, translate
from api.web.session import CsrfRefusedError, LoginRequiredError, is_htmx, request_language
from domain.errors import LedgerError

UI_PREFIX = "/ui"
VENDOR_CACHE_SECONDS = 7 * 24 * 3600
OWN_CACHE_SECONDS = 3600
VENDOR_DIRECTORY = (STATIC_DIRECTORY / "vendor").resolve()

logger = logging.getLogger("heatledger.web")
# FastAPI's class of an included router (private): the pages' routers are gated by subclassing it.
_IncludedRouter: Any = getattr(routing, "_IncludedRouter", None)
_GATING = isinstance(_IncludedRouter, type) and issubclass(_IncludedRouter, BaseRoute)

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


class CachedStaticFiles(StaticFiles):
    """Static files with Cache-Control: vendored releases a week, our own files an hour."""

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        vendored = Path(full_path).resolve().is_relative_to(VENDOR_DIRECTORY)
        seconds = VENDOR_CACHE_SECONDS if vendored else OWN_CACHE_SECONDS
        response.headers["Cache-Control"] = f"public, max-age={seconds}"
        return response


def install_web(app: FastAPI) -> None:
    """Add the web UI to ``app`` (after its problem handlers: the UI's wrap them for ``/ui``)."""
    from api.web.pages import PAGE_ROUTERS  # the pages import this package's modules

    app.mount("/static", CachedStaticFiles(directory=STATIC_DIRECTORY), name="static")
    app.add_api_route("/", _to_ui, methods=["GET"], include_in_schema=False)
    before = len(app.router.routes)
    for router in PAGE_ROUTERS:
        include_shared(app, router)
    _route_pages_first(app, app.router.routes[before:])
    app.state.web_area_paths = _installed_area_paths(app)
    _install_html_errors(app)


class _PrefixGatedRouter(_IncludedRouter if _GATING else BaseRoute):  # type: ignore[misc]
    """An included page router that looks at a request only if its path starts with the literal
    start every one of its routes' paths has (``gate``): a cheap test before the routes' regexes."""

    gate: str = UI_PREFIX

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not get_route_path(scope).startswith(self.gate):
            return Match.NONE, {}
        matched: tuple[Match, Scope] = super().matches(scope)
        return matched


def _route_pages_first(app: FastAPI, page_routes: list[BaseRoute]) -> None:
    """Look at the pages' routes first, each router behind its path prefix.

    FastAPI tries the routes in order with a regex each; the pages came after the API's ~170
    routes, so finding a page's route took about 0.4 ms of CPU a request (measured on the demo,
    docs/ui.md "Performance"), a fifth of a light page. In front, behind a prefix test, a page's
    route is found at once, and an API request passes the page routers with one ``startswith``
    each. The order changes no answer: no API route lies under ``/ui`` (asserted), and the page
    routers keep their own order. Without FastAPI's included-router class (another FastAPI
    version), the routes stay as they were.
    """
    if not _GATING:
        return
    api_paths = [getattr(context, "path", "") for context in routing.iter_route_contexts(app.router.routes)]
    page_paths = set(getattr(context, "path", "") for context in routing.iter_route_contexts(page_routes))
    assert not any(is_ui_path(path) for path in api_paths if path not in page_paths), "no API route under /ui"
    gated = [_gated(route) for route in page_routes]
    others = [route for route in app.router.routes if all(route is not page_route for page_route in page_routes)]
    app.router.routes[:] = [*gated, *others]


def _gated(route: BaseRoute) -> BaseRoute:
    if not isinstance(route, _IncludedRouter):
        return route
    paths = [getattr(context, "path", "") for context in routing.iter_route_contexts([route])]
    gate = _literal_start(paths)
    assert gate.startswith(UI_PREFIX), f"a page router's routes lie under {UI_PREFIX}: {gate!r}"
    route.__class__ = _PrefixGatedRouter
    route.gate = gate
    gated: BaseRoute = route
    return gated


def _literal_start(paths: list[str]) -> str:
    """The text every path starts with, before any path parameter: every request a route of
    these paths matches starts with it (a route's regex matches its literal text as it is)."""
    literals = [path.split("{", 1)[0] for path in paths]
    shortest = min(literals, key=len, default="")
    differs = (index for index, character in enumerate(shortest) if any(text[index] != character for text in literals))
    return shortest[: next(differs, len(shortest))]


def is_ui_path(path: str) -> bool:
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def _to_ui() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


def _installed_area_paths(app: FastAPI) -> frozenset[str]:
    """The navigation areas that have pages in ``app`` (a GET route at or under their path)."""
    paths = [getattr(context, "path", "") for context in routing.iter_route_contexts(app.routes)]
    return frozenset(
        area.path
        for area in NAV_AREAS
        if any(path == area.path or path.startswith(area.path.rstrip("/") + "/") for path in paths)
    )


def is_page(request: Request) -> bool:
    return is_ui_path(request.url.path)


def _install_html_errors(app: FastAPI) -> None:
    """On ``/ui`` an error is a page (or an htmx fragment), never JSON: wrap each problem handler."""
    app.add_exception_handler(LoginRequiredError, _login_required)
    app.add_exception_handler(CsrfRefusedError, _csrf_refused)
    for key, handler in list(app.exception_handlers.items()):
        if key not in (LoginRequiredError, CsrfRefusedError):
            app.exception_handlers[key] = _html_on_pages(handler)


def _login_required(request: Request, error: Exception) -> Response:
    assert isinstance(error, LoginRequiredError)
    if error.htmx:
        return Response(status_code=401, headers={"HX-Redirect": error.login_url})
    return RedirectResponse(error.login_url, status_code=303)


def _csrf_refused(request: Request, error: Exception) -> Response:
    logger.warning("refused %s %s: no or a wrong CSRF token", request.method, request.url.path)
    return error_page(request, 403, translate("web.error.csrf", request_language(request)))


def _html_on_pages(handler: Handler) -> Handler:
    """The handler for API paths; an HTML error page with the same status for ``/ui`` paths."""

    async def handle(request: Request, error: Exception) -> Response:
        answer = handler(request, error)
        response = answer if isinstance(answer, Response) else await answer
        if not is_page(request):
            return response
        return error_page(request, response.status_code, _message(request, error, response.status_code), response)

    return handle


def _message(request: Request, error: Exception, status: int) -> str:
    """What went wrong, in the page's language."""
    language = request_language(request)
    if isinstance(error, LedgerError):
        return describe_error(error, language)
    if isinstance(error, RequestValidationError):
        return translate("web.error.invalid_form", language)
    if isinstance(error, StarletteHTTPException) and status in (404, 405):
        return translate(f"web.error.status_{status}", language)
    return translate("web.error.unexpected" if status >= 500 else "web.error.refused", language)


def error_page(request: Request, status: int, message: str, original: Response | None = None) -> Response:
    """The error page (for htmx: its message block only), with the original's Retry-After/Allow."""
    headers = {
        name: value
        for name, value in (original.headers.items() if original is not None else [])
        if name.lower() in ("retry-after", "allow")
    }
    block = "error_message" if is_htmx(request) else None
    context = {"status": status, "message": message}
    return render(request, "error.html", context, block_name=block, status_code=status, headers=headers)
