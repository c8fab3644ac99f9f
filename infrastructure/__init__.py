"""Adapters: settings, persistence wiring, the job queue, tokens and the composition root."""
