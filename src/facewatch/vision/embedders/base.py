"""The face embedder interface: aligned chips in, one L2-comparable vector per chip out.

Each model declares itself in a ``ModelSpec``: its id, dimension, metric, chip and
preprocessing, and the recognition defaults calibrated for it. Thresholds are never shared
between models: a distance of 0.5 means "same person" to dlib's ResNet and "strangers" to
nothing in particular for EdgeFace.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

from facewatch.errors import InvalidImage
from facewatch.types import Box, Landmarks, RGBImage
from facewatch.vision.align import TemplateAlignment, align_face
from facewatch.vision.image import ensure_rgb
from facewatch.vision.lazy import LazyModel


@dataclass(frozen=True, slots=True)
class RecognitionDefaults:
    """A model's calibrated open-set settings, all in Euclidean distance between embeddings."""

    match_threshold: float  # score at or under: named
    unknown_threshold: float  # score at or over: unknown
    margin_weight: float
    margin_cap: float
    cluster_threshold: float  # strangers: join the nearest unknown identity within this


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What a model is: the id stored with its vectors, their length, and how to compare them.

    The gallery compares every model's vectors by Euclidean distance. A ``cosine`` model's
    embedder returns L2-normalised vectors, for which the Euclidean distance
    d = sqrt(2 - 2 cos) falls as the cosine similarity rises: its ``defaults`` are in that
    distance (cosine 0.35 is d = 1.14). An ``l2`` model's vectors are compared as they come.
    """

    model_id: str
    dim: int
    metric: Literal["cosine", "l2"]
    chip_size: int
    preprocessing: str  # one line: alignment + normalisation
    defaults: RecognitionDefaults


class Embedder(LazyModel):
    """Turns aligned face chips into descriptors; the model is loaded on the first ``embed``.

    ``spec.model_id`` is stored next to every embedding: vectors of different models must
    never be compared. Subclasses set the class attribute ``spec``, implement ``_load`` and
    ``_embed``, and set ``template_alignment`` when their chip is not dlib's.
    """

    spec: ClassVar[ModelSpec]
    template_alignment: ClassVar[TemplateAlignment | None] = None
    """How ``align`` cuts the chip: onto these points, or (``None``) as dlib's ``align_face``."""

    @property
    def model_id(self) -> str:
        """The id stored next to every embedding this embedder makes."""
        return self.spec.model_id

    @property
    def dim(self) -> int:
        """Length of the embeddings."""
        return self.spec.dim

    @property
    def chip_size(self) -> int:
        """Side of the square aligned chips ``embed`` reads."""
        return self.spec.chip_size

    def align(self, image: RGBImage, box: Box, landmarks: Landmarks) -> RGBImage:
        """The aligned chip of a face that this embedder reads (default: dlib's chip)."""
        if self.template_alignment is not None:
            return self.template_alignment.chip(image, landmarks)
        return align_face(image, box, landmarks, size=self.chip_size)

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

    @staticmethod
    def check_run_options(batch_size: int, threads: int = 0) -> None:
        """``ValueError`` unless ``batch_size`` >= 1 and ``threads`` >= 0 (0: every core)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        if threads < 0:
            raise ValueError(f"threads must be >= 0, not {threads}")

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
