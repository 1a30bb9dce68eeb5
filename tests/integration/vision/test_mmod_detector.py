"""dlib's MMOD CNN face detector converted to ONNX, against dlib's own CNN on real photos."""

from __future__ import annotations

from pathlib import Path

import dlib
import pytest

from facewatch.config import Settings
from facewatch.types import Box
from facewatch.vision.detectors import create_detector
from facewatch.vision.detectors.mmod_cnn import MmodCnnDetector
from facewatch.vision.image import load_image
from facewatch.vision.models import cnn_face_detector_path

PHOTOS = ["dlib_faces/2008_002506.jpg", "face_recognition_examples/examples/two_people.jpg"]
SAME_FACE_IOU = 0.5


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> MmodCnnDetector:
    return MmodCnnDetector(cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def dlib_cnn() -> dlib.cnn_face_detection_model_v1:
    return dlib.cnn_face_detection_model_v1(str(cnn_face_detector_path()))


@pytest.mark.parametrize("photo", PHOTOS)
def test_the_converted_detector_finds_the_faces_dlibs_cnn_finds_and_no_others(
    converted: MmodCnnDetector,
    dlib_cnn: dlib.cnn_face_detection_model_v1,
    testdata: Path,
    photo: str,
) -> None:
    image = load_image(testdata / photo, max_pixels=10**7)
    expected = [
        Box(d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1)
        for d in dlib_cnn(image, 0)
    ]

    found = [face.box for face in converted.detect(image)]

    assert len(found) == len(expected) >= 2
    for box in expected:
        assert max(box.iou(other) for other in found) >= SAME_FACE_IOU


def test_detector_mmod_in_the_settings_gives_the_converted_detector(tmp_path: Path) -> None:
    detector = create_detector(Settings(detector="mmod", mmod_upsample=1, model_cache_dir=tmp_path))

    assert isinstance(detector, MmodCnnDetector)
    assert detector.upsample == 1
