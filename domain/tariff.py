"""The Tariff aggregate: effective-dated versions of the two-part heat price for one customer class
in one scope (a community, or the whole city).

A version is never edited: a new one supersedes it from its own first day. Versions of one tariff
never overlap: a new version starts after every earlier one started, and after the last one ends
when that one has an end date. A price the price bureau revises after the season is a
``TariffCorrection`` (domain/tariff_correction.py): the version stays as published, the tariff
records that it was corrected (``VersionCorrected``, with the document and the correction), and
the periods billed under it take credit and debit notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.position import SOURCE_COEFFICIENTS
from domain.settlement import (
    HUNDRED,
    PositionCorrection,
    Rounding,
    RoundingMode,
    SettlementPolicy,
    TwoPartPrice,
)
from domain.values import MAXIMUM_CODE_LENGTH, CommandContext, CustomerClass, bounded_text

# The scope of a city-wide tariff; a community's own tariff takes precedence over it.
CITY_SCOPE = "*"
# No position coefficient in the trade's studies lies outside this range (domain.md §7: up to 120 %).
MAXIMUM_POSITION_COEFFICIENT = Decimal(5)
COEFFICIENT_RESOLUTION = Decimal("0.001")


class BilledArea(StrEnum):
    """Which area the area fee and base part are charged on."""

    CONNECTED = "connected"  # the contracted (construction) area, the usual basis of area charging
    HEATED = "heated"


class BrokenMeterMethod(StrEnum):
    """How a household is billed when its meter was broken for more than the tariff's share of the
    season (domain.md §6)."""

    AREA = "area"  # by area, as Yinchuan does: the area fee stands
    ESTIMATE = "estimate"  # by the documented estimates recorded for the missing days


def coefficient_key(vertical: str, horizontal: str) -> str:
    """The key of a position in a coefficient table: ``top/west_end``."""
    return f"{vertical}/{horizontal}"


SOURCE_COEFFICIENT_TABLE: dict[str, Decimal] = {
    coefficient_key(vertical.value, horizontal.value): value
    for (vertical, horizontal), value in SOURCE_COEFFICIENTS.items()
}


@dataclass(frozen=True)
class TariffTerms:
    """Everything a version says about how a season is billed, beside the prices themselves."""

    price: TwoPartPrice
    billed_area: BilledArea = BilledArea.CONNECTED
    broken_meter_share_percent: Decimal = Decimal(10)
    broken_meter_method: BrokenMeterMethod = BrokenMeterMethod.AREA
    position_coefficients: Mapping[str, Decimal] = field(default_factory=lambda: dict(SOURCE_COEFFICIENT_TABLE))

    def __post_init__(self) -> None:
        share = self.broken_meter_share_percent
        if not share.is_finite() or not Decimal(0) <= share <= HUNDRED:
            raise InvalidInputError(
                "broken_meter_share_percent must lie in 0…100 %",
                message_key="share_out_of_range",
                field="broken_meter_share_percent",
            )
        missing = sorted(set(SOURCE_COEFFICIENT_TABLE) - set(self.position_coefficients))
        unknown = sorted(set(self.position_coefficients) - set(SOURCE_COEFFICIENT_TABLE))
        if missing or unknown:
            raise InvalidInputError(
                "the coefficient table must name exactly the nine positions",
                message_key="coefficient_table_incomplete",
                missing=", ".join(missing),
                unknown=", ".join(unknown),
            )
        for key, value in self.position_coefficients.items():
            # Three decimals, as the trade's tables give them (and as the read models keep them).
            if (
                not value.is_finite()
                or not Decimal(0) < value <= MAXIMUM_POSITION_COEFFICIENT
                or value != value.quantize(COEFFICIENT_RESOLUTION)
            ):
                raise InvalidInputError(
                    f"position coefficients must lie in (0, {MAXIMUM_POSITION_COEFFICIENT}] with at most 3 decimals",
                    message_key="coefficient_out_of_range",
                    position=key,
                    value=str(value),
                )

    def coefficient_for(self, vertical: str, horizontal: str) -> Decimal:
        """The position coefficient of a flat at this place in its building."""
        return self.position_coefficients[coefficient_key(vertical, horizontal)]

    def to_record(self) -> dict[str, Any]:
        """The terms as event payload: Decimals, strings and a dict of coefficients."""
        price = self.price
        return {
            "area_price_yuan_per_m2": price.area_price_yuan_per_m2,
            "base_share_percent": price.base_share_percent,
            "energy_price_yuan_per_gj": price.energy_price_yuan_per_gj,
            "policy": SettlementPolicy(price.policy).value,
            "cap_percent": price.cap_percent,
            "suspension_share_percent": price.suspension_share_percent,
            "position_correction": PositionCorrection(price.position_correction).value,
            "minimum_charge_yuan": price.minimum_charge_yuan,
            "rounding_mode": RoundingMode(price.rounding.mode).value,
            "rounding_quantum_yuan": price.rounding.quantum_yuan,
            "billed_area": BilledArea(self.billed_area).value,
            "broken_meter_share_percent": self.broken_meter_share_percent,
            "broken_meter_method": BrokenMeterMethod(self.broken_meter_method).value,
            "position_coefficients": dict(self.position_coefficients),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TariffTerms:
        """Terms from their event payload (the inverse of ``to_record``)."""
        cap = record.get("cap_percent")
        price = TwoPartPrice(
            area_price_yuan_per_m2=Decimal(record["area_price_yuan_per_m2"]),
            base_share_percent=Decimal(record["base_share_percent"]),
            energy_price_yuan_per_gj=Decimal(record["energy_price_yuan_per_gj"]),
            policy=SettlementPolicy(record["policy"]),
            cap_percent=Decimal(cap) if cap is not None else None,
            suspension_share_percent=Decimal(record["suspension_share_percent"]),
            position_correction=PositionCorrection(record["position_correction"]),
            minimum_charge_yuan=Decimal(record["minimum_charge_yuan"]),
            rounding=Rounding(RoundingMode(record["rounding_mode"]), Decimal(record["rounding_quantum_yuan"])),
        )
        return cls(
            price=price,
            billed_area=BilledArea(record["billed_area"]),
            broken_meter_share_percent=Decimal(record["broken_meter_share_percent"]),
            broken_meter_method=BrokenMeterMethod(record["broken_meter_method"]),
            position_coefficients={key: Decimal(value) for key, value in record["position_coefficients"].items()},
        )


@dataclass(frozen=True)
class TariffVersion:
    """One published version: its terms, the days it is in force and the regulator's approval."""

    number: int
    effective_from: date
    effective_until: date | None
    terms: TariffTerms
    document_number: str
    approved_on: date

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)


