"""Whether a database is at the newest migration already, told without alembic (issue 17).

Every process that opens the store migrates it first (``infrastructure.database.migrate``). On a
store that is up to date, alembic's ``upgrade head`` changes nothing but costs about a CPU second:
importing alembic and mako, loading every migration script and the environment's models. This
module reads the head revisions from the scripts' own ``revision`` and ``down_revision`` lines and
the database's from its ``alembic_version`` table; when they are the same, ``upgrade head`` would
do nothing and is skipped. Anything it cannot read plainly (a script without those two lines as
literals, no version table) answers "not known to be at head", and alembic runs as before.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, inspect, text

VERSIONS_DIRECTORY = Path(__file__).resolve().parents[1] / "alembic" / "versions"
# ``revision = '0031'`` and ``down_revision = '0030'`` (or None, or a tuple of revisions at a merge),
# optionally annotated, at the start of a line, as alembic's template writes them.
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]+)?=\s*(.+?)\s*$", re.MULTILINE)
VERSION_TABLE = "alembic_version"


def script_heads(versions_directory: Path = VERSIONS_DIRECTORY) -> frozenset[str] | None:
    """The revisions no script names as its ``down_revision``; None when a script cannot be read
    plainly (then only alembic knows)."""
    return _script_heads(versions_directory)


@lru_cache(maxsize=4)
def _script_heads(versions_directory: Path) -> frozenset[str] | None:
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted(versions_directory.glob("*.py")):
        found = _revision_lines(script.read_text(encoding="utf-8"))
        if found is None:
            return None
        revision, down_revisions = found
        revisions.add(revision)
        parents.update(down_revisions)
    if not revisions or not parents <= revisions:
        return None
    return frozenset(revisions - parents)


def _revision_lines(source: str) -> tuple[str, tuple[str, ...]] | None:
    values: dict[str, list[object]] = {}
    for name, expression in _ASSIGNMENT.findall(source):
        try:
            values.setdefault(name, []).append(ast.literal_eval(expression))
        except (ValueError, SyntaxError):
            return None
    revision, down_revision = values.get("revision", []), values.get("down_revision", [])
    if len(revision) != 1 or len(down_revision) != 1 or not isinstance(revision[0], str):
        return None
    parent = down_revision[0]
    if parent is None:
        return revision[0], ()
    if isinstance(parent, str):
        return revision[0], (parent,)
    if isinstance(parent, tuple | list) and all(isinstance(item, str) for item in parent):
        return revision[0], tuple(parent)
    return None


def database_heads(engine: Engine) -> frozenset[str] | None:
    """The revisions the database's version table holds; None without the table."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    return frozenset(str(row[0]) for row in rows)


def is_at_head(engine: Engine, versions_directory: Path = VERSIONS_DIRECTORY) -> bool:
    """Whether alembic's ``upgrade head`` would change nothing in ``engine``'s database."""
    heads = script_heads(versions_directory)
    return heads is not None and database_heads(engine) == heads
