"""The login form, logging in (rate limited, with lockout) and logging out."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from facewatch.config import Settings
from facewatch.dashboard.auth import (
    LOGIN_CSRF_COOKIE,
    AnyUserForm,
    clear_session_cookie,
    cookie_is_secure,
    login_token_matches,
    new_login_token,
    set_session_cookie,
)
from facewatch.dashboard.web import DashboardRoute, redirect, render, safe_next
from facewatch.errors import Unauthorized
from facewatch.server.deps import RuntimeDep, session_token
from facewatch.server.services import sessions

logger = logging.getLogger(__name__)
router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

Field = Annotated[str, Form(max_length=1024)]


@router.get("/login")
def show_login(request: Request, runtime: RuntimeDep, next: str = "/") -> Response:
    """The login form (a logged-in user goes straight on)."""
    if sessions.resolve(runtime, session_token(request)) is not None:
        return redirect(safe_next(next))
    return _form(request, runtime.settings, next, error=None, status_code=200)


@router.post("/login")
def log_in(
    request: Request,
    runtime: RuntimeDep,
    username: Field,
    password: Field,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the credentials; on success set the session cookie and go on."""
    if not login_token_matches(request, csrf_token):
        return _form(request, runtime.settings, next, "the login form expired; try again", 403)
    address = request.client.host if request.client else "unknown"
    agent = request.headers.get("user-agent", "")
    try:
        new = sessions.log_in(runtime, username.strip(), password, address, agent)
    except sessions.LoginThrottled as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        return _form(request, runtime.settings, next, exc.message, 429, headers)
    except Unauthorized as exc:
        return _form(request, runtime.settings, next, exc.message, 401)
    response = redirect(safe_next(next))
    set_session_cookie(request, response, runtime.settings, new)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def log_out(request: Request, runtime: RuntimeDep, _: AnyUserForm) -> Response:
    """End the session and forget the cookie."""
    sessions.log_out(runtime, session_token(request))
    response = redirect("/login", "You are logged out.")
    clear_session_cookie(response)
    return response


def _form(
    request: Request,
    settings: Settings,
    next: str,
    error: str | None,
    status_code: int,
    headers: dict[str, str] | None = None,
) -> Response:
    token = new_login_token()
    response = render(
        request,
        "login.html",
        {"next": safe_next(next), "error": error, "csrf_token": token},
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/login",
        secure=cookie_is_secure(request, settings),
        httponly=True,
        samesite="strict",
    )
    return response
