"""What Facewatch publishes to MQTT for an event, and its Home Assistant discovery messages.

Pure functions: topics and payloads only; the MQTT sink sends them. With the default prefix
``facewatch``:

====================================  ========  ==========================================
topic                                 retained  payload
====================================  ========  ==========================================
facewatch/status                      yes       ``online`` / ``offline`` (availability)
facewatch/events                      no        every event (the JSON of docs/events.md)
facewatch/cameras/<camera>/events     no        the events of one camera
facewatch/people/<person id>/events   no        the events of one person
facewatch/people/unknown/events       no        the events of strangers
facewatch/cameras/<camera>/last_person  yes     who this camera saw last
facewatch/cameras/<camera>/health   yes       ``stale`` or ``online``: its edge agent's state
facewatch/people/<person id>/last_seen  yes     where and when this person was seen last
====================================  ========  ==========================================

Home Assistant discovery (prefix ``homeassistant``) announces, per camera, a sensor "Last
person" and, per person, sensors "Last camera" and "Last seen" (a timestamp), all reading
the retained state topics above.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from facewatch import __version__
from facewatch.server.events.types import Event, EventType

UNKNOWN = "unknown"
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message to publish."""

    topic: str
    payload: bytes
    retain: bool = False


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def safe_id(value: str) -> str:
    """``value`` made fit for Home Assistant ids (letters, digits, ``_`` and ``-``)."""
    return _UNSAFE_ID.sub("_", value)


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic layout under one prefix."""

    prefix: str

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    def camera_events(self, camera_id: str) -> str:
        return f"{self.prefix}/cameras/{camera_id}/events"

    def camera_last_person(self, camera_id: str) -> str:
        return f"{self.prefix}/cameras/{camera_id}/last_person"

    def camera_health(self, camera_id: str) -> str:
        return f"{self.prefix}/cameras/{camera_id}/health"

    def person_events(self, person_id: int | None) -> str:
        who = UNKNOWN if person_id is None else str(person_id)
        return f"{self.prefix}/people/{who}/events"

    def person_last_seen(self, person_id: int) -> str:
        return f"{self.prefix}/people/{person_id}/last_seen"


def event_messages(topics: Topics, event: Event) -> list[Message]:
    """The messages one event publishes: the event on its topics, and the retained states."""
    payload = event.payload()
    body = _json(payload)
    if event.type.about_camera:
        return _camera_health_messages(topics, event, payload, body)
    messages = [Message(topics.events, body), Message(topics.person_events(event.person_id), body)]
    if event.camera_id is not None:
        messages.append(Message(topics.camera_events(event.camera_id), body))
        state = _camera_state(event, payload)
        messages.append(Message(topics.camera_last_person(event.camera_id), state, retain=True))
    if event.person_id is not None:
        state = _person_state(event, payload)
        messages.append(Message(topics.person_last_seen(event.person_id), state, retain=True))
    return messages


def _camera_health_messages(
    topics: Topics, event: Event, payload: dict[str, Any], body: bytes
) -> list[Message]:
    """A camera gone quiet or back: on the events topics, and its retained health state
    (no person topic: no one was seen)."""
    messages = [Message(topics.events, body)]
    if event.camera_id is not None:
        state = "stale" if event.type is EventType.CAMERA_STALE else "online"
        health = _json({"state": state, "time": payload["time"], "event_id": event.id})
        messages.append(Message(topics.camera_events(event.camera_id), body))
        messages.append(Message(topics.camera_health(event.camera_id), health, retain=True))
    return messages


def _camera_state(event: Event, payload: dict[str, Any]) -> bytes:
    return _json(
        {
            "person": event.person_name if event.person_id is not None else UNKNOWN,
            "person_id": event.person_id,
            "unknown_id": event.unknown_id,
            "category": event.category,
            "event_type": event.type.value,
            "event_id": event.id,
            "time": payload["time"],  # the same ISO 8601 form as in the event
            "zone": event.zone,
            "crop_url": event.crop_url,
        }
    )


def _person_state(event: Event, payload: dict[str, Any]) -> bytes:
    return _json(
        {
            "camera": event.camera_id,
            "zone": event.zone,
            "time": payload["time"],
            "name": event.person_name,
            "event_type": event.type.value,
            "event_id": event.id,
        }
    )


@dataclass(frozen=True, slots=True)
class Discovery:
    """Builds Home Assistant MQTT discovery messages for one Facewatch instance."""

    topics: Topics
    prefix: str
    """Home Assistant's discovery prefix (``homeassistant`` unless changed there)."""

    @property
    def node(self) -> str:
        """Groups this instance's entities; distinct instances use distinct topic prefixes."""
        return safe_id(self.topics.prefix)

    @property
    def birth_topic(self) -> str:
        """Home Assistant says ``online`` here when it (re)starts: announce again."""
        return f"{self.prefix}/status"

    def for_camera(self, camera_id: str) -> list[Message]:
        """The "Last person" sensor of a camera."""
        device = {
            "identifiers": [f"{self.node}_camera_{safe_id(camera_id)}"],
            "name": f"Facewatch camera {camera_id}",
            "manufacturer": "Facewatch",
            "model": "Camera",
        }
        sensor = self._sensor(
            f"camera_{safe_id(camera_id)}_last_person",
            "Last person",
            self.topics.camera_last_person(camera_id),
            "{{ value_json.person }}",
            device,
            icon="mdi:face-recognition",
        )
        return [sensor]

    def for_person(self, person_id: int, name: str | None) -> list[Message]:
        """The "Last camera" and "Last seen" sensors of a person."""
        device = {
            "identifiers": [f"{self.node}_person_{person_id}"],
            "name": name or f"Person {person_id}",
            "manufacturer": "Facewatch",
            "model": "Person",
        }
        state = self.topics.person_last_seen(person_id)
        return [
            self._sensor(
                f"person_{person_id}_last_camera",
                "Last camera",
                state,
                "{{ value_json.camera }}",
                device,
                icon="mdi:cctv",
            ),
            self._sensor(
                f"person_{person_id}_last_seen",
                "Last seen",
                state,
                "{{ value_json.time }}",
                device,
                device_class="timestamp",
            ),
        ]

    def _sensor(
        self,
        object_id: str,
        name: str,
        state_topic: str,
        value_template: str,
        device: dict[str, Any],
        **extra: str,
    ) -> Message:
        config: dict[str, Any] = {
            "name": name,
            "unique_id": f"{self.node}_{object_id}",
            "state_topic": state_topic,
            "value_template": value_template,
            "json_attributes_topic": state_topic,
            "availability_topic": self.topics.status,
            "device": device,
            "origin": {"name": "Facewatch", "sw_version": __version__},
            **extra,
        }
        topic = f"{self.prefix}/sensor/{self.node}/{object_id}/config"
        return Message(topic, _json(config), retain=True)
