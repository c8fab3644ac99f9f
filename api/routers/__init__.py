"""One router per resource. Every router reads JSON numbers as exact decimals (see ``ExactJSONRoute``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute


class ExactJSONRequest(Request):
    """A request whose JSON numbers with a fraction or exponent are read as ``Decimal``, not float.

    A register of 123456789.123456789 GJ keeps every digit; a float would keep about 16.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class ExactJSONRoute(APIRoute):
    """A route that hands its endpoint an ``ExactJSONRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_json_handler(request: Request) -> Response:
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return exact_json_handler


def resource_router(prefix: str, tag: str) -> APIRouter:
    """A router for one resource, under ``prefix``, documented under ``tag``."""
    return APIRouter(prefix=prefix, tags=[tag], route_class=ExactJSONRoute)
