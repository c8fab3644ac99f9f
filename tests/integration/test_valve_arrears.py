"""Arrears restrictions on each backend (issue 14): an approved arrears flag becomes a restriction
command through the process manager only, once however often it runs; when the household pays,
the flag is withdrawn as paid and the restriction lifted, once."""

from __future__ import annotations

from datetime import date

from application.valve_arrears import PROCESS
from domain.arrears import FlagStatus
from domain.valve_commands import CommandPolicy
from infrastructure.container import Container
from projections.valve_commands import ValveQueries
from tests.integration.test_arrears_read_models import CLERK_LI, CLERK_WANG, POLICY, TODAY, owing  # noqa: F401
from tests.integration.test_payment_read_models import at, pay


def test_an_approved_flag_restricts_and_paying_lifts(owing: Container) -> None:  # noqa: F811
    valves = owing.room_controllers
    valves.install("RC-1", "WZ-1", 5, CLERK_LI)
    valves.install("RC-5", "WZ-5", 5, CLERK_LI)
    flag_id = owing.arrears.flag_candidates(CLERK_LI, POLICY, TODAY).outcomes[0].flag_id
    assert flag_id is not None
    process = owing.arrears_restrictions
    raised = process.reconcile(CLERK_LI, TODAY)
    assert (raised.restricted, raised.lifted, raised.withdrawn_flags) == ([], [], [])  # raised, not approved

    owing.arrears.approve(CLERK_WANG, flag_id, "checked")
    first = process.reconcile(CLERK_LI, TODAY)
    assert (first.restricted, first.lifted, first.withdrawn_flags) == (["RC-1"], [], [])
    assert process.reconcile(CLERK_LI, TODAY).restricted == []  # once
    [restriction] = ValveQueries(owing.engine).commands(device_id="RC-1")
    assert (restriction.kind, restriction.params, restriction.policy, restriction.requested_by) == (
        "force_gear",
        {"gear": str(owing.settings.valve_arrears_gear)},
        CommandPolicy.ARREARS_RESTRICTION.value,
        PROCESS.name,
    )
    assert ValveQueries(owing.engine).commands(device_id="RC-5") == []

    pay(owing, "WZ-1", "1944.00", at(date(2026, 1, 9)), "R-0009")
    owing.catch_up()
    paid = process.reconcile(CLERK_LI, TODAY)
    assert (paid.restricted, paid.lifted, paid.withdrawn_flags) == ([], ["RC-1"], ["WZ-1"])
    assert owing.arrears.flag(flag_id).status is FlagStatus.WITHDRAWN
    assert owing.arrears.flag(flag_id).withdrawal_kind == "paid"
    again = process.reconcile(CLERK_LI, TODAY)
    assert (again.restricted, again.lifted, again.withdrawn_flags) == ([], [], [])
    lift, _ = ValveQueries(owing.engine).commands(device_id="RC-1")
    assert (lift.kind, lift.policy) == ("force_open", CommandPolicy.ARREARS_LIFT.value)
    assert ValveQueries(owing.engine).arrears_restricted_devices() == []
