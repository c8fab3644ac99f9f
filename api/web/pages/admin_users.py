"""Staff accounts for administrators: ``/ui/admin/users`` (issue 13).

The list of accounts (role, state, last login, lock-out, live sessions), a form to create one, and
per account: disable or enable, unlock, end its sessions, set a new password. Every action is a
use case of ``application.staff_accounts.StaffAccounts`` (permission ``manage_tokens``, held by
administrators only), the same the ``heatledger user`` commands call: another role is not shown the
area, and is refused with 403 if it posts anyway. Refusals of the rules (a taken username, a short
password, disabling oneself) are shown on the page in the user's language; nothing is half-done.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from api.messages import describe_error
from api.problems import status_of
from api.web.pages.account import MAXIMUM_PASSWORD_INPUT, MAXIMUM_USERNAME_INPUT
from api.web.rendering import render
from api.web.session import CsrfChecked, WebSession, WebUser, request_language
from application.authorization import Permission
from application.staff_accounts import STAFF_ROLES
from domain.errors import InvalidInputError, LedgerError
from infrastructure.container import Container

router = APIRouter(prefix="/ui/admin/users", include_in_schema=False)

PAGE_SIZE = 50
# The confirmations a redirect back to the list may name (?done=...).
DONE_MESSAGES = frozenset({"created", "disabled", "enabled", "unlocked", "sessions_revoked", "password_set"})
REASON_MAX_LENGTH = 500


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _page_context(request: Request, user: WebSession, page: int) -> dict[str, Any]:
    """The accounts (checked: only an administrator may list them) and their live sessions."""
    container = _container(request)
    views = container.staff_accounts.list(user.principal)
    live = Counter(session.account_id for session in container.web_sessions.live())
    pages = max(1, -(-len(views) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = views[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return {
        "accounts": shown,
        "live_sessions": live,
        "roles": [role.value for role in STAFF_ROLES],
        "page": page,
        "pages": pages,
        "total": len(views),
        "errors": {},
        "values": {},
        "action_error": "",
        "done": "",
    }


@router.get("")
def users_page(request: Request, user: WebUser, page: int = 1, done: str = "", who: str = "") -> Response:
    """Every staff account, and the form to create one."""
    context = _page_context(request, user, page)
    context["done"] = done if done in DONE_MESSAGES else ""
    context["who"] = who[:MAXIMUM_USERNAME_INPUT]
    return render(request, "admin/users.html", context)


@router.post("")
def create_user(
    request: Request,
    user: CsrfChecked,
    username: Annotated[str, Form(max_length=MAXIMUM_USERNAME_INPUT)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=MAXIMUM_PASSWORD_INPUT)] = "",
) -> Response:
    """Create an account; the form comes back with what is wrong, beside its field."""
    user.principal.require(Permission.MANAGE_TOKENS)  # before the form is even looked at
    try:
        _container(request).staff_accounts.create(user.principal, username, role, password)
    except LedgerError as error:
        context = _page_context(request, user, 1)
        field = str(error.params.get("field", "username")) if isinstance(error, InvalidInputError) else "username"
        context["errors"] = {field: describe_error(error, request_language(request))}
        context["values"] = {"username": username, "role": role}
        return render(request, "admin/users.html", context, status_code=_status(error))
    return _back("created", username.strip().lower())


def _status(error: LedgerError) -> int:
    return status_of(error)


def _back(done: str, who: str) -> Response:
    return RedirectResponse(f"/ui/admin/users?done={done}&who={who}", status_code=303)


def _act(request: Request, user: WebSession, username: str, done: str, action: Any) -> Response:
    """Run one account action; a refusal is shown above the list, the list is shown again."""
    try:
        action()
    except LedgerError as error:
        context = _page_context(request, user, 1)
        context["action_error"] = describe_error(error, request_language(request))
        return render(request, "admin/users.html", context, status_code=_status(error))
    return _back(done, username)


Reason = Annotated[str, Form(max_length=REASON_MAX_LENGTH)]


@router.post("/{username}/disable")
def disable_user(request: Request, user: CsrfChecked, username: str, reason: Reason = "") -> Response:
    """Stop the account logging in; its sessions end."""
    accounts = _container(request).staff_accounts
    return _act(request, user, username, "disabled", lambda: accounts.disable(user.principal, username, reason))


@router.post("/{username}/enable")
def enable_user(request: Request, user: CsrfChecked, username: str, reason: Reason = "") -> Response:
    """Let a disabled account log in again."""
    accounts = _container(request).staff_accounts
    return _act(request, user, username, "enabled", lambda: accounts.enable(user.principal, username, reason))


@router.post("/{username}/unlock")
def unlock_user(request: Request, user: CsrfChecked, username: str, reason: Reason = "") -> Response:
    """Lift a lock-out after too many failed logins."""
    accounts = _container(request).staff_accounts
    return _act(request, user, username, "unlocked", lambda: accounts.unlock(user.principal, username, reason))


@router.post("/{username}/revoke-sessions")
def revoke_user_sessions(request: Request, user: CsrfChecked, username: str) -> Response:
    """End every session of the account now."""
    accounts = _container(request).staff_accounts
    return _act(request, user, username, "sessions_revoked", lambda: accounts.revoke_sessions(user.principal, username))


@router.post("/{username}/password")
def set_user_password(
    request: Request,
    user: CsrfChecked,
    username: str,
    password: Annotated[str, Form(max_length=MAXIMUM_PASSWORD_INPUT)] = "",
) -> Response:
    """Give the account a new password (a forgotten one); its sessions end."""
    accounts = _container(request).staff_accounts
    return _act(
        request, user, username, "password_set", lambda: accounts.set_password(user.principal, username, password)
    )
