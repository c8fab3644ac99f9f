"""API tokens: issued to a person or device with a role, shown once, revocable."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import NAME_MAX_LENGTH, RequestModel
from application.authorization import Role


class TokenRequest(RequestModel):
    """A token for a person or device; its name becomes the actor on every event it causes."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "concentrator-碧桂园-1", "role": "device"}]})

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    role: Role


class IssuedTokenOutput(BaseModel):
    """A new token. The secret is shown this once and never stored: keep it safe."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token_id": "9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d",
                    "name": "concentrator-碧桂园-1",
                    "role": "device",
                    "secret": "hl_Qm9vZ2llV29vZ2llQm9vZ2llV29vZ2llQm9vZ2ll",
                }
            ]
        }
    )

    token_id: UUID
    name: str
    role: Role
    secret: str
