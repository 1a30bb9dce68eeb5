"""Exact search while the gallery is small, the HNSW graph once it grows past a threshold."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from facewatch.gallery.index.base import FloatMatrix, IdArray, VectorIndex
from facewatch.gallery.index.exact import ExactIndex

logger = logging.getLogger(__name__)


class AdaptiveIndex(VectorIndex):
    """Delegates to an exact index up to ``threshold`` vectors and to an ANN index above.

    The switch happens inside the ``add`` that crosses the threshold (the graph is built
    from the exact index's vectors), and back to exact when removals bring the size under
    half the threshold, so a gallery hovering at the threshold does not flip back and forth.
    """

    def __init__(
        self,
        dim: int,
        threshold: int,
        make_ann: Callable[[], VectorIndex],
        inner: VectorIndex | None = None,
    ) -> None:
        super().__init__(dim)
        self.threshold = threshold
        self._make_ann = make_ann
        self._lock = threading.RLock()
        self._inner: VectorIndex = inner if inner is not None else ExactIndex(dim)

    @property
    def kind(self) -> str:  # type: ignore[override]
        """The kind of the index in use now."""
        return self._inner.kind

    @property
    def inner(self) -> VectorIndex:
        """The index in use now."""
        return self._inner

    def __len__(self) -> int:
        return len(self._inner)

    def add(self, ids: IdArray, vectors: FloatMatrix) -> None:
        with self._lock:
            self._inner.add(ids, vectors)
            if isinstance(self._inner, ExactIndex) and len(self._inner) > self.threshold:
                self._switch(self._make_ann())

    def remove(self, ids: Iterable[int]) -> int:
        with self._lock:
            removed = self._inner.remove(ids)
            if not isinstance(self._inner, ExactIndex) and len(self._inner) < self.threshold // 2:
                self._switch(ExactIndex(self.dim))
            return removed

    def search(self, queries: FloatMatrix, k: int) -> tuple[FloatMatrix, IdArray]:
        with self._lock:
            inner = self._inner
        return inner.search(queries, k)

    def items(self) -> tuple[IdArray, FloatMatrix]:
        return self._inner.items()

    def write(self, folder: Path) -> None:
        self._inner.write(folder)

    def _switch(self, target: VectorIndex) -> None:
        ids, vectors = self._inner.items()
        logger.info(
            "gallery index: %s -> %s at %d vectors", self._inner.kind, target.kind, len(ids)
        )
        if ids.shape[0]:
            target.add(ids, vectors)
        self._inner = target
