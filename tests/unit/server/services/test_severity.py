"""Severity: which events wait for an operator, and the rule that fired, in words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from facewatch.server.events.schemas import ZoneOut
from facewatch.server.events.types import Event, EventType, Severity
from facewatch.server.services.severity import needs_acknowledgement, rule_fired

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LAB = ZoneOut(
    id="lab", name="Lab", description="", restricted=True, cameras=["lab-door"], people=[],
    categories=["staff"], created_at=T0,
)  # fmt: skip
HALL = LAB.model_copy(update={"id": "hall", "name": "Hall", "restricted": False})


def event(kind: EventType, severity: Severity, **fields: object) -> Event:
    values: dict[str, object] = {
        "id": "e1", "type": kind, "severity": severity, "time": T0, "camera_id": "lab-door",
        "zone": None, "person_id": None, "person_name": None, "category": None,
        "unknown_id": None, "detection_id": 1, "distance": 0.5, "confidence": 1.0,
        "crop_url": None,
    }  # fmt: skip
    values.update(fields)
    return Event.model_validate(values)


@pytest.mark.parametrize(
    ("severity", "asks"),
    [(Severity.INFO, False), (Severity.WARNING, True), (Severity.CRITICAL, True)],
)
def test_only_warnings_and_critical_events_ask_for_acknowledgement(
    severity: Severity, asks: bool
) -> None:
    assert needs_acknowledgement(event(EventType.PERSON_UNKNOWN, severity)) is asks


@pytest.mark.parametrize(
    ("kind", "severity", "zone", "fields", "says"),
    [
        (EventType.WATCHLIST_MATCH, Severity.CRITICAL, None, {"person_name": "rose"},
         "rose is in category watchlist"),
        (EventType.ZONE_UNAUTHORIZED, Severity.CRITICAL, LAB,
         {"person_name": "kit", "category": "visitor"},
         "zone Lab (lab) is restricted and admits neither kit nor category visitor"),
        (EventType.PERSON_UNKNOWN, Severity.CRITICAL, LAB, {"distance": 1.31},
         "distance 1.310 at or over the unknown threshold 1.160), in restricted zone Lab"),
        (EventType.PERSON_UNKNOWN, Severity.WARNING, HALL, {},
         "outside restricted zones is a warning"),
        (EventType.PERSON_RECOGNIZED, Severity.INFO, LAB, {"person_name": "obama"},
         "in zone Lab (lab), which admits them: routine"),
        (EventType.PERSON_RECOGNIZED, Severity.INFO, None, {"person_name": "obama"},
         "in no zone: routine, nothing to acknowledge"),
        (EventType.CAMERA_STALE, Severity.WARNING, None, {}, "Camera lab-door stopped"),
    ],
)  # fmt: skip
def test_the_rule_that_fired_is_said_in_words(
    kind: EventType, severity: Severity, zone: ZoneOut | None, fields: dict[str, object], says: str
) -> None:
    assert says in rule_fired(event(kind, severity, **fields), zone, 1.09, 1.16)
