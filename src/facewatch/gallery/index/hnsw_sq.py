"""Approximate search in less memory: an HNSW graph over 8-bit codes, re-ranked exactly.

faiss's ``IndexHNSWSQ`` keeps each vector as one byte per dimension (a quarter of float32)
and walks its graph with those codes. The float32 vectors stay on disk (``VectorFile``):
the graph's best candidates are read back and re-ranked by their exact distance, so the
distances returned are exact and only the candidate list is approximate.

faiss's graph cannot remove a node. Slots (graph node numbers, also rows of the vector
file) are therefore append-only: removing or replacing an id turns its slot into a
tombstone, which searches skip (a bitmap of live slots filters the graph's results), and
once tombstones pass a fraction of the slots a background thread rebuilds the graph from
the live vectors, then swaps it in with the changes made meanwhile.

Until ``train_size`` vectors have been added there is nothing to train the quantiser on:
the vectors wait in an exact index, searched by brute force.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np

from facewatch.gallery.index.base import (
    FloatMatrix,
    IdArray,
    IndexFileError,
    VectorIndex,
    empty_result,
    read_manifest,
)
from facewatch.gallery.index.exact import ExactIndex
from facewatch.gallery.index.vector_file import VectorFile

logger = logging.getLogger(__name__)

# faiss's bundled stubs lack much of the SWIG API (search parameters, SQ enums): untyped here.
faiss: Any = _faiss

_GRAPH_FILE = "graph.faiss"
_SLOTS_FILE = "slot_ids.npy"
_VECTORS_FILE = "vectors.npy"
_IDS_FILE = "ids.npy"
_TRAIN_SAMPLE = 65_536
_ADD_BATCH = 65_536
_RANGE_MARGIN = 0.05
"""Each dimension's 8-bit range is the trained min..max widened by this fraction each side,
so later vectors slightly outside it are not clipped."""
_SEED = 100


class HnswSqIndex(VectorIndex):
    """HNSW over 8-bit scalar-quantised vectors (faiss), the ``rerank`` best re-ranked exactly.

    ``m``, ``ef_construction`` and ``ef_search`` mean what they mean for ``HnswIndex``;
    ``rerank`` is how many candidates (at least ``k``) the graph proposes for the exact
    re-ranking; ``compact_fraction`` and ``compact_min`` say how many tombstones trigger a
    rebuild (in a background thread; it holds a second graph until it swaps, so budget
    about twice the graph's memory for it); ``vector_dir`` holds the scratch file of
    float32 vectors (default: the system temporary folder; it must be on disk, not tmpfs,
    for the memory saving to be real).
    """

    kind = "hnsw_sq8"

    def __init__(
        self,
        dim: int,
        *,
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 256,
        rerank: int = 64,
        train_size: int = 1024,
        compact_fraction: float = 0.2,
        compact_min: int = 1024,
        vector_dir: Path | None = None,
        build_threads: int = 0,
    ) -> None:
        super().__init__(dim)
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.rerank = rerank
        self.train_size = train_size
        self.compact_fraction = compact_fraction
        self.compact_min = compact_min
        self.vector_dir = vector_dir
        self.build_threads = build_threads
        self._lock = threading.RLock()
        self._pending: ExactIndex | None = ExactIndex(dim)
        self._graph: Any = None
        self._store: VectorFile | None = None
        self._slot_ids: IdArray = np.empty(0, dtype=np.int64)
        self._live_bits = np.empty(0, dtype=np.uint8)
        self._slot_of: dict[int, int] = {}
        self._compactor: threading.Thread | None = None
        self._compacting = threading.Lock()  # one rebuild at a time: slots renumber

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending) if self._pending is not None else len(self._slot_of)

    @property
    def slots(self) -> int:
        """Graph nodes, live or tombstones (the graph's memory follows this)."""
        with self._lock:
            return 0 if self._graph is None else int(self._graph.ntotal)

    @property
    def trained(self) -> bool:
        """Whether the graph is in use (else the vectors wait in an exact index)."""
        return self._pending is None

    # --- changes ------------------------------------------------------------------------
    def add(self, ids: IdArray, vectors: FloatMatrix) -> None:
        ids, vectors = self._check_batch(ids, vectors)
        with self._lock:
            if self._pending is not None:
                self._pending.add(ids, vectors)
                if len(self._pending) >= self.train_size:
                    self._leave_pending(self._pending)
                return
            self._bury(ids)
            self._append(ids, vectors)
            self._compact_if_due()

    def remove(self, ids: Iterable[int]) -> int:
        with self._lock:
            if self._pending is not None:
                return self._pending.remove(ids)
            removed = self._bury(np.fromiter({int(i) for i in ids}, dtype=np.int64))
            self._compact_if_due()
            return removed

    def compact(self) -> None:
        """Rebuild the graph from the live vectors, dropping the tombstones.

        The build runs without the lock (searches and changes go on), then the changes
        made meanwhile are applied to the new graph and it replaces the old one.
        """
        with self._compacting:
            self._compact()

    def _compact(self) -> None:
        with self._lock:
            if self._pending is not None:
                return
            if len(self._slot_of) < self.train_size:
                self._enter_pending()
                return
            store, known = self._store, int(self._graph.ntotal)
            slot_ids = self._slot_ids[:known].copy()
        assert store is not None
        kept = np.flatnonzero(slot_ids >= 0)
        graph, new_store = self._build_from(store, kept)
        with self._lock:
            self._swap_in(graph, new_store, slot_ids[kept], kept, known)

    def wait_for_compaction(self, timeout: float | None = None) -> None:
        """Block until a background rebuild, if one runs, has finished."""
        compactor = self._compactor
        if compactor is not None:
            compactor.join(timeout)

    # --- queries ------------------------------------------------------------------------
    def search(self, queries: FloatMatrix, k: int) -> tuple[FloatMatrix, IdArray]:
        queries = self._check(queries)
        distances, found = empty_result(queries.shape[0], k)
        with self._lock:
            if self._pending is not None:
                return self._pending.search(queries, k)
            top = min(k, len(self._slot_of))
            if top == 0 or queries.shape[0] == 0:
                return distances, found
            width = min(max(top, self.rerank), len(self._slot_of))
            # Only live slots are returned; tombstones still serve as stepping stones.
            live = faiss.IDSelectorBitmap(int(self._graph.ntotal), faiss.swig_ptr(self._live_bits))
            params = faiss.SearchParametersHNSW(sel=live, efSearch=max(self.ef_search, width))
            _, labels = self._graph.search(queries, width, params=params)
            for row, (query, slots) in enumerate(zip(queries, labels, strict=True)):
                slots = slots[slots >= 0]
                exact = self._distances(query, slots)
                order = np.argsort(exact, kind="stable")[:top]
                distances[row, : order.shape[0]] = exact[order]
                found[row, : order.shape[0]] = self._slot_ids[slots[order]]
        return distances, found

    def items(self) -> tuple[IdArray, FloatMatrix]:
        with self._lock:
            if self._pending is not None:
                return self._pending.items()
            assert self._store is not None
            live = np.flatnonzero(self._slot_ids[: self._graph.ntotal] >= 0)
            return self._slot_ids[live].copy(), self._store.read_sorted(live)

    def drop_cache(self) -> None:
        """Evict the float32 vectors from the page cache (to measure a cold search)."""
        with self._lock:
            if self._store is not None:
                self._store.drop_cache()

    # --- snapshots ----------------------------------------------------------------------
    def write(self, folder: Path) -> None:
        with self._lock:
            if self._pending is not None:
                ids, vectors = self._pending.items()
                np.save(folder / _IDS_FILE, ids)
                np.save(folder / _VECTORS_FILE, vectors)
            else:
                assert self._store is not None
                faiss.write_index(self._graph, str(folder / _GRAPH_FILE))
                np.save(folder / _SLOTS_FILE, self._slot_ids[: self._graph.ntotal])
                self._store.write_npy(folder / _VECTORS_FILE)
            self._write_manifest(
                folder,
                trained=self._pending is None,
                m=self.m,
                ef_construction=self.ef_construction,
                ef_search=self.ef_search,
                rerank=self.rerank,
                train_size=self.train_size,
            )

    @classmethod
    def read(cls, folder: Path, dim: int, **settings: Any) -> HnswSqIndex:
        """An index saved by ``write``; ``settings`` override the saved search parameters."""
        manifest = read_manifest(folder)
        saved = {
            key: int(manifest[key])
            for key in ("m", "ef_construction", "ef_search", "rerank", "train_size")
        }
        index = cls(dim, **{**saved, **settings})
        if not manifest.get("trained"):
            ids, vectors = _load_arrays(folder, _IDS_FILE, _VECTORS_FILE)
            if ids.shape[0]:
                index.add(ids, vectors)
            return index
        try:
            graph = faiss.read_index(str(folder / _GRAPH_FILE))  # already the concrete type
            slot_ids = np.load(folder / _SLOTS_FILE, allow_pickle=False)
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexFileError(f"cannot read the HNSW-SQ index in {folder}: {exc}") from exc
        store = VectorFile.read_npy(folder / _VECTORS_FILE, dim, index.vector_dir)
        if not isinstance(graph, faiss.IndexHNSWSQ) or graph.d != dim:
            raise IndexFileError(f"{folder / _GRAPH_FILE} is not an HNSW-SQ graph of {dim}")
        if not graph.ntotal == slot_ids.shape[0] == len(store):
            raise IndexFileError(f"the HNSW-SQ index in {folder} is inconsistent")
        graph.hnsw.efConstruction = index.ef_construction
        index._install(graph, store, slot_ids.astype(np.int64))
        return index

    # --- internals ----------------------------------------------------------------------
    def _append(self, ids: IdArray, vectors: FloatMatrix) -> None:
        """New slots at the end of the graph and the vector file (caller holds the lock)."""
        assert self._store is not None
        first = self._store.append(vectors)
        self._add_to_graph(self._graph, vectors)
        self._grow(first + ids.shape[0])
        slots = np.arange(first, first + ids.shape[0])
        self._slot_ids[slots] = ids
        self._set_live(slots, True)
        self._slot_of.update(zip(ids.tolist(), slots.tolist(), strict=True))

    def _bury(self, ids: IdArray) -> int:
        """Turn the slots of the ids present into tombstones; returns how many there were."""
        slots = [s for s in (self._slot_of.pop(int(i), None) for i in ids) if s is not None]
        if slots:
            dead = np.array(slots, dtype=np.int64)
            self._slot_ids[dead] = -1
            self._set_live(dead, False)
        return len(slots)

    def _compact_if_due(self) -> None:
        dead = int(self._graph.ntotal) - len(self._slot_of)
        if dead < max(self.compact_min, self.compact_fraction * int(self._graph.ntotal)):
            return
        if self._compactor is not None and self._compactor.is_alive():
            return
        logger.info("HNSW-SQ index: rebuilding without %d tombstones", dead)
        self._compactor = threading.Thread(
            target=self._compact_in_background, name="hnsw-sq-compaction", daemon=True
        )
        self._compactor.start()

    def _compact_in_background(self) -> None:
        # One build thread (OpenMP settings are per thread): searches keep the other cores.
        faiss.omp_set_num_threads(1)
        try:
            self.compact()
        except Exception:  # a thread boundary: log, keep serving from the old graph
            logger.exception("HNSW-SQ index: the rebuild failed")

    def _build_from(self, store: VectorFile, slots: IdArray) -> tuple[Any, VectorFile]:
        """A new graph and vector file holding ``store``'s rows ``slots`` (sorted), in order."""
        rng = np.random.default_rng(_SEED)
        sample = slots[np.sort(rng.permutation(slots.shape[0])[:_TRAIN_SAMPLE])]
        graph = self._new_graph(store.read_sorted(sample))
        new_store = VectorFile(self.dim, self.vector_dir)
        try:
            for piece in store.chunks(slots):
                vectors = store.read_sorted(piece)
                new_store.append(vectors)
                self._add_to_graph(graph, vectors)
        except BaseException:
            new_store.close()
            raise
        return graph, new_store

    def _swap_in(
        self, graph: Any, store: VectorFile, ids: IdArray, old_slots: IdArray, known: int
    ) -> None:
        """Install a rebuilt graph, then replay what changed since its build began.

        Slots are never reused, so an old slot still holding its id means the id did not
        change; a tombstone there means it was removed or replaced; slots past ``known``
        were added during the build.
        """
        assert self._store is not None
        old_store, old_slot_ids = self._store, self._slot_ids
        later = known + np.flatnonzero(old_slot_ids[known : self._graph.ntotal] >= 0)
        later_vectors = old_store.read_sorted(later)
        self._install(graph, store, ids.copy())
        changed = old_slot_ids[old_slots] != ids
        self._bury(ids[changed])
        if later.shape[0]:
            self._append(old_slot_ids[later], later_vectors)
        old_store.close()
        logger.info(
            "HNSW-SQ index rebuilt: %d vectors, %d changed during the rebuild",
            len(self._slot_of),
            int(changed.sum()) + later.shape[0],
        )

    def _install(self, graph: Any, store: VectorFile, slot_ids: IdArray) -> None:
        self._graph, self._store, self._pending = graph, store, None
        self._slot_ids = slot_ids
        self._live_bits = np.packbits(slot_ids >= 0, bitorder="little")
        live = np.flatnonzero(slot_ids >= 0)
        self._slot_of = dict(zip(slot_ids[live].tolist(), live.tolist(), strict=True))

    def _leave_pending(self, pending: ExactIndex) -> None:
        ids, vectors = pending.items()
        store = VectorFile(self.dim, self.vector_dir)
        self._install(self._new_graph(vectors), store, np.empty(0, dtype=np.int64))
        self._append(ids, vectors)
        logger.info("HNSW-SQ index: quantiser trained on %d vectors", ids.shape[0])

    def _enter_pending(self) -> None:
        ids, vectors = self.items()
        if self._store is not None:
            self._store.close()
        self._graph, self._store = None, None
        self._slot_ids, self._slot_of = np.empty(0, np.int64), {}
        self._live_bits = np.empty(0, np.uint8)
        self._pending = ExactIndex(self.dim)
        if ids.shape[0]:
            self._pending.add(ids, vectors)

    def _new_graph(self, sample: FloatMatrix) -> Any:
        graph = faiss.IndexHNSWSQ(self.dim, faiss.ScalarQuantizer.QT_8bit, self.m)
        graph.hnsw.efConstruction = self.ef_construction
        storage = faiss.downcast_index(graph.storage)
        storage.sq.rangestat_arg = _RANGE_MARGIN
        graph.train(np.ascontiguousarray(sample, dtype=np.float32))
        return graph

    def _add_to_graph(self, graph: Any, vectors: FloatMatrix) -> None:
        if self.build_threads > 0:
            faiss.omp_set_num_threads(self.build_threads)
        for start in range(0, vectors.shape[0], _ADD_BATCH):
            graph.add(np.ascontiguousarray(vectors[start : start + _ADD_BATCH]))

    def _grow(self, needed: int) -> None:
        capacity = self._slot_ids.shape[0]
        if needed <= capacity:
            return
        grown = max(needed, capacity * 2, 1024)
        slot_ids = np.full(grown, -1, dtype=np.int64)
        slot_ids[:capacity] = self._slot_ids
        bits = np.zeros((grown + 7) // 8, dtype=np.uint8)
        bits[: self._live_bits.shape[0]] = self._live_bits
        self._slot_ids, self._live_bits = slot_ids, bits

    def _set_live(self, slots: IdArray, live: bool) -> None:
        masks = (1 << (slots & 7)).astype(np.uint8)
        if live:
            np.bitwise_or.at(self._live_bits, slots >> 3, masks)
        else:
            np.bitwise_and.at(self._live_bits, slots >> 3, ~masks)

    def _distances(self, query: FloatMatrix, slots: IdArray) -> FloatMatrix:
        assert self._store is not None
        order = np.argsort(slots)
        vectors = np.empty((slots.shape[0], self.dim), dtype=np.float32)
        vectors[order] = self._store.read(slots[order])
        distances: FloatMatrix = np.linalg.norm(vectors - query, axis=1)
        return distances


def _load_arrays(folder: Path, *names: str) -> list[np.ndarray]:
    try:
        return [np.load(folder / name, allow_pickle=False) for name in names]
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"cannot read the index in {folder}: {exc}") from exc
