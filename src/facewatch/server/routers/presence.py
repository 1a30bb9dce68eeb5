"""Presence: who is where now, per zone and camera."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from facewatch.server.deps import ReadKey, StorageDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas_presence import PresenceOut
from facewatch.server.services import presence

router = APIRouter(prefix="/api/v1/presence", tags=["presence"])

Minutes = Annotated[
    int, Query(ge=1, le=presence.MAX_MINUTES, description="The window: the last N minutes")
]


@router.get("", response_model=PresenceOut, responses=ERRORS)
def get_presence(storage: StorageDep, _: ReadKey, minutes: Minutes = 15) -> PresenceOut:
    """Who was seen in the last minutes, each at the camera that saw them last, by zone."""
    return presence.presence(storage, minutes)
