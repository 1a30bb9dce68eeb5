"""dlib's MMOD CNN face detector, converted to ONNX and run by onnxruntime.

dlib-bin needs about 2 s for a 640x480 frame; the same network on onnxruntime runs each
level of an image pyramid (each level 5/6 the size of the one before, as dlib's
``pyramid_down<6>``) and decodes the score maps as dlib's loss_mmod does: a box of the
detector window's size around every location scoring above the threshold, then
non-max suppression across all levels. Levels are resized with OpenCV rather than dlib's
own filter, so boxes and scores differ slightly from dlib's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from facewatch.errors import ModelUnavailable
from facewatch.types import Box, DetectedFace, RGBImage
from facewatch.vision.convert import DLIB_MMOD, ensure_converted
from facewatch.vision.convert.mmod import DetectionRow, MmodDecoding, decode, suppress
from facewatch.vision.convert.onnx_graph import INPUT_NAME
from facewatch.vision.detectors.base import FaceDetector
from facewatch.vision.detectors.limits import upsamples_within
from facewatch.vision.onnx import cpu_session

logger = logging.getLogger(__name__)

PYRAMID_STEP = 5 / 6
"""Each pyramid level's side over the previous one's (dlib's pyramid_down<6>)."""


class MmodCnnDetector(FaceDetector):
    """mmod_human_face_detector.dat on onnxruntime; finds faces from about 40 px (80 px
    without ``upsample``), turned and partly hidden ones included.

    ``upsample`` doubles the image first (each time); ``threshold`` is added to dlib's 0.
    """

    name = "mmod"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        cache_dir: Path | None = None,
        threads: int = 0,
        upsample: int = 0,
        threshold: float = 0.0,
    ) -> None:
        super().__init__()
        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, not {upsample}")
        self._model_path = model_path
        self._cache_dir = cache_dir
        self.threads = threads
        self.upsample = upsample
        self.threshold = threshold
        self._session: ort.InferenceSession | None = None
        self._decoding: MmodDecoding | None = None

    def _load(self) -> None:
        path = ensure_converted(DLIB_MMOD, self._model_path, self._cache_dir)
        self._session = cpu_session(path, self.threads, sequential=False)
        try:
            metadata = self._session.get_modelmeta().custom_metadata_map
            self._decoding = MmodDecoding.from_metadata(metadata)
        except (KeyError, ValueError) as exc:
            raise ModelUnavailable(f"{path} lacks the MMOD decoding metadata") from exc

    def _detect(self, image: RGBImage) -> list[DetectedFace]:
        return self._detect_upsampled(image, self.upsample)

    def _detect_native(self, image: RGBImage) -> list[DetectedFace]:
        return self._detect_upsampled(image, 0)

    def _detect_upsampled(self, image: RGBImage, upsample: int) -> list[DetectedFace]:
        assert self._decoding is not None
        upsample = upsamples_within(image.shape[0], image.shape[1], upsample)
        scale = 2.0**upsample
        if upsample:
            image = _resized(
                image,
                (image.shape[1] * 2**upsample, image.shape[0] * 2**upsample),
                cv2.INTER_LINEAR,
            )
        rows: list[DetectionRow] = []
        for level, (level_scale_x, level_scale_y) in self._pyramid(image):
            for score, left, top, right, bottom in self._run(level):
                rows.append(
                    (
                        score,
                        left / level_scale_x,
                        top / level_scale_y,
                        right / level_scale_x,
                        bottom / level_scale_y,
                    )
                )
        kept = suppress(rows, self._decoding.nms_iou, self._decoding.nms_covered)
        logger.debug("mmod: %d faces from %d candidates", len(kept), len(rows))
        return [_face(row, scale) for row in kept]

    def _pyramid(self, image: RGBImage) -> list[tuple[RGBImage, tuple[float, float]]]:
        """The image, then smaller levels until the detector window no longer fits."""
        assert self._decoding is not None
        smallest = min(min(window) for window in self._decoding.windows)
        height, width = image.shape[:2]
        levels: list[tuple[RGBImage, tuple[float, float]]] = [(image, (1.0, 1.0))]
        factor = PYRAMID_STEP
        while min(height, width) * factor >= smallest:
            size = (round(width * factor), round(height * factor))
            level = _resized(image, size, cv2.INTER_AREA)
            levels.append((level, (size[0] / width, size[1] / height)))
            factor *= PYRAMID_STEP
        return levels

    def _run(self, level: RGBImage) -> list[DetectionRow]:
        assert self._session is not None
        assert self._decoding is not None
        (scores,) = self._session.run(None, {INPUT_NAME: level[np.newaxis]})
        return decode(scores[0], self._decoding, self.threshold)


def _resized(image: RGBImage, size: tuple[int, int], interpolation: int) -> RGBImage:
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=interpolation), np.uint8)


def _face(row: DetectionRow, scale: float) -> DetectedFace:
    score, left, top, right, bottom = row
    box = Box(round(left / scale), round(top / scale), round(right / scale), round(bottom / scale))
    return DetectedFace(box, score)
