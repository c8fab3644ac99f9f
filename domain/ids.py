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


def tariff_id(customer_class: str, scope: str) -> UUID:
    """The id of the tariff for a customer class in a scope (a community, or the city)."""
    return uuid5(LEDGER_NAMESPACE, f"tariff:{customer_class}:{scope}")


def billing_period_id(account_number: str, season_code: str) -> UUID:
    """The id of a household's billing period for a season."""
    return uuid5(LEDGER_NAMESPACE, f"billing-period:{account_number}:{season_code}")


def bill_id(account_number: str, season_code: str, kind: str, label: str) -> UUID:
    """The id of one bill of a billing period (its kind and label make it unique)."""
    return uuid5(LEDGER_NAMESPACE, f"bill:{account_number}:{season_code}:{kind}:{label}")


def building_allocation_id(community: str, building: str, season_code: str) -> UUID:
    """The id of a building's heat allocation for a season."""
    return uuid5(LEDGER_NAMESPACE, f"allocation:{community}:{building}:{season_code}")


def payment_id(source: str, reference: str) -> UUID:
    """The id of a payment: its source (``counter`` or an online provider) and its reference (the
    receipt number or the merchant order number), so it can never be recorded twice."""
    return uuid5(LEDGER_NAMESPACE, f"payment:{source}:{reference}")


def refund_id(account_number: str, request_number: str) -> UUID:
    """The id of a refund payout request of a household."""
    return uuid5(LEDGER_NAMESPACE, f"refund:{account_number}:{request_number}")


def arrears_flag_id(account_number: str, season_code: str) -> UUID:
    """The id of a household's arrears flag for a season: one flag per household and season."""
    return uuid5(LEDGER_NAMESPACE, f"arrears-flag:{account_number}:{season_code}")


def heating_season_id(scope: str, season_code: str) -> UUID:
    """The id of the season record of a scope (a community, or the city) for a season code."""
    return uuid5(LEDGER_NAMESPACE, f"heating-season:{scope}:{season_code}")


def dispute_id(account_number: str, reference: str) -> UUID:
    """The id of a household's dispute: its account and the dispute's reference (工单号), so a
    retried opening finds the same dispute."""
    return uuid5(LEDGER_NAMESPACE, f"dispute:{account_number}:{reference}")


def analytics_baseline_id(season_code: str) -> UUID:
    """The id of a season's analytics baseline (company average, purchase prices, loss threshold)."""
    return uuid5(LEDGER_NAMESPACE, f"analytics-baseline:{season_code}")


def substation_id(name: str) -> UUID:
    """The id of a substation (换热站) by its name."""
    return uuid5(LEDGER_NAMESPACE, f"substation:{name}")
