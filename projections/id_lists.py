"""A column among many values (a run's households, periods, meters), as one parameter on PostgreSQL.

``column.in_(ids)`` with hundreds or thousands of ids expands into one placeholder per id at every
execution: SQLAlchemy renders the list, and psycopg, whose cache of converted queries skips texts
over 4 KB, parses every placeholder of the new text again (a sixth of a settlement's catch-up on
PostgreSQL went to that). ``column = ANY(:ids)`` sends the ids as one array: the statement's text
is the same at every execution, so both caches hold it and psycopg prepares it after a few uses.
The rows are the same: ``= ANY`` of an array is ``IN`` of its elements. SQLite has no arrays and
keeps ``IN``.

The array goes to the server in binary: psycopg's text form of a list dumps and quotes each
element in Python (1.6 ms for 500 UUIDs, 7 % of a settlement's catch-up), its binary form packs
them (0.14 ms). The ids travel as ``_Ids`` (a list), for which the connection is given psycopg's
binary list dumper, cast to the column's array type by the statement itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from psycopg.adapt import PyFormat
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import ColumnElement, Connection, any_, bindparam, cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

_BINARY = ListBinaryDumper


class _Ids(list[Any]):
    """Ids sent as one binary array (a list of its own class, so that only they are)."""


def binary_array(dbapi_connection: Any, values: Iterable[Any]) -> list[Any]:
    """``values`` as a list psycopg sends to the server as one binary array on
    ``dbapi_connection`` (a psycopg Connection; None: a list like any other). The statement casts
    it to the array type it means (an int list goes as the smallest integer type that holds it)."""
    if dbapi_connection is not None and dbapi_connection.adapters.get_dumper(_Ids, PyFormat.AUTO) is not _BINARY:
        dbapi_connection.adapters.register_dumper(_Ids, _BINARY)
    return _Ids(values)


def among(connection: Connection, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN values`` for ``connection``'s database: ``= ANY`` of one array on PostgreSQL."""
    if connection.dialect.name != "postgresql":
        return column.in_(values)
    # Untyped: an ARRAY type's bind processor would make a plain list of it (sent as text).
    ids = bindparam(None, binary_array(connection.connection.dbapi_connection, values), type_=NullType())
    return column == any_(cast(ids, ARRAY(column.type)))
