from pathlib import Path

import numpy as np
import pytest

from facewatch.errors import InvalidInput
from facewatch.evaluation.verification import (
    accuracy_at,
    best_threshold,
    evaluate_pairs,
    read_pairs,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pairs.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_view1_file_is_split_into_folds_of_matched_and_mismatched_pairs(
    tmp_path: Path,
) -> None:
    matched = "".join(f"P{i} 1 2\n" for i in range(4))
    mismatched = "".join(f"A{i} 1 B{i} 3\n" for i in range(4))
    pairs = read_pairs(write(tmp_path, "4\n" + matched + mismatched), tmp_path, folds=2)
    assert [p.fold for p in pairs] == [0, 0, 1, 1, 0, 0, 1, 1]
    assert [p.same for p in pairs] == [True] * 4 + [False] * 4
    assert pairs[0].first == tmp_path / "P0" / "P0_0001.jpg"
    assert pairs[4].second == tmp_path / "B0" / "B0_0003.jpg"


def test_a_view2_file_keeps_its_own_folds(tmp_path: Path) -> None:
    text = "2 1\nA 1 2\nA 1 B 1\nC 1 2\nC 2 D 1\n"
    pairs = read_pairs(write(tmp_path, text), tmp_path)
    assert [p.fold for p in pairs] == [0, 0, 1, 1]
    assert [p.same for p in pairs] == [True, False, True, False]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("x\nA 1 2\n", "first line"),
        ("2\nA 1 2\nA 1 B 2\n", "announces 4 pairs"),
        ("1\nA 1 2\nA one B 2\n", "line 3"),
        ("1\nA 1 2 3 4\nA 1 B 2\n", "line 2"),
    ],
)
def test_malformed_pair_files_are_refused_with_the_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_pairs(write(tmp_path, text), tmp_path, folds=1)


def test_the_best_threshold_separates_perfectly_separable_pairs() -> None:
    distances = np.array([0.2, 0.3, 0.7, 0.8])
    same = np.array([True, True, False, False])
    threshold = best_threshold(distances, same)
    assert 0.3 < threshold < 0.7
    assert accuracy_at(distances, same, threshold) == 1.0


def test_a_pair_without_a_face_is_always_an_error() -> None:
    distances = np.array([0.2, np.nan, 0.9, 0.8])
    same = np.array([True, True, False, False])
    assert accuracy_at(distances, same, 0.5) == 0.75


def test_cross_validation_chooses_thresholds_on_the_other_folds() -> None:
    rng = np.random.default_rng(3)
    same = np.tile([True, False], 50)
    distances = np.where(same, rng.normal(0.4, 0.05, 100), rng.normal(0.8, 0.05, 100))
    distances[0] = np.nan
    result = evaluate_pairs(distances, same, np.arange(100) % 10)
    assert result.failed == 1
    assert result.pairs == 100
    assert result.accuracy == pytest.approx(0.99)
    assert len(result.fold_accuracies) == 10
    assert 0.5 < result.threshold < 0.7


def test_one_fold_cannot_be_cross_validated() -> None:
    with pytest.raises(InvalidInput, match="two folds"):
        evaluate_pairs([0.1, 0.9], [True, False], [0, 0])
