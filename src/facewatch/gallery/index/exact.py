"""Vector indexes over face embeddings: one interface, exact (numpy) search first."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int64]
FloatMatrix = npt.NDArray[np.float32]


class VectorIndex(ABC):
    """Stores vectors under integer ids and finds the nearest ones by Euclidean distance."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    @abstractmethod
    def add(self, ids: IdArray, vectors: FloatMatrix) -> None:
        """Add (or replace) vectors under the given ids."""

    @abstractmethod
    def remove(self, ids: Iterable[int]) -> int:
        """Remove the given ids; returns how many were present."""

    @abstractmethod
    def search(self, queries: FloatMatrix, k: int) -> tuple[FloatMatrix, IdArray]:
        """The ``k`` nearest ids per query, nearest first, as (distances, ids).

        Rows shorter than ``k`` are padded with distance ``inf`` and id ``-1``.
        """

    @abstractmethod
    def __len__(self) -> int: ...

    def _check(self, vectors: FloatMatrix) -> FloatMatrix:
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise ValueError(f"expected an (n, {self.dim}) array, got shape {array.shape}")
        return array


class ExactIndex(VectorIndex):
    """Brute-force search with one matrix product; exact, and fast up to ~100k vectors."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self._lock = threading.RLock()
        self._ids: IdArray = np.empty(0, dtype=np.int64)
        self._vectors: FloatMatrix = np.empty((0, dim), dtype=np.float32)
        self._sq_norms: FloatMatrix = np.empty(0, dtype=np.float32)

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def add(self, ids: IdArray, vectors: FloatMatrix) -> None:
        vectors = self._check(vectors)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.shape[0] != vectors.shape[0]:
            raise ValueError("ids and vectors differ in length")
        with self._lock:
            keep = ~np.isin(self._ids, ids)
            self._ids = np.concatenate([self._ids[keep], ids])
            self._vectors = np.concatenate([self._vectors[keep], vectors])
            self._sq_norms = np.einsum("ij,ij->i", self._vectors, self._vectors)

    def remove(self, ids: Iterable[int]) -> int:
        drop = np.fromiter(ids, dtype=np.int64)
        with self._lock:
            hit = np.isin(self._ids, drop)
            removed = int(hit.sum())
            if removed:
                self._ids = self._ids[~hit]
                self._vectors = self._vectors[~hit]
                self._sq_norms = self._sq_norms[~hit]
        return removed

    def search(self, queries: FloatMatrix, k: int) -> tuple[FloatMatrix, IdArray]:
        queries = self._check(queries)
        with self._lock:
            ids, vectors, sq_norms = self._ids, self._vectors, self._sq_norms
        m, n = queries.shape[0], ids.shape[0]
        distances = np.full((m, k), np.inf, dtype=np.float32)
        found = np.full((m, k), -1, dtype=np.int64)
        if n == 0 or m == 0:
            return distances, found
        q_norms = np.einsum("ij,ij->i", queries, queries)
        squared = q_norms[:, None] + sq_norms[None, :] - 2.0 * (queries @ vectors.T)
        all_dist = np.sqrt(np.maximum(squared, 0.0))
        top = min(k, n)
        part = np.argpartition(all_dist, top - 1, axis=1)[:, :top]
        part_dist = np.take_along_axis(all_dist, part, axis=1)
        order = np.argsort(part_dist, axis=1, kind="stable")
        distances[:, :top] = np.take_along_axis(part_dist, order, axis=1)
        found[:, :top] = ids[np.take_along_axis(part, order, axis=1)]
        return distances, found
