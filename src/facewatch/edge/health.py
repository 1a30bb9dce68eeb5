"""The agent's health on the server: a heartbeat with each camera's figures, and stills.

    camera threads ──counters (CameraMetrics)──┐
                   ──latest frame (FrameTap)───┤  (the tap keeps frames only if stills are on)
    uplink, cameras ──errors (ErrorLog)────────┼──▶ HealthReporter thread ──▶ HealthClient
    outbox ──depth, oldest item────────────────┘      every health.interval: a heartbeat
                                                      every snapshots.interval: one still
                                                      per camera (off by default)

The heartbeat (``POST /api/v1/edge/heartbeat``, JSON) carries, per camera, the frame rates
in and processed and the detections per minute since the previous heartbeat, the frames
dropped since start, the detector and the last error; and for the agent its version, its
embedder, and its outbox's depth and the age of its oldest item. One goes at start and one
at stop. The server marks a camera stale when its heartbeats stop.

A still (``POST /api/v1/edge/cameras/{camera}/snapshot``) is a JPEG of the camera's latest
frame, scaled to ``snapshots.width``. With ``snapshots.enabled`` off (the default) the tap
keeps no frame and no request carries one: a site whose frames must not leave sends none.

Sending never raises: a failed heartbeat is logged and noted as the last error, and the next
one goes at its time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import numpy as np
import numpy.typing as npt

from facewatch import __version__
from facewatch.edge.config import HealthConfig, SnapshotConfig
from facewatch.edge.metrics import CameraCounts, CameraMetrics
from facewatch.edge.outbox import Outbox
from facewatch.edge.types import Frame
from facewatch.edge.uplink import agent_client
from facewatch.types import RGBImage
from facewatch.wire import OUTBOX_DEPTH_HEADER

logger = logging.getLogger(__name__)

HEARTBEAT_PATH = "/api/v1/edge/heartbeat"
SNAPSHOT_PATH = "/api/v1/edge/cameras/{camera_id}/snapshot"
MAX_ERROR_LENGTH = 500
"""The server keeps the last error up to this many characters."""
_TIMEOUT = 10.0
_TICK = 0.5
"""Seconds between two looks at what is due (cheap: a clock read and a few comparisons)."""


class ErrorLog:
    """The last error of each camera and of the agent as a whole (the uplink's); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: dict[str | None, tuple[str, datetime]] = {}

    def note(self, message: str, camera_id: str | None = None) -> None:
        """Remember ``message`` as the last error of ``camera_id`` (None: the whole agent)."""
        text = " ".join(message.split())[:MAX_ERROR_LENGTH]  # one line, as the server keeps it
        with self._lock:
            self._errors[camera_id] = (text, datetime.now(UTC))

    def last(self, camera_id: str) -> tuple[str, datetime] | None:
        """The newer of the camera's own last error and the agent's."""
        with self._lock:
            found = [e for e in (self._errors.get(camera_id), self._errors.get(None)) if e]
        return max(found, key=lambda error: error[1]) if found else None


class FrameTap:
    """The latest frame of each camera, for its next still; keeps nothing when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._latest: dict[str, Frame] = {}

    def offer(self, frame: Frame) -> None:
        """Called by a camera thread with each frame it handles (a reference, not a copy)."""
        if not self.enabled:
            return
        with self._lock:
            self._latest[frame.camera_id] = frame

    def take(self, camera_id: str) -> Frame | None:
        """The camera's latest frame since the last ``take``, if there is one."""
        with self._lock:
            return self._latest.pop(camera_id, None)


def encode_still(image: RGBImage, width: int, quality: int) -> bytes:
    """A JPEG of ``image`` no wider than ``width``."""
    height, current = image.shape[:2]
    still: npt.NDArray[np.generic] = image
    if current > width:
        size = (width, max(1, round(height * width / current)))
        still = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    bgr = np.ascontiguousarray(still[:, :, ::-1])
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return bytes(encoded.tobytes())


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """What the heartbeat says of a camera besides its counters."""

    detector: str
    metrics: CameraMetrics


@dataclass(slots=True)
class _Sample:
    at: float
    counts: CameraCounts


class HealthMonitor:
    """Turns the cameras' counters, the outbox and the error log into heartbeats."""

    def __init__(
        self,
        edge_id: str,
        cameras: Mapping[str, CameraInfo],
        outbox: Outbox,
        errors: ErrorLog,
        *,
        interval: float,
        embedder: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.edge_id = edge_id
        self.cameras = cameras
        self.outbox = outbox
        self.errors = errors
        self.interval = interval
        self._embedder = embedder
        self._clock = clock
        now = clock()
        self._previous = {cid: _Sample(now, CameraCounts()) for cid in cameras}

    def heartbeat(self) -> dict[str, object]:
        """The JSON body of a heartbeat; its rates cover the time since the previous one."""
        depth, oldest = self._outbox()
        return {
            "edge_id": self.edge_id,
            "agent_version": __version__,
            "embedder": self._embedder(),
            "interval_seconds": self.interval,
            "outbox_depth": depth,
            "outbox_oldest_seconds": oldest,
            "cameras": [self._camera(cid, info) for cid, info in self.cameras.items()],
        }

    def _camera(self, camera_id: str, info: CameraInfo) -> dict[str, object]:
        now, counts = self._clock(), info.metrics.snapshot()
        before = self._previous[camera_id]
        self._previous[camera_id] = _Sample(now, counts)
        elapsed = max(now - before.at, 1e-3)

        def rate(name: str) -> float:
            change = float(getattr(counts, name) - getattr(before.counts, name))
            return round(max(change, 0.0) / elapsed, 3)

        error = self.errors.last(camera_id)
        return {
            "camera_id": camera_id,
            "fps_in": rate("frames_in"),
            "fps_processed": rate("frames_processed"),
            "frames_dropped": counts.frames_dropped,
            "detections_per_minute": round(60 * rate("candidates"), 3),
            "detector": info.detector,
            "last_error": error[0] if error else None,
            "last_error_at": error[1].isoformat() if error else None,
        }

    def _outbox(self) -> tuple[int, float | None]:
        oldest = self.outbox.peek(1)
        if not oldest:
            return 0, None
        age = max(time.time() - oldest[0].queued_at, 0.0)
        return self.outbox.depth, round(age, 3)


class HealthClient:
    """HTTP to the server's health routes, with the agent's key (scope ingest)."""

    def __init__(
        self,
        server: str,
        api_key: str,
        *,
        edge_id: str,
        verify_tls: bool = True,
        ca_file: Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.edge_id = edge_id
        self._client = agent_client(
            server,
            api_key,
            edge_id=edge_id,
            timeout=_TIMEOUT,
            verify_tls=verify_tls,
            ca_file=ca_file,
            transport=transport,
        )

    def send_heartbeat(self, body: Mapping[str, object]) -> str | None:
        """POST a heartbeat; None if the server took it, else why not. Like every request
        of the agent it carries the outbox depth header too (the server's edge metrics)."""
        depth = body.get("outbox_depth")
        headers = {OUTBOX_DEPTH_HEADER: str(depth)} if isinstance(depth, int) else None
        request = self._client.build_request(
            "POST", HEARTBEAT_PATH, json=dict(body), headers=headers
        )
        return self._send(request)

    def send_still(self, camera_id: str, jpeg: bytes) -> str | None:
        """POST a still of ``camera_id``; None if the server took it, else why not."""
        request = self._client.build_request(
            "POST",
            SNAPSHOT_PATH.format(camera_id=camera_id),
            files={"image": ("snapshot.jpg", jpeg, "image/jpeg")},
            data={"edge_id": self.edge_id},
        )
        return self._send(request)

    def close(self) -> None:
        self._client.close()

    def _send(self, request: httpx.Request) -> str | None:
        path = request.url.path
        try:
            response = self._client.send(request)
        except httpx.HTTPError as exc:
            return f"{path}: {type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        return f"{path}: HTTP {response.status_code}: {_detail(response)}"


class HealthReporter:
    """A thread that sends a heartbeat every ``health.interval`` seconds (and at start and
    stop) and, if enabled, a still of each camera every ``snapshots.interval`` seconds."""

    def __init__(
        self,
        monitor: HealthMonitor,
        client: HealthClient,
        tap: FrameTap,
        health: HealthConfig,
        snapshots: SnapshotConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.monitor = monitor
        self.client = client
        self.tap = tap
        self.health = health
        self.snapshots = snapshots
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-health", daemon=True)
        self._next_still = {camera_id: 0.0 for camera_id in monitor.cameras}
        self.heartbeats = 0
        self.stills = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then send a last heartbeat with the figures up to now (the
        caller closes the client)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.beat()

    def beat(self) -> bool:
        """Send one heartbeat now; whether the server took it."""
        problem = self.client.send_heartbeat(self.monitor.heartbeat())
        if problem is not None:
            logger.warning("heartbeat not delivered: %s", problem)
            self.monitor.errors.note(f"heartbeat not delivered: {problem}")
            return False
        self.heartbeats += 1
        return True

    def _run(self) -> None:
        next_beat = self._clock()
        while not self._stop.is_set():
            try:
                now = self._clock()
                if now >= next_beat:
                    next_beat = now + self.health.interval
                    self.beat()
                if self.snapshots.enabled:
                    self._stills(now)
            except Exception:  # the thread boundary: health must never stop the agent
                logger.exception("health report failed")
            self._stop.wait(_TICK)

    def _stills(self, now: float) -> None:
        for camera_id, due in self._next_still.items():
            if now < due:
                continue
            frame = self.tap.take(camera_id)
            if frame is None:
                continue  # no frame yet: the first still goes with the first frame
            self._next_still[camera_id] = now + self.snapshots.interval
            jpeg = encode_still(frame.image, self.snapshots.width, self.snapshots.quality)
            problem = self.client.send_still(camera_id, jpeg)
            if problem is None:
                self.stills += 1
            else:
                logger.warning("still of camera %s not delivered: %s", camera_id, problem)
                self.monitor.errors.note(f"still not delivered: {problem}", camera_id)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail) if detail is not None else response.reason_phrase
