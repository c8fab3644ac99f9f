"""Heat far beyond a meter's permissible error in a settlement run, on SQLite and PostgreSQL: the
household is an exception with the evidence until a clerk decides, and the bill says what was done.

Season 2025-2026 (1 Nov – 31 Mar, 151 days). Meter M-1 of A-1 (90 m²) is read at every midnight:
0.2 GJ and 2.4 m³ a day at 70/50 °C (k = 4.132540 MJ/(m³·K) with the flow sensor in the return,
so k·Δθ·ΔV = 0.198362 GJ: plausible). The readings of 11–14 January are missing, and the
interval 10 Jan 00:00 → 15 Jan 00:00 recorded 38 GJ where its 12 m³ give 0.991810 GJ: +3731.38 %
against a permissible 4.10 %. Prices as in test_billing_runs: area fee 90 × 21.6 = 1944.00 元,
base 30 % = 583.20 元, 43.9 元/GJ, both ways (多退少补), prepaid 1944.00 元.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from api.bill_explanations import explain_bill
from api.messages import Language
from application.authorization import SYSTEM, Principal, Role
from application.billing_runs import RunRequest, RunSummary
from domain.billing import BillKind
from domain.billing_period import IssuedBill
from domain.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from domain.implausible_heat import HeatDecision
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import TariffTerms
from domain.values import CustomerClass
from infrastructure.container import Container
from tests.strategies import household_with_meter, item

D = Decimal
SEASON = Season.default_starting(2025)
SHANGHAI = ZoneInfo("Asia/Shanghai")
AFTER_SEASON = datetime(2026, 4, 15, 2, tzinfo=UTC)
CLERK = Principal("clerk-wang", Role.CLERK)
TERMS = TariffTerms(
    TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.BOTH_WAYS, position_correction=PositionCorrection.NONE)
)
JUMP_START_DAY, JUMP_END_DAY = 70, 75  # 10 and 15 January 2026
JUMP_START = datetime(2026, 1, 10, tzinfo=SHANGHAI).astimezone(UTC)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)


def energy_on(day: int) -> Decimal:
    """The register at the season's day ``day``: 0.2 GJ a day, and 38 GJ over the five missing days."""
    if day <= JUMP_START_DAY:
        return D(100) + D("0.2") * day
    return D(100) + D("0.2") * JUMP_START_DAY + D(38) + D("0.2") * (day - JUMP_END_DAY)


@pytest.fixture
def season(container: Container) -> Container:
    container.ledger.clock = lambda: AFTER_SEASON
    household_with_meter(container.ledger, "A-1", "M-1")
    days = [day for day in range(SEASON.days + 1) if not JUMP_START_DAY < day < JUMP_END_DAY]
    readings = [
        item(
            "M-1",
            midnight(SEASON.first_day + timedelta(days=day)),
            energy_on(day),
            volume_m3=D(1000) + D("2.4") * day,
            flow_temperature_c=D(70),
            return_temperature_c=D(50),
        )
        for day in days
    ]
    assert container.ledger.record_readings(SYSTEM, readings).accepted == len(readings)
    container.billing.publish_tariff(
        SYSTEM,
        CustomerClass.RESIDENTIAL,
        "*",
        TERMS,
        date(2025, 10, 1),
        None,
        "许发改价格〔2025〕7号",
        date(2025, 9, 20),
    )
    run(container, BillKind.PREPAYMENT)
    return container


def run(container: Container, kind: BillKind) -> RunSummary:
    summary = container.billing_runs.run(CLERK, RunRequest(kind, SEASON))
    container.catch_up()
    return summary


def decide(container: Container, decision: HeatDecision, reason: str = "checked on site") -> bool:
    outcome = container.heat_decisions.decide(CLERK, "M-1", JUMP_START, decision, reason)
    return outcome.recorded


def settlement(container: Container) -> IssuedBill:
    (bill,) = container.billing.period("A-1", SEASON).issued(BillKind.SETTLEMENT)
    return bill


def line(bill: IssuedBill, code: str) -> dict[str, str]:
    return next(found for found in bill.lines if found.code == code).figures


def explained(bill: IssuedBill, language: Language) -> str:
    lines = bill.lines
    return " ".join(
        explain_bill(
            bill.number, "settlement", SEASON.code, bill.first_day, bill.last_day, bill.amount_yuan, lines, language
        ).sentences
    )


def test_a_season_with_one_38_gj_interval_is_an_exception_with_the_evidence(season: Container) -> None:
    summary = run(season, BillKind.SETTLEMENT)
    assert summary.bills_issued == 0
    (exception,) = summary.exceptions
    assert (exception.account_number, exception.message_key) == ("A-1", "implausible_heat")
    assert exception.params == {
        "account_number": "A-1",
        "meter_serial": "M-1",
        "interval_start": "2026-01-10T00:00:00+08:00",
        "interval_end": "2026-01-15T00:00:00+08:00",
        "recorded_gj": "38.000",
        "expected_gj": "0.99181",
        "deviation_percent": "3731.38",
        "permissible_error_percent": "4.10",
        "factor": "10",
    }
    assert not season.billing.period("A-1", SEASON).is_settled