@dataclass(frozen=True)
class VersionCorrection:
    """A correction of a version after its seasons, as the tariff records it: which version, the
    bureau's document and approval day, the price fields corrected (as text), the seasons reached
    and the correction that books the notes."""

    version: int
    correction_id: UUID
    document_number: str
    approved_on: date
    overrides: Mapping[str, Any]
    seasons: tuple[str, ...]


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


class Tariff(Aggregate):
    """The tariff of one customer class in one scope, as a history of versions."""

    class Opened(Aggregate.Created):
        customer_class: str
        scope: str
        actor: str
        reason: str
        correlation_id: UUID

    class VersionPublished(Aggregate.Event):
        number: int
        effective_from: date
        effective_until: date | None
        terms: dict[str, Any]
        document_number: str
        approved_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class VersionCorrected(Aggregate.Event):
        """A version's prices were revised after its seasons by the bureau's document; the version
        itself stays as published, the correction books notes against the periods billed under it."""

        number: int
        correction_id: UUID
        document_number: str
        approved_on: date
        overrides: dict[str, Any]
        seasons: list[str]
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(customer_class: str, scope: str) -> UUID:
        return ids.tariff_id(customer_class, scope)

    @event(Opened)
    def __init__(self, customer_class: str, scope: str, actor: str, reason: str, correlation_id: UUID) -> None:
        self.customer_class = CustomerClass(customer_class)
        self.scope = scope
        self.versions: list[TariffVersion] = []
        self.corrections: list[VersionCorrection] = []

    @classmethod
    def open(cls, customer_class: CustomerClass, scope: str, context: CommandContext) -> Tariff:
        """A tariff without versions yet for a customer class in a scope (a community or ``*``)."""
        checked_scope = bounded_text(scope, "scope", MAXIMUM_CODE_LENGTH * 2)
        return cls(customer_class=CustomerClass(customer_class).value, scope=checked_scope, **_context_fields(context))

    @property
    def is_city_wide(self) -> bool:
        return self.scope == CITY_SCOPE

    def publish(
        self,
        terms: TariffTerms,
        effective_from: date,
        effective_until: date | None,
        document_number: str,
        approved_on: date,
        context: CommandContext,
    ) -> int:
        """Publish a new version from ``effective_from``; returns its number.

        Raises ConflictError when it would overlap a version already published."""
        document = bounded_text(document_number, "document_number", MAXIMUM_CODE_LENGTH)
        if effective_until is not None and effective_until < effective_from:
            raise InvalidInputError(
                "a version cannot end before it starts",
                message_key="tariff_version_ends_before_start",
                field="effective_until",
            )
        self._require_no_overlap(effective_from)
        number = len(self.versions) + 1
        self._version_published(
            number,
            effective_from,
            effective_until,
            terms.to_record(),
            document,
            approved_on,
            **_context_fields(context),
        )
        return number

    def _require_no_overlap(self, effective_from: date) -> None:
        if not self.versions:
            return
        latest = self.versions[-1]
        ends = latest.effective_until
        if effective_from <= latest.effective_from or (ends is not None and effective_from <= ends):
            raise ConflictError(
                "the new version overlaps a published one: it must start after the latest version starts"
                " (and after it ends, when it has an end)",
                message_key="tariff_version_overlaps",
                version=latest.number,
                effective_from=latest.effective_from.isoformat(),
                effective_until=ends.isoformat() if ends else "",
            )

    @event(VersionPublished)
    def _version_published(
        self,
        number: int,
        effective_from: date,
        effective_until: date | None,
        terms: dict[str, Any],
        document_number: str,
        approved_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        version = TariffVersion(
            number, effective_from, effective_until, TariffTerms.from_record(terms), document_number, approved_on
        )
        self.versions.append(version)

    def record_correction(
        self,
        number: int,
        correction_id: UUID,
        document_number: str,
        approved_on: date,
        overrides: Mapping[str, Any],
        seasons: tuple[str, ...],
        context: CommandContext,
    ) -> bool:
        """Record that version ``number`` was corrected (its history shows it); False when this
        correction was recorded already. The version's terms stay as published."""
        version = self.version_numbered(number)
        if any(correction.correction_id == correction_id for correction in self.corrections):
            return False
        self._version_corrected(
            version.number,
            correction_id,
            bounded_text(document_number, "document_number", MAXIMUM_CODE_LENGTH),
            approved_on,
            dict(overrides),
            list(seasons),
            **_context_fields(context),
        )
        return True

    @event(VersionCorrected)
    def _version_corrected(
        self,
        number: int,
        correction_id: UUID,
        document_number: str,
        approved_on: date,
        overrides: dict[str, Any],
        seasons: list[str],
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.corrections.append(
            VersionCorrection(number, correction_id, document_number, approved_on, dict(overrides), tuple(seasons))
        )

    def corrections_of(self, number: int) -> list[VersionCorrection]:
        """The corrections recorded of version ``number``, in order."""
        return [correction for correction in self.corrections if correction.version == number]

    def in_force_on(self, day: date) -> TariffVersion | None:
        """The version in force on ``day``: the latest one started by then, unless it has ended."""
        started = [version for version in self.versions if version.effective_from <= day]
        if not started:
            return None
        latest = started[-1]
        return latest if latest.covers(day) else None

    def version_numbered(self, number: int) -> TariffVersion:
        """Version ``number`` (from 1), or NotFoundError."""
        if not 1 <= number <= len(self.versions):
            raise NotFoundError(f"the tariff has no version {number}", kind="tariff_version", key=str(number))
        return self.versions[number - 1]
