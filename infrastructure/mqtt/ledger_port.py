"""The gateway's side of the ledger: the application's RoomControllers under the gateway's own
principal (a ``device`` role: it submits reports and answers, and requests no command), and the
intake's quarantine for messages the ledger cannot record."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime

from application.authorization import Principal, Role
from application.valve_arrears import PROCESS, ArrearsRestrictions, ReconciliationSummary
from application.valves import MAXIMUM_REPORT_BATCH, ReportItem, RoomControllers
from domain.valve import DeviceReport, ReportSource
from infrastructure.intake import Channel, ReadingIntake
from infrastructure.mqtt.gateway import IncomingReport, OutgoingCommand
from infrastructure.mqtt.payloads import AckMessage, AckResult, ReportMessage

logger = logging.getLogger(__name__)


def gateway_principal(client_id: str) -> Principal:
    """The actor recorded on what a gateway records: ``gateway:<its MQTT client id>``."""
    return Principal(name=f"gateway:{client_id}", role=Role.DEVICE)


def device_report(report: ReportMessage) -> DeviceReport:
    """The domain's report of a report message (the battery to a whole percent, as panels show it)."""
    battery = None if report.battery_percent is None else int(report.battery_percent.to_integral_value())
    return DeviceReport(
        report_id=report.report_id,
        measured_at=report.measured_at,
        room_temperature_c=report.room_temperature_c,
        humidity_percent=report.humidity_percent,
        set_temperature_c=report.set_temperature_c,
        valve_gear=report.valve_gear,
        valve_state=report.valve_state.value if report.valve_state is not None else None,
        valve_open_hours_total=report.valve_open_hours_total,
        signal_dbm=report.signal_dbm,
        battery_percent=battery,
    )


class RoomControllersPort:
    """``infrastructure.mqtt.gateway.DeviceLedger`` over the application."""

    def __init__(
        self,
        controllers: RoomControllers,
        intake: ReadingIntake,
        principal: Principal,
        catch_up: Callable[[], object] | None = None,
    ) -> None:
        self.controllers = controllers
        self.intake = intake
        self.principal = principal
        # Where no catch-up follows each command (production), the gateway brings the command
        # read model up to date itself before it asks what is due.
        self.catch_up = catch_up

    def commands_to_dispatch(self, limit: int) -> Sequence[OutgoingCommand]:
        if self.catch_up is not None:
            self.catch_up()
        due = self.controllers.commands_to_dispatch(limit, self.principal)
        return [
            OutgoingCommand(command.device_id, command.command_id, command.kind, command.params, command.attempt)
            for command in due
        ]

    def record_dispatch(self, command: OutgoingCommand, at: datetime) -> None:
        self.controllers.record_dispatch(command.device_id, command.command_id, command.attempt, at, self.principal)

    def record_acknowledgement(self, device_id: str, ack: AckMessage, at: datetime) -> None:
        if ack.result is AckResult.ACCEPTED:
            self.controllers.record_acknowledgement(device_id, ack.command_id, at, self.principal)
        else:
            self.controllers.record_refusal(device_id, ack.command_id, ack.code or "unknown", at, self.principal)

    def record_timeouts(self, now: datetime) -> int:
        if self.catch_up is not None:
            self.catch_up()
        return len(self.controllers.record_timeouts(now, self.principal))

    def record_reports(self, reports: Sequence[IncomingReport]) -> int:
        recorded = 0
        for start in range(0, len(reports), MAXIMUM_REPORT_BATCH):
            items = [
                ReportItem(incoming.device_id, device_report(incoming.report), ReportSource.MQTT)
                for incoming in reports[start : start + MAXIMUM_REPORT_BATCH]
            ]
            recorded += sum(self.controllers.record_reports(items, self.principal))
        return recorded

    def quarantine(self, topic: str, reason: str, detail: str, payload: bytes) -> None:
        text = f"{topic} {payload.decode('utf-8', errors='replace')}"
        self.intake.quarantine(Channel.MQTT, self.principal.name, reason, detail, text, identification=topic[-64:])


def arrears_reconciliation(
    restrictions: ArrearsRestrictions,
    today: Callable[[], date],
    catch_up: Callable[[], object] | None = None,
) -> Callable[[], ReconciliationSummary]:
    """The gateway's periodic run of the arrears restrictions, as their own process (not the
    gateway's device principal, which may command nothing), on the business day ``today`` gives.
    Where no catch-up follows each command, the read models it compares are brought up to date
    first (a payment must be seen for its lift to be queued)."""

    def reconcile() -> ReconciliationSummary:
        if catch_up is not None:
            catch_up()
        summary = restrictions.reconcile(PROCESS, today())
        if summary.restricted or summary.lifted or summary.withdrawn_flags:
            logger.info(
                "arrears restrictions: %d flags withdrawn as paid, %d valves restricted, %d lifted",
                len(summary.withdrawn_flags),
                len(summary.restricted),
                len(summary.lifted),
            )
        return summary

    return reconcile
