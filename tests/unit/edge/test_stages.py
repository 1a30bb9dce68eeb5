"""Small stages: motion gating, candidate boxes back in frame pixels, crop encoding."""

from __future__ import annotations

import numpy as np
import pytest

from facewatch.edge.config import CropConfig, DetectorConfig
from facewatch.edge.detection import CandidateDetector, create_candidate_detector
from facewatch.edge.encoder import CropEncoder
from facewatch.edge.motion import MotionGate
from facewatch.types import Box, DetectedFace, RGBImage
from facewatch.vision.detectors import FaceDetector, HaarDetector, HogDetector


def noise(seed: int, height: int = 120, width: int = 160) -> RGBImage:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_a_still_scene_is_gated_until_the_keepalive() -> None:
    gate = MotionGate(threshold=0.01, keepalive=2.0)
    still = noise(1)
    assert gate.moved(still, 0.0)
    assert not gate.moved(still.copy(), 0.5)
    assert not gate.moved(still.copy(), 1.9)
    assert gate.moved(still.copy(), 2.0)


def test_a_changed_scene_goes_through_the_gate() -> None:
    gate = MotionGate(threshold=0.01, keepalive=60.0)
    scene = np.zeros((120, 160, 3), dtype=np.uint8)
    assert gate.moved(scene, 0.0)
    walker = scene.copy()
    walker[40:100, 60:90] = 255
    assert gate.moved(walker, 0.2)


class FakeDetector(FaceDetector):
    """Finds one face at a fixed place of whatever image it gets; remembers its size."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.seen: tuple[int, ...] = ()

    def _load(self) -> None:
        pass

    def _detect(self, image: RGBImage) -> list[DetectedFace]:
        self.seen = image.shape
        return [DetectedFace(Box(10, 20, 40, 50), 0.9)]


def test_candidates_are_found_downscaled_and_mapped_back_to_the_frame() -> None:
    fake = FakeDetector()
    (candidate,) = CandidateDetector(fake, width=480).detect(noise(2, 1080, 1920))
    assert fake.seen == (270, 480, 3)
    assert candidate.box == Box(40, 80, 160, 200)


def test_a_frame_narrower_than_the_detection_width_is_not_upscaled() -> None:
    fake = FakeDetector()
    (candidate,) = CandidateDetector(fake, width=960).detect(noise(3, 240, 320))
    assert fake.seen == (240, 320, 3)
    assert candidate.box == Box(10, 20, 40, 50)


@pytest.mark.parametrize(("kind", "cls"), [("hog", HogDetector), ("haar", HaarDetector)])
def test_the_factory_builds_the_configured_detector(kind: str, cls: type) -> None:
    detector = create_candidate_detector(DetectorConfig(kind=kind, width=640))  # type: ignore[arg-type]
    assert isinstance(detector.detector, cls)
    assert detector.width == 640


@pytest.mark.parametrize(
    ("image_format", "magic", "media_type"),
    [("jpeg", b"\xff\xd8\xff", "image/jpeg"), ("webp", b"RIFF", "image/webp")],
)
def test_crops_are_scaled_to_the_maximum_and_encoded(
    image_format: str, magic: bytes, media_type: str
) -> None:
    encoder = CropEncoder(CropConfig(format=image_format, max_size=150))  # type: ignore[arg-type]
    encoded = encoder.encode(noise(4, 300, 200))
    assert encoded.data.startswith(magic)
    assert encoded.media_type == media_type
    assert (encoded.width, encoded.height) == (100, 150)


def test_a_small_crop_keeps_its_size() -> None:
    encoded = CropEncoder(CropConfig()).encode(noise(5, 80, 60))
    assert (encoded.width, encoded.height) == (60, 80)


def test_lower_quality_means_fewer_bytes() -> None:
    crop = noise(6, 150, 150)
    low = CropEncoder(CropConfig(quality=30)).encode(crop)
    high = CropEncoder(CropConfig(quality=90)).encode(crop)
    assert len(low.data) < len(high.data)
