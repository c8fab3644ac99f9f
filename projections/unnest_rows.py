"""Many rows as one ``SELECT * FROM unnest(array, array, …)`` on PostgreSQL: a column an array.

The summaries' upserts (``analytics_summary``, ``evidence_months``) write a row per bucket a batch
touched, thousands per batch of readings. An executemany of the upsert sends one prepared INSERT
per row through psycopg's pipeline, and SQLAlchemy builds a dict of parameters per row first: that
per-row traffic was most of the summaries' cost in a catch-up. A column each as one binary array
(``id_lists.binary_array``: psycopg packs it, the server reads it without parsing) makes the
upsert one statement of constant text, ``INSERT … SELECT … FROM unnest(…) ON CONFLICT …``.
``unnest`` gives the arrays' elements in order, so rows given in sorted key order are inserted,
and their rows locked, in that order (two workers lock in the same order, as the executemany did).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, bindparam, cast, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import NullType, TypeEngine

from projections.id_lists import binary_array
from projections.types import ScaledDecimal

# The most columns a row here has (a limit, as on every loop of the writers).
MAX_COLUMNS = 16


def array_type(column_type: TypeEngine[Any]) -> TypeEngine[Any]:
    """The element type a column's values travel as: a ScaledDecimal as its whole units."""
    return BigInteger() if isinstance(column_type, ScaledDecimal) else column_type


def unnested(
    connection: Connection, names: Sequence[str], columns: Sequence[Sequence[Any]], types: Sequence[TypeEngine[Any]]
) -> TableValuedAlias:
    """``unnest(…) AS unnested(names…)`` of ``columns`` (each a column's values, already as the
    driver takes them: a ScaledDecimal's whole units), each sent as one binary array of its type."""
    assert len(names) == len(columns) == len(types) <= MAX_COLUMNS, "a name and a type for each column"
    dbapi_connection = connection.connection.dbapi_connection
    arrays = [
        # Untyped: an ARRAY type's bind processor would make a plain list of it (sent as text).
        cast(bindparam(f"column_{index}", binary_array(dbapi_connection, values), type_=NullType()), ARRAY(kind))
        for index, (values, kind) in enumerate(zip(columns, types, strict=True))
    ]
    return func.unnest(*arrays).table_valued(*names).render_derived(name="unnested")


__all__ = ["array_type", "unnested"]
