"""Exact search: one matrix product over every vector (numpy and its BLAS)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from facewatch.gallery.index.base import (
    FloatMatrix,
    IdArray,
    IndexFileError,
    VectorIndex,
    empty_result,
)

_MIN_CAPACITY = 256


class ExactIndex(VectorIndex):
    """Brute-force search; exact, and fast up to some tens of thousands of vectors.

    Vectors live in buffers that grow by doubling, so one enrolment appends in place
    instead of copying the whole matrix. Removal compacts into new arrays, so a search
    running meanwhile keeps reading a consistent snapshot.
    """

    kind = "exact"

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self._lock = threading.RLock()
        self._size = 0
        self._ids: IdArray = np.empty(0, dtype=np.int64)
        self._vectors: FloatMatrix = np.empty((0, dim), dtype=np.float32)
        self._sq_norms: FloatMatrix = np.empty(0, dtype=np.float32)

    def __len__(self) -> int:
        return self._size

    def add(self, ids: IdArray, vectors: FloatMatrix) -> None:
        ids, vectors = self._check_batch(ids, vectors)
        with self._lock:
            self._drop(np.isin(self._ids[: self._size], ids))
            self._reserve(self._size + ids.shape[0])
            end = self._size + ids.shape[0]
            self._ids[self._size : end] = ids
            self._vectors[self._size : end] = vectors
            self._sq_norms[self._size : end] = np.einsum("ij,ij->i", vectors, vectors)
            self._size = end

    def remove(self, ids: Iterable[int]) -> int:
        drop = np.fromiter(ids, dtype=np.int64)
        with self._lock:
            hit = np.isin(self._ids[: self._size], drop)
            removed = int(hit.sum())
            if removed:
                self._drop(hit)
        return removed

    def search(self, queries: FloatMatrix, k: int) -> tuple[FloatMatrix, IdArray]:
        queries = self._check(queries)
        with self._lock:
            n = self._size
            ids, vectors, sq_norms = self._ids[:n], self._vectors[:n], self._sq_norms[:n]
        distances, found = empty_result(queries.shape[0], k)
        if n == 0 or queries.shape[0] == 0 or k == 0:
            return distances, found
        q_norms = np.einsum("ij,ij->i", queries, queries)
        squared = q_norms[:, None] + sq_norms[None, :] - 2.0 * (queries @ vectors.T)
        top = min(k, n)
        part = np.argpartition(squared, top - 1, axis=1)[:, :top]
        # The expanded form loses precision near zero; recompute the few winners directly.
        exact = np.linalg.norm(queries[:, None, :] - vectors[part], axis=2)
        order = np.argsort(exact, axis=1, kind="stable")
        distances[:, :top] = np.take_along_axis(exact, order, axis=1)
        found[:, :top] = ids[np.take_along_axis(part, order, axis=1)]
        return distances, found

    def items(self) -> tuple[IdArray, FloatMatrix]:
        with self._lock:
            return self._ids[: self._size].copy(), self._vectors[: self._size].copy()

    def write(self, folder: Path) -> None:
        ids, vectors = self.items()
        np.save(folder / "ids.npy", ids)
        np.save(folder / "vectors.npy", vectors)
        self._write_manifest(folder)

    @classmethod
    def read(cls, folder: Path, dim: int) -> ExactIndex:
        """An index saved by ``write`` (the caller has checked the manifest)."""
        try:
            ids = np.load(folder / "ids.npy", allow_pickle=False)
            vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexFileError(f"cannot read the exact index in {folder}: {exc}") from exc
        index = cls(dim)
        if ids.shape[0]:
            index.add(ids, vectors)
        return index

    def _reserve(self, needed: int) -> None:
        capacity = self._ids.shape[0]
        if needed <= capacity:
            return
        new_capacity = max(_MIN_CAPACITY, capacity * 2, needed)
        n = self._size
        ids = np.empty(new_capacity, dtype=np.int64)
        vectors = np.empty((new_capacity, self.dim), dtype=np.float32)
        sq_norms = np.empty(new_capacity, dtype=np.float32)
        ids[:n], vectors[:n], sq_norms[:n] = self._ids[:n], self._vectors[:n], self._sq_norms[:n]
        self._ids, self._vectors, self._sq_norms = ids, vectors, sq_norms

    def _drop(self, hit: np.ndarray) -> None:
        """Keep the rows not in ``hit``, in new arrays (searches in flight keep the old ones)."""
        if not hit.any():
            return
        keep = ~hit
        self._ids = self._ids[: self._size][keep]
        self._vectors = self._vectors[: self._size][keep]
        self._sq_norms = self._sq_norms[: self._size][keep]
        self._size = int(keep.sum())
