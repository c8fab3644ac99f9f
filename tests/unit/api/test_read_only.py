"""The read-only guard's reading of the Authorization header: the token ``HTTPBearer`` would read."""

from __future__ import annotations

import pytest

from api.auth import MAXIMUM_TOKEN_LENGTH
from api.read_only import bearer_secret


@pytest.mark.parametrize(
    ("authorization", "secret"),
    [
        ("Bearer hl_abc", "hl_abc"),
        ("bearer hl_abc", "hl_abc"),
        ("BEARER   hl_abc  ", "hl_abc"),
        ("Bearer " + "x" * MAXIMUM_TOKEN_LENGTH, "x" * MAXIMUM_TOKEN_LENGTH),
    ],
)
def test_a_bearer_token_is_read_as_fastapi_reads_it(authorization: str, secret: str) -> None:
    assert bearer_secret(authorization) == secret


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "hl_abc", "Bearer " + "x" * (MAXIMUM_TOKEN_LENGTH + 1)],
)
def test_anything_else_is_no_token_and_left_to_the_route(authorization: str | None) -> None:
    assert bearer_secret(authorization) is None
