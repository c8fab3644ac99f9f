"""The cyclic collector's pause, kept in ``application.collector`` (ingestion judges batches under
it too, and the application layer imports nothing from projections); imported here as before."""

from application.collector import collector_paused

__all__ = ["collector_paused"]
