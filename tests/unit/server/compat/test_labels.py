"""The old API's labels and confidences from Facewatch's open-set verdicts, and its IDs."""

from __future__ import annotations

import math

import pytest

from facewatch.gallery.matching import Thresholds, decide
from facewatch.server.compat.services.ids import UNKNOWN_LABEL, compat_id
from facewatch.server.compat.services.recognition import all_predictions, top_prediction
from facewatch.types import Candidate

THRESHOLDS = Thresholds(match=0.5, unknown=0.6)


@pytest.mark.parametrize(
    ("name", "old_id"),
    [
        ("Bill Gates", "bill_gates"),
        ("bill_gates", "bill_gates"),
        ("Grace Brewster  Hopper", "grace_brewster__hopper"),
        ("Cristóbal Colón", "cristóbal_colón"),
        ("O'Brien", "o'brien"),
    ],
)
def test_an_id_is_the_name_lower_cased_with_spaces_as_underscores(name: str, old_id: str) -> None:
    assert compat_id(name) == old_id


@pytest.mark.parametrize(
    ("distance", "label", "confidence"),
    [
        (0.30, "kit_harington", 1.0),
        (0.45, "kit_harington", 0.982),
        (0.50, "kit_harington", 0.881),
        (0.52, UNKNOWN_LABEL, 0.231),  # uncertain: never named
        (0.55, UNKNOWN_LABEL, 0.5),
        (0.58, UNKNOWN_LABEL, 0.769),
        (0.60, UNKNOWN_LABEL, 0.881),
        (0.70, UNKNOWN_LABEL, 0.998),
    ],
)
def test_the_label_is_named_only_when_facewatch_names_the_face(
    distance: float, label: str, confidence: float
) -> None:
    match = decide([Candidate(7, "Kit Harington", distance)], THRESHOLDS)
    top = top_prediction(match)
    assert top.label == label
    assert top.confidence == pytest.approx(confidence, abs=0.001)


def test_a_face_with_nobody_enrolled_is_surely_unknown() -> None:
    top = top_prediction(decide([], THRESHOLDS))
    assert (top.label, top.confidence) == (UNKNOWN_LABEL, 1.0)


def test_all_predictions_are_the_candidates_nearest_first_with_their_likelihood() -> None:
    candidates = [
        Candidate(1, "Rose Leslie", 0.42),
        Candidate(2, "Kit Harington", 0.55),
        Candidate(3, "Biden", 0.71),
    ]
    predictions = all_predictions(decide(candidates, THRESHOLDS), THRESHOLDS)
    assert [p.label for p in predictions] == ["rose_leslie", "kit_harington", "biden"]
    expected = [1 / (1 + math.exp((c.distance - 0.55) / 0.025)) for c in candidates]
    assert [p.confidence for p in predictions] == pytest.approx(expected, abs=1e-4)
