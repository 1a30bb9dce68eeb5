"""Camera health: the latest heartbeat of each camera's edge agent, staleness, snapshots."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from facewatch.store.models import CameraHealth


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What one heartbeat says about one camera (checked by the API's schema)."""

    edge_id: str
    agent_version: str
    detector: str
    embedder: str | None
    fps_in: float
    fps_processed: float
    frames_dropped: int
    detections_per_minute: float
    outbox_depth: int
    outbox_oldest_seconds: float | None
    last_error: str | None
    last_error_at: datetime | None
    interval_seconds: float


class CameraHealthRepository:
    """Reads and writes the ``camera_health`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, camera_id: str, report: HealthReport, now: datetime) -> bool:
        """Keep ``report`` as the camera's latest; True if the camera was stale until now.

        The stale flag is cleared by a conditional UPDATE, so of several replicas taking a
        heartbeat of a stale camera at once exactly one sees it come back.
        """
        came_back = self._clear_stale(camera_id)
        values = {**_fields(report), "reported_at": now}
        statement = self._insert().values(camera_id=camera_id, stale=False, **values)
        statement = statement.on_conflict_do_update(
            index_elements=[CameraHealth.camera_id], set_=values
        )
        self._session.execute(statement)
        self._session.expire_all()  # rows loaded before now are out of date
        return came_back

    def get(self, camera_id: str) -> CameraHealth | None:
        """The camera's health row, if its agent ever reported."""
        return self._session.get(CameraHealth, camera_id)

    def of_cameras(self, camera_ids: Collection[str]) -> dict[str, CameraHealth]:
        """The health rows of these cameras, by camera id (cameras never reported: absent)."""
        if not camera_ids:
            return {}
        rows = self._session.scalars(
            select(CameraHealth).where(CameraHealth.camera_id.in_(list(camera_ids)))
        )
        return {row.camera_id: row for row in rows}

    def all(self, limit: int) -> list[CameraHealth]:
        """Up to ``limit`` health rows, by camera id."""
        statement = select(CameraHealth).order_by(CameraHealth.camera_id).limit(limit)
        return list(self._session.scalars(statement))

    def mark_stale(self, quiet_since: datetime) -> list[CameraHealth]:
        """Mark stale every camera not stale yet whose last heartbeat is older than
        ``quiet_since``; the rows marked now (each is marked by one caller only)."""
        statement = (
            update(CameraHealth)
            .where(CameraHealth.stale.is_(False), CameraHealth.reported_at < quiet_since)
            .values(stale=True)
            .returning(CameraHealth.camera_id)
        )
        marked = list(self._session.scalars(statement))
        self._session.expire_all()
        return [row for row in (self.get(camera_id) for camera_id in marked) if row is not None]

    def set_snapshot(self, camera_id: str, edge_id: str, image_id: int, at: datetime) -> int | None:
        """Make image ``image_id`` the camera's snapshot; the id of the image it replaces.

        A snapshot that comes before the camera's first heartbeat gets a row of its own,
        with no figures yet (its heartbeat fills them in).
        """
        row = self.get(camera_id) or self._add_empty(camera_id, edge_id, at)
        previous = row.snapshot_image_id
        row.snapshot_image_id = image_id
        row.snapshot_at = at
        self._session.flush()
        return previous if previous != image_id else None

    def _add_empty(self, camera_id: str, edge_id: str, now: datetime) -> CameraHealth:
        # ON CONFLICT DO NOTHING: a heartbeat of the same camera may insert it meanwhile.
        statement = self._insert().values(
            camera_id=camera_id,
            edge_id=edge_id,
            agent_version="",
            detector="",
            fps_in=0.0,
            fps_processed=0.0,
            frames_dropped=0,
            detections_per_minute=0.0,
            outbox_depth=0,
            interval_seconds=0.0,
            reported_at=now,
            stale=False,
        )
        self._session.execute(statement.on_conflict_do_nothing())
        row = self.get(camera_id)
        assert row is not None  # inserted here, or by the request that won
        return row

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        return insert(CameraHealth)

    def _clear_stale(self, camera_id: str) -> bool:
        statement = (
            update(CameraHealth)
            .where(CameraHealth.camera_id == camera_id, CameraHealth.stale.is_(True))
            .values(stale=False)
            .returning(CameraHealth.camera_id)
        )
        return self._session.scalar(statement) is not None


def _fields(report: HealthReport) -> dict[str, object]:
    return {
        "edge_id": report.edge_id,
        "agent_version": report.agent_version,
        "detector": report.detector,
        "embedder": report.embedder,
        "fps_in": report.fps_in,
        "fps_processed": report.fps_processed,
        "frames_dropped": report.frames_dropped,
        "detections_per_minute": report.detections_per_minute,
        "outbox_depth": report.outbox_depth,
        "outbox_oldest_seconds": report.outbox_oldest_seconds,
        "last_error": report.last_error,
        "last_error_at": report.last_error_at,
        "interval_seconds": report.interval_seconds,
    }
