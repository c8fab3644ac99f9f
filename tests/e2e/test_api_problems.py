"""Problem responses for everything that goes wrong, and the language they are written in."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from api.messages import CATALOG, TITLES, Language, negotiate_language, render
from api.problems import MAXIMUM_REQUEST_BYTES
from application.authorization import Role
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi, TestClient, Tokens, assert_problem

ROOT = Path(__file__).resolve().parents[2]


def test_an_unknown_address_is_a_problem_in_the_callers_language(client: TestClient) -> None:
    chinese = assert_problem(client.get("/no/such/place"), 404, "route_not_found")
    english = assert_problem(client.get("/no/such/place", headers={"Accept-Language": "en"}), 404, "route_not_found")

    assert chinese["detail"] == "没有地址 /no/such/place。"
    assert english["detail"] == "There is no address /no/such/place."


def test_a_method_the_address_does_not_support_is_a_problem(client: TestClient, tokens: Tokens) -> None:
    response = client.put("/households", json={}, headers=tokens.headers(Role.CLERK))

    problem = assert_problem(response, 405, "method_not_allowed")
    assert problem["params"] == {"path": "/households", "method": "PUT"}
    assert "POST" in response.headers["Allow"]


def test_an_unexpected_error_is_a_bare_500(
    app: FastAPI, container: Container, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection to db-primary.internal:5432 refused for user billing")

    monkeypatch.setattr(container.ledger, "register_household", explode)
    body = {
        "account_number": "WZ-1",
        "address": {"community": "碧桂园", "building": "1", "floor": 1, "flat": "101"},
        "connected_area_m2": "90.00",
        "heated_area_m2": "90.00",
        "customer_class": "residential",
        "position": {"vertical": "top", "horizontal": "middle"},
        "registered_on": "2025-10-01",
    }

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/households", json=body, headers=tokens.headers(Role.CLERK, "en"))

    problem = assert_problem(response, 500, "internal_error")
    assert "db-primary" not in response.text and "RuntimeError" not in response.text
    assert problem["params"] == {}


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "streamed"])
def test_a_body_larger_than_the_limit_is_refused(api: LedgerApi, declared: bool) -> None:
    headers = {**api.tokens.headers(Role.DEVICE), "Content-Type": "application/json"}
    chunk = b" " * (1024 * 1024)
    chunks = MAXIMUM_REQUEST_BYTES // len(chunk) + 1
    content: bytes | Iterator[bytes] = chunk * chunks if declared else iter([chunk] * chunks)

    response = api.client.post("/readings/batches", content=content, headers=headers)

    assert assert_problem(response, 413, "content_too_large")["params"] == {"limit": MAXIMUM_REQUEST_BYTES}
    assert ("content-length" in response.request.headers) is declared


def test_a_body_without_json_content_type_is_not_read_as_json(api: LedgerApi) -> None:
    headers = {**api.tokens.headers(Role.DEVICE), "Content-Type": "text/plain"}

    response = api.client.post("/readings/batches", content=b'{"readings": []}', headers=headers)

    assert_problem(response, 422, "validation_failed")


def test_errors_are_documented_as_problem_json(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], f"{method} {path} {status}"
    assert "HTTPValidationError" not in schema["components"]["schemas"]


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        (None, Language.ZH),
        ("", Language.ZH),
        ("en", Language.EN),
        ("en-US,en;q=0.9", Language.EN),
        ("zh-CN,zh;q=0.9,en;q=0.8", Language.ZH),
        ("fr-FR, en;q=0.3", Language.EN),
        ("fr-FR", Language.ZH),
        ("en;q=0", Language.ZH),
        ("de;q=0.9, *;q=0.5, en;q=0.4", Language.ZH),
        ("zh;q=0.4, EN-gb;q=0.6", Language.EN),
        ("en;q=banana", Language.ZH),
    ],
)
def test_the_language_is_negotiated_from_accept_language(accept_language: str | None, expected: Language) -> None:
    assert negotiate_language(accept_language) is expected


def test_every_message_takes_the_same_values_in_both_languages() -> None:
    mismatched = {
        key: (_placeholders(template.zh), _placeholders(template.en))
        for key, template in CATALOG.items()
        if _placeholders(template.zh) != _placeholders(template.en) or template.zh == template.en
    }

    assert mismatched == {}


def test_every_message_key_the_core_raises_has_a_template() -> None:
    raised = set()
    for layer in ("domain", "application", "infrastructure"):
        for path in (ROOT / layer).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            raised |= set(re.findall(r'message_key="(\w+)"', source))
            raised |= set(re.findall(r'_reject\(\s*"(\w+)"', source))
    assert len(raised) > 20  # the scan found the keys, not nothing
    assert raised - CATALOG.keys() == set()


def test_every_problem_code_has_a_title_in_both_languages() -> None:
    for code, template in TITLES.items():
        assert template.zh and template.en and template.zh != template.en, code


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_times_in_messages_are_shown_in_the_utility_s_local_time() -> None:
    params = {"measured_at": "2025-11-30T16:00:00+00:00"}
    chinese = render(["conflicting_reading"], params, Language.ZH, "fallback")
    # 16:00 UTC on 30 November is midnight of 1 December in Asia/Shanghai (UTC+8).
    assert chinese == "该表在 2025-12-01 00:00:00+08:00 已有一条不同的读数。"
