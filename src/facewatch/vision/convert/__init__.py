"""Convert dlib's own serialised networks into ONNX graphs that onnxruntime runs.

dlib_format.py   serialize.h primitives: integers, floats, bools, strings, tensors
dlib_dnn.py      a network file -> layer records, checked against a topology
topologies.py    the C++ network types of dlib's published models, as layer lists
onnx_graph.py    layer records -> an ONNX model (input normalisation, folded batch norms)
mmod.py          what a detector needs beside the graph: windows, NMS, output geometry
cache.py         converted models in the user cache dir, keyed by the source's sha256
"""

from facewatch.vision.convert.cache import (
    CONVERTIBLE_MODELS,
    DLIB_MMOD,
    DLIB_RESNET,
    ConvertibleModel,
    convert,
    default_cache_dir,
    ensure_converted,
)

__all__ = [
    "CONVERTIBLE_MODELS",
    "DLIB_MMOD",
    "DLIB_RESNET",
    "ConvertibleModel",
    "convert",
    "default_cache_dir",
    "ensure_converted",
]
