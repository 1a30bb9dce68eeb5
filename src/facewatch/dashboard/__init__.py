"""The web dashboard: server-rendered pages (Jinja2) with a little vanilla JavaScript.

``install(app)`` adds the pages at ``/``, ``/login``, ``/people``... and the static files at
``/static``; see docs/dashboard.md.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from facewatch.dashboard.routes import ROUTERS
from facewatch.dashboard.web import STATIC_DIR, error_page
from facewatch.server.errors import http_error

_API_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json")


def install(app: FastAPI) -> None:
    """Serve the dashboard from ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
    app.add_exception_handler(StarletteHTTPException, _page_or_json)
    for router in ROUTERS:
        app.include_router(router)


async def _favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


async def _page_or_json(request: Request, exc: Exception) -> Response:
    """A browser asking for a page that is not there gets the dashboard's error page; the
    API, and any client that does not ask for HTML, gets the JSON body."""
    assert isinstance(exc, StarletteHTTPException)
    wants_page = "text/html" in request.headers.get("accept", "")
    if exc.status_code == 404 and wants_page and not request.url.path.startswith(_API_PREFIXES):
        return error_page(request, 404, "Not found", "There is no page at this address.")
    return await http_error(request, exc)
