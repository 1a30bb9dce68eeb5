"""Jittered enrolment chips: the unmoved copy is the aligned chip, the others move as asked."""

from __future__ import annotations

import numpy as np
import pytest

from facewatch.types import Box, Landmarks, RGBImage
from facewatch.vision.align import align_face
from facewatch.vision.augment import (
    ENROLMENT_JITTERS,
    IDENTITY,
    Jitter,
    jittered_chips,
    template_of,
)
from facewatch.vision.embedders import DlibResNetEmbedder
from facewatch.vision.landmarks import Landmarker

from .conftest import EXAMPLES, ImageLoader

OBAMA = f"{EXAMPLES}/obama.jpg"
OBAMA_FACE = Box(366, 136, 625, 395)


def _face(landmarker: Landmarker, load: ImageLoader) -> tuple[RGBImage, Landmarks]:
    image = load(OBAMA)
    return image, landmarker.locate(image, OBAMA_FACE)


def _diff(a: RGBImage, b: RGBImage) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_the_unmoved_copy_is_the_aligned_chip(landmarker: Landmarker, load: ImageLoader) -> None:
    image, landmarks = _face(landmarker, load)

    [chip] = jittered_chips(image, OBAMA_FACE, landmarks, [IDENTITY])

    assert chip.shape == (150, 150, 3)
    assert np.array_equal(chip, align_face(image, OBAMA_FACE, landmarks))


def test_the_mirrored_copy_is_the_chip_flipped(landmarker: Landmarker, load: ImageLoader) -> None:
    image, landmarks = _face(landmarker, load)

    plain, mirrored = jittered_chips(image, OBAMA_FACE, landmarks, [IDENTITY, Jitter(flip=True)])

    assert np.array_equal(mirrored, plain[:, ::-1])


@pytest.mark.parametrize(("dx", "dy"), [(4, 0), (-4, 0), (0, 4), (0, -4)])
def test_a_shifted_copy_is_the_chip_moved_by_that_many_pixels(
    landmarker: Landmarker, load: ImageLoader, dx: int, dy: int
) -> None:
    image, landmarks = _face(landmarker, load)

    plain, moved = jittered_chips(image, OBAMA_FACE, landmarks, [IDENTITY, Jitter(dx=dx, dy=dy)])

    inner = np.s_[10:140, 10:140]
    shifted = np.s_[10 + dy : 140 + dy, 10 + dx : 140 + dx]
    assert _diff(moved[shifted], plain[inner]) < 1.0
    assert _diff(moved, plain) > 3.0


def test_copies_are_the_same_every_time(landmarker: Landmarker, load: ImageLoader) -> None:
    image, landmarks = _face(landmarker, load)

    first = jittered_chips(image, OBAMA_FACE, landmarks, ENROLMENT_JITTERS)
    again = jittered_chips(image, OBAMA_FACE, landmarks, ENROLMENT_JITTERS)

    assert len(first) == len(ENROLMENT_JITTERS)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_the_template_of_the_copies_stays_near_the_face(
    landmarker: Landmarker, embedder: DlibResNetEmbedder, load: ImageLoader
) -> None:
    image, landmarks = _face(landmarker, load)
    vectors = embedder.embed(jittered_chips(image, OBAMA_FACE, landmarks, ENROLMENT_JITTERS))

    template = template_of(vectors)

    assert np.linalg.norm(template - vectors[0]) < 0.2  # well inside one person (~0.5)
    assert np.linalg.norm(template) == pytest.approx(np.linalg.norm(vectors, axis=1).mean())


def test_a_template_is_the_mean_direction_at_the_mean_length() -> None:
    vectors = np.array([[2.0, 0.0], [0.0, 4.0]])

    template = template_of(vectors)

    # the mean [1, 2], stretched to the vectors' mean length 3
    assert np.allclose(template, np.array([1.0, 2.0]) * 3.0 / np.sqrt(5.0))


def test_jitter_needs_the_five_point_landmarks(load: ImageLoader) -> None:
    with pytest.raises(ValueError, match="5 dlib landmarks"):
        jittered_chips(load(OBAMA), OBAMA_FACE, Landmarks(((1.0, 1.0),) * 68), [IDENTITY])
