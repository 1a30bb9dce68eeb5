import numpy as np
import pytest

from facewatch.evaluation.identification import (
    ScoredProbes,
    nearest_distance,
    score_probes,
    threshold_at_far,
)
from facewatch.types import Candidate


def scored(known: list[tuple[bool, float]], strangers: list[float]) -> ScoredProbes:
    return ScoredProbes(
        np.array([r for r, _ in known], dtype=bool),
        np.array([s for _, s in known], dtype=float),
        np.array(strangers, dtype=float),
    )


# 10 strangers: at FAR 0.1 one may be named (score 0.30), the next (0.40) may not.
STRANGERS = [0.30, 0.40, 0.50, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85]


@pytest.mark.parametrize(
    ("far", "expected"),
    [
        (0.0, 0.25),  # under the nearest stranger (0.30): only the 0.20 probe
        (0.1, 0.50),  # one stranger may be named: probes under 0.40
        (0.2, 0.50),  # two: probes under 0.50 (the 0.45 one is named wrong)
        (1.0, 0.75),  # everyone: every probe named right
    ],
)
def test_dir_counts_right_names_under_the_threshold_of_the_far(far: float, expected: float) -> None:
    probes = scored([(True, 0.20), (True, 0.35), (False, 0.45), (True, 0.60)], STRANGERS)
    assert probes.dir_at_far(far) == expected


def test_a_probe_without_a_face_is_never_named() -> None:
    probes = scored([(False, np.inf), (True, 0.1)], [0.9])
    assert probes.rank1 == 0.5
    assert probes.dir_at_far(1.0) == 0.5


def test_the_threshold_at_a_far_names_at_most_that_share_of_strangers() -> None:
    strangers = np.array(STRANGERS)
    for far in (0.0, 0.1, 0.25, 0.5):
        threshold = threshold_at_far(strangers, far)
        assert (strangers <= threshold).mean() <= far


def test_the_curve_runs_from_nothing_named_to_everyone_named() -> None:
    probes = scored([(True, 0.2), (False, 0.3), (True, 0.5)], [0.25, 0.6])
    far, dir_ = probes.curve()
    assert (far[0], dir_[0]) == (0.0, 0.0)
    assert (far[-1], dir_[-1]) == (1.0, pytest.approx(2 / 3))
    assert (np.diff(far) >= 0).all()
    assert (np.diff(dir_) >= 0).all()


def test_probes_are_scored_by_their_nearest_candidate_and_checked_by_name() -> None:
    known = [
        ("ada", [Candidate(1, "ada", 0.3), Candidate(2, "bob", 0.7)]),
        ("bob", [Candidate(1, "ada", 0.4)]),
        ("cy", None),
    ]
    probes = score_probes(known, [[Candidate(2, "bob", 0.5)], None], nearest_distance)
    assert probes.known_right.tolist() == [True, False, False]
    assert probes.known_scores.tolist() == [0.3, 0.4, np.inf]
    assert probes.unknown_scores.tolist() == [0.5, np.inf]
