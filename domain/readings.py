"""Value objects of meter readings: what a device reports, what the meter remembers of it, and
the metered intervals between consecutive readings that consumption is built from."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol
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
        # ``name=value`` of every field but the source, in their order, written out rather than
        # looped over (once per reading recorded); a property test holds it to that definition.
        # A Decimal's text by ``str``: the f-string's ``format(value, "")`` writes the same text
        # for a Decimal at five times the cost, and a reading has seven of them.
        energy, volume, hours, flow_c, return_c, flow_rate, power = [
            str(value.normalize()) if type(value) is Decimal else format(_fingerprinted(value), "")
            for value in (
                self.energy_gj,
                self.volume_m3,
                self.operating_hours,
                self.flow_temperature_c,
                self.return_temperature_c,
                self.flow_rate_m3_h,
                self.power_kw,
            )
        ]
        text = (
            f"measured_at={_fingerprinted(self.measured_at)}|energy_gj={energy}|volume_m3={volume}"
            f"|operating_hours={hours}|flow_temperature_c={flow_c}|return_temperature_c={return_c}"
            f"|flow_rate_m3_h={flow_rate}|power_kw={power}|error_flags={self.error_flags}|faulty={self.faulty}"
        )
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def _fingerprinted(value: Any) -> Any:
    """A value as the fingerprint writes it: decimals normalised, times as POSIX seconds."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, datetime):
        return value.timestamp()
    return value


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


class ReadingHistory(Protocol):
    """The readings of one meter the ledger holds beyond what the meter remembers.

    A meter keeps only its newest readings (its window); a late reading older than all of them is
    judged against its neighbours from this history. The application builds it from the read
    model of the meter's readings, the events not yet projected and the batch's unsaved events.
    """

    def readings_around(self, measured_at: datetime) -> list[RememberedReading] | None:
        """The readings around ``measured_at``, oldest first: the one at that moment if there is
        one (it may come alone: the new reading is then a duplicate or a conflict), else on each
        side the nearest reading, the nearest with a volume register and the nearest with
        operating hours. None when the history cannot tell (its readings lack the unwrapped
        registers a check needs), so the reading is refused rather than judged on a guess."""
        ...


# What a late reading is compared with on each side: the nearest reading (energy), and the nearest
# that carry a volume register or operating hours (a reading without them hides nothing).
NEIGHBOUR_KINDS: tuple[Callable[[RememberedReading], bool], ...] = (
    lambda reading: True,
    lambda reading: reading.volume_register_m3 is not None,
    lambda reading: reading.operating_hours is not None,
)


def readings_around(readings: Iterable[RememberedReading], measured_at: datetime) -> list[RememberedReading]:
    """Of ``readings``, the ones a reading at ``measured_at`` is judged against, oldest first: the
    one at that moment if any and, on each side, the nearest of each of ``NEIGHBOUR_KINDS``."""
    chosen: dict[datetime, RememberedReading] = {}
    nearest_before: list[RememberedReading | None] = [None] * len(NEIGHBOUR_KINDS)
    nearest_after: list[RememberedReading | None] = [None] * len(NEIGHBOUR_KINDS)
    for reading in readings:
        if reading.measured_at == measured_at:
            chosen[measured_at] = reading
            continue
        before = reading.measured_at < measured_at
        nearest = nearest_before if before else nearest_after
        for index, has in enumerate(NEIGHBOUR_KINDS):
            best = nearest[index]
            closer = best is None or (reading.measured_at > best.measured_at) == before
            if has(reading) and closer:
                nearest[index] = reading
    for neighbour in (*nearest_before, *nearest_after):
        if neighbour is not None:
            chosen[neighbour.measured_at] = neighbour
    return [chosen[moment] for moment in sorted(chosen)]


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
    # The rated limits the interval breaks (domain/rated_limits.py), names joined by commas.
    limit_breaches: str = ""

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
