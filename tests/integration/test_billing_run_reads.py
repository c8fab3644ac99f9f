"""A billing run reads the next chunk's inputs in a thread while it bills this one (issue 17): the
reads made ahead are used, not made again, although each chunk's save and catch-up moves the read
models on (the embedded default catches up after every save), and no chunk is billed twice; the
bills are the same."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from application import billing_runs as billing_run_module
from application.billing_runs import _RunJob
from domain.billing import BillKind
from infrastructure.container import Container
from tests.integration.test_billing_runs import billed, run  # noqa: F401 (a fixture)


def test_each_chunk_is_billed_once_from_its_reads_made_ahead(
    billed: Container,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(billing_run_module, "CHUNK_SIZE", 1)  # two chunks of one household
    assert billed.settings.catch_up_after_command  # every save moves the read models on
    billed_chunks: list[bool] = []
    bill_each = _RunJob._bill_each

    def counting(self: _RunJob, *arguments, **keywords):  # type: ignore[no-untyped-def]
        billed_chunks.append(arguments[-1] is not None)  # billed from reads made ahead?
        return bill_each(self, *arguments, **keywords)

    monkeypatch.setattr(_RunJob, "_bill_each", counting)
    run(billed, BillKind.PREPAYMENT)
    billed_chunks.clear()

    settlement = run(billed, BillKind.SETTLEMENT)

    # Once each, never read twice: the first from reads made before anything was saved; the
    # second from its reads made ahead, or read as it is billed when the first chunk's save and
    # catch-up moved the read models while they were being made (a matter of timing).
    assert len(billed_chunks) == 2 and billed_chunks[0]
    assert (settlement.bills_issued, settlement.credited_yuan) == (2, D("-35.02") + D("-697.91"))
