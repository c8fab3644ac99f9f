"""Billing use cases: tariffs, building allocations, billing periods and billing runs.

A service beside the ``HeatLedger`` application: it loads and saves through the ledger, so tariffs,
periods and bills share the ledger's event store, notification log and projections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol
from uuid import UUID, uuid4

from application.authorization import Permission, Principal
from application.billing_inputs import BillingInputs, HouseholdFacts
from application.ledger import AggregateType, HeatLedger
from domain import ids
from domain.allocation import Allocation, AllocationMethod, FlatInput, allocate
from domain.billing_period import BillingPeriod
from domain.building_allocation import BuildingAllocation
from domain.errors import InvalidInputError, NotFoundError
from domain.season import Season
from domain.tariff import CITY_SCOPE, BilledArea, Tariff, TariffTerms, TariffVersion
from domain.values import CommandContext, CustomerClass

# No community holds more households than this (a city has 100,000–300,000 in all).
MAXIMUM_HOUSEHOLDS_PER_COMMUNITY = 100_000
# Valve-open hours read from the controllers' reports are kept to the thousandth (3.6 s), as reported.
OPEN_HOURS_QUANTUM = Decimal("0.001")


class ValveOpenHoursReader(Protocol):
    """The room telemetry read model's valve-open hours (``RoomTelemetryQueries``)."""

    def open_hours_between(self, account_numbers: Sequence[str], first_day: date, last_day: date) -> dict[str, Decimal]:
        """Each household's valve-open hours over the days: only households with reports."""
        ...


@dataclass(frozen=True)
class TariffInForce:
    """The tariff and version that govern a household's season."""

    tariff: Tariff
    version: TariffVersion


