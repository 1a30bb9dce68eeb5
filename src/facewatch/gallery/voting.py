"""A vote across the faces of one track (several frames of one person) before naming anyone."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from facewatch.gallery.matching import Thresholds
from facewatch.types import Match, MatchStatus


@dataclass(frozen=True, slots=True)
class VotePolicy:
    """When a track is named.

    A person is named when at least ``min_known`` faces named them and they hold at least
    ``majority`` of the faces that pointed at anyone (named or uncertain). One sharp frame is
    enough for a one-frame track; a longer track needs agreement, so a single unlucky frame
    of a stranger does not name them.
    """

    min_known: int = 2
    majority: float = 0.5


def vote(
    matches: Sequence[Match], thresholds: Thresholds, policy: VotePolicy | None = None
) -> Match:
    """Combine the per-face verdicts of one track into one verdict."""
    policy = policy or VotePolicy()
    pointing = [m for m in matches if m.person_id is not None]
    if not pointing:
        return _unknown_track(matches)
    support = Counter(m.person_id for m in pointing)
    known = Counter(m.person_id for m in pointing if m.status is MatchStatus.KNOWN)
    leader, leader_support = support.most_common(1)[0]
    tied = sum(1 for count in support.values() if count == leader_support) > 1
    needed = min(policy.min_known, len(matches))
    named = (
        not tied and known[leader] >= needed and leader_support >= policy.majority * len(pointing)
    )
    mine = [m for m in pointing if m.person_id == leader]
    distance = statistics.median(m.distance for m in mine if m.distance is not None)
    status = MatchStatus.KNOWN if named else MatchStatus.UNCERTAIN
    return Match(
        status=status,
        person_id=leader,
        name=mine[0].name,
        distance=distance,
        confidence=thresholds.similarity(distance) * leader_support / len(matches),
        candidates=mine[0].candidates,
    )


def _unknown_track(matches: Sequence[Match]) -> Match:
    distances = [m.distance for m in matches if m.distance is not None]
    confidence = statistics.fmean(m.confidence for m in matches) if matches else 1.0
    nearest = min(distances) if distances else None
    return Match(MatchStatus.UNKNOWN, None, None, nearest, confidence, ())
