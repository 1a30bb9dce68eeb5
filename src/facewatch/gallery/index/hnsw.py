"""Approximate search for large galleries: a hierarchical navigable small-world graph (hnswlib).

Ids are hnswlib labels. A removed id is only marked deleted in the graph; its slot is
reused by the next new id, so enrolments and removals never need a rebuild. An id added
again after its removal takes its old slot back. A removed vector is overwritten with zeros
first: a marked node keeps its data, which the next ``write`` would otherwise save, and an
erased person's embeddings must not outlive their erasure in a snapshot.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import hnswlib
import numpy as np

from facewatch.gallery.index.base import (
    FloatMatrix,
    IdArray,
    IndexFileError,
    VectorIndex,
    empty_result,
    read_manifest,
)

logger = logging.getLogger(__name__)

_GRAPH_FILE = "hnsw.bin"
_IDS_FILE = "ids.npy"
_MIN_CAPACITY = 1024
_SEED = 100


class HnswIndex(VectorIndex):
    """An HNSW graph over the vectors; search cost grows with log(n).

    ``m`` links per node and ``ef_construction`` set the graph's quality (memory and build
    time); ``ef_search`` (at least ``k``) trades search time for recall.
    """

    kind = "hnsw"

    def __init__(
        self,
        dim: int,
        *,
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 256,
        build_threads: int = -1,
    ) -> None:
        super().__init__(dim)
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.build_threads = build_threads
        self._lock = threading.RLock()
        self._live: set[int] = set()
        self._blank = np.zeros((1, dim), dtype=np.float32)
        self._graph = hnswlib.Index(space="l2", dim=dim)
        self._graph.init_index(
            max_elements=_MIN_CAPACITY,
            M=m,
            ef_construction=ef_construction,
            random_seed=_SEED,
            allow_replace_deleted=True,
        )

    def __len__(self) -> int:
        return len(self._live)

    @property
    def slots(self) -> int:
        """Graph nodes in use, live or marked deleted (memory follows this)."""
        return int(self._graph.get_current_count())

    def add(self, ids: IdArray, vectors: FloatMatrix) -> None:
        ids, vectors = self._check_batch(ids, vectors)
        with self._lock:
            live = np.fromiter((int(i) in self._live for i in ids), dtype=bool, count=len(ids))
            revived = np.fromiter(
                (
                    not is_live and self._revive(int(i))
                    for i, is_live in zip(ids, live, strict=True)
                ),
                dtype=bool,
                count=len(ids),
            )
            # Known labels (live or revived) are updated in their own slot; new labels take
            # a deleted slot if there is one (replacing a deleted label that way would leave
            # that label's old slot behind under the same name).
            known = live | revived
            if known.any():
                self._graph.add_items(vectors[known], ids[known], num_threads=1)
            if (~known).any():
                self._reserve(int((~known).sum()))
                self._graph.add_items(
                    vectors[~known],
                    ids[~known],
                    num_threads=self.build_threads,
                    replace_deleted=True,
                )
            self._live.update(int(i) for i in ids)

    def remove(self, ids: Iterable[int]) -> int:
        removed = 0
        with self._lock:
            for template_id in {int(i) for i in ids}:
                if template_id in self._live:
                    self._graph.add_items(self._blank, [template_id], num_threads=1)
                    self._graph.mark_deleted(template_id)
                    self._live.discard(template_id)
                    removed += 1
        return removed

    def search(self, queries: FloatMatrix, k: int) -> tuple[FloatMatrix, IdArray]:
        queries = self._check(queries)
        distances, found = empty_result(queries.shape[0], k)
        with self._lock:
            top = min(k, len(self._live))
            if top == 0 or queries.shape[0] == 0:
                return distances, found
            self._graph.set_ef(max(self.ef_search, top))
            labels, squared = self._query(queries, top)
        width = labels.shape[1]
        distances[:, :width] = np.sqrt(np.maximum(squared, 0.0))
        found[:, :width] = labels.astype(np.int64)
        return distances, found

    def items(self) -> tuple[IdArray, FloatMatrix]:
        with self._lock:
            ids = np.fromiter(self._live, dtype=np.int64, count=len(self._live))
            if not ids.shape[0]:
                return ids, np.empty((0, self.dim), dtype=np.float32)
            vectors = np.asarray(self._graph.get_items(ids), dtype=np.float32)
        return ids, vectors

    def write(self, folder: Path) -> None:
        with self._lock:
            self._graph.save_index(str(folder / _GRAPH_FILE))
            ids = np.fromiter(self._live, dtype=np.int64, count=len(self._live))
        np.save(folder / _IDS_FILE, ids)
        self._write_manifest(
            folder, m=self.m, ef_construction=self.ef_construction, ef_search=self.ef_search
        )

    @classmethod
    def read(cls, folder: Path, dim: int, *, ef_search: int | None = None) -> HnswIndex:
        """An index saved by ``write``."""
        manifest = read_manifest(folder)
        index = cls(
            dim,
            m=int(manifest["m"]),
            ef_construction=int(manifest["ef_construction"]),
            ef_search=int(ef_search or manifest["ef_search"]),
        )
        # A fresh hnswlib object: loading into the initialised one warns on stdout.
        index._graph = hnswlib.Index(space="l2", dim=dim)
        try:
            index._graph.load_index(str(folder / _GRAPH_FILE), allow_replace_deleted=True)
            ids = np.load(folder / _IDS_FILE, allow_pickle=False)
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexFileError(f"cannot read the HNSW index in {folder}: {exc}") from exc
        index._live = {int(i) for i in ids}
        return index

    def _revive(self, label: int) -> bool:
        """Take back the deleted slot of ``label`` if the graph still has it."""
        try:
            self._graph.unmark_deleted(label)
        except RuntimeError:
            return False
        return True

    def _reserve(self, new: int) -> None:
        capacity = int(self._graph.get_max_elements())
        needed = self.slots + new
        if needed > capacity:
            grown = max(needed, capacity * 2)
            logger.debug("growing the HNSW graph from %d to %d slots", capacity, grown)
            self._graph.resize_index(grown)

    def _query(self, queries: FloatMatrix, top: int) -> tuple[np.ndarray, np.ndarray]:
        """hnswlib's answer; rows it cannot fill (deleted nodes nearby) ask for fewer."""
        while True:
            try:
                labels, squared = self._graph.knn_query(queries, k=top, num_threads=1)
            except RuntimeError:
                if top == 1:
                    raise
                top = max(1, top // 2)
                continue
            return labels, squared
