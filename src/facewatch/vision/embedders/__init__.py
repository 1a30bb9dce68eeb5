"""Face embedders: one interface (``Embedder``), implementations side by side, one factory.

Each model declares itself (``ModelSpec``: id, dimension, metric, chip, recognition
defaults); ``specs.py`` holds them all, ``MODEL_SPECS`` by model id.
"""

from facewatch.vision.embedders.base import Embedder, ModelSpec, RecognitionDefaults
from facewatch.vision.embedders.dlib_resnet import DlibResNetEmbedder
from facewatch.vision.embedders.edgeface import EdgeFaceEmbedder, EdgeFaceFloatEmbedder
from facewatch.vision.embedders.factory import create_embedder, embedder_for_model
from facewatch.vision.embedders.onnx_resnet import OnnxResNetEmbedder
from facewatch.vision.embedders.specs import MODEL_SPECS

__all__ = [
    "MODEL_SPECS",
    "DlibResNetEmbedder",
    "EdgeFaceEmbedder",
    "EdgeFaceFloatEmbedder",
    "Embedder",
    "ModelSpec",
    "OnnxResNetEmbedder",
    "RecognitionDefaults",
    "create_embedder",
    "embedder_for_model",
]
