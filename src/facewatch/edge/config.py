"""The edge agent's settings: an ``edge.yaml`` file and command-line flags.

Every model forbids unknown keys, so a misspelt key fails at start-up with a message naming
it (``cameras.0.fsp: extra inputs are not permitted``) instead of being ignored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from facewatch.errors import ConfigurationError

Mode = Literal["crops", "embeddings", "local"]
EdgeEmbedder = Literal["auto", "edgeface", "dlib"]
Policy = Literal["best", "every-frame"]
DetectorKind = Literal["hog", "haar", "onnx"]
ImageFormat = Literal["jpeg", "webp"]
DropPolicy = Literal["oldest", "newest"]

CAMERA_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
"""The server's camera id pattern: the agent refuses ids the server would refuse."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorConfig(_Strict):
    """The fast candidate detector of one camera."""

    kind: DetectorKind = Field(
        default="onnx",
        description=(
            "onnx (the packaged Ultra-Light RFB-640, at the downscaled frame's own size: "
            "99.3% of the faces dlib's MMOD finds in the test clips at ~7 ms a frame), hog "
            "(dlib: 80.3% at ~50 ms) or haar (OpenCV). benchmarks/results.md, issue 20."
        ),
    )
    width: int = Field(
        default=960,
        ge=160,
        le=3840,
        description=(
            "Frames wider than this are scaled down to it before detection (boxes are "
            "scaled back). At 960 px the onnx detector finds the ~74 px faces of a 1080p "
            "street scene in ~7 ms of CPU a frame (HOG, upsampled once: ~50-170 ms)."
        ),
    )
    upsample: int = Field(
        default=1, ge=0, le=2, description="HOG only: times the downscaled frame is upsampled."
    )
    threshold: float = Field(
        default=-0.5,
        ge=-2.0,
        le=2.0,
        description=(
            "HOG only: offset added to dlib's decision threshold; negative finds more "
            "candidates (false ones are cheap: the server re-detects)."
        ),
    )
    min_neighbors: int = Field(
        default=4, ge=1, le=20, description="Haar only: neighbours a detection needs."
    )
    min_size: int = Field(
        default=20, ge=8, le=400, description="Haar only: smallest face in downscaled pixels."
    )
    onnx_path: Path | None = Field(
        default=None,
        description="ONNX only: an Ultra-Light detector file (default: the packaged RFB-640).",
    )
    onnx_score: float = Field(
        default=0.5, gt=0, lt=1, description="ONNX only: lowest face score kept."
    )


class MotionConfig(_Strict):
    """Motion gating: detection only where the frame changed, and a whole pass now and then."""

    enabled: bool = Field(
        default=True,
        description=(
            "Search only the regions that changed since the last sampled frame (still "
            "frames: no detection at all), and the whole frame every keepalive seconds."
        ),
    )
    threshold: float = Field(
        default=0.002,
        gt=0,
        lt=1,
        description=(
            "Fraction of pixels (on a 320 px wide grey thumbnail) that must change for a "
            "frame to count as moving."
        ),
    )
    keepalive: float = Field(
        default=2.0,
        gt=0,
        description=(
            "Seconds between whole-frame passes, still or not: a person standing still is "
            "still seen, and a track carried while nothing moved is checked."
        ),
    )
    margin: float = Field(
        default=0.05,
        ge=0,
        le=0.5,
        description=(
            "Padding around each changed region, as a fraction of the frame's width (a head "
            "that alone moved lies wholly inside its region)."
        ),
    )
    max_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Regions covering more of the frame than this: the whole frame is searched.",
    )