class Billing:
    """Tariffs, allocations and billing periods, with the caller's permission checked first."""

    def __init__(
        self, ledger: HeatLedger, inputs: BillingInputs, valve_hours: ValveOpenHoursReader | None = None
    ) -> None:
        self.ledger = ledger
        self.inputs = inputs
        # Where the on-off time-area allocation finds the hours a clerk did not type (issue 14).
        self.valve_hours = valve_hours

    # -- tariffs ----------------------------------------------------------------------------

    def publish_tariff(
        self,
        principal: Principal,
        customer_class: CustomerClass,
        scope: str,
        terms: TariffTerms,
        effective_from: date,
        effective_until: date | None,
        document_number: str,
        approved_on: date,
        reason: str = "tariff approved by the price bureau",
        correlation_id: UUID | None = None,
    ) -> TariffVersion:
        """Publish a tariff version for a class in a scope (a community, or ``*`` for the city)."""
        principal.require(Permission.MANAGE_TARIFFS)
        context = CommandContext(principal.name, reason.strip() or "tariff", correlation_id or uuid4())
        tariff_id = ids.tariff_id(CustomerClass(customer_class).value, scope)
        with self.ledger.locks.writing([tariff_id]):  # beside other commands, on a copy
            tariff = self.ledger.copy_or_none(Tariff, tariff_id) or Tariff.open(customer_class, scope, context)
            number = tariff.publish(terms, effective_from, effective_until, document_number, approved_on, context)
            self.ledger.save(tariff)
        return tariff.version_numbered(number)

    def tariff(self, customer_class: CustomerClass, scope: str) -> Tariff:
        """The tariff of a class in a scope (the cached one: commands change copies), or NotFoundError."""
        tariff = self._cached(Tariff, ids.tariff_id(CustomerClass(customer_class).value, scope))
        if tariff is None:
            raise NotFoundError(
                f"no tariff for {customer_class} in {scope}", kind="tariff", key=f"{customer_class}:{scope}"
            )
        return tariff

    def tariff_in_force(self, customer_class: str, community: str, day: date) -> TariffInForce | None:
        """The community's own tariff in force on ``day``, else the city's; None when neither is."""
        for scope in (community, CITY_SCOPE):
            tariff = self._cached(Tariff, ids.tariff_id(customer_class, scope))
            version = tariff.in_force_on(day) if tariff is not None else None
            if tariff is not None and version is not None:
                return TariffInForce(tariff, version)
        return None

    # -- allocations ------------------------------------------------------------------------

    def record_allocation(
        self,
        principal: Principal,
        community: str,
        building: str,
        season: Season,
        method: AllocationMethod,
        flats: Sequence[FlatInput],
        outdoor_temperature_c: Decimal | None,
        building_energy_gj: Decimal | None = None,
        reason: str = "allocation inputs",
        correlation_id: UUID | None = None,
    ) -> tuple[int, Allocation]:
        """Share a building meter's season heat among its flats; returns the revision and shares.

        The building total is the building meter's heat over the season unless one is given (a
        manual figure, e.g. from the substation's log, stated in the reason). Under the on-off
        time-area method a flat given no ``open_hours`` takes its valve-open hours of the season
        from its room controllers' reports; the reason then says how many were read."""
        principal.require(Permission.RUN_BILLING)
        flats, reported = self._with_reported_open_hours(method, flats, season)
        if reported:
            # The hours themselves are in the recorded inputs; the reason says where they came from.
            reason = (
                f"{reason.strip() or 'allocation'}; valve-open hours of {len(reported)} flats from room controllers"
            )
        allocate(method, Decimal(0), flats, outdoor_temperature_c)  # the flats' inputs first: clearer errors
        self._require_unmetered_flats_of(community, building, flats)
        total, meter = self._building_total(community, building, season, building_energy_gj)
        context = CommandContext(principal.name, reason.strip() or "allocation", correlation_id or uuid4())
        aggregate_id = ids.building_allocation_id(community, building, season.code)
        with self.ledger.locks.writing([aggregate_id]):  # beside other commands, on a copy
            record = self.ledger.copy_or_none(BuildingAllocation, aggregate_id) or BuildingAllocation.start(
                community, building, season.code
            )
            allocation = record.record(method, total, meter, flats, outdoor_temperature_c, context)
            self.ledger.save(record)
        return record.revision, allocation

    def _with_reported_open_hours(
        self, method: AllocationMethod, flats: Sequence[FlatInput], season: Season
    ) -> tuple[Sequence[FlatInput], list[str]]:
        """The flats, those without typed ``open_hours`` given their season's hours from the
        room telemetry read model (a flat without reports stays without: the allocation then
        names it), and the accounts whose hours were read."""
        missing = [flat.account_number for flat in flats if flat.open_hours is None]
        if method != AllocationMethod.ON_OFF_TIME_AREA or not missing or self.valve_hours is None:
            return flats, []
        hours = self.valve_hours.open_hours_between(missing, season.first_day, season.last_day)
        completed = [
            replace(flat, open_hours=hours[flat.account_number].quantize(OPEN_HOURS_QUANTUM, ROUND_HALF_UP))
            if flat.open_hours is None and flat.account_number in hours
            else flat
            for flat in flats
        ]
        return completed, [account for account in missing if account in hours]

    def _require_unmetered_flats_of(self, community: str, building: str, flats: Sequence[FlatInput]) -> None:
        """Every flat must be a household of the building without a meter of its own: heat shared
        to an unknown account would be billed to nobody, and a metered flat is billed by its meter."""
        households = {
            household.account_number: household
            for household in self.inputs.households(community, MAXIMUM_HOUSEHOLDS_PER_COMMUNITY)
            if household.building == building
        }
        for flat in flats:
            household = households.get(flat.account_number)
            if household is None:
                raise InvalidInputError(
                    f"{flat.account_number} is not a household of building {building} in {community}",
                    message_key="allocation_flat_not_in_building",
                    account_number=flat.account_number,
                    community=community,
                    building=building,
                )
            if household.has_meter:
                raise InvalidInputError(
                    f"{flat.account_number} has its own heat meter and is billed by it",
                    message_key="allocation_flat_metered",
                    account_number=flat.account_number,
                )

    def _building_total(
        self, community: str, building: str, season: Season, given_gj: Decimal | None
    ) -> tuple[Decimal, str]:
        if given_gj is not None:
            return given_gj, "given"
        measured = self.inputs.building_energy_gj(community, building, season.first_day, season.last_day)
        if measured is None:
            raise InvalidInputError(
                "the building has no building meter with heat in the season: give the building total",
                message_key="building_total_missing",
                community=community,
                building=building,
            )
        return measured, "building meter"

    def allocation(self, community: str, building: str, season: Season) -> BuildingAllocation | None:
        """The building's allocation for the season, if one was recorded."""
        return self._cached(BuildingAllocation, ids.building_allocation_id(community, building, season.code))

    # -- billing periods --------------------------------------------------------------------

    def period(self, account_number: str, season: Season) -> BillingPeriod:
        """A household's billing period of a season, or NotFoundError."""
        period = self._cached(BillingPeriod, ids.billing_period_id(account_number, season.code))
        if period is None:
            raise NotFoundError(
                f"no billing period {season.code} for {account_number}",
                kind="billing_period",
                key=f"{account_number}:{season.code}",
            )
        return period

    def _cached(self, kind: type[AggregateType], aggregate_id: UUID) -> AggregateType | None:
        """The cached aggregate itself, loaded under its id's lock: for reading, never for changing
        in place (commands change copies; billing runs, which judge cached periods, run exclusive)."""
        with self.ledger.locks.writing([aggregate_id]):
            return self.ledger.load_or_none(kind, aggregate_id)

    def open_period(
        self,
        household: HouseholdFacts,
        season: Season,
        tariff: TariffInForce,
        context: CommandContext,
        days: tuple[date, date] | None = None,
    ) -> BillingPeriod:
        """A new billing period of the household under the tariff in force (not yet saved), over
        ``days`` of the season (None: all of them)."""
        terms = tariff.version.terms
        area = (
            household.connected_area_m2
            if BilledArea(terms.billed_area) is BilledArea.CONNECTED
            else household.heated_area_m2
        )
        return BillingPeriod.open(
            household.household_id,
            household.account_number,
            household.community,
            household.building,
            season,
            tariff.tariff.id,
            tariff.tariff.scope,
            tariff.version,
            area,
            terms.coefficient_for(household.vertical_position, household.horizontal_position),
            context,
            days,
        )
