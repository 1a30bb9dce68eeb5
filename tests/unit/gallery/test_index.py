import numpy as np
import pytest

from facewatch.gallery.index import ExactIndex


@pytest.fixture
def vectors() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(50, 8)).astype(np.float32)


def test_exact_search_agrees_with_brute_force(vectors: np.ndarray) -> None:
    index = ExactIndex(8)
    index.add(np.arange(50), vectors)
    queries = vectors[:5] + 0.01
    distances, ids = index.search(queries, 3)
    expected = np.linalg.norm(queries[:, None, :] - vectors[None, :, :], axis=2)
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(distances, np.sort(expected, axis=1)[:, :3], rtol=1e-4, atol=1e-4)


def test_short_rows_are_padded_with_inf_and_minus_one(vectors: np.ndarray) -> None:
    index = ExactIndex(8)
    index.add(np.array([10, 11]), vectors[:2])
    distances, ids = index.search(vectors[:1], 4)
    assert ids[0].tolist()[2:] == [-1, -1]
    assert np.isinf(distances[0, 2:]).all()


def test_removed_vectors_are_never_found_again(vectors: np.ndarray) -> None:
    index = ExactIndex(8)
    index.add(np.arange(50), vectors)
    assert index.remove([3, 4, 999]) == 2
    _, ids = index.search(vectors[3:5], 1)
    assert 3 not in ids
    assert 4 not in ids
    assert len(index) == 48


def test_adding_an_existing_id_replaces_its_vector(vectors: np.ndarray) -> None:
    index = ExactIndex(8)
    index.add(np.array([1]), vectors[:1])
    index.add(np.array([1]), vectors[1:2])
    distances, ids = index.search(vectors[1:2], 1)
    assert len(index) == 1
    assert ids[0, 0] == 1
    assert distances[0, 0] == pytest.approx(0.0, abs=1e-3)


def test_wrong_dimension_is_refused() -> None:
    with pytest.raises(ValueError, match="expected an"):
        ExactIndex(8).add(np.array([1]), np.zeros((1, 4), dtype=np.float32))
