"""Regulator scenarios: a season recomputed under other tariffs, side by side with the actual.

Money is 元 as JSON strings with two decimals, like every exact decimal of the API; energy GJ.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.billing import (
    MoneyText,
    NumberText,
    PercentInput,
    PriceInput,
    RunExceptionOutput,
    RunProblem,
    RunProgress,
    SeasonCode,
)
from api.schemas.common import NAME_MAX_LENGTH, EnergyText, IsoDate, RequestModel
from application.scenarios import MAXIMUM_TITLE_LENGTH, ScenarioRequest, ScenarioScope
from domain.scenario import MAXIMUM_LABEL_LENGTH, MAXIMUM_VARIANTS, TariffVariant
from domain.settlement import PositionCorrection, RoundingMode, SettlementPolicy
from domain.values import CustomerClass
from infrastructure.scenarios import ResultRow, ScenarioRecord, TotalsRow

_VARIANT_KEYS = ("label", "from_actual")


class VariantInput(RequestModel):
    """A tariff to compare: the price fields it sets. With `from_actual` (the default) it starts
    from each household's actual tariff version and changes only the fields named; without, it
    must name the area price, base share, energy price and policy (the others default as a
    published tariff's do). Billed area, the broken-meter rule and the position coefficients are
    always the household's actual ones."""

    label: str = Field(min_length=1, max_length=MAXIMUM_LABEL_LENGTH, examples=["能量价 50 元/GJ"])
    from_actual: bool = True
    area_price_yuan_per_m2: PriceInput | None = None
    base_share_percent: PercentInput | None = None
    energy_price_yuan_per_gj: PriceInput | None = None
    policy: SettlementPolicy | None = None
    cap_percent: PercentInput | None = Field(default=None, description="null removes the cap (send it to do so)")
    suspension_share_percent: PercentInput | None = None
    position_correction: PositionCorrection | None = None
    minimum_charge_yuan: PriceInput | None = None
    rounding_mode: RoundingMode | None = None
    rounding_quantum_yuan: PriceInput | None = None

    def variant(self) -> TariffVariant:
        """The domain's variant: only the fields the request named (a null cap counts as named)."""
        named = {name for name in self.model_fields_set if name not in _VARIANT_KEYS}
        overrides = {
            name: getattr(self, name) for name in named if getattr(self, name) is not None or name == "cap_percent"
        }
        return TariffVariant(self.label, overrides, self.from_actual)


class ScenarioSubmission(RequestModel):
    """A scenario: a past or the current season, a scope and 1 to 5 variants. Nothing is booked."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "season": "2025-2026",
                    "title": "基本热价 40 %，能量价 50 元/GJ",
                    "community": "碧桂园",
                    "variants": [
                        {"label": "能量价 50", "energy_price_yuan_per_gj": "50"},
                        {"label": "基本 40 %", "base_share_percent": "40", "policy": "both_ways"},
                    ],
                }
            ]
        }
    )

    season: SeasonCode
    title: str = Field(default="", max_length=MAXIMUM_TITLE_LENGTH)
    community: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    building: str | None = Field(default=None, min_length=1, max_length=64, description="Within `community`")
    customer_class: CustomerClass | None = None
    as_of: IsoDate | None = Field(
        default=None, description="The current season: the last day counted (default: yesterday)"
    )
    variants: list[VariantInput] = Field(min_length=1, max_length=MAXIMUM_VARIANTS)

    def request(self) -> ScenarioRequest:
        """The application's request (checked there: a building without its community, repeated labels)."""
        scope = ScenarioScope(self.community, self.building, self.customer_class)
        variants = tuple(variant.variant() for variant in self.variants)
        return ScenarioRequest(self.season, variants, scope, self.as_of, self.title)


class VariantOutput(BaseModel):
    label: str
    from_actual: bool
    overrides: dict[str, str | None]


class ScenarioTotalsOutput(BaseModel):
    """Sums over households under one column, against the actual column: who pays less (gainers),
    who pays more (losers), the company's revenue change and the averages."""

    households: int
    area_m2: NumberText
    energy_gj: EnergyText = Field(description="The heat of the households billed on heat")
    area_fee_yuan: MoneyText
    metered_fee_yuan: MoneyText
    due_yuan: MoneyText = Field(description="What the season costs the households: prepayment and settlement")
    settlement_yuan: MoneyText
    actual_due_yuan: MoneyText
    change_yuan: MoneyText = Field(description="The company's revenue change against the actual column")
    revenue_change_percent: NumberText | None
    gainers: int
    gainers_percent: NumberText
    gain_yuan: MoneyText
    losers: int
    losers_percent: NumberText
    loss_yuan: MoneyText
    unchanged: int
    unchanged_percent: NumberText
    yuan_per_m2: MoneyText | None = Field(description="Average charge per m² billed")
    yuan_per_gj: MoneyText | None = Field(description="What households billed on heat paid per GJ they used")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ScenarioTotalsOutput:
        return cls(**{name: _number(record.get(name)) for name in cls.model_fields})


class ScenarioColumnOutput(BaseModel):
    variant: int = Field(description="0: the actual column; 1…: the variants in the order given")
    label: str
    totals: ScenarioTotalsOutput
    bands_yuan: dict[str, int] = Field(description="Households per band of change in 元 (docs/scenarios.md)")
    bands_percent: dict[str, int] = Field(description="Households per band of change in % of the actual due")


class ScenarioSummaryOutput(BaseModel):
    households: int = Field(description="Households in scope")
    computed: int
    issued: int = Field(description="Households whose actual column is their issued settlement")
    issued_differ: int = Field(
        description="Issued settlements that the read models today recompute differently (the ledger learned "
        "something since): their variants compare with the bill as issued"
    )
    issued_differ_accounts: list[str]
    last_days_counted: list[date]
    columns: list[ScenarioColumnOutput]
    band_edges_yuan: list[str]
    band_edges_percent: list[str]
    exceptions: list[RunExceptionOutput]
    skipped: list[RunExceptionOutput]


class ScenarioOutput(BaseModel):
    """A scenario: its request, where it stands, how far it came, its summary or why it stopped."""

    scenario_id: UUID
    title: str
    status: str = Field(description="queued | running | done | failed")
    season: str
    community: str | None
    building: str | None
    customer_class: str | None
    as_of: date | None
    variants: list[VariantOutput]
    submitted_by: str
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: RunProgress
    summary: ScenarioSummaryOutput | None = Field(description="When the scenario is done")
    error: RunProblem | None = Field(description="When it failed")

    @classmethod
    def from_record(
        cls, record: ScenarioRecord, summary: ScenarioSummaryOutput | None, error: RunProblem | None
    ) -> ScenarioOutput:
        request, scope = record.request, record.request.scope
        return cls(
            scenario_id=record.scenario_id,
            title=record.title,
            status=record.status.value,
            season=request.season_code,
            community=scope.community,
            building=scope.building,
            customer_class=scope.customer_class.value if scope.customer_class else None,
            as_of=request.as_of,
            variants=[VariantOutput(**variant.to_record()) for variant in request.variants],
            submitted_by=record.actor,
            submitted_at=record.submitted_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            progress=RunProgress(done=record.households_done, total=record.households_total),
            summary=summary,
            error=error,
        )


class ScenarioList(BaseModel):
    items: list[ScenarioOutput]


class ScenarioHouseholdOutput(BaseModel):
    """One household under one column."""

    account_number: str
    community: str
    building: str
    customer_class: str
    variant: int
    label: str
    basis: str
    area_m2: NumberText
    energy_gj: EnergyText | None
    area_fee_yuan: MoneyText
    metered_fee_yuan: MoneyText | None
    due_yuan: MoneyText
    prepaid_yuan: MoneyText
    settlement_yuan: MoneyText = Field(description="The settlement bills' amounts summed (due − prepaid)")
    settlement_bills_yuan: list[MoneyText] = Field(description="Each settlement bill's amount (one per holder)")
    change_yuan: MoneyText
    change_percent: NumberText | None
    actual_source: str = Field(description="issued | computed")
    matches_issued: bool | None

    @classmethod
    def from_row(cls, row: ResultRow, labels: list[str]) -> ScenarioHouseholdOutput:
        fields = {name: value for name, value in vars(row).items() if name != "bill_amounts"}
        amounts = [Decimal(text) for text in row.bill_amounts.split(";") if text]
        return cls(**fields, label=_label(labels, row.variant), settlement_bills_yuan=amounts)


class ScenarioHouseholdPage(BaseModel):
    items: list[ScenarioHouseholdOutput]
    limit: int
    offset: int


class ScenarioGroupOutput(BaseModel):
    level: str = Field(description="all | community | building | class")
    community: str | None
    building: str | None
    customer_class: str | None
    variant: int
    label: str
    totals: ScenarioTotalsOutput

    @classmethod
    def from_row(cls, row: TotalsRow, labels: list[str]) -> ScenarioGroupOutput:
        return cls(
            level=row.level.value,
            community=row.community,
            building=row.building,
            customer_class=row.customer_class,
            variant=row.variant,
            label=_label(labels, row.variant),
            totals=ScenarioTotalsOutput.from_record(row.totals),
        )


class ScenarioGroupList(BaseModel):
    items: list[ScenarioGroupOutput]


def summary_output(
    payload: Mapping[str, Any], exceptions: list[RunExceptionOutput], skipped: list[RunExceptionOutput]
) -> ScenarioSummaryOutput:
    """The summary a finished scenario stored (``infrastructure.scenarios.summary_to_payload``)."""
    columns = [
        ScenarioColumnOutput(
            variant=column["variant"],
            label=column["label"],
            totals=ScenarioTotalsOutput.from_record(column["totals"]),
            bands_yuan=column["bands_yuan"],
            bands_percent=column["bands_percent"],
        )
        for column in payload.get("columns", [])
    ]
    return ScenarioSummaryOutput(
        households=payload["households"],
        computed=payload["computed"],
        issued=payload["issued"],
        issued_differ=payload["issued_differ"],
        issued_differ_accounts=payload["issued_differ_accounts"],
        last_days_counted=payload["last_days_counted"],
        columns=columns,
        band_edges_yuan=payload["band_edges_yuan"],
        band_edges_percent=payload["band_edges_percent"],
        exceptions=exceptions,
        skipped=skipped,
    )


def _label(labels: list[str], variant: int) -> str:
    return labels[variant] if variant < len(labels) else str(variant)


def _number(value: Any) -> Any:
    return Decimal(value) if isinstance(value, str) else value
