"""Python's cyclic garbage collector paused while a batch of events is judged, decoded or projected.

Judging a batch of readings, or decoding and projecting a batch of events, creates tens of
thousands of objects (events, their values, rows) and no reference cycles; each few hundred
allocations the collector runs anyway, and every few dozen runs it walks every object the process
holds (a cache of thousands of meters, each with its remembered readings). Replaying a season of
readings spent about a fifth of its time there, ingestion about a seventh. Reference counting
frees the batch's objects as usual while paused; the collector resumes when the last batch in
progress ends (batches in several threads overlap), and its next run catches up with whatever
cycles were made meanwhile.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses_in_progress = 0
_enabled_before = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (it stays off until every overlapping block ends;
    it stays off after them if it was off before the first)."""
    global _pauses_in_progress, _enabled_before
    with _lock:
        if _pauses_in_progress == 0:
            _enabled_before = gc.isenabled()
            gc.disable()
        _pauses_in_progress += 1
    try:
        yield
    finally:
        with _lock:
            _pauses_in_progress -= 1
            if _pauses_in_progress == 0 and _enabled_before:
                gc.enable()
