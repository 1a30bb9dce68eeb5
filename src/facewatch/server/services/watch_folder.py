"""A watched folder: cameras that upload snapshots (FTP, SMB, a synced bucket) instead of
streaming drop image files there, and each new one is ingested as a detection.

A file is read once its size and modification time stayed the same between two scans, so
a file still being written is never read half. Each is ingested with the idempotency key
``watch:<sha256 of the bytes>``: a restarted watcher, or a copy of the same photo, stores
nothing twice. The camera is the file's first sub-folder (``DIR/gate-1/0001.jpg`` is camera
``gate-1``) or, for files directly in the folder, the one given. With no capture time sent,
the photo's EXIF time (and GPS position) is used.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facewatch.errors import FacewatchError, InvalidInput
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services.ingest import IngestRequest, ingest

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_.:-]+")


@dataclass(frozen=True, slots=True)
class WatchResult:
    """What became of one file."""

    path: Path
    camera_id: str
    faces: int = 0
    unknown_ids: tuple[str, ...] = ()
    replayed: bool = False
    error: str | None = None


def camera_for(folder: Path, path: Path, default: str) -> str:
    """The camera of a file: its first sub-folder under ``folder``, else ``default``."""
    parts = path.relative_to(folder).parts
    if len(parts) < 2:
        return default
    name = _NOT_IN_ID.sub("-", parts[0]).strip("-._:") or default
    return name[:64]


class FolderWatcher:
    """Scans a folder for new image files and ingests each once it is complete."""

    def __init__(self, runtime: Runtime, folder: Path, camera_id: str | None = None) -> None:
        if not folder.is_dir():
            raise InvalidInput(f"no such folder: {folder}")
        self._runtime = runtime
        self._folder = folder
        self._default_camera = camera_id or camera_for(folder.parent, folder, "snapshots")
        self._done: dict[Path, tuple[int, int]] = {}
        self._pending: dict[Path, tuple[int, int]] = {}

    def scan_once(self) -> list[WatchResult]:
        """Ingest the files that are complete since the last scan."""
        results = []
        for path in sorted(self._images()):
            state = _state(path)
            if state is None or self._done.get(path) == state:
                continue
            if self._pending.get(path) != state:
                self._pending[path] = state  # seen for the first time, or still growing
                continue
            del self._pending[path]
            self._done[path] = state
            results.append(self._ingest(path))
        return results

    def run(
        self,
        stop: threading.Event,
        poll_seconds: float = 2.0,
        on_result: Callable[[WatchResult], None] | None = None,
    ) -> None:
        """Scan every ``poll_seconds`` until ``stop`` is set."""
        logger.info("watching %s (every %.1f s)", self._folder, poll_seconds)
        while not stop.is_set():
            try:
                for result in self.scan_once():
                    if on_result is not None:
                        on_result(result)
            except Exception:  # one bad scan must not end the watch
                logger.exception("scan of %s failed", self._folder)
            stop.wait(poll_seconds)

    def _images(self) -> list[Path]:
        return [
            p for p in self._folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        ]

    def _ingest(self, path: Path) -> WatchResult:
        camera_id = camera_for(self._folder, path, self._default_camera)
        try:
            data = path.read_bytes()
            request = IngestRequest(
                image=data,
                camera_id=camera_id,
                captured_at=None,
                exif_time=True,
                idempotency_key=f"watch:{hashlib.sha256(data).hexdigest()}",
            )
            out = ingest(self._runtime, request)
        except (FacewatchError, OSError) as exc:
            message = exc.message if isinstance(exc, FacewatchError) else str(exc)
            logger.warning("%s not ingested: %s", path, message)
            return WatchResult(path, camera_id, error=message)
        ids = tuple(d.unknown_id for d in out.detections if d.unknown_id is not None)
        return WatchResult(path, camera_id, len(out.detections), ids, out.replayed)


def _state(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:  # removed between listing and now
        return None
    return stat.st_size, stat.st_mtime_ns
