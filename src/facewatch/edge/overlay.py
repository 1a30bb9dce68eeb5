"""``--record out.mp4`` and ``--show``: processed frames with face boxes coloured by result.

green + name   the face was recognised
blue           a face nobody enrolled matched (unknown; uncertain shows the name with "?")
red            a candidate in which the server found no face
yellow         pending: no result yet (not sent yet, or the answer has not come back)

A track's colour comes from the server's answers in modes crops and embeddings (mapped back
by the track id each item carries) and from the on-site verdict in mode local. Frames are
drawn when processed, so a track is yellow until its first answer arrives.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

from facewatch.edge.types import Frame, TrackedFace
from facewatch.errors import ConfigurationError

logger = logging.getLogger(__name__)


class Verdict(StrEnum):
    """What is known of a track, weakest first."""

    PENDING = "pending"
    NO_FACE = "no_face"
    UNKNOWN = "unknown"
    UNCERTAIN = "uncertain"
    KNOWN = "known"


_RANK = {verdict: rank for rank, verdict in enumerate(Verdict)}
_BGR = {
    Verdict.PENDING: (0, 215, 255),
    Verdict.NO_FACE: (0, 0, 255),
    Verdict.UNKNOWN: (255, 64, 0),
    Verdict.UNCERTAIN: (255, 64, 0),
    Verdict.KNOWN: (0, 200, 0),
}


@dataclass(frozen=True, slots=True)
class TrackResult:
    verdict: Verdict
    name: str | None = None


class TrackResults:
    """The best result heard so far per track of one camera (written by the uplink thread
    or the camera thread, read when drawing). A track named once stays named."""

    def __init__(self) -> None:
        self._results: dict[int, TrackResult] = {}
        self._lock = threading.Lock()

    def note(self, track_id: int, result: TrackResult) -> None:
        with self._lock:
            held = self._results.get(track_id)
            if held is None or _RANK[result.verdict] >= _RANK[held.verdict]:
                self._results[track_id] = result

    def get(self, track_id: int) -> TrackResult:
        with self._lock:
            return self._results.get(track_id, TrackResult(Verdict.PENDING))

    def snapshot(self) -> dict[int, TrackResult]:
        with self._lock:
            return dict(self._results)


def verdict_of(status: str) -> Verdict:
    """The colour class of a server or local status (``known``, ``uncertain``, ``unknown``)."""
    try:
        return Verdict(status)
    except ValueError:
        return Verdict.UNKNOWN


def draw(frame: Frame, faces: list[TrackedFace], results: TrackResults) -> np.ndarray:
    """The frame as a BGR image with each face's box and label."""
    image = cv2.cvtColor(np.ascontiguousarray(frame.image), cv2.COLOR_RGB2BGR)
    thickness = max(2, image.shape[1] // 640)
    for face in faces:
        result = results.get(face.track_id)
        colour = _BGR[result.verdict]
        box = face.box
        cv2.rectangle(image, (box.left, box.top), (box.right, box.bottom), colour, thickness)
        label = _label(face.track_id, result)
        origin = (box.left, max(box.top - 6, 12))
        scale = max(0.5, image.shape[1] / 1920)
        cv2.putText(
            image, label, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA
        )
    return image


def _label(track_id: int, result: TrackResult) -> str:
    if result.verdict is Verdict.KNOWN and result.name:
        return result.name
    if result.verdict is Verdict.UNCERTAIN and result.name:
        return f"{result.name}?"
    return f"#{track_id}"


class FrameRecorder:
    """Writes drawn frames to an .mp4 (``mp4v``) at the camera's sampled rate."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            height, width = image.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")  # type: ignore[attr-defined]
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (width, height))
            if not self._writer.isOpened():
                raise ConfigurationError(f"cannot write a video to {self.path}")
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            logger.info("recorded %s frames to %s", self.frames, self.path)


class Display:
    """One window per camera (``--show``). OpenCV windows belong to one thread: camera
    threads hand their newest frame over, and the agent's main loop shows them."""

    def __init__(self) -> None:
        self._latest: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def offer(self, camera_id: str, image: np.ndarray) -> None:
        with self._lock:
            self._latest[camera_id] = image

    def pump(self) -> None:
        """Show the newest frame of each camera (call from the main thread)."""
        with self._lock:
            latest, self._latest = self._latest, {}
        for camera_id, image in latest.items():
            cv2.imshow(f"facewatch {camera_id}", image)
        cv2.waitKey(1)

    def close(self) -> None:
        cv2.destroyAllWindows()


def check_display() -> None:
    """Fail fast, in one line, when ``--show`` cannot open a window here."""
    info = cv2.getBuildInformation()
    gui = next((line for line in info.splitlines() if line.strip().startswith("GUI:")), "")
    if gui.split(":", 1)[-1].strip().upper() in {"", "NONE"}:
        raise ConfigurationError(
            "--show needs OpenCV with a GUI, but this install is opencv-python-headless "
            "(no windows); use --record out.mp4, or install opencv-python instead"
        )
    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if sys.platform.startswith("linux") and no_display:
        raise ConfigurationError("--show needs a desktop: DISPLAY is not set")
