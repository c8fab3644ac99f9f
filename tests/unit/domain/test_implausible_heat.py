"""The far-beyond rule for implausible heat, the refusal to settle it undecided, the bill lines of
a decision, and the decision as an event on the meter (domain/implausible_heat.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInputError
from domain.implausible_heat import (
    DecisionTaken,
    HeatDecision,
    ImplausibleHeatError,
    ImplausibleInterval,
    IntervalEvidence,
    decision_lines,
    is_far_beyond,
    require_decided,
)
from domain.meter import Meter
from tests.strategies import context, new_meter

D = Decimal
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 10, tzinfo=SHANGHAI)
END = datetime(2026, 1, 15, tzinfo=SHANGHAI)
# The integration case: 38 GJ recorded where 12 m³ at 70/50 °C give 0.991810 GJ (class 2, 4.10 %).
JUMP = IntervalEvidence("M-1", START, END, D(38), D("0.991810"), D("3731.38"), D("4.10"))


def evidence(recorded: str, expected: str, deviation: str, permissible: str = "4.10") -> IntervalEvidence:
    return IntervalEvidence("M-1", START, END, D(recorded), D(expected), D(deviation), D(permissible))


def decided(
    decision: HeatDecision, estimated: Decimal | None = None, at: IntervalEvidence = JUMP
) -> ImplausibleInterval:
    return ImplausibleInterval(at, DecisionTaken(decision, "clerk-wang", "checked", estimated, "own_history"))


# -- the rule ------------------------------------------------------------------------------------


def test_38_gj_where_1_gj_was_expected_is_far_beyond() -> None:
    assert JUMP.far_beyond


@pytest.mark.parametrize(
    ("deviation", "far"),
    [("41.00", False), ("41.01", True), ("-41.00", False), ("-41.01", True)],
)
def test_far_beyond_means_more_than_ten_times_the_mpe_either_way(deviation: str, far: bool) -> None:
    # 10 × 4.10 % = 41.00 %; the recorded heat is 1 GJ off either way, above the 0.1 GJ floor.
    recorded = "3" if not deviation.startswith("-") else "1"
    assert evidence(recorded, "2", deviation).far_beyond is far


def test_a_few_mj_off_is_not_far_beyond_however_large_the_percentage() -> None:
    # Register resolution on a short interval: 0.0036 GJ where 0.0009 was expected is +300 %.
    assert not evidence("0.0036", "0.0009", "300.00").far_beyond
    assert evidence("0.1009", "0.0009", "11111.11").far_beyond  # 0.1 GJ off: the floor is reached


@given(
    deviation=st.decimals(min_value=-100, max_value=100_000, places=2),
    more=st.decimals(min_value=0, max_value=1000, places=2),
    permissible=st.decimals(min_value=D("0.5"), max_value=20, places=2),
)
def test_a_larger_deviation_with_the_same_excess_stays_far_beyond(
    deviation: Decimal, more: Decimal, permissible: Decimal
) -> None:
    larger = deviation + more if deviation >= 0 else deviation - more
    if is_far_beyond(D(3), D(1), deviation, permissible):
        assert is_far_beyond(D(3), D(1), larger, permissible)
    # Far beyond is always outside the MPE: monitoring lists every interval a settlement stops at.
    if is_far_beyond(D(3), D(1), deviation, permissible):
        assert abs(deviation) > permissible


# -- settling ------------------------------------------------------------------------------------


def test_an_undecided_interval_stops_the_settlement_with_the_evidence() -> None:
    with pytest.raises(ImplausibleHeatError) as refused:
        require_decided("A-1", (ImplausibleInterval(JUMP),))
    ((key, params),) = refused.value.exceptions
    assert key == "implausible_heat"
    assert params["interval_start"] == "2026-01-10T00:00:00+08:00"
    assert (params["recorded_gj"], params["expected_gj"]) == ("38.000", "0.99181")
    assert (params["deviation_percent"], params["permissible_error_percent"]) == ("3731.38", "4.10")


def test_a_held_interval_stops_it_too_and_says_who_held_it() -> None:
    with pytest.raises(ImplausibleHeatError) as refused:
        require_decided("A-1", (decided(HeatDecision.HOLD), decided(HeatDecision.BILL_AS_MEASURED)))
    ((key, params),) = refused.value.exceptions  # the decided one is not listed
    assert (key, params["decided_by"], params["decision_reason"]) == (
        "held_pending_verification",
        "clerk-wang",
        "checked",
    )


def test_decided_intervals_let_it_settle() -> None:
    require_decided("A-1", (decided(HeatDecision.BILL_AS_MEASURED), decided(HeatDecision.ESTIMATE, D(1))))


def test_each_decision_is_a_line_on_the_bill_of_its_days() -> None:
    intervals = (decided(HeatDecision.BILL_AS_MEASURED), decided(HeatDecision.HOLD))
    (measured,) = decision_lines(intervals, date(2025, 11, 1), date(2026, 3, 31))
    assert measured.code == "heat_billed_as_measured" and measured.amount_yuan is None
    (estimate,) = decision_lines(
        (decided(HeatDecision.ESTIMATE, D("1.000000000")),), date(2026, 1, 14), date(2026, 3, 31)
    )
    assert (estimate.code, estimate.figures["estimated_gj"]) == ("heat_replaced_by_estimate", "1.000")


def test_an_interval_ending_at_a_segments_first_midnight_is_not_on_its_bill() -> None:
    # 10 → 15 January spends no time on the 15th: a segment from the 15th does not show it.
    interval = (decided(HeatDecision.BILL_AS_MEASURED),)
    assert decision_lines(interval, date(2026, 1, 15), date(2026, 3, 31)) == []
    assert len(decision_lines(interval, date(2025, 11, 1), date(2026, 1, 10))) == 1


# -- the decision on the meter -------------------------------------------------------------------


def decide(meter: Meter, decision: HeatDecision, estimate: Decimal | None = None, reason: str = "checked") -> bool:
    return meter.decide_implausible_heat(JUMP, decision, estimate, "own_history", context(reason=reason))


def test_a_decision_is_an_event_with_the_evidence_actor_and_reason() -> None:
    meter = new_meter("M-1")
    assert decide(meter, HeatDecision.ESTIMATE, D(1), "register jumped")
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.ImplausibleHeatDecided)
    assert (event.decision, event.estimated_energy_gj, event.method) == ("estimate", D(1), "own_history")
    assert (event.recorded_energy_gj, event.expected_energy_gj) == (D(38), D("0.991810"))
    assert (event.actor, event.reason) == ("clerk-li", "register jumped")


def test_the_same_decision_again_records_nothing_and_another_replaces_it() -> None:
    meter = new_meter("M-1")
    assert decide(meter, HeatDecision.HOLD)
    assert not decide(meter, HeatDecision.HOLD, reason="asked twice")
    assert decide(meter, HeatDecision.BILL_AS_MEASURED)
    assert decide(meter, HeatDecision.HOLD)  # back to hold is a change again
    assert [type(event).__name__ for event in meter.pending_events].count("ImplausibleHeatDecided") == 3


def test_a_new_estimate_is_a_new_decision() -> None:
    meter = new_meter("M-1")
    assert decide(meter, HeatDecision.ESTIMATE, D("1.000"))
    assert not decide(meter, HeatDecision.ESTIMATE, D("1.0"))  # the same energy written otherwise
    assert decide(meter, HeatDecision.ESTIMATE, D("1.2"))


@pytest.mark.parametrize(
    ("decision", "estimate", "reason", "key"),
    [
        (HeatDecision.BILL_AS_MEASURED, None, " ", "reason_required"),
        (HeatDecision.ESTIMATE, None, "x", "estimate_only_for_estimate"),
        (HeatDecision.HOLD, D(1), "x", "estimate_only_for_estimate"),
    ],
)
def test_a_decision_without_a_reason_or_with_a_misplaced_estimate_is_refused(
    decision: HeatDecision, estimate: Decimal | None, reason: str, key: str
) -> None:
    meter = new_meter("M-1")
    with pytest.raises(InvalidInputError) as refused:
        decide(meter, decision, estimate, reason)
    assert refused.value.message_key == key
    assert not meter.pending_events[1:]


def test_a_decision_about_an_interval_not_far_beyond_is_refused() -> None:
    meter = new_meter("M-1")
    with pytest.raises(InvalidInputError) as refused:
        meter.decide_implausible_heat(
            evidence("0.3", "0.2", "50.00", "10.00"), HeatDecision.BILL_AS_MEASURED, None, "", context()
        )
    assert refused.value.message_key == "interval_not_far_beyond"
