"""Encoding shots for the wire: a size-limited JPEG/WebP crop, or an embedding made on site."""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image

from facewatch.edge.config import CropConfig, ImageFormat
from facewatch.edge.types import EncodedImage, FaceEmbedding, Shot
from facewatch.types import RGBImage
from facewatch.vision.embedders import Embedder

logger = logging.getLogger(__name__)

_PIL_FORMATS: dict[ImageFormat, tuple[str, str]] = {
    "jpeg": ("JPEG", "image/jpeg"),
    "webp": ("WEBP", "image/webp"),
}


class CropEncoder:
    """Scales a crop down to ``max_size`` on its long side and compresses it."""

    def __init__(self, config: CropConfig) -> None:
        self.config = config

    def encode(self, crop: RGBImage, max_size: int | None = None) -> EncodedImage:
        """The crop as JPEG or WebP bytes, never longer than ``max_size`` (default: config)."""
        image = Image.fromarray(np.ascontiguousarray(crop))
        longest = max(image.size)
        limit = max_size or self.config.max_size
        if longest > limit:
            scale = limit / longest
            size = (max(round(image.width * scale), 1), max(round(image.height * scale), 1))
            image = image.resize(size, Image.Resampling.LANCZOS)
        pil_format, media_type = _PIL_FORMATS[self.config.format]
        buffer = io.BytesIO()
        image.save(buffer, format=pil_format, quality=self.config.quality)
        return EncodedImage(buffer.getvalue(), media_type, image.width, image.height)


class ShotEmbedder:
    """Embeddings mode: the aligned chip of a shot through the on-site embedder."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed(self, shot: Shot) -> FaceEmbedding:
        """The shot's descriptor and the model id the server must match it against."""
        vector = self.embedder.embed([shot.chip])[0]
        return FaceEmbedding(np.asarray(vector, dtype=np.float32), self.embedder.model_id)

    def load(self) -> None:
        """Load the model now rather than on the first shot."""
        self.embedder.load()
