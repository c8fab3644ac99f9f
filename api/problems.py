"""RFC 9457 problem responses for every error the API reports.

Every error body is ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and ``instance`` (the request path), and the extensions ``code`` (stable, for
programs), ``params`` (the values the message was built from) and, for invalid input,
``errors`` (one entry per offending field). ``type`` is ``https://heatledger.example/problems/``
followed by the code; ``title`` and ``detail`` are in the caller's language (Accept-Language).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import psycopg
import sqlalchemy.exc
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import FastAPI, HTTPException, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.messages import Language, describe_error, message_keys, negotiate_language, render, title
from domain.errors import (
    ConflictError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from infrastructure.database import is_database_timeout, is_database_unavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://heatledger.example/problems/"
# The largest request body the API reads: a full batch of 10,000 readings is about 4 MB.
MAXIMUM_REQUEST_BYTES = 16 * 1024 * 1024
# Paths that take larger bodies: a queued upload of 100,000 readings with every value is ~20 MB.
LARGER_REQUEST_LIMITS = {"/readings/uploads": 64 * 1024 * 1024}
AUTHENTICATION_REALM = "heatledger"
# A refusal because the database was busy asks the client to wait this long before trying again.
DATABASE_BUSY_RETRY_AFTER_SECONDS = 30
# While the database is down (a restart, a failover) the client is asked to wait this long.
LEDGER_UNAVAILABLE_RETRY_AFTER_SECONDS = 10

logger = logging.getLogger("heatledger.api")

_STATUS_BY_ERROR: tuple[tuple[type[LedgerError], int], ...] = (
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (RateLimitedError, 429),  # before ConflictError, of which it is one
    (ConflictError, 409),
    (PermissionDeniedError, 403),
)
# Errors of the event store and the read models that may mean a busy or unreachable database.
_DATABASE_ERRORS: tuple[type[Exception], ...] = (
    StoreOperationalError,
    StoreInterfaceError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
_REQUEST_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


class FieldError(BaseModel):
    """One offending value of a request."""

    field: str = Field(description="Path of the value inside its location, e.g. `readings[3].energy_gj`")
    location: str = Field(description="Where the value was: body, query, path or header")
    code: str = Field(description="Stable code of the rule it broke, e.g. `decimal_parsing`")
    message: str = Field(description="What is wrong, in the caller's language")


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, for people (title, detail) and programs (code, params)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "https://heatledger.example/problems/not_found",
                    "title": "记录不存在",
                    "status": 404,
                    "detail": "没有户号为 WZ-0001 的热用户。",
                    "instance": "/households/WZ-0001",
                    "code": "not_found",
                    "params": {"kind": "household", "key": "WZ-0001"},
                }
            ]
        }
    )

    type: str = Field(description="`https://heatledger.example/problems/<code>`")
    title: str = Field(description="Short summary of the kind of problem, in the caller's language")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="This occurrence explained, in the caller's language")
    instance: str = Field(description="The request path")
    code: str = Field(description="Stable machine-readable code")
    params: dict[str, Any] = Field(default_factory=dict, description="Values the detail was built from")
    errors: list[FieldError] | None = Field(default=None, description="Offending values, for invalid input")


class RequestRuleError(InvalidInputError):
    """Input the API itself refuses (a date range too long, an unreadable cursor): a 422 problem."""

    def __init__(self, message_key: str, message: str, location: str = "query", **params: Any) -> None:
        super().__init__(message, **params)
        self.message_key = message_key
        self.location = location


class UnauthenticatedError(Exception):
    """The request carries no token (``missing_token``) or one that is not valid (``invalid_token``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def request_language(request: Request) -> Language:
    """The language a response to ``request`` is written in."""
    return negotiate_language(request.headers.get("accept-language"))


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    params: Mapping[str, Any] | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response in the request's language."""
    language = request_language(request)
    problem = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=title(code, language),
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        params=_jsonable(params or {}),
        errors=list(errors) if errors is not None else None,
    )
    all_headers = {"Content-Language": language.value, "Vary": "Accept-Language", **(headers or {})}
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=all_headers,
    )


def status_of(error: LedgerError) -> int:
    """The HTTP status of a ledger error."""
    for error_type, status in _STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 400


# -- handlers -----------------------------------------------------------------------------------


