"""Edge agents' health: heartbeats (figures per camera) and snapshots (a still per camera).

* ``POST /api/v1/edge/heartbeat``: JSON; the agent's figures per camera, kept as each
  camera's latest (``GET /api/v1/cameras`` shows them, ``/metrics`` exports them).
* ``POST /api/v1/edge/cameras/{camera_id}/snapshot``: multipart; a small still of what the
  camera sees, kept (encrypted like every image) until the next one replaces it. Agents send
  none unless their ``snapshots.enabled`` is set.

Both take the agent's ingest-scoped key, like its uploads.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from facewatch.server.deps import IngestKey, Multipart, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import CameraId
from facewatch.server.schemas_health import HeartbeatIn, HeartbeatOut, SnapshotOut
from facewatch.server.services import camera_health
from facewatch.server.uploads import read_upload

router = APIRouter(prefix="/api/v1/edge", tags=["edge"])


@router.post("/heartbeat", response_model=HeartbeatOut, responses=ERRORS)
def post_heartbeat(body: HeartbeatIn, runtime: RuntimeDep, _: IngestKey) -> HeartbeatOut:
    """Record an edge agent's health: frame rates, drops, detections, outbox, last error."""
    return camera_health.record_heartbeat(runtime, body)


@router.post(
    "/cameras/{camera_id}/snapshot",
    response_model=SnapshotOut,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400]},
    dependencies=[Multipart],
)
def post_snapshot(
    camera_id: CameraId,
    image: Annotated[UploadFile, File(description="A JPEG or WebP still of the camera")],
    edge_id: Annotated[CameraId, Form(description="The agent's edge id")],
    runtime: RuntimeDep,
    _: IngestKey,
) -> SnapshotOut:
    """Keep a still of what a camera sees (its latest replaces the one before)."""
    data = read_upload(image, camera_health.MAX_SNAPSHOT_BYTES).data
    return camera_health.store_snapshot(runtime, camera_id, edge_id, data)
