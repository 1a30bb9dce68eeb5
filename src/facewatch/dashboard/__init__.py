"""The web dashboard: server-rendered pages (Jinja2) with a little vanilla JavaScript.

``install(app)`` adds the pages at ``/``, ``/login``, ``/people``... and the static files at
``/static``; see docs/dashboard.md.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from facewatch.dashboard.routes import ROUTERS
from facewatch.dashboard.web import STATIC_DIR


def install(app: FastAPI) -> None:
    """Serve the dashboard from ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
