"""Vector indexes over face embeddings: one interface, implementations side by side, a factory.

    base.py      VectorIndex (add, remove, search, items, write), the manifest of a saved index
    exact.py     ExactIndex: numpy brute force, exact; the choice for small galleries
    hnsw.py      HnswIndex: hnswlib graph over float32, approximate; large low-dimensional galleries
    hnsw_sq.py   HnswSqIndex: faiss graph over 8-bit codes, re-ranked exactly from float32 on
                 disk (vector_file.py); large high-dimensional galleries in a quarter the memory
    adaptive.py  AdaptiveIndex: exact below a size threshold, an ANN index above

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
from facewatch.gallery.index.hnsw_sq import HnswSqIndex

IndexKind = Literal["auto", "exact", "hnsw", "hnsw_sq8"]
AnnKind = Literal["by_dim", "hnsw", "hnsw_sq8"]

__all__ = [
    "AdaptiveIndex",
    "AnnKind",
    "ExactIndex",
    "FloatMatrix",
    "HnswIndex",
    "HnswSqIndex",
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
    """Which index a gallery uses, and the parameters of its graph.

    The defaults come from benchmarks/bench_index.py (see benchmarks/results.md). Exact
    search costs under 2 ms of CPU up to 20,000 templates. Above, ``auto`` takes hnswlib
    (float32) under ``sq_min_dim`` dimensions: at 128, with these parameters, a million
    templates answer in ~2.5 ms (CPU p99, one core) with recall@1 0.999 in ~1.2 GB. From
    ``sq_min_dim`` up it takes hnsw_sq8, whose graph holds 8-bit codes and re-ranks from
    float32 on disk: at 512 dimensions hnswlib would hold 2 GB of vectors per million
    templates, hnsw_sq8 holds 0.5 GB; its own search width (``sq_ef_search``) is smaller,
    since each step costs four times as much at 512 dimensions.
    """

    kind: IndexKind = "auto"
    ann_threshold: int = 20_000
    ann_kind: AnnKind = "by_dim"
    """The ANN index of ``auto``: by_dim picks hnsw_sq8 from ``sq_min_dim`` dimensions up."""
    sq_min_dim: int = 256
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 256
    sq_ef_search: int = 128
    """hnsw_sq8's search width (its graph is built with ``hnsw_ef_construction``)."""
    sq_rerank: int = 64
    """Candidates of the 8-bit graph re-ranked exactly (at least the k asked for)."""
    vector_dir: Path | None = None
    """Where hnsw_sq8 keeps its float32 scratch file (default: the system temporary folder)."""

    def __post_init__(self) -> None:
        if self.ann_threshold < 1 or self.hnsw_m < 2:
            raise ValueError("ann_threshold must be at least 1 and hnsw_m at least 2")
        widths = (self.hnsw_ef_construction, self.hnsw_ef_search, self.sq_ef_search)
        if min(*widths, self.sq_rerank) < 1:
            raise ValueError("HNSW ef values and sq_rerank must be at least 1")

    def ann_for(self, dim: int) -> Literal["hnsw", "hnsw_sq8"]:
        """The approximate index used at this dimension."""
        if self.ann_kind == "by_dim":
            return "hnsw_sq8" if dim >= self.sq_min_dim else "hnsw"
        return self.ann_kind


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

    @property
    def gallery_ann_kind(self) -> AnnKind: ...

    @property
    def gallery_sq_ef_search(self) -> int: ...

    @property
    def gallery_sq_rerank(self) -> int: ...

    @property
    def gallery_vector_dir(self) -> Path | None: ...


def index_config_from(settings: IndexSettings) -> IndexConfig:
    """The index configured by ``settings``."""
    return IndexConfig(
        kind=settings.gallery_index,
        ann_threshold=settings.gallery_ann_threshold,
        ann_kind=settings.gallery_ann_kind,
        hnsw_m=settings.hnsw_m,
        hnsw_ef_construction=settings.hnsw_ef_construction,
        hnsw_ef_search=settings.hnsw_ef_search,
        sq_ef_search=settings.gallery_sq_ef_search,
        sq_rerank=settings.gallery_sq_rerank,
        vector_dir=settings.gallery_vector_dir,
    )


def create_index(dim: int, config: IndexConfig | None = None) -> VectorIndex:
    """An empty index of the configured kind."""
    config = config or IndexConfig()
    if config.kind == "exact":
        return ExactIndex(dim)
    if config.kind in ("hnsw", "hnsw_sq8"):
        return _ann(dim, config, config.kind)
    return AdaptiveIndex(dim, config.ann_threshold, lambda: _ann(dim, config))


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
    elif manifest["kind"] == HnswSqIndex.kind:
        inner = HnswSqIndex.read(
            folder,
            dim,
            ef_search=config.sq_ef_search,
            rerank=config.sq_rerank,
            vector_dir=config.vector_dir,
        )
    else:
        raise IndexFileError(f"unknown index kind {manifest['kind']!r} in {folder}")
    if config.kind == "auto":
        return AdaptiveIndex(dim, config.ann_threshold, lambda: _ann(dim, config), inner)
    if config.kind != inner.kind:
        rebuilt = create_index(dim, config)
        ids, vectors = inner.items()
        if ids.shape[0]:
            rebuilt.add(ids, vectors)
        return rebuilt
    return inner


def _ann(dim: int, config: IndexConfig, kind: str | None = None) -> VectorIndex:
    """The approximate index of ``kind``, by default the one ``config`` picks for ``dim``."""
    if (kind or config.ann_for(dim)) == "hnsw":
        return HnswIndex(
            dim,
            m=config.hnsw_m,
            ef_construction=config.hnsw_ef_construction,
            ef_search=config.hnsw_ef_search,
        )
    return HnswSqIndex(
        dim,
        m=config.hnsw_m,
        ef_construction=config.hnsw_ef_construction,
        ef_search=config.sq_ef_search,
        rerank=config.sq_rerank,
        vector_dir=config.vector_dir,
    )
