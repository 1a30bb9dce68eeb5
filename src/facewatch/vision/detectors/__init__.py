"""Face detectors: one interface (``FaceDetector``), implementations side by side, one factory."""

from facewatch.vision.detectors.base import FaceDetector
from facewatch.vision.detectors.factory import create_detector
from facewatch.vision.detectors.haar import HaarDetector
from facewatch.vision.detectors.hog import HogDetector
from facewatch.vision.detectors.onnx_ultralight import UltraLightOnnxDetector

__all__ = [
    "FaceDetector",
    "HaarDetector",
    "HogDetector",
    "UltraLightOnnxDetector",
    "create_detector",
]
