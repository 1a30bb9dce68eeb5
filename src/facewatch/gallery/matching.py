"""The open-set decision: named, uncertain or unknown, and never one identity for two faces.

Distances are Euclidean between embeddings. With thresholds ``match <= unknown``:

* ``distance <= match``            -> KNOWN: the face is named;
* ``distance >= unknown``          -> UNKNOWN: nobody enrolled;
* ``match < distance < unknown``   -> UNCERTAIN: reported with the best candidate, not named.

Confidence is a logistic function of the distance centred between the two thresholds:
about 0.88 at ``match`` and 0.12 at ``unknown``. For a KNOWN or UNCERTAIN face it says how
likely the candidate is this person; for an UNKNOWN face, how likely it is nobody enrolled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from facewatch.types import Candidate, Match, MatchStatus


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The two distance thresholds of the open-set decision."""

    match: float
    unknown: float

    def __post_init__(self) -> None:
        if not 0 < self.match <= self.unknown:
            raise ValueError("thresholds must satisfy 0 < match <= unknown")

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
        (c.distance, face_no, c)
        for face_no, cands in enumerate(faces)
        for c in cands
        if c.distance < thresholds.unknown
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
    status = thresholds.status(best.distance)
    if status is MatchStatus.UNKNOWN:
        return _unknown(cands, thresholds)
    return Match(
        status=status,
        person_id=best.person_id,
        name=best.name,
        distance=best.distance,
        confidence=thresholds.similarity(best.distance),
        candidates=cands,
    )


def _unknown(cands: tuple[Candidate, ...], thresholds: Thresholds) -> Match:
    nearest = cands[0].distance if cands else None
    confidence = 1.0 if nearest is None else 1.0 - thresholds.similarity(nearest)
    return Match(MatchStatus.UNKNOWN, None, None, nearest, confidence, cands)
