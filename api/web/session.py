"""Who is signed in to the web UI, their language, and the CSRF check of every form and htmx post.

A page names what it needs by type: ``def page(request: Request, user: WebUser)`` for any signed-in
user; ``user: CsrfChecked`` on every POST/PUT/DELETE route, which also checks the CSRF token (the form
field ``csrf_token``, or the ``X-CSRF-Token`` header htmx sends from ``<body hx-headers>``).

Without a live session a page GET is redirected (303) to ``/ui/login?next=<the page>``; an htmx
request gets 401 with ``HX-Redirect`` (htmx then loads the login page itself). A CSRF mismatch is
a 403 page. Permissions are not checked here: the application services check them (as for the API),
and templates offer only what ``may(...)`` allows.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import Depends, Request

from api.i18n import DEFAULT_LANGUAGE, Language
from api.messages import negotiate_language
from application.authorization import Permission, Principal, Role
from infrastructure.container import Container
from infrastructure.web_sessions import SessionRecord

SESSION_COOKIE = "hl_session"
LANGUAGE_COOKIE = "hl_lang"
LANGUAGE_COOKIE_MAX_AGE_SECONDS = 365 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/ui/login"
# The request.state attribute a request's session is kept in once looked up.
_STATE_ATTRIBUTE = "web_session"


@dataclass(frozen=True)
class WebSession:
    """A signed-in user of the web UI, as a page sees them."""

    principal: Principal
    username: str
    role: Role
    csrf_token: str
    language: Language
    session_id: UUID
    account_id: UUID

    def may(self, permission: Permission | str) -> bool:
        """Whether the user's role holds ``permission`` (for offering actions; services decide)."""
        return self.principal.may(Permission(permission))


class LoginRequiredError(Exception):
    """No live session: the page sends the browser to the login form (``api.web`` handles it)."""

    def __init__(self, next_path: str, htmx: bool) -> None:
        super().__init__("login required")
        self.next_path = next_path
        self.htmx = htmx

    @property
    def login_url(self) -> str:
        return f"{LOGIN_PATH}?next={quote(self.next_path, safe='/')}"


class CsrfRefusedError(Exception):
    """A write without the session's CSRF token: a 403 page, nothing done."""


def request_language(request: Request) -> Language:
    """The page's language: ``?lang=``, else the ``hl_lang`` cookie, else Accept-Language (zh default)."""
    for asked in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if asked in {language.value for language in Language}:
            return Language(asked)
    accepted = request.headers.get("accept-language")
    return Language(negotiate_language(accepted).value) if accepted else DEFAULT_LANGUAGE


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def current_session(request: Request) -> WebSession | None:
    """The live session of the request's ``hl_session`` cookie (looked up once per request)."""
    if hasattr(request.state, _STATE_ATTRIBUTE):
        cached: WebSession | None = getattr(request.state, _STATE_ATTRIBUTE)
        return cached
    token = request.cookies.get(SESSION_COOKIE, "")
    record = _container(request).web_sessions.find(token) if token else None
    session = _web_session(record, request_language(request)) if record is not None else None
    setattr(request.state, _STATE_ATTRIBUTE, session)
    return session


def _web_session(record: SessionRecord, language: Language) -> WebSession:
    return WebSession(
        principal=record.principal,
        username=record.username,
        role=record.role,
        csrf_token=record.csrf_token,
        language=language,
        session_id=record.session_id,
        account_id=record.account_id,
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def require_web_session(request: Request) -> WebSession:
    """The signed-in user, or LoginRequiredError (a redirect to the login form)."""
    session = current_session(request)
    if session is None:
        next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(next_path, is_htmx(request))
    return session


WebUser = Annotated[WebSession, Depends(require_web_session)]


async def check_csrf(request: Request, user: WebUser) -> WebSession:
    """The signed-in user, if the request carries their session's CSRF token; CsrfRefusedError otherwise."""
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not presented or not hmac.compare_digest(presented.encode(), user.csrf_token.encode()):
        raise CsrfRefusedError()
    return user


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


CsrfChecked = Annotated[WebSession, Depends(check_csrf)]
