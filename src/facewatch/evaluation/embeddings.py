"""Faces of evaluation images, embedded once and cached on disk.

Embedding a face costs tens of milliseconds, and an evaluation set holds thousands of
photos, so every protocol reads its faces through an ``EmbeddingCache``: one ``.npz`` file
per pipeline (embedding model and detector) in a cache folder, keyed by each image's
resolved path, size and modification time. A changed file is embedded again; a killed run
keeps what it had saved (the file is rewritten atomically every ``save_every`` images).

Enrolment photos can be read as the server enrols them (``enrolment=True``: each face's
template is the mean of its jittered copies, ``vision/augment.py``); those go to a cache
of their own (``enrolment_cache``), named after the set of copies.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facewatch.errors import FacewatchError
from facewatch.types import Embedding
from facewatch.vision.augment import ENROLMENT_JITTERS, enrolment_template
from facewatch.vision.image import load_image
from facewatch.vision.pipeline import FaceAnalyzer

logger = logging.getLogger(__name__)

_BOX_COLUMNS = 4


@dataclass(frozen=True, slots=True)
class ImageFaces:
    """Every face found in one image: boxes (left, top, right, bottom) and embeddings."""

    width: int
    height: int
    boxes: npt.NDArray[np.int32]
    embeddings: npt.NDArray[np.float32]

    @property
    def count(self) -> int:
        return int(self.boxes.shape[0])

    def central(self) -> Embedding | None:
        """The face nearest the image centre (LFW's convention for the labelled face)."""
        if self.count == 0:
            return None
        centres = (self.boxes[:, :2] + self.boxes[:, 2:]) / 2.0
        offsets = centres - np.array([self.width / 2.0, self.height / 2.0])
        nearest = int(np.argmin(np.einsum("ij,ij->i", offsets, offsets)))
        vector: Embedding = self.embeddings[nearest]
        return vector


def no_faces(width: int, height: int, dim: int) -> ImageFaces:
    """The record of an image in which no face was found."""
    return ImageFaces(
        width,
        height,
        np.empty((0, _BOX_COLUMNS), dtype=np.int32),
        np.empty((0, dim), dtype=np.float32),
    )


def pipeline_id(analyzer: FaceAnalyzer) -> str:
    """A file-name-safe id of what makes the embeddings: embedding model and detectors."""
    raw = f"{analyzer.model_id}-{type(analyzer.detector).__name__}"
    if analyzer.fallback is not None:
        raw += f"+{type(analyzer.fallback).__name__}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw)


def image_key(path: Path) -> str:
    """Cache key of an image file: resolved path, size and modification time."""
    resolved = path.resolve()
    stat = resolved.stat()
    return f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}"


