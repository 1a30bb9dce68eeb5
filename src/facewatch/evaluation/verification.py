"""The LFW verification protocol: same person or not, from the distance of two faces.

Pairs are split in folds; for each fold the threshold that is most accurate on the other
folds is chosen and the accuracy measured on the held-out fold. The result is the mean
and standard deviation of the fold accuracies. A pair where a face was not found counts
as an error in every fold.

Two pair-file layouts are read (first line, then one pair per line):

* ``F N`` (View 2, ``pairs.txt``): F folds, each N matched then N mismatched pairs;
* ``N`` (View 1, ``pairsDevTrain.txt``): N matched then N mismatched pairs, split here
  into ``folds`` folds of consecutive matched and consecutive mismatched pairs.

Matched lines are ``Name i j``, mismatched ``Name1 i Name2 j``; photo ``i`` of ``Name`` is
``<images>/<Name>/<Name>_<iiii>.jpg``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from facewatch.errors import InvalidInput

DEFAULT_FOLDS = 10


@dataclass(frozen=True, slots=True)
class Pair:
    """Two photos, whether they show the same person, and the fold the pair belongs to."""

    first: Path
    second: Path
    same: bool
    fold: int


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """Mean and standard deviation of the held-out fold accuracies, and the thresholds."""

    accuracy: float
    std: float
    threshold: float
    """Mean of the thresholds chosen on the training folds."""
    pairs: int
    failed: int
    fold_accuracies: tuple[float, ...]
    fold_thresholds: tuple[float, ...]

    def summary(self) -> dict[str, float | int]:
        """The JSON summary the CLI prints last."""
        return {
            "accuracy": round(self.accuracy, 4),
            "std": round(self.std, 4),
            "threshold": round(self.threshold, 4),
            "pairs": self.pairs,
            "failed": self.failed,
        }


def photo_path(images: Path, name: str, number: str) -> Path:
    """Where LFW keeps photo ``number`` of ``name``."""
    return images / name / f"{name}_{int(number):04d}.jpg"


def read_pairs(pairs_file: Path, images: Path, folds: int = DEFAULT_FOLDS) -> list[Pair]:
    """The pairs of an LFW pair file, with their folds; ``InvalidInput`` if malformed."""
    try:
        lines = [line.split() for line in pairs_file.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read pairs file {pairs_file}: {exc}") from exc
    lines = [fields for fields in lines if fields]
    if not lines:
        raise InvalidInput(f"pairs file {pairs_file} is empty")
    set_count, per_set = _header(lines[0], pairs_file)
    body = lines[1:]
    if len(body) != set_count * per_set * 2:
        raise InvalidInput(
            f"pairs file {pairs_file} announces {set_count * per_set * 2} pairs "
            f"but holds {len(body)}"
        )
    pairs = [_pair(fields, images, pairs_file, line_no + 2) for line_no, fields in enumerate(body)]
    if set_count == 1:
        return _split(pairs, per_set, folds)
    block = 2 * per_set
    return [_with_fold(pair, i // block) for i, pair in enumerate(pairs)]


def _header(fields: list[str], pairs_file: Path) -> tuple[int, int]:
    try:
        numbers = [int(field) for field in fields]
    except ValueError:
        numbers = []
    if len(numbers) == 1 and numbers[0] > 0:
        return 1, numbers[0]
    if len(numbers) == 2 and min(numbers) > 0:
        return numbers[0], numbers[1]
    raise InvalidInput(f"pairs file {pairs_file}: the first line must be 'N' or 'FOLDS N'")


def _pair(fields: list[str], images: Path, pairs_file: Path, line_no: int) -> Pair:
    try:
        if len(fields) == 3:
            name, i, j = fields
            return Pair(photo_path(images, name, i), photo_path(images, name, j), True, 0)
        if len(fields) == 4:
            name_a, i, name_b, j = fields
            return Pair(photo_path(images, name_a, i), photo_path(images, name_b, j), False, 0)
    except ValueError:
        pass
    raise InvalidInput(f"pairs file {pairs_file}, line {line_no}: expected 'Name i j' or 'A i B j'")


def _split(pairs: list[Pair], per_set: int, folds: int) -> list[Pair]:
    """Spread one set's matched and mismatched pairs over ``folds`` consecutive chunks."""
    if per_set < folds:
        raise InvalidInput(f"{per_set} pairs of each kind cannot fill {folds} folds")
    fold_of = np.arange(per_set) * folds // per_set
    return [_with_fold(pair, int(fold_of[i % per_set])) for i, pair in enumerate(pairs)]


