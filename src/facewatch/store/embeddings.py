"""How embeddings and boxes are kept in the database: float32 little-endian bytes, int lists."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facewatch.errors import InvalidInput
from facewatch.types import Box, Embedding

_STORED_DTYPE = np.dtype("<f4")


def embedding_to_bytes(embedding: Embedding) -> bytes:
    """Raw little-endian float32 bytes of a 1-d, finite, non-empty embedding."""
    array = np.asarray(embedding)
    if array.ndim != 1 or array.size == 0:
        raise InvalidInput(f"an embedding must be a non-empty 1-d array, not shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
        raise InvalidInput("an embedding must hold finite floating-point numbers")
    return array.astype(_STORED_DTYPE, copy=False).tobytes()


def embedding_from_bytes(data: bytes) -> Embedding:
    """The float32 embedding stored as ``data`` (a writable copy in native byte order)."""
    if len(data) % _STORED_DTYPE.itemsize:
        raise ValueError(f"{len(data)} bytes is not a whole number of float32 values")
    return np.frombuffer(data, dtype=_STORED_DTYPE).astype(np.float32)


def box_to_list(box: Box | Sequence[int]) -> list[int]:
    """``[left, top, right, bottom]`` of a ``Box`` or of a sequence of four integers."""
    values = box.as_list() if isinstance(box, Box) else list(box)
    if len(values) != 4 or not all(isinstance(v, int | np.integer) for v in values):
        raise InvalidInput(f"a box must be four integers [left, top, right, bottom], not {box!r}")
    return [int(v) for v in values]
