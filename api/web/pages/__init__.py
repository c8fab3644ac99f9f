"""Every router of the web UI's pages; ``api.web.install_web`` includes them in this order.

An area's helper adds its router here (one line); routes are ``include_in_schema=False``.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.web.pages import (
    account,
    admin_users,
    arrears,
    audit,
    billing_corrections,
    billing_runs,
    billing_seasons,
    billing_tariffs,
    counter,
    dashboard,
    disputes,
    dunning,
    households,
    meters,
    monitoring,
    reports,
    scenarios,
    valves,
)

PAGE_ROUTERS: tuple[APIRouter, ...] = (
    account.router,
    dashboard.router,
    billing_tariffs.router,
    billing_seasons.router,
    billing_runs.router,
    billing_corrections.router,
    households.router,
    meters.router,
    monitoring.router,
    counter.router,
    disputes.router,
    scenarios.router,
    audit.router,
    admin_users.router,
    arrears.router,
    dunning.router,
    reports.router,
    valves.router,
)
