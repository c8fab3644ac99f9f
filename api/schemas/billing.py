"""Billing: tariff versions, billing runs, building allocations, bills, explanations and balances.

Money is 元 with two decimals and, like every exact decimal of the API, travels as a JSON string
(``"2160.00"``); prices, percentages and coefficients keep the digits they were published with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from api.bill_explanations import BillExplanation
from api.schemas.common import (
    KEY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    AccountNumber,
    EnergyText,
    IsoDate,
    OptionalReason,
    Reason,
    RequestModel,
    decimal_text,
)
from domain.allocation import Allocation, AllocationMethod, FlatInput, Radiator
from domain.billing import BillKind
from domain.season import Season
from domain.settlement import PositionCorrection, Rounding, RoundingMode, SettlementPolicy, TwoPartPrice
from domain.tariff import BilledArea, BrokenMeterMethod, TariffTerms, TariffVersion
from domain.values import CustomerClass
from infrastructure.billing_runs import BillingRunRecord
from projections.billing_queries import (
    BalanceRecord,
    BillHeadRecord,
    BillLineRecord,
    BillRecord,
    CommunityBalanceRecord,
    TariffVersionRecord,
)

MONEY_PLACES = 2
COEFFICIENT_PLACES = 3


def _text_with(minimum_places: int) -> PlainSerializer:
    return PlainSerializer(lambda value: decimal_text(value, minimum_places), return_type=str, when_used="json")


# 元 with at least two decimals; a price or a figure keeps the digits it has (never fewer than shown).
MoneyText = Annotated[Decimal, _text_with(MONEY_PLACES)]
CoefficientText = Annotated[Decimal, _text_with(COEFFICIENT_PLACES)]
NumberText = Annotated[Decimal, _text_with(0)]

# Bounds on what a request may say: no price or percentage of the trade needs more digits.
PriceInput = Annotated[Decimal, Field(max_digits=16, decimal_places=6, examples=["21.60"])]
PercentInput = Annotated[Decimal, Field(max_digits=10, decimal_places=4, examples=["30"])]
AllocationFigure = Annotated[Decimal, Field(max_digits=24, decimal_places=9)]
SeasonCode = Annotated[
    str, Field(pattern=r"^\d{4}-\d{4}$", description="A heating season, 1 Nov–31 Mar", examples=["2025-2026"])
]
MonthCode = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", description="A calendar month", examples=["2025-12"])]
MAXIMUM_FLATS_PER_REQUEST = 5000
MAXIMUM_RADIATORS_PER_FLAT = 100


# -- tariffs -------------------------------------------------------------------------------------


class TariffPublication(RequestModel):
    """A tariff version approved by the price bureau, for a customer class in a community or the city.

    Prices, shares and rules are checked by the ledger (a negative price is a 422 naming the field).
    Versions of one tariff never overlap: a version starts after the latest one started, and after
    it ended when it has an end date (409 otherwise).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_class": "residential",
                    "scope": "*",
                    "area_price_yuan_per_m2": "21.60",
                    "base_share_percent": "30",
                    "energy_price_yuan_per_gj": "43.90",
                    "policy": "refund_only",
                    "suspension_share_percent": "20",
                    "effective_from": "2025-11-01",
                    "document_number": "吴价发〔2025〕12号",
                    "approved_on": "2025-09-15",
                    "reason": "price bureau approval",
                }
            ]
        }
    )

    customer_class: CustomerClass
    scope: str = Field(
        min_length=1, max_length=NAME_MAX_LENGTH, description='A community\'s name, or "*" for the whole city'
    )
    area_price_yuan_per_m2: PriceInput = Field(description="The area fee per m² for the whole season")
    base_share_percent: PercentInput = Field(description="The base part as a share of the area fee (30–60 %)")
    energy_price_yuan_per_gj: PriceInput
    policy: SettlementPolicy = Field(description="refund_only (多退少不补), both_ways (多退少补), capped, metered_only")
    cap_percent: PercentInput | None = Field(default=None, description="For capped: the most paid, % of the area fee")
    suspension_share_percent: PercentInput = Field(
        default=Decimal(0), description="报停: the share of the area fee paid for suspended days"
    )
    position_correction: PositionCorrection = Field(
        default=PositionCorrection.NONE, description="Where the position coefficient applies: none, energy, base, both"
    )
    minimum_charge_yuan: PriceInput = Decimal(0)
    rounding_mode: RoundingMode = RoundingMode.HALF_UP
    rounding_quantum_yuan: PriceInput = Field(default=Decimal("0.01"), description="0.01, 0.1 or 1 元")
    billed_area: BilledArea = Field(default=BilledArea.CONNECTED, description="connected or heated area")
    broken_meter_share_percent: PercentInput = Field(
        default=Decimal(10), description="Above this share of unmeasured days a meter counts as broken"
    )
    broken_meter_method: BrokenMeterMethod = Field(
        default=BrokenMeterMethod.AREA, description="How a broken meter is billed: by area or by the estimates"
    )
    position_coefficients: dict[str, Annotated[Decimal, Field(max_digits=10, decimal_places=6)]] | None = Field(
        default=None,
        max_length=9,
        description='The nine positions ("top/west_end" … "bottom/east_end"); the source\'s table when absent',
    )
    effective_from: IsoDate
    effective_until: IsoDate | None = None
    document_number: str = Field(min_length=1, max_length=KEY_MAX_LENGTH, description="The approval's number")
    approved_on: IsoDate
    reason: OptionalReason = None

    def terms(self) -> TariffTerms:
        """The version's terms; InvalidInputError for a rule they break."""
        price = TwoPartPrice(
            area_price_yuan_per_m2=self.area_price_yuan_per_m2,
            base_share_percent=self.base_share_percent,
            energy_price_yuan_per_gj=self.energy_price_yuan_per_gj,
            policy=self.policy,
            cap_percent=self.cap_percent,
            suspension_share_percent=self.suspension_share_percent,
            position_correction=self.position_correction,
            minimum_charge_yuan=self.minimum_charge_yuan,
            rounding=Rounding(self.rounding_mode, self.rounding_quantum_yuan),
        )
        optional: dict[str, Any] = {}
        if self.position_coefficients is not None:
            optional["position_coefficients"] = dict(self.position_coefficients)
        return TariffTerms(
            price=price,
            billed_area=self.billed_area,
            broken_meter_share_percent=self.broken_meter_share_percent,
            broken_meter_method=self.broken_meter_method,
            **optional,
        )


