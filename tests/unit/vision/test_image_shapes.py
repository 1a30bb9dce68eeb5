"""Decoding refuses, from the header alone, image shapes that no camera or photo has."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from facewatch.errors import InvalidImage, PayloadTooLarge
from facewatch.vision.image import MAX_ASPECT_RATIO, check_image_shape, decode_image

CAP = 40_000_000


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("width", "height"),
    [(65535, 1), (4000, 1), (1, 4000), (1000, 1), (128, 128000), (128000, 128), (2001, 100)],
)
def test_a_strip_no_camera_makes_is_refused_before_decoding(width: int, height: int) -> None:
    data = png(width, height)
    started = time.monotonic()

    with pytest.raises(InvalidImage, match=f"{width}x{height}"):
        decode_image(data, max_pixels=CAP)

    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    ("width", "height"),
    [(1, 1), (20, 1), (1, 20), (6000, 400), (2000, 100), (4000, 3000), (150, 150)],
)
def test_shapes_cameras_and_panoramas_have_are_decoded(width: int, height: int) -> None:
    image = decode_image(png(width, height), max_pixels=CAP)

    assert image.shape == (height, width, 3)


def test_the_longest_side_is_bounded_even_within_the_pixel_limit() -> None:
    with pytest.raises(InvalidImage, match="longer than"):
        check_image_shape(40_000, 2_500, max_pixels=10**9)


def test_too_many_pixels_is_still_a_payload_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        check_image_shape(8000, 6000, max_pixels=CAP)


def test_the_aspect_limit_is_inclusive() -> None:
    check_image_shape(MAX_ASPECT_RATIO * 7, 7, max_pixels=CAP)
    with pytest.raises(InvalidImage):
        check_image_shape(MAX_ASPECT_RATIO * 7 + 1, 7, max_pixels=CAP)
