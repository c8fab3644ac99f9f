"""Readings: batches from devices, concentrators and clerks."""

from __future__ import annotations

from fastapi import Response

from api.auth import Caller
from api.dependencies import Intake, PreferredLanguage
from api.messages import Language, render
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.households import reason_argument
from api.schemas.readings import BatchReceipt, ReadingBatch, ReadingOutcome
from application.ingestion import ItemOutcome, ItemStatus
from infrastructure.intake import Channel

router = resource_router("/readings", "readings")


@router.post(
    "/batches",
    operation_id="submit_reading_batch",
    response_model=BatchReceipt,
    responses=problem_responses(401, 403, 409, 422),
)
def submit_reading_batch(
    batch: ReadingBatch, caller: Caller, intake: Intake, language: PreferredLanguage, response: Response
) -> BatchReceipt:
    """Submit up to 10,000 readings (devices, concentrators, clerks).

    Each reading is judged in order against its meter's earlier readings (including those
    earlier in the batch): **accepted**, **duplicate** (the same reading is already recorded,
    so resending a batch is safe) or **rejected** with a `reason` such as `unknown_meter`,
    `register_backwards`, `future_timestamp`, `conflicting_reading` or `implausible_increase`
    and a message in the caller's language. The accepted readings are saved together, or
    none are. The answer is 200 whatever the items' outcomes.

    A value of the wrong type (energy that is not a number, a time that is not a time) fails
    the whole request with a 422 problem listing each such value; nothing is judged then.
    """
    report = intake.submit(
        caller,
        [reading.to_item() for reading in batch.readings],
        Channel.API,
        batch_id=batch.batch_id,
        **reason_argument(batch.reason),
    )
    response.headers["Content-Language"] = language.value
    response.headers["Vary"] = "Accept-Language"
    return BatchReceipt(
        batch_id=report.batch_id,
        received=len(report.outcomes),
        accepted=report.accepted,
        duplicates=report.duplicates,
        rejected=report.rejected,
        outcomes=[ReadingOutcome.from_outcome(outcome, _message(outcome, language)) for outcome in report.outcomes],
    )


def _message(outcome: ItemOutcome, language: Language) -> str | None:
    if outcome.status is not ItemStatus.REJECTED or outcome.reason is None:
        return None
    params = {"meter_serial": outcome.meter_serial, **outcome.params}
    keys = [outcome.message_key or outcome.reason, outcome.reason]
    return render(keys, params, language, outcome.message or outcome.reason)
