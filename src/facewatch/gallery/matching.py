"""The open-set decision: named, uncertain or unknown, and never one identity for two faces.

Distances are Euclidean between embeddings. The decision reads a *score*: the distance to
the candidate, plus a penalty when the runner-up (the next nearest other person) is almost
as near, because then the face fits two people and the gallery cannot tell them apart::

    lead  = runner_up_distance - distance          (no runner-up: no penalty)
    score = distance + margin_weight * (margin_cap - min(lead, margin_cap))

A face with a clear lead (at least ``margin_cap``) is judged on its distance alone; a face
between two people can lose at most ``margin_weight * margin_cap``. So the rule never names
a face that the distance alone would not name at the same thresholds; it only holds back
ambiguous ones, which in a large gallery are mostly strangers (docs/accuracy.md: on LFW with
629 people enrolled, strangers named fall from 5.4% to 1.8% for 6 points of recall).

With thresholds ``match <= unknown``:

* ``score <= match``            -> KNOWN: the face is named;
* ``score >= unknown``          -> UNKNOWN: nobody enrolled;
* ``match < score < unknown``   -> UNCERTAIN: reported with the best candidate, not named.

A face exactly as near to two people (within ``TIE_EPSILON``) is never named, whatever the
margin rule's weights: the same photo enrolled for both gives no ground to pick one, and
naming either would be a guess. It is UNCERTAIN at best.

Confidence is a logistic function of the score centred between the two thresholds: about
0.88 at ``match`` and 0.12 at ``unknown``. For a KNOWN or UNCERTAIN face it says how likely
the candidate is this person; for an UNKNOWN face, how likely it is nobody enrolled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from facewatch.types import Candidate, Match, MatchStatus

TIE_EPSILON = 1e-4
"""Two people whose distances to a face differ by less than this are tied for it."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The two score thresholds of the open-set decision, and the runner-up margin rule."""

    match: float
    unknown: float
    margin_weight: float = 1.0
    """Weight of the runner-up penalty; 0 decides on the distance alone."""
    margin_cap: float = 0.1
    """A lead over the runner-up of at least this much costs nothing."""

    def __post_init__(self) -> None:
        if not 0 < self.match <= self.unknown:
            raise ValueError("thresholds must satisfy 0 < match <= unknown")
        if self.margin_weight < 0 or self.margin_cap < 0:
            raise ValueError("margin_weight and margin_cap must not be negative")

    def status(self, distance: float) -> MatchStatus:
        """The verdict for one distance."""
        if distance <= self.match:
            return MatchStatus.KNOWN
        if distance >= self.unknown:
            return MatchStatus.UNKNOWN
        return MatchStatus.UNCERTAIN

    def similarity(self, distance: float) -> float:
        """How likely a face at this distance is the candidate, in [0, 1]."""
        centre = (self.match + self.unknown) / 2
        scale = max((self.unknown - self.match) / 4, 0.01)
        return 1.0 / (1.0 + math.exp((distance - centre) / scale))


class ThresholdSettings(Protocol):
    """The settings the decision reads (``facewatch.config.Settings`` has them)."""

    @property
    def match_threshold(self) -> float: ...

    @property
    def unknown_threshold(self) -> float: ...

    @property
    def margin_weight(self) -> float: ...

    @property
    def margin_cap(self) -> float: ...


def thresholds_from(settings: ThresholdSettings) -> Thresholds:
    """The decision configured by ``settings``."""
    return Thresholds(
        settings.match_threshold,
        settings.unknown_threshold,
        margin_weight=settings.margin_weight,
        margin_cap=settings.margin_cap,
    )


def score(chosen: Candidate, candidates: Sequence[Candidate], thresholds: Thresholds) -> float:
    """The decision score of ``chosen`` among one face's candidates (lower is surer)."""
    if thresholds.margin_weight == 0:
        return chosen.distance
    others = [c.distance for c in candidates if c.person_id != chosen.person_id]
    if not others:
        return chosen.distance  # nobody else in sight: nothing to confuse the face with
    lead = min(max(min(others) - chosen.distance, 0.0), thresholds.margin_cap)
    return chosen.distance + thresholds.margin_weight * (thresholds.margin_cap - lead)


def decision_score(candidates: Sequence[Candidate], thresholds: Thresholds) -> float:
    """The score of a face's best candidate (``inf`` with no candidate): what is thresholded."""
    if not candidates:
        return float("inf")
    return score(candidates[0], candidates, thresholds)


def decide(candidates: Sequence[Candidate], thresholds: Thresholds) -> Match:
    """The verdict for one face from its candidates (nearest first)."""
    if not candidates:
        return Match(MatchStatus.UNKNOWN, None, None, None, 1.0, ())
    best = candidates[0]
    return _verdict(best, tuple(candidates), thresholds)


def assign(faces: Sequence[Sequence[Candidate]], thresholds: Thresholds) -> list[Match]:
    """Verdicts for all faces of one image: no person is given (or offered) to two faces.

    Greedy by distance: the closest (face, person) pair is settled first, and a face whose
    best person went to a closer face falls back to its next candidate.
    """
    pairs = sorted(
        (
            (c.distance, face_no, c)
            for face_no, cands in enumerate(faces)
            for c in cands
            # Any nameable pair: under `unknown`, or at `match` when the two are equal.
            if c.distance < thresholds.unknown or c.distance <= thresholds.match
        ),
        key=lambda pair: (pair[0], pair[1]),  # Candidates themselves are not ordered
    )
    chosen: dict[int, Candidate] = {}
    taken: set[int] = set()
    for _, face_no, cand in pairs:
        if face_no not in chosen and cand.person_id not in taken:
            chosen[face_no] = cand
            taken.add(cand.person_id)
    matches = []
    for face_no, cands in enumerate(faces):
        pick = chosen.get(face_no)
        if pick is None:
            matches.append(_unknown(tuple(cands), thresholds))
        else:
            matches.append(_verdict(pick, tuple(cands), thresholds))
    return matches


def _verdict(best: Candidate, cands: tuple[Candidate, ...], thresholds: Thresholds) -> Match:
    value = score(best, cands, thresholds)
    status = thresholds.status(value)
    if status is MatchStatus.UNKNOWN:
        return _unknown(cands, thresholds)
    if status is MatchStatus.KNOWN and _tied(best, cands):
        status = MatchStatus.UNCERTAIN
    return Match(
        status=status,
        person_id=best.person_id,
        name=best.name,
        distance=best.distance,
        confidence=thresholds.similarity(value),
        candidates=cands,
    )


def _tied(best: Candidate, cands: tuple[Candidate, ...]) -> bool:
    """Whether another person is as near to the face as ``best`` (within ``TIE_EPSILON``)."""
    return any(
        c.person_id != best.person_id and abs(c.distance - best.distance) <= TIE_EPSILON
        for c in cands
    )


def _unknown(cands: tuple[Candidate, ...], thresholds: Thresholds) -> Match:
    nearest = cands[0].distance if cands else None
    value = decision_score(cands, thresholds)
    confidence = 1.0 if nearest is None else 1.0 - thresholds.similarity(value)
    return Match(MatchStatus.UNKNOWN, None, None, nearest, confidence, cands)
