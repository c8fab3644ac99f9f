"""Inserting many rows into one table with one statement, the values converted column by column.

``connection.execute(insert(table), rows)`` converts every value of every row through SQLAlchemy's
per-row machinery (a dict of bind parameters per row, each value looked up and processed one by
one). For the thousands of rows a batch of readings writes, that machinery cost as much as the
projection's own work. ``RowsInserter`` gives the driver the same statement and the same values:
the INSERT is compiled once per kind of database, each column's bind processor (the one
SQLAlchemy itself applies: the column type's, for its dialect) is looked up once and mapped over
the column's values, and the rows go to the driver's ``executemany`` through
``exec_driver_sql``, in the caller's transaction. On PostgreSQL the converted rows go by ``COPY …
FROM STDIN`` instead: psycopg's ``executemany`` sends one prepared INSERT per row through its
pipeline, and that per-row traffic was a third of a rebuild's time; COPY streams them in one
statement, with the same values (psycopg's own adapters write them, as they do the INSERT's
parameters) and the same refusals (a duplicate key is an ``IntegrityError``, as SQLAlchemy raises
it, so the runner still tells a racing worker by it).

The COPY is binary (``FORMAT BINARY``) when every column's type has a binary form the ledger's
values take as they are after their bind processors (UUIDs, integers and scaled decimals, text,
booleans, dates, timestamps with or without zone, numerics, floats): psycopg packs each value in C
instead of formatting and escaping it as text, and the server reads it without parsing (the text
COPY's formatting was a sixth of a readings-heavy catch-up's CPU). Binary COPY applies no cast, so
each column is dumped as its own type (``copy.set_types``); a table with a column of another type
(JSON, arrays, enums) is copied as text. Both give the same rows
(tests/integration/test_bulk_insert_binary.py, every table the writers fill).

Dates, UTC datetimes and scaled decimals are converted once per distinct value: their conversion
depends on the value alone (equal values give the same parameter), and a batch of readings
repeats them (an interval's start is the previous reading's time and appears in three tables; a
day in each of its intervals' rows). A ``ConvertedValues`` shared by the inserts of one batch
remembers them across columns and tables.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Dialect,
    Enum,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Uuid,
    insert,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator, TypeEngine

from projections.types import ScaledDecimal, UtcDateTime

Process = Callable[[Any], Any]


class ConvertedValues:
    """Values already converted for the driver, by kind of conversion: share one between the
    inserts of one batch (one connection), and drop it after."""

    def __init__(self) -> None:
        self._by_kind: dict[Hashable, dict[Any, Any]] = {}

    def convert(self, kind: Hashable, process: Process, values: Sequence[Any]) -> Iterable[Any]:
        """``values`` through ``process``, each distinct value converted once (here or before)."""
        known = self._by_kind.setdefault(kind, {})
        fresh = dict.fromkeys(values).keys() - known.keys()
        known.update(zip(fresh, map(process, fresh), strict=True))
        return map(known.__getitem__, values)


def _conversion_kind(column_type: TypeEngine[Any], dialect: Dialect) -> Hashable | None:
    """What identifies a conversion that depends on the value alone (None: any other)."""
    if isinstance(column_type, ScaledDecimal):
        return (dialect.name, "scaled decimal", column_type.scale)
    if isinstance(column_type, UtcDateTime):
        return (dialect.name, "utc datetime")
    if type(column_type) is Date:
        return (dialect.name, "date")
    return None


@dataclass(frozen=True)
class _Conversion:
    """How one parameter's values are converted for the driver."""

    index: int  # the parameter's position in the statement's order
    process: Process  # the column type's bind processor
    kind: Hashable | None  # not None: converted once per distinct value


@dataclass(frozen=True)
class _Prepared:
    """The INSERT of every column as the driver takes it, and how a row becomes its parameters."""

    sql: str
    copy_sql: str | None  # COPY of the same columns in the statement's order (PostgreSQL only)
    copy_types: tuple[str, ...] | None  # each column's type name when the COPY is binary
    order: tuple[int, ...]  # the row's value index of each parameter, in the statement's order
    keys: tuple[str, ...] | None  # parameter names for a named paramstyle (None: positional)
    conversions: tuple[_Conversion, ...]


