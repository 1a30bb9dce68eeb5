"""What every dashboard page shares: templates, the HTML error route class, flash messages,
redirects and the security headers.

Dashboard routes answer with HTML, never with the API's JSON errors: ``DashboardRoute``
turns a missing login into a redirect to /login, a refused permission into a 403 page and
any other Facewatch error into an error page with the status the API would have used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from facewatch.errors import FacewatchError
from facewatch.server.errors import status_for
from facewatch.server.services.severity import needs_acknowledgement

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATES = Jinja2Templates(directory=PACKAGE_DIR / "templates")
FLASH_COOKIE = "facewatch_flash"
_FLASH_MAX_CHARS = 1500

# No inline script or style anywhere: a script injected into a page could not run.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}
# An image opened on its own becomes the browser's image viewer, a page made with inline
# styles: under the pages' policy Chromium logs each as refused. Image answers get a policy
# meant for an image (nothing but itself, and those styles); pages keep theirs.
IMAGE_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"
)


class LoginRequired(Exception):
    """No live dashboard session: the browser goes to the login form."""


class PermissionDenied(Exception):
    """The user's role does not allow this; ``message`` says what was refused."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DashboardRoute(APIRoute):
    """An APIRoute whose errors become HTML pages and whose answers carry the security
    headers and ``Cache-Control: no-store`` (pages show personal data)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await handle(request)
            except LoginRequired:
                response = _to_login(request)
            except PermissionDenied as exc:
                response = error_page(request, 403, "Not allowed", exc.message)
            except RequestValidationError as exc:
                response = error_page(request, 400, "Bad request", _validation_message(exc))
            except FacewatchError as exc:
                code = status_for(exc)
                title = "Not found" if code == 404 else "Cannot do that"
                response = error_page(request, code, title, exc.message)
            _secure(response)
            return response

        return handler


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page from ``template`` with the request, the user, the CSRF token and any flash."""
    values: dict[str, Any] = {
        "user": getattr(request.state, "dashboard_user", None),
        "flash": read_flash(request),
        "path": request.url.path,
    }
    values.update(context or {})
    response = TEMPLATES.TemplateResponse(
        request, template, values, status_code=status_code, headers=headers
    )
    if values["flash"]:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def image_response(data: bytes, content_type: str, cache_control: str) -> Response:
    """A stored image for the pages, under the image policy instead of the pages' one."""
    headers = {"Cache-Control": cache_control, "Content-Security-Policy": IMAGE_POLICY}
    return Response(data, media_type=content_type, headers=headers)


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    """A page that says what went wrong, with the status the API would give."""
    return render(
        request, "error.html", {"title": title, "message": message}, status_code=status_code
    )


def redirect(
    url: str,
    flash: str | list[str] | None = None,
    *,
    error: bool = False,
    warning: bool = False,
    link: tuple[str, str] | None = None,
) -> RedirectResponse:
    """A 303 to ``url`` (Post/Redirect/Get) carrying a message for the next page: an error,
    a warning (done only in part) or, by default, a success; ``link`` (a path on this site
    and its text) leads on to what the message is about."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        lines = [flash] if isinstance(flash, str) else flash
        message = {"error": error, "warning": warning, "lines": lines, "link": link}
        value = json.dumps(message)
        value = value[:_FLASH_MAX_CHARS]
        response.set_cookie(
            FLASH_COOKIE, quote(value), max_age=60, path="/", httponly=True, samesite="lax"
        )
    return response


def read_flash(request: Request) -> dict[str, Any] | None:
    """The message a redirect left for this page, if any (a malformed one is ignored)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        value = json.loads(unquote(raw))
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("lines"), list):
        return None
    return {
        "error": bool(value.get("error")),
        "warning": bool(value.get("warning")),
        "lines": [str(x) for x in value["lines"]],
        "link": _flash_link(value.get("link")),
    }


def _flash_link(link: object) -> tuple[str, str] | None:
    """A flash's link if it is a path on this site and a text (the cookie came back from
    the browser: never trust it to be what was sent)."""
    if not isinstance(link, list) or len(link) != 2 or not all(isinstance(x, str) for x in link):
        return None
    href, text = link
    return (href, text) if safe_next(href) == href and text else None


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else "/" (no open redirects)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 for c in target)
    ):
        return "/"
    return target


def format_time(moment: datetime | None) -> str:
    """A UTC time for people: ``2026-11-23 09:00:05 UTC``."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(moment: datetime | None) -> str:
    """ISO 8601 for ``<time datetime>`` attributes."""
    return "" if moment is None else moment.astimezone(UTC).isoformat()


def query_string(values: Mapping[str, object]) -> str:
    """``?a=1&b=2`` from the values that are set; "" if none are."""
    kept = {k: str(v) for k, v in values.items() if v not in (None, "", False)}
    return "?" + urlencode(kept) if kept else ""


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/"
    return RedirectResponse("/login" + query_string({"next": safe_next(target)}), 303)


def _secure(response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


TEMPLATES.env.filters["when"] = format_time
TEMPLATES.env.filters["iso"] = iso
TEMPLATES.env.globals["query_string"] = query_string
TEMPLATES.env.globals["needs_ack"] = needs_acknowledgement
