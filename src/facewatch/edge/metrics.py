"""Per-camera counters of the edge agent: what came in, what was found, what was sent."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields


@dataclass(slots=True)
class CameraCounts:
    """A snapshot of one camera's counters since the agent started."""

    frames_in: int = 0
    """Frames read from the source (decoded or skipped by the sampler)."""
    frames_sampled: int = 0
    """Frames the sampler kept."""
    frames_dropped: int = 0
    """Sampled frames of a live source dropped because processing lagged behind."""
    frames_still: int = 0
    """Frames skipped by motion gating."""
    frames_processed: int = 0
    """Frames searched for faces."""
    detect_seconds: float = 0.0
    """Time spent detecting, tracking and cutting shots out."""
    candidates: int = 0
    tracks: int = 0
    """Tracks started."""
    shots: int = 0
    """Shots the policy chose to send."""
    queued: int = 0
    """Items put in the outbox."""
    dropped: int = 0
    """Items the full outbox refused."""
    sent: int = 0
    """Items the server acknowledged (replays included)."""
    replayed: int = 0
    """Of those, items the server had already (a retried request whose answer was lost)."""
    rejected: int = 0
    """Items the server refused for good."""
    failed_attempts: int = 0
    payload_bytes: int = 0
    """Bytes of crops or embeddings (and thumbnails) acknowledged by the server."""
    request_bytes: int = 0
    """HTTP request bytes of those deliveries (headers and multipart framing included)."""
    wire_bytes: int = 0
    """``request_bytes`` plus TCP/IP headers: the on-the-wire estimate."""
    faces_stored: int = 0
    """Faces the server found in what was sent and stored."""
    first_shots: int = 0
    """First shots of tracks acknowledged (the ones live alerts are raised from)."""
    first_shot_seconds: float = 0.0
    """Sum of their times from the outbox to the server's acknowledgement."""
    first_shot_seconds_max: float = 0.0
    recognised_on_site: int = 0
    """Mode local: shots matched against the gallery copy on site."""
    alerts: int = 0
    """Mode local: alerts raised on site."""

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


class CameraMetrics:
    """Thread-safe counters of one camera (the camera thread and the uplink thread add)."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self._counts = CameraCounts()
        self._lock = threading.Lock()

    def add(self, **amounts: float) -> None:
        """Add to counters by name: ``metrics.add(frames_in=1, candidates=3)``."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self._counts, name, getattr(self._counts, name) + amount)

    def peak(self, **values: float) -> None:
        """Keep the larger of each counter and the value: ``metrics.peak(x_max=0.4)``."""
        with self._lock:
            for name, value in values.items():
                setattr(self._counts, name, max(getattr(self._counts, name), value))

    def snapshot(self) -> CameraCounts:
        with self._lock:
            return CameraCounts(
                **{f.name: getattr(self._counts, f.name) for f in fields(self._counts)}
            )


def summary_line(camera_id: str, counts: CameraCounts, outbox_depth: int) -> str:
    """One log line of a camera's counters."""
    per_frame = (
        1000 * counts.detect_seconds / counts.frames_processed if counts.frames_processed else 0
    )
    return (
        f"camera {camera_id}: frames in {counts.frames_in}, processed {counts.frames_processed} "
        f"({per_frame:.0f} ms each), dropped {counts.frames_dropped}, still {counts.frames_still}; "
        f"candidates {counts.candidates}, tracks {counts.tracks}, shots {counts.shots}; "
        f"sent {counts.sent} ({counts.payload_bytes / 1024:.1f} KiB payload, "
        f"{counts.wire_bytes / 1024:.1f} KiB on the wire), rejected {counts.rejected}, "
        f"first shots out in {_mean(counts.first_shot_seconds, counts.first_shots):.2f} s "
        f"(max {counts.first_shot_seconds_max:.2f}); outbox {outbox_depth}"
        + (
            f"; recognised on site {counts.recognised_on_site}, alerts {counts.alerts}"
            if counts.recognised_on_site
            else ""
        )
    )


def _mean(total: float, count: int) -> float:
    return total / count if count else 0.0
