"""dlib's five landmarks land where eyes and nose are."""

from __future__ import annotations

from facewatch.types import Box
from facewatch.vision.landmarks import Landmarker

from .conftest import EXAMPLES, ImageLoader

OBAMA = f"{EXAMPLES}/obama.jpg"
OBAMA_FACE = Box(366, 136, 625, 395)


def test_there_are_five_points_inside_the_face_box(
    landmarker: Landmarker, load: ImageLoader
) -> None:
    landmarks = landmarker.locate(load(OBAMA), OBAMA_FACE)

    assert len(landmarks.points) == 5
    for x, y in landmarks.points:
        assert OBAMA_FACE.left <= x < OBAMA_FACE.right
        assert OBAMA_FACE.top <= y < OBAMA_FACE.bottom


def test_both_eyes_are_above_the_nose(landmarker: Landmarker, load: ImageLoader) -> None:
    landmarks = landmarker.locate(load(OBAMA), OBAMA_FACE)

    assert landmarks.eye_a[1] < landmarks.nose[1]
    assert landmarks.eye_b[1] < landmarks.nose[1]


def test_the_nose_lies_between_the_eyes_and_the_subjects_left_eye_on_the_image_right(
    landmarker: Landmarker, load: ImageLoader
) -> None:
    landmarks = landmarker.locate(load(OBAMA), OBAMA_FACE)

    assert landmarks.eye_b[0] < landmarks.nose[0] < landmarks.eye_a[0]


def test_the_eyes_are_a_plausible_distance_apart(landmarker: Landmarker, load: ImageLoader) -> None:
    landmarks = landmarker.locate(load(OBAMA), OBAMA_FACE)

    eye_distance = landmarks.eye_a[0] - landmarks.eye_b[0]
    assert 0.25 * OBAMA_FACE.width < eye_distance < 0.6 * OBAMA_FACE.width
