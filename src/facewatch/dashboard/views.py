"""Pure helpers that shape service results for the pages (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from facewatch.server.schemas import DetectionOut


@dataclass(frozen=True, slots=True)
class Visit:
    """A stay in view of one camera: consecutive detections there, first to last."""

    camera_id: str | None
    first_seen: datetime
    last_seen: datetime
    detections: int


def trail(detections: Iterable[DetectionOut]) -> list[Visit]:
    """The cameras a person passed, oldest first, consecutive sightings at one camera merged."""
    visits: list[Visit] = []
    for detection in sorted(detections, key=lambda d: (d.captured_at, d.id)):
        last = visits[-1] if visits else None
        if last is not None and last.camera_id == detection.camera_id:
            visits[-1] = Visit(
                last.camera_id, last.first_seen, detection.captured_at, last.detections + 1
            )
        else:
            visits.append(
                Visit(detection.camera_id, detection.captured_at, detection.captured_at, 1)
            )
    return visits


def newest_first(
    pages: Iterable[Sequence[DetectionOut]], offset: int, limit: int
) -> list[DetectionOut]:
    """One page, newest first, of detections merged from several newest-first lists.

    Each list must hold at least its first ``offset + limit`` rows for the page to be exact.
    """
    merged = sorted(
        (d for page in pages for d in page), key=lambda d: (d.captured_at, d.id), reverse=True
    )
    return merged[offset : offset + limit]


@dataclass(frozen=True, slots=True)
class Pager:
    """Offset paging for a list page: where the previous and next pages start."""

    offset: int
    limit: int
    total: int

    @property
    def previous(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    @property
    def next(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def first_shown(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_shown(self) -> int:
        return min(self.offset + self.limit, self.total)
