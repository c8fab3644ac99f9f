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
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.messages import describe_error
from api.web.rendering import NAV_AREAS, STATIC_DIRECTORY, render, translate
from api.web.session import CsrfRefusedError, LoginRequiredError, is_htmx, request_language
from domain.errors import LedgerError

UI_PREFIX = "/ui"
VENDOR_CACHE_SECONDS = 7 * 24 * 3600
OWN_CACHE_SECONDS = 3600
VENDOR_DIRECTORY = (STATIC_DIRECTORY / "vendor").resolve()

logger = logging.getLogger("heatledger.web")

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
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.state.web_area_paths = _installed_area_paths(app)
    _install_html_errors(app)


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
    return request.url.path == UI_PREFIX or request.url.path.startswith(UI_PREFIX + "/")


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
