"""One router per resource. Every router reads JSON numbers as exact decimals (see ``ExactJSONRoute``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException


class ExactJSONRequest(Request):
    """A request whose JSON numbers with a fraction or exponent are read as ``Decimal``, not float.

    A register of 123456789.123456789 GJ keeps every digit; a float would keep about 16.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


def is_json_media_type(content_type: str) -> bool:
    """Whether a Content-Type header names JSON (``application/json`` or any ``+json`` type)."""
    media_type = content_type.split(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


async def require_json_body(request: Request) -> None:
    """Refuse a body the route cannot read as JSON, before FastAPI tries to.

    A body sent as another media type (``text/plain``, a form) or without a Content-Type is a
    415 problem: reading it anyway made a 422 that blamed the fields. A body that is not UTF-8 is
    a 422 problem in the caller's language (FastAPI answered a bare 400 in English).
    """
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    if not body:
        return
    if not is_json_media_type(content_type):
        raise HTTPException(415, detail=content_type)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestValidationError(
            [
                {
                    "type": "body_not_utf8",
                    "loc": ("body",),
                    "msg": "The request body is not UTF-8",
                    "ctx": {"position": error.start},
                }
            ]
        ) from None


class ExactJSONRoute(APIRoute):
    """A route that hands its endpoint an ``ExactJSONRequest``, after checking that a JSON body
    is JSON (``require_json_body``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_json_body = self.body_field is not None

        async def exact_json_handler(request: Request) -> Response:
            exact = ExactJSONRequest(request.scope, request.receive)
            if takes_json_body:
                await require_json_body(exact)
            return await handler(exact)

        return exact_json_handler


def resource_router(prefix: str, tag: str) -> APIRouter:
    """A router for one resource, under ``prefix``, documented under ``tag``."""
    return APIRouter(prefix=prefix, tags=[tag], route_class=ExactJSONRoute)
