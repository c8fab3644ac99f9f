"""The Household aggregate: a heat customer's account, its flat, its areas and its meters."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.errors import ConflictError, InvalidInputError
from domain.values import (
    MAXIMUM_CODE_LENGTH,
    MAXIMUM_NAME_LENGTH,
    Address,
    Areas,
    CommandContext,
    CustomerClass,
    HorizontalPosition,
    Position,
    VerticalPosition,
    bounded_text,
    valid_account_number,
)

AREA_RESOLUTION_M2 = Decimal("0.01")
# No flat or shop is larger than this; a bigger figure is a typing error, not a customer.
MAXIMUM_AREA_M2 = Decimal(100000)
# 销户 is arranged for the coming months, not years ahead: a later date is a typing error.
MAXIMUM_DEREGISTRATION_LEAD_DAYS = 366
# The last day of year 9998: a deregistration date after it (9999-12-31 and the like) is refused,
# so that the day after the last billed one always exists.
LATEST_DEREGISTRATION_DAY = date(9998, 12, 31)


def validate_areas(connected_area_m2: Decimal, heated_area_m2: Decimal) -> Areas:
    """Areas are positive, to 0.01 m², and the heated area never exceeds the connected area."""
    for name, value in (("connected_area_m2", connected_area_m2), ("heated_area_m2", heated_area_m2)):
        if not value.is_finite() or value <= 0 or value > MAXIMUM_AREA_M2:
            raise InvalidInputError(
                f"{name} must be positive and at most {MAXIMUM_AREA_M2} m²",
                message_key="area_out_of_range",
                field=name,
                limit=str(MAXIMUM_AREA_M2),
                value=str(value),
            )
        if value != value.quantize(AREA_RESOLUTION_M2):
            raise InvalidInputError(
                f"{name} has more than two decimals", message_key="area_too_precise", field=name, value=str(value)
            )
    if heated_area_m2 > connected_area_m2:
        raise InvalidInputError(
            "the heated area cannot exceed the connected area",
            message_key="heated_area_exceeds_connected",
            field="heated_area_m2",
            value=str(heated_area_m2),
        )
    return Areas(connected_area_m2, heated_area_m2)


def latest_deregistration_day(today: date) -> date:
    """The latest deregistration date taken on the business day ``today``: a year ahead, never in
    year 9999 (counted without building a date past 9999-12-31, which Python cannot hold)."""
    days_left = (LATEST_DEREGISTRATION_DAY - today).days
    return today + timedelta(days=min(MAXIMUM_DEREGISTRATION_LEAD_DAYS, days_left))


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


class Household(Aggregate):
    """A heat customer's account (natural key: the account number) and its flat.

    Commands validate and compute; the ``@event`` methods only assign state, so replay is safe.
    """

    class Registered(Aggregate.Created):
        account_number: str
        community: str
        building: str
        entrance: str
        floor: int
        flat: str
        connected_area_m2: Decimal
        heated_area_m2: Decimal
        customer_class: str
        vertical_position: str
        horizontal_position: str
        registered_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class AreaCorrected(Aggregate.Event):
        connected_area_m2: Decimal
        heated_area_m2: Decimal
        effective_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class HeatingSuspended(Aggregate.Event):
        effective_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class HeatingResumed(Aggregate.Event):
        effective_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class OwnerChanged(Aggregate.Event):
        """过户: the flat passed to a new account holder from ``effective_on`` (no names are kept:
        the bills of the season are split at this day)."""

        effective_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class Deregistered(Aggregate.Event):
        """销户/拆网: the household left the network. ``effective_on`` is the first day it is
        neither supplied nor billed; its last billed day is the day before."""

        effective_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class MeterAttached(Aggregate.Event):
        meter_id: UUID
        meter_serial: str
        attached_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class MeterDetached(Aggregate.Event):
        meter_id: UUID
        meter_serial: str
        detached_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class MarkedVulnerable(Aggregate.Event):
        """The household is protected from arrears restriction (elderly, ill, hardship)."""

        actor: str
        reason: str
        correlation_id: UUID

    class VulnerabilityCleared(Aggregate.Event):
        actor: str
        reason: str
        correlation_id: UUID

    class DisputeOpened(Aggregate.Event):
        """A dispute of the household opened (``domain.dispute.Dispute``, saved with it): its
        disputed amount is held back from dunning and arrears flags while it is open.

        Version 2 names the dispute and its amount. Version 1 events (the old dispute flag, before
        disputes had amounts) come back with neither: such a dispute holds everything past due, as
        it did when it was recorded, until it is closed (``domain.dispute_hold``)."""

        class_version = 2
        actor: str
        reason: str
        correlation_id: UUID
        dispute_id: UUID | None
        disputed_amount_yuan: Decimal | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["dispute_id"] = None
            state["disputed_amount_yuan"] = None

    class DisputeClosed(Aggregate.Event):
        """A dispute of the household closed (resolved, rejected or withdrawn). Version 2 names the
        dispute; version 1 events (and closing an old flag) have none and close a dispute without
        an amount."""

        class_version = 2
        actor: str
        reason: str
        correlation_id: UUID
        dispute_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["dispute_id"] = None

    @staticmethod
    def create_id(account_number: str) -> UUID:
        return ids.household_id(account_number)

    @event(Registered)
    def __init__(
        self,
        account_number: str,
        community: str,
        building: str,
        entrance: str,
        floor: int,
        flat: str,
        connected_area_m2: Decimal,
        heated_area_m2: Decimal,
        customer_class: str,
        vertical_position: str,
        horizontal_position: str,
        registered_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.account_number = account_number
        self.address = Address(community, building, entrance, floor, flat)
        self.areas = Areas(connected_area_m2, heated_area_m2)
        self.customer_class = CustomerClass(customer_class)
        self.position = Position(VerticalPosition(vertical_position), HorizontalPosition(horizontal_position))
        self.registered_on = registered_on
        self.suspended_since: date | None = None
        self.suspensions: list[tuple[date, date | None]] = []
        # Keyed by str(meter id): snapshots store state as JSON, whose keys are strings.
        self.meter_serials: dict[str, str] = {}
        self.owner_changes: list[date] = []
        self.vulnerable = False
        # Every open dispute; those with an amount by dispute id (str: state is JSON in snapshots),
        # and how many without one (old dispute flags, which hold everything past due).
        self.open_disputes = 0
        self.disputed_amounts: dict[str, Decimal] = {}
        self.open_disputes_without_amount = 0
        self.deregistered_on: date | None = None

    @classmethod
    def register(
        cls,
        account_number: str,
        address: Address,
        areas: Areas,
        customer_class: CustomerClass,
        position: Position,
        registered_on: date,
        context: CommandContext,
    ) -> Household:
        """Open a household account. Validates every value before any event exists."""
        account = valid_account_number(bounded_text(account_number, "account_number", MAXIMUM_CODE_LENGTH))
        community = bounded_text(address.community, "community", MAXIMUM_NAME_LENGTH)
        building = bounded_text(address.building, "building", MAXIMUM_CODE_LENGTH)
        entrance = bounded_text(address.entrance, "entrance", MAXIMUM_CODE_LENGTH, required=False)
        flat = bounded_text(address.flat, "flat", MAXIMUM_CODE_LENGTH)
        if not -10 <= address.floor <= 200:
            raise InvalidInputError(
                "the floor must lie between -10 and 200",
                message_key="floor_out_of_range",
                field="floor",
                value=str(address.floor),
            )
        checked = validate_areas(areas.connected_area_m2, areas.heated_area_m2)
        return cls(
            account_number=account,
            community=community,
            building=building,
            entrance=entrance,
            floor=address.floor,
            flat=flat,
            connected_area_m2=checked.connected_area_m2,
            heated_area_m2=checked.heated_area_m2,
            customer_class=CustomerClass(customer_class).value,
            vertical_position=VerticalPosition(position.vertical).value,
            horizontal_position=HorizontalPosition(position.horizontal).value,
            registered_on=registered_on,
            **_context_fields(context),
        )

    @property
    def is_suspended(self) -> bool:
        return self.suspended_since is not None

    @property
    def is_deregistered(self) -> bool:
        return self.deregistered_on is not None

    def _require_supplied(self, effective_on: date | None = None) -> None:
        """ConflictError once the household has left the network (from ``effective_on`` on, when
        the change has a date: a change dated before the deregistration still describes a
        supplied flat)."""
        if self.deregistered_on is None:
            return
        if effective_on is not None and effective_on < self.deregistered_on:
            return
        raise ConflictError(
            "the household is deregistered",
            message_key="household_deregistered",
            account_number=self.account_number,
            deregistered_on=self.deregistered_on.isoformat(),
        )

    def correct_area(self, areas: Areas, effective_on: date, context: CommandContext) -> None:
        """Record a corrected area (a survey, a mistake in the master data) from a date on;
        after a deregistration only for days before it."""
        self._require_supplied(effective_on)
        checked = validate_areas(areas.connected_area_m2, areas.heated_area_m2)
        if checked == self.areas:
            raise ConflictError(
                "the household already has these areas",
                message_key="areas_unchanged",
                account_number=self.account_number,
            )
        self._area_corrected(
            checked.connected_area_m2, checked.heated_area_m2, effective_on, **_context_fields(context)
        )

    @event(AreaCorrected)
    def _area_corrected(
        self,
        connected_area_m2: Decimal,
        heated_area_m2: Decimal,
        effective_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.areas = Areas(connected_area_m2, heated_area_m2)

    def suspend_heating(self, effective_on: date, context: CommandContext) -> None:
        """报停: the household stops taking heat from a date on."""
        self._require_supplied()
        if self.is_suspended:
            raise ConflictError(
                "heating is already suspended", message_key="already_suspended", account_number=self.account_number
            )
        self._require_after_last_suspension_change(effective_on)
        self._heating_suspended(effective_on, **_context_fields(context))

    @event(HeatingSuspended)
    def _heating_suspended(self, effective_on: date, actor: str, reason: str, correlation_id: UUID) -> None:
        self.suspended_since = effective_on
        self.suspensions.append((effective_on, None))

    def resume_heating(self, effective_on: date, context: CommandContext) -> None:
        """The household takes heat again from a date on."""
        self._require_supplied()
        if self.suspended_since is None:
            raise ConflictError(
                "heating is not suspended", message_key="not_suspended", account_number=self.account_number
            )
        self._require_after_last_suspension_change(effective_on)
        self._heating_resumed(effective_on, **_context_fields(context))

    @event(HeatingResumed)
    def _heating_resumed(self, effective_on: date, actor: str, reason: str, correlation_id: UUID) -> None:
        start, _ = self.suspensions[-1]
        self.suspensions[-1] = (start, effective_on)
        self.suspended_since = None

    def _require_after_last_suspension_change(self, effective_on: date) -> None:
        if effective_on < self.registered_on:
            raise InvalidInputError(
                "heating cannot be suspended or resumed before the household was registered",
                message_key="suspension_before_registration",
                field="effective_on",
                value=effective_on.isoformat(),
                registered_on=self.registered_on.isoformat(),
            )
        if not self.suspensions:
            return
        start, end = self.suspensions[-1]
        latest = end if end is not None else start
        if effective_on < latest:
            raise InvalidInputError(
                "the date lies before the last suspension change",
                message_key="before_last_suspension_change",
                field="effective_on",
                value=effective_on.isoformat(),
            )

    def change_owner(self, effective_on: date, context: CommandContext) -> None:
        """过户: record that the flat passes to a new holder from ``effective_on`` on."""
        self._require_supplied()
        if effective_on < self.registered_on or any(effective_on <= earlier for earlier in self.owner_changes):
            raise InvalidInputError(
                "an owner change must follow the registration and every earlier owner change",
                message_key="owner_change_out_of_order",
                field="effective_on",
                value=effective_on.isoformat(),
            )
        self._owner_changed(effective_on, **_context_fields(context))

    @event(OwnerChanged)
    def _owner_changed(self, effective_on: date, actor: str, reason: str, correlation_id: UUID) -> None:
        self.owner_changes.append(effective_on)

    def deregister(self, effective_on: date, context: CommandContext, *, today: date) -> None:
        """销户/拆网: the household leaves the network; ``effective_on`` is the first day it is
        neither supplied nor billed (the last billed day is the day before).

        ``effective_on`` follows the registration and every owner change, does not precede the
        last suspension or resumption, and lies at most a year after ``today`` (the business day).
        Meters may still be detached afterwards; nothing that changes the supply is taken.
        """
        if self.deregistered_on is not None:
            raise ConflictError(
                "the household is deregistered already",
                message_key="already_deregistered",
                account_number=self.account_number,
                deregistered_on=self.deregistered_on.isoformat(),
            )
        self._require_deregistration_in_order(effective_on)
        latest = latest_deregistration_day(today)
        if effective_on > latest:
            raise InvalidInputError(
                "the deregistration date lies more than a year after today",
                message_key="deregistration_too_far_ahead",
                field="effective_on",
                value=effective_on.isoformat(),
                latest=latest.isoformat(),
            )
        self._deregistered(effective_on, **_context_fields(context))

    def _require_deregistration_in_order(self, effective_on: date) -> None:
        """InvalidInputError unless the household is supplied at least one day and every earlier
        change of the account (owner change, suspension, resumption) lies before the date."""
        earliest = max(
            [self.registered_on + timedelta(days=1)]
            + [change + timedelta(days=1) for change in self.owner_changes]
            + [end if end is not None else start for start, end in self.suspensions[-1:]]
        )
        if effective_on < earliest:
            raise InvalidInputError(
                "a deregistration must follow the registration and every owner change, and not "
                "precede the last suspension or resumption",
                message_key="deregistration_before_registration",
                field="effective_on",
                value=effective_on.isoformat(),
                registered_on=self.registered_on.isoformat(),
                earliest=earliest.isoformat(),
            )

    @event(Deregistered)
    def _deregistered(self, effective_on: date, actor: str, reason: str, correlation_id: UUID) -> None:
        self.deregistered_on = effective_on

    def attach_meter(self, meter_id: UUID, meter_serial: str, attached_at: datetime, context: CommandContext) -> None:
        """Record that a meter now measures this household's heat (not after a deregistration)."""
        self._require_supplied()
        if str(meter_id) in self.meter_serials:
            raise ConflictError(
                "the meter is already attached to this household",
                message_key="meter_already_attached_here",
                meter_serial=meter_serial,
            )
        self._meter_attached(meter_id, meter_serial, attached_at, **_context_fields(context))

    @event(MeterAttached)
    def _meter_attached(
        self, meter_id: UUID, meter_serial: str, attached_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        self.meter_serials[str(meter_id)] = meter_serial

    def detach_meter(self, meter_id: UUID, detached_at: datetime, context: CommandContext) -> None:
        """Record that a meter no longer measures this household's heat."""
        serial = self.meter_serials.get(str(meter_id))
        if serial is None:
            raise ConflictError(
                "the meter is not attached to this household",
                message_key="meter_not_attached_here",
                meter_id=str(meter_id),
            )
        self._meter_detached(meter_id, serial, detached_at, **_context_fields(context))

    @event(MeterDetached)
    def _meter_detached(
        self, meter_id: UUID, meter_serial: str, detached_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        del self.meter_serials[str(meter_id)]

    def mark_vulnerable(self, context: CommandContext) -> None:
        """Protect the household from arrears restriction, with why."""
        if self.vulnerable:
            raise ConflictError(
                "the household is marked vulnerable already",
                message_key="already_vulnerable",
                account_number=self.account_number,
            )
        self._marked_vulnerable(**_context_fields(context))

    @event(MarkedVulnerable)
    def _marked_vulnerable(self, actor: str, reason: str, correlation_id: UUID) -> None:
        self.vulnerable = True

    def clear_vulnerability(self, context: CommandContext) -> None:
        """The household is no longer protected as vulnerable."""
        if not self.vulnerable:
            raise ConflictError(
                "the household is not marked vulnerable",
                message_key="not_vulnerable",
                account_number=self.account_number,
            )
        self._vulnerability_cleared(**_context_fields(context))

    @event(VulnerabilityCleared)
    def _vulnerability_cleared(self, actor: str, reason: str, correlation_id: UUID) -> None:
        self.vulnerable = False

    @property
    def disputed_yuan(self) -> Decimal | None:
        """What the open disputes dispute in all; None while one without an amount is open (it
        holds everything past due)."""
        if self.open_disputes_without_amount:
            return None
        return sum(self.disputed_amounts.values(), Decimal("0.00"))

    def open_dispute(self, dispute_id: UUID, disputed_amount_yuan: Decimal, context: CommandContext) -> None:
        """Hold a dispute's amount (元, ≥ 0) while it is open; saved with the dispute's opening."""
        if str(dispute_id) in self.disputed_amounts:
            raise ConflictError(
                "the dispute is open already", message_key="dispute_open_already", dispute_id=str(dispute_id)
            )
        assert disputed_amount_yuan.is_finite() and disputed_amount_yuan >= 0, "a disputed amount is checked first"
        self._dispute_opened(
            **_context_fields(context), dispute_id=dispute_id, disputed_amount_yuan=disputed_amount_yuan
        )

    @event(DisputeOpened)
    def _dispute_opened(
        self,
        actor: str,
        reason: str,
        correlation_id: UUID,
        dispute_id: UUID | None,
        disputed_amount_yuan: Decimal | None,
    ) -> None:
        self.open_disputes += 1
        if dispute_id is None or disputed_amount_yuan is None:
            self.open_disputes_without_amount += 1
        else:
            self.disputed_amounts[str(dispute_id)] = disputed_amount_yuan

    def close_dispute(self, dispute_id: UUID | None, context: CommandContext) -> None:
        """Release a dispute's hold (it was resolved, rejected or withdrawn; the reason says how).
        ``dispute_id`` None closes an old dispute flag without an amount."""
        open_here = (
            self.open_disputes_without_amount > 0 if dispute_id is None else str(dispute_id) in self.disputed_amounts
        )
        if not open_here:
            raise ConflictError(
                "the household has no such open dispute",
                message_key="no_open_dispute" if dispute_id is None else "dispute_not_open_here",
                account_number=self.account_number,
                dispute_id=str(dispute_id or ""),
            )
        self._dispute_closed(**_context_fields(context), dispute_id=dispute_id)

    @event(DisputeClosed)
    def _dispute_closed(self, actor: str, reason: str, correlation_id: UUID, dispute_id: UUID | None) -> None:
        self.open_disputes -= 1
        if dispute_id is None or str(dispute_id) not in self.disputed_amounts:
            self.open_disputes_without_amount -= 1
        else:
            del self.disputed_amounts[str(dispute_id)]
