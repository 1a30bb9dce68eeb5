"""Frame sources: a video file, a webcam, an RTSP/HTTP stream, or a folder watched for images.

Every source yields ``Frame`` objects in RGB. ``open_source`` is the one factory that turns a
``--source`` string into a source. Live sources (webcams, streams) reconnect with backoff
when they drop; a file source ends at the end of the file. A file played in real time
(``realtime``) delivers its frames at the clip's own pace, as a camera would.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import cv2
import numpy as np

from facewatch.edge.types import Frame
from facewatch.errors import ConfigurationError, FacewatchError
from facewatch.vision.image import load_image

logger = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
_MAX_IMAGE_PIXELS = 40_000_000

KeepFrame = Callable[[float], bool]
"""Asked with a frame's position (s) before it is decoded: should it be kept?"""


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` the sources use (a seam for tests)."""

    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)

    def grab(self) -> bool: ...

    def retrieve(self) -> tuple[bool, Any]: ...

    def get(self, prop_id: int) -> float: ...

    def release(self) -> None: ...


CaptureOpener = Callable[[str | int], Capture]


DECODER_THREADS = 1
"""FFmpeg threads per stream. One: with many cameras on a small box every core already has a
stream's thread to run, and FFmpeg's default (one per core, each with frame buffers) adds
context switches and memory for no throughput."""


def open_capture(target: str | int) -> Capture:
    """A real OpenCV capture: FFmpeg on ``DECODER_THREADS`` threads for files and streams
    (another back-end if FFmpeg cannot open it), the default back-end for a webcam index."""
    if isinstance(target, int):
        return cast(Capture, cv2.VideoCapture(target))
    capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, DECODER_THREADS])
    if capture.isOpened():
        return cast(Capture, capture)
    capture.release()
    return cast(Capture, cv2.VideoCapture(target))


class FrameSource(ABC):
    """Where a camera's frames come from."""

    live: bool = False
    """Frames come at their own pace: the agent drops (and counts) those it cannot keep up with."""
    finite: bool = False
    """The source ends by itself (a file): the agent then drains the outbox and stops."""
    sampled: bool = True
    """The frame sampler applies (a folder's snapshots are each kept instead)."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self._stop = threading.Event()

    @abstractmethod
    def frames(self, keep: KeepFrame | None = None) -> Iterator[Frame]:
        """Frames in order; ``keep`` lets a source skip decoding frames it will drop."""

    def stop(self) -> None:
        """Ask ``frames`` to end soon (from another thread)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()


class VideoFileSource(FrameSource):
    """A video file; ends at the end of the file.

    By default it is read as fast as the agent processes it, and capture times are the
    agent's start time plus the position in the video. With ``realtime`` each frame is
    handed on when its position comes in wall-clock time from the moment the file opened
    (the capture time), so the agent sees the clip as a camera would deliver it and drops
    (and counts) the frames it cannot keep up with: a fair setting for latency figures.
    """

    finite = True

    def __init__(
        self,
        path: Path,
        camera_id: str,
        *,
        started_at: datetime | None = None,
        realtime: bool = False,
        opener: CaptureOpener = open_capture,
    ) -> None:
        super().__init__(camera_id)
        if not path.is_file():
            raise ConfigurationError(f"camera {camera_id}: no such video file: {path}")
        self.path = path
        self.started_at = started_at or datetime.now(UTC)
        self.realtime = realtime
        self.live = realtime  # paced like a camera: the agent keeps only the newest frame
        self._opener = opener

    def frames(self, keep: KeepFrame | None = None) -> Iterator[Frame]:
        capture = self._opener(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise ConfigurationError(f"camera {self.camera_id}: cannot open video {self.path}")
        try:
            frames = _read_frames(capture, self, self._file_time, keep)
            yield from self._paced(frames) if self.realtime else frames
        finally:
            capture.release()

    def _paced(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """Each frame once its position has come, counted from now (the video's start)."""
        start = time.monotonic()
        self.started_at = datetime.now(UTC)
        logger.info(
            "camera %s: playing %s in real time from %s",
            self.camera_id,
            self.path.name,
            self.started_at.isoformat(),
        )
        for frame in frames:
            if self._stop.wait(max(start + frame.position - time.monotonic(), 0.0)):
                return
            yield frame

    def _file_time(self, position: float) -> datetime:
        return self.started_at + timedelta(seconds=position)


class LiveCaptureSource(FrameSource):
    """A webcam (by index) or a network stream; reopened with backoff whenever it drops.

    Capture times are wall-clock times. ``max_reconnects`` (default: forever) bounds the
    attempts in a row that fail to deliver a single frame.
    """

    live = True

    def __init__(
        self,
        target: str | int,
        camera_id: str,
        *,
        opener: CaptureOpener = open_capture,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        max_reconnects: int | None = None,
    ) -> None:
        super().__init__(camera_id)
        self.target = target
        self._opener = opener
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_reconnects = max_reconnects
        self.reconnects = 0
        """How many times the source was reopened after dropping (a metric)."""
        self._started = time.monotonic()

    def frames(self, keep: KeepFrame | None = None) -> Iterator[Frame]:
        failures = 0
        while not self.stopped:
            delivered = yield from self._session(keep)
            failures = 0 if delivered else failures + 1
            if self.stopped:
                return
            if self.max_reconnects is not None and failures > self.max_reconnects:
                raise FacewatchError(
                    f"camera {self.camera_id}: source gave no frame in {failures} attempts"
                )
            self._wait(failures)
            self.reconnects += 1

    def _session(self, keep: KeepFrame | None) -> Generator[Frame, None, bool]:
        """Frames from one opening of the capture; returns whether any frame came."""
        capture = self._opener(self.target)
        delivered = False
        try:
            if not capture.isOpened():
                logger.warning("camera %s: cannot open %s", self.camera_id, self._safe_target)
                return False
            for frame in _read_frames(capture, self, self._wall_time, keep, self._position):
                delivered = True
                yield frame
            logger.warning("camera %s: stream ended or dropped", self.camera_id)
            return delivered
        finally:
            capture.release()

    def _wait(self, failures: int) -> None:
        delay = min(self.backoff_initial * 2 ** max(failures - 1, 0), self.backoff_max)
        logger.info("camera %s: reconnecting in %.1f s", self.camera_id, delay)
        self._stop.wait(delay)

    def _position(self, _capture: Capture, _index: int) -> float:
        return time.monotonic() - self._started

    @staticmethod
    def _wall_time(_position: float) -> datetime:
        return datetime.now(UTC)

    @property
    def _safe_target(self) -> str:
        """The target without credentials (rtsp://user:pass@host hides user:pass)."""
        text = str(self.target)
        scheme, sep, rest = text.partition("://")
        if sep and "@" in rest.split("/", 1)[0]:
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return text


class FolderSource(FrameSource):
    """A folder watched for new images: each file becomes one frame, oldest first.

    Files already there at start are read too. Files are taken once they stop growing
    (same size on two polls), so a half-written JPEG is never read.
    """

    sampled = False

    def __init__(self, folder: Path, camera_id: str, *, poll_interval: float = 0.5) -> None:
        super().__init__(camera_id)
        if not folder.is_dir():
            raise ConfigurationError(f"camera {camera_id}: no such folder: {folder}")
        self.folder = folder
        self.poll_interval = poll_interval
        self._started = time.monotonic()

    def frames(self, keep: KeepFrame | None = None) -> Iterator[Frame]:
        seen: set[Path] = set()
        sizes: dict[Path, int] = {}
        index = 0
        while not self.stopped:
            for path in self._ready_files(seen, sizes):
                seen.add(path)
                frame = self._read(path, index)
                if frame is not None:
                    index += 1
                    yield frame
            self._stop.wait(self.poll_interval)

    def _ready_files(self, seen: set[Path], sizes: dict[Path, int]) -> list[Path]:
        ready: list[tuple[float, Path]] = []
        for path in self.folder.iterdir():
            if path in seen or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            if sizes.get(path) == stat.st_size:
                ready.append((stat.st_mtime, path))
            sizes[path] = stat.st_size
        return [path for _, path in sorted(ready)]

    def _read(self, path: Path, index: int) -> Frame | None:
        try:
            image = load_image(path, max_pixels=_MAX_IMAGE_PIXELS)
        except FacewatchError as exc:
            logger.warning("camera %s: skipping %s: %s", self.camera_id, path.name, exc.message)
            return None
        return Frame(
            camera_id=self.camera_id,
            index=index,
            position=time.monotonic() - self._started,
            captured_at=datetime.now(UTC),
            image=image,
        )


def open_source(spec: str, camera_id: str, *, realtime: bool = False) -> FrameSource:
    """The source a ``--source`` string names: webcam index, stream URL, folder or file.

    ``realtime`` plays a video file at its own frame rate; the other sources already come
    at their own pace.
    """
    if spec.isdigit():
        return LiveCaptureSource(int(spec), camera_id)
    if spec.lower().startswith(STREAM_SCHEMES):
        return LiveCaptureSource(spec, camera_id)
    path = Path(spec).expanduser()
    if path.is_dir():
        return FolderSource(path, camera_id)
    return VideoFileSource(path, camera_id, realtime=realtime)


def _read_frames(
    capture: Capture,
    source: FrameSource,
    timestamp: Callable[[float], datetime],
    keep: KeepFrame | None,
    position_of: Callable[[Capture, int], float] | None = None,
) -> Iterator[Frame]:
    """Grab every frame, decode only the kept ones, until the capture ends or a stop."""
    position_of = position_of or _video_position
    index = 0
    while not source.stopped and capture.grab():
        position = position_of(capture, index)
        if keep is None or keep(position):
            ok, bgr = capture.retrieve()
            if ok and bgr is not None:
                image = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
                yield Frame(source.camera_id, index, position, timestamp(position), image)
        index += 1


def _video_position(capture: Capture, index: int) -> float:
    """Seconds into the video: from the frame rate (exact), else the container's clock."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    if fps and fps > 0:
        return index / fps
    return max(capture.get(cv2.CAP_PROP_POS_MSEC), 0.0) / 1000.0