class TariffTermsOutput(BaseModel):
    """What a version says: the two-part price, the settlement policy and the billing rules."""

    area_price_yuan_per_m2: MoneyText
    base_share_percent: NumberText
    energy_price_yuan_per_gj: MoneyText
    policy: str
    cap_percent: NumberText | None
    suspension_share_percent: NumberText
    position_correction: str
    minimum_charge_yuan: MoneyText
    rounding_mode: str
    rounding_quantum_yuan: MoneyText
    billed_area: str
    broken_meter_share_percent: NumberText
    broken_meter_method: str
    position_coefficients: dict[str, CoefficientText]

    @classmethod
    def from_terms(cls, terms: TariffTerms) -> TariffTermsOutput:
        price = terms.price
        return cls(
            area_price_yuan_per_m2=price.area_price_yuan_per_m2,
            base_share_percent=price.base_share_percent,
            energy_price_yuan_per_gj=price.energy_price_yuan_per_gj,
            policy=SettlementPolicy(price.policy).value,
            cap_percent=price.cap_percent,
            suspension_share_percent=price.suspension_share_percent,
            position_correction=PositionCorrection(price.position_correction).value,
            minimum_charge_yuan=price.minimum_charge_yuan,
            rounding_mode=RoundingMode(price.rounding.mode).value,
            rounding_quantum_yuan=price.rounding.quantum_yuan,
            billed_area=BilledArea(terms.billed_area).value,
            broken_meter_share_percent=terms.broken_meter_share_percent,
            broken_meter_method=BrokenMeterMethod(terms.broken_meter_method).value,
            position_coefficients=dict(terms.position_coefficients),
        )


