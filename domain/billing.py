"""What a billing period's bills say: the prepayment invoice, the monthly statements and the
season's settlement, computed from the period's facts and the inputs the ledger read for it.

Pure functions. Every bill is a list of ``BillLine``: the tariff version, the heat and where it
came from (readings, estimates or an allocation), the coefficients, each formula with its figures
and the rounding, so customer service can read a bill out and an auditor can recompute it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from domain.apportion import apportion
from domain.errors import InvalidInputError
from domain.implausible_heat import ImplausibleInterval, decision_lines, require_decided
from domain.settlement import CENT, HUNDRED, BillLine, PositionCorrection, SeasonUse, area_fee, settle
from domain.tariff import BrokenMeterMethod, TariffTerms

ZERO = Decimal(0)


class BillKind(StrEnum):
    """The documents a billing period issues."""

    PREPAYMENT = "prepayment"  # the area fee, invoiced at the season's start
    STATEMENT = "statement"  # a month's consumption information; charges nothing
    SETTLEMENT = "settlement"  # the season's metered fee against the prepayment
    # A credit (negative) or debit (positive) note against the period, booked from a resolved
    # dispute or a tariff corrected after the season (domain/adjustments.py); never from a run.
    ADJUSTMENT = "adjustment"


class EnergyBasis(StrEnum):
    """What a settlement bill's heat rests on."""

    METERED = "metered"  # the household's own meters (with recorded estimates for short gaps)
    ALLOCATED = "allocated"  # a share of the building meter's heat
    AREA_NO_METER = "area_no_meter"  # no meter and no allocation: billed by area
    AREA_BROKEN_METER = "area_broken_meter"  # meter broken beyond the tariff's share: billed by area
    ESTIMATED_BROKEN_METER = "estimated_broken_meter"  # broken beyond the share: billed by the estimates


@dataclass(frozen=True)
class PeriodFacts:
    """What a billing period was opened with: the household, the season and the tariff version."""

    account_number: str
    season_code: str
    first_day: date
    last_day: date
    tariff_scope: str
    tariff_version: int
    document_number: str
    approved_on: date
    terms: TariffTerms
    billed_area_m2: Decimal
    position_coefficient: Decimal
    # The season's days in force; the period's own days (first_day…last_day) are fewer when the
    # household was registered after the season began or deregistered before it ended.
    season_first_day: date | None = None
    season_last_day: date | None = None
    season_decree: str = ""

    @property
    def season_days(self) -> int:
        """D: the days of the season in force, over which the area fee is spread."""
        first = self.season_first_day or self.first_day
        last = self.season_last_day or self.last_day
        return (last - first).days + 1

    @property
    def days(self) -> int:
        """The period's own days: the household's part of the season."""
        return (self.last_day - self.first_day).days + 1


@dataclass(frozen=True)
class MeterEvidence:
    """The heat of a household's own meters over some days, by quality, with the readings used."""

    measured_gj: Decimal
    estimated_gj: Decimal  # silent-meter estimates and faulty-interval estimates
    days_measured: int
    days_estimated: int
    days_without_data: int  # no reading, estimate or interval covers the day
    meter_serials: tuple[str, ...] = ()
    first_reading: str = ""  # "serial at time: register GJ", the register the heat starts from
    last_reading: str = ""


@dataclass(frozen=True)
class AllocatedHeat:
    """A household's share of its building meter's heat for the season (an allocation)."""

    method: str
    building_energy_gj: Decimal
    weight: Decimal
    weight_total: Decimal
    energy_gj: Decimal
    revision: int
    flat_inputs: str = ""  # the flat's own inputs, e.g. "open_hours 2000, area_m2 90"
    outdoor_temperature_c: Decimal | None = None


@dataclass(frozen=True)
class SegmentInputs:
    """Consecutive days of the season under one owner: their suspension and their meter's heat."""

    first_day: date
    last_day: date
    suspended_days: int
    meter: MeterEvidence | None

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


