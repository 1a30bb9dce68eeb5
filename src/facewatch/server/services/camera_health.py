"""Camera health: the edge agents' heartbeats and snapshots, staleness and its events.

Usage::

    recovered = record_heartbeat(runtime, heartbeat)          # POST /api/v1/edge/heartbeat
    store_snapshot(runtime, "gate-1", "site-a", jpeg_bytes)   # POST .../snapshot
    cameras = with_health(runtime, [CameraOut...])            # the cameras API and pages
    check_stale(runtime)                                      # the scheduled job

Everything lives in the database (``camera_health``), so every replica answers the same and
the job may run on whichever replica holds the scheduler lock. Going stale and coming back
are events (``camera.stale``, ``camera.recovered``), each raised by exactly one replica: the
stale flag only changes through conditional updates.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from facewatch.errors import NotFound, UnsupportedMediaType
from facewatch.server.events import Event, EventType, Severity
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import CameraOut
from facewatch.server.schemas_health import (
    CameraHealthOut,
    CameraStatusOut,
    HeartbeatIn,
    HeartbeatOut,
    SnapshotOut,
)
from facewatch.store.models import CameraHealth, utcnow
from facewatch.store.repositories import HealthReport
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.vision.image import decode_image, image_format

logger = logging.getLogger(__name__)

MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024
MAX_SNAPSHOT_PIXELS = 4096 * 2160
SNAPSHOT_TYPES = frozenset({"image/jpeg", "image/webp"})
MAX_CAMERAS = 1000
"""Most cameras exported to /metrics (each costs a handful of series)."""


def record_heartbeat(runtime: Runtime, heartbeat: HeartbeatIn) -> HeartbeatOut:
    """Keep each camera's figures as its latest; cameras seen for the first time are
    registered (as ingest does). Stale cameras that report again raise camera.recovered."""
    now = utcnow()
    recovered: list[str] = []
    with runtime.uow() as uow:
        for camera in heartbeat.cameras:
            uow.cameras.ensure(camera.camera_id)
            report = HealthReport(
                edge_id=heartbeat.edge_id,
                agent_version=heartbeat.agent_version,
                detector=camera.detector,
                embedder=heartbeat.embedder,
                fps_in=camera.fps_in,
                fps_processed=camera.fps_processed,
                frames_dropped=camera.frames_dropped,
                detections_per_minute=camera.detections_per_minute,
                outbox_depth=heartbeat.outbox_depth,
                outbox_oldest_seconds=heartbeat.outbox_oldest_seconds,
                last_error=camera.last_error,
                last_error_at=camera.last_error_at,
                interval_seconds=heartbeat.interval_seconds,
            )
            if uow.camera_health.record(camera.camera_id, report, now):
                recovered.append(camera.camera_id)
        events = [_camera_event(uow, cid, EventType.CAMERA_RECOVERED, now) for cid in recovered]
        uow.commit()
    _announce(runtime, events)
    return HeartbeatOut(cameras=[c.camera_id for c in heartbeat.cameras], recovered=recovered)


def check_stale(runtime: Runtime) -> list[str]:
    """Mark stale the cameras quiet for longer than ``edge_stale_after_seconds`` and raise
    camera.stale for each; the cameras marked now."""
    now = utcnow()
    quiet_since = now - timedelta(seconds=runtime.settings.edge_stale_after_seconds)
    with runtime.uow() as uow:
        marked = [row.camera_id for row in uow.camera_health.mark_stale(quiet_since)]
        events = [_camera_event(uow, cid, EventType.CAMERA_STALE, now) for cid in marked]
        uow.commit()
    for camera_id in marked:
        logger.warning("camera %s is stale: no heartbeat from its edge agent", camera_id)
    _announce(runtime, events)
    return marked


def store_snapshot(runtime: Runtime, camera_id: str, edge_id: str, data: bytes) -> SnapshotOut:
    """Keep ``data`` (a JPEG or WebP still) as the camera's snapshot, in the blob store
    (encrypted like every image when a key is set); the one it replaces is deleted."""
    content_type = image_format(data)  # UnsupportedMediaType for what is no image
    if content_type not in SNAPSHOT_TYPES:
        raise UnsupportedMediaType(f"a snapshot must be JPEG or WebP, not {content_type}")
    pixels = decode_image(data, max_pixels=MAX_SNAPSHOT_PIXELS)  # refuses corrupt images
    height, width = pixels.shape[:2]
    now = utcnow()
    with runtime.uow() as uow:
        uow.cameras.ensure(camera_id)
        key = uow.put_blob(data)
        image = uow.images.get_or_add(key, content_type, width, height, len(data))
        replaced = uow.camera_health.set_snapshot(camera_id, edge_id, image.id, now)
        if replaced is not None:
            for freed in uow.images.delete_unreferenced([replaced]):
                uow.delete_blob_after_commit(freed)
        uow.commit()
    return SnapshotOut(
        camera_id=camera_id, snapshot_at=now, width=width, height=height, size_bytes=len(data)
    )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A camera's latest still."""

    data: bytes
    content_type: str
    taken_at: datetime