class TariffVersionOutput(BaseModel):
    """A published tariff version."""

    customer_class: str
    scope: str = Field(description='A community, or "*" for the whole city')
    version: int = Field(description="From 1, in the order published")
    effective_from: date
    effective_until: date | None
    document_number: str
    approved_on: date
    terms: TariffTermsOutput
    published_by: str
    reason: str
    published_at: datetime | None = Field(
        default=None, description="When the ledger recorded it (in the lists; absent in the answer to the POST)"
    )

    @classmethod
    def from_version(
        cls, customer_class: str, scope: str, version: TariffVersion, published_by: str, reason: str
    ) -> TariffVersionOutput:
        return cls(
            customer_class=customer_class,
            scope=scope,
            version=version.number,
            effective_from=version.effective_from,
            effective_until=version.effective_until,
            document_number=version.document_number,
            approved_on=version.approved_on,
            terms=TariffTermsOutput.from_terms(version.terms),
            published_by=published_by,
            reason=reason,
        )

    @classmethod
    def from_record(cls, record: TariffVersionRecord) -> TariffVersionOutput:
        return cls(
            customer_class=record.customer_class,
            scope=record.scope,
            version=record.version,
            effective_from=record.effective_from,
            effective_until=record.effective_until,
            document_number=record.document_number,
            approved_on=record.approved_on,
            terms=TariffTermsOutput.from_terms(TariffTerms.from_record(record.terms)),
            published_by=record.actor,
            reason=record.reason,
            published_at=record.published_at,
        )


class TariffList(BaseModel):
    """Tariff versions by customer class, scope and version."""

    items: list[TariffVersionOutput]


# -- billing runs --------------------------------------------------------------------------------


class BillingRunRequest(RequestModel):
    """A billing run: the prepayment, a month's statements or the settlement of a season, over a
    community or (without one) the whole city."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "settlement", "season": "2025-2026", "community": "碧桂园", "reason": "season settlement"}
            ]
        }
    )

    kind: BillKind = Field(description="prepayment | statement | settlement")
    season: SeasonCode
    month: MonthCode | None = Field(default=None, description="The month of a statement run (statements only)")
    community: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    reason: OptionalReason = None


class RunProgress(BaseModel):
    """Households billed so far of those in the run."""

    done: int
    total: int


class RunExceptionOutput(BaseModel):
    """A household the run could not bill, and why."""

    account_number: str
    message_key: str = Field(description="Stable code of the reason, e.g. season_not_covered")
    message: str = Field(description="The reason, in the caller's language")
    params: dict[str, str]


class RunSummaryOutput(BaseModel):
    """What a finished run did."""

    households: int
    bills_issued: int
    already_issued: int = Field(description="Households whose bill of this run was issued before (a re-run)")
    charged_yuan: MoneyText = Field(description="Sum of the positive amounts: invoices and supplements")
    credited_yuan: MoneyText = Field(description="Sum of the negative amounts: refunds and credits")
    by_basis: dict[str, int] = Field(description="Bills per basis: area, metered, allocated, …")
    exceptions: list[RunExceptionOutput]
    skipped: list[RunExceptionOutput] = Field(
        default_factory=list,
        description="Households the season does not bill at all (registered after it, deregistered before it)",
    )


class RunProblem(BaseModel):
    """Why a run failed, as an RFC 9457 problem would say it."""

    type: str
    title: str
    detail: str
    code: str = Field(description="Stable code, e.g. season_without_tariff or run_failed")
    params: dict[str, Any]


class BillingRunOutput(BaseModel):
    """A billing run: where it stands, how far it came, what it did or why it stopped."""

    run_id: UUID
    status: str = Field(description="queued | running | done | failed")
    kind: str
    season: str
    month: str | None
    community: str | None
    reason: str
    submitted_by: str
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: RunProgress
    summary: RunSummaryOutput | None = Field(description="When the run is done")
    error: RunProblem | None = Field(description="When the run failed")

    @classmethod
    def from_record(
        cls, record: BillingRunRecord, summary: RunSummaryOutput | None, error: RunProblem | None
    ) -> BillingRunOutput:
        return cls(
            run_id=record.run_id,
            status=record.status.value,
            kind=record.kind.value,
            season=record.season_code,
            month=record.month,
            community=record.community,
            reason=record.reason,
            submitted_by=record.actor,
            submitted_at=record.submitted_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            progress=RunProgress(done=record.households_done, total=record.households_total),
            summary=summary,
            error=error,
        )


class BillingRunList(BaseModel):
    """The latest runs, newest first."""

    items: list[BillingRunOutput]


# -- owner changes -------------------------------------------------------------------------------


class OwnerChange(RequestModel):
    """过户: the flat passes to a new holder from ``effective_on``; the season's settlement is split there."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"effective_on": "2026-01-15", "reason": "sale"}]})

    effective_on: IsoDate
    reason: Reason