@dataclass(frozen=True)
class SettlementInputs:
    """What a season's settlement reads: its segments (split at owner changes), the allocation if the
    building shares its meter's heat, and what the household prepaid."""

    segments: tuple[SegmentInputs, ...]
    allocation: AllocatedHeat | None
    prepaid_yuan: Decimal
    # Intervals of the household's meters far beyond the MPE, with the clerk's decisions.
    implausible: tuple[ImplausibleInterval, ...] = ()


@dataclass(frozen=True)
class ComputedBill:
    """A bill before it is issued: its label, days, amount charged (negative: credited) and lines."""

    kind: BillKind
    label: str
    first_day: date
    last_day: date
    amount_yuan: Decimal
    basis: str
    lines: tuple[BillLine, ...]


def readable_gj(energy_gj: Decimal) -> str:
    """An energy figure as a bill shows it: to 0.001 GJ (1 MJ) when that is exact, else every digit
    the ledger holds (never an exponent: 0E-9 reads 0.000)."""
    milli = energy_gj.quantize(Decimal("0.001"))
    if milli == energy_gj:
        return str(milli)
    return format(energy_gj.normalize(), "f")


class BillingInputError(InvalidInputError):
    """The inputs cannot be billed as they stand (the run lists the household with this reason)."""

    code = "billing_input"


# -- the prepayment ----------------------------------------------------------------------------


def prepayment_invoice(period: PeriodFacts, suspended_at_start: bool) -> ComputedBill:
    """The area fee for the season, invoiced at its start. A household suspended (报停) when the
    season starts is invoiced the suspension share for every day; the settlement puts it right."""
    days = period.days
    use = SeasonUse(
        period.billed_area_m2, ZERO, period.season_days, days if suspended_at_start else 0, billed_days=days
    )
    fee, line = area_fee(period.terms.price, use)
    lines = (_tariff_line(period), _season_line(period), line)
    return ComputedBill(BillKind.PREPAYMENT, "season", period.first_day, period.last_day, fee, "area", lines)


# -- the settlement ----------------------------------------------------------------------------


def settlement_bills(period: PeriodFacts, inputs: SettlementInputs) -> list[ComputedBill]:
    """The season's settlement, one bill per owner segment; each bill's amount is what is due for
    its days less their share of the prepayment (negative: refunded or credited, 多退)."""
    segments = _checked_segments(period, inputs.segments)
    require_decided(period.account_number, inputs.implausible)
    price = period.terms.price
    season_days = period.season_days
    share = price.suspension_share_percent / HUNDRED
    # A segment's part of the area fee: its heated days whole, its suspended days at the share.
    weights = [
        Decimal(segment.days - segment.suspended_days) + Decimal(segment.suspended_days) * share for segment in segments
    ]
    period_use = SeasonUse(period.billed_area_m2, ZERO, season_days, _suspended(segments), billed_days=period.days)
    total_fee, _ = area_fee(price, period_use)
    fee_shares = apportion(total_fee, weights, CENT)
    prepaid_shares = apportion(inputs.prepaid_yuan.quantize(CENT), weights, CENT)
    energies = _allocated_energy_by_segment(inputs.allocation, segments)
    broken = _broken_meter_line(period, segments)
    bills = []
    for index, segment in enumerate(segments):
        bills.append(
            _segment_bill(
                period,
                segment,
                str(index + 1),
                fee_shares[index],
                prepaid_shares[index],
                energies[index],
                broken,
                inputs,
            )
        )
    return bills


def _checked_segments(period: PeriodFacts, segments: tuple[SegmentInputs, ...]) -> tuple[SegmentInputs, ...]:
    if not segments or segments[0].first_day != period.first_day or segments[-1].last_day != period.last_day:
        raise BillingInputError("the segments must cover the season", message_key="segments_do_not_cover_season")
    for earlier, later in itertools.pairwise(segments):
        if (later.first_day - earlier.last_day).days != 1:
            raise BillingInputError("the segments must follow each other", message_key="segments_do_not_cover_season")
    for segment in segments:
        if not 0 <= segment.suspended_days <= segment.days:
            raise BillingInputError("suspended days must lie within the segment", message_key="use_invalid")
    return segments


