"""Five facial landmarks (two corners per eye and the base of the nose) from dlib."""

from __future__ import annotations

import logging
from pathlib import Path

import dlib

from facewatch.errors import ModelUnavailable
from facewatch.types import Box, Landmarks, RGBImage
from facewatch.vision._dlib import from_shape, to_rectangle
from facewatch.vision.image import ensure_rgb
from facewatch.vision.lazy import LazyModel
from facewatch.vision.models import shape_predictor_5_path

logger = logging.getLogger(__name__)


class Landmarker(LazyModel):
    """dlib's 5-point shape predictor (``shape_predictor_5_face_landmarks.dat``)."""

    def __init__(self, model_path: Path | None = None) -> None:
        super().__init__()
        self._model_path = model_path
        self._predictor: dlib.shape_predictor | None = None

    def locate(self, image: RGBImage, box: Box) -> Landmarks:
        """The five landmarks of the face in ``box``, in image pixels and dlib's order."""
        image = ensure_rgb(image)
        with self._lock:
            self.load()
            assert self._predictor is not None
            shape = self._predictor(image, to_rectangle(box))
        return from_shape(shape)

    def _load(self) -> None:
        path = self._model_path or shape_predictor_5_path()
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise ModelUnavailable(f"dlib cannot read the landmark model {path}: {exc}") from exc
        logger.debug("loaded landmark model %s", path)