class CameraConfig(_Strict):
    """One camera: where its frames come from and how they are sampled and searched."""

    id: str = Field(pattern=CAMERA_ID, description="Camera id sent to the server.")
    source: str = Field(
        min_length=1,
        description=(
            "A webcam index (0), a video file, an rtsp:// or http(s):// stream, or a folder "
            "watched for new images."
        ),
    )
    fps: float | None = Field(
        default=None, gt=0, le=60, description="Frames processed per second (default: agent's)."
    )
    detector: DetectorConfig = Field(
        default_factory=DetectorConfig, description="The fast candidate detector."
    )
    motion: MotionConfig = Field(default_factory=MotionConfig, description="Motion gating.")
    realtime: bool = Field(
        default=False,
        description=(
            "Video files only: play the file at its own frame rate, as a camera delivers "
            "frames (the agent drops and counts the frames it cannot keep up with), instead "
            "of as fast as it is processed. For latency measurements and demos."
        ),
    )


class CropConfig(_Strict):
    """How a face shot becomes an image on the wire."""

    margin: float = Field(
        default=0.4, ge=0, le=1.5, description="Margin on every side, as a fraction of the box."
    )
    min_size: int = Field(
        default=30, ge=8, description="Faces whose box is smaller (short side, px) are dropped."
    )
    max_size: int = Field(
        default=150, ge=32, le=1024, description="Crops longer than this (px) are scaled down."
    )
    format: ImageFormat = Field(default="jpeg", description="jpeg or webp.")
    quality: int = Field(default=80, ge=1, le=95, description="Encoder quality, 1..95.")
    thumbnail_size: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Embeddings mode: long side of a thumbnail sent with each vector; 0: none.",
    )


class BestShotConfig(_Strict):
    """Policy ``best``: which shots of a track are worth sending."""

    min_quality: float = Field(
        default=0.05, ge=0, le=1, description="Shots scoring lower are never sent."
    )
    improvement: float = Field(
        default=0.5,
        ge=0,
        description="A new shot is sent when its quality beats the last sent by this fraction.",
    )
    min_gain: float = Field(
        default=0.1, ge=0, le=1, description="...and by at least this much in absolute score."
    )
    max_shots: int = Field(
        default=3, ge=1, le=50, description="Most shots sent per track, final one included."
    )
    confirm_frames: int = Field(
        default=2,
        ge=1,
        le=10,
        description=(
            "Usable sightings a track needs before its first shot goes out (the best of them). "
            "2 drops one-frame blips of the low-threshold detector (hands, textures) for one "
            "frame of delay (~0.17 s at 6 fps)."
        ),
    )


class TrackerConfig(_Strict):
    """How a face of a new frame is matched to a track."""

    max_offset: float = Field(
        default=1.5,
        gt=0,
        le=10,
        description=(
            "Farthest a face's centre may be from its track (predicted or last seen), in face "
            "widths. At 6 fps a walker near the camera moves ~1.4 face widths a frame."
        ),
    )
    max_scale_change: float = Field(
        default=1.5, gt=1, le=4, description="Largest size ratio between a face and its track."
    )
    max_missed: int = Field(
        default=5, ge=1, le=100, description="Processed frames a track survives without a face."
    )


def default_outbox_path() -> Path:
    """``edge-outbox.db`` in the data directory (FACEWATCH_DATA_DIR, else the user's), not
    in whichever folder the agent was started from: a restart elsewhere finds its backlog."""
    data_dir = os.environ.get("FACEWATCH_DATA_DIR") or user_data_dir("facewatch", appauthor=False)
    return Path(data_dir).expanduser().resolve() / "edge-outbox.db"


class OutboxConfig(_Strict):
    """The durable queue on disk."""

    path: Path = Field(
        default_factory=default_outbox_path,
        description="SQLite file of the outbox (default: edge-outbox.db in the data directory).",
    )
    max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description="Most payload bytes kept; past it the drop policy applies (counted, logged).",
    )
    drop: DropPolicy = Field(
        default="oldest",
        description="When full: drop the oldest queued items, or refuse the newest ones.",
    )


