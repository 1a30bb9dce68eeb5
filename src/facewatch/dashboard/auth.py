"""Who is logged in to the dashboard, what they may do, and CSRF protection for forms.

Every page depends on ``require(permission)``; every form post on ``require_form(...)``,
which also checks the session's CSRF token (a hidden ``csrf_token`` field, or the
``X-CSRF-Token`` header for script requests) and, when the browser sends one, the Origin.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from facewatch.config import Settings
from facewatch.dashboard.web import LoginRequired, PermissionDenied
from facewatch.security import audit
from facewatch.server.deps import RuntimeDep, session_token
from facewatch.server.services import sessions
from facewatch.server.services.sessions import SessionUser
from facewatch.server.services.users import Permission

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_CSRF_COOKIE = "facewatch_login_csrf"

_REFUSED = {
    Permission.VIEW: "your account may not view the dashboard",
    Permission.ACKNOWLEDGE: "only operators and admins may acknowledge events",
    Permission.ENROLL: "only operators and admins may enrol people",
    Permission.ADMINISTER: "only admins may do this",
}


def cookie_is_secure(request: Request, settings: Settings) -> bool:
    """Whether the session cookie gets the Secure flag (https, or forced by a setting)."""
    return settings.session_cookie_secure == "always" or request.url.scheme == "https"


def set_session_cookie(
    request: Request, response: Response, settings: Settings, new: sessions.NewSession
) -> None:
    """Give the browser its session cookie: HttpOnly, SameSite=Lax, Secure over https."""
    secure = cookie_is_secure(request, settings)
    response.set_cookie(
        sessions.cookie_name(secure),
        new.token,
        max_age=new.max_age_seconds,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response) -> None:
    """Remove both possible session cookies."""
    response.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    response.delete_cookie(
        sessions.SECURE_COOKIE_NAME, path="/", secure=True, httponly=True, samesite="lax"
    )


def current_user(request: Request, runtime: RuntimeDep) -> SessionUser:
    """The logged-in user (kept on ``request.state`` for the templates); else LoginRequired."""
    user = sessions.resolve(runtime, session_token(request))
    if user is None:
        raise LoginRequired()
    request.state.dashboard_user = user
    audit.identify(f"user:{user.username}")
    return user


def require(permission: Permission) -> Callable[..., SessionUser]:
    """A dependency admitting a logged-in user whose role grants ``permission``."""

    def check(user: Annotated[SessionUser, Depends(current_user)]) -> SessionUser:
        if not user.can(permission):
            raise PermissionDenied(_REFUSED[permission])
        return user

    return check


def require_form(permission: Permission) -> Callable[..., Awaitable[SessionUser]]:
    """Like ``require``, for state-changing posts: also checks the CSRF token and Origin."""
    check_permission = require(permission)

    async def check(
        request: Request, user: Annotated[SessionUser, Depends(current_user)]
    ) -> SessionUser:
        check_permission(user)
        if not same_origin(request):
            raise PermissionDenied("the form was sent from another site")
        token = request.headers.get(CSRF_HEADER)
        if token is None:
            form = await request.form()
            field = form.get(CSRF_FIELD)
            token = field if isinstance(field, str) else None
        if not user.csrf_matches(token):
            raise PermissionDenied("the form has expired or was not sent by this page; reload")
        return user

    return check


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another origin."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Old browsers send no Origin; SameSite=Lax and the token still protect the form.
        return origin is None
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def new_login_token() -> str:
    """A random token for the login form (double-submitted: cookie and hidden field)."""
    return secrets.token_urlsafe(32)


def login_token_matches(request: Request, submitted: str | None) -> bool:
    """True when the login form sent back the token of its cookie."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(expected and submitted) and hmac.compare_digest(expected or "", submitted or "")


Viewer = Annotated[SessionUser, Depends(require(Permission.VIEW))]
Administrator = Annotated[SessionUser, Depends(require(Permission.ADMINISTER))]
AcknowledgeForm = Annotated[SessionUser, Depends(require_form(Permission.ACKNOWLEDGE))]
EnrollForm = Annotated[SessionUser, Depends(require_form(Permission.ENROLL))]
AdminForm = Annotated[SessionUser, Depends(require_form(Permission.ADMINISTER))]
AnyUserForm = Annotated[SessionUser, Depends(require_form(Permission.VIEW))]
