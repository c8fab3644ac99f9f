"""A column among many values (a run's households, periods, meters), as one parameter on PostgreSQL.

``column.in_(ids)`` with hundreds or thousands of ids expands into one placeholder per id at every
execution: SQLAlchemy renders the list, and psycopg, whose cache of converted queries skips texts
over 4 KB, parses every placeholder of the new text again (a sixth of a settlement's catch-up on
PostgreSQL went to that). ``column = ANY(:ids)`` sends the ids as one array: the statement's text
is the same at every execution, so both caches hold it and psycopg prepares it after a few uses.
The rows are the same: ``= ANY`` of an array is ``IN`` of its elements. SQLite has no arrays and
keeps ``IN``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Connection, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY


def among(connection: Connection, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN values`` for ``connection``'s database: ``= ANY`` of one array on PostgreSQL."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)
