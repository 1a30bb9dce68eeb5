"""The one place that turns ``settings.embedder`` (or a stored model id) into an ``Embedder``."""

from __future__ import annotations

from pathlib import Path

from facewatch.errors import ConfigurationError, ModelUnavailable
from facewatch.vision.config import VisionSettings
from facewatch.vision.embedders.base import Embedder
from facewatch.vision.embedders.dlib_resnet import DlibResNetEmbedder
from facewatch.vision.embedders.edgeface import EdgeFaceEmbedder
from facewatch.vision.embedders.onnx_resnet import OnnxResNetEmbedder
from facewatch.vision.embedders.specs import DLIB_RESNET_V1, EDGEFACE_XS_INT8, MODEL_SPECS

__all__ = [
    "MODEL_SPECS",
    "create_embedder",
    "create_embedder_for_model",
    "embedder_for_model",
]


def create_embedder(settings: VisionSettings) -> Embedder:
    """The embedder named by ``settings.embedder``; its model loads on first use.

    ``edgeface``: EdgeFace-XS int8 (shipped); ``dlib`` and ``onnx``: dlib's ResNet on
    onnxruntime; ``dlib_native``: dlib's ResNet on dlib itself (the same descriptors, slower).
    """
    match settings.embedder:
        case "edgeface":
            return EdgeFaceEmbedder(
                threads=settings.embedder_threads, batch_size=settings.embedder_batch_size
            )
        case "dlib" | "onnx":
            return OnnxResNetEmbedder(
                cache_dir=settings.model_cache_dir,
                threads=settings.embedder_threads,
                batch_size=settings.embedder_batch_size,
            )
        case "dlib_native":
            return DlibResNetEmbedder()
        case other:
            raise ConfigurationError(f"unknown embedder {other!r}")


def embedder_for_model(model_id: str, settings: VisionSettings) -> Embedder:
    """An embedder that makes ``model_id``'s vectors (to keep serving a model being replaced).

    When ``settings.embedder`` makes that model already, that is the embedder given.
    """
    wanted = create_embedder(settings)
    if wanted.model_id == model_id:
        return wanted
    return create_embedder_for_model(
        model_id,
        threads=settings.embedder_threads,
        batch_size=settings.embedder_batch_size,
        cache_dir=settings.model_cache_dir,
    )


def create_embedder_for_model(
    model_id: str, *, threads: int = 0, batch_size: int = 32, cache_dir: Path | None = None
) -> Embedder:
    """The embedder that makes ``model_id`` (``ModelUnavailable`` for an unknown id); no
    server settings needed (the edge agent follows the server's model with it)."""
    match model_id:
        case EDGEFACE_XS_INT8.model_id:
            return EdgeFaceEmbedder(threads=threads, batch_size=batch_size)
        case DLIB_RESNET_V1.model_id:
            return OnnxResNetEmbedder(cache_dir=cache_dir, threads=threads, batch_size=batch_size)
        case _:
            known = ", ".join(sorted(MODEL_SPECS))
            raise ModelUnavailable(f"no embedder makes model {model_id!r} (known: {known})")
