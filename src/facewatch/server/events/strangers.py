"""Who is a stranger, when ingest stored no identity: sightings of one face share an id.

Unknown clustering gives most unknown detections a stored identity at ingest (events use
it). For those without one, a process keeps the strangers it saw recently in memory: a new
unknown face gets the id of the nearest recent stranger within ``threshold`` (any camera,
so a stranger walking past two cameras keeps one id), or the id of its edge track on the
same camera, or a new id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from facewatch.types import Embedding


@dataclass(slots=True)
class _Stranger:
    unknown_id: str
    embedding: Embedding
    last_seen: datetime


class Strangers:
    """Recent unknown faces, bounded in number and age."""

    def __init__(
        self,
        threshold: Callable[[], float],
        memory: timedelta = timedelta(hours=1),
        max_strangers: int = 1000,
    ) -> None:
        self._threshold = threshold
        self._memory = memory
        self._max = max_strangers
        self._strangers: list[_Stranger] = []
        self._tracks: dict[tuple[str | None, str], tuple[str, datetime]] = {}

    def __len__(self) -> int:
        return len(self._strangers)

    def identify(
        self,
        when: datetime,
        embedding: Embedding | None,
        camera_id: str | None = None,
        track_id: str | None = None,
    ) -> str:
        """The ``unknown_id`` of this sighting (an existing one if it is a recent stranger)."""
        self._forget_before(when - self._memory)
        unknown_id = self._by_track(camera_id, track_id) or self._nearest(embedding)
        unknown_id = unknown_id or new_unknown_id()
        if embedding is not None:
            self._remember(unknown_id, embedding, when)
        if track_id is not None:
            self._tracks[(camera_id, track_id)] = (unknown_id, when)
        return unknown_id

    def _by_track(self, camera_id: str | None, track_id: str | None) -> str | None:
        if track_id is None:
            return None
        known = self._tracks.get((camera_id, track_id))
        return None if known is None else known[0]

    def _nearest(self, embedding: Embedding | None) -> str | None:
        if embedding is None or not self._strangers:
            return None
        # After a switch of the embedding model, the old model's vectors are not comparable.
        alike = [s for s in self._strangers if s.embedding.shape == embedding.shape]
        if not alike:
            return None
        stack = np.stack([s.embedding for s in alike])
        distances = np.linalg.norm(stack - embedding, axis=1)
        best = int(np.argmin(distances))
        return alike[best].unknown_id if distances[best] <= self._threshold() else None

    def _remember(self, unknown_id: str, embedding: Embedding, when: datetime) -> None:
        # The latest sighting replaces the older one: it follows the face as light changes.
        self._strangers = [s for s in self._strangers if s.unknown_id != unknown_id]
        self._strangers.append(_Stranger(unknown_id, embedding, when))
        if len(self._strangers) > self._max:
            self._strangers.sort(key=lambda s: s.last_seen)
            del self._strangers[: len(self._strangers) - self._max]

    def _forget_before(self, moment: datetime) -> None:
        self._strangers = [s for s in self._strangers if s.last_seen >= moment]
        stale = [key for key, (_, seen) in self._tracks.items() if seen < moment]
        for key in stale:
            del self._tracks[key]


def new_unknown_id() -> str:
    """A fresh stranger id: ``unknown-`` and 12 hex digits."""
    return f"unknown-{uuid.uuid4().hex[:12]}"
