"""The dashboard, ``/ui/``: a placeholder until the dashboard's own page lands (issue 13)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.web.rendering import render
from api.web.session import WebUser

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/")
def dashboard(request: Request, user: WebUser) -> Response:
    """The first page after logging in."""
    return render(request, "dashboard/index.html")
