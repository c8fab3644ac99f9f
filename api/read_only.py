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
"""

from __future__ import annotations

import logging

import sqlalchemy.exc
from eventsourcing.persistence import OperationalError as StoreOperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import MAXIMUM_TOKEN_LENGTH
from api.problems import handle_database_error, handle_ledger_error
from application.authorization import Principal
from domain.errors import PermissionDeniedError
from infrastructure.container import Container

# Methods that only read (RFC 9110 §9.2.1): the only ones a read-only role may use.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

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
        if principal is None or not principal.read_only:
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
