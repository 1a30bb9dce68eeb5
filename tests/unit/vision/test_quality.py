"""Face quality: every known-good face passes the enrolment gate; blurred, tiny, turned fail."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.types import Box, Face, Landmarks, Quality, RGBImage
from facewatch.vision.detectors import HogDetector
from facewatch.vision.pipeline import FaceAnalyzer
from facewatch.vision.quality import (
    MIN_ENROLMENT_SHARPNESS,
    EnrolmentProblem,
    enrolment_face,
    enrolment_problem,
    estimate_roll,
    estimate_yaw,
    face_sharpness,
)

from .conftest import EXAMPLES, JOHNS, KNN_TRAIN, ImageLoader

DEFAULTS = Settings()
GOOD_FACE_FOLDERS = [
    *(f"{KNN_TRAIN}/{person}" for person in ("alex_lacamoire", "biden", "kit_harington")),
    *(f"{KNN_TRAIN}/{person}" for person in ("obama", "rose_leslie")),
    *(f"{JOHNS}/{john}" for john in ("John_Salley", "John_Savage", "John_Schneider")),
    *(f"{JOHNS}/{john}" for john in ("John_Shimkus", "John_Simm")),
]


def gate(quality: Quality) -> EnrolmentProblem | None:
    """The enrolment gate with the default settings and the sharpness calibrated on LFW."""
    return enrolment_problem(
        quality,
        min_size=DEFAULTS.min_face_size,
        min_sharpness=MIN_ENROLMENT_SHARPNESS,
        max_yaw=DEFAULTS.max_yaw,
    )


def largest_face(analyzer: FaceAnalyzer, image: RGBImage) -> Face:
    return max(analyzer.analyze(image, embed=False), key=lambda face: face.box.area)


@pytest.mark.parametrize("folder", GOOD_FACE_FOLDERS)
def test_every_known_good_face_passes_the_enrolment_gate(
    analyzer: FaceAnalyzer, load: ImageLoader, testdata: Path, folder: str
) -> None:
    photos = sorted((testdata / folder).iterdir())
    problems = {}
    for photo in photos:
        quality = largest_face(analyzer, load(str(photo.relative_to(testdata)))).quality
        if gate(quality) is not None:
            problems[photo.name] = (gate(quality), quality)

    assert photos
    assert problems == {}


@pytest.mark.parametrize(
    "photo", [f"{EXAMPLES}/two_people.jpg", f"{EXAMPLES}/obama-480p.jpg", f"{EXAMPLES}/biden.jpg"]
)
def test_a_heavily_blurred_photo_is_too_blurry(
    analyzer: FaceAnalyzer, load: ImageLoader, photo: str
) -> None:
    blurred = cv2.GaussianBlur(load(photo), (0, 0), sigmaX=6)

    faces = analyzer.analyze(np.ascontiguousarray(blurred), embed=False)

    assert faces
    assert [gate(face.quality) for face in faces] == ["too_blurry"] * len(faces)


def test_a_face_shrunk_to_30_pixels_is_too_small(analyzer: FaceAnalyzer, load: ImageLoader) -> None:
    image = load(f"{EXAMPLES}/obama.jpg")  # face about 260 px wide
    tiny = cv2.resize(image, None, fx=30 / 260, fy=30 / 260, interpolation=cv2.INTER_AREA)
    finds_tiny_faces = FaceAnalyzer(HogDetector(upsample=2), analyzer.landmarker, analyzer.embedder)

    face = largest_face(finds_tiny_faces, np.ascontiguousarray(tiny))

    assert face.quality.size < 40
    assert gate(face.quality) == "too_small"


def test_a_head_turned_about_45_degrees_is_not_frontal(
    analyzer: FaceAnalyzer, load: ImageLoader
) -> None:
    face = largest_face(analyzer, load("intel_sample_videos/head-pose-face-detection-female.gif"))

    # The GIF's faces are small and soft: only the pose check is under test here.
    pose_only = enrolment_problem(
        face.quality, min_size=0, min_sharpness=0, max_yaw=DEFAULTS.max_yaw
    )

    assert face.quality.yaw < -DEFAULTS.max_yaw
    assert pose_only == "not_frontal"


def test_a_sharp_frontal_face_scores_higher_than_its_blurred_copy(
    analyzer: FaceAnalyzer, load: ImageLoader
) -> None:
    image = load(f"{EXAMPLES}/obama-480p.jpg")
    blurred = np.ascontiguousarray(cv2.GaussianBlur(image, (0, 0), sigmaX=2))

    sharp, soft = largest_face(analyzer, image), largest_face(analyzer, blurred)

    assert 0.0 <= soft.quality.score < sharp.quality.score <= 1.0


def eyes_and_nose(
    eye_a: tuple[float, float], eye_b: tuple[float, float], nose: tuple[float, float]
) -> Landmarks:
    """Five points from two eye centres (each given as two identical corners) and a nose."""
    return Landmarks((eye_a, eye_a, eye_b, eye_b, nose))


@pytest.mark.parametrize(
    ("nose_x", "expected_yaw"),
    [(100.0, 0.0), (112.9, 26.6), (87.1, -26.6), (100.0 + 0.43 * 60, 45.0)],
    ids=["centred", "a little right", "a little left", "45 degrees"],
)
def test_yaw_follows_the_noses_offset_from_the_eye_midpoint(
    nose_x: float, expected_yaw: float
) -> None:
    landmarks = eyes_and_nose((130.0, 100.0), (70.0, 100.0), (nose_x, 140.0))

    assert estimate_yaw(landmarks) == pytest.approx(expected_yaw, abs=0.1)


@pytest.mark.parametrize(
    ("eye_a", "eye_b", "expected_roll"),
    [((130.0, 100.0), (70.0, 100.0), 0.0), ((130.0, 160.0), (70.0, 100.0), 45.0)],
    ids=["level", "tilted clockwise"],
)
def test_roll_is_the_angle_of_the_eye_line(
    eye_a: tuple[float, float], eye_b: tuple[float, float], expected_roll: float
) -> None:
    landmarks = eyes_and_nose(eye_a, eye_b, (100.0, 150.0))

    assert estimate_roll(landmarks) == pytest.approx(expected_roll)


@pytest.mark.parametrize(
    ("size", "sharpness", "yaw", "expected"),
    [
        (120, 300.0, 5.0, None),
        (60, MIN_ENROLMENT_SHARPNESS, 40.0, None),
        (59, 300.0, 0.0, "too_small"),
        (120, MIN_ENROLMENT_SHARPNESS - 0.1, 0.0, "too_blurry"),
        (120, 300.0, 40.1, "not_frontal"),
        (120, 300.0, -40.1, "not_frontal"),
        (30, 5.0, 60.0, "too_small"),
    ],
)
def test_enrolment_problem_names_the_first_failed_check(
    size: int, sharpness: float, yaw: float, expected: EnrolmentProblem | None
) -> None:
    quality = Quality(score=0.5, size=size, sharpness=sharpness, yaw=yaw, roll=0.0)

    assert gate(quality) == expected


def square(left: int, side: int) -> Box:
    return Box(left, 0, left + side, side)


@pytest.mark.parametrize(
    ("sides", "expected"),
    [
        ([], None),
        ([120], 0),
        ([40], 0),  # alone but small: chosen, and the gate says too_small
        ([120, 50], 0),  # the other face is under min_face_size
        ([50, 120], 1),
        ([120, 84], 0),  # 2.04x the area
        ([120, 85], None),  # 1.99x: two faces compete
        ([100, 100], None),
        ([130, 80, 70], 0),
        ([130, 92, 70], None),
    ],
)
def test_a_photo_enrols_its_only_big_face_or_one_that_dominates_the_others(
    sides: list[int], expected: int | None
) -> None:
    boxes = [square(300 * n, side) for n, side in enumerate(sides)]

    assert enrolment_face(boxes, min_size=60) == expected


@pytest.mark.parametrize("side", [150, 112, 80])
def test_sharpness_is_measured_at_one_size_whatever_the_chip(side: int) -> None:
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (112, 112, 3), dtype=np.uint8), (0, 0), 1.5)
    chip = cv2.resize(texture, (side, side), interpolation=cv2.INTER_CUBIC)

    assert face_sharpness(np.ascontiguousarray(chip)) == pytest.approx(
        face_sharpness(np.ascontiguousarray(texture)), rel=0.35
    )
