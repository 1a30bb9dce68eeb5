"""Aligned chips: 150 x 150, upright, the same face whatever its tilt in the photo."""

from __future__ import annotations

import cv2
import numpy as np

from facewatch.types import Box, RGBImage
from facewatch.vision.align import align_face
from facewatch.vision.detectors import HogDetector
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.quality import estimate_roll

from .conftest import EXAMPLES, ImageLoader

OBAMA = f"{EXAMPLES}/obama.jpg"
OBAMA_FACE = Box(366, 136, 625, 395)


def rotated(image: RGBImage, degrees: float) -> RGBImage:
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return np.ascontiguousarray(cv2.warpAffine(image, turn, (width, height)))


def test_the_chip_is_a_150_pixel_square_rgb_image(
    landmarker: Landmarker, load: ImageLoader
) -> None:
    image = load(OBAMA)

    chip = align_face(image, OBAMA_FACE, landmarker.locate(image, OBAMA_FACE))

    assert chip.shape == (150, 150, 3)
    assert chip.dtype == np.uint8


def test_a_chip_of_another_size_can_be_asked_for(landmarker: Landmarker, load: ImageLoader) -> None:
    image = load(OBAMA)

    chip = align_face(image, OBAMA_FACE, landmarker.locate(image, OBAMA_FACE), size=112)

    assert chip.shape == (112, 112, 3)


def test_a_tilted_face_comes_out_with_level_eyes(
    hog: HogDetector, landmarker: Landmarker, load: ImageLoader
) -> None:
    tilted = rotated(load(f"{EXAMPLES}/obama-480p.jpg"), 20)
    box = hog.detect(tilted)[0].box
    tilted_landmarks = landmarker.locate(tilted, box)

    chip = align_face(tilted, box, tilted_landmarks)
    chip_roll = estimate_roll(landmarker.locate(chip, hog.detect(chip)[0].box))

    assert abs(estimate_roll(tilted_landmarks)) > 15
    assert abs(chip_roll) < 3
