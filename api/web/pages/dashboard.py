"""The dashboard, ``/ui/``: the first page after logging in (issue 13). Tiles with the season's
billing progress, its collection rate, the arrears past due, the flags awaiting a second person,
the silent and faulty meters, the open disputes and (for the roles that read the outbox) the
messages that could not be delivered, each linking to its list; charts of the arrears by age, the
collection rate per community and the billing progress per community.

Every role that reads the ledger sees it; the figures are the API's answers
(``api.web.pages.dashboard_data``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.web.pages import dashboard_data as data
from api.web.pages.arrears import reading
from api.web.pages.arrears_data import AGING_BANDS
from api.web.pages.billing_common import WebContainer
from api.web.rendering import installed_paths, render, translate
from api.web.session import WebUser, request_language

router = APIRouter(prefix="/ui", include_in_schema=False)

# The words the charts need besides the aging bands' names, by the name the data module uses.
_CHART_WORDS = ("rate", "households", "prepaid", "settled")


@router.get("/")
def dashboard(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The season at a glance; each tile links to the list behind its figure."""
    language = request_language(request)
    names = {band: translate(f"web.arrears.band.{band}", language) for band in AGING_BANDS}
    names |= {word: translate(f"web.dashboard.chart.{word}", language) for word in _CHART_WORDS}
    board = data.dashboard(container, reading(user), names)
    return render(request, "dashboard/index.html", {"board": board, "installed": installed_paths(request)})
