"""What the tariff correction pages show and do (issue 13): a price the price bureau revised after
the season, proposed, previewed (a job), approved by a second administrator or refused, and run
(a job) into credit and debit notes against the original periods.

Like ``billing_data``: reads are the API's (``api/routers/tariff_corrections.py``: the read model's
list, the service's correction, the job store's jobs and notes), writes call the API's own endpoint
functions with the schema read from the form. Permissions and the order of the steps (a preview
before the approval, a second person, nothing after the run starts) are the service's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import BackgroundTasks, Response

from api.messages import Language
from api.routers import tariff_corrections as corrections_api
from api.schemas.tariff_corrections import (
    CorrectionNoteOutput,
    Decision,
    JobRequest,
    TariffCorrectionJobOutput,
    TariffCorrectionOutput,
    TariffCorrectionProposal,
)
from api.web.forms import filled
from api.web.pages.billing_data import PAGE_SIZE, Paged, business_today, page_of
from application.authorization import Permission, Principal
from domain.season import current_or_last_season
from domain.tariff_correction import CorrectionState
from infrastructure.container import Container
from infrastructure.tariff_corrections import JobStatus, correction_store_of, tariff_corrections_of
from projections.billing_queries import BillingQueries
from projections.tariff_corrections import MAXIMUM_LISTED, TariffCorrectionQueries

# The price fields a correction may change (the rest of a version is changed by a new version).
PRICE_FIELDS = (
    "area_price_yuan_per_m2",
    "base_share_percent",
    "energy_price_yuan_per_gj",
    "policy",
    "cap_percent",
    "suspension_share_percent",
    "position_correction",
    "minimum_charge_yuan",
    "rounding_mode",
    "rounding_quantum_yuan",
)
PROPOSAL_FIELDS = ("customer_class", "scope", "version", "document_number", "approved_on", "seasons", "reason")
CORRECTION_FIELDS = PROPOSAL_FIELDS + PRICE_FIELDS
DECISION_FIELDS = ("reason",)
ACTIVE_JOB_STATUSES = frozenset({JobStatus.QUEUED.value, JobStatus.RUNNING.value})
# States where each action may be taken; the service decides, these only choose what is offered.
PREVIEW_STATES = frozenset({CorrectionState.PROPOSED.value, CorrectionState.PREVIEWED.value})
APPROVE_STATES = frozenset({CorrectionState.PREVIEWED.value})
REFUSE_STATES = frozenset(
    {
        CorrectionState.PROPOSED.value,
        CorrectionState.PREVIEWING.value,
        CorrectionState.PREVIEWED.value,
        CorrectionState.APPROVED.value,
    }
)
RUN_STATES = frozenset({CorrectionState.APPROVED.value, CorrectionState.RUNNING.value})
# The latest jobs a correction's page lists.
JOBS_SHOWN = 10
_SEASON_SEPARATORS = re.compile(r"[\s,，、;；]+")


def corrections_page(container: Container, state: CorrectionState | None, page: int) -> Paged[TariffCorrectionOutput]:
    """The corrections, the latest proposed first (``GET /tariff-corrections``), paged."""
    rows = TariffCorrectionQueries(container.engine).list(state, None, None, MAXIMUM_LISTED)
    return page_of([TariffCorrectionOutput.from_row(row) for row in rows], page)


def proposal_defaults(container: Container, customer_class: str = "", scope: str = "") -> dict[str, str]:
    """The proposal form's starting values: the tariff named and its latest version, the season
    that ended last."""
    today_season = current_or_last_season(business_today(container)).code
    values = {"customer_class": customer_class or "residential", "scope": scope or "*", "seasons": today_season}
    versions = BillingQueries(container.engine).tariff_versions(values["customer_class"], values["scope"])
    if versions:
        values["version"] = str(versions[-1].version)
    return values


def proposal_of(form: Mapping[str, Any]) -> TariffCorrectionProposal:
    """The API's proposal read from the form: the version a whole number, the seasons a list (a
    clerk may separate them by commas or spaces), the blank price fields left as they are."""
    values: dict[str, Any] = filled(form, CORRECTION_FIELDS)
    version = values.get("version", "")
    if version.isascii() and version.isdigit():
        values["version"] = int(version)
    if "seasons" in values:
        values["seasons"] = [season for season in _SEASON_SEPARATORS.split(values["seasons"]) if season]
    return TariffCorrectionProposal.model_validate(values)


def propose(container: Container, principal: Principal, form: Mapping[str, Any]) -> TariffCorrectionOutput:
    """Propose the correction (``POST /tariff-corrections``); a retry finds the same one."""
    principal.require(Permission.MANAGE_TARIFFS)
    return corrections_api.propose_tariff_correction(proposal_of(form), principal, container, Response())


@dataclass(frozen=True)
class CorrectionView:
    """A correction as its page shows it: the correction, its latest jobs, a page of its notes."""

    correction: TariffCorrectionOutput
    jobs: list[TariffCorrectionJobOutput]
    notes: Paged[CorrectionNoteOutput]

    @property
    def busy(self) -> bool:
        """Whether a preview or run is queued or running (the page polls until none is)."""
        return any(job.status in ACTIVE_JOB_STATUSES for job in self.jobs)

    @property
    def state(self) -> str:
        return self.correction.state

    def offers(self, principal: Principal) -> dict[str, bool]:
        """The actions offered to ``principal`` now (administrators; approval not to the proposer)."""
        if not principal.may(Permission.MANAGE_TARIFFS):
            return {"preview": False, "approve": False, "refuse": False, "run": False}
        idle = not self.busy
        return {
            "preview": idle and self.state in PREVIEW_STATES,
            "approve": idle and self.state in APPROVE_STATES and principal.name != self.correction.proposed_by,
            "refuse": self.state in REFUSE_STATES,
            "run": idle and self.state in RUN_STATES,
        }


def correction_view(
    container: Container, correction_id: UUID, language: Language, notes_page: int = 1
) -> CorrectionView:
    """A correction (``GET /tariff-corrections/{id}``), its jobs and the notes of its approved
    preview (before the approval: of the latest), by account; NotFoundError when there is none."""
    found = tariff_corrections_of(container).correction(correction_id)
    store = correction_store_of(container)
    jobs = [corrections_api.job_output(record, language) for record in store.jobs_of(correction_id, JOBS_SHOWN)]
    number = found.approved_preview or found.preview_number  # as GET /tariff-corrections/{id}/notes
    total = store.count_notes(correction_id, number)
    last_page = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, notes_page), last_page)
    rows = store.notes_page(correction_id, number, None, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    notes = Paged([CorrectionNoteOutput.from_row(row) for row in rows], page, total)
    return CorrectionView(TariffCorrectionOutput.from_correction(found), jobs, notes)


def _job_request(form: Mapping[str, Any]) -> JobRequest:
    return JobRequest.model_validate(filled(form, DECISION_FIELDS))


def start_preview(
    container: Container,
    principal: Principal,
    correction_id: UUID,
    form: Mapping[str, Any],
    language: Language,
    background: BackgroundTasks,
) -> TariffCorrectionJobOutput:
    """Preview the correction (``POST /tariff-corrections/{id}/preview``: a job, after the answer)."""
    principal.require(Permission.MANAGE_TARIFFS)
    body = _job_request(form)
    return corrections_api.preview_tariff_correction(
        correction_id, principal, container, language, background, Response(), body
    )


def approve(container: Container, principal: Principal, correction_id: UUID, form: Mapping[str, Any]) -> None:
    """Approve the latest preview as previewed (a second administrator, never the proposer)."""
    principal.require(Permission.MANAGE_TARIFFS)
    corrections_api.approve_tariff_correction(
        correction_id, Decision.model_validate(filled(form, DECISION_FIELDS)), principal, container
    )


def refuse(container: Container, principal: Principal, correction_id: UUID, form: Mapping[str, Any]) -> None:
    """Refuse the correction, with why, before its run starts."""
    principal.require(Permission.MANAGE_TARIFFS)
    corrections_api.refuse_tariff_correction(
        correction_id, Decision.model_validate(filled(form, DECISION_FIELDS)), principal, container
    )


def start_run(
    container: Container,
    principal: Principal,
    correction_id: UUID,
    form: Mapping[str, Any],
    language: Language,
    background: BackgroundTasks,
) -> TariffCorrectionJobOutput:
    """Book the approved notes (``POST /tariff-corrections/{id}/run``: a job, after the answer)."""
    principal.require(Permission.MANAGE_TARIFFS)
    body = _job_request(form)
    return corrections_api.run_tariff_correction(
        correction_id, principal, container, language, background, Response(), body
    )
