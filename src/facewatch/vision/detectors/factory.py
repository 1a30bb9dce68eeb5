"""The one place that turns a detector's name and options into a ``FaceDetector``.

The server names its detector in its settings (``create_detector``); the edge agent in each
camera's config, with options of its own (a lower HOG threshold, Haar's neighbours, one
onnxruntime thread per camera): both build through ``build_detector``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facewatch.errors import ConfigurationError
from facewatch.vision.config import VisionSettings
from facewatch.vision.detectors.base import FaceDetector
from facewatch.vision.detectors.haar import HaarDetector
from facewatch.vision.detectors.hog import HogDetector
from facewatch.vision.detectors.mmod_cnn import MmodCnnDetector
from facewatch.vision.detectors.onnx_ultralight import UltraLightOnnxDetector

DETECTOR_KINDS = ("hog", "haar", "onnx", "mmod")


@dataclass(frozen=True, slots=True)
class DetectorOptions:
    """A detector by name, with the options of every kind (each kind reads its own; the
    defaults are the detectors' own)."""

    kind: str
    hog_upsample: int | None = None
    hog_auto_upsample_pixels: int = 1_000_000
    hog_adjust_threshold: float = 0.0
    haar_min_neighbors: int = 10
    haar_min_size: int = 40
    onnx_path: Path | None = None
    """None: the Ultra-Light file shipped in the package."""
    onnx_score: float = 0.7
    threads: int = 0
    """onnxruntime's (and MMOD's) threads; 0: automatic."""
    mmod_upsample: int = 0
    cache_dir: Path | None = None
    """Where MMOD's converted model is cached; None: the user cache dir."""


def build_detector(options: DetectorOptions) -> FaceDetector:
    """The detector ``options`` name; its model loads on first use."""
    match options.kind:
        case "hog":
            return HogDetector(
                upsample=options.hog_upsample,
                auto_upsample_pixels=options.hog_auto_upsample_pixels,
                adjust_threshold=options.hog_adjust_threshold,
            )
        case "haar":
            return HaarDetector(
                min_neighbors=options.haar_min_neighbors, min_size=options.haar_min_size
            )
        case "onnx":
            return UltraLightOnnxDetector(
                options.onnx_path, score_threshold=options.onnx_score, threads=options.threads
            )
        case "mmod":
            return MmodCnnDetector(
                cache_dir=options.cache_dir,
                threads=options.threads,
                upsample=options.mmod_upsample,
            )
        case other:
            known = ", ".join(DETECTOR_KINDS)
            raise ConfigurationError(f"unknown detector {other!r} (known: {known})")


def create_detector(settings: VisionSettings) -> FaceDetector:
    """The server's detector, as ``settings.detector`` and its options name it."""
    return build_detector(
        DetectorOptions(
            kind=settings.detector,
            hog_upsample=settings.hog_upsample,
            hog_auto_upsample_pixels=settings.hog_auto_upsample_pixels,
            onnx_path=settings.onnx_detector_path,
            onnx_score=settings.onnx_score_threshold,
            threads=settings.embedder_threads,
            mmod_upsample=settings.mmod_upsample,
            cache_dir=settings.model_cache_dir,
        )
    )
