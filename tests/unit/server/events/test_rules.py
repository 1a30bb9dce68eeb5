"""The event rules: which event one detection raises."""

from __future__ import annotations

import pytest

from facewatch.server.events.rules import ZonePolicy, classify
from facewatch.server.events.types import EventType, Severity
from facewatch.types import MatchStatus

KNOWN, UNKNOWN, UNCERTAIN = MatchStatus.KNOWN, MatchStatus.UNKNOWN, MatchStatus.UNCERTAIN
OPEN = ZonePolicy("hall", restricted=False)
LAB = ZonePolicy("lab", restricted=True, people=frozenset({7}), categories=frozenset({"staff"}))

# status, person id, category, zone -> (type, severity) or None
CASES = {
    "known, no zone": (KNOWN, 1, "authorized", None, (EventType.PERSON_RECOGNIZED, Severity.INFO)),
    "known, open zone": (KNOWN, 1, "visitor", OPEN, (EventType.PERSON_RECOGNIZED, Severity.INFO)),
    "authorised by id": (KNOWN, 7, "visitor", LAB, (EventType.PERSON_RECOGNIZED, Severity.INFO)),
    "authorised by category": (
        KNOWN,
        2,
        "staff",
        LAB,
        (EventType.PERSON_RECOGNIZED, Severity.INFO),
    ),
    "not authorised": (KNOWN, 2, "visitor", LAB, (EventType.ZONE_UNAUTHORIZED, Severity.CRITICAL)),
    "watchlist": (KNOWN, 3, "watchlist", None, (EventType.WATCHLIST_MATCH, Severity.CRITICAL)),
    "watchlist beats zone": (
        KNOWN,
        3,
        "watchlist",
        LAB,
        (EventType.WATCHLIST_MATCH, Severity.CRITICAL),
    ),
    "stranger": (UNKNOWN, None, None, None, (EventType.PERSON_UNKNOWN, Severity.WARNING)),
    "stranger, open zone": (
        UNKNOWN,
        None,
        None,
        OPEN,
        (EventType.PERSON_UNKNOWN, Severity.WARNING),
    ),
    "stranger, restricted zone": (
        UNKNOWN,
        None,
        None,
        LAB,
        (EventType.PERSON_UNKNOWN, Severity.CRITICAL),
    ),
    "uncertain": (UNCERTAIN, None, None, LAB, None),
    "known without a person": (KNOWN, None, None, None, None),
}


@pytest.mark.parametrize(
    ("status", "person", "category", "zone", "expected"), CASES.values(), ids=CASES
)
def test_a_detection_raises_the_most_pressing_event_that_applies(
    status: MatchStatus,
    person: int | None,
    category: str | None,
    zone: ZonePolicy | None,
    expected: tuple[EventType, Severity] | None,
) -> None:
    verdict = classify(status, person, category, zone)
    assert (None if verdict is None else (verdict.type, verdict.severity)) == expected
