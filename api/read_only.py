"""Read-only roles write nothing: the API refuses them every request that is not a safe read.

Auditors and regulators hold only reading permissions (``application.authorization.is_read_only``).
The application services check each command's permission too, but only once the request has been
routed, its body parsed and validated, and the service called: an auditor's junk body answered 415
or 422, and a signed webhook logged a refusal before any role was looked at. ``ReadOnlyRoleGuard``
answers first, for every route (the webhooks and any route added later included): a request whose
method is not GET, HEAD or OPTIONS and whose bearer token belongs to a read-only role is a 403
``permission_denied`` problem (message key ``read_only_role``) before routing, before its body is
read, before anything is written. Any other request passes untouched: a missing or unknown token
is the route's business (401 there, or a signature check).

One door is open to read-only roles, by permission, never by name: a command that books nothing
(``application.authorization.ANALYSIS_PERMISSIONS``, a regulator's scenario) declares the
permission it needs on its route (``requires_permission``, shown in the OpenAPI document as
``x-required-permission``); a read-only caller whose role holds that permission is let through to
the route, which checks the permission again. Every other unsafe request of a read-only role is
refused as before.
"""

from __future__ import annotations

import logging

import sqlalchemy.exc
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import routing
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import MAXIMUM_TOKEN_LENGTH
from api.problems import handle_database_error, handle_ledger_error
from application.authorization import ANALYSIS_PERMISSIONS, Permission, Principal
from domain.errors import PermissionDeniedError
from infrastructure.container import Container

# Methods that only read (RFC 9110 §9.2.1): the only ones a read-only role may use, but for the
# routes that declare an analysis permission its role holds.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The OpenAPI extension a route declares its permission in (``requires_permission``).
PERMISSION_EXTENSION = "x-required-permission"


def requires_permission(permission: Permission) -> dict[str, str]:
    """A route's ``openapi_extra`` declaring the permission it needs: the guard lets a read-only
    caller through to it when that is an analysis permission the caller's role holds."""
    return {PERMISSION_EXTENSION: permission.value}


def declared_permission(scope: Scope) -> Permission | None:
    """The permission the route that would take this request declares, if any (the first route
    whose path and method match, as routing picks it; included routers are looked into)."""
    path, method = scope["path"], scope["method"]
    for context in routing.iter_route_contexts(scope["app"].routes):
        regex, methods = getattr(context, "path_regex", None), getattr(context, "methods", None) or ()
        if regex is not None and regex.match(path) and method in methods:
            declared = (getattr(context, "openapi_extra", None) or {}).get(PERMISSION_EXTENSION)
            return Permission(declared) if declared else None
    return None


def lets_through(principal: Principal, scope: Scope) -> bool:
    """Whether a read-only caller may send this unsafe request: its route declares an analysis
    permission (one that books nothing) that the caller's role holds."""
    permission = declared_permission(scope)
    return permission is not None and permission in ANALYSIS_PERMISSIONS and principal.may(permission)


logger = logging.getLogger("heatledger.api")


def bearer_secret(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, read as ``HTTPBearer`` reads it;
    None for no header, another scheme, or a token too long to be one of ours."""
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or len(secret) > MAXIMUM_TOKEN_LENGTH:
        return None
    return secret


class ReadOnlyRoleGuard:
    """ASGI middleware: refuse a read-only role's every unsafe request with a 403 problem."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        refusal = await self._refusal(request)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await refusal(scope, receive, send)

    async def _refusal(self, request: Request) -> Response | None:
        """The answer to ``request`` if its caller is read-only (or the token lookup timed out)."""
        secret = bearer_secret(request.headers.get("authorization"))
        if secret is None:
            return None
        container: Container = request.app.state.container
        try:
            principal = await run_in_threadpool(container.tokens.authenticate, secret)
        except (StoreOperationalError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.TimeoutError) as error:
            # Outside the app's exception handlers here: answer as they would (503, nothing written).
            return handle_database_error(request, error)
        if principal is None or not principal.read_only or lets_through(principal, request.scope):
            return None
        logger.warning(
            "refused %s %s to %s, of the read-only role %s",
            request.method,
            request.url.path,
            principal.name,
            principal.role.value,
        )
        return handle_ledger_error(request, read_only_refusal(principal, request.method))


def read_only_refusal(principal: Principal, method: str) -> PermissionDeniedError:
    """The error a read-only caller gets for a request that is not a safe read."""
    return PermissionDeniedError(
        f"the role {principal.role.value} may only read the ledger, not {method}",
        message_key="read_only_role",
        role=principal.role.value,
        method=method,
    )