def _suspended(segments: tuple[SegmentInputs, ...]) -> int:
    return sum(segment.suspended_days for segment in segments)


def _allocated_energy_by_segment(
    allocation: AllocatedHeat | None, segments: tuple[SegmentInputs, ...]
) -> list[Decimal | None]:
    """An allocation covers the season; owner segments share it in proportion to their days."""
    if allocation is None:
        return [None] * len(segments)
    parts = apportion(allocation.energy_gj, [Decimal(segment.days) for segment in segments])
    return list(parts)


def _broken_meter_line(period: PeriodFacts, segments: tuple[SegmentInputs, ...]) -> BillLine | None:
    """A line when the household's meters were out of order for more than the tariff's share."""
    evidence = [segment.meter for segment in segments if segment.meter is not None]
    if not evidence:
        return None
    unmeasured = sum(item.days_estimated + item.days_without_data for item in evidence)
    share = Decimal(unmeasured) * HUNDRED / Decimal(period.days)
    threshold = period.terms.broken_meter_share_percent
    if share <= threshold:
        return None
    return BillLine(
        "meter_broken",
        None,
        {
            "unmeasured_days": str(unmeasured),
            "season_days": str(period.days),
            "share_percent": str(share.quantize(Decimal("0.1"))),
            "threshold_percent": str(threshold),
            "method": BrokenMeterMethod(period.terms.broken_meter_method).value,
        },
    )


def _segment_bill(
    period: PeriodFacts,
    segment: SegmentInputs,
    label: str,
    fee_share: Decimal,
    prepaid_share: Decimal,
    allocated_gj: Decimal | None,
    broken: BillLine | None,
    inputs: SettlementInputs,
) -> ComputedBill:
    lines = [_tariff_line(period), _season_line(period)]
    if len(inputs.segments) > 1:
        lines.append(_segment_line(segment, label))
    basis, energy_gj, evidence_lines = _energy_basis(period, segment, allocated_gj, broken, inputs.allocation)
    lines.extend(evidence_lines)
    lines.extend(decision_lines(inputs.implausible, segment.first_day, segment.last_day))
    if energy_gj is None:
        due = fee_share
        lines.append(BillLine("area_fee_share", fee_share, {"area_fee_yuan": str(fee_share)}))
        lines.append(BillLine("due_by_area", due, {"area_fee_yuan": str(fee_share)}))
    else:
        # The segment's own days: its share of the area fee is split at its suspended days.
        use = SeasonUse(
            period.billed_area_m2, energy_gj, segment.days, segment.suspended_days, period.position_coefficient
        )
        lines.append(_position_line(period))
        settlement = settle(period.terms.price, use, area_fee_yuan=fee_share)
        due = settlement.due_yuan
        lines.extend(line for line in settlement.lines if line.code != "balance")
    amount = due - prepaid_share
    lines.append(BillLine("prepaid", prepaid_share, {"prepaid_yuan": str(prepaid_share)}))
    lines.append(BillLine("settlement_amount", amount, {"due_yuan": str(due), "prepaid_yuan": str(prepaid_share)}))
    return ComputedBill(BillKind.SETTLEMENT, label, segment.first_day, segment.last_day, amount, basis, tuple(lines))


def _energy_basis(
    period: PeriodFacts,
    segment: SegmentInputs,
    allocated_gj: Decimal | None,
    broken: BillLine | None,
    allocation: AllocatedHeat | None,
) -> tuple[str, Decimal | None, list[BillLine]]:
    """Which heat the segment is billed on (None: billed by area), and the lines that show it."""
    meter = segment.meter
    if meter is None:
        if allocation is not None and allocated_gj is not None:
            return EnergyBasis.ALLOCATED.value, allocated_gj, [_allocation_line(allocation, allocated_gj)]
        return EnergyBasis.AREA_NO_METER.value, None, [BillLine("no_meter", None, {})]
    evidence = _evidence_line(meter)
    if broken is not None:
        if BrokenMeterMethod(period.terms.broken_meter_method) is BrokenMeterMethod.AREA:
            return EnergyBasis.AREA_BROKEN_METER.value, None, [evidence, broken]
        _require_coverage(period, meter)
        return EnergyBasis.ESTIMATED_BROKEN_METER.value, meter.measured_gj + meter.estimated_gj, [evidence, broken]
    _require_coverage(period, meter)
    return EnergyBasis.METERED.value, meter.measured_gj + meter.estimated_gj, [evidence]


