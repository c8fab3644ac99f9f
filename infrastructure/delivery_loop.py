"""Delivery of the notification outbox on the embedded default, where no arq worker runs.

``heatledger serve`` with the inline job queue starts one ``PeriodicDelivery``: a daemon thread
that delivers what is due every ``interval_seconds``, so retries go out on their backoff without a
worker. With arq, ``heatledger worker`` does this instead (its delivery cron).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("heatledger.notifications")


class PeriodicDelivery:
    """Calls ``deliver`` every ``interval_seconds`` in a daemon thread until stopped. A failing pass
    is logged and the next one runs as planned: the messages stay due in the outbox."""

    def __init__(self, deliver: Callable[[], object], interval_seconds: float = 60.0) -> None:
        self.deliver = deliver
        self.interval_seconds = interval_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notification-delivery", daemon=True)

    def start(self) -> PeriodicDelivery:
        self._thread.start()
        return self

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop after the pass under way, waiting for it at most ``timeout_seconds``."""
        self._stopped.set()
        self._thread.join(timeout_seconds)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_seconds):
            try:
                self.deliver()
            except Exception:
                logger.exception("a delivery pass failed; the messages stay due for the next one")
