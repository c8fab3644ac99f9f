"""Problem responses for everything that goes wrong, and the language they are written in."""

from __future__ import annotations

import re
import string
import typing
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi import FastAPI, routing
from pydantic_core.core_schema import ErrorType

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
    # GET and POST /households are two routes: Starlette named only the first one's method.
    assert response.headers["Allow"] == "GET, POST"


def test_options_lists_every_method_each_address_has(client: TestClient, tokens: Tokens) -> None:
    schema = client.get("/openapi.json").json()

    for template, operations in schema["paths"].items():
        path = _example_path(template)
        response = client.options(path, headers=tokens.headers(Role.CLERK))
        assert response.status_code == 405, path
        documented = {method.upper() for method in operations}
        assert set(response.headers["Allow"].split(", ")) == documented, path


def test_no_address_of_a_route_is_answered_by_another_route(app: FastAPI) -> None:
    # /arrears/flags/run (POST) was read as /arrears/flags/{flag_id} for a GET: a 422 on the id.
    routes = [route for route in routing.iter_route_contexts(app.routes) if getattr(route, "methods", None)]
    shadowed = [
        (route.path, other.path)
        for route in routes
        for other in routes
        if other.path != route.path and other.path_regex.match(_example_path(route.path))
    ]

    assert shadowed == []
    assert len(routes) > 60


def test_a_static_address_answers_its_own_methods_only(api: LedgerApi) -> None:
    response = api.client.get("/arrears/flags/run", headers=api.clerk())

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


def _example_path(template: str) -> str:
    """A concrete path for a route's template: each parameter replaced by a value it takes."""
    return re.sub(r"\{([^}:]+)(:uuid)?\}", lambda match: str(uuid4()) if _takes_uuid(match) else "x1", template)


def _takes_uuid(parameter: re.Match[str]) -> bool:
    return parameter.group(2) is not None or parameter.group(1).endswith("_id")


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


def test_a_body_without_json_content_type_is_a_415_not_read_as_json(api: LedgerApi) -> None:
    headers = {**api.tokens.headers(Role.DEVICE), "Content-Type": "text/plain"}

    chinese = api.client.post("/readings/batches", content=b'{"readings": []}', headers=headers)
    english = api.client.post(
        "/readings/batches", content=b'{"readings": []}', headers={**headers, "Accept-Language": "en"}
    )

    assert assert_problem(chinese, 415, "unsupported_media_type")["params"] == {"media_type": "text/plain"}
    assert chinese.json()["detail"] == "不支持的内容类型 text/plain，请以 application/json 发送。"
    assert assert_problem(english, 415, "unsupported_media_type")["detail"] == (
        "The content type text/plain is not supported; send application/json."
    )


def test_a_json_body_is_read_with_any_json_content_type(api: LedgerApi) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        headers = api.tokens.headers(Role.DEVICE) | {"Content-Type": content_type}
        response = api.client.post("/readings/batches", content=b'{"readings": []}', headers=headers)
        assert response.status_code == 200, (content_type, response.text)


def test_a_body_without_content_type_is_a_415(api: LedgerApi) -> None:
    response = api.client.post(
        "/readings/batches", content=b'{"readings": []}', headers=api.tokens.headers(Role.DEVICE)
    )

    assert assert_problem(response, 415, "unsupported_media_type")["params"] == {"media_type": ""}


@pytest.mark.parametrize(
    ("language", "message"),
    [("zh", "请求内容不是 UTF-8 编码（第 20 个字节）。"), ("en", "The request body is not UTF-8 (byte 20).")],
)
def test_a_body_that_is_not_utf8_is_a_problem_in_the_callers_language(
    api: LedgerApi, language: str, message: str
) -> None:
    headers = {**api.clerk(language), "Content-Type": "application/json"}

    response = api.client.post("/households", content=b'{"account_number": "\xff\xfe"}', headers=headers)

    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"] == [{"field": "", "location": "body", "code": "body_not_utf8", "message": message}]


def test_every_operation_taking_a_json_body_documents_415_and_422(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    with_body = [
        (method, path, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert len(with_body) > 20
    for method, path, operation in with_body:
        assert {"415", "422"} <= operation["responses"].keys(), f"{method} {path}"


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


# The pydantic error types a request can meet: numbers, decimals, dates, times, text, shapes.
_API_ERROR_FAMILIES = ("decimal_", "float_", "int_", "date_", "datetime_", "time_", "timezone_", "string_", "uuid_")
_API_ERROR_TYPES = {
    "missing", "extra_forbidden", "json_invalid", "json_type", "finite_number", "greater_than",
    "greater_than_equal", "less_than", "less_than_equal", "multiple_of", "too_short", "too_long",
    "enum", "literal_error", "list_type", "dict_type", "model_type", "model_attributes_type",
    "bool_type", "bool_parsing",
}  # fmt: skip


def test_every_validation_message_the_api_can_produce_is_translated() -> None:
    error_types = {
        name for name in typing.get_args(ErrorType) if name.startswith(_API_ERROR_FAMILIES) or name in _API_ERROR_TYPES
    }
    # and the API's own: dates that are not ISO dates, season codes, account numbers, non-UTF-8 bodies
    error_types |= {"iso_date", "season_code", "account_number", "body_not_utf8"}

    untranslated = {name for name in error_types if f"validation.{name}" not in CATALOG}

    assert len(error_types) > 50
    assert untranslated == set()


def test_decimal_messages_are_chinese_under_zh(api: LedgerApi) -> None:
    body = {"account_number": "WZ-1", "amount_yuan": "12345678901234567", "provider": "hmac-json"}

    response = api.client.post("/payments/orders", json=body, headers=api.clerk())

    errors = assert_problem(response, 422, "validation_failed")["errors"]
    assert errors == [
        {"field": "amount_yuan", "location": "body", "code": "decimal_max_digits", "message": "最多 16 位数字。"}
    ]