# -- building allocations ------------------------------------------------------------------------


class RadiatorInput(BaseModel):
    """A heat cost allocator on one radiator: the season's reading and the radiator's two factors."""

    model_config = ConfigDict(extra="forbid")

    reading_units: AllocationFigure
    rating_factor_kq: AllocationFigure
    contact_factor_kc: AllocationFigure


class FlatAllocationInput(BaseModel):
    """One flat's inputs; the method reads only those it needs."""

    model_config = ConfigDict(extra="forbid")

    account_number: AccountNumber
    area_m2: AllocationFigure
    open_hours: AllocationFigure | None = Field(
        default=None,
        description="on_off_time_area: the valve's open hours in the season; "
        "default: from the flat's room controllers' reports",
    )
    room_temperature_c: AllocationFigure | None = Field(default=None, description="temperature_area: mean °C")
    radiators: list[RadiatorInput] = Field(default_factory=list, max_length=MAXIMUM_RADIATORS_PER_FLAT)

    def to_domain(self) -> FlatInput:
        radiators = tuple(
            Radiator(radiator.reading_units, radiator.rating_factor_kq, radiator.contact_factor_kc)
            for radiator in self.radiators
        )
        return FlatInput(self.account_number, self.area_m2, self.open_hours, self.room_temperature_c, radiators)


