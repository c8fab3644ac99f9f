"""The vendored browser assets are the released files VERSIONS.md names, each with its licence.

A file edited by hand, half-copied or added without a line in VERSIONS.md fails here; so does a
package whose licence text is missing, and a file the wheel would leave out (pyproject's package-data
globs, matched the way setuptools matches them: by file name, in every folder below a package).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "api" / "web" / "static" / "vendor"
VERSIONS = VENDOR / "VERSIONS.md"

# | file | package | version | licence | taken from | sha256 |
ROW = re.compile(r"^\| (?P<file>[\w./-]+) \| (?P<package>[\w.-]+) \| (?P<version>[\d.]+) \| (?P<licence>[\w.-]+) \|"
                 r" (?P<source>[\w./-]+) \| (?P<sha256>[0-9a-f]{64}) \|$")


def _rows() -> list[dict[str, str]]:
    rows = [match.groupdict() for line in VERSIONS.read_text().splitlines() if (match := ROW.match(line))]
    assert rows, "VERSIONS.md lists no file"
    return rows


def _vendored_files() -> set[str]:
    return {
        path.relative_to(VENDOR).as_posix()
        for path in VENDOR.rglob("*")
        if path.is_file() and path != VERSIONS and "LICENSES" not in path.parts
    }


@pytest.mark.parametrize("row", _rows(), ids=lambda row: row["file"])
def test_each_vendored_file_is_the_released_one(row: dict[str, str]) -> None:
    content = (VENDOR / row["file"]).read_bytes()

    assert hashlib.sha256(content).hexdigest() == row["sha256"], f"{row['file']} differs from {row['package']}"


def test_every_vendored_file_is_listed_once() -> None:
    listed = [row["file"] for row in _rows()]

    assert len(listed) == len(set(listed))
    assert set(listed) == _vendored_files()


def test_every_vendored_package_ships_its_licence() -> None:
    for package in {row["package"] for row in _rows()}:
        licence = VENDOR / "LICENSES" / f"{package}-LICENSE.txt"
        assert licence.is_file() and licence.stat().st_size > 500, f"no licence text for {package}"
    for apache_package in {row["package"] for row in _rows() if row["licence"] == "Apache-2.0"}:
        assert (VENDOR / "LICENSES" / f"{apache_package}-NOTICE.txt").is_file(), f"no NOTICE for {apache_package}"


def test_the_wheel_carries_every_vendored_file_and_licence() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]

    for path in VENDOR.rglob("*"):
        if path.is_file():
            assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), (
                f"{path.relative_to(ROOT)} matches no package-data glob of pyproject.toml"
            )
