"""What a stranger's face costs the ingest's centroid cache, by the number of identities.

Each unknown face is matched against the centroids of every active unknown identity
(``CentroidCache.nearest``), then joins the nearest one or starts a new one
(``CentroidCache.put``). Measured here, for caches of 1,000 to 100,000 identities of random
128-d centroids, over 300 faces (half near an existing identity, half new):

* ``in place``: the cache as it is (one matrix, rows rewritten or appended in place);
* ``former``: the cache as it was until 2026-12-07 (a dict of centroids, the matrix stacked
  again from it after every change, and an id-to-row dict built per search), re-created
  in this script for the comparison.

    python benchmarks/bench_centroid_cache.py
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from _shared import machine_line
from facewatch.gallery.clustering import FloatMatrix, assign_frame
from facewatch.server.services.unknown_ingest import CentroidCache

SIZES = (1_000, 10_000, 100_000)
FACES = 300
DIM = 128
THRESHOLD = 0.5


class FormerCache:
    """The former cache's costly parts: a dict of centroids stacked again per change."""

    def __init__(self) -> None:
        self._centroids: dict[str, FloatMatrix] = {}
        self._snapshot: tuple[list[str], FloatMatrix] | None = None

    def put(self, unknown_id: str, centroid: FloatMatrix) -> None:
        self._centroids[unknown_id] = centroid
        self._snapshot = None

    def nearest(
        self, faces: FloatMatrix, threshold: float, forbidden: Sequence[Iterable[str]]
    ) -> list[str | None]:
        if self._snapshot is None:
            ids = list(self._centroids)
            self._snapshot = (ids, np.stack([self._centroids[i] for i in ids]).astype(np.float32))
        ids, matrix = self._snapshot
        row_of = {unknown_id: n for n, unknown_id in enumerate(ids)}
        blocked = [[row_of[u] for u in f if u in row_of] for f in forbidden]
        picks = assign_frame(faces, matrix, threshold, blocked)
        return [None if pick is None else ids[pick] for pick in picks]


Cache = CentroidCache | FormerCache


def fill(cache: Cache, centroids: FloatMatrix) -> None:
    for number, centroid in enumerate(centroids):
        cache.put(f"u{number}", centroid)


def faces_for(centroids: FloatMatrix, rng: np.random.Generator) -> FloatMatrix:
    """Half the faces near an existing centroid, half far from all (new identities)."""
    near = centroids[rng.integers(0, len(centroids), FACES // 2)] + rng.normal(
        0, 0.01, (FACES // 2, DIM)
    ).astype(np.float32)
    far = rng.normal(0, 1, (FACES - FACES // 2, DIM)).astype(np.float32) * 3
    faces: FloatMatrix = np.concatenate([near, far]).astype(np.float32)
    return faces


def ingest(cache: Cache, faces: FloatMatrix) -> float:
    """CPU ms per face: find the identity, then join it or start one."""
    started = time.process_time()
    for number, face in enumerate(faces):
        (pick,) = cache.nearest(face[None, :], THRESHOLD, [()])
        cache.put(pick or f"new{number}", face)
    return (time.process_time() - started) * 1000 / len(faces)


def main() -> None:
    rng = np.random.default_rng(11)
    makers: dict[str, Callable[[], Cache]] = {"in place": CentroidCache, "former": FormerCache}
    print("| identities | in place: ms per face | former: ms per face | former / in place |")
    print("|---|---|---|---|")
    for size in SIZES:
        centroids = rng.normal(0, 1, (size, DIM)).astype(np.float32) * 3
        faces = faces_for(centroids, rng)
        cost: dict[str, float] = {}
        for name, make in makers.items():
            cache = make()
            fill(cache, centroids)
            cache.nearest(faces[:1], THRESHOLD, [()])  # the former stacks once here
            cost[name] = ingest(cache, faces)
        print(
            f"| {size:,} | {cost['in place']:.2f} | {cost['former']:.2f} "
            f"| {cost['former'] / cost['in place']:.0f}x |"
        )
    print()
    print(f"Command: `python benchmarks/bench_centroid_cache.py`. Machine: {machine_line()}.")


if __name__ == "__main__":
    main()
