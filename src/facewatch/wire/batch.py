"""Many items in one request: the manifest an agent sends, the results the server answers.

A batch is one multipart request: the manifest (JSON, as the ``manifest`` field or
gzip-compressed as the ``manifest_gz`` part), the crops and thumbnails as ``files`` parts
(items name them by index), and every vector of the batch in one ``vectors`` part, row
after row, all of the manifest's ``dtype``, gzip-compressed when the manifest says
``"vectors": "gzip"`` (a server that predates it refuses such a manifest as a whole, and the
agent then sends the items one by one). The server answers each item on its own
(``ItemOutcome`` and the item's detections), in the order of the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from facewatch.types import Box
from facewatch.wire.fields import CameraId, IdempotencyKey, ModelId
from facewatch.wire.vectors import VectorType

MAX_BATCH_ITEMS = 100
MAX_MANIFEST_BYTES = 1024 * 1024
"""Of the manifest, inflated."""


class ItemKind(StrEnum):
    """What an item carries."""

    CROP = "crop"
    EMBEDDING = "embedding"


class BatchItem(BaseModel):
    """One face of a batch: a crop (``image``) or an embedding (``vector`` and ``model``)."""

    model_config = ConfigDict(extra="forbid")

    kind: ItemKind
    camera_id: CameraId
    idempotency_key: IdempotencyKey
    captured_at: datetime | None = None
    track_id: str | None = Field(default=None, max_length=128)
    edge_id: str | None = Field(default=None, max_length=128)
    image: int | None = Field(default=None, ge=0, description="Crop: index among `files`")
    vector: int | None = Field(default=None, ge=0, description="Embedding: row in `vectors`")
    thumbnail: int | None = Field(default=None, ge=0, description="Index among `files`")
    model: ModelId | None = None
    box: list[int] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description=(
            "Embedding: the face box in the frame. Crop (optional): where the face lies in "
            "the crop, a hint the server checks (a cheaper detection)"
        ),
    )
    quality: float = Field(default=0.0, ge=0, le=1)

    @classmethod
    def of(
        cls,
        kind: ItemKind,
        camera_id: str,
        idempotency_key: str,
        captured_at: datetime,
        *,
        edge_id: str | None = None,
        track_id: str | None = None,
        box: Box | None = None,
        model: str | None = None,
        quality: float = 0.0,
        image: int | None = None,
        vector: int | None = None,
        thumbnail: int | None = None,
    ) -> BatchItem:
        """An item as an agent writes it, unchecked (the server checks what it receives)."""
        return cls.model_construct(
            kind=kind,
            camera_id=camera_id,
            idempotency_key=idempotency_key,
            captured_at=captured_at,
            edge_id=edge_id,
            track_id=track_id,
            box=None if box is None else box.as_list(),
            model=model,
            quality=quality,
            image=image,
            vector=vector,
            thumbnail=thumbnail,
        )


class BatchManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)
    dtype: VectorType = "float32"
    vectors: Literal["raw", "gzip"] = "raw"
    """How the ``vectors`` part is encoded (``raw``, the default, is left out of the JSON)."""

    def to_json(self) -> bytes:
        """Compact JSON, defaults left out (a crop sends no ``quality``, nothing sends null)."""
        return self.model_dump_json(exclude_defaults=True).encode()


class ItemOutcome(BaseModel):
    """What the server answers for one item of a batch (the server adds its detections)."""

    idempotency_key: str
    status: int = Field(description="The status a single request would have had (201, 4xx).")
    replayed: bool = False
    detail: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class FaceResult:
    """What the server decided for one face it found in a delivered item."""

    status: str
    """``known``, ``uncertain`` or ``unknown``."""
    name: str | None = None


def face_results(detections: object) -> tuple[FaceResult, ...]:
    """The verdicts of an answer's ``detections`` (each a ``DetectionOut``), read leniently."""
    if not isinstance(detections, Sequence) or isinstance(detections, str | bytes):
        return ()
    return tuple(
        FaceResult(str(d.get("status", "unknown")), _text(d.get("name")))
        for d in detections
        if isinstance(d, Mapping)
    )


def results_by_key(body: Mapping[str, object]) -> dict[str, Mapping[str, object]]:
    """A batch answer's results by idempotency key (malformed entries left out)."""
    results = body.get("results")
    if not isinstance(results, list):
        return {}
    return {
        str(result.get("idempotency_key")): result
        for result in results
        if isinstance(result, Mapping)
    }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