def _with_fold(pair: Pair, fold: int) -> Pair:
    return Pair(pair.first, pair.second, pair.same, fold)


def evaluate_pairs(
    distances: npt.ArrayLike, same: npt.ArrayLike, folds: npt.ArrayLike
) -> VerificationResult:
    """Cross-validated accuracy; a ``nan`` distance is a failed pair (always an error)."""
    dist = np.asarray(distances, dtype=np.float64)
    truth = np.asarray(same, dtype=bool)
    fold_of = np.asarray(folds, dtype=np.int64)
    fold_ids = np.unique(fold_of)
    if fold_ids.shape[0] < 2:
        raise InvalidInput("cross-validation needs at least two folds")
    accuracies, thresholds = [], []
    for fold in fold_ids:
        held_out = fold_of == fold
        threshold = best_threshold(dist[~held_out], truth[~held_out])
        accuracies.append(accuracy_at(dist[held_out], truth[held_out], threshold))
        thresholds.append(threshold)
    return VerificationResult(
        accuracy=statistics.fmean(accuracies),
        std=statistics.pstdev(accuracies),
        threshold=statistics.fmean(thresholds),
        pairs=int(dist.shape[0]),
        failed=int(np.isnan(dist).sum()),
        fold_accuracies=tuple(accuracies),
        fold_thresholds=tuple(thresholds),
    )


def accuracy_at(distances: npt.NDArray[np.float64], same: npt.NDArray[np.bool_], t: float) -> float:
    """Share of pairs decided right at threshold ``t`` (same when distance <= t)."""
    if distances.shape[0] == 0:
        return 0.0
    found = ~np.isnan(distances)
    predicted = np.zeros_like(same)
    predicted[found] = distances[found] <= t
    right = (predicted == same) & found
    return float(right.sum() / distances.shape[0])


def best_threshold(distances: npt.NDArray[np.float64], same: npt.NDArray[np.bool_]) -> float:
    """The threshold with the most pairs right, in the middle of the best interval."""
    found = ~np.isnan(distances)
    values, truth = distances[found], same[found]
    if values.shape[0] == 0:
        return 0.0
    order = np.argsort(values, kind="stable")
    values, truth = values[order], truth[order]
    # Threshold just at or above values[i] accepts pairs 0..i: right = same ones accepted
    # plus different ones rejected. Index -1 (accept none) is the first candidate.
    accepted_same = np.concatenate([[0], np.cumsum(truth)])
    accepted_diff = np.concatenate([[0], np.cumsum(~truth)])
    right = accepted_same + (int((~truth).sum()) - accepted_diff)
    # Only cut between different values, so equal distances get one decision.
    cuts = np.concatenate([[True], values[1:] != values[:-1], [True]])
    right = np.where(cuts, right, -1)
    best = int(np.argmax(right))
    low = values[best - 1] if best > 0 else values[0] - 1e-6
    high = values[best] if best < values.shape[0] else values[-1] + 1e-6
    return float((low + high) / 2)


def pair_distances(
    pairs: Sequence[Pair], embeddings: dict[Path, npt.NDArray[np.float32] | None]
) -> npt.NDArray[np.float64]:
    """Euclidean distance of each pair's two faces; ``nan`` where either has none."""
    out = np.full(len(pairs), np.nan)
    for i, pair in enumerate(pairs):
        a, b = embeddings.get(pair.first), embeddings.get(pair.second)
        if a is not None and b is not None:
            out[i] = float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))
    return out