def handle_ledger_error(request: Request, error: Exception) -> JSONResponse:
    """Domain and application errors: 422, 404, 409 or 403, explained in the caller's language."""
    assert isinstance(error, LedgerError)
    language = request_language(request)
    detail = describe_error(error, language)
    errors = None
    if isinstance(error, InvalidInputError) and "field" in error.params:
        location = getattr(error, "location", "body")
        errors = [
            FieldError(field=str(error.params["field"]), location=location, code=message_keys(error)[0], message=detail)
        ]
    headers = {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, RateLimitedError) else None
    return problem_response(request, status_of(error), error.code, detail, error.params, errors, headers=headers)


def handle_validation_error(request: Request, error: Exception) -> JSONResponse:
    """Values of the wrong type or shape (including malformed JSON): 422 with one entry per value."""
    assert isinstance(error, RequestValidationError)
    language = request_language(request)
    errors = [_field_error(item, language) for item in error.errors()]
    detail = render(["validation_failed"], {"count": len(errors)}, language, "The request has invalid values.")
    return problem_response(request, 422, "validation_failed", detail, {"count": len(errors)}, errors)


def handle_http_error(request: Request, error: Exception) -> JSONResponse:
    """Routing and protocol errors: unknown address (404), wrong method (405), body too large (413)."""
    assert isinstance(error, StarletteHTTPException)
    language = request_language(request)
    path, method = request.url.path, request.method
    known: dict[int, tuple[str, dict[str, Any]]] = {
        404: ("route_not_found", {"path": path}),
        405: ("method_not_allowed", {"path": path, "method": method}),
        413: ("content_too_large", {"limit": MAXIMUM_REQUEST_BYTES}),
        415: ("unsupported_media_type", {"media_type": request.headers.get("content-type", "")}),
    }
    code, params = known.get(error.status_code, ("http_error", {}))
    fallback = str(error.detail) if error.detail else HTTPStatus(error.status_code).phrase
    detail = render([code], params, language, fallback)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app, path))
    return problem_response(request, error.status_code, code, detail, params, headers=headers)


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path``, sorted.

    Starlette's 405 names the methods of the first route whose path matched, so
    ``OPTIONS /households`` listed POST without GET when they are two routes.
    """
    methods: set[str] = set()
    for route in routing.iter_route_contexts(app.routes):
        route_methods = getattr(route, "methods", None)
        path_regex = getattr(route, "path_regex", None)
        if route_methods and path_regex is not None and path_regex.match(path):
            methods |= route_methods
    return sorted(methods)


def handle_unauthenticated(request: Request, error: Exception) -> JSONResponse:
    """No token or a bad one: 401 with a ``WWW-Authenticate: Bearer`` challenge (RFC 6750)."""
    assert isinstance(error, UnauthenticatedError)
    language = request_language(request)
    challenge = f'Bearer realm="{AUTHENTICATION_REALM}"'
    if error.reason == "invalid_token":
        challenge += ', error="invalid_token"'
    detail = render([error.reason], {}, language, "Authentication required.")
    return problem_response(
        request, 401, "unauthenticated", detail, {"reason": error.reason}, headers={"WWW-Authenticate": challenge}
    )


def handle_concurrent_change(request: Request, error: Exception) -> JSONResponse:
    """Another request saved a newer version of the same record first: 409, to be retried."""
    language = request_language(request)
    detail = render(["concurrent_change"], {}, language, "The record was changed meanwhile; try again.")
    return problem_response(request, 409, "concurrent_change", detail)


def handle_database_error(request: Request, error: Exception) -> JSONResponse:
    """The database could not be reached (down, restarting, no connection came in time): 503
    ``ledger_unavailable``; it gave up waiting (statement or lock timeout, busy SQLite): 503
    ``database_busy``. Both with Retry-After, since nothing was written. Any other database error
    is unexpected (500)."""
    if is_database_unavailable(error):
        return ledger_unavailable(request, error)
    if not is_database_timeout(error):
        return handle_unexpected_error(request, error)
    logger.warning("database timeout on %s %s: %s", request.method, request.url.path, error)
    params = {"retry_after_seconds": DATABASE_BUSY_RETRY_AFTER_SECONDS}
    detail = render(["database_busy"], params, request_language(request), "The database is busy; try again later.")
    headers = {"Retry-After": str(DATABASE_BUSY_RETRY_AFTER_SECONDS)}
    return problem_response(request, 503, "database_busy", detail, params, headers=headers)


def ledger_unavailable(request: Request, error: BaseException) -> JSONResponse:
    """503 ``ledger_unavailable`` with Retry-After: the ledger's database cannot be reached."""
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, error)
    params = {"retry_after_seconds": LEDGER_UNAVAILABLE_RETRY_AFTER_SECONDS}
    language = request_language(request)
    detail = render(["ledger_unavailable"], params, language, "The ledger is unavailable; try again later.")
    headers = {"Retry-After": str(LEDGER_UNAVAILABLE_RETRY_AFTER_SECONDS)}
    return problem_response(request, 503, "ledger_unavailable", detail, params, headers=headers)


