"""The web UI's session settings: the cookie is Secure outside development, production refuses it
otherwise, and the limits are bounded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infrastructure.settings import Backend, Environment, Settings

PRODUCTION = {
    "environment": Environment.PRODUCTION,
    "backend": Backend.POSTGRES,
    "secret_key": "a-production-secret-key-of-32-characters-or-more",
}


@pytest.mark.parametrize(
    ("environment", "secure"),
    [(Environment.DEVELOPMENT, False), (Environment.TEST, True), (Environment.PRODUCTION, True)],
)
def test_the_session_cookie_is_secure_everywhere_but_development(environment: Environment, secure: bool) -> None:
    values = PRODUCTION if environment is Environment.PRODUCTION else {"environment": environment}
    assert Settings(**values).session_cookie_is_secure is secure  # type: ignore[arg-type]


def test_development_may_turn_it_on_and_test_may_turn_it_off() -> None:
    assert Settings(environment=Environment.DEVELOPMENT, session_cookie_secure=True).session_cookie_is_secure
    assert not Settings(environment=Environment.TEST, session_cookie_secure=False).session_cookie_is_secure


def test_production_refuses_an_insecure_session_cookie() -> None:
    with pytest.raises(ValidationError, match="HEATLEDGER_SESSION_COOKIE_SECURE"):
        Settings(**PRODUCTION, session_cookie_secure=False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values",
    [
        {"session_idle_timeout_minutes": 0},
        {"session_lifetime_hours": 0},
        {"login_max_failures": 0},
        {"login_lockout_minutes": 0},
        {"login_address_max_failures": 0},
    ],
)
def test_the_limits_are_bounded(values: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Settings(environment=Environment.TEST, **values)  # type: ignore[arg-type]
