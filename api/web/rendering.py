"""Rendering the web UI's pages: one Jinja2 environment (jinja2-fragments), its globals and filters.

``render(request, template_name, context, block_name=None)`` renders a page in the request's
language; an htmx request may ask for one block only (``block_name``), which jinja2-fragments
renders without the rest of the template. Templates see:

- ``_(key, **params)``: a message of the catalogues (``api.i18n.translate``) in the page's language;
- filters ``money`` (元, 2 decimals), ``number``, ``gj``, ``date``, ``datetime`` (Asia/Shanghai);
- ``user``: the ``WebSession`` (None on the login page), ``may(permission_name)``: whether the user's
  role holds a permission, to offer only the actions it may take (the services refuse the rest);
- ``language``, ``nav`` (the areas the user's role may use), ``static_url(path)``, ``csrf_token``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import pass_context
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup
from starlette.responses import Response

from api import i18n
from api.i18n import Language
from api.web import date_format, number_format
from api.web.session import LANGUAGE_COOKIE, LANGUAGE_COOKIE_MAX_AGE_SECONDS, current_session, request_language
from application.authorization import Permission

WEB_DIRECTORY = Path(__file__).parent
TEMPLATE_DIRECTORY = WEB_DIRECTORY / "templates"
STATIC_DIRECTORY = WEB_DIRECTORY / "static"


@dataclass(frozen=True)
class NavArea:
    """An area of the UI in the navigation: shown to the roles holding ``permission``."""

    key: str  # the message key of its name
    path: str
    permission: Permission


# The areas, in the navigation's order. An area appears once its pages are installed (a router
# with that prefix) and only to the roles that may use it.
NAV_AREAS = (
    NavArea("web.nav.dashboard", "/ui/", Permission.READ_LEDGER),
    NavArea("web.nav.households", "/ui/households", Permission.READ_LEDGER),
    NavArea("web.nav.counter", "/ui/counter", Permission.RECEIVE_PAYMENTS),
    NavArea("web.nav.meters", "/ui/meters", Permission.READ_LEDGER),
    NavArea("web.nav.monitoring", "/ui/monitoring", Permission.READ_LEDGER),
    NavArea("web.nav.valves", "/ui/valves", Permission.READ_LEDGER),
    NavArea("web.nav.tariffs", "/ui/tariffs", Permission.READ_LEDGER),
    NavArea("web.nav.seasons", "/ui/seasons", Permission.READ_LEDGER),
    NavArea("web.nav.billing_runs", "/ui/billing-runs", Permission.READ_LEDGER),
    NavArea("web.nav.arrears", "/ui/arrears", Permission.READ_LEDGER),
    NavArea("web.nav.dunning", "/ui/dunning", Permission.READ_LEDGER),
    NavArea("web.nav.disputes", "/ui/disputes", Permission.READ_LEDGER),
    NavArea("web.nav.scenarios", "/ui/scenarios", Permission.READ_LEDGER),
    NavArea("web.nav.reports", "/ui/reports", Permission.READ_LEDGER),
    NavArea("web.nav.audit", "/ui/audit", Permission.READ_LEDGER),
    NavArea("web.nav.admin_users", "/ui/admin/users", Permission.MANAGE_TOKENS),
)


def translate(key: str, language: Language, **params: Any) -> str:
    """A message of the catalogues in ``language`` (the one door templates and pages go through).

    ``api.i18n.translate``'s text; a message with params is filled with ``str.format_map`` rather
    than ``string.Formatter().vformat`` (the same fields, three times faster: a table fills one
    or two per row). Anything unusual (a missing key, a template that cannot be filled) goes to
    ``api.i18n.translate``, which says so in the log."""
    if not params:
        return i18n.translate(key, language)
    template = i18n.text(key, language) or i18n.text(key, i18n.DEFAULT_LANGUAGE)
    if template is None:
        return i18n.translate(key, language, **params)
    filled = _FilledFields(params)
    try:
        text = template.format_map(filled)
    except (IndexError, ValueError, KeyError, AttributeError):
        return i18n.translate(key, language, **params)
    return text if not filled.missing else i18n.translate(key, language, **params)


class _FilledFields(dict[str, Any]):
    """A message's params for ``str.format_map``; a field without a param is noted (and the
    message left to ``api.i18n``, which keeps the placeholder and logs it)."""

    missing = False

    def __missing__(self, name: str) -> str:
        self.missing = True
        return "{" + name + "}"


# Figures are formatted by api.web.number_format: api.i18n's text without Babel's per-call cost.
def _money(amount: Decimal | None, language: Language) -> str:
    return "" if amount is None else number_format.format_money(Decimal(amount), language)


def _number(value: Decimal | int | float | None, language: Language, decimals: int | None = None) -> str:
    return "" if value is None else number_format.format_number(value, language, decimals)


def _energy(value: Decimal | None, language: Language) -> str:
    return "" if value is None else number_format.format_energy_gj(value, language)


# Days and times by api.web.date_format: api.i18n's text, each style compiled once.
def _date(day: date | None, language: Language, style: str = "medium") -> str:
    return "" if day is None else date_format.format_date(day, language, style)


def _datetime(moment: datetime | None, language: Language, style: str = "medium") -> str:
    return "" if moment is None else date_format.format_datetime(moment, language, style)


@cache
def static_version(path: str) -> str:
    """A short digest of a static file's content: its URL changes when the file does (cache busting)."""
    return hashlib.sha256((STATIC_DIRECTORY / path).read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    """The URL of a file under api/web/static; our own files carry ``?v=<digest>``, vendored ones
    (versioned by their folder's VERSIONS.md, cached a week) do not."""
    if path.startswith("vendor/"):
        return f"/static/{path}"
    return f"/static/{path}?v={static_version(path)}"


def chart_json(option: Mapping[str, Any]) -> Markup:
    """An ECharts option as the ``data-chart`` attribute's JSON (escaped for an HTML attribute)."""
    text = json.dumps(option, ensure_ascii=False, default=str, separators=(",", ":"))
    return Markup.escape(text)


@cache
def templates() -> Jinja2Blocks:
    """The one template environment of the process (built on first use, not at import)."""
    blocks = Jinja2Blocks(directory=str(TEMPLATE_DIRECTORY))
    environment = blocks.env
    # Templates ship with the code and change only with a release (a restart, as for the Python):
    # without the reload check each page stats every template it uses (base, macros, the page)
    # before rendering, about 3 % of a page's CPU on the loaded machine (docs/ui.md "Performance").
    environment.auto_reload = False
    environment.globals.update(static_url=static_url, NAV_AREAS=NAV_AREAS)
    environment.filters.update(
        chart_json=chart_json,
        money=_context_filter(_money),
        number=_context_filter(_number),
        gj=_context_filter(_energy),
        date=_context_filter(_date),
        datetime=_context_filter(_datetime),
    )
    return blocks


def installed_paths(request: Request) -> frozenset[str]:
    """The navigation paths whose pages are installed in this app (set by ``install_web``)."""
    paths: frozenset[str] = getattr(request.app.state, "web_area_paths", frozenset())
    return paths


def nav_for(request: Request) -> list[NavArea]:
    """The areas the signed-in user's role may use, among those installed."""
    session = current_session(request)
    if session is None:
        return []
    paths = installed_paths(request)
    return [area for area in NAV_AREAS if area.path in paths and session.principal.may(area.permission)]


def page_context(request: Request, language: Language) -> dict[str, Any]:
    """What every template sees (see the module docstring)."""
    session = current_session(request)

    def may(permission: str | Permission) -> bool:
        return session is not None and session.principal.may(Permission(permission))

    return {
        "request": request,
        "language": language,
        "user": session,
        "csrf_token": session.csrf_token if session is not None else "",
        "may": may,
        "nav": nav_for(request),
        "_": lambda key, **params: translate(key, language, **params),
        "current_path": request.url.path,
    }


def render(
    request: Request,
    template_name: str,
    context: Mapping[str, Any] | None = None,
    block_name: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A page (or, for htmx, one of its blocks) in the request's language."""
    language = request_language(request)
    full_context = {**page_context(request, language), **(context or {})}
    response = templates().TemplateResponse(
        request,
        template_name,
        full_context,
        status_code=status_code,
        headers=dict(headers or {}),
        block_name=block_name,
    )
    remember_language(request, response)
    return response


def _context_filter(function: Any) -> Any:
    """A filter that reads the language from the template's context (so one environment serves
    concurrent requests in both languages)."""

    @pass_context
    def language_filter(context: Any, value: Any, *args: Any) -> str:
        language = context.get("language", i18n.DEFAULT_LANGUAGE)
        return str(function(value, language, *args))

    return language_filter


def remember_language(request: Request, response: Response) -> None:
    """``?lang=en|zh`` switches the language: remember it in the ``hl_lang`` cookie."""
    asked = request.query_params.get("lang")
    if asked in {language.value for language in Language}:
        response.set_cookie(
            LANGUAGE_COOKIE, asked, max_age=LANGUAGE_COOKIE_MAX_AGE_SECONDS, httponly=True, samesite="lax"
        )
