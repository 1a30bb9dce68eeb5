"""How loudly an event asks for attention, and why: the rule that fired, in words.

Severity itself is set when the event is raised (``server/events/rules.py``): critical for a
watchlist match, a person where a restricted zone does not admit them and a stranger in a
restricted zone; warning for a stranger elsewhere and a camera gone quiet; info for a routine
recognition and a camera back. Only warnings and critical events ask to be acknowledged.
"""

from __future__ import annotations

from facewatch.server.events.rules import WATCHLIST_CATEGORY
from facewatch.server.events.schemas import ZoneOut
from facewatch.server.events.types import Event, EventType, Severity

ROUTINE_TYPES = frozenset({EventType.PERSON_RECOGNIZED, EventType.CAMERA_RECOVERED})
"""Event types that are always info: nothing in them waits for an operator."""


def needs_acknowledgement(event: Event) -> bool:
    """Whether an operator should acknowledge ``event``: a warning or critical one."""
    return event.severity is not Severity.INFO


def rule_fired(
    event: Event, zone: ZoneOut | None, match_threshold: float, unknown_threshold: float
) -> str:
    """Why ``event`` was raised with its severity, for the operator reading it."""
    who = event.person_name or f"person {event.person_id}"
    where = f"zone {zone.name} ({zone.id})" if zone is not None else "no zone"
    restricted = zone is not None and zone.restricted
    if event.type is EventType.WATCHLIST_MATCH:
        return f"{who} is in category {WATCHLIST_CATEGORY}: every sighting is an alert."
    if event.type is EventType.ZONE_UNAUTHORIZED:
        return (
            f"{where} is restricted and admits neither {who} nor category {event.category or '-'}."
        )
    if event.type is EventType.PERSON_UNKNOWN:
        face = f"The face matches nobody enrolled (distance {_distance(event)}"
        face += f" at or over the unknown threshold {unknown_threshold:.3f})"
        if restricted:
            return f"{face}, in restricted {where}: a stranger there is critical."
        return f"{face}, in {where}: a stranger outside restricted zones is a warning."
    if event.type is EventType.PERSON_RECOGNIZED:
        admitted = ", which admits them" if restricted else ""
        return (
            f"{who} recognised (distance {_distance(event)}, named at or under "
            f"{match_threshold:.3f}) in {where}{admitted}: routine, nothing to acknowledge."
        )
    if event.type is EventType.CAMERA_STALE:
        return f"Camera {event.camera_id} stopped reporting: its edge agent sent no heartbeat."
    if event.type is EventType.CAMERA_RECOVERED:
        return f"Camera {event.camera_id} reports again: nothing to acknowledge."
    return f"{event.type.value}, severity {event.severity.value}."


def _distance(event: Event) -> str:
    return "-" if event.distance is None else f"{event.distance:.3f}"
