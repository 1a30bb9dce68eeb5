"""Session-wide models and images for the vision tests (models load once, images decode once)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facewatch.types import RGBImage
from facewatch.vision.detectors import (
    FaceDetector,
    HaarDetector,
    HogDetector,
    UltraLightOnnxDetector,
)
from facewatch.vision.embedders import DlibResNetEmbedder
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.pipeline import FaceAnalyzer

EXAMPLES = "face_recognition_examples/examples"
KNN_TRAIN = f"{EXAMPLES}/knn_examples/train"
JOHNS = "dlib_faces/johns"
ULTRA_LIGHT_640 = "ultra_light_640.onnx"

ImageLoader = Callable[[str], RGBImage]


@pytest.fixture(scope="session")
def load(testdata: Path) -> ImageLoader:
    """Decode a test-data image (path relative to the test-data folder) once per session."""

    @cache
    def load_rgb(relative: str) -> RGBImage:
        with Image.open(testdata / relative) as image:
            rgb = np.array(image.convert("RGB"))
        rgb.flags.writeable = False  # shared between tests
        return rgb

    return load_rgb


@pytest.fixture(scope="session")
def hog() -> HogDetector:
    return HogDetector()


@pytest.fixture(scope="session")
def haar() -> HaarDetector:
    return HaarDetector()


@pytest.fixture(scope="session")
def onnx_detector(shared_models: Path) -> UltraLightOnnxDetector:
    return UltraLightOnnxDetector(shared_models / ULTRA_LIGHT_640)


@pytest.fixture(scope="session")
def landmarker() -> Landmarker:
    return Landmarker()


@pytest.fixture(scope="session")
def embedder() -> DlibResNetEmbedder:
    return DlibResNetEmbedder()


@pytest.fixture(scope="session")
def analyzer(
    hog: HogDetector, landmarker: Landmarker, embedder: DlibResNetEmbedder
) -> FaceAnalyzer:
    return FaceAnalyzer(hog, landmarker, embedder)


@pytest.fixture(params=["hog", "haar", "onnx_detector"])
def detector(request: pytest.FixtureRequest) -> FaceDetector:
    """Each detector in turn."""
    found: FaceDetector = request.getfixturevalue(request.param)
    return found