class UplinkConfig(_Strict):
    """HTTP to the server."""

    timeout: float = Field(
        default=30.0, gt=0, description="Seconds per request (a batch is recognised whole)."
    )
    batch_size: int = Field(
        default=16,
        ge=1,
        le=100,
        description=(
            "Items per request to POST /api/v1/edge/batch (HTTP and multipart framing paid "
            "once per batch); 1 sends each item on its own to the plain ingest routes."
        ),
    )
    backoff_initial: float = Field(
        default=0.5, gt=0, description="First wait (s) after a failure; doubles each time."
    )
    backoff_max: float = Field(default=30.0, gt=0, description="Longest wait (s) between tries.")
    verify_tls: bool = Field(
        default=True,
        description="Check the server's TLS certificate (turn off only to debug: anyone "
        "on the path could then read the faces and the API key).",
    )
    ca_file: Path | None = Field(
        default=None,
        description=(
            "PEM file of the CA(s) that signed the server's certificate (a private CA or a "
            "self-signed server); unset: the system's trusted CAs."
        ),
    )
    heartbeat_interval: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds between health reports (edge id, outbox depth) while nothing is sent, "
            "so the server's /metrics shows an idle agent's empty outbox."
        ),
    )


class HealthConfig(_Strict):
    """The agent's heartbeat: its figures per camera, sent to the server."""

    interval: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description=(
            "Seconds between heartbeats (POST /api/v1/edge/heartbeat): frame rates, dropped "
            "frames, detections per minute, outbox depth and age, last error, version and "
            "models per camera. One goes at start and one at stop. The server marks a camera "
            "stale after its edge_stale_after_seconds (90 s: three heartbeats) of silence."
        ),
    )


class SnapshotConfig(_Strict):
    """A still of each camera for the dashboard; off unless turned on."""

    enabled: bool = Field(
        default=False,
        description=(
            "Send a still of each camera every `interval` seconds. Off by default: a site "
            "whose frames must not leave it sends none (only faces, or only embeddings)."
        ),
    )
    interval: float = Field(
        default=300.0, ge=10, le=86_400, description="Seconds between two stills of a camera."
    )
    width: int = Field(
        default=640, ge=160, le=1920, description="Stills wider than this are scaled down."
    )
    quality: int = Field(default=75, ge=1, le=95, description="JPEG quality, 1..95.")


class AlertConfig(_Strict):
    """Mode local: where alerts raised on site go (always a log line as well)."""

    unknown_faces: bool = Field(
        default=True, description="Alert on faces that match nobody (once per track)."
    )
    known_faces: bool = Field(
        default=True, description="Alert on recognised people (once per track and person)."
    )
    webhook_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="POST each alert as JSON to this URL (a local siren, a door controller).",
    )
    mqtt_host: str | None = Field(
        default=None, description="Publish each alert as JSON to this MQTT broker."
    )
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="MQTT broker port.")
    mqtt_topic: str = Field(
        default="facewatch/edge/alerts",
        min_length=1,
        description="MQTT topic; the camera id is appended: <topic>/<camera>.",
    )
    timeout: float = Field(
        default=2.0, gt=0, le=60, description="Seconds per webhook call or MQTT connect."
    )


class LocalConfig(_Strict):
    """Mode local: the gallery copy kept on site, and the alerts raised from it."""

    gallery_path: Path = Field(
        default=Path("edge-gallery.npz"),
        description=(
            "File of the gallery copy (embeddings, names, categories; no photos), written "
            "with owner-only permissions, so a restart while offline still recognises."
        ),
    )
    sync_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between checks for a newer gallery (a check costs one request).",
    )
    alerts: AlertConfig = Field(default_factory=AlertConfig, description="Local alerts.")