def handle_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    """Anything else: logged in full here, reported as a bare 500 without internals."""
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    language = request_language(request)
    detail = render(["internal_error"], {}, language, "An unexpected error occurred.")
    return problem_response(request, 500, "internal_error", detail)


class RequestSizeLimit:
    """Refuse request bodies above ``maximum_bytes`` with a 413 problem.

    A declared Content-Length above the limit is refused before anything is read; a body sent
    without one is counted as it arrives and refused when it passes the limit. (FastAPI's own
    ``max_body_size`` answers a declared excess in plain text, not as a problem.)
    """

    def __init__(
        self, app: ASGIApp, maximum_bytes: int = MAXIMUM_REQUEST_BYTES, by_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.maximum_bytes = maximum_bytes
        self.by_path = by_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        maximum_bytes = self.by_path.get(scope.get("path", ""), self.maximum_bytes)
        if self._declared_length(scope) > maximum_bytes:
            request = Request(scope, receive)
            await handle_http_error(request, HTTPException(413))(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > maximum_bytes:
                raise HTTPException(413)
            return message

        await self.app(scope, counting_receive, send)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json response, including bodies over the size limit."""
    app.add_exception_handler(LedgerError, handle_ledger_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(UnauthenticatedError, handle_unauthenticated)
    app.add_exception_handler(IntegrityError, handle_concurrent_change)
    for database_error in _DATABASE_ERRORS:
        app.add_exception_handler(database_error, handle_database_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
    app.add_middleware(RequestSizeLimit, maximum_bytes=MAXIMUM_REQUEST_BYTES, by_path=LARGER_REQUEST_LIMITS)


_DESCRIPTIONS = {
    401: "No token, or one that is unknown or revoked (`unauthenticated`)",
    403: "The caller's role may not do this (`permission_denied`)",
    404: "A household, meter or token in the path does not exist (`not_found`)",
    409: "Contradicts what the ledger holds (`conflict`, `concurrent_change`)",
    415: "The body is not JSON: another Content-Type such as text/plain (`unsupported_media_type`)",
    429: "Too many requests for now (`rate_limited`): the same request succeeds after Retry-After seconds",
    422: "Invalid input: wrong types or shapes (`validation_failed`, including a body that is not UTF-8 JSON) "
    "or broken rules (`invalid_input`)",
    503: "The database was busy and the call timed out (`database_busy`), or it could not be reached "
    "(`ledger_unavailable`); nothing was written, retry after Retry-After",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries documenting the problem responses a route may give."""
    return {status: {"model": Problem, "description": _DESCRIPTIONS[status]} for status in statuses}


# -- helpers ------------------------------------------------------------------------------------


def _field_error(item: Mapping[str, Any], language: Language) -> FieldError:
    location_path = tuple(item.get("loc", ()))
    location = str(location_path[0]) if location_path and location_path[0] in _REQUEST_LOCATIONS else "body"
    path = location_path[1:] if location_path and location_path[0] in _REQUEST_LOCATIONS else location_path
    error_type = str(item.get("type", "value_error"))
    params = dict(item.get("ctx") or {})
    if error_type == "json_invalid":
        params["error"] = f"{params.get('error', '')}, position {path[0] if path else 0}"
        path = ()
    message = render([f"validation.{error_type}"], params, language, str(item.get("msg", "")))
    return FieldError(field=_dotted(path), location=location, code=error_type, message=message)


def _dotted(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {str(name): _jsonable_value(value) for name, value in params.items()}


def _jsonable_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable_value(item) for item in value]
    return str(value)
