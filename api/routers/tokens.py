"""API tokens: administrators create and revoke them."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path, Response

from api.auth import TokenManager
from api.dependencies import ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.schemas.tokens import IssuedTokenOutput, TokenRequest

router = resource_router("/tokens", "tokens")


@router.post(
    "",
    status_code=201,
    operation_id="create_token",
    response_model=IssuedTokenOutput,
    responses=problem_responses(401, 403, 422),
)
def create_token(
    request: TokenRequest, manager: TokenManager, container: ContainerDependency, response: Response
) -> IssuedTokenOutput:
    """Issue a token for a person or device with a role (administrators only).

    The secret is in this answer and nowhere else: the ledger keeps only its HMAC. The token's
    name becomes the actor recorded on every event it causes.
    """
    issued = container.tokens.create(request.name, request.role, created_by=manager.name)
    response.headers["Location"] = f"/tokens/{issued.token_id}"
    return IssuedTokenOutput(token_id=issued.token_id, name=issued.name, role=issued.role, secret=issued.secret)


@router.delete(
    "/{token_id}",
    status_code=204,
    operation_id="revoke_token",
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_token(
    token_id: Annotated[UUID, Path(description="The token's id from its creation")],
    manager: TokenManager,
    container: ContainerDependency,
) -> Response:
    """Revoke a token (administrators only): it stops working at once; its record stays for audit."""
    container.tokens.revoke(token_id)
    return Response(status_code=204)
