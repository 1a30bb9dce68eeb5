"""The packaged EdgeFace file against the reference files of ../shared/models, on real faces.

Every face HOG finds in face_recognition_examples is aligned as Facewatch aligns it and
embedded by the packaged embedder and by onnxruntime sessions of the reference files
(FACEWATCH_SHARED_MODELS; skipped when absent, failed under CI=true).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from facewatch.types import RGBImage
from facewatch.vision.detectors import HogDetector
from facewatch.vision.embedders import EdgeFaceEmbedder, EdgeFaceFloatEmbedder
from facewatch.vision.embedders.edgeface import (
    EDGEFACE_XS_FLOAT_SHA256,
    EDGEFACE_XS_INT8_SHA256,
    l2_normalised,
    to_input,
)
from facewatch.vision.image import load_image
from facewatch.vision.landmarks import Landmarker

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
INT8_TOLERANCE = 1e-6
"""The packaged file is the reference int8 file: the same numbers, to rounding."""
FLOAT_TOLERANCE = 0.05
"""int8 against float, largest component of the unit vectors (measured: 0.021)."""


@pytest.fixture(scope="module")
def chips(testdata: Path) -> list[RGBImage]:
    hog, landmarker, embedder = HogDetector(), Landmarker(), EdgeFaceEmbedder()
    found = []
    folder = testdata / "face_recognition_examples"
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        image = load_image(path, max_pixels=10_000_000)
        for face in hog.detect(image):
            found.append(embedder.align(image, face.box, landmarker.locate(image, face.box)))
    assert len(found) >= 30
    return found


@pytest.fixture(scope="module")
def packaged(chips: list[RGBImage]) -> np.ndarray:
    return EdgeFaceEmbedder(threads=1).embed(chips)


def reference(path: Path, chips: list[RGBImage]) -> np.ndarray:
    """The reference file run chip by chip, outputs L2-normalised."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rows = [session.run(["embedding"], {"input": to_input([chip])})[0] for chip in chips]
    return l2_normalised(np.concatenate(rows).astype(np.float32))


def test_the_checksums_are_those_of_the_reference_files(shared_models: Path) -> None:
    lines = (shared_models / "SHA256SUMS").read_text().split("\n")
    sums = {name: digest for digest, name in (line.split() for line in lines if line)}

    assert sums["edgeface_xs_int8.onnx"] == EDGEFACE_XS_INT8_SHA256
    assert sums["edgeface_xs.onnx"] == EDGEFACE_XS_FLOAT_SHA256


def test_the_packaged_model_gives_the_reference_int8_vectors(
    shared_models: Path, chips: list[RGBImage], packaged: np.ndarray
) -> None:
    expected = reference(shared_models / "edgeface_xs_int8.onnx", chips)

    assert np.abs(packaged - expected).max() <= INT8_TOLERANCE


def test_the_packaged_model_stays_near_the_float_model(
    shared_models: Path, chips: list[RGBImage], packaged: np.ndarray
) -> None:
    expected = reference(shared_models / "edgeface_xs.onnx", chips)

    assert np.abs(packaged - expected).max() <= FLOAT_TOLERANCE
    assert np.min(np.sum(packaged * expected, axis=1)) > 0.98


def test_the_float_embedder_is_the_reference_float_model(
    shared_models: Path, chips: list[RGBImage]
) -> None:
    expected = reference(shared_models / "edgeface_xs.onnx", chips)

    batched = EdgeFaceFloatEmbedder(shared_models / "edgeface_xs.onnx", batch_size=8).embed(chips)

    assert np.abs(batched - expected).max() <= 1e-5
