"""Every face detector finds the faces of real photos, and nothing in blank ones."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.errors import InvalidImage, ModelUnavailable
from facewatch.types import Box
from facewatch.vision.detectors import (
    FaceDetector,
    HaarDetector,
    HogDetector,
    UltraLightOnnxDetector,
    create_detector,
)
from facewatch.vision.detectors.onnx_ultralight import (
    _inspect,
    dlib_style_box,
    non_max_suppression,
)

from .conftest import EXAMPLES, ULTRA_LIGHT_640, ImageLoader

# Faces as dlib's HOG detector boxes them (checked by eye).
FACES_IN = {
    f"{EXAMPLES}/obama.jpg": [Box(366, 136, 625, 395)],
    f"{EXAMPLES}/two_people.jpg": [Box(253, 47, 409, 203), Box(778, 57, 965, 243)],
}


@pytest.mark.parametrize("photo", list(FACES_IN))
def test_each_detector_finds_every_face_of_the_photo(
    detector: FaceDetector, load: ImageLoader, photo: str
) -> None:
    expected = FACES_IN[photo]

    found = detector.detect(load(photo))

    assert len(found) == len(expected)
    for face in expected:
        assert max(hit.box.iou(face) for hit in found) > 0.6


def test_each_detector_returns_boxes_inside_the_image_best_score_first(
    detector: FaceDetector, load: ImageLoader
) -> None:
    image = load(f"{EXAMPLES}/two_people.jpg")
    height, width = image.shape[:2]

    found = detector.detect(image)

    assert [face.score for face in found] == sorted((f.score for f in found), reverse=True)
    assert all(face.box == face.box.clip(width, height) for face in found)


@pytest.mark.parametrize(
    "blank",
    [
        np.full((480, 640, 3), 128, dtype=np.uint8),
        np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8),
    ],
    ids=["grey", "noise"],
)
def test_each_detector_finds_nothing_in_an_image_without_faces(
    detector: FaceDetector, blank: np.ndarray
) -> None:
    assert detector.detect(blank) == []


def test_each_detector_refuses_an_array_that_is_not_rgb(detector: FaceDetector) -> None:
    with pytest.raises(InvalidImage):
        detector.detect(np.zeros((100, 100), dtype=np.uint8))


@pytest.mark.parametrize(
    ("upsample", "pixels", "expected"),
    [
        (None, 640 * 480, 1),
        (None, 1_000_000, 1),
        (None, 1920 * 1080, 0),
        (0, 640 * 480, 0),
        (2, 1920 * 1080, 2),
    ],
)
def test_hog_upsamples_small_images_in_auto_mode_only(
    upsample: int | None, pixels: int, expected: int
) -> None:
    detector = HogDetector(upsample=upsample, auto_upsample_pixels=1_000_000)

    assert detector.upsample_for(np.zeros((1, pixels, 3), dtype=np.uint8)) == expected


def test_the_onnx_detector_reads_its_input_size_from_the_model(
    onnx_detector: UltraLightOnnxDetector,
) -> None:
    assert onnx_detector.input_size == (480, 640)


def test_a_missing_onnx_model_is_reported_on_first_use_not_at_construction(
    tmp_path: Path,
) -> None:
    detector = UltraLightOnnxDetector(tmp_path / "absent.onnx")

    with pytest.raises(ModelUnavailable, match=r"absent\.onnx"):
        detector.detect(np.zeros((10, 10, 3), dtype=np.uint8))


def test_a_file_that_is_not_an_onnx_model_is_unavailable(tmp_path: Path) -> None:
    bogus = tmp_path / "detector.onnx"
    bogus.write_text("not a model")

    with pytest.raises(ModelUnavailable, match="not a loadable ONNX model"):
        UltraLightOnnxDetector(bogus).load()


def test_non_max_suppression_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.8, 0.9, 0.75], dtype=np.float32)

    assert non_max_suppression(boxes, scores, max_iou=0.3) == [1, 2]


def test_ultra_light_boxes_become_square_dlib_style_boxes() -> None:
    box = dlib_style_box(100.0, 100.0, 200.0, 240.0)

    assert box.width == box.height
    assert (box.top + box.bottom) / 2 > 170  # dlib's boxes sit lower, on eyebrows to chin


@pytest.mark.parametrize(
    ("overrides", "expected_type", "expected_name"),
    [
        ({"detector": "hog"}, HogDetector, "hog"),
        ({"detector": "haar"}, HaarDetector, "haar"),
        (
            {"detector": "onnx", "onnx_detector_path": Path("models") / ULTRA_LIGHT_640},
            UltraLightOnnxDetector,
            "onnx",
        ),
    ],
)
def test_create_detector_builds_the_configured_detector_without_loading_it(
    overrides: dict[str, object], expected_type: type[FaceDetector], expected_name: str
) -> None:
    detector = create_detector(Settings(**overrides))  # type: ignore[arg-type]

    assert isinstance(detector, expected_type)
    assert detector.name == expected_name


def test_create_detector_passes_the_hog_settings_on() -> None:
    detector = create_detector(Settings(hog_upsample=2, hog_auto_upsample_pixels=5))

    assert isinstance(detector, HogDetector)
    assert (detector.upsample, detector.auto_upsample_pixels) == (2, 5)


class FakeNode:
    """Stands in for onnxruntime's NodeArg: a name and a shape."""

    def __init__(self, name: str, shape: list[int | str]) -> None:
        self.name, self.shape = name, shape


