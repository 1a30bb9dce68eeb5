"""Model files are found in their packages; a missing or broken one is a clear ModelUnavailable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from facewatch.errors import ModelUnavailable
from facewatch.vision.detectors import HaarDetector
from facewatch.vision.embedders import DlibResNetEmbedder
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.lazy import LazyModel
from facewatch.vision.models import (
    face_recognition_model_path,
    haar_cascade_path,
    require_file,
    shape_predictor_5_path,
)


@pytest.mark.parametrize(
    ("locate", "file_name"),
    [
        (face_recognition_model_path, "dlib_face_recognition_resnet_model_v1.dat"),
        (shape_predictor_5_path, "shape_predictor_5_face_landmarks.dat"),
        (haar_cascade_path, "haarcascade_frontalface_default.xml"),
    ],
)
def test_each_packaged_model_file_is_found(locate: Callable[[], Path], file_name: str) -> None:
    path = locate()

    assert path.name == file_name
    assert path.is_file()


def test_a_missing_file_is_reported_with_what_and_where(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"landmark model not found at .*nothing\.dat"):
        require_file(tmp_path / "nothing.dat", "landmark model")


@pytest.mark.parametrize(
    "build",
    [
        lambda path: Landmarker(path),
        lambda path: DlibResNetEmbedder(path),
        lambda path: HaarDetector(cascade_path=path),
    ],
    ids=["landmarker", "embedder", "haar detector"],
)
def test_a_corrupt_model_file_is_unavailable_on_load(
    tmp_path: Path, build: Callable[[Path], LazyModel]
) -> None:
    corrupt = tmp_path / "model.dat"
    corrupt.write_bytes(b"\x00garbage" * 100)
    model = build(corrupt)  # constructing reads nothing

    with pytest.raises(ModelUnavailable, match=r"model\.dat"):
        model.load()
