"""A second detector behind HOG: LFW faces HOG misses are found by the packaged Ultra-Light.

The photos below are among the 33 of LFW DevTrain's 9,525 in which HOG (upsampled, with the
padded retry) finds no face (benchmarks/bench_detection_misses.py); each holds one centred,
labelled face.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.errors import ModelUnavailable
from facewatch.types import DetectedFace, RGBImage
from facewatch.vision.detectors import FaceDetector, HogDetector, UltraLightOnnxDetector
from facewatch.vision.detectors.onnx_ultralight import PACKAGED_MODEL, PACKAGED_SHA256
from facewatch.vision.embedders import DlibResNetEmbedder
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

from .conftest import EXAMPLES, ImageLoader

pytestmark = pytest.mark.testdata

HOG_MISSES = [
    "lfw_devtrain/lfw/Andy_Roddick/Andy_Roddick_0005.jpg",
    "lfw_devtrain/lfw/Jon_Stewart/Jon_Stewart_0001.jpg",
    "lfw_devtrain/lfw/Morgan_Freeman/Morgan_Freeman_0002.jpg",
    "lfw_devtrain/lfw/Rudolph_Giuliani/Rudolph_Giuliani_0012.jpg",
]


class FakeDetector(FaceDetector):
    """A fallback that finds nothing and counts how often it was asked."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _load(self) -> None:
        pass

    def _detect(self, image: RGBImage) -> list[DetectedFace]:
        self.calls += 1
        return []


@pytest.fixture(scope="module")
def packaged() -> UltraLightOnnxDetector:
    return UltraLightOnnxDetector(threads=1, keep_aspect=True)


@pytest.fixture(scope="module")
def hog_only(hog: HogDetector, landmarker: Landmarker) -> FaceAnalyzer:
    return FaceAnalyzer(hog, landmarker, DlibResNetEmbedder())


@pytest.fixture(scope="module")
def with_fallback(
    hog: HogDetector,
    landmarker: Landmarker,
    embedder: DlibResNetEmbedder,
    packaged: UltraLightOnnxDetector,
) -> FaceAnalyzer:
    return FaceAnalyzer(hog, landmarker, embedder, fallback=packaged)


def is_centred(face: DetectedFace, image: RGBImage, tolerance: int = 45) -> bool:
    height, width = image.shape[:2]
    centre_x = (face.box.left + face.box.right) / 2
    centre_y = (face.box.top + face.box.bottom) / 2
    return abs(centre_x - width / 2) <= tolerance and abs(centre_y - height / 2) <= tolerance


@pytest.mark.parametrize("photo", HOG_MISSES)
def test_hog_alone_finds_no_face_in_these_photos(
    hog_only: FaceAnalyzer, load: ImageLoader, photo: str
) -> None:
    assert hog_only.detect(load(photo)) == []


@pytest.mark.parametrize("photo", HOG_MISSES)
def test_the_fallback_finds_the_centred_face_and_it_is_embedded(
    with_fallback: FaceAnalyzer, load: ImageLoader, photo: str
) -> None:
    image = load(photo)
    faces = with_fallback.analyze(image)

    centred = [f for f in faces if is_centred(DetectedFace(f.box, f.detector_score), image)]
    assert len(centred) == 1
    assert centred[0].embedding is not None


def test_the_fallback_finds_the_face_of_a_crop_hog_misses(
    with_fallback: FaceAnalyzer, hog_only: FaceAnalyzer, load: ImageLoader
) -> None:
    crop = np.ascontiguousarray(load(HOG_MISSES[0])[65:185, 65:185])  # an edge-sized crop

    assert hog_only.detect(crop) == []
    assert len(with_fallback.detect(crop)) == 1


def test_the_fallback_is_not_asked_when_hog_finds_a_face(
    hog: HogDetector, landmarker: Landmarker, load: ImageLoader
) -> None:
    fake = FakeDetector()
    analyzer = FaceAnalyzer(hog, landmarker, DlibResNetEmbedder(), fallback=fake)

    assert len(analyzer.detect(load(f"{EXAMPLES}/obama.jpg"))) == 1
    assert fake.calls == 0


