"""The ONNX conversion of dlib's ResNet against dlib itself, on every real face we have.

Every face of face_recognition_examples (detected, aligned) and every aligned chip of
dlib_faces/johns is embedded by both runtimes: the descriptors must agree within 1e-4 and
every open-set identification decision (status and person) must be the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from facewatch.gallery.gallery import Gallery, TemplateEntry
from facewatch.gallery.matching import Thresholds, assign
from facewatch.types import Match, RGBImage
from facewatch.vision.align import align_face
from facewatch.vision.detectors import HogDetector
from facewatch.vision.embedders.dlib_resnet import DlibResNetEmbedder
from facewatch.vision.embedders.onnx_resnet import OnnxResNetEmbedder
from facewatch.vision.image import load_image
from facewatch.vision.landmarks import Landmarker

TOLERANCE = 1e-4
THRESHOLDS = Thresholds(match=0.5, unknown=0.6)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
ENROLLED_JOHN_CHIPS = 3
STRANGER = "John_Simm"
"""Left out of the johns gallery, so that the decisions include strangers."""


@dataclass(frozen=True)
class Chip:
    """An aligned face chip, who it shows (its folder) and where it came from."""

    source: str
    person: str
    pixels: RGBImage


def _examples(testdata: Path) -> list[Chip]:
    """Every face HOG finds in face_recognition_examples, aligned."""
    hog, landmarker = HogDetector(), Landmarker()
    chips = []
    folder = testdata / "face_recognition_examples"
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        image = load_image(path, max_pixels=10_000_000)
        for number, found in enumerate(hog.detect(image)):
            chip = align_face(image, found.box, landmarker.locate(image, found.box))
            chips.append(Chip(f"{path.relative_to(folder)}#{number}", path.parent.name, chip))
    return chips


def _johns(testdata: Path) -> list[Chip]:
    folder = testdata / "dlib_faces" / "johns"
    return [
        Chip(str(path.relative_to(folder)), path.parent.name, load_image(path, max_pixels=10**6))
        for path in sorted(folder.glob("*/*.jpg"))
    ]


@pytest.fixture(scope="module")
def chips(testdata: Path) -> dict[str, list[Chip]]:
    return {"examples": _examples(testdata), "johns": _johns(testdata)}


@pytest.fixture(scope="module")
def descriptors(
    chips: dict[str, list[Chip]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, np.ndarray]]:
    """Per runtime, per data set: one descriptor row per chip, in order."""
    runtimes = {
        "dlib": DlibResNetEmbedder(),
        "onnx": OnnxResNetEmbedder(cache_dir=tmp_path_factory.mktemp("models"), batch_size=16),
    }
    return {
        runtime: {name: embedder.embed([c.pixels for c in found]) for name, found in chips.items()}
        for runtime, embedder in runtimes.items()
    }


@pytest.mark.parametrize("dataset", ["examples", "johns"])
def test_every_onnx_descriptor_is_within_1e_4_of_dlibs(
    chips: dict[str, list[Chip]], descriptors: dict[str, dict[str, np.ndarray]], dataset: str
) -> None:
    onnx, dlib = descriptors["onnx"][dataset], descriptors["dlib"][dataset]
    assert len(onnx) == len(chips[dataset]) > 10
    worst = np.abs(onnx - dlib).max(axis=1)

    assert worst.max() <= TOLERANCE, f"{chips[dataset][int(worst.argmax())].source}: {worst.max()}"


def _decisions(chips: list[Chip], vectors: np.ndarray, enrolled: set[int]) -> list[Match]:
    """Open-set decisions for every chip not in ``enrolled`` against a gallery of those."""
    gallery = Gallery("dlib_resnet_v1", vectors.shape[1])
    people = sorted({chips[i].person for i in enrolled})
    gallery.add(
        TemplateEntry(i, people.index(chips[i].person), chips[i].person, vectors[i])
        for i in sorted(enrolled)
    )
    probes = [i for i in range(len(chips)) if i not in enrolled]
    candidates = gallery.nearest_people(vectors[probes], 3)
    return [assign([found], THRESHOLDS)[0] for found in candidates]


def _enrolled(dataset: str, chips: list[Chip]) -> set[int]:
    if dataset == "johns":
        taken: dict[str, int] = {}
        chosen = set()
        for index, chip in enumerate(chips):
            if chip.person != STRANGER and taken.get(chip.person, 0) < ENROLLED_JOHN_CHIPS:
                taken[chip.person] = taken.get(chip.person, 0) + 1
                chosen.add(index)
        return chosen
    return {i for i, chip in enumerate(chips) if "knn_examples/train/" in chip.source}


@pytest.mark.parametrize("dataset", ["examples", "johns"])
def test_every_identification_decision_is_the_same_with_both_runtimes(
    chips: dict[str, list[Chip]], descriptors: dict[str, dict[str, np.ndarray]], dataset: str
) -> None:
    enrolled = _enrolled(dataset, chips[dataset])
    onnx = _decisions(chips[dataset], descriptors["onnx"][dataset], enrolled)
    dlib = _decisions(chips[dataset], descriptors["dlib"][dataset], enrolled)

    assert [(m.status, m.person_id) for m in onnx] == [(m.status, m.person_id) for m in dlib]
    assert len({m.status for m in dlib}) >= 2, "the decisions should not be all alike"
