"""Roles and what each may do, enforced at the application boundary.

The HTTP layer authenticates a token into a ``Principal``; every use case names the permission
it needs, so a role cannot do more through the CLI, a job or a new endpoint than it may.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import PermissionDeniedError


class Role(StrEnum):
    """The kinds of user and device the ledger knows."""

    ADMIN = "admin"
    CLERK = "clerk"
    CUSTOMER_SERVICE = "customer_service"
    AUDITOR = "auditor"
    REGULATOR = "regulator"
    DEVICE = "device"
    # An online payment provider's notifications, authenticated by their signature.
    PAYMENT_GATEWAY = "payment_gateway"


class Permission(StrEnum):
    """Things a caller may be allowed to do."""

    READ_LEDGER = "read_ledger"
    MANAGE_HOUSEHOLDS = "manage_households"
    MANAGE_METERS = "manage_meters"
    SUBMIT_READINGS = "submit_readings"
    MANAGE_TARIFFS = "manage_tariffs"
    RUN_BILLING = "run_billing"
    RECEIVE_PAYMENTS = "receive_payments"
    NOTIFY_PAYMENTS = "notify_payments"
    APPROVE_REFUNDS = "approve_refunds"
    # Flag households in arrears for valve restriction and approve flags (a second person approves).
    MANAGE_ARREARS = "manage_arrears"
    # Run dunning (reminders into the outbox), deliver and requeue messages.
    SEND_REMINDERS = "send_reminders"
    # Open disputes, record their investigation and resolve them (customer service, clerks).
    MANAGE_DISPUTES = "manage_disputes"
    MANAGE_TOKENS = "manage_tokens"
    REBUILD_PROJECTIONS = "rebuild_projections"
    # Run regulator scenarios: a season recomputed under other tariffs; books nothing (no bill, no
    # billing period), writes only the scenario's own results (application/scenarios.py).
    RUN_SCENARIOS = "run_scenarios"
    # Request commands to room controllers and valves and approve them (a second person approves;
    # issue 14). Devices' reports come in under submit_readings.
    COMMAND_VALVES = "command_valves"


_READ_AND_MANAGE = frozenset(
    {Permission.READ_LEDGER, Permission.MANAGE_HOUSEHOLDS, Permission.MANAGE_METERS, Permission.SUBMIT_READINGS}
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    # Billing clerks run billing and record allocation inputs; tariffs are published by an admin
    # from the price bureau's approved document.
    # Clerks take payments at the counter; a refund is approved by a second clerk or an admin.
    # Arrears flags are raised by a clerk and approved by another clerk or an admin.
    Role.CLERK: _READ_AND_MANAGE
    | {
        Permission.RUN_BILLING,
        Permission.RECEIVE_PAYMENTS,
        Permission.APPROVE_REFUNDS,
        Permission.MANAGE_ARREARS,
        Permission.SEND_REMINDERS,
        Permission.MANAGE_DISPUTES,
        Permission.COMMAND_VALVES,
    },
    # Customer service takes and settles disputes; a note above the approval threshold is approved
    # by a second person holding approve_refunds (a clerk or an admin).
    Role.CUSTOMER_SERVICE: _READ_AND_MANAGE | {Permission.MANAGE_DISPUTES},
    Role.AUDITOR: frozenset({Permission.READ_LEDGER}),
    # The price bureau (物价局) reads, and recomputes seasons under other tariffs (scenarios).
    Role.REGULATOR: frozenset({Permission.READ_LEDGER, Permission.RUN_SCENARIOS}),
    # Devices and concentrators push readings and nothing else.
    Role.DEVICE: frozenset({Permission.SUBMIT_READINGS}),
    Role.PAYMENT_GATEWAY: frozenset({Permission.NOTIFY_PAYMENTS}),
}


# Permissions that only let a caller read. A role holding nothing else is read-only: it writes
# nothing, through any door (a permission added for reading, say of personal data, goes here).
READING_PERMISSIONS = frozenset({Permission.READ_LEDGER})
# Permissions whose commands book nothing: they change no household, meter, bill, payment or
# tariff, and write only their own analysis records (a scenario's results). A read-only role may
# hold them; the API lets it send exactly the commands whose routes declare one it holds
# (api/read_only.py), and refuses it every other.
ANALYSIS_PERMISSIONS = frozenset({Permission.RUN_SCENARIOS})


def is_read_only(role: Role) -> bool:
    """Whether ``role`` changes nothing in the ledger (auditors, regulators), derived from its
    permissions: it holds reading and analysis permissions only. Granting a role any other
    permission takes it out of the read-only roles."""
    return ROLE_PERMISSIONS[role] <= READING_PERMISSIONS | ANALYSIS_PERMISSIONS


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its name is the actor recorded on every event it causes."""

    name: str
    role: Role

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def read_only(self) -> bool:
        """Whether the caller may only read: the API refuses every other request of theirs (403)."""
        return is_read_only(self.role)

    def require(self, permission: Permission) -> None:
        """Raise PermissionDeniedError unless the caller's role grants ``permission``."""
        if not self.may(permission):
            raise PermissionDeniedError(
                f"the role {self.role.value} may not {permission.value}",
                role=self.role.value,
                permission=permission.value,
            )


# The principal that runs jobs the system itself starts (the demo loader, migrations).
SYSTEM = Principal(name="system", role=Role.ADMIN)