def latest_snapshot(runtime: Runtime, camera_id: str) -> Snapshot:
    """The camera's latest snapshot; ``NotFound`` if it has none."""
    with runtime.uow() as uow:
        row = uow.camera_health.get(camera_id)
        if row is None or row.snapshot_image_id is None or row.snapshot_at is None:
            uow.cameras.get(camera_id)  # NotFound for an unknown camera, named so
            raise NotFound(f"camera {camera_id!r} has no snapshot")
        image = uow.images.get(row.snapshot_image_id)
        key, content_type, taken_at = image.sha256, image.content_type, row.snapshot_at
    return Snapshot(runtime.blobs.get(key), content_type, taken_at)


def delete_camera(runtime: Runtime, camera_id: str) -> None:
    """Forget a camera; its detections stay (without a camera), its snapshot goes with it
    (a still may show faces); ``NotFound`` if there is no such camera."""
    with runtime.uow() as uow:
        camera = uow.cameras.get(camera_id)
        row = uow.camera_health.get(camera_id)
        image_id = row.snapshot_image_id if row is not None else None
        uow.cameras.delete(camera)  # its health row goes with it (ON DELETE CASCADE)
        if image_id is not None:
            for freed in uow.images.delete_unreferenced([image_id]):
                uow.delete_blob_after_commit(freed)
        uow.commit()


def with_health(runtime: Runtime, cameras: list[CameraOut]) -> list[CameraStatusOut]:
    """The cameras with their health (``None`` for a camera whose agent never reported)."""
    with runtime.uow() as uow:
        rows = uow.camera_health.of_cameras([camera.id for camera in cameras])
        health = {cid: health_out(runtime, row) for cid, row in rows.items()}
    return [
        CameraStatusOut(**camera.model_dump(), health=health.get(camera.id)) for camera in cameras
    ]


def all_health(runtime: Runtime) -> dict[str, CameraHealthOut]:
    """Every reporting camera's health, by camera id (for /metrics)."""
    with runtime.uow() as uow:
        return {
            row.camera_id: health_out(runtime, row) for row in uow.camera_health.all(MAX_CAMERAS)
        }


def health_out(runtime: Runtime, row: CameraHealth) -> CameraHealthOut:
    """The API form of a health row. Stale as soon as the agent is overdue, even before
    the scheduled check marks it (and raises the event)."""
    overdue = utcnow() - row.reported_at > timedelta(
        seconds=runtime.settings.edge_stale_after_seconds
    )
    has_snapshot = row.snapshot_image_id is not None
    return CameraHealthOut(
        edge_id=row.edge_id,
        agent_version=row.agent_version,
        detector=row.detector,
        embedder=row.embedder,
        fps_in=row.fps_in,
        fps_processed=row.fps_processed,
        frames_dropped=row.frames_dropped,
        detections_per_minute=row.detections_per_minute,
        outbox_depth=row.outbox_depth,
        outbox_oldest_seconds=row.outbox_oldest_seconds,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        interval_seconds=row.interval_seconds,
        reported_at=row.reported_at,
        stale=row.stale or overdue,
        snapshot_at=row.snapshot_at if has_snapshot else None,
        snapshot_url=f"/api/v1/cameras/{row.camera_id}/snapshot" if has_snapshot else None,
    )


def _camera_event(uow: UnitOfWork, camera_id: str, kind: EventType, now: datetime) -> Event:
    zone = uow.zones.zone_of_camera(camera_id)
    return Event(
        id=str(uuid.uuid4()),
        type=kind,
        severity=Severity.WARNING if kind is EventType.CAMERA_STALE else Severity.INFO,
        time=now,
        camera_id=camera_id,
        zone=zone.id if zone is not None else None,
        person_id=None,
        person_name=None,
        category=None,
        unknown_id=None,
        detection_id=None,
        distance=None,
        confidence=None,
        crop_url=None,
    )


def _announce(runtime: Runtime, events: list[Event]) -> None:
    """Hand events to the bus once their change is committed (never before: a rollback
    would leave an event about a state that never was)."""
    for event in events:
        runtime.events.announce(event)