class AllocationRequest(RequestModel):
    """The season's inputs for sharing a building meter's heat among its flats (a new revision)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "season": "2025-2026",
                    "method": "on_off_time_area",
                    "building_energy_gj": "1200.000",
                    "flats": [
                        {"account_number": "WZ-0101", "area_m2": "90.00", "open_hours": "3000"},
                        {"account_number": "WZ-0102", "area_m2": "75.50", "open_hours": "2100"},
                    ],
                    "reason": "valve logs of the season",
                }
            ]
        }
    )

    season: SeasonCode
    method: AllocationMethod
    outdoor_temperature_c: AllocationFigure | None = Field(
        default=None, description="The season's mean outdoor temperature (temperature_area)"
    )
    building_energy_gj: AllocationFigure | None = Field(
        default=None, description="The building's heat; by default what its building meter measured in the season"
    )
    flats: list[FlatAllocationInput] = Field(min_length=1, max_length=MAXIMUM_FLATS_PER_REQUEST)
    reason: OptionalReason = None

    def flat_inputs(self) -> list[FlatInput]:
        return [flat.to_domain() for flat in self.flats]


class FlatShareOutput(BaseModel):
    """A flat's weight and its share of the building's heat."""

    account_number: str
    weight: NumberText
    energy_gj: EnergyText


class AllocationOutput(BaseModel):
    """A revision of a building's allocation: the shares sum exactly to the building's heat."""

    community: str
    building: str
    season: str
    revision: int
    method: str
    building_energy_gj: EnergyText
    source: str = Field(description='Where the building total came from: "building meter" or "given"')
    outdoor_temperature_c: NumberText | None
    weight_total: NumberText
    shares: list[FlatShareOutput]

    @classmethod
    def from_allocation(
        cls, community: str, building: str, season: Season, revision: int, source: str, allocation: Allocation
    ) -> AllocationOutput:
        return cls(
            community=community,
            building=building,
            season=season.code,
            revision=revision,
            method=AllocationMethod(allocation.method).value,
            building_energy_gj=allocation.building_energy_gj,
            source=source,
            outdoor_temperature_c=allocation.outdoor_temperature_c,
            weight_total=allocation.weight_total,
            shares=[
                FlatShareOutput(account_number=share.account_number, weight=share.weight, energy_gj=share.energy_gj)
                for share in allocation.shares
            ],
        )


# -- bills ---------------------------------------------------------------------------------------


class BillLineOutput(BaseModel):
    """One step of a bill: the formula (code), what it gave and the figures put in."""

    code: str = Field(examples=["area_fee"])
    amount_yuan: MoneyText | None = Field(description="None for a line that states a fact")
    figures: dict[str, str]

    @classmethod
    def from_record(cls, line: BillLineRecord) -> BillLineOutput:
        return cls(code=line.code, amount_yuan=line.amount_yuan, figures=dict(line.figures))


class BillSummary(BaseModel):
    """An issued bill without its lines."""

    bill_id: UUID
    number: str = Field(examples=["2025-2026-S-WZ-0001-season"])
    kind: str = Field(description="prepayment | statement | settlement")
    label: str = Field(description="season (prepayment), the month (statement), the owner segment (settlement)")
    account_number: str
    community: str
    building: str
    season: str
    issued_on: date
    first_day: date
    last_day: date
    days: int
    amount_yuan: MoneyText = Field(description="Charged; negative: refunded or credited (多退)")
    basis: str = Field(description="area, metered, allocated, area_no_meter, area_broken_meter, …")
    issued_by: str
    reason: str

    @staticmethod
    def fields_of(record: BillRecord | BillHeadRecord) -> dict[str, Any]:
        return {
            "bill_id": record.bill_id,
            "number": record.number,
            "kind": record.kind,
            "label": record.label,
            "account_number": record.account_number,
            "community": record.community,
            "building": record.building,
            "season": record.season_code,
            "issued_on": record.issued_on,
            "first_day": record.first_day,
            "last_day": record.last_day,
            "days": (record.last_day - record.first_day).days + 1,
            "amount_yuan": record.amount_yuan,
            "basis": record.basis,
            "issued_by": record.actor,
            "reason": record.reason,
        }

    @classmethod
    def from_record(cls, record: BillRecord) -> BillSummary:
        return cls.model_validate(cls.fields_of(record))

    @classmethod
    def from_head(cls, record: BillHeadRecord) -> BillSummary:
        """The summary of a bill read without its lines (a list of bills)."""
        return cls.model_validate(cls.fields_of(record))


class BillDetail(BillSummary):
    """An issued bill with every line; `GET /bills/{bill_id}/explain` reads them out."""

    correlation_id: UUID = Field(description="The billing run that issued it")
    lines: list[BillLineOutput]

    @classmethod
    def from_record(cls, record: BillRecord) -> BillDetail:
        return cls.model_validate(
            {
                **BillSummary.fields_of(record),
                "correlation_id": record.correlation_id,
                "lines": [BillLineOutput.from_record(line) for line in record.lines],
            }
        )


class BillPage(BaseModel):
    """A household's bills, latest season and latest issued first."""

    items: list[BillSummary]
    total: int
    limit: int
    offset: int


class ExplainedLine(BaseModel):
    """A bill line as a sentence."""

    code: str
    amount_yuan: MoneyText | None
    sentence: str


