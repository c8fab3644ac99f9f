"""The TariffCorrection aggregate: a price revised after the season, proposed, previewed, approved
by a second person, run once; and the tariff's record of it, which leaves the version as it was."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Mapper
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from domain.tariff import Tariff
from domain.tariff_correction import (
    CorrectionProposal,
    CorrectionState,
    PreviewTotals,
    TariffCorrection,
    tariff_correction_id,
)
from tests.strategies import context
from tests.unit.domain.test_tariff import ledger_transcoder, opened, publish

D = Decimal
TODAY = date(2026, 6, 1)
DIGEST = "a" * 64
OTHER_DIGEST = "b" * 64
DOCUMENT = "许发改价格〔2026〕12号"


def tariff_with_version() -> Tariff:
    tariff = opened()
    publish(tariff, date(2025, 10, 1))
    return tariff


def proposal(**changes: Any) -> CorrectionProposal:
    values: dict[str, Any] = {
        "customer_class": "residential",
        "scope": "碧桂园",
        "tariff_version": 1,
        "overrides": {"energy_price_yuan_per_gj": D("40.5")},
        "document_number": DOCUMENT,
        "approved_on": date(2026, 5, 20),
        "seasons": ("2025-2026",),
    }
    return CorrectionProposal(**(values | changes))


def proposed(actor: str = "admin-zhao") -> TariffCorrection:
    return TariffCorrection.propose(tariff_with_version(), proposal(), TODAY, context(actor, "物价局更正能量价"))


def previewed(actor: str = "admin-zhao", totals: PreviewTotals | None = None) -> TariffCorrection:
    correction = proposed(actor)
    number = correction.start_preview(context(actor))
    correction.record_preview(
        number,
        [uuid4()],
        totals or PreviewTotals(notes=2, credit_notes=2, credit_yuan=D("-30.00")),
        DIGEST,
        context(actor),
    )
    return correction


def running() -> TariffCorrection:
    correction = previewed()
    correction.approve(context("admin-qian", "checked the preview"))
    assert correction.start_run(DIGEST, [], context("admin-zhao"))
    return correction


# -- proposing ---------------------------------------------------------------------------------


def test_a_proposal_names_the_version_the_corrected_price_and_the_document() -> None:
    correction = proposed()
    assert correction.state is CorrectionState.PROPOSED
    assert correction.id == tariff_correction_id("residential", "碧桂园", 1, DOCUMENT)
    assert correction.proposal.overrides == {"energy_price_yuan_per_gj": "40.5"}
    assert correction.proposed_by == "admin-zhao"
    assert len(correction.code) == 10 and correction.id.hex.startswith(correction.code)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"overrides": {"energy_price_yuan_per_gj": D("43.9")}}, "tariff_correction_changes_nothing"),
        ({"overrides": {"billed_area": "heated"}}, "scenario_variant_field_unknown"),
        ({"overrides": {"area_price_yuan_per_m2": D("-1")}}, "price_negative"),
        ({"seasons": ("2026-2027",)}, "tariff_correction_season_not_over"),
        ({"seasons": ("2024-2025",)}, "tariff_correction_season_outside_version"),
        ({"seasons": ("2025-2027",)}, "season_invalid"),
        ({"seasons": ()}, "tariff_correction_season_count"),
        ({"approved_on": date(2026, 6, 2)}, "tariff_correction_approved_later"),
    ],
)
def test_a_proposal_that_corrects_nothing_or_no_past_season_is_refused(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        TariffCorrection.propose(tariff_with_version(), proposal(**changes), TODAY, context())
    assert refused.value.message_key == key


def test_a_proposal_of_a_version_the_tariff_does_not_have_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        TariffCorrection.propose(tariff_with_version(), proposal(tariff_version=2), TODAY, context())


def test_a_proposal_says_why() -> None:
    with pytest.raises(InvalidInputError) as refused:
        TariffCorrection.propose(tariff_with_version(), proposal(), TODAY, context(reason="  "))
    assert refused.value.params["field"] == "reason"


def test_the_same_proposal_again_changes_nothing_and_other_figures_need_a_new_preview() -> None:
    correction = previewed()
    tariff = tariff_with_version()
    assert not correction.propose_again(tariff, proposal(), TODAY, context())
    assert correction.state is CorrectionState.PREVIEWED
    other = proposal(overrides={"energy_price_yuan_per_gj": D("41")})
    assert correction.propose_again(tariff, other, TODAY, context("admin-sun"))
    assert (correction.state, correction.proposed_by, correction.preview_totals) == (
        CorrectionState.PROPOSED,
        "admin-sun",
        None,
    )
    with pytest.raises(ConflictError):
        correction.approve(context("admin-qian"))


def test_an_approved_correction_is_not_proposed_again() -> None:
    correction = previewed()
    correction.approve(context("admin-qian"))
    with pytest.raises(ConflictError) as refused:
        correction.propose_again(
            tariff_with_version(), proposal(overrides={"energy_price_yuan_per_gj": D("41")}), TODAY, context()
        )
    assert refused.value.message_key == "tariff_correction_exists"


def test_a_refused_correction_may_be_proposed_again_even_unchanged() -> None:
    correction = previewed()
    correction.refuse(context("admin-qian", "wrong document"))
    assert correction.state is CorrectionState.REFUSED
    assert correction.propose_again(tariff_with_version(), proposal(), TODAY, context())
    assert str(correction.state) == "proposed"


# -- preview and approval ------------------------------------------------------------------------


def test_a_second_person_approves_the_latest_preview() -> None:
    correction = previewed()
    with pytest.raises(PermissionDeniedError) as refused:
        correction.approve(context("admin-zhao", "I checked it myself"))
    assert refused.value.message_key == "second_person_required"
    correction.approve(context("admin-qian", "checked"))
    assert (correction.state, correction.approved_by, correction.approved_preview) == (
        CorrectionState.APPROVED,
        "admin-qian",
        1,
    )


def test_nothing_is_approved_before_its_preview_is_in() -> None:
    correction = proposed()
    with pytest.raises(ConflictError):
        correction.approve(context("admin-qian"))
    correction.start_preview(context())
    with pytest.raises(ConflictError) as refused:
        correction.approve(context("admin-qian"))
    assert refused.value.params["state"] == "previewing"


def test_an_overtaken_preview_is_not_recorded() -> None:
    correction = proposed()
    first = correction.start_preview(context())
    second = correction.start_preview(context())
    with pytest.raises(ConflictError) as refused:
        correction.record_preview(first, [uuid4()], PreviewTotals(), DIGEST, context())
    assert refused.value.message_key == "tariff_correction_preview_stale"
    correction.record_preview(second, [uuid4()], PreviewTotals(), DIGEST, context())
    assert correction.state is CorrectionState.PREVIEWED


# -- the run ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["proposed", "previewed", "refused"])
def test_no_run_before_approval(state: str) -> None:
    correction = proposed() if state == "proposed" else previewed()
    if state == "refused":
        correction.refuse(context("admin-qian", "no"))
    with pytest.raises(ConflictError) as refused:
        correction.start_run(DIGEST, [], context())
    assert refused.value.message_key == "tariff_correction_state"


def test_a_run_books_only_the_approved_notes() -> None:
    correction = previewed()
    correction.approve(context("admin-qian"))
    with pytest.raises(ConflictError) as refused:
        correction.start_run(OTHER_DIGEST, [], context())
    assert refused.value.message_key == "tariff_correction_preview_changed"
    assert correction.state is CorrectionState.APPROVED


def test_a_run_completes_once_every_previewed_note_is_booked_and_is_idempotent() -> None:
    correction = running()
    assert not correction.start_run(DIGEST, [], context())  # resumed: nothing new
    correction.record_notes([D("-10.00")], context())
    with pytest.raises(ConflictError) as refused:
        correction.complete(context())
    assert refused.value.message_key == "tariff_correction_incomplete"
    correction.record_notes([], context())  # a chunk booked before: no event
    correction.record_notes([D("-20.00")], context())
    assert correction.complete(context())
    assert correction.state is CorrectionState.COMPLETED
    assert not correction.complete(context())
    assert not correction.start_run(DIGEST, [], context())
    with pytest.raises(ConflictError):
        correction.refuse(context("admin-qian", "too late"))


def test_a_correction_survives_the_event_store() -> None:
    correction = running()
    correction.record_notes([D("-10.00"), D("-20.00")], context())
    correction.complete(context())
    mapper: Mapper[UUID] = Mapper(transcoder=ledger_transcoder())
    copy: TariffCorrection | None = None
    for pending in correction.collect_events():
        stored: Any = mapper.to_domain_event(mapper.to_stored_event(pending))
        copy = stored.mutate(copy)
    assert copy is not None
    assert (copy.state, copy.proposal, copy.preview_totals, copy.booked) == (
        correction.state,
        correction.proposal,
        correction.preview_totals,
        correction.booked,
    )


@given(st.integers(min_value=1, max_value=999))
def test_a_notes_reference_fits_a_bills_label(segment: int) -> None:
    correction = proposed()
    reference = correction.note_reference(str(segment))
    assert len(f"tariff_correction:{reference}") <= 32


@given(
    st.builds(
        PreviewTotals,
        households=st.integers(0, 10**6),
        notes=st.integers(0, 10**6),
        debit_yuan=st.decimals(min_value=0, max_value=10**8, places=2),
        credit_yuan=st.decimals(min_value=-(10**8), max_value=0, places=2),
    )
)
def test_preview_totals_survive_their_record(totals: PreviewTotals) -> None:
    assert PreviewTotals.from_record(totals.to_record()) == totals
    assert totals.net_yuan == totals.debit_yuan + totals.credit_yuan


# -- the tariff's record ---------------------------------------------------------------------------


def test_the_tariff_records_the_correction_once_and_keeps_its_version() -> None:
    tariff = tariff_with_version()
    version = tariff.version_numbered(1)
    correction_id = uuid4()
    arguments = (1, correction_id, DOCUMENT, date(2026, 5, 20), {"energy_price_yuan_per_gj": "40.5"}, ("2025-2026",))
    assert tariff.record_correction(*arguments, context())
    assert not tariff.record_correction(*arguments, context())
    assert tariff.version_numbered(1) == version
    (recorded,) = tariff.corrections_of(1)
    assert (recorded.correction_id, recorded.document_number) == (correction_id, DOCUMENT)
    with pytest.raises(NotFoundError):
        tariff.record_correction(2, uuid4(), DOCUMENT, date(2026, 5, 20), {}, (), context())


# -- a version corrected twice -----------------------------------------------------------------------


def corrected_once() -> tuple[Tariff, TariffCorrection]:
    """A tariff whose version 1 was corrected (energy 40.5 元/GJ) for 2025-2026 by a correction that ran."""
    tariff = tariff_with_version()
    first = proposed()
    tariff.record_correction(
        1, first.id, DOCUMENT, date(2026, 5, 20), first.proposal.overrides, first.proposal.seasons, context()
    )
    return tariff, first


def test_a_second_correction_builds_on_the_first_that_ran() -> None:
    tariff, first = corrected_once()
    second = TariffCorrection.propose(
        tariff,
        proposal(overrides={"energy_price_yuan_per_gj": D("41")}, document_number="许发改价格〔2026〕20号"),
        TODAY,
        context(),
    )
    assert second.proposal.base_overrides == {"2025-2026": {"energy_price_yuan_per_gj": "40.5"}}
    assert second.proposal.prior_corrections == (str(first.id),)
    terms = tariff.version_numbered(1).terms
    assert second.proposal.terms_before(terms, "2025-2026").price.energy_price_yuan_per_gj == D("40.5")
    assert second.proposal.corrected_terms(terms, "2025-2026").price.energy_price_yuan_per_gj == D("41")
    with pytest.raises(InvalidInputError) as refused:
        TariffCorrection.propose(tariff, proposal(document_number="许发改价格〔2026〕21号"), TODAY, context())
    assert refused.value.message_key == "tariff_correction_changes_nothing"  # 40.5 already


def test_a_correction_overtaken_by_another_that_ran_does_not_run() -> None:
    correction = previewed()
    correction.approve(context("admin-qian"))
    with pytest.raises(ConflictError) as refused:
        correction.start_run(DIGEST, [uuid4()], context())
    assert refused.value.message_key == "tariff_correction_overtaken"
    assert correction.state is CorrectionState.APPROVED


def test_a_completed_correction_proposed_again_unchanged_is_a_retry() -> None:
    correction = running()
    correction.record_notes([D("-10.00"), D("-20.00")], context())
    correction.complete(context())
    assert not correction.propose_again(tariff_with_version(), proposal(), TODAY, context())
