"""The quantised HNSW index: training, tombstones, rebuilds, snapshots, the auto choice.

The behaviour every index shares (search, padding, removal, replacement) is checked for
hnsw_sq8 too in test_index.py; these are what only this index does.
"""

from pathlib import Path

import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.gallery.gallery import Gallery, TemplateEntry
from facewatch.gallery.index import (
    AdaptiveIndex,
    HnswIndex,
    HnswSqIndex,
    IndexConfig,
    create_index,
    index_config_from,
    read_index,
)
from facewatch.gallery.index.vector_file import VectorFile

DIM = 16


def unit_vectors(n: int, seed: int = 3, dim: int = DIM) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def small_index(**overrides: int) -> HnswSqIndex:
    params = {"m": 8, "ef_construction": 64, "ef_search": 64, "train_size": 50, "compact_min": 10}
    return HnswSqIndex(DIM, **{**params, **overrides})  # type: ignore[arg-type]


def brute_force(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    return np.sort(np.linalg.norm(queries[:, None, :] - vectors[None, :, :], axis=2), axis=1)[:, :k]


def test_vectors_wait_in_an_exact_index_until_there_are_enough_to_train_on() -> None:
    index = small_index()
    vectors = unit_vectors(60)
    index.add(np.arange(49), vectors[:49])
    assert not index.trained
    index.add(np.arange(49, 60), vectors[49:])
    assert index.trained
    assert index.slots == 60
    assert len(index) == 60


def test_distances_are_exact_although_the_graph_holds_8_bit_codes() -> None:
    index = small_index()
    vectors = unit_vectors(500)
    index.add(np.arange(500), vectors)
    queries = unit_vectors(20, seed=4)
    distances, ids = index.search(queries, 5)
    np.testing.assert_allclose(distances, brute_force(queries, vectors, 5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        distances, np.linalg.norm(queries[:, None, :] - vectors[ids], axis=2), rtol=1e-6
    )


def test_a_removed_vector_is_a_tombstone_until_the_rebuild_drops_it() -> None:
    index = small_index(compact_min=1000)
    vectors = unit_vectors(200)
    index.add(np.arange(200), vectors)
    index.remove(range(0, 200, 2))
    assert index.slots == 200  # tombstones still in the graph
    _, ids = index.search(vectors, 1)
    assert not np.isin(ids, np.arange(0, 200, 2)).any()
    index.compact()
    assert index.slots == 100
    _, ids = index.search(vectors[1::2], 1)
    assert ids[:, 0].tolist() == list(range(1, 200, 2))


def test_a_replaced_vector_leaves_a_tombstone_and_takes_a_new_slot() -> None:
    index = small_index(compact_min=1000)
    vectors = unit_vectors(101)
    index.add(np.arange(100), vectors[:100])
    index.add(np.array([5]), vectors[100:])
    assert (index.slots, len(index)) == (101, 100)
    _, ids = index.search(vectors[100:], 1)
    assert ids[0, 0] == 5


def test_enough_tombstones_start_a_rebuild_in_the_background() -> None:
    index = small_index(compact_min=10, compact_fraction=0.2)  # type: ignore[arg-type]
    vectors = unit_vectors(300)
    index.add(np.arange(300), vectors)
    index.remove(range(59))
    assert index.slots == 300  # 59 tombstones: under a fifth
    index.remove([59])
    index.wait_for_compaction(timeout=60)
    assert index.slots == 240
    assert sorted(index.items()[0].tolist()) == list(range(60, 300))


class ChangesDuringRebuild(HnswSqIndex):
    """Makes changes while its graph is being rebuilt, as other threads would."""

    def _build_from(self, store: VectorFile, slots: np.ndarray) -> tuple[object, VectorFile]:
        built = super()._build_from(store, slots)
        self.remove([1, 2])
        self.add(np.array([3, 1000]), unit_vectors(2, seed=9))
        return built


def test_changes_made_during_a_rebuild_are_kept() -> None:
    index = ChangesDuringRebuild(DIM, m=8, train_size=50, compact_min=1000)
    vectors = unit_vectors(200)
    index.add(np.arange(200), vectors)
    index.remove(range(100, 200))
    index.compact()
    ids, stored = index.items()
    expected = {i: vectors[i] for i in range(100) if i not in (1, 2)}
    expected[3], expected[1000] = unit_vectors(2, seed=9)
    assert sorted(ids.tolist()) == sorted(expected)
    for template_id, vector in zip(ids.tolist(), stored, strict=True):
        np.testing.assert_array_equal(vector, expected[template_id])
    assert index.slots == 102  # 100 rebuilt (1, 2 and the old 3 buried), then 3 and 1000
    _, found = index.search(unit_vectors(2, seed=9), 1)
    assert found[:, 0].tolist() == [3, 1000]


def test_a_rebuild_under_the_training_size_returns_to_exact_search() -> None:
    index = small_index(compact_min=1000)
    vectors = unit_vectors(100)
    index.add(np.arange(100), vectors)
    index.remove(range(80))
    index.compact()
    assert not index.trained
    _, ids = index.search(vectors[80:], 1)
    assert ids[:, 0].tolist() == list(range(80, 100))


@pytest.mark.parametrize("count", [30, 300], ids=["untrained", "trained"])
def test_a_saved_index_reads_back_with_its_tombstones(count: int, tmp_path: Path) -> None:
    index = small_index(compact_min=1000)
    vectors = unit_vectors(count)
    index.add(np.arange(count), vectors)
    index.remove(range(0, count, 3))
    index.write(tmp_path)
    loaded = read_index(tmp_path, DIM, IndexConfig(kind="hnsw_sq8"))
    assert isinstance(loaded, HnswSqIndex)
    assert (len(loaded), loaded.slots, loaded.trained) == (len(index), index.slots, index.trained)
    for got, expected in zip(loaded.search(vectors, 4), index.search(vectors, 4), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_gallery_over_hnsw_sq8_saves_and_loads_with_the_same_answers(tmp_path: Path) -> None:
    config = IndexConfig(kind="hnsw_sq8")
    vectors = unit_vectors(1200, dim=32)  # past the default training size
    gallery = Gallery("m", 32, create_index(32, config))
    gallery.add(TemplateEntry(i, i // 4, f"p{i // 4}", v) for i, v in enumerate(vectors))
    gallery.remove_person(3)
    gallery.save(tmp_path / "snapshot")
    loaded = Gallery.load(tmp_path / "snapshot", "m", 32, config)
    assert isinstance(loaded.index, HnswSqIndex)
    assert loaded.index.trained
    assert loaded.nearest_people(vectors[:50], 5) == gallery.nearest_people(vectors[:50], 5)


@pytest.mark.parametrize(
    ("dim", "ann_kind", "expected"),
    [
        (512, "by_dim", HnswSqIndex),
        (256, "by_dim", HnswSqIndex),
        (128, "by_dim", HnswIndex),
        (128, "hnsw_sq8", HnswSqIndex),
        (512, "hnsw", HnswIndex),
    ],
)
def test_the_auto_index_picks_its_graph_by_dimension(
    dim: int, ann_kind: str, expected: type
) -> None:
    config = IndexConfig(ann_threshold=20, ann_kind=ann_kind)  # type: ignore[arg-type]
    index = create_index(dim, config)
    assert isinstance(index, AdaptiveIndex)
    index.add(np.arange(21), unit_vectors(21, dim=dim))
    assert isinstance(index.inner, expected)


def test_the_quantised_index_settings_are_read_from_the_settings() -> None:
    settings = Settings(
        gallery_ann_threshold=100,
        hnsw_m=16,
        gallery_ann_kind="hnsw_sq8",
        gallery_sq_ef_search=96,
        gallery_sq_rerank=80,
        gallery_vector_dir=Path("/var/lib/facewatch/scratch"),
    )
    config = index_config_from(settings)
    assert (config.ann_kind, config.sq_ef_search) == ("hnsw_sq8", 96)
    assert (config.sq_rerank, config.vector_dir) == (80, Path("/var/lib/facewatch/scratch"))