class RowsInserter:
    """Inserts rows into ``table``: each row a sequence of values in the table's column order.
    ``binary_copy`` False keeps PostgreSQL's COPY in text (to compare the two)."""

    def __init__(self, table: Table, binary_copy: bool = True) -> None:
        self.table = table
        self.binary_copy = binary_copy
        self.column_names = tuple(column.key for column in table.columns)
        self._prepared: dict[tuple[str, str, str], _Prepared] = {}
        self._lock = threading.Lock()

    def insert(
        self, connection: Connection, rows: Sequence[Sequence[Any]], converted: ConvertedValues | None = None
    ) -> None:
        """Insert ``rows`` (one executemany) inside the connection's transaction."""
        if not rows:
            return
        prepared = self._prepared_for(connection.dialect)
        width = len(self.column_names)
        assert len(rows[0]) == width, f"a row of {self.table.name} has {width} values"
        columns: list[Any] = list(zip(*rows, strict=True))  # strict: every row as long as the first
        if prepared.order != tuple(range(width)):
            columns = [columns[index] for index in prepared.order]
        converted = converted if converted is not None else ConvertedValues()
        for conversion in prepared.conversions:
            values = columns[conversion.index]
            if conversion.kind is None:
                columns[conversion.index] = map(conversion.process, values)
            else:
                columns[conversion.index] = converted.convert(conversion.kind, conversion.process, values)
        parameters: list[Any] = list(zip(*columns, strict=True))
        if prepared.copy_sql is not None:
            _copy(connection, prepared.copy_sql, prepared.copy_types, parameters)
            return
        if prepared.keys is not None:
            keys = prepared.keys
            parameters = [dict(zip(keys, values, strict=True)) for values in parameters]
        connection.exec_driver_sql(prepared.sql, parameters)

    def _prepared_for(self, dialect: Dialect) -> _Prepared:
        # The statement depends on the kind of database and its driver's paramstyle only (an
        # INSERT of plain columns, no defaults: every row names every column).
        key = (dialect.name, str(dialect.driver), str(dialect.paramstyle))
        found = self._prepared.get(key)
        if found is None:
            with self._lock:
                found = self._prepared[key] = self._prepare(dialect)
        return found

    def _prepare(self, dialect: Dialect) -> _Prepared:
        compiled = insert(self.table).compile(dialect=dialect, column_keys=list(self.column_names))
        assert not compiled.literal_execute_params and not compiled.post_compile_params, "a plain INSERT"
        if compiled.positional:
            names = tuple(compiled.positiontup or ())
            keys = None
        else:
            names = tuple(compiled.binds)
            keys = tuple(compiled.escaped_bind_names.get(name, name) for name in names)
        assert sorted(names) == sorted(self.column_names), f"every column of {self.table.name} is a parameter"
        by_name = {column.key: column for column in self.table.columns}
        conversions = []
        for index, name in enumerate(names):
            column_type = by_name[name].type
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                conversions.append(_Conversion(index, process, _conversion_kind(column_type, dialect)))
        copy_sql, copy_types = None, None
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            quote = dialect.identifier_preparer.quote
            table_name = dialect.identifier_preparer.format_table(self.table)
            copy_sql = f"COPY {table_name} ({', '.join(quote(by_name[name].name) for name in names)}) FROM STDIN"
            binary_types = [binary_copy_type(by_name[name].type, dialect) for name in names]
            if self.binary_copy and None not in binary_types:
                copy_sql += " (FORMAT BINARY)"
                copy_types = tuple(name for name in binary_types if name is not None)
        return _Prepared(
            sql=str(compiled),
            copy_sql=copy_sql,
            copy_types=copy_types,
            order=tuple(self.column_names.index(name) for name in names),
            keys=keys,
            conversions=tuple(conversions),
        )


# PostgreSQL's type of each kind of column whose values, after the column's bind processor, are
# what psycopg's binary dumper of that type takes (most specific first: BigInteger is an Integer,
# every Text a String). A type not listed here keeps its table's COPY in text.
_BINARY_COPY_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (Uuid, "uuid"),
    (BigInteger, "int8"),
    (SmallInteger, "int2"),
    (Integer, "int4"),
    (String, "text"),  # varchar and text are sent alike; the server checks a varchar's length
    (Boolean, "bool"),
    (Date, "date"),
    (Float, "float8"),
    (Numeric, "numeric"),
)


def binary_copy_type(column_type: TypeEngine[Any], dialect: Dialect) -> str | None:
    """The PostgreSQL type name a binary COPY dumps ``column_type``'s values as (None: it has none
    here). A TypeDecorator is its implementation's type (its bind processor has made the value)."""
    implementation = column_type.dialect_impl(dialect)
    if isinstance(implementation, TypeDecorator):
        implementation = implementation.impl_instance.dialect_impl(dialect)
    if isinstance(implementation, DateTime):
        return "timestamptz" if implementation.timezone else "timestamp"
    if isinstance(implementation, Enum | Uuid) and not (isinstance(implementation, Uuid) and implementation.as_uuid):
        return None  # an enum's own type, or UUIDs kept as text (which the uuid dumper refuses)
    if isinstance(implementation, Numeric) and implementation.asdecimal == isinstance(implementation, Float):
        return None  # a Float giving Decimals or a Numeric giving floats: not what the dumper takes
    for kind, name in _BINARY_COPY_TYPES:
        if isinstance(implementation, kind):
            return name
    return None


def _copy(connection: Connection, copy_sql: str, copy_types: tuple[str, ...] | None, rows: list[Any]) -> None:
    """Stream ``rows`` by psycopg's COPY on the connection's own DBAPI connection (its transaction),
    binary when ``copy_types`` names each column's type; a database error is raised as SQLAlchemy
    raises it from an INSERT (IntegrityError and so on)."""
    dbapi_connection: Any = connection.connection.dbapi_connection  # a psycopg Connection
    assert dbapi_connection is not None, "a connection in use"
    dbapi = connection.dialect.loaded_dbapi
    try:
        with dbapi_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            if copy_types is not None:
                copy.set_types(copy_types)
            write_row = copy.write_row
            for row in rows:
                write_row(row)
    except dbapi.Error as error:
        raise DBAPIError.instance(copy_sql, None, error, dbapi.Error, dialect=connection.dialect) from error
