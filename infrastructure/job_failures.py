"""What a job's record keeps of the error that ended it (billing runs, scenarios, tariff corrections)."""

from __future__ import annotations

import json

from domain.errors import LedgerError

# A failed job's error text is cut to this many characters (its key and parameters say the rest).
MAXIMUM_ERROR_CHARACTERS = 2000


def failure_columns(error: BaseException, fallback_key: str) -> dict[str, str]:
    """The columns of a failed job: the message key and parameters its problem is rendered from in
    the reader's language (``fallback_key`` for an error the ledger did not foresee), and the text."""
    if isinstance(error, LedgerError):
        key, params = error.message_key, {name: str(value) for name, value in error.params.items()}
    else:
        key, params = fallback_key, {}
    return {
        "error_key": key,
        "error_params": json.dumps(params, ensure_ascii=False),
        "error": str(error)[:MAXIMUM_ERROR_CHARACTERS],
    }
