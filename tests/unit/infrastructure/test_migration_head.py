"""Whether a database is at the newest migration, told without alembic: the same heads as alembic
reads from the scripts, the same verdict as its ``upgrade head`` (which changes nothing exactly when
the database is at them), and "not known" for anything not read plainly."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from alembic import command
from infrastructure.database import PROJECT_ROOT, migrate
from infrastructure.migration_head import VERSIONS_DIRECTORY, database_heads, is_at_head, script_heads


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return config


def test_the_heads_are_alembics() -> None:
    heads = script_heads()
    assert heads is not None
    assert heads == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_a_database_behind_is_migrated_and_then_known_at_head(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'read_models.db'}")
    assert database_heads(engine) is None and not is_at_head(engine)  # no version table yet
    migrate(engine)
    assert is_at_head(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    assert not is_at_head(engine)
    migrate(engine)  # the fast path must not skip a migration left to run
    assert is_at_head(engine)
    heads = script_heads()
    assert heads is not None
    with engine.connect() as connection:
        assert {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))} == heads
    engine.dispose()


def scripts(folder: Path, **sources: str) -> Path:
    """A versions directory of its own (the heads are remembered per directory)."""
    folder.mkdir()
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source, encoding="utf-8")
    return folder


def test_scripts_not_read_plainly_leave_it_to_alembic(tmp_path: Path) -> None:
    a, b, c = (
        'revision = "a"\ndown_revision = None\n',
        'revision: str = "b"\ndown_revision = "a"\n',
        ("revision = 'c'\ndown_revision = 'a'\n"),
    )
    assert script_heads(scripts(tmp_path / "branches", a=a, b=b, c=c)) == frozenset({"b", "c"})
    merged = "revision = 'd'\ndown_revision = ('b', 'c')\n"
    assert script_heads(scripts(tmp_path / "merged", a=a, b=b, c=c, d=merged)) == frozenset({"d"})
    named = "revision = 'e'\ndown_revision = PARENT\n"
    assert script_heads(scripts(tmp_path / "a name", a=a, e=named)) is None
    missing = "revision = 'f'\n"
    assert script_heads(scripts(tmp_path / "no parent line", a=a, f=missing)) is None
    unknown = "revision = 'g'\ndown_revision = 'z'\n"
    assert script_heads(scripts(tmp_path / "unknown parent", a=a, g=unknown)) is None


def test_the_projects_scripts_are_all_read_plainly() -> None:
    assert len(list(VERSIONS_DIRECTORY.glob("*.py"))) >= 31 and script_heads() is not None
