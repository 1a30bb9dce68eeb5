"""Vector indexes over face embeddings: one interface, implementations side by side, a factory.

    base.py      VectorIndex (add, remove, search, items, write), the manifest of a saved index
    exact.py     ExactIndex: numpy brute force, exact; the choice for small galleries
    hnsw.py      HnswIndex: hnswlib graph, approximate; for large galleries
    adaptive.py  AdaptiveIndex: exact below a size threshold, HNSW above

``create_index(dim, config)`` builds the configured one (``index_config_from(settings)``
reads the configuration from the settings) and ``read_index(folder, dim, config)`` loads one
saved with ``VectorIndex.write``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from facewatch.gallery.index.adaptive import AdaptiveIndex
from facewatch.gallery.index.base import (
    FloatMatrix,
    IdArray,
    IndexFileError,
    VectorIndex,
    read_manifest,
)
from facewatch.gallery.index.exact import ExactIndex
from facewatch.gallery.index.hnsw import HnswIndex

IndexKind = Literal["auto", "exact", "hnsw"]

__all__ = [
    "AdaptiveIndex",
    "ExactIndex",
    "FloatMatrix",
    "HnswIndex",
    "IdArray",
    "IndexConfig",
    "IndexFileError",
    "IndexKind",
    "VectorIndex",
    "create_index",
    "index_config_from",
    "read_index",
]


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """Which index a gallery uses, and the HNSW graph's parameters.

    The defaults come from benchmarks/bench_index.py (see benchmarks/results.md): exact
    search costs under 2 ms of CPU up to 20,000 templates; above, with these parameters, a
    million templates answer in ~2.5 ms (CPU p99, one core) with recall@1 0.999 for probes
    of enrolled people, in ~1.2 GB, loaded from a snapshot in seconds.
    """

    kind: IndexKind = "auto"
    ann_threshold: int = 20_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 256

    def __post_init__(self) -> None:
        if self.ann_threshold < 1 or self.hnsw_m < 2:
            raise ValueError("ann_threshold must be at least 1 and hnsw_m at least 2")
        if self.hnsw_ef_construction < 1 or self.hnsw_ef_search < 1:
            raise ValueError("HNSW ef values must be at least 1")


class IndexSettings(Protocol):
    """The settings the index reads (``facewatch.config.Settings`` has them)."""

    @property
    def gallery_index(self) -> IndexKind: ...

    @property
    def gallery_ann_threshold(self) -> int: ...

    @property
    def hnsw_m(self) -> int: ...

    @property
    def hnsw_ef_construction(self) -> int: ...

    @property
    def hnsw_ef_search(self) -> int: ...


def index_config_from(settings: IndexSettings) -> IndexConfig:
    """The index configured by ``settings``."""
    return IndexConfig(
        kind=settings.gallery_index,
        ann_threshold=settings.gallery_ann_threshold,
        hnsw_m=settings.hnsw_m,
        hnsw_ef_construction=settings.hnsw_ef_construction,
        hnsw_ef_search=settings.hnsw_ef_search,
    )


def create_index(dim: int, config: IndexConfig | None = None) -> VectorIndex:
    """An empty index of the configured kind."""
    config = config or IndexConfig()
    if config.kind == "exact":
        return ExactIndex(dim)
    if config.kind == "hnsw":
        return _hnsw(dim, config)
    return AdaptiveIndex(dim, config.ann_threshold, lambda: _hnsw(dim, config))


def read_index(folder: Path, dim: int, config: IndexConfig | None = None) -> VectorIndex:
    """The index saved in ``folder``, wrapped as the configuration asks.

    A saved graph is used as it is (rebuilding it would cost minutes at a million
    templates), under the configured ``ef_search``; ``IndexFileError`` if the folder holds
    no complete index of this dimension.
    """
    config = config or IndexConfig()
    manifest = read_manifest(folder)
    if int(manifest["dim"]) != dim:
        raise IndexFileError(f"the index in {folder} has dimension {manifest['dim']}, not {dim}")
    inner: VectorIndex
    if manifest["kind"] == ExactIndex.kind:
        inner = ExactIndex.read(folder, dim)
    elif manifest["kind"] == HnswIndex.kind:
        inner = HnswIndex.read(folder, dim, ef_search=config.hnsw_ef_search)
    else:
        raise IndexFileError(f"unknown index kind {manifest['kind']!r} in {folder}")
    if config.kind == "auto":
        return AdaptiveIndex(dim, config.ann_threshold, lambda: _hnsw(dim, config), inner)
    if config.kind != inner.kind:
        rebuilt = create_index(dim, config)
        ids, vectors = inner.items()
        if ids.shape[0]:
            rebuilt.add(ids, vectors)
        return rebuilt
    return inner


def _hnsw(dim: int, config: IndexConfig) -> HnswIndex:
    return HnswIndex(
        dim,
        m=config.hnsw_m,
        ef_construction=config.hnsw_ef_construction,
        ef_search=config.hnsw_ef_search,
    )