def test_billed_as_measured_the_bill_carries_the_38_gj_and_says_why(season: Container) -> None:
    assert decide(season, HeatDecision.BILL_AS_MEASURED, "the flat was dried out after a leak")
    summary = run(season, BillKind.SETTLEMENT)
    assert summary.exceptions == []
    bill = settlement(season)
    # 146 days × 0.2 + 38 = 67.2 GJ → 67.2 × 43.9 = 2950.08; + base 583.20 = 3533.28; less 1944.00.
    assert D(line(bill, "energy_metered")["measured_gj"]) == D("67.2")
    assert bill.amount_yuan == D("1589.28")
    decided = line(bill, "heat_billed_as_measured")
    assert (decided["decided_by"], decided["decision_reason"]) == ("clerk-wang", "the flat was dried out after a leak")
    english = explained(bill, Language.EN)
    assert "billed as measured" in english and "the flat was dried out after a leak" in english
    assert "按实测计费" in explained(bill, Language.ZH)


def test_replaced_by_an_estimate_the_interval_bills_its_own_history(season: Container) -> None:
    # No weather and no other flat in the building: the estimate is the meter's mean over the 14
    # measured days before (0.2 GJ) for each of the 5 days = 1.000 GJ. 29.2 + 1.0 = 30.2 GJ →
    # 1325.78 + 583.20 = 1908.98 due, 35.02 back.
    assert decide(season, HeatDecision.ESTIMATE, "register jumped: the calculator is suspect")
    summary = run(season, BillKind.SETTLEMENT)
    assert summary.exceptions == []
    bill = settlement(season)
    energy = line(bill, "energy_metered")
    assert (D(energy["measured_gj"]), D(energy["estimated_gj"])) == (D("29.2"), D("1.0"))
    assert (energy["days_measured"], energy["days_estimated"]) == ("146", "5")
    assert bill.amount_yuan == D("-35.02")
    replaced = line(bill, "heat_replaced_by_estimate")
    assert (replaced["estimated_gj"], replaced["method"]) == ("1.000", "own_history_scaled_by_building")
    assert "replaced by an estimate of 1.000 GJ" in explained(bill, Language.EN)
    assert "估算" in explained(bill, Language.ZH)


def test_held_pending_verification_the_household_stays_an_exception(season: Container) -> None:
    assert decide(season, HeatDecision.HOLD, "verification ordered (JJG 225)")
    (exception,) = run(season, BillKind.SETTLEMENT).exceptions
    assert exception.message_key == "held_pending_verification"
    assert (exception.params["decided_by"], exception.params["decision_reason"]) == (
        "clerk-wang",
        "verification ordered (JJG 225)",
    )
    assert exception.params["recorded_gj"] == "38.000"
    # Decided otherwise once the meter passed: the next run bills it.
    assert decide(season, HeatDecision.BILL_AS_MEASURED, "verification passed, certificate 2026-118")
    assert run(season, BillKind.SETTLEMENT).bills_issued == 1
    assert settlement(season).amount_yuan == D("1589.28")


def test_the_same_decision_twice_records_one_event_and_a_change_replaces_it(season: Container) -> None:
    meter_id = season.ledger.meter("M-1").id
    events_before = len(list(season.ledger.events.get(meter_id)))
    assert decide(season, HeatDecision.ESTIMATE)
    assert not decide(season, HeatDecision.ESTIMATE, "asked again")
    assert len(list(season.ledger.events.get(meter_id))) == events_before + 1
    # From estimate back to measured: the estimate leaves, the 38 GJ is billed.
    assert decide(season, HeatDecision.BILL_AS_MEASURED, "meter verified: it passed")
    run(season, BillKind.SETTLEMENT)
    assert settlement(season).amount_yuan == D("1589.28")
    assert D(line(settlement(season), "energy_metered")["estimated_gj"]) == 0


def test_a_decision_is_refused_without_a_reason_for_a_plausible_interval_or_to_readers(season: Container) -> None:
    with pytest.raises(InvalidInputError) as refused:
        decide(season, HeatDecision.BILL_AS_MEASURED, "  ")
    assert refused.value.message_key == "reason_required"
    with pytest.raises(InvalidInputError) as plausible:
        season.heat_decisions.decide(CLERK, "M-1", midnight(date(2026, 1, 5)), HeatDecision.BILL_AS_MEASURED, "x")
    assert plausible.value.message_key == "interval_not_far_beyond"
    with pytest.raises(NotFoundError):
        season.heat_decisions.decide(CLERK, "M-1", midnight(date(2026, 1, 12)), HeatDecision.HOLD, "x")
    with pytest.raises(PermissionDeniedError):
        season.heat_decisions.decide(Principal("auditor-sun", Role.AUDITOR), "M-1", JUMP_START, HeatDecision.HOLD, "x")


def test_a_rebuild_gives_the_decided_read_models_again(season: Container) -> None:
    decide(season, HeatDecision.ESTIMATE, "register jumped")
    before = run(season, BillKind.SETTLEMENT)
    season.runner.rebuild()
    assert before.exceptions == []
    assert D(line(settlement(season), "energy_metered")["estimated_gj"]) == D("1.0")
    evidence = season.billing.inputs.meter_evidence(
        [season.ledger.household("A-1").id], SEASON.first_day, SEASON.last_day
    )
    (found,) = evidence.values()
    assert (found.measured_gj, found.estimated_gj) == (D("29.2"), D("1.0"))
