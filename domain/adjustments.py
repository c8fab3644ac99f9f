"""Credit and debit notes against a billing period: what a resolved dispute or a tariff corrected
after the season books, re-rated at the period's own tariff version, never today's.

A note never edits the bill it corrects. It is a bill of its own (kind ``adjustment``) against the
same period, charging what the correction adds (a debit note, positive) or crediting what it takes
away (a credit note, negative), with lines that justify it: the bill it adjusts, the source (the
dispute or the price bureau's document) and the recomputed lines that differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from domain.billing import BillKind, ComputedBill, PeriodFacts
from domain.errors import InvalidInputError
from domain.settlement import CENT, BillLine

# The most justification lines a note carries (a settlement has about twenty lines).
MAXIMUM_JUSTIFICATION_LINES = 200


class AdjustmentSource(StrEnum):
    """What booked a note."""

    DISPUTE = "dispute"  # a dispute upheld in full or in part (customer service)
    TARIFF_CORRECTION = "tariff_correction"  # a price the price bureau revised after the season


@dataclass(frozen=True)
class AdjustmentNote:
    """A note to book: its source, the bill it adjusts, the signed amount and the lines behind it.

    ``reference`` identifies the source (a dispute id, a correction's document number) and makes
    the note's label, so booking the same note twice books it once."""

    source: AdjustmentSource
    reference: str
    adjusted_bill_number: str
    amount_yuan: Decimal  # positive: a debit note (the household owes more); negative: a credit note
    justification: tuple[BillLine, ...] = ()
    tariff_version: int | None = None  # the version the figures were re-rated at (the period's own)
    document_number: str = ""  # the price bureau's document (tariff corrections)

    @property
    def label(self) -> str:
        return f"{AdjustmentSource(self.source).value}:{self.reference}"


def adjustment_bill(period: PeriodFacts, note: AdjustmentNote) -> ComputedBill:
    """The note as a bill of the period, or InvalidInputError for a note that cannot be booked."""
    _check(note)
    direction = "debit" if note.amount_yuan > 0 else "credit"
    source_line = BillLine(
        "adjustment_source",
        None,
        {
            "source": AdjustmentSource(note.source).value,
            "reference": note.reference,
            "adjusted_bill": note.adjusted_bill_number,
            "tariff_version": str(note.tariff_version if note.tariff_version is not None else period.tariff_version),
            "document_number": note.document_number or period.document_number,
        },
    )
    amount_line = BillLine("adjustment_amount", note.amount_yuan, {"direction": direction})
    lines = (source_line, *note.justification, amount_line)
    return ComputedBill(
        BillKind.ADJUSTMENT, note.label, period.first_day, period.last_day, note.amount_yuan, direction, lines
    )


def _check(note: AdjustmentNote) -> None:
    if not note.reference.strip():
        raise InvalidInputError("a note names its source", message_key="adjustment_reference_missing")
    if not note.amount_yuan.is_finite() or note.amount_yuan != note.amount_yuan.quantize(CENT):
        raise InvalidInputError(
            "a note's amount is in 元 with at most 2 decimals",
            message_key="adjustment_amount_invalid",
            amount_yuan=str(note.amount_yuan),
        )
    if note.amount_yuan == 0:
        raise InvalidInputError("a note of 0.00 元 books nothing", message_key="adjustment_amount_zero")
    if len(note.justification) > MAXIMUM_JUSTIFICATION_LINES:
        raise InvalidInputError(
            "a note carries too many lines", message_key="adjustment_too_long", limit=MAXIMUM_JUSTIFICATION_LINES
        )
