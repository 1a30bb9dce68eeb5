"""What vision's factories read: the detector and embedder choices and their knobs.

Vision takes this small config rather than the server's settings, so the edge agent, the
evaluation tools and the server build detectors and embedders the same way. Anything with
these attributes will do (``facewatch.config.Settings`` has them all);
``facewatch.config.vision_config`` freezes a ``Settings`` into a ``VisionConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class VisionSettings(Protocol):
    """The attributes vision's factories read (read-only)."""

    @property
    def detector(self) -> str: ...

    @property
    def hog_upsample(self) -> int | None: ...

    @property
    def hog_auto_upsample_pixels(self) -> int: ...

    @property
    def mmod_upsample(self) -> int: ...

    @property
    def onnx_detector_path(self) -> Path | None: ...

    @property
    def onnx_score_threshold(self) -> float: ...

    @property
    def embedder(self) -> str: ...

    @property
    def embedder_threads(self) -> int: ...

    @property
    def embedder_batch_size(self) -> int: ...

    @property
    def model_cache_dir(self) -> Path | None: ...


@dataclass(frozen=True, slots=True)
class VisionConfig:
    """Vision's own config; the defaults are the server's (a test keeps them equal)."""

    detector: str = "hog"
    """hog, haar, onnx (Ultra-Light; the packaged file when no path is given) or mmod."""
    hog_upsample: int | None = None
    """Times HOG upsamples; None: once up to ``hog_auto_upsample_pixels``, else never."""
    hog_auto_upsample_pixels: int = 1_000_000
    mmod_upsample: int = 0
    onnx_detector_path: Path | None = None
    onnx_score_threshold: float = 0.7
    embedder: str = "edgeface"
    """edgeface, dlib (or onnx: the same), or dlib_native."""
    embedder_threads: int = 0
    """onnxruntime threads per call; 0: automatic."""
    embedder_batch_size: int = 32
    model_cache_dir: Path | None = None
    """Where models converted to ONNX are cached; None: the user cache dir."""

    @classmethod
    def of(cls, settings: VisionSettings) -> VisionConfig:
        """The vision part of ``settings``, frozen."""
        return cls(
            detector=settings.detector,
            hog_upsample=settings.hog_upsample,
            hog_auto_upsample_pixels=settings.hog_auto_upsample_pixels,
            mmod_upsample=settings.mmod_upsample,
            onnx_detector_path=settings.onnx_detector_path,
            onnx_score_threshold=settings.onnx_score_threshold,
            embedder=settings.embedder,
            embedder_threads=settings.embedder_threads,
            embedder_batch_size=settings.embedder_batch_size,
            model_cache_dir=settings.model_cache_dir,
        )
