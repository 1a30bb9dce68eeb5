from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facewatch.config import Settings
from facewatch.gallery.index import (
    AdaptiveIndex,
    ExactIndex,
    HnswIndex,
    HnswSqIndex,
    IndexConfig,
    IndexFileError,
    VectorIndex,
    create_index,
    index_config_from,
    read_index,
)

DIM = 8

INDEXES: dict[str, Callable[[], VectorIndex]] = {
    "exact": lambda: ExactIndex(DIM),
    "hnsw": lambda: HnswIndex(DIM, m=8, ef_construction=100, ef_search=100),
    "auto": lambda: create_index(DIM, IndexConfig(kind="auto", ann_threshold=20)),
    # Trained from 20 vectors on, rebuilt once 4 tombstones make a fifth of the slots.
    "hnsw_sq8": lambda: HnswSqIndex(
        DIM, m=8, ef_construction=100, ef_search=100, train_size=20, compact_min=4
    ),
}


@pytest.fixture(params=sorted(INDEXES))
def make(request: pytest.FixtureRequest) -> Callable[[], VectorIndex]:
    return INDEXES[request.param]


@pytest.fixture
def vectors() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(50, DIM)).astype(np.float32)


def brute_force(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    return np.sort(np.linalg.norm(queries[:, None, :] - vectors[None, :, :], axis=2), axis=1)[:, :k]


def test_search_agrees_with_brute_force(
    make: Callable[[], VectorIndex], vectors: np.ndarray
) -> None:
    index = make()
    index.add(np.arange(50), vectors)
    queries = vectors[:5] + 0.01
    distances, ids = index.search(queries, 3)
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(distances, brute_force(queries, vectors, 3), rtol=1e-4, atol=1e-4)


def test_short_rows_are_padded_with_inf_and_minus_one(
    make: Callable[[], VectorIndex], vectors: np.ndarray
) -> None:
    index = make()
    index.add(np.array([10, 11]), vectors[:2])
    distances, ids = index.search(vectors[:1], 4)
    assert ids[0].tolist()[2:] == [-1, -1]
    assert np.isinf(distances[0, 2:]).all()


def test_an_empty_index_finds_nothing(make: Callable[[], VectorIndex]) -> None:
    distances, ids = make().search(np.zeros((2, DIM), dtype=np.float32), 3)
    assert (ids == -1).all()
    assert np.isinf(distances).all()


def test_removed_vectors_are_never_found_again(
    make: Callable[[], VectorIndex], vectors: np.ndarray
) -> None:
    index = make()
    index.add(np.arange(50), vectors)
    assert index.remove([3, 4, 999]) == 2
    _, ids = index.search(vectors[3:5], 1)
    assert 3 not in ids
    assert 4 not in ids
    assert len(index) == 48


def test_adding_an_existing_id_replaces_its_vector(
    make: Callable[[], VectorIndex], vectors: np.ndarray
) -> None:
    index = make()
    index.add(np.array([1]), vectors[:1])
    index.add(np.array([1]), vectors[1:2])
    distances, ids = index.search(vectors[1:2], 1)
    assert len(index) == 1
    assert ids[0, 0] == 1
    assert distances[0, 0] == pytest.approx(0.0, abs=1e-3)


def test_an_id_removed_then_added_again_is_found_with_its_new_vector(
    make: Callable[[], VectorIndex], vectors: np.ndarray
) -> None:
    index = make()
    index.add(np.arange(30), vectors[:30])
    index.remove([5])
    index.add(np.array([5]), vectors[40:41])
    _, ids = index.search(vectors[40:41], 1)
    _, old = index.search(vectors[5:6], 1)
    assert ids[0, 0] == 5
    assert old[0, 0] != 5


@pytest.mark.parametrize(
    ("ids", "shape", "message"),
    [
        ([1], (1, 4), "expected an"),
        ([1, 2], (1, DIM), "differ in length"),
        ([1, 1], (2, DIM), "repeat"),
        ([-1], (1, DIM), "negative"),
    ],
)
def test_bad_batches_are_refused(
    make: Callable[[], VectorIndex], ids: list[int], shape: tuple[int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make().add(np.array(ids), np.zeros(shape, dtype=np.float32))


def test_the_adaptive_index_switches_to_hnsw_above_its_threshold(vectors: np.ndarray) -> None:
    index = create_index(DIM, IndexConfig(kind="auto", ann_threshold=20))
    assert isinstance(index, AdaptiveIndex)
    index.add(np.arange(20), vectors[:20])
    assert isinstance(index.inner, ExactIndex)
    index.add(np.array([20]), vectors[20:21])
    assert isinstance(index.inner, HnswIndex)
    assert len(index) == 21


def test_the_adaptive_index_returns_to_exact_under_half_its_threshold(
    vectors: np.ndarray,
) -> None:
    index = create_index(DIM, IndexConfig(kind="auto", ann_threshold=20))
    assert isinstance(index, AdaptiveIndex)
    index.add(np.arange(30), vectors[:30])
    index.remove(range(20))
    assert isinstance(index.inner, HnswIndex)
    index.remove([20])
    assert isinstance(index.inner, ExactIndex)
    assert sorted(index.items()[0].tolist()) == list(range(21, 30))


@pytest.mark.parametrize("kind", ["exact", "hnsw", "hnsw_sq8", "auto"])
def test_a_saved_index_reads_back_with_the_same_answers(
    kind: str, vectors: np.ndarray, tmp_path: Path
) -> None:
    config = IndexConfig(kind=kind, ann_threshold=20, ann_kind="hnsw")  # type: ignore[arg-type]
    index = create_index(DIM, config)
    index.add(np.arange(50), vectors)
    index.remove([7])
    index.write(tmp_path)
    loaded = read_index(tmp_path, DIM, config)
    assert len(loaded) == 49
    for got, expected in zip(loaded.search(vectors, 3), index.search(vectors, 3), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_a_folder_without_a_manifest_is_not_an_index(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="no complete index"):
        read_index(tmp_path, DIM)


def test_an_index_of_another_dimension_is_refused(tmp_path: Path, vectors: np.ndarray) -> None:
    ExactIndex(DIM).write(tmp_path)
    with pytest.raises(IndexFileError, match="dimension"):
        read_index(tmp_path, DIM + 1)


# --- properties: any sequence of adds and removes leaves the index holding what a dict would


operations = st.lists(
    st.tuples(st.booleans(), st.lists(st.integers(0, 40), min_size=1, max_size=8, unique=True)),
    min_size=1,
    max_size=25,
)


@pytest.mark.parametrize("kind", sorted(INDEXES))
@settings(max_examples=40, deadline=None, database=None)
@given(ops=operations)
def test_adds_and_removes_leave_exactly_the_expected_vectors(
    kind: str, ops: list[tuple[bool, list[int]]]
) -> None:
    index = INDEXES[kind]()
    rng = np.random.default_rng(len(ops))
    expected: dict[int, np.ndarray] = {}
    for is_add, ids in ops:
        if is_add:
            batch = rng.normal(size=(len(ids), DIM)).astype(np.float32)
            index.add(np.array(ids), batch)
            expected.update(zip(ids, batch, strict=True))
        else:
            present = sum(1 for i in ids if i in expected)
            assert index.remove(ids) == present
            for i in ids:
                expected.pop(i, None)
    assert len(index) == len(expected)
    ids, stored = index.items()
    assert sorted(ids.tolist()) == sorted(expected)
    for template_id, vector in zip(ids.tolist(), stored, strict=True):
        np.testing.assert_allclose(vector, expected[template_id])


@pytest.mark.parametrize("kind", sorted(INDEXES))
@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(ops=operations)
def test_every_stored_vector_finds_itself_first(
    kind: str, ops: list[tuple[bool, list[int]]]
) -> None:
    """Exact search always; the approximate index on at least 90% of vectors (it is ANN)."""
    index = INDEXES[kind]()
    rng = np.random.default_rng(len(ops) + 1)
    for is_add, ids in ops:
        if is_add:
            index.add(np.array(ids), rng.normal(size=(len(ids), DIM)).astype(np.float32))
        else:
            index.remove(ids)
    ids, stored = index.items()
    if not ids.shape[0]:
        return
    distances, found = index.search(stored, 1)
    itself = found[:, 0] == ids
    if kind == "exact":
        assert itself.all()
        np.testing.assert_allclose(distances[:, 0], 0.0, atol=1e-3)
    else:
        assert itself.mean() >= 0.9
        np.testing.assert_allclose(distances[itself, 0], 0.0, atol=1e-3)


def test_the_settings_choose_the_index() -> None:
    config = index_config_from(Settings(gallery_index="hnsw", hnsw_ef_search=128))
    assert isinstance(create_index(DIM, config), HnswIndex)
    assert config.hnsw_ef_search == 128
    assert isinstance(create_index(DIM, index_config_from(Settings())), AdaptiveIndex)
