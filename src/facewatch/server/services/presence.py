"""Who is where now: the presence board of the API and the dashboard.

Each identity (an enrolled person, or a stranger's persistent identity) seen in the last
``minutes`` is placed at the camera that saw it last, with its latest face, grouped by zone:
restricted zones first. A presence is marked as a violation when an event of its latest face
would be critical (the rules of ``server/events/rules.py``): a watchlist match, a person in a
restricted zone that does not admit them, a stranger in a restricted zone.

Usage::

    board = presence(runtime, minutes=15)
    for zone in board.zones: ...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from facewatch.server.events.raiser import zone_policy
from facewatch.server.events.rules import ZonePolicy, classify
from facewatch.server.events.types import EventType, Severity
from facewatch.server.infra.runtime import Storage
from facewatch.server.schemas_presence import (
    CameraPresenceOut,
    PresenceOut,
    PresentOut,
    ZonePresenceOut,
)
from facewatch.store.models import Camera, Detection, Zone
from facewatch.types import MatchStatus

MAX_MINUTES = 24 * 60
MAX_FACES = 1000
"""Faces one board reads, newest first: a busier window is shown truncated (and says so)."""
MAX_CAMERAS = 1000
MAX_ZONES = 1000
NO_ZONE = "No zone"
VIOLATIONS = {
    EventType.WATCHLIST_MATCH: "watchlist",
    EventType.ZONE_UNAUTHORIZED: "not authorised in this zone",
    EventType.PERSON_UNKNOWN: "stranger in a restricted zone",
}


@dataclass(frozen=True, slots=True)
class _Place:
    """A camera and the zone it is in, as the board groups them."""

    camera: Camera
    zone: Zone | None
    policy: ZonePolicy | None


def presence(storage: Storage, minutes: int, now: datetime | None = None) -> PresenceOut:
    """Who was seen in the last ``minutes`` (1 to a day), at the camera that saw them last."""
    until = now or datetime.now(UTC)
    since = until - timedelta(minutes=minutes)
    with storage.uow() as uow:
        rows, total = uow.detections.query(since=since, until=until, limit=MAX_FACES)
        cameras, _ = uow.cameras.list(0, MAX_CAMERAS)
        zones, _ = uow.zones.list(0, MAX_ZONES)
        places = _places(cameras, zones)
        present = _latest_by_identity(rows, places)
        board = _board(places, zones, present)
    return PresenceOut(
        since=since, until=until, minutes=minutes, zones=board, truncated=total > len(rows)
    )


def _places(cameras: Iterable[Camera], zones: Iterable[Zone]) -> dict[str, _Place]:
    by_id = {zone.id: zone for zone in zones}
    places = {}
    for camera in cameras:
        zone = by_id.get(camera.zone)
        places[camera.id] = _Place(camera, zone, zone_policy(zone))
    return places


def _latest_by_identity(
    rows: Sequence[Detection], places: dict[str, _Place]
) -> dict[str, list[PresentOut]]:
    """By camera id, each identity whose latest face (in ``rows``, newest first) it saw."""
    latest: dict[tuple[str, object], Detection] = {}
    counts: dict[tuple[str, object], int] = {}
    for row in rows:
        key = _identity(row)
        if key is None or row.camera_id not in places:
            continue  # an uncertain face is nobody yet; a face of a deleted camera is nowhere
        latest.setdefault(key, row)
        counts[key] = counts.get(key, 0) + 1
    by_camera: dict[str, list[PresentOut]] = {}
    for key, row in latest.items():
        place = places[row.camera_id or ""]
        by_camera.setdefault(place.camera.id, []).append(_present(row, counts[key], place))
    return by_camera


def _identity(row: Detection) -> tuple[str, object] | None:
    if row.person_id is not None:
        return ("person", row.person_id)
    if row.unknown_id is not None:
        return ("unknown", row.unknown_id)
    return None


def _present(row: Detection, sightings: int, place: _Place) -> PresentOut:
    person = row.person
    category = person.category if person is not None else None
    verdict = classify(MatchStatus(row.status), row.person_id, category, place.policy)
    severity = verdict.severity if verdict is not None else Severity.INFO
    violation = None
    if verdict is not None and severity is Severity.CRITICAL:
        violation = VIOLATIONS.get(verdict.type)
    return PresentOut(
        person_id=row.person_id,
        name=person.name if person is not None else None,
        category=category,
        unknown_id=row.unknown_id if person is None else None,
        detection_id=row.id,
        crop_sha256=row.crop_image.sha256 if row.crop_image is not None else None,
        last_seen=row.captured_at,
        sightings=sightings,
        severity=severity,
        violation=violation,
    )


def _board(
    places: dict[str, _Place], zones: Sequence[Zone], present: dict[str, list[PresentOut]]
) -> list[ZonePresenceOut]:
    """Every zone with its cameras (restricted zones first), then the cameras in no zone."""
    ordered = sorted(zones, key=lambda z: (not z.restricted, z.name.casefold(), z.id))
    groups = [_group(z.id, z.name, z.restricted, places, present) for z in ordered]
    loose = _group(None, NO_ZONE, False, places, present)
    return groups + ([loose] if loose.cameras else [])


def _group(
    zone_id: str | None,
    name: str,
    restricted: bool,
    places: dict[str, _Place],
    present: dict[str, list[PresentOut]],
) -> ZonePresenceOut:
    cameras = []
    for camera_id in sorted(places):
        place = places[camera_id]
        if (place.zone.id if place.zone is not None else None) != zone_id:
            continue
        seen = sorted(present.get(camera_id, []), key=lambda p: p.last_seen, reverse=True)
        cameras.append(CameraPresenceOut(camera_id=camera_id, name=place.camera.name, present=seen))
    violations = sum(p.violation is not None for c in cameras for p in c.present)
    return ZonePresenceOut(
        zone_id=zone_id, name=name, restricted=restricted, violations=violations, cameras=cameras
    )