class EdgeConfig(_Strict):
    """Everything ``facewatch edge run`` needs."""

    server: str = Field(
        pattern=r"^https?://", description="Base URL of the Facewatch server (http or https)."
    )
    api_key: str = Field(min_length=1, repr=False, description="An API key with scope ingest.")
    edge_id: str = Field(
        default="edge", pattern=CAMERA_ID, description="This agent's name, sent with each item."
    )
    mode: Mode = Field(default="crops", description="crops, embeddings or local.")
    embedder: EdgeEmbedder = Field(
        default="auto",
        description=(
            "Modes embeddings and local: the model that embeds on site. auto: the model the "
            "server matches with (read from its /readyz at start; else the gallery copy's, "
            "else edgeface). A model the server does not match with is refused (409 "
            "model_mismatch): the agent then sends crops until it is restarted."
        ),
    )
    policy: Policy = Field(default="best", description="best or every-frame.")
    fps: float = Field(default=6.0, gt=0, le=60, description="Default frames processed a second.")
    cameras: list[CameraConfig] = Field(min_length=1, description="The cameras of this site.")
    crops: CropConfig = Field(default_factory=CropConfig, description="Crop encoding.")
    best_shot: BestShotConfig = Field(default_factory=BestShotConfig, description="Policy best.")
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="Tracking.")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Durable queue.")
    uplink: UplinkConfig = Field(default_factory=UplinkConfig, description="HTTP uplink.")
    drain_timeout: float = Field(
        default=60.0,
        ge=0,
        description="Seconds to wait for the outbox to empty when a file source ends or on stop.",
    )
    metrics_interval: float = Field(
        default=30.0, gt=0, description="Seconds between metric log lines."
    )
    health: HealthConfig = Field(default_factory=HealthConfig, description="Heartbeats.")
    snapshots: SnapshotConfig = Field(
        default_factory=SnapshotConfig, description="Stills of each camera (off by default)."
    )
    local: LocalConfig = Field(default_factory=LocalConfig, description="Mode local.")
    record: Path | None = Field(
        default=None,
        description=(
            "Write the processed frames with coloured face boxes to this .mp4 (with several "
            "cameras, one file each, named <stem>-<camera>.mp4)."
        ),
    )
    show: bool = Field(
        default=False,
        description="Show the processed frames with coloured boxes in a window (a desktop).",
    )

    @model_validator(mode="after")
    def _check(self) -> EdgeConfig:
        ids = [camera.id for camera in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("camera ids must be unique")
        if self.mode == "local" and self.crops.thumbnail_size:
            raise ValueError("mode local sends no image: leave crops.thumbnail_size at 0")
        return self

    def camera_fps(self, camera: CameraConfig) -> float:
        """The sampling rate of ``camera``: its own, or the agent's default."""
        return camera.fps if camera.fps is not None else self.fps

    def record_path(self, camera: CameraConfig) -> Path | None:
        """Where ``--record`` writes ``camera``'s frames (None: not recorded)."""
        if self.record is None or len(self.cameras) == 1:
            return self.record
        return self.record.with_name(f"{self.record.stem}-{camera.id}{self.record.suffix}")


def load_edge_config(path: Path | None, overrides: dict[str, Any]) -> EdgeConfig:
    """The config from ``path`` (if any) with command-line ``overrides`` on top.

    ``overrides`` may hold top-level keys and ``camera`` (a one-camera dict from ``--source``
    and ``--camera-id``), which replaces the file's cameras. Raises ``ConfigurationError``
    naming the first bad key.
    """
    data = _read_yaml(path) if path is not None else {}
    camera = overrides.pop("camera", None)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        elif value is not None:
            data[key] = value
    if camera is not None:
        data["cameras"] = [camera]
    try:
        return EdgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, path)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigurationError(f"{path} must hold a mapping of settings")
    return loaded


def _describe(exc: ValidationError, path: Path | None) -> str:
    """One line naming the first bad key: ``edge.yaml: cameras.0.fps: ...``."""
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "settings"
    message = re.sub(r"^Value error, ", "", first["msg"])
    where = f"{path}: " if path is not None else ""
    return f"{where}{key}: {message}"
