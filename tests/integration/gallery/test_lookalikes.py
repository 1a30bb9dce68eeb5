"""Five look-alike men all named John: the real pipeline against a hard gallery.

Enrol 3 aligned chips of each John and identify the other 8 of each (40 probes). Measured
on 2026-11-23 with dlib's ResNet and the default thresholds (match 0.5, unknown 0.6):
rank-1 40/40, 40 named right, 0 named wrong, 0 uncertain. The asserts leave a small margin.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.gallery.gallery import Gallery, TemplateEntry
from facewatch.gallery.matching import Thresholds, assign
from facewatch.types import MatchStatus
from facewatch.vision.embedders.factory import MODEL_SPECS
from facewatch.vision.image import load_image
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

ENROLLED_PER_PERSON = 3


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return create_analyzer(Settings())


def embed_one(analyzer: FaceAnalyzer, path: Path) -> np.ndarray:
    [face] = analyzer.analyze(load_image(path, max_pixels=10_000_000))
    assert face.embedding is not None
    return face.embedding


@pytest.fixture(scope="module")
def outcome(analyzer: FaceAnalyzer, testdata: Path) -> tuple[Counter[str], int, int]:
    recognition = Settings().recognition(MODEL_SPECS[analyzer.model_id].defaults)
    gallery = Gallery(analyzer.model_id, analyzer.embedding_dim)
    probes: list[tuple[str, Path]] = []
    folders = sorted(p for p in (testdata / "dlib_faces/johns").iterdir() if p.is_dir())
    for person_id, folder in enumerate(folders):
        photos = sorted(folder.glob("*.jpg"))
        gallery.add(
            TemplateEntry(person_id * 100 + i, person_id, folder.name, embed_one(analyzer, p))
            for i, p in enumerate(photos[:ENROLLED_PER_PERSON])
        )
        probes += [(folder.name, p) for p in photos[ENROLLED_PER_PERSON:]]
    thresholds = Thresholds(recognition.match_threshold, recognition.unknown_threshold)
    counts: Counter[str] = Counter()
    rank1 = 0
    for name, path in probes:
        [candidates] = gallery.nearest_people(embed_one(analyzer, path)[None, :], k=5)
        rank1 += candidates[0].name == name
        [match] = assign([candidates], thresholds)
        if match.status is MatchStatus.KNOWN:
            counts["right" if match.name == name else "wrong"] += 1
        else:
            counts[match.status.value] += 1
    return counts, rank1, len(probes)


def test_every_john_is_probed(outcome: tuple[Counter[str], int, int]) -> None:
    _, _, probes = outcome
    assert probes == 40


def test_the_nearest_john_is_nearly_always_the_right_one(
    outcome: tuple[Counter[str], int, int],
) -> None:
    _, rank1, probes = outcome
    assert rank1 / probes >= 0.95


def test_no_john_is_given_another_johns_name(outcome: tuple[Counter[str], int, int]) -> None:
    counts, _, _ = outcome
    assert counts["wrong"] <= 1
    assert counts["right"] >= 37
