"""Value objects of meter readings: what a device reports, what the meter remembers of it, and
the metered intervals between consecutive readings that consumption is built from."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.values import ReadingSource


@dataclass(frozen=True)
class ReadingValues:
    """One reading as a device or clerk reports it.

    Registers are cumulative (energy in GJ, volume in m³, operating hours); instant values are
    what the meter showed at ``measured_at``. Optional values are None when the source lacks them.
    """

    measured_at: datetime
    energy_gj: Decimal
    volume_m3: Decimal | None = None
    operating_hours: Decimal | None = None
    flow_temperature_c: Decimal | None = None
    return_temperature_c: Decimal | None = None
    flow_rate_m3_h: Decimal | None = None
    power_kw: Decimal | None = None
    error_flags: int = 0
    source: ReadingSource = ReadingSource.MANUAL
    # A sensor fault value (such as 243 °C from a broken probe) makes the reading faulty: it is
    # kept, and the intervals it bounds are not billable.
    faulty: bool = False

    def fingerprint(self) -> str:
        """A short digest of every measured value, telling a resent reading from a different one.

        Decimals are normalised first so that 1.50 and 1.5 count as the same value.
        """
        parts = []
        for field in fields(self):
            if field.name == "source":
                continue
            value = getattr(self, field.name)
            if isinstance(value, Decimal):
                value = value.normalize()
            elif isinstance(value, datetime):
                value = value.timestamp()
            parts.append(f"{field.name}={value}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class RememberedReading:
    """What a meter keeps of a recent reading to judge later ones: its time, its registers
    (energy and volume unwrapped across rollovers), its temperatures and its fingerprint."""

    measured_at: datetime
    energy_register_gj: Decimal
    energy_unwrapped_gj: Decimal
    volume_register_m3: Decimal | None
    volume_unwrapped_m3: Decimal | None
    operating_hours: Decimal | None
    flow_temperature_c: Decimal | None
    return_temperature_c: Decimal | None
    fingerprint: str
    faulty: bool = False
    estimated: bool = False
    # The estimated energy of the faulty interval that starts at this reading, once estimated.
    faulty_estimate_gj: Decimal | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> RememberedReading:
        # Immutable: the aggregate cache deep-copies meters on every get, so sharing is safe and cheap.
        return self


class IntervalQuality(StrEnum):
    """How far an interval can be trusted: measured at both ends, bounded by an estimate (billable,
    reported as estimated), or bounded by a faulty reading (not billable)."""

    MEASURED = "measured"
    ESTIMATED = "estimated"
    FAULTY = "faulty"


@dataclass(frozen=True, slots=True)
class MeteredInterval:
    """The span between two consecutive readings of a meter and what was metered in it.

    ``household_id`` is the household the meter served at the interval's end. The plausibility
    fields are None when the interval could not be checked (no temperatures or no flow).
    """

    start: datetime
    end: datetime
    energy_gj: Decimal
    volume_m3: Decimal | None
    household_id: UUID | None
    expected_energy_gj: Decimal | None = None
    deviation_percent: Decimal | None = None
    permissible_error_percent: Decimal | None = None
    quality: str = "measured"

    @property
    def billable(self) -> bool:
        """Whether the interval may be billed: not when a reading bounding it is faulty."""
        return self.quality != IntervalQuality.FAULTY

    @property
    def plausible(self) -> bool | None:
        if self.deviation_percent is None or self.permissible_error_percent is None:
            return None
        return abs(self.deviation_percent) <= self.permissible_error_percent


@dataclass(frozen=True, slots=True)
class Attachment:
    """A period in which a meter measured one household's heat."""

    household_id: UUID
    attached_at: datetime
    detached_at: datetime | None = None

    def covers(self, moment: datetime) -> bool:
        return self.attached_at <= moment and (self.detached_at is None or moment < self.detached_at)


def household_charged(attachments: Sequence[Attachment], start: datetime, end: datetime) -> UUID | None:
    """The household an interval of a meter is charged to, given the meter's attachments.

    The one the meter served when the interval began; for an interval that began while the meter
    served no one, the one it served at the interval's end (a meter read before it was attached).
    A swap records a reading at the swap moment on both meters, so no interval spans it. The read
    models apply the same rule again when an attachment is changed after the fact
    (``Meter.IntervalsRecharged``), so the answer never depends on the order facts were recorded in.
    """
    for attachment in reversed(attachments):
        if attachment.covers(start):
            return attachment.household_id
    for attachment in reversed(attachments):
        if attachment.attached_at < end and (attachment.detached_at is None or end <= attachment.detached_at):
            return attachment.household_id
    return None