class BillExplanationOutput(BaseModel):
    """A bill in words, in the caller's language (Chinese unless `Accept-Language` prefers English)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "bill_id": "6f1c2b8e-8d5e-5b8a-9a57-3f0d2b1c9e10",
                    "number": "2025-2026-P-WZ-0001-season",
                    "language": "zh",
                    "heading": "账单 2025-2026-P-WZ-0001-season：2025-2026 采暖季预交面积热费通知，"
                    "2025-11-01 至 2026-03-31，共 151 天，金额 2160.00 元。",
                    "lines": [
                        {
                            "code": "area_fee",
                            "amount_yuan": "2160.00",
                            "sentence": "面积热费 = 100.00 m² × 21.6 元/m² × (151 供热天 + 0 报停天 × 20 %) / 151 天 "
                            "= 2160.00 元（四舍五入到 0.01 元）",
                        }
                    ],
                }
            ]
        }
    )

    bill_id: UUID
    number: str
    language: str
    heading: str
    lines: list[ExplainedLine]

    @classmethod
    def from_explanation(cls, record: BillRecord, explanation: BillExplanation, language: str) -> BillExplanationOutput:
        lines = [
            ExplainedLine(code=line.code, amount_yuan=line.amount_yuan, sentence=sentence)
            for line, sentence in zip(record.lines, explanation.sentences, strict=True)
        ]
        return cls(
            bill_id=record.bill_id, number=record.number, language=language, heading=explanation.heading, lines=lines
        )


# -- balances ------------------------------------------------------------------------------------


class BalanceOutput(BaseModel):
    """What a household was charged over all seasons, has paid, and still owes (negative: is owed)."""

    account_number: str
    community: str
    building: str
    charged_yuan: MoneyText
    paid_yuan: MoneyText
    balance_yuan: MoneyText
    last_bill_at: datetime | None = Field(description="None before the household's first bill")

    @classmethod
    def from_record(cls, record: BalanceRecord) -> BalanceOutput:
        return cls(
            account_number=record.account_number,
            community=record.community,
            building=record.building,
            charged_yuan=record.charged_yuan,
            paid_yuan=record.paid_yuan,
            balance_yuan=record.balance_yuan,
            last_bill_at=record.last_bill_at,
        )


class CommunityBalanceOutput(BaseModel):
    """A community's households and what they were charged, have paid and owe.

    Over all seasons: bills net of credit notes and refunds paid out; payments net of reversals;
    balance = charged − paid (negative: owed to the households). Of one season: what its bills
    charged, what payments and credit notes have settled of it, and what is still open of it;
    charged = paid + from credit notes + balance, as the households' accounts allocate them."""

    community: str
    households: int = Field(description="Households with an account; of a season, with a bill of it")
    charged_yuan: MoneyText
    paid_yuan: MoneyText
    from_credit_notes_yuan: MoneyText | None = Field(
        description="Of a season: the part of its charges settled by settlement credit notes; "
        "null over all seasons (credit notes are netted in charged_yuan)"
    )
    balance_yuan: MoneyText

    @classmethod
    def from_record(cls, record: CommunityBalanceRecord) -> CommunityBalanceOutput:
        return cls(
            community=record.community,
            households=record.households,
            charged_yuan=record.charged_yuan,
            paid_yuan=record.paid_yuan,
            from_credit_notes_yuan=record.from_credit_notes_yuan,
            balance_yuan=record.balance_yuan,
        )


class CommunityBalances(BaseModel):
    """Balances per community, by name; with a season, that season's charges only."""

    season: str | None
    items: list[CommunityBalanceOutput]


class SeasonProgressOutput(BaseModel):
    """How far one community's season is billed."""

    model_config = ConfigDict(from_attributes=True)

    community: str
    households: int = Field(
        description="Households supplied in the season: registered by its last day, not deregistered by its first"
    )
    prepaid: int = Field(description="Households with the season's prepayment (area fee) bill")
    settled: int = Field(description="Households with the season's settlement bill")


class BillingProgress(BaseModel):
    """A season's billing progress per community, by name, and over the city."""

    season: str
    first_day: date
    last_day: date
    households: int
    prepaid: int
    settled: int
    items: list[SeasonProgressOutput]


def summary_from_payload(
    payload: Mapping[str, Any],
    exceptions: list[RunExceptionOutput] | None = None,
    skipped: list[RunExceptionOutput] | None = None,
) -> RunSummaryOutput:
    """The summary a finished run stored (``infrastructure.billing_runs.summary_to_payload``)."""
    return RunSummaryOutput(
        households=int(payload["households"]),
        bills_issued=int(payload["bills_issued"]),
        already_issued=int(payload["already_issued"]),
        charged_yuan=Decimal(payload["charged_yuan"]),
        credited_yuan=Decimal(payload["credited_yuan"]),
        by_basis={str(name): int(count) for name, count in payload.get("by_basis", {}).items()},
        exceptions=exceptions or [],
        skipped=skipped or [],
    )
