"""The Ultra-Light detector at an image's own size: the same faces as the shipped file's own
decoding at 640 x 480, and faces of a wide frame or of a small region of it at their pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facewatch.types import RGBImage
from facewatch.vision.detectors import UltraLightOnnxDetector
from facewatch.vision.detectors.onnx_ultralight import make_anchors

from .conftest import ImageLoader

pytestmark = pytest.mark.testdata

MULTIFACE = "facenet_pytorch/data/multiface.jpg"


@pytest.fixture(scope="module")
def detector() -> UltraLightOnnxDetector:
    return UltraLightOnnxDetector(threads=1)


def resized(image: RGBImage, width: int, height: int) -> RGBImage:
    return np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))


def test_at_the_model_size_native_decoding_finds_the_files_own_faces(
    detector: UltraLightOnnxDetector, load: ImageLoader
) -> None:
    image = resized(load(MULTIFACE), 640, 480)

    own = detector.detect(image)
    native = detector.detect(image, native_scale=True)

    assert len(own) == len(native) == 6
    for a, b in zip(own, native, strict=True):
        assert a.box.iou(b.box) > 0.95
        assert abs(a.score - b.score) < 1e-3


def test_a_region_cut_from_a_frame_yields_its_faces_in_region_pixels(
    detector: UltraLightOnnxDetector, load: ImageLoader
) -> None:
    image = resized(load(MULTIFACE), 640, 480)
    whole = detector.detect(image, native_scale=True)
    face = whole[0].box
    left, top = max(face.left - 60, 0), max(face.top - 60, 0)
    region = np.ascontiguousarray(image[top : face.bottom + 60, left : face.right + 60])

    found = detector.detect(region, native_scale=True)

    assert any(f.box.moved(left, top).iou(face) > 0.8 for f in found)


def test_anchors_cover_every_feature_map_cell() -> None:
    anchors = make_anchors(480, 640)
    assert anchors.shape == (17640, 4)  # the shipped file's anchor count
    assert make_anchors(128, 192).shape == (
        (16 * 24) * 3 + (8 * 12) * 2 + (4 * 6) * 2 + 2 * 3 * 3,
        4,
    )
    assert anchors.min() >= 0.0
    assert anchors.max() <= 1.0
