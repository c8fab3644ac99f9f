"""HeatLedger.after_save_hooks_deferred: a command of many saves (a billing run) catches the read
models up once when it ends, not after each save; other threads' saves are not deferred."""

from __future__ import annotations

import threading

import pytest

from application.ledger import HeatLedger
from tests.strategies import household_with_meter, memory_ledger


def _counting(ledger: HeatLedger) -> list[int]:
    calls: list[int] = []
    ledger.add_after_save_hook(lambda: calls.append(1))
    return calls


def test_saves_inside_the_block_run_the_hooks_once_when_it_ends() -> None:
    ledger = memory_ledger()
    calls = _counting(ledger)
    with ledger.after_save_hooks_deferred():
        household_with_meter(ledger, "WZ-1", "M-1")
        household_with_meter(ledger, "WZ-2", "M-2")
        assert calls == []  # several saves, no hook yet
    assert calls == [1]
    household_with_meter(ledger, "WZ-3", "M-3")  # after the block: after each save again
    assert len(calls) > 1


def test_a_block_without_a_save_runs_no_hook() -> None:
    ledger = memory_ledger()
    calls = _counting(ledger)
    with ledger.after_save_hooks_deferred():
        pass
    assert calls == []


def test_the_hooks_run_when_the_block_raises_after_a_save() -> None:
    ledger = memory_ledger()
    calls = _counting(ledger)
    with pytest.raises(RuntimeError), ledger.after_save_hooks_deferred():
        household_with_meter(ledger, "WZ-1", "M-1")
        raise RuntimeError("a chunk failed")
    assert calls == [1]  # what was saved is caught up


def test_nested_blocks_run_the_hooks_once_at_the_outermost_end() -> None:
    ledger = memory_ledger()
    calls = _counting(ledger)
    with ledger.after_save_hooks_deferred():
        with ledger.after_save_hooks_deferred():
            household_with_meter(ledger, "WZ-1", "M-1")
        assert calls == []
    assert calls == [1]


def test_another_threads_saves_run_their_hooks_as_always() -> None:
    ledger = memory_ledger()
    calls = _counting(ledger)
    with ledger.after_save_hooks_deferred():
        other = threading.Thread(target=household_with_meter, args=(ledger, "WZ-9", "M-9"))
        other.start()
        other.join()
        assert calls  # the other thread's saves were not deferred
        before = len(calls)
    assert len(calls) == before  # and this thread saved nothing: no hook at the end
