"""The one place that turns ``settings.embedder`` into an ``Embedder``."""

from __future__ import annotations

from facewatch.config import Settings
from facewatch.errors import ConfigurationError
from facewatch.vision.embedders.base import Embedder
from facewatch.vision.embedders.dlib_resnet import DlibResNetEmbedder


def create_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.embedder``; its model loads on first use."""
    match settings.embedder:
        case "dlib":
            return DlibResNetEmbedder()
        case other:
            raise ConfigurationError(f"unknown embedder {other!r}")
