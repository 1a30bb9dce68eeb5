"""The event rules: which event, if any, one detection raises. Pure functions, no I/O.

One detection raises at most one event, the most pressing that applies:

1. a named person of category ``watchlist``: ``watchlist.match``;
2. a named person in a restricted zone that admits neither them nor their category:
   ``zone.unauthorized``;
3. any other named person: ``person.recognized``;
4. a face that matches nobody: ``person.unknown`` (critical in a restricted zone);
5. an uncertain face (between the two thresholds) raises nothing: it is neither named nor
   known to be a stranger.
"""

from __future__ import annotations

from dataclasses import dataclass

from facewatch.server.events.types import EventType, Severity
from facewatch.types import MatchStatus

WATCHLIST_CATEGORY = "watchlist"


@dataclass(frozen=True, slots=True)
class ZonePolicy:
    """A zone as the rules see it: restricted or not, and whom it admits."""

    zone_id: str
    restricted: bool
    people: frozenset[int] = frozenset()
    categories: frozenset[str] = frozenset()

    def admits(self, person_id: int, category: str | None) -> bool:
        """Whether this person may be in the zone."""
        if not self.restricted:
            return True
        return person_id in self.people or (category is not None and category in self.categories)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The event a detection raises."""

    type: EventType
    severity: Severity


def classify(
    status: MatchStatus,
    person_id: int | None,
    category: str | None,
    zone: ZonePolicy | None,
) -> Verdict | None:
    """The event one detection raises, or ``None`` (see the module docstring)."""
    if status is MatchStatus.KNOWN and person_id is not None:
        return _known(person_id, category, zone)
    if status is MatchStatus.UNKNOWN:
        restricted = zone is not None and zone.restricted
        return Verdict(
            EventType.PERSON_UNKNOWN, Severity.CRITICAL if restricted else Severity.WARNING
        )
    return None


def _known(person_id: int, category: str | None, zone: ZonePolicy | None) -> Verdict:
    if category == WATCHLIST_CATEGORY:
        return Verdict(EventType.WATCHLIST_MATCH, Severity.CRITICAL)
    if zone is not None and not zone.admits(person_id, category):
        return Verdict(EventType.ZONE_UNAUTHORIZED, Severity.CRITICAL)
    return Verdict(EventType.PERSON_RECOGNIZED, Severity.INFO)
