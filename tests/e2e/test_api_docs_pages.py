"""/docs and /redoc over HTTP: pages that name only the app's own vendored assets, and the assets served.

The browser tests (tests/e2e/browser/test_docs_and_login.py) render both pages with every other host
blocked; these check the HTML and the files without a browser, on every run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.container import Container

STATIC_FOLDER = Path(__file__).resolve().parents[2] / "api" / "web" / "static"

# Any absolute URL, and anything that would load from one: src/href naming a scheme or a
# protocol-relative host ("//cdn.example/x.js").
ABSOLUTE_URL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}", re.IGNORECASE)
ASSET_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|\b(?:url)\s*:\s*['"]([^'"]+)['"]""")


@pytest.fixture
def docs_client(sqlite_container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_container)) as client:
        yield client


def _references(html: str) -> set[str]:
    return {first or second for first, second in ASSET_REFERENCE.findall(html)}


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        (
            "/docs",
            {
                "/static/vendor/swagger-ui/swagger-ui-bundle.js",
                "/static/vendor/swagger-ui/swagger-ui.css",
                "/static/vendor/swagger-ui/favicon-32x32.png",
                "/openapi.json",
            },
        ),
        ("/redoc", {"/static/vendor/redoc/redoc.standalone.js", "/static/vendor/swagger-ui/favicon-32x32.png"}),
    ],
)
def test_a_documentation_page_names_only_the_apps_own_files(
    docs_client: TestClient, page: str, assets: set[str]
) -> None:
    response = docs_client.get(page)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert ABSOLUTE_URL.findall(html) == [], f"{page} names another host"
    assert _references(html) == assets
    assert "default-src 'self'" in response.headers["content-security-policy"]
    if page == "/docs":
        assert '"validatorUrl": null' in html  # no badge fetched from the online validator
    if page == "/redoc":
        assert '<redoc spec-url="/openapi.json">' in html


@pytest.mark.parametrize(
    ("path", "media_type", "marker"),
    [
        ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "javascript", b"SwaggerUIBundle"),
        ("/static/vendor/swagger-ui/swagger-ui.css", "text/css", b".swagger-ui"),
        ("/static/vendor/swagger-ui/favicon-32x32.png", "image/png", b"\x89PNG"),
        ("/static/vendor/redoc/redoc.standalone.js", "javascript", b"Redoc"),
        ("/static/vendor/htmx.min.js", "javascript", b"htmx"),
        ("/static/vendor/echarts.min.js", "javascript", b"echarts"),
    ],
)
def test_the_vendored_files_are_served_as_they_are_on_disk(
    docs_client: TestClient, path: str, media_type: str, marker: bytes
) -> None:
    response = docs_client.get(path)

    assert response.status_code == 200, path
    assert media_type in response.headers["content-type"]
    assert marker in response.content
    assert response.content == (STATIC_FOLDER / path.removeprefix("/static/")).read_bytes()
    assert response.headers["cache-control"] == "public, max-age=604800"  # a week: releases never change


def test_the_documentation_pages_stay_out_of_the_openapi_document(docs_client: TestClient) -> None:
    paths = docs_client.get("/openapi.json").json()["paths"]

    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(paths)
