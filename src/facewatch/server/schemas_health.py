"""Wire types of the edge agents' health: the heartbeat, a camera's health, snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from facewatch.server.schemas import CameraId, CameraOut, Text

MAX_CAMERAS_PER_HEARTBEAT = 200
_MAX_COUNT = 2_147_483_647
"""The largest count a database integer column holds."""
Version = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,40}$")]
ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")]


class CameraReport(BaseModel):
    """One camera's figures since the previous heartbeat."""

    model_config = ConfigDict(extra="forbid")

    camera_id: CameraId
    fps_in: float = Field(ge=0, le=1000, description="Frames read from the source per second.")
    fps_processed: float = Field(ge=0, le=1000, description="Frames searched per second.")
    frames_dropped: int = Field(
        ge=0, le=_MAX_COUNT, description="Frames dropped since the agent started."
    )
    detections_per_minute: float = Field(
        ge=0, le=1_000_000, description="Face candidates found per minute."
    )
    detector: ModelName = Field(description="The candidate detector (hog, haar, onnx).")
    last_error: Text | None = Field(
        default=None, description="The last error this camera (or the uplink) met."
    )
    last_error_at: datetime | None = None


class HeartbeatIn(BaseModel):
    """``POST /api/v1/edge/heartbeat``: an agent's health, one entry per camera."""

    model_config = ConfigDict(extra="forbid")

    edge_id: CameraId = Field(description="The agent's edge id.")
    agent_version: Version
    embedder: ModelName | None = Field(
        default=None, description="Model id the agent embeds with; null when it sends crops."
    )
    interval_seconds: float = Field(
        gt=0, le=3600, description="Seconds until the agent's next heartbeat."
    )
    outbox_depth: int = Field(ge=0, le=_MAX_COUNT, description="Items waiting in the outbox.")
    outbox_oldest_seconds: float | None = Field(
        default=None, ge=0, le=10 * 365 * 86400, description="Age of the oldest item waiting."
    )
    cameras: list[CameraReport] = Field(min_length=1, max_length=MAX_CAMERAS_PER_HEARTBEAT)

    @model_validator(mode="after")
    def _one_entry_per_camera(self) -> HeartbeatIn:
        ids = [camera.camera_id for camera in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("each camera may appear once in a heartbeat")
        return self


class HeartbeatOut(BaseModel):
    """What the server kept of a heartbeat."""

    cameras: list[str] = Field(description="The cameras whose health was recorded.")
    recovered: list[str] = Field(
        description="Of those, the cameras that were stale until now (camera.recovered)."
    )


class SnapshotOut(BaseModel):
    """The snapshot the server now shows for a camera."""

    camera_id: str
    snapshot_at: datetime
    width: int
    height: int
    size_bytes: int


class CameraHealthOut(BaseModel):
    """What the camera's edge agent said in its last heartbeat (docs/edge.md, Health)."""

    edge_id: str
    agent_version: str
    detector: str = Field(description="The agent's candidate detector (hog, haar, onnx).")
    embedder: str | None = Field(description="Model id of the agent's embedder; null: crops.")
    fps_in: float = Field(description="Frames read from the source per second.")
    fps_processed: float = Field(description="Frames searched for faces per second.")
    frames_dropped: int = Field(description="Frames dropped since the agent started.")
    detections_per_minute: float = Field(description="Face candidates found per minute.")
    outbox_depth: int = Field(description="Items waiting in the agent's outbox.")
    outbox_oldest_seconds: float | None = Field(
        description="Age of the oldest item waiting in the outbox; null when empty."
    )
    last_error: str | None
    last_error_at: datetime | None
    interval_seconds: float = Field(description="Seconds between the agent's heartbeats.")
    reported_at: datetime = Field(description="When the server received the last heartbeat.")
    stale: bool = Field(
        description="No heartbeat for longer than edge_stale_after_seconds (camera.stale)."
    )
    snapshot_at: datetime | None = Field(description="When the latest snapshot was received.")
    snapshot_url: str | None = Field(
        description="GET it with a read-scoped key: the camera's latest still (JPEG)."
    )


class CameraStatusOut(CameraOut):
    """A camera with its edge agent's last health report."""

    health: CameraHealthOut | None = Field(
        default=None, description="The edge agent's last report; null if it never reported."
    )
