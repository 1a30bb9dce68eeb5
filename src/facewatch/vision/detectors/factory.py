"""The one place that turns ``settings.detector`` into a ``FaceDetector``."""

from __future__ import annotations

from facewatch.errors import ConfigurationError
from facewatch.vision.config import VisionSettings
from facewatch.vision.detectors.base import FaceDetector
from facewatch.vision.detectors.haar import HaarDetector
from facewatch.vision.detectors.hog import HogDetector
from facewatch.vision.detectors.mmod_cnn import MmodCnnDetector
from facewatch.vision.detectors.onnx_ultralight import UltraLightOnnxDetector


def create_detector(settings: VisionSettings) -> FaceDetector:
    """The detector named by ``settings.detector``; its model loads on first use."""
    match settings.detector:
        case "hog":
            return HogDetector(
                upsample=settings.hog_upsample,
                auto_upsample_pixels=settings.hog_auto_upsample_pixels,
            )
        case "haar":
            return HaarDetector()
        case "onnx":  # no path: the Ultra-Light file shipped in the package
            return UltraLightOnnxDetector(
                settings.onnx_detector_path, score_threshold=settings.onnx_score_threshold
            )
        case "mmod":
            return MmodCnnDetector(
                cache_dir=settings.model_cache_dir,
                threads=settings.embedder_threads,
                upsample=settings.mmod_upsample,
            )
        case other:
            raise ConfigurationError(f"unknown detector {other!r}")
