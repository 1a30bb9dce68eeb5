"""The one place that turns ``settings.embedder`` into an ``Embedder``."""

from __future__ import annotations

from facewatch.config import Settings
from facewatch.errors import ConfigurationError
from facewatch.vision.embedders.base import Embedder
from facewatch.vision.embedders.dlib_resnet import DlibResNetEmbedder
from facewatch.vision.embedders.onnx_resnet import OnnxResNetEmbedder


def create_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.embedder``; its model loads on first use."""
    match settings.embedder:
        case "onnx":
            return OnnxResNetEmbedder(
                cache_dir=settings.model_cache_dir,
                threads=settings.embedder_threads,
                batch_size=settings.embedder_batch_size,
            )
        case "dlib":
            return DlibResNetEmbedder()
        case other:
            raise ConfigurationError(f"unknown embedder {other!r}")