def _require_coverage(period: PeriodFacts, meter: MeterEvidence) -> None:
    if meter.days_without_data:
        raise BillingInputError(
            f"{meter.days_without_data} days of the season have neither a reading nor an estimate",
            message_key="season_not_covered",
            account_number=period.account_number,
            days=meter.days_without_data,
        )


def _season_line(period: PeriodFacts) -> BillLine:
    """The season's days in force (and the decree that set them) and the household's part of them."""
    return BillLine(
        "season_days",
        None,
        {
            "season": period.season_code,
            "season_first_day": (period.season_first_day or period.first_day).isoformat(),
            "season_last_day": (period.season_last_day or period.last_day).isoformat(),
            "season_days": str(period.season_days),
            "decree_number": period.season_decree,
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
            "period_days": str(period.days),
            "partial": "1" if period.days != period.season_days else "",
        },
    )


def _tariff_line(period: PeriodFacts) -> BillLine:
    price = period.terms.price
    return BillLine(
        "tariff",
        None,
        {
            "scope": period.tariff_scope,
            "version": str(period.tariff_version),
            "document_number": period.document_number,
            "approved_on": period.approved_on.isoformat(),
            "season": period.season_code,
            "policy": str(price.policy),
            "area_price_yuan_per_m2": str(price.area_price_yuan_per_m2),
            "base_share_percent": str(price.base_share_percent),
            "energy_price_yuan_per_gj": str(price.energy_price_yuan_per_gj),
            "billed_area": str(period.terms.billed_area),
            "billed_area_m2": str(period.billed_area_m2),
        },
    )


def _segment_line(segment: SegmentInputs, label: str) -> BillLine:
    return BillLine(
        "owner_segment",
        None,
        {"segment": label, "first_day": segment.first_day.isoformat(), "last_day": segment.last_day.isoformat()},
    )


def _evidence_line(meter: MeterEvidence) -> BillLine:
    return BillLine(
        "energy_metered",
        None,
        {
            "measured_gj": readable_gj(meter.measured_gj),
            "estimated_gj": readable_gj(meter.estimated_gj),
            "days_measured": str(meter.days_measured),
            "days_estimated": str(meter.days_estimated),
            "days_without_data": str(meter.days_without_data),
            "meters": ", ".join(meter.meter_serials),
            "first_reading": meter.first_reading,
            "last_reading": meter.last_reading,
        },
    )


def _allocation_line(allocation: AllocatedHeat, energy_gj: Decimal) -> BillLine:
    return BillLine(
        "energy_allocated",
        None,
        {
            "method": allocation.method,
            "building_energy_gj": readable_gj(allocation.building_energy_gj),
            "weight": str(allocation.weight),
            "weight_total": str(allocation.weight_total),
            "energy_gj": readable_gj(energy_gj),
            "revision": str(allocation.revision),
            "flat_inputs": allocation.flat_inputs,
            "outdoor_temperature_c": str(allocation.outdoor_temperature_c or ""),
        },
    )


def _position_line(period: PeriodFacts) -> BillLine:
    return BillLine(
        "position_coefficient",
        None,
        {
            "coefficient": str(period.position_coefficient),
            "applies_to": PositionCorrection(period.terms.price.position_correction).value,
        },
    )


# -- the monthly statement ---------------------------------------------------------------------


@dataclass(frozen=True)
class MonthInputs:
    """What a month's statement reads: the household's heat and its building's, per m²."""

    month: str  # YYYY-MM
    first_day: date  # the month's days inside the season
    last_day: date
    month_energy_gj: Decimal | None  # None: no meter
    season_energy_gj: Decimal | None  # from the season's first day to the month's last
    previous_month_energy_gj: Decimal | None
    building_gj_per_m2: Decimal | None  # the building's metered heat per m² this month


