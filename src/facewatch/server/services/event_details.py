"""One event in detail: its face, the nearest enrolled people and their distances, the camera
and zone, and the rule that fired (shared by the API and the dashboard's event page)."""

from __future__ import annotations

from collections.abc import Iterable

from facewatch.errors import NotFound
from facewatch.server.events.schemas import EventCandidateOut, EventDetailOut, ZoneOut
from facewatch.server.events.sinks.store import from_record
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import CameraOut
from facewatch.server.services import severity
from facewatch.server.services.detections import detection_out
from facewatch.server.services.zones import zone_out
from facewatch.store.models import Detection
from facewatch.store.unit_of_work import UnitOfWork


def event_detail(runtime: Runtime, event_id: str) -> EventDetailOut:
    """The event ``event_id`` with its detection, candidates, camera, zone and rule."""
    recognition = runtime.recognition
    with runtime.uow() as uow:
        event = from_record(uow.events.get(event_id))
        detection = _detection(uow, event.detection_id)
        camera = _camera(uow, event.camera_id)
        zone = _zone(uow, event.zone)
        candidates = _candidates(uow, detection, event.person_id)
        return EventDetailOut(
            event=event,
            needs_acknowledgement=severity.needs_acknowledgement(event),
            rule=severity.rule_fired(
                event, zone, recognition.match_threshold, recognition.unknown_threshold
            ),
            detection=detection_out(detection) if detection is not None else None,
            candidates=candidates,
            match_threshold=recognition.match_threshold,
            unknown_threshold=recognition.unknown_threshold,
            camera=camera,
            zone_detail=zone,
        )


def _detection(uow: UnitOfWork, detection_id: int | None) -> Detection | None:
    if detection_id is None:
        return None
    try:
        return uow.detections.get(detection_id)
    except NotFound:  # erased with its person, or by retention
        return None


def _camera(uow: UnitOfWork, camera_id: str | None) -> CameraOut | None:
    if camera_id is None:
        return None
    try:
        return CameraOut.model_validate(uow.cameras.get(camera_id))
    except NotFound:
        return None


def _zone(uow: UnitOfWork, zone_id: str | None) -> ZoneOut | None:
    if zone_id is None:
        return None
    try:
        return zone_out(uow, uow.zones.get(zone_id))
    except NotFound:  # deleted since the event
        return None


def _candidates(
    uow: UnitOfWork, detection: Detection | None, named: int | None
) -> list[EventCandidateOut]:
    """The detection's candidates, nearest first, with the people's names as they are now."""
    if detection is None:
        return []
    found = []
    for candidate in sorted(_valid(detection.candidates), key=lambda c: c[1]):
        person_id, distance = candidate
        try:
            name = uow.people.get(person_id).name
        except NotFound:
            name = ""
        out = EventCandidateOut(
            person_id=person_id, name=name, distance=distance, named=person_id == named
        )
        found.append(out)
    return found


def _valid(candidates: Iterable[dict[str, object]]) -> list[tuple[int, float]]:
    """(person id, distance) of the stored candidates (JSON: checked, not trusted)."""
    pairs = []
    for candidate in candidates or ():
        person_id, distance = candidate.get("person_id"), candidate.get("distance")
        if isinstance(person_id, int) and isinstance(distance, int | float):
            pairs.append((person_id, float(distance)))
    return pairs
