"""How embeddings and boxes are encoded for the database."""

from __future__ import annotations

import numpy as np
import pytest

from facewatch.errors import InvalidInput
from facewatch.store.embeddings import box_to_list, embedding_from_bytes, embedding_to_bytes
from facewatch.types import Box


def test_an_embedding_survives_a_round_trip_through_bytes() -> None:
    embedding = np.random.default_rng(0).standard_normal(128).astype(np.float32)
    restored = embedding_from_bytes(embedding_to_bytes(embedding))
    assert restored.dtype == np.float32
    np.testing.assert_array_equal(restored, embedding)


def test_embeddings_are_stored_as_little_endian_float32() -> None:
    assert embedding_to_bytes(np.array([1.0], dtype=">f8")) == b"\x00\x00\x80\x3f"


def test_a_restored_embedding_is_writable() -> None:
    restored = embedding_from_bytes(embedding_to_bytes(np.ones(4, dtype=np.float32)))
    restored[0] = 2.0
    assert restored[0] == 2.0


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 64), dtype=np.float32),
        np.zeros(0, dtype=np.float32),
        np.array([1.0, np.nan], dtype=np.float32),
        np.array([1.0, np.inf], dtype=np.float32),
        np.array([1, 2, 3]),
    ],
    ids=["2-d", "empty", "nan", "inf", "integers"],
)
def test_unusable_embeddings_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        embedding_to_bytes(bad)


def test_bytes_of_no_whole_float32_do_not_decode() -> None:
    with pytest.raises(ValueError, match="float32"):
        embedding_from_bytes(b"\x00\x00\x00")


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        (Box(1, 2, 3, 4), [1, 2, 3, 4]),
        ([1, 2, 3, 4], [1, 2, 3, 4]),
        ((np.int64(5), 6, 7, 8), [5, 6, 7, 8]),
    ],
    ids=["Box", "list", "numpy-ints"],
)
def test_boxes_become_lists_of_four_ints(box: Box | list[int], expected: list[int]) -> None:
    assert box_to_list(box) == expected


@pytest.mark.parametrize("bad", [[1, 2, 3], [1, 2, 3, 4, 5], [1.5, 2, 3, 4], ["1", 2, 3, 4]])
def test_anything_but_four_ints_is_not_a_box(bad: list[object]) -> None:
    with pytest.raises(InvalidInput):
        box_to_list(bad)  # type: ignore[arg-type]
