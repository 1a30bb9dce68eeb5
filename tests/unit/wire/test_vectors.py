"""Embeddings travel as int8 (a cosine model's unit vectors) or float16 (an L2 model's)."""

from __future__ import annotations

import numpy as np
import pytest

from facewatch.errors import InvalidInput
from facewatch.wire import (
    MediaType,
    VectorType,
    decode_vector,
    dtype_of_media_type,
    encode_vector,
    image_media_type,
    vector_width,
)


def unit_vector(dim: int, seed: int = 7) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


@pytest.mark.parametrize(
    ("model", "dim", "media_type", "size", "tolerance"),
    [
        ("edgeface_xs_int8", 512, MediaType.INT8_UNIT, 512, 0.5 / 127),
        ("dlib_resnet_v1", 128, MediaType.FLOAT16, 256, 1e-3),
        ("a_model_not_known_here", 64, MediaType.FLOAT16, 128, 1e-3),
    ],
)
def test_a_vector_is_encoded_for_its_model_and_decoded_near_itself(
    model: str, dim: int, media_type: MediaType, size: int, tolerance: float
) -> None:
    vector = unit_vector(dim)

    data, sent_as = encode_vector(vector, model)
    back = decode_vector(data, dim, dtype_of_media_type(sent_as))

    assert (sent_as, len(data)) == (media_type, size)
    assert vector_width(dtype_of_media_type(sent_as), dim) == size
    assert float(np.max(np.abs(back - vector))) <= tolerance


@pytest.mark.parametrize(
    ("data", "dtype", "message"),
    [
        (b"\x00" * 10, "float32", "4 little-endian float32 values"),
        (np.array([1, np.nan, 0, 0], "<f4").tobytes(), "float32", "NaN or infinite"),
        (np.array([1, 1e19, 0, 0], "<f4").tobytes(), "float32", "within ±100"),
    ],
)
def test_bytes_that_are_no_vector_are_refused(data: bytes, dtype: VectorType, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode_vector(data, 4, dtype)


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 12, MediaType.JPEG),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", MediaType.WEBP),
    ],
)
def test_an_image_part_is_labelled_by_its_bytes(data: bytes, media_type: MediaType) -> None:
    assert image_media_type(data) is media_type


def test_an_unknown_embedding_media_type_is_read_as_float32() -> None:
    assert dtype_of_media_type("application/octet-stream") == "float32"