def monthly_statement(period: PeriodFacts, month: MonthInputs) -> ComputedBill:
    """The month's consumption information: heat this month and so far, the metered fee to date,
    the change against last month and against the building's average per m². Charges nothing."""
    lines = [_tariff_line(period), _season_line(period)]
    if month.month_energy_gj is None or month.season_energy_gj is None:
        lines.append(BillLine("no_meter", None, {}))
        return ComputedBill(
            BillKind.STATEMENT, month.month, month.first_day, month.last_day, ZERO, "area", tuple(lines)
        )
    lines.append(_month_energy_line(period, month))
    if PositionCorrection(period.terms.price.position_correction) is not PositionCorrection.NONE:
        # The fee to date divides by the coefficient: the statement says so, as the settlement does.
        lines.append(_position_line(period))
    lines.append(_fee_to_date_line(period, month))
    return ComputedBill(BillKind.STATEMENT, month.month, month.first_day, month.last_day, ZERO, "metered", tuple(lines))


def _month_energy_line(period: PeriodFacts, month: MonthInputs) -> BillLine:
    assert month.month_energy_gj is not None and month.season_energy_gj is not None
    exact_per_m2 = month.month_energy_gj / period.billed_area_m2
    per_m2 = exact_per_m2.quantize(Decimal("0.0001"))
    previous = month.previous_month_energy_gj
    change = (
        ((month.month_energy_gj - previous) * HUNDRED / previous).quantize(Decimal("0.1"))
        if previous is not None and previous > 0
        else None
    )
    building = month.building_gj_per_m2
    against_building = (
        ((exact_per_m2 - building) * HUNDRED / building).quantize(Decimal("0.1"))
        if building is not None and building > 0
        else None
    )
    return BillLine(
        "month_energy",
        None,
        {
            "month": month.month,
            "month_energy_gj": str(month.month_energy_gj.quantize(Decimal("0.001"))),
            "season_energy_gj": str(month.season_energy_gj.quantize(Decimal("0.001"))),
            "previous_month_energy_gj": str(previous.quantize(Decimal("0.001"))) if previous is not None else "",
            "change_percent": str(change) if change is not None else "",
            "gj_per_m2": str(per_m2),
            "building_gj_per_m2": str(building.quantize(Decimal("0.0001"))) if building is not None else "",
            "against_building_percent": str(against_building) if against_building is not None else "",
        },
    )


def _fee_to_date_line(period: PeriodFacts, month: MonthInputs) -> BillLine:
    """The metered fee so far: the base part for the days elapsed plus the heat so far, both
    position-corrected as the tariff says; a guide, not a charge."""
    assert month.season_energy_gj is not None
    price = period.terms.price
    days_elapsed = (month.last_day - period.first_day).days + 1
    season_fee, _ = area_fee(price, SeasonUse(period.billed_area_m2, ZERO, period.season_days))
    correction = PositionCorrection(price.position_correction)
    coefficient = period.position_coefficient
    base_coefficient = coefficient if correction in (PositionCorrection.BASE, PositionCorrection.BOTH) else Decimal(1)
    energy_coefficient = (
        coefficient if correction in (PositionCorrection.ENERGY, PositionCorrection.BOTH) else Decimal(1)
    )
    base = price.rounding.apply(
        season_fee
        * price.base_share_percent
        / HUNDRED
        * Decimal(days_elapsed)
        / Decimal(period.season_days)
        / base_coefficient
    )
    energy = price.rounding.apply(month.season_energy_gj / energy_coefficient * price.energy_price_yuan_per_gj)
    return BillLine(
        "metered_fee_to_date",
        base + energy,
        {
            "days_elapsed": str(days_elapsed),
            "season_days": str(period.season_days),
            "base_part_yuan": str(base),
            "energy_part_yuan": str(energy),
            "season_area_fee_yuan": str(season_fee),
            "base_coefficient": str(base_coefficient),
            "energy_coefficient": str(energy_coefficient),
        },
    )
