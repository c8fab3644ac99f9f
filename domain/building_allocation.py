"""The BuildingAllocation aggregate: how a building without household meters shares its building
meter's heat for a season (on-off time-area, temperature-area or heat cost allocators).

Each recording is a revision carrying its inputs, the building total and the resulting shares;
a correction is a new revision with who and why. Billing uses the latest revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.allocation import Allocation, AllocationMethod, FlatInput, FlatShare, Radiator, allocate
from domain.billing import AllocatedHeat
from domain.values import CommandContext


def _flat_record(flat: FlatInput) -> dict[str, Any]:
    return {
        "account_number": flat.account_number,
        "area_m2": flat.area_m2,
        "open_hours": flat.open_hours,
        "room_temperature_c": flat.room_temperature_c,
        "radiators": [
            {
                "reading_units": r.reading_units,
                "rating_factor_kq": r.rating_factor_kq,
                "contact_factor_kc": r.contact_factor_kc,
            }
            for r in flat.radiators
        ],
    }


def _flat_from_record(record: dict[str, Any]) -> FlatInput:
    radiators = tuple(
        Radiator(Decimal(r["reading_units"]), Decimal(r["rating_factor_kq"]), Decimal(r["contact_factor_kc"]))
        for r in record["radiators"]
    )
    return FlatInput(
        record["account_number"],
        Decimal(record["area_m2"]),
        Decimal(record["open_hours"]) if record["open_hours"] is not None else None,
        Decimal(record["room_temperature_c"]) if record["room_temperature_c"] is not None else None,
        radiators,
    )


class BuildingAllocation(Aggregate):
    """A building's allocation of its measured heat for one season, as revisions."""

    class Started(Aggregate.Created):
        community: str
        building: str
        season_code: str

    class AllocationRecorded(Aggregate.Event):
        revision: int
        method: str
        building_energy_gj: Decimal
        building_meter: str
        outdoor_temperature_c: Decimal | None
        flats: list[dict[str, Any]]
        shares: list[dict[str, Any]]
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(community: str, building: str, season_code: str) -> UUID:
        return ids.building_allocation_id(community, building, season_code)

    @event(Started)
    def __init__(self, community: str, building: str, season_code: str) -> None:
        self.community = community
        self.building = building
        self.season_code = season_code
        self.revision = 0
        self.latest: Allocation | None = None
        self.flats: tuple[FlatInput, ...] = ()
        self.building_meter = ""

    @classmethod
    def start(cls, community: str, building: str, season_code: str) -> BuildingAllocation:
        return cls(community=community, building=building, season_code=season_code)

    def record(
        self,
        method: AllocationMethod,
        building_energy_gj: Decimal,
        building_meter: str,
        flats: Sequence[FlatInput],
        outdoor_temperature_c: Decimal | None,
        context: CommandContext,
    ) -> Allocation:
        """Allocate the building's heat among its flats and record it as the next revision."""
        allocation = allocate(method, building_energy_gj, flats, outdoor_temperature_c)
        self._allocation_recorded(
            self.revision + 1,
            AllocationMethod(method).value,
            allocation.building_energy_gj,
            building_meter,
            outdoor_temperature_c,
            [_flat_record(flat) for flat in flats],
            [
                {"account_number": share.account_number, "weight": share.weight, "energy_gj": share.energy_gj}
                for share in allocation.shares
            ],
            context.actor,
            context.reason,
            context.correlation_id,
        )
        return allocation

    @event(AllocationRecorded)
    def _allocation_recorded(
        self,
        revision: int,
        method: str,
        building_energy_gj: Decimal,
        building_meter: str,
        outdoor_temperature_c: Decimal | None,
        flats: list[dict[str, Any]],
        shares: list[dict[str, Any]],
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        flat_shares = tuple(
            FlatShare(share["account_number"], Decimal(share["weight"]), Decimal(share["energy_gj"]))
            for share in shares
        )
        weight_total = sum((share.weight for share in flat_shares), Decimal(0))
        self.latest = Allocation(
            AllocationMethod(method), building_energy_gj, outdoor_temperature_c, weight_total, flat_shares
        )
        self.flats = tuple(_flat_from_record(flat) for flat in flats)
        self.building_meter = building_meter
        self.revision = revision

    def heat_of(self, account_number: str) -> AllocatedHeat | None:
        """The household's allocated heat in the latest revision, or None when it has no share."""
        if self.latest is None:
            return None
        inputs = {flat.account_number: flat for flat in self.flats}
        for share in self.latest.shares:
            if share.account_number == account_number:
                return AllocatedHeat(
                    self.latest.method.value,
                    self.latest.building_energy_gj,
                    share.weight,
                    self.latest.weight_total,
                    share.energy_gj,
                    self.revision,
                    _describe_inputs(self.latest.method, inputs[account_number]),
                    self.latest.outdoor_temperature_c,
                )
        return None


def _describe_inputs(method: AllocationMethod, flat: FlatInput) -> str:
    """The flat's inputs the method weighs, as a bill shows them."""
    if method is AllocationMethod.ON_OFF_TIME_AREA:
        return f"open_hours {flat.open_hours}, area_m2 {flat.area_m2}"
    if method is AllocationMethod.TEMPERATURE_AREA:
        return f"room_temperature_c {flat.room_temperature_c}, area_m2 {flat.area_m2}"
    radiators = "; ".join(
        f"r {radiator.reading_units} × K_Q {radiator.rating_factor_kq} × K_C {radiator.contact_factor_kc}"
        for radiator in flat.radiators
    )
    return f"radiators: {radiators}"
