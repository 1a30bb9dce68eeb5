"""From stored detections to events: look up who and where, apply the rules, cool down.

Runs on the dispatcher thread. The lookups (person category, zone of the camera and who it
admits) are read from the database for each batch, so a change through the API applies to
the next detection.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from facewatch.config import Settings
from facewatch.errors import NotFound
from facewatch.server.events.cooldown import Cooldown
from facewatch.server.events.rules import Verdict, ZonePolicy, classify
from facewatch.server.events.strangers import Strangers
from facewatch.server.events.types import DetectionFacts, Event
from facewatch.store.models import Zone
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _PersonInfo:
    name: str
    category: str


@dataclass(slots=True)
class _Context:
    """What the rules need to know about the cameras and people of one batch."""

    zones: dict[str, ZonePolicy | None] = field(default_factory=dict)
    people: dict[int, _PersonInfo] = field(default_factory=dict)


class EventRaiser:
    """Turns batches of detections into events (none for most frames: the cooldown)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        settings: Settings,
        match_threshold: Callable[[], float],
    ) -> None:
        self._uow = uow_factory
        self._cooldown = Cooldown(settings.event_cooldown_seconds)
        self._strangers = Strangers(match_threshold)
        self._crop_base = (settings.public_url or "").rstrip("/")
        self.suppressed = 0
        """Detections that would have raised an event but fell within the cooldown."""

    def raise_events(self, batch: Sequence[DetectionFacts]) -> list[Event]:
        """The events of one batch of detections (one ingested image), in order."""
        context = self._context(batch)
        events = []
        for facts in batch:
            event = self._event_for(facts, context)
            if event is not None:
                events.append(event)
        return events

    def _event_for(self, facts: DetectionFacts, context: _Context) -> Event | None:
        person = context.people.get(facts.person_id) if facts.person_id is not None else None
        zone = context.zones.get(facts.camera_id) if facts.camera_id is not None else None
        verdict = classify(
            facts.status,
            facts.person_id if person is not None else None,
            person.category if person is not None else None,
            zone,
        )
        if verdict is None:
            return None
        unknown_id = None if person is not None else self._stranger(facts)
        who = f"person:{facts.person_id}" if person is not None else f"unknown:{unknown_id}"
        if not self._cooldown.allow((who, facts.camera_id), facts.captured_at):
            self.suppressed += 1
            return None
        return self._build(facts, verdict, person, zone, unknown_id)

    def _stranger(self, facts: DetectionFacts) -> str:
        if facts.unknown_id is not None:  # the stored identity, the same on every replica
            return facts.unknown_id
        embedding = None
        if facts.embedding is not None:
            embedding = np.frombuffer(facts.embedding, dtype="<f4").astype(np.float32)
        return self._strangers.identify(
            facts.captured_at, embedding, facts.camera_id, facts.track_id
        )

    def _build(
        self,
        facts: DetectionFacts,
        verdict: Verdict,
        person: _PersonInfo | None,
        zone: ZonePolicy | None,
        unknown_id: str | None,
    ) -> Event:
        return Event(
            id=str(uuid.uuid4()),
            type=verdict.type,
            severity=verdict.severity,
            time=facts.captured_at,
            camera_id=facts.camera_id,
            zone=zone.zone_id if zone is not None else None,
            person_id=facts.person_id if person is not None else None,
            person_name=person.name if person is not None else None,
            category=person.category if person is not None else None,
            unknown_id=unknown_id,
            detection_id=facts.detection_id,
            distance=facts.distance,
            confidence=facts.confidence,
            crop_url=self.crop_url(facts.detection_id) if facts.has_crop else None,
        )

    def crop_url(self, detection_id: int) -> str:
        """Where the crop of a detection is served (absolute when ``public_url`` is set)."""
        return f"{self._crop_base}/api/v1/detections/{detection_id}/crop"

    def _context(self, batch: Sequence[DetectionFacts]) -> _Context:
        context = _Context()
        cameras = {f.camera_id for f in batch if f.camera_id is not None}
        people = {f.person_id for f in batch if f.person_id is not None}
        with self._uow() as uow:
            for camera_id in cameras:
                context.zones[camera_id] = zone_policy(uow.zones.zone_of_camera(camera_id))
            context.people.update(_people(uow, people))
        return context


def zone_policy(zone: Zone | None) -> ZonePolicy | None:
    """A stored zone (authorisations loaded) as the rules see it; ``None`` for no zone."""
    if zone is None:
        return None
    return ZonePolicy(
        zone_id=zone.id,
        restricted=zone.restricted,
        people=frozenset(a.person_id for a in zone.authorizations if a.person_id is not None),
        categories=frozenset(a.category for a in zone.authorizations if a.category is not None),
    )


def _people(uow: UnitOfWork, person_ids: Iterable[int]) -> dict[int, _PersonInfo]:
    found: dict[int, _PersonInfo] = {}
    for person_id in person_ids:
        try:
            person = uow.people.get(person_id)
        except NotFound:  # deleted between the detection and now: no event for it
            continue
        found[person_id] = _PersonInfo(person.name, person.category)
    return found
