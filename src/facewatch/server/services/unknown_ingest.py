"""At ingest: strangers' faces join unknown identities, and "not X" rules overrule a name.

``assign_unknowns`` gives every unknown face of a frame an identity (``detections.unknown_id``):
the one its edge track had on that camera a moment ago, else the nearest identity centroid
within ``unknown_cluster_threshold``, else a new one; two faces of one frame never share one.

The centroids live in a per-process cache (``CentroidCache``), one per database. Each call
reads only the identities changed since the last read (``updated_at``), so identities made,
moved or merged by another replica or by the CLI show up at once; an identity deleted
elsewhere is noticed when a face would join it, and a full reload runs every few minutes.
The read goes back a few seconds before the newest change seen (replicas' clocks differ), so
at a busy time it returns many identities the cache already has: those, at the version
(``updated_at``) it has, are passed over instead of decoded again.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np

from facewatch.gallery.clustering import FloatMatrix, assign_frame, pairwise_distances, running_mean
from facewatch.gallery.matching import assign
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services.recognition import RecognizedFace
from facewatch.store.db import Database
from facewatch.store.embeddings import embedding_from_bytes, embedding_to_bytes
from facewatch.store.models import Detection, UnknownIdentity
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Candidate, Embedding, Match, MatchStatus

logger = logging.getLogger(__name__)

_CLOCK_SLACK = timedelta(seconds=5)
"""Re-read identities changed this long before the newest change seen (replicas' clocks)."""
_FULL_RELOAD_SECONDS = 300.0
_FIRST_CAPACITY = 256
"""Rows of the centroid matrix when its first identity arrives (it doubles when full)."""


class CentroidCache:
    """The centroids of the active (unnamed) identities of one model, kept in memory.

    The centroids are rows of one matrix, changed in place: a face joining an identity
    rewrites its row, a new identity appends one (the matrix doubles when full), a named
    or deleted one is replaced by the last row. So a stranger's face costs one row, not a
    copy of every centroid; ``nearest`` and ``within`` search the matrix under the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: str | None = None
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._matrix: FloatMatrix = np.zeros((0, 0), np.float32)
        self._versions: dict[str, datetime] = {}
        """The ``updated_at`` of each identity as last read from the database."""
        self._watermark: datetime | None = None
        self._loaded_at = 0.0
        self._snapshot: tuple[list[str], FloatMatrix] | None = None

    def refresh(self, uow: UnitOfWork, model: str) -> None:
        """Read what changed in the database since the last call (everything, at times)."""
        with self._lock:
            full = model != self._model or time.monotonic() - self._loaded_at > _FULL_RELOAD_SECONDS
            if full:
                self._model, self._watermark = model, None
                self._empty()
                self._loaded_at = time.monotonic()
            since = None if self._watermark is None else self._watermark - _CLOCK_SLACK
        rows = uow.unknowns.centroids(model, changed_since=since)
        with self._lock:
            for row in rows:
                if self._watermark is None or row.updated_at > self._watermark:
                    self._watermark = row.updated_at
                if self._versions.get(row.unknown_id) == row.updated_at:
                    continue  # read before, unchanged since (every change moves updated_at)
                self._versions[row.unknown_id] = row.updated_at
                if row.active:
                    self._set(row.unknown_id, row.centroid)
                else:
                    self._remove(row.unknown_id)

    def nearest(
        self, faces: FloatMatrix, threshold: float, forbidden: Sequence[Iterable[str]]
    ) -> list[str | None]:
        """``assign_frame`` over the cached identities: the one each face joins, or None."""
        with self._lock:
            if not self._ids:
                return [None] * len(faces)
            blocked = [[self._rows[u] for u in ids if u in self._rows] for ids in forbidden]
            picks = assign_frame(faces, self._matrix[: len(self._ids)], threshold, blocked)
            return [None if pick is None else self._ids[pick] for pick in picks]

    def within(self, probe: FloatMatrix, limit: float) -> list[tuple[str, float]]:
        """The identities whose centroid lies within ``limit`` of ``probe`` (one row)."""
        with self._lock:
            if not self._ids:
                return []
            distances = pairwise_distances(probe, self._matrix[: len(self._ids)])[0]
            near = np.flatnonzero(distances <= limit)
            return [(self._ids[i], float(distances[i])) for i in near.tolist()]

    def snapshot(self) -> tuple[list[str], FloatMatrix]:
        """A copy of the identity ids and their centroids (row ``i`` is ``ids[i]``)."""
        with self._lock:
            if self._snapshot is None:
                size = len(self._ids)
                matrix = self._matrix[:size].copy() if size else np.zeros((0, 0), np.float32)
                self._snapshot = (list(self._ids), matrix)
            return self._snapshot

    # A centroid changed here is not (or not yet) the version read last: the next read of
    # that identity is taken whatever its version, as if it had changed.
    def put(self, unknown_id: str, centroid: Embedding) -> None:
        with self._lock:
            self._set(unknown_id, centroid)
            self._versions.pop(unknown_id, None)

    def drop(self, unknown_ids: Iterable[str]) -> None:
        with self._lock:
            for unknown_id in unknown_ids:
                self._remove(unknown_id)
                self._versions.pop(unknown_id, None)

    def clear(self) -> None:
        """Forget everything: the next call reloads (after a re-clustering)."""
        with self._lock:
            self._model = None
            self._empty()

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    # --- the matrix (called with the lock held) ---------------------------------------
    def _empty(self) -> None:
        self._ids, self._rows, self._versions = [], {}, {}
        self._matrix = np.zeros((0, 0), np.float32)
        self._snapshot = None

    def _set(self, unknown_id: str, centroid: Embedding) -> None:
        self._snapshot = None
        row = self._rows.get(unknown_id)
        if row is None:
            row = len(self._ids)
            if row == len(self._matrix) or self._matrix.shape[1] != len(centroid):
                self._grow(len(centroid))
            self._ids.append(unknown_id)
            self._rows[unknown_id] = row
        self._matrix[row] = centroid

    def _remove(self, unknown_id: str) -> None:
        row = self._rows.pop(unknown_id, None)
        if row is None:
            return
        self._snapshot = None
        last = len(self._ids) - 1
        if row != last:  # the last row takes the freed place
            moved = self._ids[last]
            self._matrix[row] = self._matrix[last]
            self._ids[row] = moved
            self._rows[moved] = row
        self._ids.pop()

    def _grow(self, dim: int) -> None:
        size = len(self._ids)
        if self._matrix.shape[1] != dim and size:
            raise ValueError(f"a {dim}-d centroid among {self._matrix.shape[1]}-d ones")
        grown = np.zeros((max(2 * len(self._matrix), _FIRST_CAPACITY), dim), np.float32)
        if size:
            grown[:size] = self._matrix[:size]
        self._matrix = grown


_caches: weakref.WeakKeyDictionary[Database, CentroidCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def centroid_cache(runtime: Runtime) -> CentroidCache:
    """The centroid cache of this process for the runtime's database."""
    with _caches_lock:
        cache = _caches.get(runtime.db)
        if cache is None:
            cache = _caches[runtime.db] = CentroidCache()
        return cache


# --- assignment -----------------------------------------------------------------------
def assign_unknowns(
    runtime: Runtime,
    uow: UnitOfWork,
    rows: Sequence[Detection],
    forbidden: Sequence[Iterable[str]] = (),
) -> None:
    """Give each unknown face among ``rows`` (one frame's) an unknown identity, in place.

    ``forbidden[i]`` names identities row ``i`` must not join (its "not X" rules).
    """
    picked = [
        (row, blocked)
        for row, blocked in zip(rows, _padded(forbidden, len(rows)), strict=True)
        if _is_stranger(row)
    ]
    if not picked:
        return
    model = runtime.model_id
    cache = centroid_cache(runtime)
    cache.refresh(uow, model)
    faces = [row for row, _ in picked]
    vectors = np.stack([embedding_from_bytes(row.embedding or b"") for row in faces])
    chosen = _by_track(runtime, uow, faces, [set(b) for _, b in picked])
    chosen = _by_distance(runtime, cache, vectors, chosen, [set(b) for _, b in picked])
    for row, vector, unknown_id in zip(faces, vectors, chosen, strict=True):
        identity = _join(uow, cache, model, unknown_id, vector, row.captured_at)
        row.unknown_id = identity.id


def _is_stranger(row: Detection) -> bool:
    return (
        row.person_id is None
        and row.status == MatchStatus.UNKNOWN.value
        and row.embedding is not None
    )


def _padded(forbidden: Sequence[Iterable[str]], n: int) -> list[Iterable[str]]:
    return [*forbidden, *([()] * (n - len(forbidden)))]


def _by_track(
    runtime: Runtime, uow: UnitOfWork, faces: list[Detection], blocked: list[set[str]]
) -> list[str | None]:
    """The identity each face's edge track was given on its camera a moment ago."""
    seconds = runtime.settings.unknown_track_seconds
    chosen: list[str | None] = [None] * len(faces)
    if seconds <= 0:
        return chosen
    for i, row in enumerate(faces):
        if row.track_id is None or row.camera_id is None:
            continue
        since = row.captured_at - timedelta(seconds=seconds)
        found = uow.unknowns.track_identity(row.camera_id, row.track_id, since)
        if found is not None and found not in chosen and found not in blocked[i]:
            chosen[i] = found
    return chosen


def _by_distance(
    runtime: Runtime,
    cache: CentroidCache,
    vectors: FloatMatrix,
    chosen: list[str | None],
    blocked: list[set[str]],
) -> list[str | None]:
    """The nearest identity within the threshold for each face without one yet."""
    rest = [i for i, unknown_id in enumerate(chosen) if unknown_id is None]
    if not rest:
        return chosen
    taken = {unknown_id for unknown_id in chosen if unknown_id is not None}
    threshold = runtime.recognition.cluster_threshold
    picks = cache.nearest(vectors[rest], threshold, [taken | blocked[i] for i in rest])
    result = list(chosen)
    for i, pick in zip(rest, picks, strict=True):
        result[i] = pick
    return result


def _join(
    uow: UnitOfWork,
    cache: CentroidCache,
    model: str,
    unknown_id: str | None,
    vector: Embedding,
    seen_at: datetime,
) -> UnknownIdentity:
    """Add the face to that identity (moving its centroid), or to a new one."""
    identity = uow.unknowns.find(unknown_id) if unknown_id is not None else None
    if identity is None or identity.person_id is not None:
        if unknown_id is not None:  # deleted, merged away or named elsewhere
            cache.drop([unknown_id])
        identity = uow.unknowns.add(model, vector, seen_at)
        cache.put(identity.id, vector)
        return identity
    centroid = running_mean(embedding_from_bytes(identity.centroid), identity.faces, vector)
    identity.centroid = embedding_to_bytes(centroid)
    identity.faces += 1
    identity.first_seen_at = min(identity.first_seen_at, seen_at)
    identity.last_seen_at = max(identity.last_seen_at, seen_at)
    cache.put(identity.id, centroid)
    return identity


# --- "not X" at recognition -----------------------------------------------------------
def respect_exclusions(
    runtime: Runtime, uow: UnitOfWork, faces: list[RecognizedFace]
) -> list[RecognizedFace]:
    """The faces again, with no one named whom an operator said a look-alike is not.

    A face loses candidate P when it is nearer to a face (or stranger) marked "not P" than
    to P's templates; the frame is then decided again without it.
    """
    matches = respect_exclusions_of(
        runtime, uow, [face.face.embedding for face in faces], [face.match for face in faces]
    )
    return [RecognizedFace(f.face, m) for f, m in zip(faces, matches, strict=True)]


def respect_exclusions_of(
    runtime: Runtime,
    uow: UnitOfWork,
    embeddings: Sequence[Embedding | None],
    matches: Sequence[Match],
) -> list[Match]:
    """``respect_exclusions`` for bare embeddings and their verdicts (edge embeddings)."""
    people = {c.person_id for match in matches for c in match.candidates}
    negatives = uow.unknowns.negatives(people, runtime.model_id) if people else {}
    if not negatives:
        return list(matches)
    kept = [_allowed(e, m, negatives) for e, m in zip(embeddings, matches, strict=True)]
    if all(len(k) == len(m.candidates) for k, m in zip(kept, matches, strict=True)):
        return list(matches)
    logger.info("a 'not' rule changed the verdict on a frame")
    return assign(kept, runtime.thresholds)


def _allowed(
    embedding: Embedding | None, match: Match, negatives: dict[int, list[Embedding]]
) -> list[Candidate]:
    if embedding is None:
        return list(match.candidates)
    return [c for c in match.candidates if not _refused(embedding, c, negatives)]


def _refused(
    embedding: Embedding, candidate: Candidate, negatives: dict[int, list[Embedding]]
) -> bool:
    examples = negatives.get(candidate.person_id)
    if not examples:
        return False
    query = np.asarray(embedding, dtype=np.float32)[None, :]
    nearest = float(pairwise_distances(query, np.stack(examples).astype(np.float32)).min())
    return nearest < candidate.distance
