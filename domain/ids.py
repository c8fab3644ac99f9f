"""Aggregate ids are uuid5 of natural keys, so a retried command finds the same aggregate."""

from __future__ import annotations

from uuid import UUID, uuid5

# A fixed namespace for the whole ledger; changing it would orphan every stored aggregate.
LEDGER_NAMESPACE = UUID("6f1c2d2e-8a43-5b7e-9d3c-4a5e6b7c8d90")


def household_id(account_number: str) -> UUID:
    """The id of the household with this account number."""
    return uuid5(LEDGER_NAMESPACE, f"household:{account_number}")


def meter_id(serial: str) -> UUID:
    """The id of the meter with this serial number."""
    return uuid5(LEDGER_NAMESPACE, f"meter:{serial}")
