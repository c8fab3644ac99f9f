"""Run a call that might wait forever in a thread, and fail the test instead of hanging with it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

# How long a call blocked past its deadline gets to finish once it has been unblocked.
UNBLOCKED_GRACE_SECONDS = 120.0


def in_thread_with_watchdog(work: Callable[[], Any], seconds: float, unblock: Callable[[], None]) -> Any:
    """Run ``work`` in a thread; what it returned, or the exception it raised (returned, not
    raised). Past ``seconds``, call ``unblock`` (release whatever it waits for), let it end, and fail."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        unblock()
        thread.join(UNBLOCKED_GRACE_SECONDS)
        pytest.fail(f"the call was still waiting after {seconds} s")
    return outcome[0]
