"""Face embedders: one interface (``Embedder``), implementations side by side, one factory."""

from facewatch.vision.embedders.base import Embedder
from facewatch.vision.embedders.dlib_resnet import DlibResNetEmbedder
from facewatch.vision.embedders.factory import create_embedder

__all__ = ["DlibResNetEmbedder", "Embedder", "create_embedder"]
