"""The vector index interface: ids to vectors, nearest by Euclidean distance, saved to a folder."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int64]
FloatMatrix = npt.NDArray[np.float32]

MANIFEST = "manifest.json"
"""Written last into an index folder: a folder without it is incomplete and never read."""


class IndexFileError(ValueError):
    """An index folder is missing, incomplete, or made for another kind or dimension."""


class VectorIndex(ABC):
    """Stores vectors under integer ids and finds the nearest ones by Euclidean distance.

    Implementations are safe to share between threads.
    """

    kind: ClassVar[str]
    """Short name written in the manifest of a saved index (``exact``, ``hnsw``)."""

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
    def items(self) -> tuple[IdArray, FloatMatrix]:
        """Every stored id and its vector (a copy), in no particular order."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def write(self, folder: Path) -> None:
        """Write the index into an existing, empty folder (the manifest last)."""

    def _check(self, vectors: FloatMatrix) -> FloatMatrix:
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise ValueError(f"expected an (n, {self.dim}) array, got shape {array.shape}")
        return np.ascontiguousarray(array)

    def _check_batch(self, ids: IdArray, vectors: FloatMatrix) -> tuple[IdArray, FloatMatrix]:
        vectors = self._check(vectors)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.shape[0] != vectors.shape[0]:
            raise ValueError("ids and vectors differ in length")
        if np.unique(ids).shape[0] != ids.shape[0]:
            raise ValueError("ids repeat within one batch")
        if ids.shape[0] and ids.min() < 0:
            raise ValueError("ids must not be negative")
        return ids, vectors

    def _write_manifest(self, folder: Path, **extra: Any) -> None:
        manifest = {"kind": self.kind, "dim": self.dim, "count": len(self), **extra}
        (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a saved index; ``IndexFileError`` if there is none or it is unreadable."""
    try:
        manifest: Any = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"no complete index in {folder}: {exc}") from exc
    if not isinstance(manifest, dict) or not {"kind", "dim", "count"} <= manifest.keys():
        raise IndexFileError(f"the manifest in {folder} is not an index manifest")
    return manifest


def empty_result(m: int, k: int) -> tuple[FloatMatrix, IdArray]:
    """``m`` rows of ``k`` padding entries (distance ``inf``, id ``-1``)."""
    return np.full((m, k), np.inf, dtype=np.float32), np.full((m, k), -1, dtype=np.int64)
