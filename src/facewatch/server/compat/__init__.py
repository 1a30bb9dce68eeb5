"""Drop-in compatibility with the cloud-face-recognition REST API (off by default).

The old Flask-RESTPlus API's routes, fields, JSON shapes, status codes and messages, served
at the root beside Facewatch's own API, so the old edge programs and scripts work by a
change of address. See docs/migrating-from-cloud-face-recognition.md.

    errors.py    the old error bodies, and the route class that renders them
    fields.py    the old request fields and their messages
    auth.py      an API key if one is sent; anonymous access only if allowed
    forward.py   send-results' forwarding to an external server (httpx)
    services/    the old semantics on Facewatch's services
    routers/     the routes, one module per resource
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from facewatch.config import Settings
from facewatch.server.compat.routers import router

logger = logging.getLogger(__name__)

ANONYMOUS_RISK = (
    "RISK: the cloud-face-recognition compat routes accept requests WITHOUT an API key "
    "(compat_allow_anonymous): anyone who can reach this server can enrol, delete and "
    "recognise people and read where they were seen. Serve it on a trusted network only."
)


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the old API's routes at the root of ``app``; log the risk of anonymous access."""
    app.include_router(router)
    logger.info("cloud-face-recognition compat routes served at the root (/dataset, ...)")
    if settings.compat_allow_anonymous:
        logger.warning(ANONYMOUS_RISK)