class FakeSession:
    """Stands in for an onnxruntime session: only its inputs and outputs."""

    def __init__(self, input_shape: list[int | str], outputs: tuple[str, ...]) -> None:
        self._inputs = [FakeNode("input", input_shape)]
        self._outputs = [FakeNode(name, [1, 4420, 2]) for name in outputs]

    def get_inputs(self) -> list[FakeNode]:
        return self._inputs

    def get_outputs(self) -> list[FakeNode]:
        return self._outputs


@pytest.mark.parametrize(
    ("input_shape", "expected"),
    [([1, 3, 480, 640], (480, 640)), ([1, 3, 240, 320], (240, 320))],
    ids=["RFB-640", "RFB-320"],
)
def test_the_onnx_adapter_accepts_both_ultra_light_input_sizes(
    input_shape: list[int | str], expected: tuple[int, int]
) -> None:
    io = _inspect(FakeSession(input_shape, ("scores", "boxes")), Path("m.onnx"))  # type: ignore[arg-type]

    assert (io.height, io.width) == expected


@pytest.mark.parametrize(
    ("input_shape", "outputs", "message"),
    [
        ([1, 3, "height", "width"], ("scores", "boxes"), "fixed 1x3xHxW input"),
        ([1, 480, 640, 3], ("scores", "boxes"), "fixed 1x3xHxW input"),
        ([1, 3, 480, 640], ("output0",), "not an Ultra-Light face detector"),
    ],
    ids=["dynamic size", "channels last", "other outputs"],
)
def test_the_onnx_adapter_refuses_models_of_another_shape(
    input_shape: list[int | str], outputs: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ModelUnavailable, match=message):
        _inspect(FakeSession(input_shape, outputs), Path("m.onnx"))  # type: ignore[arg-type]


def test_hog_at_native_scale_skips_its_upsampling(hog: HogDetector, load: ImageLoader) -> None:
    image = load(f"{EXAMPLES}/obama-480p.jpg")
    face = hog.detect(image)[0].box
    # Shrunk so that the face (about 50 px) is smaller than HOG's 80 px window.
    scale = 50 / face.width
    small = np.ascontiguousarray(cv2.resize(image, None, fx=scale, fy=scale), dtype=np.uint8)

    assert len(hog.detect(small)) == 1
    assert hog.detect(small, native_scale=True) == []