class EmbeddingCache:
    """Faces per image for one pipeline, in memory, saved to ``<folder>/<pipeline>.npz``."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self._entries: dict[str, ImageFaces] = {}
        self._dirty = False
        if file is not None and file.is_file():
            self._entries = _read(file)
            logger.info("embedding cache %s: %d images", file, len(self._entries))

    @classmethod
    def for_analyzer(
        cls, folder: Path | None, analyzer: FaceAnalyzer, kind: str = ""
    ) -> EmbeddingCache:
        """The cache of ``analyzer``'s pipeline in ``folder`` (``None``: memory only).

        ``kind`` names a cache of other vectors of the same pipeline (enrolment templates).
        """
        name = pipeline_id(analyzer) + (f"-{kind}" if kind else "")
        return cls(None if folder is None else folder / f"{name}.npz")

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> ImageFaces | None:
        return self._entries.get(key)

    def put(self, key: str, faces: ImageFaces) -> None:
        self._entries[key] = faces
        self._dirty = True

    def save(self) -> None:
        """Write the cache if it changed (atomically: a crash leaves the old file)."""
        if self.file is None or not self._dirty:
            return
        _write(self.file, self._entries)
        self._dirty = False


def enrolment_cache(
    folder: Path | None, analyzer: FaceAnalyzer, jitter: bool
) -> EmbeddingCache | None:
    """The cache of enrolment templates when enrolment jitters (``None`` when it does not)."""
    if not jitter:
        return None
    copies = hashlib.sha256(repr(ENROLMENT_JITTERS).encode()).hexdigest()[:8]
    return EmbeddingCache.for_analyzer(folder, analyzer, kind=f"enrolment-{copies}")


Progress = Callable[[int], None]
"""Called with the number of images just handled (for progress bars)."""


def embed_images(
    paths: Sequence[Path],
    analyzer: FaceAnalyzer,
    cache: EmbeddingCache,
    *,
    max_pixels: int,
    advance: Progress | None = None,
    save_every: int = 200,
    enrolment: bool = False,
) -> dict[Path, ImageFaces]:
    """The faces of every image, from the cache or through the real pipeline.

    With ``enrolment`` each face's vector is its enrolment template (jittered copies), as
    the server enrols it. An image that cannot be read or decoded counts as one with no
    face (and is logged).
    """
    found: dict[Path, ImageFaces] = {}
    fresh = 0
    for path in paths:
        key = image_key(path)
        faces = cache.get(key)
        if faces is None:
            faces = _analyze(path, analyzer, max_pixels, enrolment)
            cache.put(key, faces)
            fresh += 1
            if fresh % save_every == 0:
                cache.save()
        found[path] = faces
        if advance is not None:
            advance(1)
    cache.save()
    logger.info("embedded %d images (%d from the cache)", len(paths), len(paths) - fresh)
    return found


def _analyze(path: Path, analyzer: FaceAnalyzer, max_pixels: int, enrolment: bool) -> ImageFaces:
    try:
        image = load_image(path, max_pixels=max_pixels)
    except FacewatchError as exc:
        logger.warning("skipping %s: %s", path, exc.message)
        return no_faces(0, 0, analyzer.embedding_dim)
    faces = [face for face in analyzer.analyze(image) if face.embedding is not None]
    height, width = image.shape[:2]
    if not faces:
        return no_faces(width, height, analyzer.embedding_dim)
    vectors = [
        enrolment_template(analyzer.embedder, image, face) if enrolment else face.embedding
        for face in faces
    ]
    return ImageFaces(
        width,
        height,
        np.array([face.box.as_list() for face in faces], dtype=np.int32),
        np.stack([np.asarray(v, dtype=np.float32) for v in vectors]),
    )


def _write(file: Path, entries: dict[str, ImageFaces]) -> None:
    keys = list(entries)
    records = [entries[key] for key in keys]
    counts = np.array([r.count for r in records], dtype=np.int64)
    dim = next((r.embeddings.shape[1] for r in records), 0)
    arrays = {
        "keys": np.array(keys, dtype=np.str_),
        "sizes": np.array([(r.width, r.height) for r in records], dtype=np.int32).reshape(-1, 2),
        "counts": counts,
        "boxes": _rows([r.boxes for r in records], _BOX_COLUMNS, np.int32),
        "embeddings": _rows([r.embeddings for r in records], dim, np.float32),
    }
    file.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=file.parent, prefix=file.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)  # type: ignore[arg-type]
        Path(tmp).replace(file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rows(parts: Iterable[npt.NDArray[np.generic]], width: int, dtype: type) -> npt.NDArray[Any]:
    chunks = [p for p in parts if p.shape[0]]
    if not chunks:
        return np.empty((0, width), dtype=dtype)
    return np.concatenate(chunks).astype(dtype, copy=False)


def _read(file: Path) -> dict[str, ImageFaces]:
    with np.load(file, allow_pickle=False) as data:
        keys, sizes, counts = data["keys"], data["sizes"], data["counts"]
        boxes, embeddings = data["boxes"], data["embeddings"]
    starts = np.concatenate([[0], np.cumsum(counts)])
    return {
        str(key): ImageFaces(
            int(size[0]),
            int(size[1]),
            boxes[start:end],
            embeddings[start:end],
        )
        for key, size, start, end in zip(keys, sizes, starts[:-1], starts[1:], strict=True)
    }
