"""Verified API tokens are remembered briefly (issue 17), and revocation keeps its bound.

Two ``TokenStore`` objects over one database stand for two worker processes of one server: each
remembers what it verified; only the one that revokes forgets at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, update

from application.authorization import Principal, Role
from infrastructure.token_store import MAXIMUM_VERIFIED_TOKENS, VERIFIED_TOKEN_SECONDS, TokenStore, api_tokens, metadata

KEY = "a test key of the token store"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = create_engine(f"sqlite:///{tmp_path / 'tokens.sqlite'}")
    metadata.create_all(built)
    yield built
    built.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def store(engine: Engine, clock: Clock) -> TokenStore:
    return TokenStore(engine, KEY, monotonic=clock)


def test_a_token_revoked_by_another_process_works_there_until_the_bound_then_never(
    engine: Engine, clock: Clock
) -> None:
    revoking, serving = store(engine, clock), store(engine, clock)
    issued = revoking.create("clerk li", Role.CLERK)
    assert serving.authenticate(issued.secret) == Principal("clerk li", Role.CLERK)

    revoking.revoke(issued.token_id)

    assert revoking.authenticate(issued.secret) is None  # the revoking process: at once
    clock.seconds += VERIFIED_TOKEN_SECONDS - 0.01
    assert serving.recently_verified(issued.secret) == Principal("clerk li", Role.CLERK)
    clock.seconds += 0.01
    assert serving.recently_verified(issued.secret) is None
    assert serving.authenticate(issued.secret) is None
    clock.seconds += 3600
    assert serving.authenticate(issued.secret) is None


def test_a_remembered_token_is_answered_without_the_table(engine: Engine, clock: Clock) -> None:
    tokens = store(engine, clock)
    issued = tokens.create("device 7", Role.DEVICE)
    assert tokens.recently_verified(issued.secret) is None  # not yet verified in this process
    assert tokens.authenticate(issued.secret) == Principal("device 7", Role.DEVICE)
    with engine.begin() as connection:  # gone from the table: only memory can answer
        connection.execute(delete(api_tokens))

    assert tokens.recently_verified(issued.secret) == Principal("device 7", Role.DEVICE)
    assert tokens.authenticate(issued.secret) == Principal("device 7", Role.DEVICE)
    clock.seconds += VERIFIED_TOKEN_SECONDS
    assert tokens.authenticate(issued.secret) is None


def test_unknown_and_revoked_tokens_are_never_remembered(engine: Engine, clock: Clock) -> None:
    tokens = store(engine, clock)
    issued = tokens.create("auditor wu", Role.AUDITOR)
    with engine.begin() as connection:  # revoked by another process before this one saw it
        connection.execute(update(api_tokens).values(revoked_at=api_tokens.c.created_at))

    assert tokens.authenticate(issued.secret) is None
    assert tokens.authenticate(issued.secret + "x") is None
    assert tokens.authenticate("not a token") is None
    with engine.begin() as connection:
        connection.execute(update(api_tokens).values(revoked_at=None))
    assert tokens.recently_verified(issued.secret) is None  # nothing was remembered of it
    assert tokens.authenticate(issued.secret) == Principal("auditor wu", Role.AUDITOR)


def test_a_verification_that_read_the_table_before_a_revocation_is_not_remembered(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = store(engine, clock)
    issued = tokens.create("clerk zhao", Role.CLERK)
    remember = tokens._remember

    def revoked_meanwhile(digest: str, principal: Principal, revocations_seen: int) -> None:
        """The table was read; the token is revoked before the finding is remembered."""
        tokens.revoke(issued.token_id)
        remember(digest, principal, revocations_seen)

    monkeypatch.setattr(tokens, "_remember", revoked_meanwhile)
    assert tokens.authenticate(issued.secret) == Principal("clerk zhao", Role.CLERK)  # read before

    assert tokens.recently_verified(issued.secret) is None
    assert tokens.authenticate(issued.secret) is None


def test_the_memory_is_bounded(engine: Engine, clock: Clock) -> None:
    tokens = store(engine, clock)
    issued = tokens.create("clerk", Role.CLERK)
    assert tokens.authenticate(issued.secret) is not None
    for number in range(MAXIMUM_VERIFIED_TOKENS + 5):
        tokens._remember(f"digest {number}", Principal("x", Role.CLERK), tokens._revocations)
        assert len(tokens._verified) <= MAXIMUM_VERIFIED_TOKENS
    assert tokens.authenticate(issued.secret) is not None  # forgotten, then read again
