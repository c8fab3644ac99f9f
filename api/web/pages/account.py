"""Logging in and out, and changing one's password: ``/ui/login``, ``/ui/logout``, ``/ui/account/password``.

The login form carries a CSRF token of its own (a double-submit cookie, ``hl_login_csrf``): no
session exists yet, and a forged login into someone else's account must fail too. A login goes
through ``StaffAccounts.authenticate`` (lock-out, rate limit, every attempt recorded); a success
opens a session in the database and sets the ``hl_session`` cookie (HttpOnly, SameSite=Lax, Secure
outside development). Logging out revokes the session; a password change ends every other one.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from api.i18n import Language
from api.messages import describe_error
from api.web.rendering import render, translate
from api.web.session import LOGIN_PATH, SESSION_COOKIE, CsrfChecked, WebUser, current_session, request_language
from application.staff_accounts import AuthenticatedStaff, LoginOutcome, LoginRefusedError
from domain.errors import InvalidInputError, LedgerError
from domain.staff_account import MAXIMUM_PASSWORD_LENGTH
from infrastructure.container import Container

router = APIRouter(prefix="/ui", include_in_schema=False)

LOGIN_CSRF_COOKIE = "hl_login_csrf"
HOME_PATH = "/ui/"
# Form fields longer than these are cut before anything else looks at them.
MAXIMUM_USERNAME_INPUT = 128
MAXIMUM_PASSWORD_INPUT = MAXIMUM_PASSWORD_LENGTH + 1
# The password rules name the password "password"; on this form it is the new one.
_PASSWORD_FORM_FIELDS = {"password": "new_password"}
# The HTTP status a refused login answers with.
_REFUSAL_STATUS = {
    LoginOutcome.BAD_CREDENTIALS: 401,
    LoginOutcome.DISABLED: 403,
    LoginOutcome.LOCKED: 429,
    LoginOutcome.RATE_LIMITED: 429,
}


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def client_address(request: Request) -> str:
    """The address a login comes from (the direct peer; a proxy in front passes it on with
    uvicorn's --proxy-headers, see docs/ui.md)."""
    return request.client.host if request.client is not None else "unknown"


def safe_next(next_path: str | None) -> str:
    """Where to go after logging in: a page of the UI only (never another site: ``//evil``, ``/\\evil``)."""
    if not next_path or not next_path.startswith("/ui") or next_path.startswith(("//", "/\\")) or "\\" in next_path:
        return HOME_PATH
    return next_path


def _secure(request: Request) -> bool:
    return _container(request).settings.session_cookie_is_secure


def staff_error_message(error: LedgerError, language: Language) -> str:
    """A refusal of the staff account use cases (a password rule, a login) in the page's language."""
    return describe_error(error, language)


# -- logging in ---------------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The login form (a signed-in user goes straight on)."""
    if current_session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


def _login_page(request: Request, next_path: str, error: str = "", username: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    context = {"next": next_path, "error": error, "username": username, "login_csrf": token}
    response = render(request, "account/login.html", context, status_code=status)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="lax", secure=_secure(request), path=LOGIN_PATH
    )
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=MAXIMUM_USERNAME_INPUT)] = "",
    password: Annotated[str, Form(max_length=MAXIMUM_PASSWORD_INPUT)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME_PATH,
) -> Response:
    """Check the username and password; open a session and go on, or show the form with why not."""
    next_path = safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        message = translate("web.login.error.form_expired", request_language(request))
        return _login_page(request, next_path, message, username, status=403)
    container = _container(request)
    try:
        staff = container.staff_accounts.authenticate(username, password, client_address(request))
    except LoginRefusedError as refusal:
        return _login_page(
            request, next_path, _refusal_message(request, refusal), username, _REFUSAL_STATUS[refusal.outcome]
        )
    return _signed_in(request, staff, next_path)


def _signed_in(request: Request, staff: AuthenticatedStaff, next_path: str) -> Response:
    """Open the session and set its cookie (a new token: nothing before the login is reused)."""
    opened = _container(request).web_sessions.open(staff, client_address(request))
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(SESSION_COOKIE, opened.token, httponly=True, samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


def _refusal_message(request: Request, refusal: LoginRefusedError) -> str:
    return staff_error_message(refusal, request_language(request))


# -- logging out ----------------------------------------------------------------------------------------


@router.post("/logout")
def logout(request: Request, user: CsrfChecked) -> Response:
    """End this session (it stops working at once) and go back to the login form."""
    _container(request).web_sessions.revoke(user.session_id, user.account_id)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


# -- one's own password ------------------------------------------------------------------------------


@router.get("/account/password")
def password_form(request: Request, user: WebUser) -> Response:
    """The form to change one's password."""
    return render(request, "account/password.html", {"errors": {}, "changed": False})


@router.post("/account/password")
def change_password(
    request: Request,
    user: CsrfChecked,
    current_password: Annotated[str, Form(max_length=MAXIMUM_PASSWORD_INPUT)] = "",
    new_password: Annotated[str, Form(max_length=MAXIMUM_PASSWORD_INPUT)] = "",
    new_password_again: Annotated[str, Form(max_length=MAXIMUM_PASSWORD_INPUT)] = "",
) -> Response:
    """Change the password (proving the current one); every other session of the account ends."""
    language = request_language(request)
    if new_password != new_password_again:
        errors = {"new_password_again": translate("web.password.error.mismatch", language)}
        return render(request, "account/password.html", {"errors": errors, "changed": False}, status_code=422)
    caller = AuthenticatedStaff(user.account_id, user.username, user.role)
    try:
        _container(request).staff_accounts.change_password(caller, current_password, new_password, user.session_id)
    except InvalidInputError as error:
        field = str(error.params.get("field", "new_password"))
        errors = {_PASSWORD_FORM_FIELDS.get(field, field): staff_error_message(error, language)}
        return render(request, "account/password.html", {"errors": errors, "changed": False}, status_code=422)
    return render(request, "account/password.html", {"errors": {}, "changed": True})
