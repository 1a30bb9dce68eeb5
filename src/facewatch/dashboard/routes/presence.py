"""Presence: who is where now, per zone and camera, kept up to date by the event stream.

The page's script follows ``/api/v1/events/stream`` and, on each event (and every
``REFRESH_SECONDS``, so that people leave the board when the window passes them), fetches
the board again from ``/presence/board``: one template renders it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from facewatch.dashboard.auth import Viewer
from facewatch.dashboard.web import DashboardRoute, render
from facewatch.server.deps import RuntimeDep
from facewatch.server.services import presence

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
WINDOWS = (5, 15, 60, 240)
REFRESH_SECONDS = 30
Minutes = Annotated[int, Query(ge=1, le=presence.MAX_MINUTES)]


@router.get("/presence")
def show_presence(
    request: Request, runtime: RuntimeDep, _: Viewer, minutes: Minutes = 15
) -> Response:
    """Who was seen in the last minutes, restricted zones first, violations marked."""
    context = {
        "board": presence.presence(runtime, minutes),
        "windows": sorted({*WINDOWS, minutes}),
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render(request, "presence.html", context)


@router.get("/presence/board")
def show_board(request: Request, runtime: RuntimeDep, _: Viewer, minutes: Minutes = 15) -> Response:
    """The board alone (the page's script swaps it in)."""
    return render(request, "_presence_board.html", {"board": presence.presence(runtime, minutes)})
