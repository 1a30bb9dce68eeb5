"""The face embedder interface: aligned chips in, one L2-comparable vector per chip out."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from facewatch.errors import InvalidImage
from facewatch.types import RGBImage
from facewatch.vision.image import ensure_rgb
from facewatch.vision.lazy import LazyModel


class Embedder(LazyModel):
    """Turns aligned face chips into descriptors; the model is loaded on the first ``embed``.

    ``model_id`` is stored next to every embedding: vectors of different models must never
    be compared. Subclasses set ``model_id``, ``dim`` and ``chip_size`` and implement
    ``_load`` and ``_embed``.
    """

    model_id: str
    dim: int
    chip_size: int = 150

    def embed(self, chips: Sequence[RGBImage]) -> npt.NDArray[np.float32]:
        """An (N, dim) float32 array, one row per chip, in order; (0, dim) for no chips."""
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        checked = [self._check_chip(chip) for chip in chips]
        with self._lock:
            self.load()
            vectors = self._embed(checked)
        if vectors.shape != (len(checked), self.dim):
            raise RuntimeError(f"{self.model_id} returned shape {vectors.shape}")
        return vectors

    def _check_chip(self, chip: RGBImage) -> RGBImage:
        chip = ensure_rgb(chip)
        if chip.shape[:2] != (self.chip_size, self.chip_size):
            raise InvalidImage(
                f"{self.model_id} needs {self.chip_size}x{self.chip_size} aligned chips, "
                f"got {chip.shape[1]}x{chip.shape[0]}"
            )
        return chip

    @abstractmethod
    def _embed(self, chips: list[RGBImage]) -> npt.NDArray[np.float32]:
        """Run the loaded model on validated chips; return (len(chips), dim) float32."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r})"
