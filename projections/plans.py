"""Plans of the catch-up's look-ups by key on PostgreSQL: by index, whatever the statistics say.

The catch-up reads and deletes a run's rows by household or period, a few hundred or thousand ids
a statement, each with an index. PostgreSQL chose to scan the whole table instead when the ids
were a few per cent of it (the periods of a batch of 5,000 bills: 23 ms a batch at 100,000
households, growing with the city) or when the table had no statistics yet (the allocation rows
a first settlement writes into a table analysed empty: estimated at 16,000 rows for 500 households,
176 found, 32 ms a chunk by a scan of all 38,000): per batch a cost that grows with the table, so
per catch-up one that grows with the square of the city. ``index_scans_preferred`` turns
``enable_seqscan`` off for its block only (set for the transaction, put back after), so those
statements find their rows by the index at a cost that does not grow with the table; a table
without a usable index is still scanned. SQLite plans by index already.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

_OFF = text("SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")
_SET = text("SELECT set_config('enable_seqscan', :value, true)")


@contextmanager
def index_scans_preferred(connection: Connection) -> Iterator[None]:
    """Within the block, PostgreSQL plans by index wherever one serves (inside a transaction)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    previous = connection.execute(_OFF).scalar_one()
    yield  # on an error the transaction is rolled back, and its local setting with it
    connection.execute(_SET, {"value": previous})
