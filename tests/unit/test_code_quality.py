"""The project's own rules, enforced by the suite: lint, strict types on the core, and layering."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What each layer may not import (architecture.md: dependencies point inward).
FORBIDDEN_IMPORTS = {
    "domain": {
        "application",
        "projections",
        "infrastructure",
        "api",
        "sqlalchemy",
        "fastapi",
        "redis",
        "arq",
        "psycopg",
    },
    "application": {"projections", "infrastructure", "api", "sqlalchemy", "fastapi", "redis", "arq", "psycopg"},
    "projections": {"infrastructure", "api"},
}


def _imported_top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN_IMPORTS))
def test_layer_imports_point_inward(layer: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_top_level_names(path) & FORBIDDEN_IMPORTS[layer])
        for path in (ROOT / layer).rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed in the test environment: pip install -e '.[dev]'")
    return found


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_domain_and_application() -> None:
    result = subprocess.run(
        [_tool("mypy"), "domain", "application"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