def test_with_no_face_anywhere_both_detectors_are_asked_once(
    hog: HogDetector, landmarker: Landmarker
) -> None:
    fake = FakeDetector()
    analyzer = FaceAnalyzer(hog, landmarker, DlibResNetEmbedder(), fallback=fake)

    assert analyzer.detect(np.full((480, 640, 3), 90, dtype=np.uint8)) == []
    assert fake.calls == 1


def test_the_server_analyzer_puts_the_packaged_detector_behind_hog(tmp_path: Path) -> None:
    analyzer = create_analyzer(Settings(data_dir=tmp_path, detector="hog"))

    assert isinstance(analyzer.detector, HogDetector)
    assert isinstance(analyzer.fallback, UltraLightOnnxDetector)
    assert analyzer.fallback.model_path == PACKAGED_MODEL


def test_the_packaged_detector_file_is_the_one_checked_at_load() -> None:
    assert hashlib.sha256(PACKAGED_MODEL.read_bytes()).hexdigest() == PACKAGED_SHA256
    assert UltraLightOnnxDetector().input_size == (480, 640)


def test_a_damaged_model_file_is_refused_by_its_checksum(tmp_path: Path) -> None:
    damaged = tmp_path / "ultra_light_640.onnx"
    shutil.copyfile(PACKAGED_MODEL, damaged)
    with damaged.open("r+b") as file:
        file.seek(1000)
        file.write(b"\x00\x01\x02\x03")

    with pytest.raises(ModelUnavailable, match="sha256"):
        UltraLightOnnxDetector(damaged, sha256=PACKAGED_SHA256).load()


def test_keeping_the_aspect_ratio_gives_boxes_in_the_image_frame(
    packaged: UltraLightOnnxDetector, load: ImageLoader
) -> None:
    image = load(f"{EXAMPLES}/obama.jpg")
    stretched = UltraLightOnnxDetector(threads=1).detect(image)
    kept = packaged.detect(image)

    assert len(kept) == len(stretched) == 1
    assert kept[0].box.iou(stretched[0].box) > 0.6


class ScaleRecorder(FakeDetector):
    """A fallback that finds nothing and records at which scale it was asked (detect's
    ``native_scale``) and the image sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[bool, tuple[int, int]]] = []

    def detect(self, image: RGBImage, *, native_scale: bool = False) -> list[DetectedFace]:
        self.asked.append((native_scale, image.shape[:2]))
        return super().detect(image, native_scale=native_scale)


def test_a_crop_hog_misses_is_looked_at_natively_at_320_px_first_then_stretched(
    hog: HogDetector, landmarker: Landmarker
) -> None:
    recorder = ScaleRecorder()
    analyzer = FaceAnalyzer(hog, landmarker, DlibResNetEmbedder(), fallback=recorder)
    crop = np.full((100, 80, 3), 90, dtype=np.uint8)  # a crop-sized image with no face

    assert analyzer.detect(crop) == []
    # a 50% border makes it 180 x 160; scaled to a 320 px shorter side: 360 x 320
    assert recorder.asked == [(True, (360, 320)), (False, (180, 160))]


def test_the_native_look_finds_the_face_of_a_crop_hog_misses(
    with_fallback: FaceAnalyzer, load: ImageLoader
) -> None:
    crop = np.ascontiguousarray(load(HOG_MISSES[0])[65:185, 65:185])
    analyzer = FaceAnalyzer(
        with_fallback.detector, with_fallback.landmarker, with_fallback.embedder
    )
    native = analyzer_with_native_only(with_fallback)

    (face,) = native.detect(crop)
    assert is_centred(face, crop, tolerance=25)
    assert analyzer.detect(crop) == []  # HOG alone: nothing


def analyzer_with_native_only(analyzer: FaceAnalyzer) -> FaceAnalyzer:
    """The analyzer whose fallback answers only when asked at native scale."""
    assert analyzer.fallback is not None
    inner = analyzer.fallback

    class NativeOnly(FakeDetector):
        def detect(self, image: RGBImage, *, native_scale: bool = False) -> list[DetectedFace]:
            return inner.detect(image, native_scale=True) if native_scale else []

    return FaceAnalyzer(
        analyzer.detector, analyzer.landmarker, analyzer.embedder, fallback=NativeOnly()
    )
