"""What every compat router shares: the route class and the documented error answers."""

from __future__ import annotations

from fastapi import APIRouter

from facewatch.server.compat.errors import CompatRoute
from facewatch.server.compat.schemas import MessageOut

TAG = "cloud-face-recognition compatibility"
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": MessageOut, "description": "Refused, as the old API did"},
    401: {"model": MessageOut, "description": "No API key (and anonymous access is off)"},
    403: {"model": MessageOut, "description": "The API key lacks the scope"},
}
UPLOAD_ERRORS: dict[int | str, dict[str, object]] = {
    **ERRORS,
    413: {"model": MessageOut, "description": "The file or image is too large"},
    415: {"model": MessageOut, "description": "Not an image format Facewatch reads"},
}


def compat_router() -> APIRouter:
    """A router whose routes answer errors with the old API's bodies."""
    return APIRouter(route_class=CompatRoute, tags=[TAG], responses=ERRORS)
