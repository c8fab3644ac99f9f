"""Roles and permissions, and that every use case of the ledger enforces them."""

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from application.authorization import ROLE_PERMISSIONS, SYSTEM, Permission, Principal, Role, is_read_only
from application.ledger import HeatLedger
from domain.errors import PermissionDeniedError
from domain.values import Areas
from tests.strategies import (
    COMMISSIONED_AT,
    SEASON_START,
    commission_meter,
    household_with_meter,
    item,
    last_notification_id,
    memory_ledger,
    register_household,
)

R, M = Permission.READ_LEDGER, Permission.MANAGE_HOUSEHOLDS
METERS, SUBMIT = Permission.MANAGE_METERS, Permission.SUBMIT_READINGS
TOKENS, REBUILD = Permission.MANAGE_TOKENS, Permission.REBUILD_PROJECTIONS
TARIFFS, BILLING = Permission.MANAGE_TARIFFS, Permission.RUN_BILLING
PAY, APPROVE, NOTIFY = Permission.RECEIVE_PAYMENTS, Permission.APPROVE_REFUNDS, Permission.NOTIFY_PAYMENTS
ARREARS, REMIND = Permission.MANAGE_ARREARS, Permission.SEND_REMINDERS
SCENARIOS = Permission.RUN_SCENARIOS
DISPUTES = Permission.MANAGE_DISPUTES
VALVES = Permission.COMMAND_VALVES

# The whole table, written out: a role gaining or losing a permission must show up here.
EXPECTED = {
    Role.ADMIN: {
        R,
        M,
        METERS,
        SUBMIT,
        TOKENS,
        REBUILD,
        TARIFFS,
        BILLING,
        PAY,
        APPROVE,
        NOTIFY,
        ARREARS,
        REMIND,
        DISPUTES,
        SCENARIOS,
        VALVES,
    },
    Role.CLERK: {R, M, METERS, SUBMIT, BILLING, PAY, APPROVE, ARREARS, REMIND, DISPUTES, VALVES},
    Role.CUSTOMER_SERVICE: {R, M, METERS, SUBMIT, DISPUTES},
    Role.AUDITOR: {R},
    Role.REGULATOR: {R, SCENARIOS},
    Role.DEVICE: {SUBMIT},
    Role.PAYMENT_GATEWAY: {NOTIFY},
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_has_exactly_its_permissions(role: Role) -> None:
    principal = Principal("someone", role)
    assert {permission for permission in Permission if principal.may(permission)} == EXPECTED[role]
    assert ROLE_PERMISSIONS[role] == EXPECTED[role]


def test_require_names_the_role_and_the_missing_permission() -> None:
    with pytest.raises(PermissionDeniedError) as raised:
        Principal("auditor-sun", Role.AUDITOR).require(Permission.SUBMIT_READINGS)
    assert raised.value.params == {"role": "auditor", "permission": "submit_readings"}
    assert raised.value.code == "permission_denied"


def test_require_passes_silently_when_granted() -> None:
    Principal("meter-gw-1", Role.DEVICE).require(Permission.SUBMIT_READINGS)


def test_the_read_only_roles_are_the_auditors_and_regulators() -> None:
    assert {role for role in Role if is_read_only(role)} == {Role.AUDITOR, Role.REGULATOR}
    assert Principal("auditor-sun", Role.AUDITOR).read_only
    assert not Principal("meter-gw-1", Role.DEVICE).read_only


def test_a_role_is_read_only_by_its_permissions_not_by_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.AUDITOR, frozenset({R, M}))
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.CUSTOMER_SERVICE, frozenset({R}))
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.CLERK, frozenset({R, SCENARIOS}))

    assert not is_read_only(Role.AUDITOR)
    assert is_read_only(Role.CUSTOMER_SERVICE)
    # Running scenarios books nothing: a role that reads and runs them still changes nothing.
    assert is_read_only(Role.CLERK)


def test_the_system_principal_is_an_admin() -> None:
    assert SYSTEM.role is Role.ADMIN and all(SYSTEM.may(permission) for permission in Permission)


# -- the ledger enforces them --------------------------------------------------------------------

Command = Callable[[HeatLedger, Principal], object]


def _register(ledger: HeatLedger, principal: Principal) -> object:
    return register_household(ledger, "WZ-0009", principal=principal)


def _correct(ledger: HeatLedger, principal: Principal) -> object:
    return ledger.correct_area(principal, "WZ-0001", Areas(Decimal(95), Decimal(90)), date(2025, 12, 1), "survey")


def _suspend(ledger: HeatLedger, principal: Principal) -> object:
    return ledger.suspend_heating(principal, "WZ-0001", date(2025, 12, 1), "away")


def _commission(ledger: HeatLedger, principal: Principal) -> object:
    return commission_meter(ledger, "M-9", principal=principal)


def _attach(ledger: HeatLedger, principal: Principal) -> object:
    commission_meter(ledger, "M-2")
    return ledger.attach_meter(principal, "WZ-0001", "M-2", COMMISSIONED_AT)


def _detach(ledger: HeatLedger, principal: Principal) -> object:
    return ledger.detach_meter(principal, "M-1", SEASON_START, "replaced")


def _submit(ledger: HeatLedger, principal: Principal) -> object:
    return ledger.record_readings(principal, [item("M-1", SEASON_START, "1")])


COMMANDS: dict[str, Command] = {
    "register": _register,
    "correct_area": _correct,
    "suspend": _suspend,
    "commission": _commission,
    "attach": _attach,
    "detach": _detach,
    "submit": _submit,
}
ALLOWED = {
    Role.ADMIN: set(COMMANDS),
    Role.CLERK: set(COMMANDS),
    Role.CUSTOMER_SERVICE: set(COMMANDS),
    Role.AUDITOR: set(),
    Role.REGULATOR: set(),
    Role.DEVICE: {"submit"},
    Role.PAYMENT_GATEWAY: set(),
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_ledger_lets_each_role_do_only_what_it_may(role: Role, command: str) -> None:
    ledger = memory_ledger()
    household_with_meter(ledger)
    before = last_notification_id(ledger)
    principal = Principal(f"{role.value}-1", role)
    if command in ALLOWED[role]:
        COMMANDS[command](ledger, principal)
        assert last_notification_id(ledger) > before
    else:
        with pytest.raises(PermissionDeniedError):
            COMMANDS[command](ledger, principal)
        # "attach" commissions its meter as the system first; nothing of the denied command is saved.
        assert last_notification_id(ledger) == before + (1 if command == "attach" else 0)
