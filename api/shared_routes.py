"""Included routers analysed once per process and shared by every app the process builds.

FastAPI (0.165) analyses an included router's routes per app: each ``include_router`` adds a
route that builds its routes' parameters, bodies and response fields (a pydantic adapter per
parameter) on first use, about 0.5 CPU s for Heat Ledger's ~300 routes. A server builds one app,
so it pays that once; the test suite builds one app per end-to-end test (about 1,300), which was
a third of the suite's CPU. Every app includes the same module-level routers with the same
arguments, and what the analysis builds depends on nothing of the app but its dependency
overrides (the handler finds the container through ``request.app`` at each request), so the first
app's analysed routers serve every later one.

The one thing tying an analysed route to its app, the provider of dependency overrides, is made
the same for every app: Heat Ledger takes no overrides (``NO_OVERRIDES``), and an app's
``dependency_overrides`` is read-only, so an attempt to set one fails loudly instead of being
ignored. A router included with other arguments than the first time is analysed anew.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi import routing as fastapi_routing


class _NoOverrides:
    """The dependency-overrides provider of every app: no overrides, and none can be added."""

    dependency_overrides: MappingProxyType[Any, Any] = MappingProxyType({})


NO_OVERRIDES = _NoOverrides()

# The included-router route first made for each router of the process (the router is kept with
# it, so its ``id`` is never reused for another object).
_ANALYSED: dict[int, tuple[APIRouter, Any]] = {}

# FastAPI's class of an included router's route; without it (another FastAPI version), apps keep
# their own routes.
_INCLUDED_ROUTER: Any = getattr(fastapi_routing, "_IncludedRouter", None)


def take_no_dependency_overrides(app: FastAPI) -> None:
    """Make ``app``'s routes, included after this, resolve dependencies without overrides."""
    app.router.dependency_overrides_provider = NO_OVERRIDES
    app.dependency_overrides = NO_OVERRIDES.dependency_overrides  # type: ignore[assignment]


def include_shared(app: FastAPI, router: APIRouter) -> None:
    """``app.include_router(router)``, reusing the route (and its analysis) of the first app
    that included ``router`` with the same arguments."""
    app.include_router(router)
    if _INCLUDED_ROUTER is None:
        return
    included = app.router.routes[-1]
    if not isinstance(included, _INCLUDED_ROUTER) or included.original_router is not router:
        return
    first = _ANALYSED.get(id(router))
    if first is None:
        _ANALYSED[id(router)] = (router, included)
    elif first[1].include_context == included.include_context:
        app.router.routes[-1] = first[1]
