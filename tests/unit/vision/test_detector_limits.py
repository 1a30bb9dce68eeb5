"""Native detectors are given only shapes they survive, and scaling stays within a budget.

dlib's HOG detector aborted the process on a 128 x 128,000 image, and on a 1000 x 1 crop
once the crop path had scaled it by 128; these tests would kill the test process without
the guards, so each native call here is one the guards must refuse or shrink.
"""

from __future__ import annotations

import numpy as np
import pytest

from facewatch.errors import InvalidImage
from facewatch.types import Box
from facewatch.vision.detectors import FaceDetector
from facewatch.vision.detectors.limits import (
    MAX_NATIVE_SIDE,
    MAX_SCALED_PIXELS,
    check_native_shape,
    upsamples_within,
)
from facewatch.vision.pipeline import FaceAnalyzer, _pad_and_scale, _region


def blank(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(("height", "width"), [(128, 128_000), (128_000, 128), (1, 1000)])
def test_every_detector_refuses_a_shape_its_native_code_must_not_see(
    detector: FaceDetector, height: int, width: int
) -> None:
    with pytest.raises(InvalidImage, match="cannot be analysed"):
        detector.detect(blank(height, width))


@pytest.mark.parametrize(("height", "width"), [(1, 1000), (1, 4000), (2, 65535)])
def test_the_crop_path_refuses_a_strip_instead_of_scaling_it_by_128(
    analyzer: FaceAnalyzer, height: int, width: int
) -> None:
    with pytest.raises(InvalidImage):
        analyzer.detect(blank(height, width))


@pytest.mark.parametrize(("height", "width"), [(8, 160), (160, 8), (1, 20), (100, 2000)])
def test_a_thin_but_plausible_image_is_searched(
    analyzer: FaceAnalyzer, height: int, width: int
) -> None:
    assert analyzer.detect(blank(height, width)) == []


def test_a_crop_scaled_to_the_face_size_stays_within_the_budget() -> None:
    scaled = _pad_and_scale(blank(8, 160), 2, 128 / 8)

    assert scaled.shape[:2] == (192, 2624)
    assert scaled.shape[0] * scaled.shape[1] <= MAX_SCALED_PIXELS


def test_a_scaled_copy_beyond_the_budget_is_refused_before_it_is_made() -> None:
    with pytest.raises(InvalidImage, match="once scaled"):
        _pad_and_scale(blank(1, 1000), 0, 128.0)
    with pytest.raises(InvalidImage, match="once scaled"):
        _region(blank(100, 100), Box(0, 0, 100, 100), 1000.0)


@pytest.mark.parametrize(
    ("height", "width", "wanted", "expected"),
    [
        (480, 640, 1, 1),
        (1000, 1000, 2, 2),
        (3000, 4000, 1, 0),
        (128, 20_000, 1, 0),
        (10, 10, 3, 3),
    ],
)
def test_upsampling_stops_where_the_image_would_leave_the_limits(
    height: int, width: int, wanted: int, expected: int
) -> None:
    assert upsamples_within(height, width, wanted) == expected


def test_shapes_within_the_limits_pass() -> None:
    check_native_shape(MAX_NATIVE_SIDE, MAX_NATIVE_SIDE // 32)
    with pytest.raises(InvalidImage):
        check_native_shape(MAX_NATIVE_SIDE + 1, 1000)
