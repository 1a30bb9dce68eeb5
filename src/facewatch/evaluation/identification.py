"""Open-set identification metrics: rank-1, and who is named at a given false-alarm rate.

Every decision rule is reduced to one thing per probe: the person it would name and a
score, lower meaning surer (a distance, or a normalised distance). A known probe counts
as identified at threshold ``t`` when that person is the right one and the score is at most
``t``; a stranger is a false alarm when its score is at most ``t``. Sweeping ``t`` gives the
detection-and-identification rate (DIR) against the false-alarm rate (FAR); a probe in which
no face was found has score ``inf``: never named, a miss for a known person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from facewatch.types import Candidate

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ScoreRule = Callable[[Sequence[Candidate]], float]
"""A decision rule's score for one face's candidates (nearest first); lower is surer."""

REPORTED_FARS = (0.01, 0.001)


@dataclass(frozen=True, slots=True)
class ScoredProbes:
    """What a rule says about every probe: known probes and strangers separately."""

    known_right: BoolArray
    """Whether the person the rule would name is the right one (False when no face)."""
    known_scores: FloatArray
    unknown_scores: FloatArray

    @property
    def rank1(self) -> float:
        """Share of known probes whose best candidate is right, whatever the score."""
        return float(self.known_right.mean()) if self.known_right.shape[0] else 0.0

    def dir_at_far(self, far: float) -> float:
        """Share of known probes named right at the loosest threshold with FAR <= ``far``."""
        return dir_at_threshold(self, threshold_at_far(self.unknown_scores, far))

    def curve(self) -> tuple[FloatArray, FloatArray]:
        """(FAR, DIR) at every threshold that changes either, FAR ascending."""
        finite = np.concatenate([self.known_scores, self.unknown_scores])
        thresholds = np.unique(finite[np.isfinite(finite)])
        known = np.sort(self.known_scores[self.known_right])
        strangers = np.sort(self.unknown_scores)
        dirs = np.searchsorted(known, thresholds, side="right") / max(len(self.known_right), 1)
        fars = np.searchsorted(strangers, thresholds, side="right") / max(len(strangers), 1)
        start = np.zeros(1)
        return np.concatenate([start, fars]), np.concatenate([start, dirs])


def threshold_at_far(unknown_scores: FloatArray, far: float) -> float:
    """The largest threshold naming at most ``far`` of the strangers (just under the next one)."""
    scores = np.sort(unknown_scores[np.isfinite(unknown_scores)])
    allowed = int(np.floor(far * unknown_scores.shape[0] + 1e-9))
    if allowed >= scores.shape[0]:
        return float("inf")
    return float(np.nextafter(scores[allowed], -np.inf))


def dir_at_threshold(scored: ScoredProbes, threshold: float) -> float:
    """Share of known probes named right with a score at most ``threshold``."""
    if not scored.known_right.shape[0]:
        return 0.0
    named = scored.known_right & (scored.known_scores <= threshold)
    return float(named.mean())


def far_at_threshold(scored: ScoredProbes, threshold: float) -> float:
    """Share of strangers with a score at most ``threshold``."""
    if not scored.unknown_scores.shape[0]:
        return 0.0
    return float((scored.unknown_scores <= threshold).mean())


def score_probes(
    known: Sequence[tuple[str, Sequence[Candidate] | None]],
    unknown: Sequence[Sequence[Candidate] | None],
    rule: ScoreRule,
) -> ScoredProbes:
    """Apply a rule to every probe's candidates (``None``: no face found in the probe)."""
    right = np.array([_right(name, c) for name, c in known], dtype=np.bool_)
    known_scores = np.array([_score(c, rule) for _, c in known], dtype=np.float64)
    unknown_scores = np.array([_score(c, rule) for c in unknown], dtype=np.float64)
    return ScoredProbes(right, known_scores, unknown_scores)


def _right(name: str, candidates: Sequence[Candidate] | None) -> bool:
    return bool(candidates) and candidates is not None and candidates[0].name == name


def _score(candidates: Sequence[Candidate] | None, rule: ScoreRule) -> float:
    return rule(candidates) if candidates else float("inf")


def nearest_distance(candidates: Sequence[Candidate]) -> float:
    """Plain nearest neighbour: the distance of the nearest person."""
    return candidates[0].distance
