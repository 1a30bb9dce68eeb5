"""Media types of payloads, and how an embedding travels: float32, float16 or int8.

An L2 model's vectors (dlib's) go as little-endian float16: half the bytes of float32;
dlib descriptors lie within +-0.5, and on the knn_examples faces float16 moved distances by
at most 3.3e-4. A cosine model's unit vectors (EdgeFace's) go as int8, each value times 127:
a quarter of float32's bytes (benchmarks/results.md measures what that moves distances by).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import numpy as np
import numpy.typing as npt

from facewatch.errors import InvalidInput
from facewatch.types import Embedding
from facewatch.vision.embedders.specs import MODEL_SPECS

VectorType = Literal["float32", "float16", "int8"]
INT8_SCALE = 127.0
"""int8: a unit vector's values times 127."""
MAX_EMBEDDING_VALUE = 100.0
"""No embedder makes components this large (EdgeFace's are unit vectors, dlib's under 1)."""


class MediaType(StrEnum):
    """Content types of the parts an agent sends."""

    JPEG = "image/jpeg"
    WEBP = "image/webp"
    FLOAT32 = "application/x-float32-le"
    FLOAT16 = "application/x-float16-le"
    INT8_UNIT = "application/x-int8-unit"
    GZIP = "application/gzip"
    OCTETS = "application/octet-stream"


_NUMPY: dict[VectorType, str] = {"float32": "<f4", "float16": "<f2", "int8": "i1"}
_OF_MEDIA_TYPE: dict[str, VectorType] = {
    MediaType.FLOAT32: "float32",
    MediaType.FLOAT16: "float16",
    MediaType.INT8_UNIT: "int8",
}


def dtype_of_media_type(media_type: str) -> VectorType:
    """The ``dtype`` field that goes with an embedding part of this media type."""
    return _OF_MEDIA_TYPE.get(media_type, "float32")


def vector_width(dtype: VectorType, dim: int) -> int:
    """Bytes of one ``dim``-d vector sent as ``dtype``."""
    return int(np.dtype(_NUMPY[dtype]).itemsize) * dim


def image_media_type(data: bytes) -> MediaType:
    """The media type of an encoded face image (the agent sends JPEG or WebP)."""
    return MediaType.WEBP if data[8:12] == b"WEBP" else MediaType.JPEG


def encode_vector(vector: Embedding, model: str) -> tuple[bytes, MediaType]:
    """An embedding's wire bytes and media type: int8 for a cosine model, else float16."""
    values = np.asarray(vector, dtype=np.float32)
    spec = MODEL_SPECS.get(model)
    if spec is not None and spec.metric == "cosine":
        return quantise_unit(values).tobytes(), MediaType.INT8_UNIT
    return values.astype("<f2").tobytes(), MediaType.FLOAT16


def quantise_unit(vector: npt.NDArray[np.float32]) -> npt.NDArray[np.int8]:
    """A unit vector's values as int8 (times 127, rounded, clipped)."""
    quantised: npt.NDArray[np.int8] = np.clip(np.rint(vector * INT8_SCALE), -127, 127).astype(
        np.int8
    )
    return quantised


def decode_vector(data: bytes, dim: int, dtype: VectorType) -> Embedding:
    """A ``dim``-d float32 vector from its wire bytes; ``InvalidInput`` if it is not one."""
    raw = np.dtype(_NUMPY[dtype])
    if len(data) != dim * raw.itemsize:
        raise InvalidInput(f"embedding must be {dim} little-endian {dtype} values")
    vector = np.frombuffer(data, dtype=raw).astype(np.float32)
    if dtype == "int8":
        vector /= INT8_SCALE
    if not np.all(np.isfinite(vector)):
        raise InvalidInput("embedding holds NaN or infinite values")
    if float(np.max(np.abs(vector), initial=0.0)) > MAX_EMBEDDING_VALUE:
        # Such values overflow the distance computation (1e19 squared is past float32).
        raise InvalidInput(f"embedding values must lie within ±{MAX_EMBEDDING_VALUE:g}")
    return vector
