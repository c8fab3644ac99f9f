"""Authentication: ``Authorization: Bearer <token>`` → the caller's ``Principal``.

Writes leave role checks to the application (each use case requires its permission); reads
bypass the application, so ``Reader`` requires ``Permission.READ_LEDGER`` here. Devices hold
only ``SUBMIT_READINGS``: they can post readings and nothing else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.dependencies import ContainerDependency
from api.problems import UnauthenticatedError
from application.authorization import Permission, Principal

# A bound on what is hashed and looked up: real tokens are about 46 characters.
MAXIMUM_TOKEN_LENGTH = 256

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    description="An API token from `POST /tokens` (or `heatledger token create`): `Authorization: Bearer hl_…`",
)


async def authenticate(
    container: ContainerDependency,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller behind the bearer token; 401 when the token is missing, unknown or revoked.

    A token this process verified a moment ago is answered on the event loop; any other is looked
    up in the table in the threadpool (``TokenStore.authenticate``; revocation's bound is there)."""
    if credentials is None:
        raise UnauthenticatedError("missing_token")
    secret = credentials.credentials
    principal = None
    if len(secret) <= MAXIMUM_TOKEN_LENGTH:
        principal = container.tokens.recently_verified(secret)
        if principal is None:
            principal = await run_in_threadpool(container.tokens.authenticate, secret)
    if principal is None:
        raise UnauthenticatedError("invalid_token")
    return principal


Caller = Annotated[Principal, Depends(authenticate)]


async def authorize_reader(caller: Caller) -> Principal:
    """The caller, if its role may read the ledger; 403 otherwise (devices may not)."""
    caller.require(Permission.READ_LEDGER)
    return caller


Reader = Annotated[Principal, Depends(authorize_reader)]


async def authorize_token_manager(caller: Caller) -> Principal:
    """The caller, if its role may create and revoke tokens (administrators); 403 otherwise."""
    caller.require(Permission.MANAGE_TOKENS)
    return caller


TokenManager = Annotated[Principal, Depends(authorize_token_manager)]
